//! Shared plumbing for the passes: operands of operations and terminators, value
//! types (result types come from `capjit_ir::shape`), the control-flow graph with
//! dominators, value substitution, and block insertion and removal with renumbering.
//!
//! Nothing here changes what a function computes; the passes decide what is safe.

use std::collections::HashMap;

use capjit_ir::{
    BinOp, BlockCall, Const, ConvOp, Domain, DomainTypes, Fact, Function, Memory, NumType, Op, RefType, Signature,
    Terminator, Type, Value,
};

/// What a pass needs to know about the domain around a function.
#[derive(Clone, Debug)]
pub struct DomainCx {
    pub memory: Memory,
    /// Signatures of the domain's functions, by index.
    pub funcs: Vec<Signature>,
    /// Signatures of the domain's imports, by index.
    pub imports: Vec<Signature>,
    /// Types of the domain's globals, by index.
    pub globals: Vec<NumType>,
    /// Types of the domain's tables, by index.
    pub tables: Vec<RefType>,
}

impl DomainCx {
    pub fn new(d: &Domain) -> DomainCx {
        DomainCx {
            memory: d.memory,
            funcs: d.functions.iter().map(|f| f.sig.clone()).collect(),
            imports: d.imports.iter().map(|i| i.sig.clone()).collect(),
            globals: d.globals.iter().map(|g| g.ty).collect(),
            tables: d.tables.iter().map(|t| t.elem).collect(),
        }
    }

    /// Bytes of memory the domain starts with (it never shrinks).
    pub fn initial_bytes(&self) -> u64 {
        self.memory.initial as u64 * capjit_ir::PAGE_SIZE
    }

    pub fn max_bytes(&self) -> u64 {
        self.memory.maximum as u64 * capjit_ir::PAGE_SIZE
    }
}

/// For [`Op::result_types`].
impl DomainTypes for DomainCx {
    fn function_sig(&self, func: u32) -> Option<&Signature> {
        self.funcs.get(func as usize)
    }

    fn import_sig(&self, import: u32) -> Option<&Signature> {
        self.imports.get(import as usize)
    }

    fn global_type(&self, global: u32) -> Option<NumType> {
        self.globals.get(global as usize).copied()
    }

    fn table_type(&self, table: u32) -> Option<RefType> {
        self.tables.get(table as usize).copied()
    }
}

pub use capjit_ir::operands::{for_each_operand_mut, for_each_term_value_mut, operands};

pub fn term_values(t: &Terminator) -> Vec<Value> {
    let mut out = Vec::new();
    let mut t = t.clone();
    for_each_term_value_mut(&mut t, &mut |v| out.push(*v));
    out
}

/// The block calls (targets with arguments) of a terminator; `call_cap` targets
/// carry no arguments and are not included.
pub fn block_calls(t: &Terminator) -> Vec<&BlockCall> {
    match t {
        Terminator::Jump(c) => vec![c],
        Terminator::Brif { then, else_, .. } => vec![then, else_],
        Terminator::BrTable { default, targets, .. } => std::iter::once(default).chain(targets.iter()).collect(),
        _ => vec![],
    }
}

pub fn block_calls_mut(t: &mut Terminator) -> Vec<&mut BlockCall> {
    match t {
        Terminator::Jump(c) => vec![c],
        Terminator::Brif { then, else_, .. } => vec![then, else_],
        Terminator::BrTable { default, targets, .. } => std::iter::once(default).chain(targets.iter_mut()).collect(),
        _ => vec![],
    }
}

/// Blocks that are entered from outside the function's values: the entry, and the
/// `ok`/`fail` blocks of `call_cap` (their parameters are fixed by signatures).
pub fn foreign_param_blocks(f: &Function) -> Vec<bool> {
    let mut foreign = vec![false; f.blocks.len()];
    if let Some(e) = foreign.first_mut() {
        *e = true;
    }
    for b in &f.blocks {
        if let Terminator::CallCap { ok, fail, .. } = &b.term {
            for t in [ok, fail] {
                if let Some(x) = foreign.get_mut(t.0 as usize) {
                    *x = true;
                }
            }
        }
    }
    foreign
}

/// A value's definition site.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Site {
    Param { block: usize, index: usize },
    Inst { block: usize, inst: usize, result: usize },
}

