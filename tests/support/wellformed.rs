//! A strict well-formedness lint for test programs: what the verifier will
//! demand of any program, checked independently so that the corpus stays valid
//! input for it. Not a verifier (it is untrusted test code and knows nothing of
//! bounds): it checks SSA (one definition per value, every use dominated by its
//! definition), types of every operand and successor argument, call and
//! capability signatures, reachability of every block, and that no proof fact
//! is written (the corpus carries none).
//!
//! The rules on operands are written again here on purpose; what an operation
//! defines and where a terminator goes are the IR's definition, not rules, and come
//! from `capjit_ir::shape` like everywhere else.

use std::collections::{HashMap, HashSet};

use capjit::ir::print::opcode_text;
use capjit::ir::*;

/// Every problem in the module, as `domain.func blockN: message`.
pub fn lint(m: &Module) -> Vec<String> {
    let mut out = Vec::new();
    for d in &m.domains {
        for f in &d.functions {
            let mut cx = Func {
                d,
                f,
                types: HashMap::new(),
                def_block: HashMap::new(),
                problems: Vec::new(),
            };
            cx.run();
            out.extend(cx.problems.into_iter().map(|p| format!("{}.{} {p}", d.name, f.name)));
        }
    }
    out
}

struct Func<'a> {
    d: &'a Domain,
    f: &'a Function,
    types: HashMap<Value, Type>,
    /// For each value: its block and position (block params at -1, then instruction index).
    def_block: HashMap<Value, (usize, i64)>,
    problems: Vec<String>,
}

/// Immediate-dominator-free dominance: `dom[b]` = set of blocks dominating `b`.
fn dominators(f: &Function) -> Vec<Option<HashSet<usize>>> {
    let n = f.blocks.len();
    let mut preds = vec![Vec::new(); n];
    let mut reachable = vec![false; n];
    let mut stack = vec![0usize];
    while let Some(b) = stack.pop() {
        if b >= n || reachable[b] {
            continue;
        }
        reachable[b] = true;
        for s in f.blocks[b].term.successors().map(|s| s.0 as usize) {
            if s < n {
                preds[s].push(b);
                stack.push(s);
            }
        }
    }
    let all: HashSet<usize> = (0..n).filter(|&b| reachable[b]).collect();
    let mut dom: Vec<Option<HashSet<usize>>> = (0..n).map(|b| reachable[b].then(|| all.clone())).collect();
    dom[0] = Some(HashSet::from([0]));
    let mut changed = true;
    while changed {
        changed = false;
        for b in 1..n {
            if !reachable[b] {
                continue;
            }
            let mut new: Option<HashSet<usize>> = None;
            for &p in preds[b].iter().filter(|&&p| reachable[p]) {
                let pd = dom[p].clone().unwrap_or_default();
                new = Some(match new {
                    None => pd,
                    Some(acc) => acc.intersection(&pd).copied().collect(),
                });
            }
            let mut new = new.unwrap_or_default();
            new.insert(b);
            if dom[b].as_ref() != Some(&new) {
                dom[b] = Some(new);
                changed = true;
            }
        }
    }
    dom
}

