//! Generated capjit modules for benchmarks, deterministic for a given seed.
//!
//! A module has two domains, `alpha` and `beta`, each importing the other's exported
//! `serve` function. Functions are a few hundred instructions long, built from a
//! realistic mix of segments: integer and float arithmetic, loads and stores (some
//! proven in bounds by facts or constant addresses, some left to runtime checks),
//! diamonds whose join block takes parameters with `!range` facts checked on every
//! edge (refined by the deciding `icmp`), counted loops with a `!range` induction
//! variable, `br_table`, direct calls, and `call_cap` into the other domain with its
//! `ok` and `fail` successors. Every module is meant to verify; callers assert it.

use capjit_ir::*;
use capjit_testgen::{edge, Choices, FnBuilder, Mark, Reuse, Scoping};

/// Signature of every generated function, and of the `serve` import.
fn sig() -> Signature {
    Signature {
        params: vec![Type::I32, Type::I64],
        results: vec![Type::I64],
    }
}

/// Average length of a generated function, in instructions (terminators included).
const FUNCTION_LEN: usize = 300;
/// Bytes of memory each domain starts with (one page); every proof targets these.
const MEMORY: u64 = PAGE_SIZE;

/// The benches' source of choices: xorshift64* from a seed.
pub use capjit_testgen::XorShift as Rng;

/// Instructions of a module as the verifier counts them: instructions plus terminators.
pub fn instruction_count(m: &Module) -> usize {
    m.domains
        .iter()
        .flat_map(|d| &d.functions)
        .flat_map(|f| &f.blocks)
        .map(|b| b.insts.len() + 1)
        .sum()
}

/// A two-domain module of about `target` instructions (at least two functions).
pub fn module(target: usize, seed: u64) -> Module {
    let mut rng = Rng::new(seed);
    let nfuncs = target.div_ceil(FUNCTION_LEN).max(2);
    let names = ["alpha", "beta"];
    let per_domain = [nfuncs.div_ceil(2), nfuncs / 2];
    let mut left = target;
    let mut domains = Vec::new();
    for (d, name) in names.iter().enumerate() {
        let mut functions = Vec::new();
        for i in 0..per_domain[d] {
            let remaining_funcs = per_domain[d] - i + if d == 0 { per_domain[1] } else { 0 };
            let even = left / remaining_funcs;
            // Lengths vary by +-40% around the even share of what is left.
            let jitter = rng.below((even * 4 / 5 + 1) as u32) as usize;
            let budget = if remaining_funcs == 1 {
                even
            } else {
                even * 3 / 5 + jitter
            };
            let f = function(&mut rng, i, per_domain[d] as u32, budget.max(24));
            left = left.saturating_sub(f.blocks.iter().map(|b| b.insts.len() + 1).sum());
            functions.push(f);
        }
        domains.push(Domain {
            name: name.to_string(),
            memory: Memory {
                initial: 1,
                maximum: 16,
            },
            inbox: None,
            data: vec![],
            passive_data: vec![],
            imports: vec![Import {
                name: "peer".into(),
                source: ImportSource::Export {
                    domain: names[1 - d].into(),
                    function: "serve".into(),
                },
                sig: sig(),
                span: None,
            }],
            globals: Vec::new(),
            tables: Vec::new(),
            passive_elems: Vec::new(),
            functions,
            span: None,
        });
    }
    Module { domains }
}

fn function(rng: &mut Rng, index: usize, nfuncs: u32, budget: usize) -> Function {
    let mut b = Builder {
        rng,
        b: FnBuilder::new(Scoping::Offered),
        nfuncs,
    };
    let (entry, params) = b.block(&[(Type::I32, None), (Type::I64, None)]);
    b.b.switch_to(entry);
    b.b.offer(params[0], Type::I32);
    b.b.offer(params[1], Type::I64);
    let f = b.inst(Op::Convert {
        op: ConvOp::SintToF,
        from: NumType::I32,
        to: NumType::F64,
        a: params[0],
    });
    b.b.offer(f, Type::F64);
    // Leave room for the longest segment and the return.
    while b.b.len() + 40 < budget {
        match b.rng.below(100) {
            0..=29 => b.arith_some(6, 10),
            30..=54 => b.memory_some(3, 6),
            55..=69 => b.diamond(),
            70..=79 => b.counted_loop(),
            80..=87 => b.call(),
            88..=95 => b.call_cap(),
            _ => b.br_table(),
        }
    }
    let ret = b.pick64();
    b.term(Terminator::Return(vec![ret]));
    let name = if index == 0 {
        "serve".into()
    } else {
        format!("f{index}")
    };
    b.b.finish(name, index == 0, sig())
}

struct Builder<'r> {
    rng: &'r mut Rng,
    /// The body; its scope holds what the segments offer (blocks are entered in
    /// the order they are created, so the layout is that order).
    b: FnBuilder,
    nfuncs: u32,
}

