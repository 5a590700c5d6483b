//! Per-function rules: block structure, SSA (one definition per value, every use
//! dominated by its definition), types of every operand, branch and call, facts,
//! and which memory accesses are proven in bounds.
//!
//! Invariant protected: a verified function can be translated instruction by
//! instruction with every value already defined and of the type its use expects.

use capjit_ir::{
    BinOp, BlockCall, BlockParam, Const, Domain, Fact, Function, Op, RefType, ResultTypes, Terminator, Type, Value,
};

use crate::cfg::DomTree;
use crate::domain::Report;
use crate::error::{ErrorKind, Location, Site};
use crate::facts::{self, Claims, EdgeCondition};
use crate::limits::*;
use crate::types::*;

const UNDEFINED: u32 = u32::MAX;
/// Position of block parameters; instruction `i` defines at `i + 1`.
const PARAM_POS: u32 = 0;

/// Tables indexed by value number, reused across functions so that their size
/// is paid once; only the entries a function touched are reset.
#[derive(Default)]
pub struct Scratch {
    def_block: Vec<u32>,
    def_pos: Vec<u32>,
    ty: Vec<TypeId>,
    fact: Vec<Option<Fact>>,
    touched: Vec<u32>,
    types: TypeTable,
    dom: DomTree,
    /// Uses met in the walk before any definition of their value.
    early_uses: Vec<(Value, u32, Site)>,
}

/// Which memory accesses of a function were proven in bounds, by block and instruction.
/// Flat: block `b`'s instructions are `proven[start[b]..start[b + 1]]`.
#[derive(Debug, Default)]
pub struct AccessProofs {
    start: Vec<u32>,
    proven: Vec<bool>,
}

impl AccessProofs {
    pub fn get(&self, block: usize, inst: usize) -> bool {
        match (self.start.get(block), self.start.get(block + 1)) {
            (Some(&from), Some(&to)) if inst < (to - from) as usize => self.proven[from as usize + inst],
            _ => false,
        }
    }
}

/// Counts for the summary `capjit verify` prints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub instructions: u64,
    pub accesses_proven: u64,
    pub accesses_checked: u64,
}

impl Counts {
    pub fn add(&mut self, o: Counts) {
        self.instructions += o.instructions;
        self.accesses_proven += o.accesses_proven;
        self.accesses_checked += o.accesses_checked;
    }
}

struct Cx<'a> {
    d: &'a Domain,
    f: &'a Function,
    s: &'a mut Scratch,
    dom: DomTree,
    report: &'a mut Report,
    loc: Location,
}

impl Claims for Cx<'_> {
    fn fact(&self, v: Value) -> Option<Fact> {
        self.s.fact.get(v.0 as usize).copied().flatten()
    }
    fn bits(&self, v: Value) -> u32 {
        int_bits(self.ty(v)).unwrap_or(64)
    }
    fn constant(&self, v: Value) -> Option<u64> {
        match self.def_op(v)? {
            Op::Const(Const::I32(c)) => Some(*c as u32 as u64),
            Op::Const(Const::I64(c)) => Some(*c as u64),
            _ => None,
        }
    }
    fn pages(&self) -> (u32, u32) {
        (self.d.memory.initial, self.d.memory.maximum)
    }
}

impl Cx<'_> {
    fn ty(&self, v: Value) -> TypeId {
        self.s.ty.get(v.0 as usize).copied().unwrap_or(I64)
    }

    /// The operation defining `v`, if it is an instruction result.
    fn def_op(&self, v: Value) -> Option<&Op> {
        let b = *self.s.def_block.get(v.0 as usize)?;
        let pos = self.s.def_pos[v.0 as usize];
        if b == UNDEFINED || pos == PARAM_POS {
            return None;
        }
        Some(&self.f.blocks[b as usize].insts[pos as usize - 1].op)
    }
}

