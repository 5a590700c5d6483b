//! Bounds-check elimination: restructure so that the verifier's local rules can
//! see why an address is in bounds, then attach the `!range` facts that say so.
//!
//! The verifier knows a value only by its own fact (or its constant); it refines a
//! block parameter by the `icmp` deciding the `brif` edge that passes it. So this
//! pass (1) moves the knowledge a branch gives onto block parameters, (2) rewrites
//! induction variables the rules cannot bound into forms they can, and (3) runs the
//! range analysis of `range.rs` (a copy of the verifier's rules) and writes the
//! ranges it finds as facts on every value an address, a length, or another fact
//! depends on.
//!
//! Rewrites (none changes the control-flow graph's edges except (b), which keeps
//! every branch's direction, so fuel is spent exactly as before):
//!
//! (a) **Edge parameters.** `brif (icmp x, y), T, ...` where `T` has no other
//!     incoming edge: `T` gets a new parameter `x'`, the edge passes `x`, and every
//!     use of `x` in blocks dominated by `T` reads `x'`. The verifier refines `x'`
//!     by the condition (`x' < y` on an `ult` edge), so loop bodies guarded by
//!     `i < n` see `i` bounded.
//! (b) **Edge blocks.** When an edge passes a value computed from a compared value
//!     (`brif (icmp.ult.i64 x, n), T(wrap x)`), a new block placed right after the
//!     branching block receives `x` (refined) and recomputes the argument from it
//!     before jumping to `T`. The new block sits immediately after its predecessor:
//!     the branch into it goes forward, and its jump goes in the direction the old
//!     edge went, so backward branches (and fuel) are unchanged.
//! (c) **Derived induction variables.** At a loop header with a counter `k` that
//!     starts at 0 and is incremented by 1 on every back edge, a parameter `p` that
//!     starts at a loop-invariant `a` and grows by a loop-invariant `s` on the same
//!     edges always equals `a + k * s` (in wrapping arithmetic too). When the
//!     verifier cannot bound `p` but can bound `a + k * s`, `p`'s uses read
//!     `a + k * s` computed at the top of the header; `p` then dies (DCE).
//!
//! Facts: `!range(lo, hi)` on instruction results and on block parameters, exactly
//! the post-fixpoint of the verifier's own rules, so each is provable locally: a
//! result's from its operands' facts, a parameter's from the (refined) argument on
//! every incoming edge. Facts of other kinds (`lt`, `mem`) already in the input are
//! kept; facts on constants are dropped (the constant says more).

use std::collections::{HashMap, HashSet};

use capjit_ir::{
    Block, BlockCall, BlockId, BlockParam, ConvOp, Def, Fact, Function, Inst, IntCC, NumType, Op, Terminator, Value,
};

use crate::range::{self, analyze, Assumptions, Range, RangeExt, Ranges, View};
use crate::util::{self, block_calls, foreign_param_blocks, Cfg, Defs, DomainCx, Site};
use capjit_verifier::rules::Operands;

/// Rounds of rewriting before the facts are written.
const MAX_REWRITE_ROUNDS: usize = 24;

/// Restructure and attach facts; returns whether anything changed.
pub fn run(cx: &DomainCx, f: &mut Function, assume: &Assumptions) -> bool {
    let mut changed = rewrite(cx, f, assume);
    changed |= attach_facts(cx, f, assume);
    changed
}

/// Apply rewrites (a), (b) and (c) until none applies.
pub fn rewrite(cx: &DomainCx, f: &mut Function, assume: &Assumptions) -> bool {
    let mut changed = false;
    for _ in 0..MAX_REWRITE_ROUNDS {
        let defs = Defs::new(cx, f);
        let cfg = Cfg::new(f);
        let st = analyze(cx, f, &defs, &cfg, assume);
        let wanted = slice(f, &defs, &cfg);
        let round = derived_ivs(cx, f, &defs, &cfg, &st, &wanted)
            || edge_params(f, &defs, &cfg, &st, &wanted)
            || edge_blocks(f, &defs, &cfg, &st, &wanted);
        if !round {
            break;
        }
        changed = true;
    }
    changed
}