/// An operand: one of the latest eight values of its type.
const RECENT: Reuse = Reuse {
    make_pct: 0,
    recent_pct: 100,
    window: 8,
};

fn range(lo: u64, hi: u64) -> Option<Fact> {
    Some(Fact::Range { lo, hi })
}

fn access(ty: NumType, bytes: u8) -> MemAccess {
    MemAccess {
        ty,
        bytes,
        signed: false,
    }
}

impl Builder<'_> {
    /// Uniform in `0..n` (`n` > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.rng.below(n as u32) as u64
    }

    /// A new block with the given parameters; does not switch to it.
    fn block(&mut self, params: &[(Type, Option<Fact>)]) -> (usize, Vec<Value>) {
        self.b.block_with_facts(params)
    }

    fn switch(&mut self, block: usize) {
        self.b.switch_to(block);
    }

    fn inst_fact(&mut self, op: Op, fact: Option<Fact>) -> Value {
        self.b.emit_hidden(op, fact)
    }

    fn inst(&mut self, op: Op) -> Value {
        self.inst_fact(op, None)
    }

    fn effect(&mut self, op: Op) {
        self.b.emit(op, &[], None);
    }

    fn term(&mut self, t: Terminator) {
        self.b.terminate(t);
    }

    fn iconst32(&mut self, c: u32) -> Value {
        self.inst(Op::Const(Const::I32(c as i32)))
    }

    fn binary(&mut self, op: BinOp, ty: NumType, a: Value, b: Value, fact: Option<Fact>) -> Value {
        self.inst_fact(Op::Binary { op, ty, a, b }, fact)
    }

    fn pick(&mut self, ty: Type) -> Value {
        let latest = self.b.latest(&ty, RECENT.window as usize);
        RECENT
            .pick(self.rng, &latest)
            .unwrap_or_else(|| panic!("generator bug: no {ty} in scope"))
    }

    fn pick32(&mut self) -> Value {
        self.pick(Type::I32)
    }

    fn pick64(&mut self) -> Value {
        self.pick(Type::I64)
    }

    fn pickf(&mut self) -> Value {
        self.pick(Type::F64)
    }

    fn mark(&self) -> Mark {
        self.b.mark()
    }

    fn restore(&mut self, mark: Mark) {
        self.b.restore(mark);
    }

    fn offer32(&mut self, v: Value) {
        self.b.offer(v, Type::I32);
    }

    fn offer64(&mut self, v: Value) {
        self.b.offer(v, Type::I64);
    }

    /// `min` plus up to `spread - 1` arithmetic instructions or groups.
    fn arith_some(&mut self, min: usize, spread: u64) {
        let n = min + self.below(spread) as usize;
        self.arith(n);
    }

    fn memory_some(&mut self, min: usize, spread: u64) {
        let n = min + self.below(spread) as usize;
        self.memory(n);
    }

    /// Straight-line integer and float arithmetic, comparisons, selects, conversions.
    fn arith(&mut self, n: usize) {
        // `capjit_testgen::ops::INT_BINOPS` but those that may trap (division)
        // and `rotr`: the mix of ordinary code.
        const INT_OPS: [BinOp; 10] = [
            BinOp::Iadd,
            BinOp::Isub,
            BinOp::Imul,
            BinOp::Band,
            BinOp::Bor,
            BinOp::Bxor,
            BinOp::Ishl,
            BinOp::Ushr,
            BinOp::Sshr,
            BinOp::Rotl,
        ];
        for _ in 0..n {
            let op = INT_OPS[self.below(INT_OPS.len() as u64) as usize];
            match self.below(10) {
                0..=2 => {
                    let (a, b) = (self.pick32(), self.pick32());
                    let v = self.binary(op, NumType::I32, a, b, None);
                    self.offer32(v);
                }
                3..=5 => {
                    let (a, b) = (self.pick64(), self.pick64());
                    let v = self.binary(op, NumType::I64, a, b, None);
                    self.offer64(v);
                }
                6 => {
                    // A masked value with its range, or a remainder below its divisor.
                    let x = self.pick32();
                    let k = 1 + self.below(1000) as u32;
                    let kv = self.iconst32(k);
                    let v = if self.rng.chance(50) {
                        self.binary(BinOp::Band, NumType::I32, x, kv, range(0, k as u64))
                    } else {
                        self.binary(BinOp::Urem, NumType::I32, x, kv, Some(Fact::Lt(kv)))
                    };
                    self.offer32(v);
                }
                7 => {
                    let (a, b) = (self.pick64(), self.pick64());
                    let c = self.inst(Op::Icmp {
                        cc: IntCC::Slt,
                        ty: NumType::I64,
                        a,
                        b,
                    });
                    let v = self.inst(Op::Select {
                        ty: Type::I64,
                        cond: c,
                        a,
                        b,
                    });
                    self.offer32(c);
                    self.offer64(v);
                }
                8 => {
                    let x = self.pick32();
                    let v = self.inst(Op::Convert {
                        op: ConvOp::Uextend,
                        from: NumType::I32,
                        to: NumType::I64,
                        a: x,
                    });
                    self.offer64(v);
                }
                _ => {
                    let (a, b) = (self.pickf(), self.pickf());
                    let fop = [BinOp::Fadd, BinOp::Fmul, BinOp::Fsub][self.below(3) as usize];
                    let v = self.binary(fop, NumType::F64, a, b, None);
                    let i = self.inst(Op::Convert {
                        op: ConvOp::FtoSintSat,
                        from: NumType::F64,
                        to: NumType::I64,
                        a: v,
                    });
                    self.b.offer(v, Type::F64);
                    self.offer64(i);
                }
            }
        }
    }

    fn load(&mut self, ty: NumType, bytes: u8, addr: Value, offset: u32, fact: Option<Fact>) -> Value {
        let access = access(ty, bytes);
        self.inst_fact(Op::Load { access, addr, offset }, fact)
    }

    fn store(&mut self, ty: NumType, bytes: u8, value: Value, addr: Value, offset: u32) {
        let access = access(ty, bytes);
        self.effect(Op::Store {
            access,
            value,
            addr,
            offset,
        });
    }

    /// Loads and stores: proven by a constant address, a masked address with a
    /// `!range` fact, a `!mem` fact, a narrow load's range; or left to runtime checks.
    fn memory(&mut self, n: usize) {
        for _ in 0..n {
            match self.below(7) {
                0 => {
                    let c = 8 * self.below(8000) as u32;
                    let a = self.iconst32(c);
                    let v = self.load(NumType::I64, 8, a, 0, None);
                    self.offer64(v);
                }
                1 => {
                    let m = self.iconst32(4095);
                    let x = self.pick32();
                    let a = self.binary(BinOp::Band, NumType::I32, x, m, range(0, 4095));
                    let v = self.load(NumType::I32, 4, a, 8192, None);
                    self.offer32(v);
                }
                2 => {
                    let m = self.iconst32(0x3ff8);
                    let x = self.pick32();
                    let a = self.binary(BinOp::Band, NumType::I32, x, m, Some(Fact::InMemory { size: 8 }));
                    let four = self.iconst32(4);
                    let b = self.binary(BinOp::Iadd, NumType::I32, a, four, Some(Fact::InMemory { size: 4 }));
                    let v = self.pick64();
                    self.store(NumType::I64, 8, v, a, 0);
                    let w = self.load(NumType::I32, 4, b, 0, None);
                    self.offer32(w);
                }
                3 => {
                    let c = self.below(60000) as u32;
                    let a = self.iconst32(c);
                    let byte = self.load(NumType::I32, 1, a, 0, range(0, 255));
                    let v = self.load(NumType::I32, 4, byte, 1024, None);
                    self.offer32(byte);
                    self.offer32(v);
                }
                4 => {
                    let a = self.pick32();
                    let v = self.load(NumType::I64, 8, a, 16, None);
                    self.offer64(v);
                }
                5 => {
                    let (a, v) = (self.pick32(), self.pick32());
                    self.store(NumType::I32, 4, v, a, 0);
                }
                _ => {
                    let dst = self.iconst32(32768);
                    let len = self.iconst32(64);
                    let byte = self.pick32();
                    self.effect(Op::MemoryFill { dst, byte, len });
                }
            }
        }
    }

    /// `x < K` decides a diamond; the taken arm knows `x` in `[0, K-1]` and loads
    /// through it unchecked; the join block's `!range(0, 255)` is checked on both edges.
    fn diamond(&mut self) {
        let x = self.pick32();
        let k = 16 + self.below(4000);
        let kv = self.iconst32(k as u32);
        let c = self.inst(Op::Icmp {
            cc: IntCC::Ult,
            ty: NumType::I32,
            a: x,
            b: kv,
        });
        let (then, tp) = self.block(&[(Type::I32, range(0, k - 1))]);
        let (else_, _) = self.block(&[]);
        let (join, jp) = self.block(&[(Type::I32, range(0, 255)), (Type::I64, None)]);
        self.term(Terminator::Brif {
            cond: c,
            then: edge(then, vec![x]),
            else_: edge(else_, vec![]),
        });

        let mark = self.mark();
        self.switch(then);
        self.offer32(tp[0]);
        let v = self.load(NumType::I32, 4, tp[0], 1024, None);
        let m = self.iconst32(255);
        let y = self.binary(BinOp::Band, NumType::I32, tp[0], m, range(0, 255));
        self.offer32(v);
        self.arith_some(2, 4);
        let w = self.pick64();
        self.term(Terminator::Jump(edge(join, vec![y, w])));
        self.restore(mark);

        self.switch(else_);
        let c = self.below(256) as u32;
        let z = self.iconst32(c);
        self.arith_some(2, 4);
        let w = self.pick64();
        self.term(Terminator::Jump(edge(join, vec![z, w])));
        self.restore(mark);

        self.switch(join);
        self.offer32(jp[0]);
        self.offer64(jp[1]);
    }

    /// `for i in 0..N`: the header's `!range(0, N)` is checked on entry and back
    /// edge, the body's `!range(0, N-1)` on the `icmp.ult` edge; the body reads and
    /// writes `8 * i + base` without a runtime check.
    fn counted_loop(&mut self) {
        let n = 16 + self.below(1008);
        let base = 8 * self.below((MEMORY - 8 * n) / 8) as u32;
        let zero = self.iconst32(0);
        let acc0 = self.pick64();
        let (header, hp) = self.block(&[(Type::I32, range(0, n)), (Type::I64, None)]);
        self.term(Terminator::Jump(edge(header, vec![zero, acc0])));

        self.switch(header);
        let nv = self.iconst32(n as u32);
        let c = self.inst(Op::Icmp {
            cc: IntCC::Ult,
            ty: NumType::I32,
            a: hp[0],
            b: nv,
        });
        let (body, bp) = self.block(&[(Type::I32, range(0, n - 1))]);
        let (exit, _) = self.block(&[]);
        self.term(Terminator::Brif {
            cond: c,
            then: edge(body, vec![hp[0]]),
            else_: edge(exit, vec![]),
        });

        let mark = self.mark();
        self.switch(body);
        let three = self.iconst32(3);
        let off = self.binary(BinOp::Ishl, NumType::I32, bp[0], three, range(0, (n - 1) * 8));
        let v = self.load(NumType::I64, 8, off, base, None);
        let acc = self.binary(BinOp::Iadd, NumType::I64, hp[1], v, None);
        self.offer64(acc);
        self.arith_some(0, 4);
        let acc = self.pick64();
        self.store(NumType::I64, 8, acc, off, base);
        let one = self.iconst32(1);
        let next = self.binary(BinOp::Iadd, NumType::I32, bp[0], one, range(1, n));
        self.term(Terminator::Jump(edge(header, vec![next, acc])));
        self.restore(mark);

        self.switch(exit);
        self.offer32(hp[0]);
        self.offer64(hp[1]);
    }

    fn call(&mut self) {
        let func = self.below(self.nfuncs as u64) as u32;
        let args = vec![self.pick32(), self.pick64()];
        let v = self.inst(Op::Call { func, args });
        self.offer64(v);
    }

    /// An inter-domain call to the other domain's `serve`; failure gives a default.
    fn call_cap(&mut self) {
        let cap = self.inst(Op::CapGet { import: 0 });
        let args = vec![self.pick32(), self.pick64()];
        let (ok, okp, fail, code) = self.b.call_cap(cap, args, &[Type::I64]);
        let (join, jp) = self.block(&[(Type::I64, None)]);

        self.switch(ok);
        let x = self.pick64();
        let r = self.binary(BinOp::Iadd, NumType::I64, okp[0], x, None);
        self.term(Terminator::Jump(edge(join, vec![r])));

        self.switch(fail);
        let e = self.inst(Op::Convert {
            op: ConvOp::Uextend,
            from: NumType::I32,
            to: NumType::I64,
            a: code,
        });
        self.term(Terminator::Jump(edge(join, vec![e])));

        self.switch(join);
        self.offer64(jp[0]);
    }

    /// A four-way `br_table` on a masked index; the join's `!range(0, 300)` is
    /// checked on each of the four edges.
    fn br_table(&mut self) {
        let x = self.pick32();
        let m = self.iconst32(3);
        let index = self.binary(BinOp::Band, NumType::I32, x, m, range(0, 3));
        let arms: Vec<usize> = (0..4).map(|_| self.block(&[]).0).collect();
        let (join, jp) = self.block(&[(Type::I32, range(0, 300)), (Type::I64, None)]);
        self.term(Terminator::BrTable {
            index,
            default: edge(arms[0], vec![]),
            targets: arms[1..].iter().map(|a| edge(*a, vec![])).collect(),
        });
        let mark = self.mark();
        for (k, arm) in arms.into_iter().enumerate() {
            self.switch(arm);
            let c = self.iconst32(k as u32 * 100);
            self.arith_some(1, 3);
            let w = self.pick64();
            self.term(Terminator::Jump(edge(join, vec![c, w])));
            self.restore(mark);
        }
        self.switch(join);
        self.offer32(jp[0]);
        self.offer64(jp[1]);
    }
}