/// Verify one function; returns its access proofs (empty when it has errors).
pub fn verify_function(
    d: &Domain,
    f: &Function,
    s: &mut Scratch,
    report: &mut Report,
    counts: &mut Counts,
) -> AccessProofs {
    let loc = Location {
        domain: d.name.clone(),
        function: Some(f.name.clone()),
        span: f.span,
        ..Location::default()
    };
    let errors_before = report.errors.len();
    if f.blocks.is_empty() {
        report.push(loc, ErrorKind::EmptyFunction);
        return AccessProofs::default();
    }
    let params = f.blocks.iter().map(|b| b.params.iter().map(|p| &p.ty));
    if let Some(kind) = params
        .into_iter()
        .find_map(|ts| types_over("parameters of a block", ts))
    {
        report.push(loc, kind);
        return AccessProofs::default();
    }
    if !check_block_targets(f, report, &loc) {
        return AccessProofs::default();
    }
    s.types.clear();
    let mut cx = Cx {
        d,
        f,
        dom: {
            let mut dom = std::mem::take(&mut s.dom);
            dom.build(f);
            dom
        },
        s,
        report,
        loc,
    };
    cx.check_reachable();
    let mut start = Vec::with_capacity(f.blocks.len() + 1);
    let mut total = 0u32;
    for b in &f.blocks {
        start.push(total);
        total += b.insts.len() as u32;
        counts.instructions += b.insts.len() as u64 + 1;
    }
    start.push(total);
    let mut proven = vec![false; total as usize];
    // One walk, dominators first: every value a use may legally name is defined
    // by the time the use is checked (a block's parameters as the walk enters it;
    // an edge's check reads the target's parameters from their declarations).
    // Values of unreachable blocks are defined after it (they are errors already),
    // so that a use of one is `not_dominated`.
    let mut within_limits = true;
    for k in 0..cx.dom.preorder().len() {
        let b = cx.dom.preorder()[k] as usize;
        let range = start[b] as usize..start[b + 1] as usize;
        within_limits = within_limits && cx.check_block(b, &mut proven[range], counts);
    }
    for b in 0..f.blocks.len() {
        if !cx.dom.reachable(b) {
            cx.define_params(b);
            within_limits = within_limits && (0..f.blocks[b].insts.len()).all(|i| cx.define_results(b, i));
        }
    }
    if within_limits {
        cx.report_early_uses();
    }
    let mut proofs = AccessProofs { start, proven };
    cx.reset();
    let errors = &mut cx.report.errors[errors_before..];
    if !errors.is_empty() {
        // In the order of the text, not of the walk.
        errors.sort_by_key(|e| (e.location.block, e.location.site));
        proofs = AccessProofs::default();
    }
    proofs
}

/// Every branch target exists and is not the entry block; br_table sizes are bounded.
fn check_block_targets(f: &Function, report: &mut Report, loc: &Location) -> bool {
    let mut ok = true;
    for (b, block) in f.blocks.iter().enumerate() {
        let at = || Location {
            block: Some(b as u32),
            site: Some(Site::Terminator),
            span: block.term_span.or(loc.span),
            ..loc.clone()
        };
        if let Terminator::BrTable { targets, .. } = &block.term {
            if targets.len() > MAX_TABLE_TARGETS {
                let kind = ErrorKind::LimitExceeded {
                    what: "br_table targets",
                    limit: MAX_TABLE_TARGETS as u64,
                    found: targets.len() as u64,
                };
                report.push(at(), kind);
                ok = false;
            }
        }
        for t in block.term.successors() {
            if t.0 as usize >= f.blocks.len() {
                report.push(at(), ErrorKind::UnknownBlock(t.0));
                ok = false;
            } else if t.0 == 0 {
                report.push(at(), ErrorKind::EntryTargeted);
                ok = false;
            }
        }
    }
    ok
}

impl<'a> Cx<'a> {
    fn at(&self, b: usize, site: Site) -> Location {
        let block = &self.f.blocks[b];
        let span = match site {
            Site::Inst(i) => block.insts[i as usize].span,
            Site::Terminator => block.term_span,
            Site::Param(_) => None,
        };
        Location {
            block: Some(b as u32),
            site: Some(site),
            span: span.or(self.loc.span),
            ..self.loc.clone()
        }
    }

    fn err(&mut self, b: usize, site: Site, kind: ErrorKind) {
        let loc = self.at(b, site);
        self.report.push(loc, kind);
    }

    fn check_reachable(&mut self) {
        for b in 1..self.f.blocks.len() {
            if !self.dom.reachable(b) {
                self.err(b, Site::Terminator, ErrorKind::Unreachable(b as u32));
            }
        }
    }

    /// The entry block's parameters are the function's parameters.
    fn check_entry_params(&mut self) {
        let params = &self.f.blocks[0].params;
        let sig = &self.f.sig.params;
        if params.len() != sig.len() {
            self.err(
                0,
                Site::Param(0),
                ErrorKind::ArityMismatch {
                    what: "entry block parameters (the function's signature)".into(),
                    expected: sig.len(),
                    found: params.len(),
                },
            );
            return;
        }
        for (i, (p, t)) in params.iter().zip(sig).enumerate() {
            if let Some(fact) = p.fact {
                self.check_unprovable_fact(0, i, p, fact);
            }
            if &p.ty != t {
                self.err(
                    0,
                    Site::Param(i as u32),
                    ErrorKind::TypeMismatch {
                        what: format!("entry parameter {}", p.value),
                        expected: t.to_string(),
                        found: p.ty.to_string(),
                    },
                );
            }
        }
    }

