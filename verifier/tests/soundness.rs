//! The verifier's soundness property, tested against the reference interpreter.
//!
//! Random single-domain programs (loops, diamonds, `br_table` switches, loads, stores,
//! `memory.copy`/`memory.fill`) carry random proof facts: many are the tightest range
//! the verifier's rules can derive, others are loosened, off by one, random ranges,
//! `lt` of a random dominating value, or `mem(n)` with `n` at or just past what holds.
//! Every emitted fact also gets an explicit runtime check right after its definition
//! (`icmp` + `brif` to a block that only holds `trap`).
//!
//! Each program is verified; when facts are rejected they (and their checks) are
//! stripped and the program is verified again, so that most cases end accepted with
//! the facts the verifier vouched for. An accepted program is then run a few times:
//! - a check's `trap` (code `unreachable`) firing means the verifier accepted a fact
//!   that does not hold at run time;
//! - an `out_of_bounds` trap at an access that `access_proven` marked as proven means
//!   the translator would have left out a check it needed.
//!
//! Programs are built as `Module` values from a stream of random numbers, so proptest
//! shrinks a failure to a small program; `reduce` then leaves out every fact the
//! failure does not need, and the failure message prints the program as text.
//! Cases: 300 by default, `CAPJIT_PROPTEST_CASES` to change; `--nocapture` shows the
//! acceptance rate and how the runs ended.
//!
//! The generator found that `mem(n)` through an i64 `iadd` overflowed the verifier's
//! u64 arithmetic (fixed in 4d68f4c): i64 sums get many arbitrary `mem` claims.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use capjit_ir::interp::{Instance, Limits, RunError, Val};
use capjit_ir::*;
use capjit_verifier::rules::{self, derive_binary, max_of, Claimed, Claims, EdgeCondition, Operands, Range};
use capjit_verifier::{verify, ErrorKind, Verified};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};

/// Values of the runtime checks are numbered from here, so that the program's own
/// values keep their numbers whichever checks are left out.
const CHECK_BASE: u32 = 1 << 15;
/// Fuel per run: enough for a few hundred loop iterations, so every run ends.
const FUEL: u64 = 400;
/// Statements generated per program at most.
const BUDGET: u32 = 60;

// ---- random choices ---------------------------------------------------------

/// A stream of random numbers; when it runs out it yields zeros, and zero always
/// means the simplest choice, so that shrinking the stream shrinks the program.
struct Entropy<'a> {
    data: &'a [u64],
    pos: usize,
}

impl Entropy<'_> {
    fn next(&mut self) -> u64 {
        let v = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        v
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }

    /// True with probability `pct`%; false on zero.
    fn chance(&mut self, pct: u64) -> bool {
        self.below(100) + pct >= 100
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

// ---- what the verifier can know of a value (its own rules, to aim facts) ---------

/// An inclusive unsigned range, as the verifier's rules compute it.
type Rg = Range;

fn bits(ty: NumType) -> u32 {
    if ty == NumType::I64 {
        64
    } else {
        32
    }
}

fn full(bits: u32) -> Rg {
    Rg {
        lo: 0,
        hi: max_of(bits),
    }
}

fn union(a: Rg, b: Rg) -> Rg {
    Rg {
        lo: a.lo.min(b.lo),
        hi: a.hi.max(b.hi),
    }
}

/// Operands whose ranges are given (a hypothetical claim for a loop counter, and
/// what it is compared with), for asking the verifier's `refine` about a claim
/// before it is made.
struct Given {
    arg: Rg,
    other: Rg,
    pages: (u32, u32),
}

const GIVEN_ARG: Value = Value(0);
const GIVEN_OTHER: Value = Value(1);

impl Operands for Given {
    fn range(&self, v: Value) -> Range {
        if v == GIVEN_ARG {
            self.arg
        } else {
            self.other
        }
    }

    fn constant(&self, _: Value) -> Option<u64> {
        None
    }

    fn pages(&self) -> (u32, u32) {
        self.pages
    }
}

#[derive(Clone, Copy, Debug)]
struct Info {
    ty: NumType,
    /// The fact chosen for it (whether or not it was stripped).
    fact: Option<Fact>,
    konst: Option<u64>,
}

/// The `icmp` that decides a `brif`.
#[derive(Clone, Copy, Debug)]
struct Cond {
    cc: IntCC,
    a: Value,
    b: Value,
}

/// One incoming edge of a block parameter: the argument and, for a `brif` edge
/// decided by an `icmp`, the condition and whether the edge is taken when it holds.
#[derive(Clone, Copy, Debug)]
struct Edge {
    arg: Value,
    cond: Option<(Cond, bool)>,
}

/// An edge of a branch: the arm it goes to, its arguments, and its condition.
type ArmEdge = (usize, Vec<Value>, Option<(Cond, bool)>);

/// What could be claimed for a new value.
struct Claimable {
    /// The range the verifier derives (for a parameter: over every incoming edge).
    range: Rg,
    /// Values `n` for which `lt(n)` follows.
    lt: Vec<Value>,
    /// The largest `n` for which `mem(n)` follows.
    mem: Option<u64>,
    /// Prefer the exact claim (loop induction chains).
    exact: bool,
}

// ---- the generator -------------------------------------------------------------

/// The program's values as the verifier reads them: the fact chosen for each
/// (whether or not it was stripped, so that aims stay put), its width, its
/// constant.
impl Claims for Gen<'_> {
    fn fact(&self, v: Value) -> Option<Fact> {
        self.infos.get(&v.0).and_then(|i| i.fact)
    }

    fn bits(&self, v: Value) -> u32 {
        self.infos.get(&v.0).map_or(64, |i| bits(i.ty))
    }

    fn constant(&self, v: Value) -> Option<u64> {
        self.infos.get(&v.0).and_then(|i| i.konst)
    }

    fn pages(&self) -> (u32, u32) {
        (self.initial, self.maximum)
    }
}

struct Bb {
    key: Option<u32>,
    params: Vec<BlockParam>,
    insts: Vec<Inst>,
    term: Option<Terminator>,
}

struct Gen<'a> {
    e: Entropy<'a>,
    strip: &'a BTreeSet<u32>,
    blocks: Vec<Bb>,
    cur: usize,
    next_key: u32,
    next_v: u32,
    next_check: u32,
    infos: HashMap<u32, Info>,
    icmps: HashMap<u32, Cond>,
    /// Integer values available (defined on every path) at the current point.
    scope: Vec<Value>,
    initial: u32,
    maximum: u32,
    /// Percent weight of claims that are likely false.
    falseness: u64,
    budget: u32,
    /// Runtime checks: (trap block, before renumbering; value; fact).
    checks: Vec<(usize, Value, Fact)>,
    facts: usize,
}

/// A generated program and how to read its traps.
struct Built {
    module: Module,
    /// Trap block (final index) -> the fact its check guards.
    checks: HashMap<u32, (Value, Fact)>,
    /// Facts emitted.
    facts: usize,
    /// Values with a fact chosen (emitted or stripped).
    with_facts: Vec<u32>,
}

const SIG_PARAMS: [NumType; 4] = [NumType::I32, NumType::I32, NumType::I64, NumType::I32];