/// Number of incoming edges of every block.
fn edge_counts(f: &Function) -> Vec<usize> {
    let mut n = vec![0; f.blocks.len()];
    for b in &f.blocks {
        for s in b.term.successors() {
            if let Some(x) = n.get_mut(s.0 as usize) {
                *x += 1;
            }
        }
    }
    n
}

/// Whether `v` is read anywhere in a block dominated by `t`.
fn used_under(f: &Function, cfg: &Cfg, t: usize, v: Value) -> bool {
    f.blocks.iter().enumerate().any(|(b, block)| {
        cfg.dominates(t, b)
            && (block.insts.iter().any(|i| util::operands(&i.op).contains(&v))
                || util::term_values(&block.term).contains(&v))
    })
}

/// Replace `from` by `to` in every operand of blocks dominated by `t` (and in `lt`
/// facts of values defined there, except `t`'s own parameters).
fn substitute_under(f: &mut Function, cfg: &Cfg, t: usize, from: Value, to: Value) {
    let swap = |v: &mut Value| {
        if *v == from {
            *v = to;
        }
    };
    for (b, block) in f.blocks.iter_mut().enumerate() {
        if !cfg.dominates(t, b) {
            continue;
        }
        if b != t {
            for p in &mut block.params {
                if let Some(Fact::Lt(n)) = &mut p.fact {
                    swap(n);
                }
            }
        }
        for inst in &mut block.insts {
            util::for_each_operand_mut(&mut inst.op, &mut |v| swap(v));
            for d in &mut inst.results {
                if let Some(Fact::Lt(n)) = &mut d.fact {
                    swap(n);
                }
            }
        }
        util::for_each_term_value_mut(&mut block.term, &mut |v| swap(v));
    }
}

fn narrower(a: Range, b: Range) -> bool {
    b.contains(a) && a != b
}

fn edge_conds(f: &Function, defs: &Defs) -> Vec<Option<(IntCC, Value, Value)>> {
    f.blocks
        .iter()
        .map(|b| range::brif_condition(f, defs, &b.term))
        .collect()
}

/// Rewrite (a): a new parameter carries a compared value into a single-entry target.
fn edge_params(f: &mut Function, defs: &Defs, cfg: &Cfg, st: &Ranges, wanted: &HashSet<Value>) -> bool {
    let counts = edge_counts(f);
    let foreign = foreign_param_blocks(f);
    let conds = edge_conds(f, defs);
    let mut todo: Vec<(usize, usize, Value)> = Vec::new(); // (block, call index, value)
    for (b, block) in f.blocks.iter().enumerate() {
        let Some((_, x, y)) = conds[b] else { continue };
        if !cfg.reachable(b) {
            continue;
        }
        for (ci, call) in block_calls(&block.term).into_iter().enumerate() {
            let t = call.block.0 as usize;
            if t >= f.blocks.len() || foreign[t] || counts[t] != 1 || todo.iter().any(|w| w.0 == b && w.1 == ci) {
                continue;
            }
            for v in [x, y] {
                // One new parameter per value and round: a later branch on `v`
                // under `t` reads the new parameter after the substitution.
                if !st.is_int(v) || st.constant(v).is_some() || !wanted.contains(&v) || todo.iter().any(|w| w.2 == v) {
                    continue;
                }
                let refined = range::edge_range(st, conds[b], ci, v);
                if narrower(refined, st.range(v)) && used_under(f, cfg, t, v) {
                    todo.push((b, ci, v));
                    break;
                }
            }
        }
    }
    if todo.is_empty() {
        return false;
    }
    let mut next = util::next_value(f);
    for (b, ci, v) in todo {
        let t = {
            let calls = block_calls(&f.blocks[b].term);
            calls[ci].block.0 as usize
        };
        let Some(ty) = defs.ty.get(&v).cloned() else { continue };
        let nv = Value(next);
        next += 1;
        substitute_under(f, cfg, t, v, nv);
        f.blocks[t].params.push(BlockParam {
            value: nv,
            ty,
            fact: None,
        });
        let mut calls = util::block_calls_mut(&mut f.blocks[b].term);
        calls[ci].args.push(v);
    }
    true
}