    /// Record block `b`'s parameters' definition sites, types and facts.
    fn define_params(&mut self, b: usize) {
        for (i, p) in self.f.blocks[b].params.iter().enumerate() {
            let ty = self.s.types.id(&p.ty);
            self.define(p.value, ty, p.fact, b, PARAM_POS, Site::Param(i as u32));
        }
    }

    /// Record instruction `i` of block `b`'s results: definition site, type and
    /// fact; each value once. The types an instruction names are checked against
    /// the limits first (as the domain pass did for signatures and block
    /// parameters); false if one is over, and nothing may look at this function then.
    fn define_results(&mut self, b: usize, i: usize) -> bool {
        let inst = &self.f.blocks[b].insts[i];
        let site = Site::Inst(i as u32);
        let over = match &inst.op {
            Op::Select { ty, .. } => type_over(ty),
            Op::CallIndirect { sig, .. } => signature_over(sig),
            _ => None,
        };
        if let Some(kind) = over {
            self.err(b, site, kind);
            return false;
        }
        // Out-of-range function, import and global indices give none: `check_op`
        // reports them.
        let (types, cap) = match inst.op.result_types(self.d) {
            Some(ResultTypes::Types(types)) => (types, None),
            Some(ResultTypes::Cap(sig)) => (&[][..], Some(self.s.types.cap_id(sig))),
            None => return true,
        };
        let count = types.len() + cap.iter().len();
        if count != inst.results.len() {
            let kind = ErrorKind::ArityMismatch {
                what: "results".into(),
                expected: count,
                found: inst.results.len(),
            };
            self.err(b, site, kind);
        }
        for (k, def) in inst.results.iter().enumerate() {
            let ty = match (types.get(k), cap) {
                (Some(t), _) => self.s.types.id(t),
                (None, Some(id)) if k == 0 => id,
                _ => break,
            };
            self.define(def.value, ty, def.fact, b, i as u32 + 1, site);
        }
        true
    }

    fn define(&mut self, v: Value, ty: TypeId, fact: Option<Fact>, b: usize, pos: u32, site: Site) {
        if v.0 >= MAX_VALUE_INDEX {
            self.err(b, site, ErrorKind::ValueTooLarge(v));
            return;
        }
        let i = v.0 as usize;
        if i >= self.s.def_block.len() {
            let n = (i + 1).next_power_of_two().min(MAX_VALUE_INDEX as usize);
            self.s.def_block.resize(n, UNDEFINED);
            self.s.def_pos.resize(n, 0);
            self.s.ty.resize(n, 0);
            self.s.fact.resize(n, None);
        }
        if self.s.def_block[i] != UNDEFINED {
            self.err(b, site, ErrorKind::DuplicateDefinition(v));
            return;
        }
        self.s.def_block[i] = b as u32;
        self.s.def_pos[i] = pos;
        self.s.ty[i] = ty;
        self.s.fact[i] = fact;
        self.s.touched.push(v.0);
    }

    /// Leaves the scratch tables ready for the next function.
    fn reset(&mut self) {
        let s = &mut *self.s;
        s.dom = std::mem::take(&mut self.dom);
        s.early_uses.clear();
        for v in s.touched.drain(..) {
            s.def_block[v as usize] = UNDEFINED;
            s.fact[v as usize] = None;
        }
    }

    /// Is `v` defined before position `pos` of block `b` on every path?
    fn available(&self, v: Value, b: usize, pos: u32) -> Result<(), ErrorKind> {
        let i = v.0 as usize;
        let db = self.s.def_block.get(i).copied().unwrap_or(UNDEFINED);
        if db == UNDEFINED {
            return Err(ErrorKind::UndefinedValue(v));
        }
        let ok = if db as usize == b {
            self.s.def_pos[i] < pos
        } else {
            self.dom.dominates(db as usize, b)
        };
        if ok {
            Ok(())
        } else {
            Err(ErrorKind::NotDominated(v))
        }
    }

    /// Check a use of `v` at `pos` of block `b`; returns its type if it is available.
    fn use_any(&mut self, v: Value, b: usize, pos: u32, site: Site) -> Option<TypeId> {
        match self.available(v, b, pos) {
            Ok(()) => Some(self.s.ty[v.0 as usize]),
            // Not defined yet in the walk: undefined, or defined where it does not
            // dominate this use; which one is known at the end.
            Err(ErrorKind::UndefinedValue(_)) => {
                self.s.early_uses.push((v, b as u32, site));
                None
            }
            Err(kind) => {
                self.err(b, site, kind);
                None
            }
        }
    }