fn build(data: &[u64], strip: &BTreeSet<u32>) -> Built {
    let mut e = Entropy { data, pos: 0 };
    let initial = e.pick(&[1, 1, 1, 2]);
    let maximum = initial + e.pick(&[0, 0, 1, 3]);
    let falseness = e.pick(&[0, 5, 15, 40]);
    let mut g = Gen {
        e,
        strip,
        blocks: Vec::new(),
        cur: 0,
        next_key: 0,
        next_v: 0,
        next_check: CHECK_BASE,
        infos: HashMap::new(),
        icmps: HashMap::new(),
        scope: Vec::new(),
        initial,
        maximum,
        falseness,
        budget: BUDGET,
        checks: Vec::new(),
        facts: 0,
    };
    let entry = g.new_block();
    g.enter(entry);
    let mut params = Vec::new();
    for ty in SIG_PARAMS {
        let v = g.fresh();
        // Entry parameters come from outside: only a trivial fact can be accepted.
        let fact = if g.e.chance(8) {
            Some(if !g.e.chance(falseness) {
                Fact::Range {
                    lo: 0,
                    hi: max_of(bits(ty)),
                }
            } else {
                Fact::Range { lo: 0, hi: 100 }
            })
        } else {
            None
        };
        g.infos.insert(v.0, Info { ty, fact, konst: None });
        params.push(v);
    }
    g.bind_params(entry, &params);
    g.stmts(0);
    g.finish(Terminator::Return(vec![]));
    g.into_built()
}

fn call(block: usize, args: Vec<Value>) -> BlockCall {
    BlockCall {
        block: BlockId(block as u32),
        args,
    }
}

fn konst(ty: NumType, c: u64) -> Op {
    match ty {
        NumType::I64 => Op::Const(Const::I64(c as i64)),
        _ => Op::Const(Const::I32(c as u32 as i32)),
    }
}