/// Whether `op` can be recomputed on a new block from one of its operands: a
/// non-trapping integer operation.
fn recomputable(op: &Op) -> bool {
    match op {
        Op::Binary { op, ty, .. } => {
            ty.is_int()
                && !matches!(
                    op,
                    capjit_ir::BinOp::Udiv | capjit_ir::BinOp::Sdiv | capjit_ir::BinOp::Urem | capjit_ir::BinOp::Srem
                )
        }
        Op::Convert { op, .. } => matches!(op, ConvOp::Wrap | ConvOp::Uextend | ConvOp::Sextend),
        _ => false,
    }
}

/// A view that substitutes one range (the refined `x`) for another value.
struct With<'a> {
    st: &'a Ranges,
    x: Value,
    r: Range,
}

impl Operands for With<'_> {
    fn range(&self, v: Value) -> Range {
        if v == self.x {
            self.r
        } else {
            self.st.range(v)
        }
    }
    fn constant(&self, v: Value) -> Option<u64> {
        self.st.constant(v)
    }
    fn pages(&self) -> (u32, u32) {
        self.st.pages()
    }
}

impl View for With<'_> {
    fn bits(&self, v: Value) -> u32 {
        self.st.bits(v)
    }
}

/// Rewrite (b): one edge block that recomputes arguments from a refined value.
fn edge_blocks(f: &mut Function, defs: &Defs, cfg: &Cfg, st: &Ranges, wanted: &HashSet<Value>) -> bool {
    let conds = edge_conds(f, defs);
    let foreign = foreign_param_blocks(f);
    for (b, block) in f.blocks.iter().enumerate() {
        let Some((_, x, y)) = conds[b] else { continue };
        if !cfg.reachable(b) {
            continue;
        }
        for (ci, call) in block_calls(&block.term).into_iter().enumerate() {
            let t = call.block.0 as usize;
            if t >= f.blocks.len() || foreign[t] {
                continue;
            }
            for v in [x, y] {
                if !st.is_int(v) || st.constant(v).is_some() {
                    continue;
                }
                let refined = range::edge_range(st, conds[b], ci, v);
                if !narrower(refined, st.range(v)) {
                    continue;
                }
                let view = With { st, x: v, r: refined };
                // Arguments computed from v whose recomputation is narrower.
                let mut redo: Vec<(usize, Op, Value)> = Vec::new();
                for (k, arg) in call.args.iter().enumerate() {
                    let Some(op) = defs.op(f, *arg) else { continue };
                    let param = f.blocks[t].params.get(k).map(|p| p.value);
                    if !recomputable(op)
                        || !util::operands(op).contains(&v)
                        || !st.is_int(*arg)
                        || !param.is_some_and(|p| wanted.contains(&p))
                    {
                        continue;
                    }
                    // Its other operands must be available at the end of `b`.
                    let avail = util::operands(op).iter().all(|o| {
                        *o == v
                            || defs
                                .site
                                .get(o)
                                .is_some_and(|s| util::available(cfg, *s, b, f.blocks[b].insts.len() + 1))
                    });
                    let bits = st.bits(*arg);
                    let again = range::derive(&view, op, bits);
                    if avail && narrower(again, st.range(*arg)) {
                        redo.push((k, op.clone(), *arg));
                    }
                }
                if redo.is_empty() {
                    continue;
                }
                let Some(ty) = defs.ty.get(&v).cloned() else { continue };
                let mut next = util::next_value(f);
                let xv = Value(next);
                next += 1;
                let mut args = call.args.clone();
                let mut insts = Vec::new();
                for (k, mut op, _) in redo {
                    util::for_each_operand_mut(&mut op, &mut |o| {
                        if *o == v {
                            *o = xv;
                        }
                    });
                    let nv = Value(next);
                    next += 1;
                    insts.push(Inst {
                        results: [Def { value: nv, fact: None }].into(),
                        op,
                        span: None,
                    });
                    args[k] = nv;
                }
                // The new block goes right after `b`; targets at or after it move up.
                let target_after = if t > b { t + 1 } else { t };
                let new_block = Block {
                    params: vec![BlockParam {
                        value: xv,
                        ty,
                        fact: None,
                    }],
                    insts,
                    term: Terminator::Jump(BlockCall {
                        block: BlockId(target_after as u32),
                        args,
                    }),
                    term_span: None,
                };
                util::insert_block(f, b + 1, new_block);
                let mut calls = util::block_calls_mut(&mut f.blocks[b].term);
                calls[ci].block = BlockId(b as u32 + 1);
                calls[ci].args = vec![v];
                return true;
            }
        }
    }
    false
}