impl Site {
    pub fn block(self) -> usize {
        match self {
            Site::Param { block, .. } | Site::Inst { block, .. } => block,
        }
    }

    /// Position inside its block: 0 for parameters, `i + 1` for instruction `i`.
    pub fn pos(self) -> usize {
        match self {
            Site::Param { .. } => 0,
            Site::Inst { inst, .. } => inst + 1,
        }
    }
}

/// Where every value is defined and what type it has.
pub struct Defs {
    pub site: HashMap<Value, Site>,
    pub ty: HashMap<Value, Type>,
}

impl Defs {
    pub fn new(cx: &DomainCx, f: &Function) -> Defs {
        let mut site = HashMap::new();
        let mut ty = HashMap::new();
        for (b, block) in f.blocks.iter().enumerate() {
            for (i, p) in block.params.iter().enumerate() {
                site.insert(p.value, Site::Param { block: b, index: i });
                ty.insert(p.value, p.ty.clone());
            }
            for (i, inst) in block.insts.iter().enumerate() {
                let types = inst.op.result_type_vec(cx);
                for (r, def) in inst.results.iter().enumerate() {
                    site.insert(
                        def.value,
                        Site::Inst {
                            block: b,
                            inst: i,
                            result: r,
                        },
                    );
                    if let Some(t) = types.get(r) {
                        ty.insert(def.value, t.clone());
                    }
                }
            }
        }
        Defs { site, ty }
    }

    pub fn bits(&self, v: Value) -> Option<u32> {
        self.ty.get(&v).and_then(Type::int_bits)
    }

    /// The operation defining `v`, when an instruction defines it.
    pub fn op<'f>(&self, f: &'f Function, v: Value) -> Option<&'f Op> {
        match self.site.get(&v)? {
            Site::Inst { block, inst, .. } => Some(&f.blocks[*block].insts[*inst].op),
            Site::Param { .. } => None,
        }
    }

    /// The integer constant `v` is defined as, as unsigned bits.
    pub fn const_of(&self, f: &Function, v: Value) -> Option<u64> {
        match self.op(f, v)? {
            Op::Const(Const::I32(c)) => Some(*c as u32 as u64),
            Op::Const(Const::I64(c)) => Some(*c as u64),
            _ => None,
        }
    }
}

/// One past the largest value number of a function.
pub fn next_value(f: &Function) -> u32 {
    let mut max = 0u32;
    let mut see = |v: Value| max = max.max(v.0.saturating_add(1));
    for b in &f.blocks {
        b.params.iter().for_each(|p| see(p.value));
        for i in &b.insts {
            i.results.iter().for_each(|d| see(d.value));
            operands(&i.op).into_iter().for_each(&mut see);
        }
        term_values(&b.term).into_iter().for_each(&mut see);
    }
    max
}

/// The control-flow graph: successors, predecessors (one entry per edge), reverse
/// postorder from the entry, and immediate dominators.
pub struct Cfg {
    pub succs: Vec<Vec<usize>>,
    pub preds: Vec<Vec<usize>>,
    pub rpo: Vec<usize>,
    /// Position of each block in `rpo`; `usize::MAX` when unreachable.
    pub rpo_index: Vec<usize>,
    pub idom: Vec<Option<usize>>,
    /// Dominator-tree DFS entry and exit times, for O(1) dominance queries.
    enter: Vec<u32>,
    exit: Vec<u32>,
}