    /// Report each use met before any definition of its value: `not_dominated`
    /// if the value is defined somewhere, else `undefined_value`.
    fn report_early_uses(&mut self) {
        let mut uses = std::mem::take(&mut self.s.early_uses);
        for (v, b, site) in uses.drain(..) {
            let defined = self.s.def_block.get(v.0 as usize).is_some_and(|&db| db != UNDEFINED);
            let kind = if defined {
                ErrorKind::NotDominated(v)
            } else {
                ErrorKind::UndefinedValue(v)
            };
            self.err(b as usize, site, kind);
        }
        self.s.early_uses = uses;
    }

    /// Check a use of `v` that must have type `want`.
    fn use_as(&mut self, v: Value, want: TypeId, b: usize, pos: u32, site: Site, what: &dyn Fn() -> String) {
        if let Some(found) = self.use_any(v, b, pos, site) {
            if found != want {
                let kind = ErrorKind::TypeMismatch {
                    what: format!("{} ({v})", what()),
                    expected: self.s.types.name(want),
                    found: self.s.types.name(found),
                };
                self.err(b, site, kind);
            }
        }
    }

    /// Check block `b`'s instructions, defining each one's results after its
    /// operands are checked, then its terminator; false if a type in it is over
    /// the limits.
    fn check_block(&mut self, b: usize, proofs: &mut [bool], counts: &mut Counts) -> bool {
        let f = self.f;
        let block = &f.blocks[b];
        self.define_params(b);
        if b == 0 {
            self.check_entry_params();
        }
        for (i, inst) in block.insts.iter().enumerate() {
            let site = Site::Inst(i as u32);
            let pos = i as u32 + 1;
            // Its types are bounded before `check_op` compares them.
            if !self.define_results(b, i) {
                return false;
            }
            let proven = self.check_op(&inst.op, b, pos, site);
            if let Some(p) = proven {
                proofs[i] = p;
                if p {
                    counts.accesses_proven += 1;
                } else {
                    counts.accesses_checked += 1;
                }
            }
            for def in &inst.results {
                if let Some(fact) = def.fact {
                    self.check_result_fact(def.value, &inst.op, fact, b, pos, site);
                }
            }
        }
        self.check_terminator(b);
        true
    }

    /// The type of table `table`, or `None` (reported) when the domain has no such table.
    fn table_type(&mut self, table: u32, b: usize, site: Site) -> Option<RefType> {
        let elem = self.d.tables.get(table as usize).map(|t| t.elem);
        if elem.is_none() {
            self.err(b, site, ErrorKind::UnknownTable(table));
        }
        elem
    }

    /// A table operation on table `table`: the table exists and holds the type of
    /// `from` (the source table or segment, when there is one), and each operand
    /// has its type (`None`: the table's).
    fn table_op(
        &mut self,
        op: &Op,
        table: u32,
        from: Option<RefType>,
        operands: &[(Value, Option<TypeId>)],
        at: (usize, u32, Site),
    ) {
        let (b, pos, site) = at;
        let name = || capjit_ir::names::opcode_text(op);
        let elem = self.table_type(table, b, site);
        if let (Some(to), Some(from)) = (elem, from.filter(|f| Some(*f) != elem)) {
            let (expected, found) = (to.as_type().to_string(), from.as_type().to_string());
            let what = format!("the source of `{}`", name());
            self.err(b, site, ErrorKind::TypeMismatch { what, expected, found });
        }
        for (k, &(v, want)) in operands.iter().enumerate() {
            if let Some(want) = want.or(elem.map(ref_id)) {
                self.use_as(v, want, b, pos, site, &|| format!("operand {} of `{}`", k + 1, name()));
            }
        }
    }