impl Gen<'_> {
    fn initial_bytes(&self) -> u64 {
        self.initial as u64 * 65536
    }

    fn fresh(&mut self) -> Value {
        let v = Value(self.next_v);
        self.next_v += 1;
        assert!(self.next_v < CHECK_BASE, "program too large");
        v
    }

    fn new_block(&mut self) -> usize {
        self.blocks.push(Bb {
            key: None,
            params: Vec::new(),
            insts: Vec::new(),
            term: None,
        });
        self.blocks.len() - 1
    }

    /// Make `b` the current block; blocks are laid out in the order they are entered.
    fn enter(&mut self, b: usize) {
        assert!(self.blocks[b].key.is_none(), "block entered twice");
        self.blocks[b].key = Some(self.next_key);
        self.next_key += 1;
        self.cur = b;
    }

    fn finish(&mut self, term: Terminator) {
        let b = &mut self.blocks[self.cur];
        assert!(b.term.is_none(), "block finished twice");
        b.term = Some(term);
    }

    fn emitted(&self, v: Value) -> Option<Fact> {
        self.infos[&v.0].fact.filter(|_| !self.strip.contains(&v.0))
    }

    fn ty(&self, v: Value) -> NumType {
        self.infos[&v.0].ty
    }

    // ---- the verifier's view (`impl Claims for Gen` below) -------------------------

    fn range_of(&self, v: Value) -> Rg {
        rules::range_of(self, v)
    }

    fn shallow_lo(&self, n: Value) -> u64 {
        rules::shallow_lo(self, n)
    }

    fn mem_of(&self, v: Value) -> Option<u64> {
        match self.infos[&v.0].fact {
            Some(Fact::InMemory { size }) => Some(size as u64),
            _ => None,
        }
    }

    /// The range the verifier derives for the result of `op`.
    fn derive(&self, op: &Op, bits: u32) -> Rg {
        rules::derive(&Claimed(self), op, bits)
    }

    /// What an edge tells the verifier about its argument.
    fn refine(&self, arg: Value, cond: Option<(Cond, bool)>) -> (Rg, Option<Value>) {
        match cond {
            None => (self.range_of(arg), None),
            Some((c, taken_when_true)) => {
                let cond = EdgeCondition {
                    cc: c.cc,
                    a: c.a,
                    b: c.b,
                    taken_when_true,
                };
                rules::refine(&Claimed(self), arg, &cond)
            }
        }
    }

    /// What may be claimed of a parameter fed by `edges`; `before` are the values
    /// defined before the block on every path.
    fn claimable_param(&self, edges: &[Edge], before: &[Value]) -> Claimable {
        let mut range: Option<Rg> = None;
        let mut lt: Vec<Value> = before.to_vec();
        let mut mem: Option<u64> = Some(u64::MAX);
        for edge in edges {
            let (r, edge_lt) = self.refine(edge.arg, edge.cond);
            range = Some(range.map_or(r, |x| union(x, r)));
            let arg_fact = self.infos[&edge.arg.0].fact;
            lt.retain(|n| edge_lt == Some(*n) || arg_fact == Some(Fact::Lt(*n)) || r.hi < self.shallow_lo(*n));
            let fits = self.initial_bytes().checked_sub(r.hi);
            let best = match (fits, self.mem_of(edge.arg)) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            mem = match (mem, best) {
                (Some(m), Some(b)) => Some(m.min(b)),
                _ => None,
            };
        }
        Claimable {
            range: range.expect("a parameter has an incoming edge"),
            lt,
            mem,
            exact: false,
        }
    }

    /// What may be claimed of the result of `op` (of type `ty`).
    fn claimable_result(&self, op: &Op, ty: NumType) -> Claimable {
        let range = self.derive(op, bits(ty));
        let mut lt: Vec<Value> = self
            .scope
            .iter()
            .copied()
            .filter(|n| range.hi < self.shallow_lo(*n))
            .collect();
        if let Op::Binary { op: BinOp::Urem, b, .. } = op {
            lt.push(*b);
        }
        let mut mem = self.initial_bytes().checked_sub(range.hi);
        if let Op::Binary {
            op: BinOp::Iadd, a, b, ..
        } = op
        {
            for (base, add) in [(*a, *b), (*b, *a)] {
                if let Some(m) = self.mem_of(base) {
                    if let Some(n) = m.checked_sub(self.range_of(add).hi) {
                        mem = Some(mem.map_or(n, |x| x.max(n)));
                    }
                }
            }
        }
        Claimable {
            range,
            lt,
            mem,
            exact: false,
        }
    }

    // ---- choosing facts ------------------------------------------------------------

    fn interesting(&mut self, ty: NumType) -> u64 {
        let ib = self.initial_bytes();
        let common = [
            0,
            1,
            2,
            3,
            4,
            7,
            8,
            15,
            16,
            31,
            32,
            63,
            255,
            256,
            4095,
            4096,
            8191,
            65528,
            65535,
            65536,
            ib - 1,
            ib - 8,
            ib,
            ib + 1,
            0x7fff_ffff,
            0x8000_0000,
            0xffff_fff8,
            0xffff_ffff,
        ];
        let wide = [1 << 32, (1 << 32) + 1, 1 << 63, (1 << 63) - 1, u64::MAX - 7, u64::MAX];
        match self.e.below(10) {
            0..=6 => self.e.pick(&common),
            7 if ty == NumType::I64 => self.e.pick(&wide),
            _ => self.e.next() & max_of(bits(ty)),
        }
    }

    fn choose_fact(&mut self, ty: NumType, c: &Claimable) -> Option<Fact> {
        let max = max_of(bits(ty));
        let r = c.range;
        let f = self.falseness;
        if c.exact && !self.e.chance(f) {
            return Some(Fact::Range { lo: r.lo, hi: r.hi });
        }
        // Weights: none, exact, loose, off by one, random range, lt, mem, malformed.
        let weights = [30, 30, 8, f, f / 2, 12, 12, f / 4];
        let total: u64 = weights.iter().sum();
        let mut x = self.e.below(total);
        let mut kind = 0;
        for (k, w) in weights.iter().enumerate() {
            if x < *w {
                kind = k;
                break;
            }
            x -= w;
        }
        match kind {
            0 => None,
            1 => Some(Fact::Range { lo: r.lo, hi: r.hi }),
            2 => {
                let d = self.e.pick(&[1, 10, 1000, 1 << 20]);
                Some(Fact::Range {
                    lo: r.lo.saturating_sub(d),
                    hi: r.hi.saturating_add(d).min(max),
                })
            }
            3 => Some(if r.hi > r.lo && self.e.chance(60) {
                Fact::Range { lo: r.lo, hi: r.hi - 1 }
            } else if r.hi > r.lo {
                Fact::Range { lo: r.lo + 1, hi: r.hi }
            } else {
                Fact::Range {
                    lo: r.lo,
                    hi: r.hi.saturating_add(1).min(max),
                }
            }),
            4 => {
                let a = self.interesting(ty);
                let b = if self.e.chance(50) { a } else { self.interesting(ty) };
                Some(Fact::Range {
                    lo: a.min(b),
                    hi: a.max(b),
                })
            }
            5 => {
                let wild = self.e.chance(f);
                if !c.lt.is_empty() && !wild {
                    Some(Fact::Lt(self.e.pick(&c.lt)))
                } else if wild && !self.scope.is_empty() {
                    Some(Fact::Lt(self.e.pick(&self.scope.clone())))
                } else {
                    Some(Fact::Range { lo: r.lo, hi: r.hi })
                }
            }
            7 => Some(if r.hi < max && self.e.chance(50) {
                // Malformed: reported, never trusted.
                Fact::Range { lo: r.hi + 1, hi: r.lo }
            } else {
                Fact::Range { lo: 0, hi: u64::MAX }
            }),
            _ => {
                let wild = self.e.chance(f);
                let size = match c.mem {
                    Some(m) if !wild => {
                        if self.e.chance(30) {
                            m / 2
                        } else {
                            m
                        }
                    }
                    Some(m) if self.e.chance(50) => m.saturating_add(1),
                    _ if wild => self.e.pick(&[0, 1, 4, 8, 65536, self.initial_bytes() + 1]),
                    _ => return Some(Fact::Range { lo: r.lo, hi: r.hi }),
                };
                Some(Fact::InMemory {
                    size: size.min(u32::MAX as u64) as u32,
                })
            }
        }
    }

    // ---- defining values and their runtime checks ----------------------------------

    fn push(&mut self, results: Vec<Def>, op: Op) {
        self.blocks[self.cur].insts.push(Inst {
            results: results.into(),
            op,
            span: None,
        });
    }

    fn check_value(&mut self, op: Op) -> Value {
        let v = Value(self.next_check);
        self.next_check += 1;
        self.push(vec![Def { value: v, fact: None }], op);
        v
    }

    /// Emit a check that `fact` holds for `v` now; continue in a new block.
    fn check(&mut self, v: Value, fact: Fact) {
        let ty = self.ty(v);
        let ok = match fact {
            Fact::Range { lo, hi } => {
                let lo_v = self.check_value(konst(ty, lo));
                let hi_v = self.check_value(konst(ty, hi));
                let a = self.check_value(Op::Icmp {
                    cc: IntCC::Uge,
                    ty,
                    a: v,
                    b: lo_v,
                });
                let b = self.check_value(Op::Icmp {
                    cc: IntCC::Ule,
                    ty,
                    a: v,
                    b: hi_v,
                });
                self.check_value(Op::Binary {
                    op: BinOp::Band,
                    ty: NumType::I32,
                    a,
                    b,
                })
            }
            Fact::Lt(n) => {
                let (x, y, t) = if ty == self.ty(n) {
                    (v, n, ty)
                } else {
                    (self.widen(v), self.widen(n), NumType::I64)
                };
                self.check_value(Op::Icmp {
                    cc: IntCC::Ult,
                    ty: t,
                    a: x,
                    b: y,
                })
            }
            Fact::InMemory { size } => {
                let x = self.widen(v);
                let pages = self.check_value(Op::MemorySize);
                let pages = self.widen_i32(pages);
                let sixteen = self.check_value(konst(NumType::I64, 16));
                let bytes = self.check_value(Op::Binary {
                    op: BinOp::Ishl,
                    ty: NumType::I64,
                    a: pages,
                    b: sixteen,
                });
                let size = self.check_value(konst(NumType::I64, size as u64));
                let room = self.check_value(Op::Binary {
                    op: BinOp::Isub,
                    ty: NumType::I64,
                    a: bytes,
                    b: size,
                });
                let a = self.check_value(Op::Icmp {
                    cc: IntCC::Uge,
                    ty: NumType::I64,
                    a: bytes,
                    b: size,
                });
                let b = self.check_value(Op::Icmp {
                    cc: IntCC::Ule,
                    ty: NumType::I64,
                    a: x,
                    b: room,
                });
                self.check_value(Op::Binary {
                    op: BinOp::Band,
                    ty: NumType::I32,
                    a,
                    b,
                })
            }
        };
        let trap = self.new_block();
        self.blocks[trap].term = Some(Terminator::Trap);
        self.blocks[trap].key = Some(self.next_key);
        self.next_key += 1;
        let cont = self.new_block();
        self.finish(Terminator::Brif {
            cond: ok,
            then: call(cont, vec![]),
            else_: call(trap, vec![]),
        });
        self.enter(cont);
        self.checks.push((trap, v, fact));
    }

    /// `v` as an i64 (zero-extended when it is an i32).
    fn widen(&mut self, v: Value) -> Value {
        if v.0 < CHECK_BASE && self.ty(v) == NumType::I64 {
            v
        } else {
            self.widen_i32(v)
        }
    }

    fn widen_i32(&mut self, v: Value) -> Value {
        self.check_value(Op::Convert {
            op: ConvOp::Uextend,
            from: NumType::I32,
            to: NumType::I64,
            a: v,
        })
    }

    /// Define the single result of `op` with a chosen fact, and check the fact.
    fn def_with(&mut self, op: Op, ty: NumType, exact: bool) -> Value {
        let mut c = self.claimable_result(&op, ty);
        c.exact = exact;
        let fact = self.choose_fact(ty, &c);
        self.def_fact(op, ty, fact)
    }

    /// Define the result of an `iadd` onto a value carrying `mem`, mostly claiming
    /// `mem(n)` with `n` exact, one too many, or arbitrary.
    fn def_mem_claim(&mut self, op: Op, ty: NumType) -> Value {
        let c = self.claimable_result(&op, ty);
        // i64 sums get many more arbitrary claims.
        let wild = self.e.chance(self.falseness) || (ty == NumType::I64 && self.e.chance(80));
        let size = match c.mem {
            Some(m) if !wild => Some(m),
            Some(m) if self.e.chance(50) => Some(m.saturating_add(1)),
            _ if wild => Some(self.e.pick(&[0, 1, 8, 64, 4096])),
            _ => None,
        };
        let fact = match size {
            Some(size) if ty == NumType::I64 || self.e.chance(70) => Some(Fact::InMemory {
                size: size.min(u32::MAX as u64) as u32,
            }),
            _ => self.choose_fact(ty, &c),
        };
        self.def_fact(op, ty, fact)
    }

    fn def_fact(&mut self, op: Op, ty: NumType, fact: Option<Fact>) -> Value {
        let v = self.fresh();
        let konst = match op {
            Op::Const(Const::I32(x)) => Some(x as u32 as u64),
            Op::Const(Const::I64(x)) => Some(x as u64),
            _ => None,
        };
        if let Op::Icmp { cc, a, b, .. } = op {
            self.icmps.insert(v.0, Cond { cc, a, b });
        }
        self.infos.insert(v.0, Info { ty, fact, konst });
        let emitted = self.emitted(v);
        self.push(
            vec![Def {
                value: v,
                fact: emitted,
            }],
            op,
        );
        if let Some(f) = emitted {
            self.facts += 1;
            self.check(v, f);
        }
        self.scope.push(v);
        v
    }

    fn def(&mut self, op: Op, ty: NumType) -> Value {
        self.def_with(op, ty, false)
    }

    /// Give block `b` parameters `vals` (whose infos exist), check their facts, and
    /// make them available.
    fn bind_params(&mut self, b: usize, vals: &[Value]) {
        for v in vals {
            let fact = self.emitted(*v);
            let ty = match self.ty(*v) {
                NumType::I64 => Type::I64,
                _ => Type::I32,
            };
            self.blocks[b].params.push(BlockParam { value: *v, ty, fact });
        }
        for v in vals {
            if let Some(f) = self.emitted(*v) {
                self.facts += 1;
                self.check(*v, f);
            }
            self.scope.push(*v);
        }
    }

    /// A new parameter value fed by `edges`, with a chosen fact.
    fn param(&mut self, ty: NumType, edges: &[Edge], before: &[Value], exact: bool) -> Value {
        let mut c = self.claimable_param(edges, before);
        c.exact = exact;
        let saved = std::mem::replace(&mut self.scope, before.to_vec());
        let fact = self.choose_fact(ty, &c);
        self.scope = saved;
        let v = self.fresh();
        self.infos.insert(v.0, Info { ty, fact, konst: None });
        v
    }

    // ---- operands --------------------------------------------------------------------

    fn pick_ty(&mut self) -> NumType {
        if self.e.chance(30) {
            NumType::I64
        } else {
            NumType::I32
        }
    }

    fn constant(&mut self, ty: NumType) -> Value {
        let c = self.interesting(ty);
        self.def(konst(ty, c), ty)
    }

    fn const_of(&mut self, ty: NumType, c: u64) -> Value {
        self.def(konst(ty, c), ty)
    }

    fn of_type(&self, ty: NumType) -> Vec<Value> {
        self.scope.iter().copied().filter(|v| self.ty(*v) == ty).collect()
    }

    fn operand(&mut self, ty: NumType) -> Value {
        let vs = self.of_type(ty);
        if vs.is_empty() || self.e.chance(25) {
            self.constant(ty)
        } else {
            self.e.pick(&vs)
        }
    }

    // ---- statements --------------------------------------------------------------------

    fn stmts(&mut self, depth: u32) {
        while self.budget > 0 && self.e.chance(85) {
            self.budget -= 1;
            match self.e.below(16) {
                0..=7 => self.inst(),
                8..=10 => self.memory_stmt(),
                11 | 12 if depth < 3 => self.branch(depth, false),
                13 if depth < 3 => self.branch(depth, true),
                14 | 15 if depth < 2 => self.looping(depth),
                _ => self.inst(),
            }
        }
    }

    fn inst(&mut self) {
        let ty = self.pick_ty();
        match self.e.below(14) {
            0 => {
                self.constant(ty);
            }
            1..=3 => {
                let a = self.operand(ty);
                use BinOp::*;
                let op = self.e.pick(&[
                    Iadd, Isub, Imul, Band, Bor, Bxor, Ushr, Ishl, Udiv, Urem, Sshr, Rotl, Sdiv, Srem,
                ]);
                let b = if matches!(op, Udiv | Urem | Sdiv | Srem) && self.e.chance(70) {
                    let c = self.e.pick(&[1, 2, 3, 7, 8, 100, 4096]);
                    self.const_of(ty, c)
                } else {
                    self.operand(ty)
                };
                self.def(Op::Binary { op, ty, a, b }, ty);
            }
            4 => {
                let a = self.operand(ty);
                let k = self.e.below(bits(ty) as u64 + 1);
                let mask = self.const_of(ty, max_of(k as u32));
                self.def(
                    Op::Binary {
                        op: BinOp::Band,
                        ty,
                        a,
                        b: mask,
                    },
                    ty,
                );
            }
            5 => {
                let a = self.operand(ty);
                let op = self.e.pick(&[BinOp::Ushr, BinOp::Ishl]);
                let k = self.e.below(bits(ty) as u64 + 8);
                let b = self.const_of(ty, k);
                self.def(Op::Binary { op, ty, a, b }, ty);
            }
            6 => {
                self.icmp(ty);
            }
            7 => {
                let cond = self.operand(NumType::I32);
                let a = self.operand(ty);
                let b = self.operand(ty);
                let t = if ty == NumType::I64 { Type::I64 } else { Type::I32 };
                self.def(Op::Select { ty: t, cond, a, b }, ty);
            }
            8 => {
                let (op, from, to) = self.e.pick(&[
                    (ConvOp::Uextend, NumType::I32, NumType::I64),
                    (ConvOp::Sextend, NumType::I32, NumType::I64),
                    (ConvOp::Wrap, NumType::I64, NumType::I32),
                ]);
                let a = self.operand(from);
                self.def(Op::Convert { op, from, to, a }, to);
            }
            9 => {
                let a = self.operand(ty);
                let op = self.e.pick(&[UnOp::Clz, UnOp::Ctz, UnOp::Popcnt, UnOp::Sext8]);
                self.def(Op::Unary { op, ty, a }, ty);
            }
            10 | 11 => self.load(),
            12 => {
                // `mem` carried through an addition.
                let bases: Vec<Value> = self
                    .scope
                    .iter()
                    .copied()
                    .filter(|v| self.mem_of(*v).is_some())
                    .collect();
                if bases.is_empty() {
                    self.address();
                } else {
                    let base = self.e.pick(&bases);
                    let t = self.ty(base);
                    let add = match self.e.below(4) {
                        0 | 1 => {
                            let c = self.e.pick(&[0, 1, 4, 8, 16, 100]);
                            self.const_of(t, c)
                        }
                        // An entry parameter: anything at all.
                        2 => Value(if t == NumType::I64 { 2 } else { 0 }),
                        _ => self.operand(t),
                    };
                    let (a, b) = if self.e.chance(50) { (add, base) } else { (base, add) };
                    self.def_mem_claim(
                        Op::Binary {
                            op: BinOp::Iadd,
                            ty: t,
                            a,
                            b,
                        },
                        t,
                    );
                }
            }
            _ => {
                if self.e.chance(70) {
                    self.def(Op::MemorySize, NumType::I32);
                } else {
                    let d = self.e.pick(&[0, 1, 2, 5]);
                    let delta = self.const_of(NumType::I32, d);
                    self.def(Op::MemoryGrow { delta }, NumType::I32);
                }
            }
        }
    }

    fn icmp(&mut self, ty: NumType) -> Value {
        let a = self.operand(ty);
        let b = self.operand(ty);
        use IntCC::*;
        let cc = self.e.pick(&[Ult, Ule, Ugt, Uge, Eq, Ne, Slt, Sge]);
        self.def(Op::Icmp { cc, ty, a, b }, NumType::I32)
    }

    /// An i32 address: masked and scaled indices, arbitrary values, constants, or
    /// values carrying `mem`.
    fn address(&mut self) -> Value {
        let with_mem: Vec<Value> = self
            .scope
            .iter()
            .copied()
            .filter(|v| self.ty(*v) == NumType::I32 && self.mem_of(*v).is_some())
            .collect();
        match self.e.below(8) {
            1 => self.operand(NumType::I32),
            2 => {
                let ib = self.initial_bytes();
                let c = self.e.pick(&[0, 8, 64, ib - 8, ib - 4, ib - 1, ib, ib + 8]);
                self.const_of(NumType::I32, c)
            }
            3 if !with_mem.is_empty() => self.e.pick(&with_mem),
            _ => {
                let x = self.operand(NumType::I32);
                let k = self.e.below(18);
                let mask = self.const_of(NumType::I32, max_of(k as u32));
                let mut a = self.def(
                    Op::Binary {
                        op: BinOp::Band,
                        ty: NumType::I32,
                        a: x,
                        b: mask,
                    },
                    NumType::I32,
                );
                if self.e.chance(50) {
                    let s = self.e.below(4);
                    let s = self.const_of(NumType::I32, s);
                    a = self.def(
                        Op::Binary {
                            op: BinOp::Ishl,
                            ty: NumType::I32,
                            a,
                            b: s,
                        },
                        NumType::I32,
                    );
                }
                if self.e.chance(30) {
                    let c = self.e.pick(&[1, 8, 100, 4096]);
                    let c = self.const_of(NumType::I32, c);
                    a = self.def(
                        Op::Binary {
                            op: BinOp::Iadd,
                            ty: NumType::I32,
                            a,
                            b: c,
                        },
                        NumType::I32,
                    );
                }
                a
            }
        }
    }

    /// An offset for an access of `bytes` at `addr`: often right at, or one past,
    /// the last one the address's facts allow.
    fn offset(&mut self, addr: Value, bytes: u64) -> u32 {
        let ib = self.initial_bytes();
        let slack = match self.mem_of(addr) {
            Some(m) if self.e.chance(50) => m.checked_sub(bytes),
            _ => ib
                .checked_sub(self.range_of(addr).hi)
                .and_then(|x| x.checked_sub(bytes)),
        };
        match (self.e.below(10), slack) {
            (1 | 2, Some(s)) => s as u32,
            (3, Some(s)) => s as u32 + 1,
            (4, _) => self.e.below(2 * ib) as u32,
            _ => self.e.pick(&[0, 0, 1, 4, 8]),
        }
    }

    fn access(&mut self) -> (NumType, MemAccess) {
        let (ty, bytes, signed) = self.e.pick(&[
            (NumType::I32, 4, false),
            (NumType::I64, 8, false),
            (NumType::I32, 1, false),
            (NumType::I32, 1, true),
            (NumType::I32, 2, false),
            (NumType::I32, 2, true),
            (NumType::I64, 1, false),
            (NumType::I64, 2, true),
            (NumType::I64, 4, false),
            (NumType::I64, 4, true),
        ]);
        (ty, MemAccess { ty, bytes, signed })
    }

    fn load(&mut self) {
        let addr = self.address();
        let (ty, access) = self.access();
        let offset = self.offset(addr, access.bytes as u64);
        self.def(Op::Load { access, addr, offset }, ty);
    }

    fn memory_stmt(&mut self) {
        match self.e.below(4) {
            0 | 1 => {
                let addr = self.address();
                let (ty, mut access) = self.access();
                access.signed = false;
                let value = self.operand(ty);
                let offset = self.offset(addr, access.bytes as u64);
                self.push(
                    vec![],
                    Op::Store {
                        access,
                        value,
                        addr,
                        offset,
                    },
                );
            }
            2 => {
                let dst = self.address();
                let byte = self.operand(NumType::I32);
                let len = self.length();
                self.push(vec![], Op::MemoryFill { dst, byte, len });
            }
            _ => {
                let dst = self.address();
                let src = self.address();
                let len = self.length();
                self.push(vec![], Op::MemoryCopy { dst, src, len });
            }
        }
    }

    fn length(&mut self) -> Value {
        if self.e.chance(60) {
            let c = self.e.pick(&[0, 1, 8, 16, 64, 4096]);
            self.const_of(NumType::I32, c)
        } else {
            let x = self.operand(NumType::I32);
            let mask = self.const_of(NumType::I32, 255);
            self.def(
                Op::Binary {
                    op: BinOp::Band,
                    ty: NumType::I32,
                    a: x,
                    b: mask,
                },
                NumType::I32,
            )
        }
    }

    /// A diamond (`brif`, arms possibly the same block) or a switch (`br_table`),
    /// arms with parameters, and a join block with parameters.
    fn branch(&mut self, depth: u32, table: bool) {
        // The condition: a fresh `icmp`, or any i32 already available.
        let (cond, cmp) = if table {
            (self.operand(NumType::I32), None)
        } else if self.e.chance(25) {
            let c = self.operand(NumType::I32);
            (c, self.icmps.get(&c.0).copied())
        } else {
            let ty = self.pick_ty();
            let c = self.icmp(ty);
            (c, self.icmps.get(&c.0).copied())
        };
        // Arms and their parameter types; each edge picks an arm and its arguments.
        let same_arm = !table && self.e.chance(10);
        let n_arms = if table {
            1 + self.e.below(3) as usize
        } else if same_arm {
            1
        } else {
            2
        };
        let n_edges = if table { n_arms + self.e.below(3) as usize } else { 2 };
        let mut arm_types = Vec::new();
        for _ in 0..n_arms {
            let k = self.e.below(3) as usize;
            let tys: Vec<NumType> = (0..k).map(|_| self.pick_ty()).collect();
            arm_types.push(tys);
        }
        let mut edges: Vec<ArmEdge> = Vec::new();
        for i in 0..n_edges {
            let arm = if table {
                if i < n_arms {
                    i
                } else {
                    self.e.below(n_arms as u64) as usize
                }
            } else if same_arm {
                0
            } else {
                i
            };
            let taken = i == 0;
            let mut args = Vec::new();
            for ty in arm_types[arm].clone() {
                // Prefer the compared values: their edges refine them.
                let compared: Vec<Value> = cmp
                    .map(|c| vec![c.a, c.b])
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|v| self.ty(*v) == ty)
                    .collect();
                let arg = if !compared.is_empty() && self.e.chance(70) {
                    self.e.pick(&compared)
                } else {
                    self.operand(ty)
                };
                args.push(arg);
            }
            edges.push((arm, args, cmp.filter(|_| !table).map(|c| (c, taken))));
        }
        let pre_params = self.scope.clone();
        let blocks: Vec<usize> = (0..n_arms).map(|_| self.new_block()).collect();
        let join = self.new_block();
        // Parameters of each arm, from every edge into it.
        let mut arm_params = Vec::new();
        for (arm, tys) in arm_types.iter().enumerate() {
            let mut ps = Vec::new();
            for (k, ty) in tys.iter().enumerate() {
                let es: Vec<Edge> = edges
                    .iter()
                    .filter(|(a, _, _)| *a == arm)
                    .map(|(_, args, c)| Edge { arg: args[k], cond: *c })
                    .collect();
                ps.push(self.param(*ty, &es, &pre_params, false));
            }
            arm_params.push(ps);
        }
        let term = {
            let call_of = |(arm, args, _): &ArmEdge| call(blocks[*arm], args.clone());
            if table {
                Terminator::BrTable {
                    index: cond,
                    default: call_of(&edges[0]),
                    targets: edges[1..].iter().map(call_of).collect(),
                }
            } else {
                Terminator::Brif {
                    cond,
                    then: call_of(&edges[0]),
                    else_: call_of(&edges[1]),
                }
            }
        };
        self.finish(term);
        // The join's parameter types; each arm passes values of them.
        let join_types: Vec<NumType> = (0..self.e.below(3)).map(|_| self.pick_ty()).collect();
        let mut join_edges: Vec<Vec<Value>> = Vec::new();
        for (arm, b) in blocks.iter().enumerate() {
            self.scope = pre_params.clone();
            self.enter(*b);
            let ps = arm_params[arm].clone();
            self.bind_params(*b, &ps);
            self.stmts(depth + 1);
            let args: Vec<Value> = join_types.clone().into_iter().map(|t| self.operand(t)).collect();
            self.finish(Terminator::Jump(call(join, args.clone())));
            join_edges.push(args);
        }
        self.scope = pre_params.clone();
        let mut jps = Vec::new();
        for (k, ty) in join_types.iter().enumerate() {
            let es: Vec<Edge> = join_edges
                .iter()
                .map(|args| Edge {
                    arg: args[k],
                    cond: None,
                })
                .collect();
            jps.push(self.param(*ty, &es, &pre_params, false));
        }
        self.enter(join);
        self.bind_params(join, &jps);
    }

    /// A counted loop: `header(i, acc)` tests `i` against a bound, the body (on the
    /// `then` or the `else` edge) gets `i` refined by that edge and jumps back with
    /// `i + step`; the exit gets `i` refined the other way.
    fn looping(&mut self, depth: u32) {
        let ty = if self.e.chance(20) { NumType::I64 } else { NumType::I32 };
        let bound = if self.e.chance(50) {
            let c = self.e.pick(&[0, 1, 2, 3, 5, 8, 16, 100, 4096, 8192]);
            self.const_of(ty, c)
        } else {
            self.operand(ty)
        };
        let init = if self.e.chance(60) {
            let c = self.e.pick(&[0, 1, 4]);
            self.const_of(ty, c)
        } else {
            self.operand(ty)
        };
        let step = self.e.pick(&[1, 1, 1, 2, 8]);
        let step_v = self.const_of(ty, step);
        let acc_ty = self.pick_ty();
        let acc_init = if self.e.chance(50) {
            Some(self.operand(acc_ty))
        } else {
            None
        };
        use IntCC::*;
        let cc = self.e.pick(&[Ult, Ult, Ule, Ne, Uge, Ugt, Slt, Eq]);
        let swapped = self.e.chance(20);
        // The body is on the edge where `i cc bound` holds for the usual conditions.
        let body_on_then = match cc {
            Uge | Ugt | Eq => self.e.chance(20),
            _ => !self.e.chance(20),
        };
        let before = self.scope.clone();
        let header = self.new_block();
        let body = self.new_block();
        let exit = self.new_block();

        // Claim for `i`: the smallest range closed under the back edge, if found.
        let i = self.fresh();
        let r0 = self.range_of(init);
        let b_range = self.range_of(bound);
        // What the header receives if `i` is claimed to lie in `c`: `init`, or the
        // body's view of `i` (refined by the edge) plus the step.
        let entering = |g: &Self, c: Rg| {
            let j = g.refine_hypothetical(c, cc, swapped, body_on_then, b_range);
            let plus_step = derive_binary(BinOp::Iadd, j, Rg { lo: step, hi: step }, Some(step), bits(ty));
            union(r0, plus_step)
        };
        let closed = |g: &Self, c: Rg| {
            let n = entering(g, c);
            c.lo <= n.lo && n.hi <= c.hi
        };
        // Iterate up from `init`; if that does not settle quickly, narrow down from
        // the whole type (every step of which is closed, the function being monotone).
        let mut claim = r0;
        for _ in 0..4 {
            claim = entering(self, claim);
        }
        if !closed(self, claim) {
            claim = full(bits(ty));
            for _ in 0..4 {
                claim = entering(self, claim);
            }
        }
        let i_fact = if closed(self, claim) && self.e.chance(75) && !self.e.chance(self.falseness) {
            Some(Fact::Range {
                lo: claim.lo,
                hi: claim.hi,
            })
        } else {
            let c = Claimable {
                range: claim,
                lt: Vec::new(),
                mem: None,
                exact: false,
            };
            self.choose_fact(ty, &c)
        };
        self.infos.insert(
            i.0,
            Info {
                ty,
                fact: i_fact,
                konst: None,
            },
        );
        // The back edge's value is not known yet: a fact on `acc` is mostly a guess.
        let acc = acc_init.map(|a| {
            let edges = [Edge { arg: a, cond: None }];
            let v = self.param(acc_ty, &edges, &before, false);
            if !self.e.chance(self.falseness) {
                self.infos.get_mut(&v.0).expect("just defined").fact = None;
            }
            v
        });
        let mut header_args = vec![init];
        header_args.extend(acc_init);
        self.finish(Terminator::Jump(call(header, header_args)));

        self.scope = before.clone();
        self.enter(header);
        let mut hps = vec![i];
        hps.extend(acc);
        self.bind_params(header, &hps);
        for _ in 0..self.e.below(3) {
            self.inst();
        }
        let (a, b) = if swapped { (bound, i) } else { (i, bound) };
        let c = self.def(Op::Icmp { cc, ty, a, b }, NumType::I32);
        let cond = Cond { cc, a, b };
        let in_header = self.scope.clone();
        let to_body = Edge {
            arg: i,
            cond: Some((cond, body_on_then)),
        };
        let to_exit = Edge {
            arg: i,
            cond: Some((cond, !body_on_then)),
        };
        let j = self.param(ty, &[to_body], &in_header, true);
        let k = self.param(ty, &[to_exit], &in_header, false);
        let (then, else_) = if body_on_then {
            (call(body, vec![i]), call(exit, vec![i]))
        } else {
            (call(exit, vec![i]), call(body, vec![i]))
        };
        self.finish(Terminator::Brif { cond: c, then, else_ });

        self.enter(body);
        self.bind_params(body, &[j]);
        if ty == NumType::I32 && self.e.chance(60) {
            // Index memory with the induction variable.
            let s = self.e.below(4);
            let s = self.const_of(NumType::I32, s);
            let addr = self.def_with(
                Op::Binary {
                    op: BinOp::Ishl,
                    ty: NumType::I32,
                    a: j,
                    b: s,
                },
                NumType::I32,
                true,
            );
            let (lty, access) = self.access();
            let offset = self.offset(addr, access.bytes as u64);
            self.def(Op::Load { access, addr, offset }, lty);
        }
        self.stmts(depth + 1);
        let next = self.def_with(
            Op::Binary {
                op: BinOp::Iadd,
                ty,
                a: j,
                b: step_v,
            },
            ty,
            true,
        );
        let mut back = vec![next];
        if acc.is_some() {
            back.push(self.operand(acc_ty));
        }
        self.finish(Terminator::Jump(call(header, back)));

        self.scope = in_header;
        self.enter(exit);
        self.bind_params(exit, &[k]);
    }

    /// The body's range of `i` when `i` is claimed to lie in `claim` (mirrors `refine`
    /// for a value whose info is not recorded yet).
    /// What the verifier's `refine` makes of a counter claimed to lie in `claim`,
    /// compared (`counter cc other`, or `other cc counter` if `swapped`) with a
    /// value in `other`, on the `then` edge or the other one.
    fn refine_hypothetical(&self, claim: Rg, cc: IntCC, swapped: bool, on_then: bool, other: Rg) -> Rg {
        let given = Given {
            arg: claim,
            other,
            pages: (self.initial, self.maximum),
        };
        let (a, b) = if swapped {
            (GIVEN_OTHER, GIVEN_ARG)
        } else {
            (GIVEN_ARG, GIVEN_OTHER)
        };
        let cond = EdgeCondition {
            cc,
            a,
            b,
            taken_when_true: on_then,
        };
        rules::refine(&given, GIVEN_ARG, &cond).0
    }

    fn into_built(self) -> Built {
        let mut order: Vec<usize> = (0..self.blocks.len()).collect();
        order.sort_by_key(|b| self.blocks[*b].key.expect("every block is laid out"));
        assert_eq!(order[0], 0, "the entry block comes first");
        let mut new_index = vec![0u32; self.blocks.len()];
        for (new, old) in order.iter().enumerate() {
            new_index[*old] = new as u32;
        }
        let remap = |c: &mut BlockCall| c.block = BlockId(new_index[c.block.0 as usize]);
        let mut blocks: Vec<Option<Bb>> = self.blocks.into_iter().map(Some).collect();
        let mut out = Vec::new();
        for old in &order {
            let bb = blocks[*old].take().expect("each block once");
            let mut term = bb.term.expect("every block is finished");
            match &mut term {
                Terminator::Jump(c) => remap(c),
                Terminator::Brif { then, else_, .. } => {
                    remap(then);
                    remap(else_);
                }
                Terminator::BrTable { default, targets, .. } => {
                    remap(default);
                    targets.iter_mut().for_each(remap);
                }
                _ => {}
            }
            out.push(Block {
                params: bb.params,
                insts: bb.insts,
                term,
                term_span: None,
            });
        }
        let checks = self.checks.iter().map(|(b, v, f)| (new_index[*b], (*v, *f))).collect();
        let data: Vec<u8> = (0..16u32).map(|i| (i.wrapping_mul(37) ^ 0x5a) as u8).collect();
        let module = Module {
            domains: vec![Domain {
                name: "d".into(),
                memory: Memory {
                    initial: self.initial,
                    maximum: self.maximum,
                },
                inbox: None,
                data: vec![
                    DataSegment {
                        offset: 0,
                        bytes: data.clone(),
                    },
                    DataSegment {
                        offset: (self.initial * 65536 - 16),
                        bytes: data,
                    },
                ],
                passive_data: vec![],
                imports: vec![],
                globals: Vec::new(),
                tables: Vec::new(),
                passive_elems: Vec::new(),
                functions: vec![Function {
                    name: "f".into(),
                    exported: true,
                    sig: Signature {
                        params: SIG_PARAMS
                            .iter()
                            .map(|t| if *t == NumType::I64 { Type::I64 } else { Type::I32 })
                            .collect(),
                        results: vec![],
                    },
                    blocks: out,
                    span: None,
                }],
                span: None,
            }],
        };
        let mut with_facts: Vec<u32> = self
            .infos
            .iter()
            .filter(|(_, i)| i.fact.is_some())
            .map(|(v, _)| *v)
            .collect();
        with_facts.sort_unstable();
        Built {
            module,
            checks,
            facts: self.facts,
            with_facts,
        }
    }
}