impl Cfg {
    /// The graph of a function whose branch targets are in range (out-of-range
    /// targets are ignored).
    pub fn new(f: &Function) -> Cfg {
        let n = f.blocks.len();
        let succs: Vec<Vec<usize>> = f
            .blocks
            .iter()
            .map(|b| b.term.successors().map(|s| s.0 as usize).filter(|&s| s < n).collect())
            .collect();
        let mut preds = vec![Vec::new(); n];
        for (b, ss) in succs.iter().enumerate() {
            for &s in ss {
                preds[s].push(b);
            }
        }
        // Iterative DFS for the postorder.
        let mut post = Vec::with_capacity(n);
        let mut seen = vec![false; n];
        if n > 0 {
            let mut stack = vec![(0usize, 0usize)];
            seen[0] = true;
            while let Some((b, i)) = stack.pop() {
                if i < succs[b].len() {
                    stack.push((b, i + 1));
                    let s = succs[b][i];
                    if !seen[s] {
                        seen[s] = true;
                        stack.push((s, 0));
                    }
                } else {
                    post.push(b);
                }
            }
        }
        let rpo: Vec<usize> = post.into_iter().rev().collect();
        let mut rpo_index = vec![usize::MAX; n];
        for (i, &b) in rpo.iter().enumerate() {
            rpo_index[b] = i;
        }
        // Cooper, Harvey and Kennedy: iterate to the fixpoint in reverse postorder.
        let mut idom: Vec<Option<usize>> = vec![None; n];
        if n > 0 {
            idom[0] = Some(0);
        }
        let mut changed = true;
        while changed {
            changed = false;
            for &b in rpo.iter().skip(1) {
                let mut new: Option<usize> = None;
                for &p in &preds[b] {
                    if idom[p].is_none() {
                        continue;
                    }
                    new = Some(match new {
                        None => p,
                        Some(cur) => {
                            let (mut x, mut y) = (cur, p);
                            while x != y {
                                while rpo_index[x] > rpo_index[y] {
                                    x = idom[x].unwrap_or(0);
                                }
                                while rpo_index[y] > rpo_index[x] {
                                    y = idom[y].unwrap_or(0);
                                }
                            }
                            x
                        }
                    });
                }
                if new.is_some() && idom[b] != new {
                    idom[b] = new;
                    changed = true;
                }
            }
        }
        // Number the dominator tree (iteratively: deep trees are common).
        let mut children = vec![Vec::new(); n];
        for &b in rpo.iter().skip(1) {
            if let Some(p) = idom[b] {
                children[p].push(b);
            }
        }
        let (mut enter, mut exit) = (vec![u32::MAX; n], vec![0u32; n]);
        let mut clock = 0u32;
        if n > 0 {
            let mut stack = vec![(0usize, false)];
            while let Some((b, done)) = stack.pop() {
                if done {
                    exit[b] = clock;
                    clock += 1;
                    continue;
                }
                enter[b] = clock;
                clock += 1;
                stack.push((b, true));
                for &c in children[b].iter().rev() {
                    stack.push((c, false));
                }
            }
        }
        Cfg {
            succs,
            preds,
            rpo,
            rpo_index,
            idom,
            enter,
            exit,
        }
    }

    pub fn reachable(&self, b: usize) -> bool {
        self.rpo_index.get(b).is_some_and(|&i| i != usize::MAX)
    }

    /// Whether `a` dominates `b` (every block dominates itself).
    pub fn dominates(&self, a: usize, b: usize) -> bool {
        if !self.reachable(a) || !self.reachable(b) {
            return false;
        }
        self.enter[a] <= self.enter[b] && self.exit[b] <= self.exit[a]
    }

    /// Children of each block in the dominator tree.
    pub fn dom_children(&self) -> Vec<Vec<usize>> {
        let mut children = vec![Vec::new(); self.idom.len()];
        for &b in self.rpo.iter().skip(1) {
            if let Some(p) = self.idom[b] {
                children[p].push(b);
            }
        }
        children
    }
}

/// Whether `v` (defined at `site`) is available at position `pos` of block `b`,
/// with the verifier's rule: earlier in the same block, or in a dominating block.
pub fn available(cfg: &Cfg, site: Site, b: usize, pos: usize) -> bool {
    if site.block() == b {
        site.pos() < pos
    } else {
        cfg.dominates(site.block(), b)
    }
}

/// Replace values through `map` (followed to its end) everywhere they are read,
/// including `lt` facts.
pub fn substitute(f: &mut Function, map: &HashMap<Value, Value>) {
    if map.is_empty() {
        return;
    }
    let resolve = |v: Value| {
        let mut v = v;
        let mut steps = 0;
        while let Some(&w) = map.get(&v) {
            if w == v || steps > map.len() {
                break;
            }
            v = w;
            steps += 1;
        }
        v
    };
    let fix_fact = |fact: &mut Option<Fact>| {
        if let Some(Fact::Lt(n)) = fact {
            *n = resolve(*n);
        }
    };
    for b in &mut f.blocks {
        for p in &mut b.params {
            fix_fact(&mut p.fact);
        }
        for i in &mut b.insts {
            for_each_operand_mut(&mut i.op, &mut |v| *v = resolve(*v));
            for d in &mut i.results {
                fix_fact(&mut d.fact);
            }
        }
        for_each_term_value_mut(&mut b.term, &mut |v| *v = resolve(*v));
    }
}