/// The single value passed to parameter `k` of `h` on edges from `preds` (None if
/// they differ).
fn same_arg(f: &Function, h: usize, k: usize, preds: &[usize]) -> Option<Value> {
    let mut only = None;
    for &p in preds {
        for call in block_calls(&f.blocks[p].term) {
            if call.block.0 as usize != h {
                continue;
            }
            let a = *call.args.get(k)?;
            match only {
                None => only = Some(a),
                Some(o) if o == a => {}
                _ => return None,
            }
        }
    }
    only
}

/// Rewrite (c): derived induction variables become `a + k * s`.
fn derived_ivs(cx: &DomainCx, f: &mut Function, defs: &Defs, cfg: &Cfg, st: &Ranges, wanted: &HashSet<Value>) -> bool {
    let foreign = foreign_param_blocks(f);
    let mut inserts: Vec<(usize, Vec<Inst>, Value, Value)> = Vec::new(); // (header, insts, p, replacement)
    let mut next = util::next_value(f);
    for (h, &entered_from_outside) in foreign.iter().enumerate() {
        if entered_from_outside || !cfg.reachable(h) || f.blocks[h].params.len() < 2 {
            continue;
        }
        let preds = crate::fold::dedup(&cfg.preds[h]);
        let (back, outside): (Vec<usize>, Vec<usize>) = preds.iter().partition(|&&p| cfg.dominates(h, p));
        if back.is_empty() || outside.is_empty() {
            continue;
        }
        // Every back edge passes, for parameter k, the result of `iadd k, step`.
        let step_of = |k: usize| -> Option<Value> {
            let pk = f.blocks[h].params[k].value;
            let mut step = None;
            for &p in &back {
                for call in block_calls(&f.blocks[p].term) {
                    if call.block.0 as usize != h {
                        continue;
                    }
                    let a = *call.args.get(k)?;
                    let Some(Op::Binary {
                        op: capjit_ir::BinOp::Iadd,
                        a: x,
                        b: y,
                        ..
                    }) = defs.op(f, a)
                    else {
                        return None;
                    };
                    let s = if *x == pk {
                        *y
                    } else if *y == pk {
                        *x
                    } else {
                        return None;
                    };
                    match step {
                        None => step = Some(s),
                        Some(o) if o == s => {}
                        _ => return None,
                    }
                }
            }
            step
        };
        let invariant = |v: Value| {
            defs.site
                .get(&v)
                .is_some_and(|s| s.block() != h && cfg.dominates(s.block(), h))
        };
        // The counter: starts at 0, steps by 1.
        let mut counter = None;
        for k in 0..f.blocks[h].params.len() {
            let pv = f.blocks[h].params[k].value;
            if !st.is_int(pv) {
                continue;
            }
            let init = same_arg(f, h, k, &outside);
            let step = step_of(k);
            if let (Some(i), Some(s)) = (init, step) {
                if st.constant(i) == Some(0) && st.constant(s) == Some(1) {
                    counter = Some(k);
                    break;
                }
            }
        }
        let Some(kc) = counter else { continue };
        let kv = f.blocks[h].params[kc].value;
        for k in 0..f.blocks[h].params.len() {
            let p = &f.blocks[h].params[k];
            if k == kc
                || !st.is_int(p.value)
                || st.bits(p.value) != st.bits(kv)
                || st.has_kept_fact(p.value)
                || !wanted.contains(&p.value)
                || !is_read(f, p.value)
            {
                continue;
            }
            let Some(a) = same_arg(f, h, k, &outside) else { continue };
            let Some(s) = step_of(k) else { continue };
            // Operands must be available at the top of the header: defined in a
            // block that strictly dominates it, or constants (materialised there).
            let usable = |v: Value| invariant(v) || st.constant(v).is_some();
            if !usable(a) || !usable(s) {
                continue;
            }
            // Worth it only when the rewritten form is bounded within memory and p is not.
            let bits = st.bits(p.value);
            let kr = st.range(kv);
            let prod = range::derive_binary(capjit_ir::BinOp::Imul, kr, st.range(s), st.constant(s), bits);
            let sum = range::derive_binary(capjit_ir::BinOp::Iadd, st.range(a), prod, None, bits);
            let limit = cx.initial_bytes();
            if sum.hi >= limit || st.range(p.value).hi < limit {
                continue;
            }
            let ty = match bits {
                32 => NumType::I32,
                _ => NumType::I64,
            };
            let mut insts = Vec::new();
            let mut here = |v: Value, insts: &mut Vec<Inst>| -> Value {
                if invariant(v) {
                    return v;
                }
                let c = st.constant(v).unwrap_or(0);
                let nv = Value(next);
                next += 1;
                insts.push(Inst {
                    results: [Def { value: nv, fact: None }].into(),
                    op: Op::Const(match ty {
                        NumType::I32 => capjit_ir::Const::I32(c as u32 as i32),
                        _ => capjit_ir::Const::I64(c as i64),
                    }),
                    span: None,
                });
                nv
            };
            let a = here(a, &mut insts);
            let s = here(s, &mut insts);
            let (t1, t2) = (Value(next), Value(next + 1));
            next += 2;
            insts.extend([
                Inst {
                    results: [Def { value: t1, fact: None }].into(),
                    op: Op::Binary {
                        op: capjit_ir::BinOp::Imul,
                        ty,
                        a: kv,
                        b: s,
                    },
                    span: None,
                },
                Inst {
                    results: [Def { value: t2, fact: None }].into(),
                    op: Op::Binary {
                        op: capjit_ir::BinOp::Iadd,
                        ty,
                        a,
                        b: t1,
                    },
                    span: None,
                },
            ]);
            inserts.push((h, insts, p.value, t2));
        }
    }
    if inserts.is_empty() {
        return false;
    }
    let mut map = HashMap::new();
    for (h, insts, p, t) in inserts {
        let block = &mut f.blocks[h];
        for (i, inst) in insts.into_iter().enumerate() {
            block.insts.insert(i, inst);
        }
        map.insert(p, t);
    }
    util::substitute(f, &map);
    true
}