// ---- the property ------------------------------------------------------------------

#[derive(Clone)]
struct Case {
    entropy: Vec<u64>,
    runs: Vec<[u64; 4]>,
}

/// A case shows as the program it generates (with every fact) and its arguments.
impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let built = build(&self.entropy, &BTreeSet::new());
        let runs: Vec<Vec<Val>> = self.runs.iter().map(args_of).collect();
        write!(f, "arguments {runs:?} for\n{}", print_module(&built.module))
    }
}

fn arb_arg() -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => prop::sample::select(vec![
            0u64, 1, 2, 7, 8, 255, 4095, 4096, 65535, 65536, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff,
            u64::MAX, 1 << 32, 1 << 63,
        ]),
        1 => any::<u64>(),
    ]
}

fn arb_case() -> impl Strategy<Value = Case> {
    (
        vec(any::<u64>(), 0..800),
        vec([arb_arg(), arb_arg(), arb_arg(), arb_arg()], 1..=3),
    )
        .prop_map(|(entropy, runs)| Case { entropy, runs })
}

#[derive(Debug, Default)]
struct Stats {
    cases: u64,
    accepted_first: u64,
    /// Facts in the programs accepted as generated.
    facts_accepted_first: u64,
    accepted: u64,
    facts_first: u64,
    facts_kept: u64,
    accepted_with_facts: u64,
    accesses: u64,
    proven: u64,
    runs: u64,
    outcomes: BTreeMap<String, u64>,
}