    /// Type-check an operation's operands. For memory accesses, returns whether the
    /// access is proven in bounds.
    fn check_op(&mut self, op: &Op, b: usize, pos: u32, site: Site) -> Option<bool> {
        let name = || capjit_ir::names::opcode_text(op);
        let operand = |k: usize| move || format!("operand {k} of `{}`", name());
        let bad = |ty: &dyn std::fmt::Display| ErrorKind::BadOpType {
            op: name(),
            ty: ty.to_string(),
        };
        match op {
            Op::MemoryInit { segment: s, .. } | Op::DataDrop { segment: s }
                if *s as usize >= self.d.passive_data.len() =>
            {
                self.err(b, site, ErrorKind::UnknownDataSegment(*s))
            }
            Op::Const(_) | Op::MemorySize | Op::DataDrop { .. } => {}
            Op::Binary { op: bop, ty, a, b: rhs } => {
                if binop_is_int(*bop) != ty.is_int() {
                    self.err(b, site, bad(ty));
                }
                self.use_as(*a, num(*ty), b, pos, site, &operand(1));
                self.use_as(*rhs, num(*ty), b, pos, site, &operand(2));
            }
            Op::Unary { op: uop, ty, a } => {
                if !unary_ok(*uop, *ty) {
                    self.err(b, site, bad(ty));
                }
                self.use_as(*a, num(*ty), b, pos, site, &operand(1));
            }
            Op::Icmp { ty, a, b: rhs, .. } | Op::Fcmp { ty, a, b: rhs, .. } => {
                if ty.is_int() != matches!(op, Op::Icmp { .. }) {
                    self.err(b, site, bad(ty));
                }
                self.use_as(*a, num(*ty), b, pos, site, &operand(1));
                self.use_as(*rhs, num(*ty), b, pos, site, &operand(2));
            }
            Op::Select { ty, cond, a, b: rhs } => {
                let t = self.s.types.id(ty);
                self.use_as(*cond, I32, b, pos, site, &operand(1));
                self.use_as(*a, t, b, pos, site, &operand(2));
                self.use_as(*rhs, t, b, pos, site, &operand(3));
            }
            Op::Convert { op: cop, from, to, a } => {
                if !conversion_ok(*cop, *from, *to) {
                    self.err(b, site, bad(&format!("{from} to {to}")));
                }
                self.use_as(*a, num(*from), b, pos, site, &operand(1));
            }
            Op::Load { access, addr, offset } => {
                if !access_ok(*access) {
                    self.err(b, site, bad(&access.ty));
                }
                self.use_as(*addr, I32, b, pos, site, &operand(1));
                return Some(facts::access_in_bounds(
                    self,
                    *addr,
                    *offset as u64,
                    access.bytes as u64,
                ));
            }
            Op::Store {
                access,
                value,
                addr,
                offset,
            } => {
                if !access_ok(*access) || access.signed {
                    self.err(b, site, bad(&access.ty));
                }
                self.use_as(*value, num(access.ty), b, pos, site, &operand(1));
                self.use_as(*addr, I32, b, pos, site, &operand(2));
                return Some(facts::access_in_bounds(
                    self,
                    *addr,
                    *offset as u64,
                    access.bytes as u64,
                ));
            }
            Op::MemoryGrow { delta } => self.use_as(*delta, I32, b, pos, site, &operand(1)),
            Op::MemoryCopy { dst, src, len } => {
                for (k, v) in [*dst, *src, *len].into_iter().enumerate() {
                    self.use_as(v, I32, b, pos, site, &operand(k + 1));
                }
                let n = facts::upper_bound(self, *len);
                return Some(facts::access_in_bounds(self, *dst, 0, n) && facts::access_in_bounds(self, *src, 0, n));
            }
            Op::MemoryFill { dst, byte, len } => {
                for (k, v) in [*dst, *byte, *len].into_iter().enumerate() {
                    self.use_as(v, I32, b, pos, site, &operand(k + 1));
                }
                let n = facts::upper_bound(self, *len);
                return Some(facts::access_in_bounds(self, *dst, 0, n));
            }
            Op::MemoryInit { dst, src, len, .. } => {
                for (k, v) in [*dst, *src, *len].into_iter().enumerate() {
                    self.use_as(v, I32, b, pos, site, &operand(k + 1));
                }
            }
            Op::TableCopy {
                dst_table: t,
                src_table: from,
                dst,
                src,
                len,
            } => {
                let from = self.table_type(*from, b, site);
                let operands = [(*dst, Some(I32)), (*src, Some(I32)), (*len, Some(I32))];
                self.table_op(op, *t, from, &operands, (b, pos, site));
            }
            Op::TableInit {
                table,
                segment,
                dst,
                src,
                len,
            } => {
                let from = self.d.passive_elems.get(*segment as usize).map(|s| s.elem);
                if from.is_none() {
                    self.err(b, site, ErrorKind::UnknownElemSegment(*segment));
                }
                let operands = [(*dst, Some(I32)), (*src, Some(I32)), (*len, Some(I32))];
                self.table_op(op, *table, from, &operands, (b, pos, site));
            }
            Op::TableGet { table, index } => self.table_op(op, *table, None, &[(*index, Some(I32))], (b, pos, site)),
            Op::TableSet { table, index, value } => {
                self.table_op(op, *table, None, &[(*index, Some(I32)), (*value, None)], (b, pos, site))
            }
            Op::TableSize { table } => self.table_op(op, *table, None, &[], (b, pos, site)),
            Op::TableGrow { table, init, delta } => {
                self.table_op(op, *table, None, &[(*init, None), (*delta, Some(I32))], (b, pos, site))
            }
            Op::TableFill { table, dst, value, len } => {
                let operands = [(*dst, Some(I32)), (*value, None), (*len, Some(I32))];
                self.table_op(op, *table, None, &operands, (b, pos, site))
            }
            Op::RefNull { .. } => {}
            Op::RefIsNull { a } => {
                if let Some(found) = self
                    .use_any(*a, b, pos, site)
                    .filter(|t| *t != FUNCREF && *t != EXTERNREF)
                {
                    self.err(b, site, bad(&self.s.types.name(found)));
                }
            }
            Op::RefFunc { func } if *func as usize >= self.d.functions.len() => {
                self.err(b, site, ErrorKind::UnknownFunction(*func))
            }
            Op::ElemDrop { segment } if *segment as usize >= self.d.passive_elems.len() => {
                self.err(b, site, ErrorKind::UnknownElemSegment(*segment))
            }
            Op::RefFunc { .. } | Op::ElemDrop { .. } => {}
            Op::Call { func, args } => match self.d.functions.get(*func as usize) {
                None => self.err(b, site, ErrorKind::UnknownFunction(*func)),
                Some(callee) => {
                    let sig = &callee.sig;
                    let what = || format!("arguments of call to `{}`", callee.name);
                    self.check_args(args, sig.params.iter(), b, pos, site, &what);
                }
            },
            Op::CallIndirect {
                table,
                sig,
                index,
                args,
            } => {
                match self.table_type(*table, b, site) {
                    Some(RefType::Func) | None => {}
                    Some(RefType::Extern) => self.err(b, site, bad(&"a table of externref")),
                }
                self.use_as(*index, I32, b, pos, site, &operand(1));
                let plain = |t: &&Type| {
                    matches!(
                        t,
                        Type::I32 | Type::I64 | Type::F32 | Type::F64 | Type::FuncRef | Type::ExternRef
                    )
                };
                if let Some(t) = sig.params.iter().chain(&sig.results).find(|t| !plain(t)) {
                    let kind = bad(&format!("{t} in its signature (only numbers and references)"));
                    self.err(b, site, kind);
                }
                let what = || "arguments of `call_indirect`".to_string();
                self.check_args(args, sig.params.iter(), b, pos, site, &what);
            }
            Op::GlobalGet { global } => {
                if *global as usize >= self.d.globals.len() {
                    self.err(b, site, ErrorKind::UnknownGlobal(*global));
                }
            }
            Op::GlobalSet { global, value } => match self.d.globals.get(*global as usize) {
                None => self.err(b, site, ErrorKind::UnknownGlobal(*global)),
                Some(g) => {
                    if !g.mutable {
                        self.err(b, site, ErrorKind::ImmutableGlobal(g.name.clone()));
                    }
                    self.use_as(*value, num(g.ty), b, pos, site, &operand(1));
                }
            },
            Op::CapGet { import } => {
                if *import as usize >= self.d.imports.len() {
                    self.err(b, site, ErrorKind::UnknownImport(*import));
                }
            }
            Op::BufMake { ptr, len } => {
                self.use_as(*ptr, I32, b, pos, site, &operand(1));
                self.use_as(*len, I32, b, pos, site, &operand(2));
            }
            Op::BufPtr { buf } | Op::BufLen { buf } => self.use_as(*buf, BUF, b, pos, site, &operand(1)),
            Op::RegionNew { len } => self.use_as(*len, I32, b, pos, site, &operand(1)),
            Op::RegionLen { region } | Op::RegionFree { region } => {
                self.use_as(*region, REGION, b, pos, site, &operand(1))
            }
            Op::RegionLoad { access, region, index } => {
                if !access_ok(*access) {
                    self.err(b, site, bad(&access.ty));
                }
                self.use_as(*region, REGION, b, pos, site, &operand(1));
                self.use_as(*index, I32, b, pos, site, &operand(2));
            }
            Op::RegionStore {
                access,
                value,
                region,
                index,
            } => {
                if !access_ok(*access) || access.signed {
                    self.err(b, site, bad(&access.ty));
                }
                self.use_as(*value, num(access.ty), b, pos, site, &operand(1));
                self.use_as(*region, REGION, b, pos, site, &operand(2));
                self.use_as(*index, I32, b, pos, site, &operand(3));
            }
            Op::RegionRead {
                region,
                index,
                addr,
                len,
            }
            | Op::RegionWrite {
                region,
                index,
                addr,
                len,
            } => {
                self.use_as(*region, REGION, b, pos, site, &operand(1));
                for (k, v) in [*index, *addr, *len].into_iter().enumerate() {
                    self.use_as(v, I32, b, pos, site, &operand(k + 2));
                }
            }
        }
        None
    }