/// Whether `v` is read by any instruction or terminator.
fn is_read(f: &Function, v: Value) -> bool {
    f.blocks
        .iter()
        .any(|b| b.insts.iter().any(|i| util::operands(&i.op).contains(&v)) || util::term_values(&b.term).contains(&v))
}

/// Values whose ranges matter: memory addresses and lengths, values that carry or
/// are named by facts, and everything their ranges are derived from.
fn slice(f: &Function, defs: &Defs, cfg: &Cfg) -> HashSet<Value> {
    let mut work: Vec<Value> = Vec::new();
    for b in &f.blocks {
        for p in &b.params {
            match p.fact {
                Some(Fact::Range { .. }) => work.push(p.value),
                Some(Fact::Lt(n)) => work.push(n),
                _ => {}
            }
        }
        for i in &b.insts {
            match &i.op {
                Op::Load { addr, .. } | Op::Store { addr, .. } => work.push(*addr),
                Op::MemoryCopy { dst, src, len } => work.extend([*dst, *src, *len]),
                Op::MemoryFill { dst, len, .. } => work.extend([*dst, *len]),
                _ => {}
            }
            for d in &i.results {
                match d.fact {
                    Some(Fact::Range { .. }) => work.push(d.value),
                    Some(Fact::Lt(n)) => work.push(n),
                    _ => {}
                }
            }
        }
    }
    let conds = edge_conds(f, defs);
    let mut incoming: HashMap<(usize, usize), Vec<(Value, usize)>> = HashMap::new();
    for (b, block) in f.blocks.iter().enumerate() {
        for call in block_calls(&block.term) {
            for (k, a) in call.args.iter().enumerate() {
                incoming.entry((call.block.0 as usize, k)).or_default().push((*a, b));
            }
        }
    }
    let mut seen = HashSet::new();
    while let Some(v) = work.pop() {
        if !seen.insert(v) {
            continue;
        }
        match defs.site.get(&v) {
            Some(Site::Inst { block, inst, .. }) => match &f.blocks[*block].insts[*inst].op {
                Op::Binary { a, b, .. } | Op::Select { a, b, .. } => work.extend([*a, *b]),
                Op::Convert { a, .. } => work.push(*a),
                _ => {}
            },
            Some(Site::Param { block, index }) => {
                for (a, from) in incoming.get(&(*block, *index)).into_iter().flatten() {
                    work.push(*a);
                    if let Some((_, x, y)) = conds[*from] {
                        if cfg.reachable(*from) {
                            work.extend([x, y]);
                        }
                    }
                }
            }
            None => {}
        }
    }
    seen
}