fn is_access(op: &Op) -> bool {
    matches!(
        op,
        Op::Load { .. } | Op::Store { .. } | Op::MemoryCopy { .. } | Op::MemoryFill { .. }
    )
}

fn args_of(run: &[u64; 4]) -> Vec<Val> {
    SIG_PARAMS
        .iter()
        .zip(run)
        .map(|(t, x)| match t {
            NumType::I64 => Val::I64(*x as i64),
            _ => Val::I32(*x as u32 as i32),
        })
        .collect()
}

/// Proofs recorded for the module agree with its instructions and the counts.
fn check_proof_table(v: &Verified<Module>, text: &dyn Fn() -> String) -> Result<(u64, u64), TestCaseError> {
    let f = &v.module().domains[0].functions[0];
    let (mut accesses, mut proven) = (0, 0);
    for (b, block) in f.blocks.iter().enumerate() {
        for (i, inst) in block.insts.iter().enumerate() {
            let p = v.access_proven(0, 0, b, i);
            if is_access(&inst.op) {
                accesses += 1;
                proven += p as u64;
            } else {
                prop_assert!(!p, "block{b} inst {i} is not an access but is proven\n{}", text());
            }
        }
        prop_assert!(!v.access_proven(0, 0, b, block.insts.len()), "past the block end");
    }
    let counts = v.counts();
    prop_assert_eq!(counts.accesses_proven, proven);
    prop_assert_eq!(counts.accesses_proven + counts.accesses_checked, accesses);
    Ok((accesses, proven))
}