impl Func<'_> {
    fn problem(&mut self, block: usize, msg: String) {
        self.problems.push(format!("block{block}: {msg}"));
    }

    fn define(&mut self, block: usize, pos: i64, v: Value, ty: Type, fact: Option<Fact>) {
        if fact.is_some() {
            self.problem(block, format!("{v} carries a fact; the corpus must not"));
        }
        if self.types.insert(v, ty).is_some() {
            self.problem(block, format!("{v} is defined more than once"));
        }
        self.def_block.insert(v, (block, pos));
    }

    fn run(&mut self) {
        let f = self.f;
        // Pass 1: every definition and its type.
        for (bi, b) in f.blocks.iter().enumerate() {
            for p in &b.params {
                if matches!(p.ty, Type::Cap(_)) {
                    self.problem(
                        bi,
                        format!("{} is a cap block parameter; caps come only from cap.get", p.value),
                    );
                }
                self.define(bi, -1, p.value, p.ty.clone(), p.fact);
            }
            for (ii, inst) in b.insts.iter().enumerate() {
                let tys = inst.op.result_type_vec(self.d);
                if tys.len() != inst.results.len() {
                    self.problem(
                        bi,
                        format!(
                            "`{}` produces {} result(s) but {} are named",
                            opcode_text(&inst.op),
                            tys.len(),
                            inst.results.len()
                        ),
                    );
                }
                for (def, ty) in inst.results.iter().zip(tys) {
                    self.define(bi, ii as i64, def.value, ty, def.fact);
                }
            }
        }
        if f.sig.results.iter().any(|t| matches!(t, Type::Cap(_))) {
            self.problem(0, "the function returns a cap; caps come only from cap.get".into());
        }
        if let Some(entry) = f.blocks.first() {
            let params: Vec<Type> = entry.params.iter().map(|p| p.ty.clone()).collect();
            if params != f.sig.params {
                self.problem(
                    0,
                    format!("entry block parameters {params:?} differ from the signature"),
                );
            }
        }
        let dom = dominators(f);
        // Pass 2: every use.
        for (bi, b) in f.blocks.iter().enumerate() {
            let Some(doms) = &dom[bi] else {
                self.problem(bi, "is unreachable".into());
                continue;
            };
            for (ii, inst) in b.insts.iter().enumerate() {
                self.check_op(bi, ii as i64, doms, &inst.op);
            }
            self.check_term(bi, doms, &b.term);
        }
    }

    /// The type of `v` at a use in block `bi` at position `pos`, checking dominance.
    fn use_val(&mut self, bi: usize, pos: i64, doms: &HashSet<usize>, v: Value) -> Option<Type> {
        let Some(&(db, dp)) = self.def_block.get(&v) else {
            self.problem(bi, format!("{v} is used but never defined"));
            return None;
        };
        let ok = if db == bi { dp < pos } else { doms.contains(&db) };
        if !ok {
            self.problem(
                bi,
                format!("use of {v} is not dominated by its definition in block{db}"),
            );
        }
        self.types.get(&v).cloned()
    }

    fn expect(&mut self, bi: usize, pos: i64, doms: &HashSet<usize>, v: Value, want: &Type, what: &str) {
        if let Some(t) = self.use_val(bi, pos, doms, v) {
            if &t != want {
                self.problem(bi, format!("{what}: {v} is {t}, expected {want}"));
            }
        }
    }

    /// The type of table `table`'s entries, or a problem when it does not exist.
    fn table(&mut self, bi: usize, table: u32, what: &str) -> Option<Type> {
        let t = self.d.tables.get(table as usize).map(|t| t.elem.as_type().clone());
        if t.is_none() {
            self.problem(bi, format!("`{what}` of table #{table}, which does not exist"));
        }
        t
    }

    fn check_op(&mut self, bi: usize, pos: i64, doms: &HashSet<usize>, op: &Op) {
        let name = opcode_text(op);
        let i32t = Type::I32;
        match op {
            Op::Const(_) | Op::MemorySize => {}
            Op::Binary { op: bop, ty, a, b } => {
                use BinOp::*;
                let int_op = !matches!(bop, Fadd | Fsub | Fmul | Fdiv | Fmin | Fmax | Fcopysign);
                if int_op != ty.is_int() {
                    self.problem(bi, format!("`{name}` is not a legal type for this operation"));
                }
                self.expect(bi, pos, doms, *a, ty.as_type(), &name);
                self.expect(bi, pos, doms, *b, ty.as_type(), &name);
            }
            Op::Unary { op: uop, ty, a } => {
                use UnOp::*;
                let legal = match uop {
                    Clz | Ctz | Popcnt | Sext8 | Sext16 => ty.is_int(),
                    Sext32 => *ty == NumType::I64,
                    Fneg | Fabs | Fsqrt | Fceil | Ffloor | Ftrunc | Fnearest => !ty.is_int(),
                };
                if !legal {
                    self.problem(bi, format!("`{name}` is not a legal type for this operation"));
                }
                self.expect(bi, pos, doms, *a, ty.as_type(), &name);
            }
            Op::Icmp { ty, a, b, .. } | Op::Fcmp { ty, a, b, .. } => {
                let want_int = matches!(op, Op::Icmp { .. });
                if want_int != ty.is_int() {
                    self.problem(bi, format!("`{name}` compares the wrong kind of type"));
                }
                self.expect(bi, pos, doms, *a, ty.as_type(), &name);
                self.expect(bi, pos, doms, *b, ty.as_type(), &name);
            }
            Op::Select { ty, cond, a, b } => {
                self.expect(bi, pos, doms, *cond, &i32t, &name);
                self.expect(bi, pos, doms, *a, ty, &name);
                self.expect(bi, pos, doms, *b, ty, &name);
            }
            Op::Convert { op: cop, from, to, a } => {
                use ConvOp::*;
                use NumType::*;
                let legal = match cop {
                    Wrap => (*from, *to) == (I64, I32),
                    Uextend | Sextend => (*from, *to) == (I32, I64),
                    FtoSint | FtoUint | FtoSintSat | FtoUintSat => !from.is_int() && to.is_int(),
                    SintToF | UintToF => from.is_int() && !to.is_int(),
                    Promote => (*from, *to) == (F32, F64),
                    Demote => (*from, *to) == (F64, F32),
                    Bitcast => matches!((*from, *to), (I32, F32) | (F32, I32) | (I64, F64) | (F64, I64)),
                };
                if !legal {
                    self.problem(bi, format!("`{name}` is not a legal conversion"));
                }
                self.expect(bi, pos, doms, *a, from.as_type(), &name);
            }
            Op::Load { addr, .. } => self.expect(bi, pos, doms, *addr, &i32t, &name),
            Op::Store {
                access, value, addr, ..
            } => {
                self.expect(bi, pos, doms, *value, access.ty.as_type(), &name);
                self.expect(bi, pos, doms, *addr, &i32t, &name);
            }
            Op::MemoryGrow { delta } => self.expect(bi, pos, doms, *delta, &i32t, &name),
            Op::MemoryCopy { dst: x, src: y, len: z }
            | Op::MemoryFill {
                dst: x,
                byte: y,
                len: z,
            } => {
                for v in [x, y, z] {
                    self.expect(bi, pos, doms, *v, &i32t, &name);
                }
            }
            Op::TableCopy {
                dst_table,
                src_table,
                dst,
                src,
                len,
            } => {
                let to = self.table(bi, *dst_table, &name);
                let from = self.table(bi, *src_table, &name);
                if to.is_some() && from.is_some() && to != from {
                    self.problem(bi, format!("`{name}` between tables of other types"));
                }
                for v in [dst, src, len] {
                    self.expect(bi, pos, doms, *v, &i32t, &name);
                }
            }
            Op::MemoryInit { segment, dst, src, len } => {
                for v in [dst, src, len] {
                    self.expect(bi, pos, doms, *v, &i32t, &name);
                }
                if *segment as usize >= self.d.passive_data.len() {
                    self.problem(
                        bi,
                        format!("`{name}` of passive segment #{segment}, which does not exist"),
                    );
                }
            }
            Op::DataDrop { segment } => {
                if *segment as usize >= self.d.passive_data.len() {
                    self.problem(
                        bi,
                        format!("`{name}` of passive segment #{segment}, which does not exist"),
                    );
                }
            }
            Op::Call { func, args } => {
                let Some(callee) = self.d.functions.get(*func as usize) else {
                    self.problem(bi, format!("call of function #{func}, which does not exist"));
                    return;
                };
                let params = callee.sig.params.clone();
                self.check_args(bi, pos, doms, args, &params, &format!("call {}", callee.name));
            }
            Op::RefNull { .. } => {}
            Op::RefIsNull { a } => {
                if let Some(t) = self.use_val(bi, pos, doms, *a) {
                    if !matches!(t, Type::FuncRef | Type::ExternRef) {
                        self.problem(bi, format!("`{name}` of {a}, which is {t}, not a reference"));
                    }
                }
            }
            Op::RefFunc { func } => {
                if self.d.functions.get(*func as usize).is_none() {
                    self.problem(bi, format!("`{name}` of function #{func}, which does not exist"));
                }
            }
            Op::TableSize { table } => {
                self.table(bi, *table, &name);
            }
            Op::TableGet { table, index }
            | Op::TableGrow {
                table, delta: index, ..
            } => {
                let elem = self.table(bi, *table, &name);
                self.expect(bi, pos, doms, *index, &i32t, &name);
                if let (Op::TableGrow { init, .. }, Some(elem)) = (op, elem) {
                    self.expect(bi, pos, doms, *init, &elem, &name);
                }
            }
            Op::TableSet { table, index: i, value }
            | Op::TableFill {
                table, dst: i, value, ..
            } => {
                if let Some(elem) = self.table(bi, *table, &name) {
                    self.expect(bi, pos, doms, *value, &elem, &name);
                }
                self.expect(bi, pos, doms, *i, &i32t, &name);
                if let Op::TableFill { len, .. } = op {
                    self.expect(bi, pos, doms, *len, &i32t, &name);
                }
            }
            Op::TableInit {
                table,
                segment,
                dst,
                src,
                len,
            } => {
                let to = self.table(bi, *table, &name);
                match self.d.passive_elems.get(*segment as usize) {
                    None => self.problem(
                        bi,
                        format!("`{name}` of element segment #{segment}, which does not exist"),
                    ),
                    Some(s) if to.as_ref().is_some_and(|t| t != s.elem.as_type()) => {
                        self.problem(bi, format!("`{name}` between a table and a segment of other types"))
                    }
                    Some(_) => {}
                }
                for v in [dst, src, len] {
                    self.expect(bi, pos, doms, *v, &i32t, &name);
                }
            }
            Op::ElemDrop { segment } => {
                if self.d.passive_elems.get(*segment as usize).is_none() {
                    self.problem(
                        bi,
                        format!("`{name}` of element segment #{segment}, which does not exist"),
                    );
                }
            }
            Op::CallIndirect {
                table,
                sig,
                index,
                args,
                ..
            } => {
                if self.table(bi, *table, &name).is_some_and(|t| t != Type::FuncRef) {
                    self.problem(
                        bi,
                        format!("`{name}` through table #{table}, which is not a funcref table"),
                    );
                }
                self.expect(bi, pos, doms, *index, &i32t, &name);
                self.check_args(bi, pos, doms, args, &sig.params, "call_indirect");
            }
            Op::GlobalGet { global } => {
                if self.d.globals.get(*global as usize).is_none() {
                    self.problem(bi, format!("global.get of global #{global}, which does not exist"));
                }
            }
            Op::GlobalSet { global, value } => match self.d.globals.get(*global as usize) {
                Some(g) if g.mutable => {
                    let ty = Type::from(g.ty);
                    self.expect(bi, pos, doms, *value, &ty, &name)
                }
                _ => self.problem(
                    bi,
                    format!("global.set of global #{global}, which is not a mutable global"),
                ),
            },
            Op::CapGet { import } => {
                if self.d.imports.get(*import as usize).is_none() {
                    self.problem(bi, format!("cap.get of import #{import}, which does not exist"));
                }
            }
            Op::BufMake { ptr, len } => {
                self.expect(bi, pos, doms, *ptr, &i32t, &name);
                self.expect(bi, pos, doms, *len, &i32t, &name);
            }
            Op::BufPtr { buf } | Op::BufLen { buf } => self.expect(bi, pos, doms, *buf, &Type::Buf, &name),
            Op::RegionNew { len } => self.expect(bi, pos, doms, *len, &i32t, &name),
            Op::RegionLen { region } | Op::RegionFree { region } => {
                self.expect(bi, pos, doms, *region, &Type::Region, &name)
            }
            Op::RegionLoad { region, index, .. } => {
                self.expect(bi, pos, doms, *region, &Type::Region, &name);
                self.expect(bi, pos, doms, *index, &i32t, &name);
            }
            Op::RegionStore {
                access,
                value,
                region,
                index,
            } => {
                self.expect(bi, pos, doms, *value, access.ty.as_type(), &name);
                self.expect(bi, pos, doms, *region, &Type::Region, &name);
                self.expect(bi, pos, doms, *index, &i32t, &name);
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
                self.expect(bi, pos, doms, *region, &Type::Region, &name);
                for v in [index, addr, len] {
                    self.expect(bi, pos, doms, *v, &i32t, &name);
                }
            }
        }
    }

    fn check_args(&mut self, bi: usize, pos: i64, doms: &HashSet<usize>, args: &[Value], want: &[Type], what: &str) {
        if args.len() != want.len() {
            self.problem(
                bi,
                format!("{what}: {} argument(s), expected {}", args.len(), want.len()),
            );
        }
        for (a, t) in args.iter().zip(want) {
            self.expect(bi, pos, doms, *a, t, what);
        }
    }

    fn block_params(&self, b: usize) -> Option<Vec<Type>> {
        self.f
            .blocks
            .get(b)
            .map(|b| b.params.iter().map(|p| p.ty.clone()).collect())
    }

    fn check_target(&mut self, bi: usize, doms: &HashSet<usize>, c: &BlockCall) {
        let Some(params) = self.block_params(c.block.0 as usize) else {
            self.problem(bi, format!("branch to {}, which does not exist", c.block));
            return;
        };
        self.check_args(bi, i64::MAX, doms, &c.args, &params, &format!("branch to {}", c.block));
    }

    fn check_term(&mut self, bi: usize, doms: &HashSet<usize>, t: &Terminator) {
        let end = i64::MAX;
        match t {
            Terminator::Jump(c) => self.check_target(bi, doms, c),
            Terminator::Brif { cond, then, else_ } => {
                self.expect(bi, end, doms, *cond, &Type::I32, "brif condition");
                self.check_target(bi, doms, then);
                self.check_target(bi, doms, else_);
            }
            Terminator::BrTable {
                index,
                default,
                targets,
            } => {
                self.expect(bi, end, doms, *index, &Type::I32, "br_table index");
                self.check_target(bi, doms, default);
                for c in targets {
                    self.check_target(bi, doms, c);
                }
            }
            Terminator::Return(vals) => {
                let want = self.f.sig.results.clone();
                self.check_args(bi, end, doms, vals, &want, "return");
            }
            Terminator::Trap => {}
            Terminator::TrapWith(code) => self.expect(bi, end, doms, *code, &Type::I32, "trap code"),
            Terminator::CallCap { cap, args, ok, fail } => {
                let sig = match self.use_val(bi, end, doms, *cap) {
                    Some(Type::Cap(sig)) => *sig,
                    Some(other) => {
                        self.problem(bi, format!("call_cap through {cap} of type {other}"));
                        return;
                    }
                    None => return,
                };
                self.check_args(bi, end, doms, args, &sig.params, "call_cap");
                for a in args {
                    if matches!(self.types.get(a), Some(Type::Cap(_))) {
                        self.problem(bi, format!("call_cap passes capability {a} across a boundary"));
                    }
                }
                match self.block_params(ok.0 as usize) {
                    Some(p) if p == sig.results => {}
                    Some(p) => self.problem(
                        bi,
                        format!("ok successor takes {p:?}, the call returns {:?}", sig.results),
                    ),
                    None => self.problem(bi, "ok successor does not exist".into()),
                }
                match self.block_params(fail.0 as usize) {
                    Some(p) if p == vec![Type::I32] => {}
                    Some(p) => self.problem(bi, format!("fail successor takes {p:?}, expected one i32")),
                    None => self.problem(bi, "fail successor does not exist".into()),
                }
            }
        }
    }
}