/// Write the analysis' ranges as facts on the values that need them.
pub fn attach_facts(cx: &DomainCx, f: &mut Function, assume: &Assumptions) -> bool {
    let defs = Defs::new(cx, f);
    let cfg = Cfg::new(f);
    let st = analyze(cx, f, &defs, &cfg, assume);
    let wanted = slice(f, &defs, &cfg);
    let foreign = foreign_param_blocks(f);
    let fact_for = |v: Value, old: Option<Fact>| -> Option<Fact> {
        if !st.is_int(v) {
            return old;
        }
        if st.constant(v).is_some() {
            return None;
        }
        match old {
            Some(Fact::Lt(_) | Fact::InMemory { .. }) => return old,
            Some(Fact::Range { .. }) | None => {}
        }
        if !wanted.contains(&v) {
            return old;
        }
        let r = st.range(v);
        if r == Range::full(st.bits(v)) {
            return old;
        }
        Some(Fact::Range { lo: r.lo, hi: r.hi })
    };
    let mut changed = false;
    for (b, block) in f.blocks.iter_mut().enumerate() {
        if !foreign[b] {
            for p in &mut block.params {
                let new = fact_for(p.value, p.fact);
                changed |= new != p.fact;
                p.fact = new;
            }
        }
        for inst in &mut block.insts {
            for d in &mut inst.results {
                let new = fact_for(d.value, d.fact);
                changed |= new != d.fact;
                d.fact = new;
            }
        }
    }
    changed
}

/// Memory accesses of `f` proven in bounds by the analysis (and how many there are).
pub fn proven(cx: &DomainCx, f: &Function, assume: &Assumptions) -> (usize, usize) {
    let defs = Defs::new(cx, f);
    let cfg = Cfg::new(f);
    let st = analyze(cx, f, &defs, &cfg, assume);
    range::count_proven(cx, f, &st)
}