/// Verify the case's program, leaving out rejected facts until it is accepted, then
/// run it. `strip` are facts left out from the start.
fn check_case(case: &Case, strip: &BTreeSet<u32>, stats: &RefCell<Stats>) -> Result<(), TestCaseError> {
    let mut strip = strip.clone();
    let mut first = true;
    loop {
        let built = build(&case.entropy, &strip);
        let text = || print_module(&built.module);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| verify(&built.module)));
        let result = result.map_err(|panic| {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            TestCaseError::fail(format!("CRASH: the verifier panicked ({msg}) on\n{}", text()))
        })?;
        if first {
            let mut s = stats.borrow_mut();
            s.cases += 1;
            s.facts_first += built.facts as u64;
            s.accepted_first += result.is_ok() as u64;
            if result.is_ok() {
                s.facts_accepted_first += built.facts as u64;
            }
        }
        first = false;
        let errors = match result {
            Ok(verified) => return run_accepted(case, &built, &verified, stats),
            Err(errors) => errors,
        };
        // Rejected facts are left out next time; anything else is a generator bug
        // (or a verifier that rejects a valid program).
        let before = strip.len();
        for err in &errors {
            match &err.kind {
                ErrorKind::FactNotProven { value, .. }
                | ErrorKind::FactMalformed { value, .. }
                | ErrorKind::FactOnWrongType { value, .. } => {
                    strip.insert(value.0);
                }
                _ => prop_assert!(false, "unexpected error {err}\n{}", text()),
            }
        }
        prop_assert!(strip.len() > before, "rejected facts were already stripped\n{}", text());
    }
}