/// Remove blocks not reachable from the entry, renumbering the rest in order (so
/// every branch keeps its direction, and fuel is spent exactly as before).
pub fn remove_unreachable_blocks(f: &mut Function) -> bool {
    let cfg = Cfg::new(f);
    let n = f.blocks.len();
    if (0..n).all(|b| cfg.reachable(b)) {
        return false;
    }
    let mut new_index = vec![u32::MAX; n];
    let mut next = 0u32;
    for (b, slot) in new_index.iter_mut().enumerate() {
        if cfg.reachable(b) {
            *slot = next;
            next += 1;
        }
    }
    let blocks = std::mem::take(&mut f.blocks);
    f.blocks = blocks
        .into_iter()
        .enumerate()
        .filter(|(b, _)| cfg.reachable(*b))
        .map(|(_, mut block)| {
            for t in block.term.successors_mut() {
                t.0 = new_index.get(t.0 as usize).copied().unwrap_or(t.0);
            }
            block
        })
        .collect();
    true
}

/// Insert `block` at index `at` (>= 1), moving every later block up by one and
/// renumbering every branch target. Branches keep their direction.
pub fn insert_block(f: &mut Function, at: usize, block: capjit_ir::Block) {
    let at32 = at as u32;
    for b in &mut f.blocks {
        b.term.successors_mut().filter(|t| t.0 >= at32).for_each(|t| t.0 += 1);
    }
    f.blocks.insert(at, block);
}

/// Operations without any effect on memory, regions, calls or control, and that
/// never trap: removing one whose results are unused changes nothing.
pub fn is_removable(op: &Op, divisor: impl Fn(Value) -> Option<u64>, bits: u32) -> bool {
    match op {
        Op::Const(_) | Op::Unary { .. } | Op::Icmp { .. } | Op::Fcmp { .. } | Op::Select { .. } => true,
        Op::CapGet { .. } | Op::BufMake { .. } | Op::BufPtr { .. } | Op::BufLen { .. } | Op::MemorySize => true,
        Op::RefNull { .. } | Op::RefIsNull { .. } | Op::RefFunc { .. } | Op::TableSize { .. } => true,
        Op::Binary { op, b, .. } => match op {
            BinOp::Udiv | BinOp::Urem | BinOp::Srem => divisor(*b).is_some_and(|d| d != 0),
            BinOp::Sdiv => divisor(*b).is_some_and(|d| d != 0 && d != crate::range::max_of(bits)),
            _ => true,
        },
        Op::Convert { op, .. } => !matches!(op, ConvOp::FtoSint | ConvOp::FtoUint),
        _ => false,
    }
}

/// Operations that compute a value from their operands alone (no memory, no
/// state), so two with the same operands give the same result; some of them trap,
/// but then the first one trapped already.
pub fn is_value_op(op: &Op) -> bool {
    matches!(
        op,
        Op::Const(_)
            | Op::Binary { .. }
            | Op::Unary { .. }
            | Op::Icmp { .. }
            | Op::Fcmp { .. }
            | Op::Select { .. }
            | Op::Convert { .. }
            | Op::CapGet { .. }
            | Op::BufMake { .. }
            | Op::BufPtr { .. }
            | Op::BufLen { .. }
            | Op::RefNull { .. }
            | Op::RefIsNull { .. }
            | Op::RefFunc { .. }
    )
}

/// Remove parameters `ks` of block `b` and the matching argument of every branch
/// to it. `b` must not be the entry or a `call_cap` successor.
pub fn remove_params(f: &mut Function, b: usize, ks: &[usize]) {
    let keep = |k: usize| !ks.contains(&k);
    let params = std::mem::take(&mut f.blocks[b].params);
    f.blocks[b].params = params
        .into_iter()
        .enumerate()
        .filter(|(k, _)| keep(*k))
        .map(|(_, p)| p)
        .collect();
    for block in &mut f.blocks {
        for call in block_calls_mut(&mut block.term) {
            if call.block.0 as usize == b {
                let args = std::mem::take(&mut call.args);
                call.args = args
                    .into_iter()
                    .enumerate()
                    .filter(|(k, _)| keep(*k))
                    .map(|(_, a)| a)
                    .collect();
            }
        }
    }
}