    /// Arguments against parameter types, count first.
    /// Arguments against parameter types, count first; `what` names them in errors.
    fn check_args<'t>(
        &mut self,
        args: &[Value],
        params: impl ExactSizeIterator<Item = &'t capjit_ir::Type>,
        b: usize,
        pos: u32,
        site: Site,
        what: &dyn Fn() -> String,
    ) {
        if args.len() != params.len() {
            let kind = ErrorKind::ArityMismatch {
                what: what(),
                expected: params.len(),
                found: args.len(),
            };
            self.err(b, site, kind);
            return;
        }
        for (k, (a, t)) in args.iter().zip(params).enumerate() {
            let want = self.s.types.id(t);
            self.use_as(*a, want, b, pos, site, &|| format!("{}, position {}", what(), k + 1));
        }
    }

    /// A fact sits on an integer value (`v`, of type `ty`) and is well-formed.
    fn check_fact_shape(&mut self, v: Value, ty: TypeId, fact: Fact, b: usize, site: Site) -> bool {
        let Some(bits) = int_bits(ty) else {
            let kind = ErrorKind::FactOnWrongType {
                fact,
                value: v,
                ty: self.s.types.name(ty),
            };
            self.err(b, site, kind);
            return false;
        };
        let why = match fact {
            Fact::Range { lo, hi } if lo > hi => Some(format!("lower bound {lo} is above upper bound {hi}")),
            Fact::Range { hi, .. } if hi > facts::max_of(bits) => {
                Some(format!("upper bound {hi} does not fit a {bits}-bit value"))
            }
            Fact::Lt(n) if int_bits(self.ty(n)).is_none() => Some(format!("{n} is not an integer")),
            _ => None,
        };
        if let Some(why) = why {
            self.err(b, site, ErrorKind::FactMalformed { fact, value: v, why });
            return false;
        }
        true
    }

    fn check_result_fact(&mut self, v: Value, op: &Op, fact: Fact, b: usize, pos: u32, site: Site) {
        if !self.check_fact_shape(v, self.ty(v), fact, b, site) {
            return;
        }
        if let Fact::Lt(n) = fact {
            if self.available(n, b, pos).is_err() {
                let why = format!("{n} is not defined before {v} on every path");
                self.err(b, site, ErrorKind::FactNotProven { fact, value: v, why });
                return;
            }
        }
        let dominates = |n: Value| self.available(n, b, pos).is_ok() && n != v;
        if let Err(why) = facts::check_result_fact(self, v, op, fact, &dominates) {
            self.err(b, site, ErrorKind::FactNotProven { fact, value: v, why });
        }
    }

    fn check_terminator(&mut self, b: usize) {
        let f = self.f;
        let block = &f.blocks[b];
        let pos = block.insts.len() as u32 + 1;
        let site = Site::Terminator;
        match &block.term {
            Terminator::Jump(call) => self.check_edge(b, call, None),
            Terminator::Brif { cond, then, else_ } => {
                self.use_as(*cond, I32, b, pos, site, &|| "the condition of `brif`".into());
                let icmp = self.icmp_of(*cond, b, pos);
                let edge = |taken_when_true| {
                    icmp.map(|(cc, a, rhs)| EdgeCondition {
                        cc,
                        a,
                        b: rhs,
                        taken_when_true,
                    })
                };
                self.check_edge(b, then, edge(true).as_ref());
                self.check_edge(b, else_, edge(false).as_ref());
            }
            Terminator::BrTable {
                index,
                default,
                targets,
            } => {
                self.use_as(*index, I32, b, pos, site, &|| "the index of `br_table`".into());
                self.check_edge(b, default, None);
                for t in targets {
                    self.check_edge(b, t, None);
                }
            }
            Terminator::Return(vals) => {
                let results = &self.f.sig.results;
                self.check_args(vals, results.iter(), b, pos, site, &|| "returned values".into());
            }
            Terminator::Trap => {}
            Terminator::TrapWith(code) => self.use_as(*code, I32, b, pos, site, &|| "the code of `trap`".into()),
            Terminator::CallCap { cap, args, ok, fail } => {
                let Some(t) = self.use_any(*cap, b, pos, site) else {
                    return;
                };
                let Some(sig) = self.s.types.cap_signature(t).cloned() else {
                    let kind = ErrorKind::TypeMismatch {
                        what: format!("the capability of `call_cap` ({cap})"),
                        expected: "a capability".into(),
                        found: self.s.types.name(t),
                    };
                    self.err(b, site, kind);
                    return;
                };
                self.check_args(args, sig.params.iter(), b, pos, site, &|| {
                    "arguments of `call_cap`".into()
                });
                self.check_foreign_params(b, ok.0 as usize, &sig.results, "the `ok` block of `call_cap`");
                self.check_foreign_params(
                    b,
                    fail.0 as usize,
                    &[capjit_ir::Type::I32],
                    "the `fail` block of `call_cap`",
                );
            }
        }
    }

    /// The condition's defining `icmp`, when it is one (and available).
    fn icmp_of(&self, cond: Value, b: usize, pos: u32) -> Option<(capjit_ir::IntCC, Value, Value)> {
        self.available(cond, b, pos).ok()?;
        match self.def_op(cond)? {
            Op::Icmp { cc, a, b, .. } => Some((*cc, *a, *b)),
            _ => None,
        }
    }

    /// A block entered from another domain: parameter types must match, and facts
    /// must be trivially true (values from elsewhere carry no proofs).
    fn check_foreign_params(&mut self, b: usize, target: usize, types: &[capjit_ir::Type], what: &str) {
        let params = &self.f.blocks[target].params;
        if params.len() != types.len() {
            self.err(
                b,
                Site::Terminator,
                ErrorKind::ArityMismatch {
                    what: format!("parameters of {what} (block{target})"),
                    expected: types.len(),
                    found: params.len(),
                },
            );
            return;
        }
        for (k, (p, t)) in params.iter().zip(types).enumerate() {
            if &p.ty != t {
                self.err(
                    b,
                    Site::Terminator,
                    ErrorKind::TypeMismatch {
                        what: format!("parameter {} of {what} (block{target})", k + 1),
                        expected: t.to_string(),
                        found: p.ty.to_string(),
                    },
                );
            }
            if let Some(fact) = p.fact {
                self.check_unprovable_fact(target, k, p, fact);
            }
        }
    }

    /// A fact on a value nothing in this function produced holds only if it says
    /// nothing beyond the value's type.
    fn check_unprovable_fact(&mut self, block: usize, k: usize, p: &BlockParam, fact: Fact) {
        let (site, v, ty) = (Site::Param(k as u32), p.value, self.s.types.id(&p.ty));
        if !self.check_fact_shape(v, ty, fact, block, site) {
            return;
        }
        let trivial =
            matches!(fact, Fact::Range { lo: 0, hi } if int_bits(ty).is_some_and(|bits| hi >= facts::max_of(bits)));
        if !trivial {
            let why = "the value comes from outside this function, so nothing proves it".to_string();
            self.err(block, site, ErrorKind::FactNotProven { fact, value: v, why });
        }
    }

    /// Arguments of one edge against the target's parameters, facts included.
    fn check_edge(&mut self, b: usize, call: &BlockCall, cond: Option<&EdgeCondition>) {
        let f = self.f;
        let pos = f.blocks[b].insts.len() as u32 + 1;
        let target = call.block.0 as usize;
        let params = &f.blocks[target].params;
        let what = || format!("arguments of the branch to block{target}");
        self.check_args(
            &call.args,
            params.iter().map(|p| &p.ty),
            b,
            pos,
            Site::Terminator,
            &what,
        );
        if call.args.len() != params.len() {
            return;
        }
        for (k, (arg, p)) in call.args.iter().zip(params).enumerate() {
            let Some(fact) = p.fact else { continue };
            let ty = self.s.types.id(&p.ty);
            if !self.check_fact_shape(p.value, ty, fact, target, Site::Param(k as u32)) {
                continue;
            }
            let before_target = |n: Value| {
                let db = self.s.def_block.get(n.0 as usize).copied().unwrap_or(UNDEFINED);
                db != UNDEFINED && db as usize != target && self.dom.dominates(db as usize, target)
            };
            if let Err(why) = facts::check_edge_fact(self, *arg, fact, cond, &before_target) {
                let why = format!("on the edge from block{b}: {why}");
                self.err(
                    b,
                    Site::Terminator,
                    ErrorKind::FactNotProven {
                        fact,
                        value: p.value,
                        why,
                    },
                );
            }
        }
    }
}

fn binop_is_int(op: BinOp) -> bool {
    !matches!(
        op,
        BinOp::Fadd | BinOp::Fsub | BinOp::Fmul | BinOp::Fdiv | BinOp::Fmin | BinOp::Fmax | BinOp::Fcopysign
    )
}