fn run_accepted(
    case: &Case,
    built: &Built,
    verified: &Verified<Module>,
    stats: &RefCell<Stats>,
) -> Result<(), TestCaseError> {
    let text = || print_module(&built.module);
    let (accesses, proven) = check_proof_table(verified, &text)?;
    {
        let mut s = stats.borrow_mut();
        s.accepted += 1;
        s.facts_kept += built.facts as u64;
        s.accepted_with_facts += (built.facts > 0) as u64;
        s.accesses += accesses;
        s.proven += proven;
    }
    for run in &case.runs {
        let args = args_of(run);
        let limits = Limits {
            fuel: FUEL,
            ..Limits::default()
        };
        let mut inst = Instance::new(built.module.clone(), limits, Box::new(std::io::sink()))
            .map_err(|e| TestCaseError::fail(format!("link: {e}")))?;
        let outcome = inst.invoke("d", "f", &args);
        let name = match &outcome {
            Ok(_) => "returned".to_string(),
            Err(RunError::Trap(t)) => t.code.name().to_string(),
            Err(e) => format!("{e}"),
        };
        {
            let mut s = stats.borrow_mut();
            s.runs += 1;
            *s.outcomes.entry(name).or_default() += 1;
        }
        match outcome {
            Ok(_) => {}
            Err(RunError::Trap(t)) => match t.code {
                TrapCode::Unreachable => {
                    let (v, fact) =
                        built.checks.get(&t.block).copied().ok_or_else(|| {
                            TestCaseError::fail(format!("a trap outside every check: {t}\n{}", text()))
                        })?;
                    prop_assert!(
                        false,
                        "UNSOUND FACT: the verifier accepted fact {fact} on {v}, which does not hold \
                         (args {args:?}, check block{})\n{}",
                        t.block,
                        text()
                    );
                }
                TrapCode::OutOfBounds => {
                    let inst = t.inst.expect("accesses are instructions") as usize;
                    let op = &built.module.domains[0].functions[0].blocks[t.block as usize].insts[inst].op;
                    prop_assert!(is_access(op), "out_of_bounds at a non-access {op:?}");
                    prop_assert!(
                        !verified.access_proven(0, 0, t.block as usize, inst),
                        "UNSOUND ACCESS: the access at block{} inst {inst} was proven but trapped \
                         out of bounds (args {args:?})\n{}",
                        t.block,
                        text()
                    );
                }
                _ => {}
            },
            Err(e) => prop_assert!(false, "the interpreter refused a verified program: {e}\n{}", text()),
        }
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("CAPJIT_PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300)
}

fn run_property(cases: u32) -> Stats {
    let stats = RefCell::new(Stats::default());
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&arb_case(), |case| check_case(&case, &BTreeSet::new(), &stats));
    match result {
        Ok(()) => stats.into_inner(),
        Err(TestError::Fail(reason, case)) => panic!("{}", reduce(&case, reason.message())),
        Err(e) => panic!("{e}"),
    }
}

/// Shrinking works on the random stream, which leaves many facts that do not matter.
/// Leave out, one at a time, every fact the same kind of failure does not need, and
/// describe what remains: the failure and the smallest program found.
fn reduce(case: &Case, first: &str) -> String {
    let kind = |msg: &str| msg.split(':').next().unwrap_or("").to_string();
    let want = kind(first);
    let mut message = first.to_string();
    let mut strip = BTreeSet::new();
    let mut case = case.clone();
    // Keep only a failing run.
    let scratch = RefCell::new(Stats::default());
    for run in case.runs.clone() {
        let one = Case {
            runs: vec![run],
            ..case.clone()
        };
        if check_case(&one, &strip, &scratch).is_err() {
            case = one;
            break;
        }
    }
    for v in build(&case.entropy, &strip).with_facts {
        let mut fewer = strip.clone();
        fewer.insert(v);
        if let Err(TestCaseError::Fail(m)) = check_case(&case, &fewer, &scratch) {
            if kind(m.message()) == want {
                strip = fewer;
                message = m.message().to_string();
            }
        }
    }
    format!("{message}\n(facts left out before verification: {strip:?})")
}

fn pct(a: u64, b: u64) -> f64 {
    100.0 * a as f64 / b.max(1) as f64
}

/// Whatever the verifier accepts, its facts hold at run time and its proven accesses
/// stay in bounds.
#[test]
fn accepted_facts_hold_and_proven_accesses_stay_in_bounds() {
    let cases = cases();
    let s = run_property(cases);
    println!(
        "soundness: {} cases with {:.1} facts on average; accepted as generated {:.1}% (with {:.1} facts on average), \
         accepted after leaving out rejected facts {:.1}% ({:.1}% with facts, {:.1} facts kept on average); \
         {} accesses, {:.1}% proven; {} runs: {:?}",
        s.cases,
        s.facts_first as f64 / s.cases.max(1) as f64,
        pct(s.accepted_first, s.cases),
        s.facts_accepted_first as f64 / s.accepted_first.max(1) as f64,
        pct(s.accepted, s.cases),
        pct(s.accepted_with_facts, s.cases),
        s.facts_kept as f64 / s.accepted.max(1) as f64,
        s.accesses,
        pct(s.proven, s.accesses),
        s.runs,
        s.outcomes,
    );
    if cases >= 100 {
        assert!(
            pct(s.accepted_first, s.cases) >= 20.0,
            "too few programs accepted as generated: {s:?}"
        );
        assert!(
            pct(s.accepted_with_facts, s.cases) >= 50.0,
            "too few accepted programs with facts: {s:?}"
        );
        assert!(
            s.proven > 0 && s.proven < s.accesses,
            "no mix of proven and checked accesses: {s:?}"
        );
    }
}

/// The runtime checks are live: run generated programs *without* verifying them, and
/// every kind of false fact (range, lt, mem) gets caught by its check.
#[test]
fn runtime_checks_catch_false_facts() {
    let mut runner = TestRunner::new(Config {
        cases: 1,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = arb_case();
    let mut caught: BTreeMap<&'static str, u64> = BTreeMap::new();
    for _ in 0..400 {
        let case = strategy.new_tree(&mut runner).expect("a case").current();
        let built = build(&case.entropy, &BTreeSet::new());
        for run in &case.runs {
            let limits = Limits {
                fuel: FUEL,
                ..Limits::default()
            };
            let mut inst = Instance::new(built.module.clone(), limits, Box::new(std::io::sink())).expect("links");
            match inst.invoke("d", "f", &args_of(run)) {
                Err(RunError::Trap(t)) if t.code == TrapCode::Unreachable => {
                    let (_, fact) = built.checks[&t.block];
                    let kind = match fact {
                        Fact::Range { .. } => "range",
                        Fact::Lt(_) => "lt",
                        Fact::InMemory { .. } => "mem",
                    };
                    *caught.entry(kind).or_default() += 1;
                }
                Err(RunError::Invalid(e)) | Err(RunError::BadInvoke(e)) => panic!("{e}"),
                _ => {}
            }
        }
    }
    println!("false facts caught by their checks: {caught:?}");
    assert_eq!(caught.len(), 3, "some kind of check never fired: {caught:?}");
}
