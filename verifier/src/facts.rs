//! Proof facts: unsigned value ranges derived by local rules, the check of every
//! claimed fact, and the proof that a memory access is in bounds.
//!
//! Invariant protected: whenever a value is defined, every fact claimed for it
//! holds. By induction over execution: a fact on an instruction result follows
//! from its operands' (already holding) facts; a fact on a block parameter follows
//! from the argument on every incoming edge, refined by that edge's branch
//! condition. All arithmetic here is in u64/u128 with explicit width masks, so a
//! range never wraps and an i32 is never read with i64 bounds.

use capjit_ir::{BinOp, Const, ConvOp, Fact, IntCC, Op, UnOp, Value, PAGE_SIZE};

/// An inclusive unsigned range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub lo: u64,
    pub hi: u64,
}

pub fn max_of(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

fn full(bits: u32) -> Range {
    Range {
        lo: 0,
        hi: max_of(bits),
    }
}

/// What the fact rules read of values: each one's claimed fact, width and the
/// constant it is defined as, and the memory's pages. The function pass supplies
/// it; so can a test that wants to know what the verifier will accept.
pub trait Claims {
    fn fact(&self, v: Value) -> Option<Fact>;
    /// Bits of an integer value (64 for any other).
    fn bits(&self, v: Value) -> u32;
    /// The constant `v` is defined as (`iconst`), if it is one, zero-extended.
    fn constant(&self, v: Value) -> Option<u64>;
    /// Pages of the domain's memory: initial and maximum.
    fn pages(&self) -> (u32, u32);
}

/// What the derivation and refinement rules read of operands: a range for each
/// value, the constant a value is defined as, and the memory's pages. The verifier
/// reads claimed facts ([`Claimed`]); the optimiser supplies what it computed.
pub trait Operands {
    fn range(&self, v: Value) -> Range;
    fn constant(&self, v: Value) -> Option<u64>;
    /// Pages of the domain's memory: initial and maximum.
    fn pages(&self) -> (u32, u32);
}

/// Operands as the verifier knows them: from their claimed facts and constants.
pub struct Claimed<'a>(pub &'a dyn Claims);

impl Operands for Claimed<'_> {
    fn range(&self, v: Value) -> Range {
        range_of(self.0, v)
    }

    fn constant(&self, v: Value) -> Option<u64> {
        self.0.constant(v)
    }

    fn pages(&self) -> (u32, u32) {
        self.0.pages()
    }
}

/// Bytes of the memory when the domain starts (it never shrinks while code runs),
/// and at its maximum.
fn initial_memory_bytes(cx: &dyn Claims) -> u64 {
    cx.pages().0 as u64 * PAGE_SIZE
}

fn max_memory_bytes(cx: &dyn Claims) -> u64 {
    cx.pages().1 as u64 * PAGE_SIZE
}

/// What is known of `v` from its own claimed fact (checked separately) or from
/// being a constant; otherwise the whole range of its type.
pub fn range_of(cx: &dyn Claims, v: Value) -> Range {
    let bits = cx.bits(v);
    let max = max_of(bits);
    let known = match cx.fact(v) {
        Some(Fact::Range { lo, hi }) => Some(Range { lo, hi: hi.min(max) }),
        Some(Fact::Lt(n)) => Some(Range {
            lo: 0,
            hi: shallow_hi(cx, n).saturating_sub(1).min(max),
        }),
        Some(Fact::InMemory { size }) => Some(Range {
            lo: 0,
            hi: max_memory_bytes(cx).saturating_sub(size as u64).min(max),
        }),
        None => None,
    };
    known
        // A malformed claim (reported on its own) tells nothing.
        .filter(|r| r.lo <= r.hi)
        .or_else(|| cx.constant(v).map(|c| Range { lo: c, hi: c }))
        .unwrap_or(full(bits))
}

/// Upper bound of `n` without following further `lt` facts (keeps checks local).
fn shallow_hi(cx: &dyn Claims, n: Value) -> u64 {
    match cx.fact(n) {
        Some(Fact::Range { hi, .. }) => hi.min(max_of(cx.bits(n))),
        _ => cx.constant(n).unwrap_or(max_of(cx.bits(n))),
    }
}

pub fn shallow_lo(cx: &dyn Claims, n: Value) -> u64 {
    match cx.fact(n) {
        Some(Fact::Range { lo, .. }) => lo,
        _ => cx.constant(n).unwrap_or(0),
    }
}

fn bounded(lo: u128, hi: u128, bits: u32) -> Range {
    if hi > max_of(bits) as u128 || lo > hi {
        full(bits)
    } else {
        Range {
            lo: lo as u64,
            hi: hi as u64,
        }
    }
}

/// The range an instruction's (single) result is known to lie in.
pub fn derive(cx: &dyn Operands, op: &Op, bits: u32) -> Range {
    let r = |v: Value| cx.range(v);
    match op {
        Op::Const(Const::I32(c)) => Range {
            lo: *c as u32 as u64,
            hi: *c as u32 as u64,
        },
        Op::Const(Const::I64(c)) => Range {
            lo: *c as u64,
            hi: *c as u64,
        },
        Op::Binary { op, a, b, .. } => derive_binary(*op, r(*a), r(*b), cx.constant(*b), bits),
        Op::Unary {
            op: UnOp::Clz | UnOp::Ctz | UnOp::Popcnt,
            ..
        } => Range { lo: 0, hi: bits as u64 },
        Op::Icmp { .. } | Op::Fcmp { .. } => Range { lo: 0, hi: 1 },
        Op::Select { a, b, .. } => {
            let (x, y) = (r(*a), r(*b));
            Range {
                lo: x.lo.min(y.lo),
                hi: x.hi.max(y.hi),
            }
        }
        Op::Convert {
            op: ConvOp::Uextend, a, ..
        } => r(*a),
        Op::Convert {
            op: ConvOp::Sextend, a, ..
        } if r(*a).hi < 1 << 31 => r(*a),
        Op::Convert {
            op: ConvOp::Wrap, a, ..
        } if r(*a).hi <= u32::MAX as u64 => r(*a),
        Op::Load { access, .. } | Op::RegionLoad { access, .. } if !access.signed && access.bytes < 8 => {
            let narrow = max_of(access.bytes as u32 * 8);
            Range {
                lo: 0,
                hi: narrow.min(max_of(bits)),
            }
        }
        Op::MemorySize => {
            let (initial, maximum) = cx.pages();
            Range {
                lo: initial as u64,
                hi: maximum as u64,
            }
        }
        _ => full(bits),
    }
}

/// The range of a binary operation's result from its operands' (`b_const`: `b`'s
/// value when it is a constant).
pub fn derive_binary(op: BinOp, a: Range, b: Range, b_const: Option<u64>, bits: u32) -> Range {
    let (alo, ahi, blo, bhi) = (a.lo as u128, a.hi as u128, b.lo as u128, b.hi as u128);
    match op {
        BinOp::Iadd => bounded(alo + blo, ahi + bhi, bits),
        BinOp::Isub if alo >= bhi => bounded(alo - bhi, ahi - blo, bits),
        BinOp::Imul => bounded(alo * blo, ahi * bhi, bits),
        BinOp::Band => Range {
            lo: 0,
            hi: a.hi.min(b.hi),
        },
        BinOp::Bor | BinOp::Bxor => {
            let top = a.hi.max(b.hi);
            let hi = if top == 0 { 0 } else { max_of(64 - top.leading_zeros()) };
            Range { lo: 0, hi }
        }
        BinOp::Ushr => match b_const {
            Some(k) => {
                let k = (k % bits as u64) as u32;
                Range {
                    lo: a.lo >> k,
                    hi: a.hi >> k,
                }
            }
            None => Range { lo: 0, hi: a.hi },
        },
        BinOp::Ishl => match b_const {
            Some(k) => {
                let k = (k % bits as u64) as u32;
                bounded(alo << k, ahi << k, bits)
            }
            None => full(bits),
        },
        // Division by zero traps, so a result exists only when the divisor is >= 1.
        BinOp::Udiv => Range {
            lo: if b.lo > 0 { a.lo / b.hi.max(1) } else { 0 },
            hi: a.hi / b.lo.max(1),
        },
        BinOp::Urem => Range {
            lo: 0,
            hi: a.hi.min(b.hi.saturating_sub(1)),
        },
        _ => full(bits),
    }
}

fn within(claim: (u64, u64), r: Range) -> bool {
    claim.0 <= r.lo && r.hi <= claim.1
}

/// Check a fact claimed for the result `v` of `op`. `dominates(n)` says whether the
/// definition of `n` comes before `v`'s on every path.
pub fn check_result_fact(
    cx: &dyn Claims,
    v: Value,
    op: &Op,
    fact: Fact,
    dominates: &dyn Fn(Value) -> bool,
) -> Result<(), String> {
    let bits = cx.bits(v);
    let derived = derive(&Claimed(cx), op, bits);
    match fact {
        Fact::Range { lo, hi } => {
            if within((lo, hi), derived) {
                Ok(())
            } else {
                Err(format!("the operands only give [{}, {}]", derived.lo, derived.hi))
            }
        }
        Fact::Lt(n) => {
            if !dominates(n) {
                return Err(format!("{n} is not defined before {v} on every path"));
            }
            let by_urem = matches!(op, Op::Binary { op: BinOp::Urem, b, .. } if *b == n);
            if by_urem || derived.hi < shallow_lo(cx, n) {
                Ok(())
            } else {
                Err(format!(
                    "{v} may reach {} but {n} may be as low as {}",
                    derived.hi,
                    shallow_lo(cx, n)
                ))
            }
        }
        Fact::InMemory { size } => {
            if fits_memory(derived.hi, size as u64, cx) {
                return Ok(());
            }
            if let Op::Binary {
                op: BinOp::Iadd, a, b, ..
            } = op
            {
                for (base, add) in [(*a, *b), (*b, *a)] {
                    if let Some(Fact::InMemory { size: m }) = cx.fact(base) {
                        if m as u128 >= size as u128 + range_of(cx, add).hi as u128 {
                            return Ok(());
                        }
                    }
                }
            }
            Err(format!(
                "{v} may reach {} and nothing shows {v} + {size} within memory",
                derived.hi
            ))
        }
    }
}

fn fits_memory(hi: u64, extra: u64, cx: &dyn Claims) -> bool {
    hi as u128 + extra as u128 <= initial_memory_bytes(cx) as u128
}

/// The `icmp` deciding a `brif`, as seen from one of its edges.
#[derive(Clone, Copy, Debug)]
pub struct EdgeCondition {
    pub cc: IntCC,
    pub a: Value,
    pub b: Value,
    /// Whether this edge is taken when the condition is true.
    pub taken_when_true: bool,
}

/// What the relation `a CC b` that holds on the edge tells about `arg` (one of
/// `a`, `b`): its range, narrowed, and the other value when `arg < other` follows.
pub fn refine(cx: &dyn Operands, arg: Value, cond: &EdgeCondition) -> (Range, Option<Value>) {
    let mut r = cx.range(arg);
    let cc = if cond.taken_when_true {
        cond.cc
    } else {
        cond.cc.inverse()
    };
    // Normalise to `arg CC other`.
    let (cc, other) = if cond.a == arg {
        (cc, cond.b)
    } else if cond.b == arg {
        (cc.swap(), cond.a)
    } else {
        return (r, None);
    };
    let o = cx.range(other);
    let mut lt = None;
    match cc {
        IntCC::Ult => {
            r.hi = r.hi.min(o.hi.saturating_sub(1));
            lt = Some(other);
        }
        IntCC::Ule => r.hi = r.hi.min(o.hi),
        IntCC::Ugt => r.lo = r.lo.max(o.lo.saturating_add(1)),
        IntCC::Uge => r.lo = r.lo.max(o.lo),
        IntCC::Eq => {
            r.lo = r.lo.max(o.lo);
            r.hi = r.hi.min(o.hi);
        }
        _ => {}
    }
    if r.lo > r.hi {
        // The edge cannot be taken; keep the unrefined range, which is still sound.
        r = cx.range(arg);
    }
    (r, lt)
}

/// Check a block parameter's fact against the argument passed on one edge.
/// `defined_before_target(n)` says whether `n` is defined on every path before the
/// target block is entered.
pub fn check_edge_fact(
    cx: &dyn Claims,
    arg: Value,
    fact: Fact,
    cond: Option<&EdgeCondition>,
    defined_before_target: &dyn Fn(Value) -> bool,
) -> Result<(), String> {
    let (r, lt) = match cond {
        Some(c) => refine(&Claimed(cx), arg, c),
        None => (range_of(cx, arg), None),
    };
    match fact {
        Fact::Range { lo, hi } => {
            if within((lo, hi), r) {
                Ok(())
            } else {
                Err(format!(
                    "the argument {arg} is only known to lie in [{}, {}]",
                    r.lo, r.hi
                ))
            }
        }
        Fact::Lt(n) => {
            if !defined_before_target(n) {
                return Err(format!("{n} is not defined before the block on every path"));
            }
            if lt == Some(n) || cx.fact(arg) == Some(Fact::Lt(n)) || r.hi < shallow_lo(cx, n) {
                Ok(())
            } else {
                Err(format!("nothing on this edge shows {arg} < {n}"))
            }
        }
        Fact::InMemory { size } => {
            let inherited = matches!(cx.fact(arg), Some(Fact::InMemory { size: m }) if m >= size);
            if inherited || fits_memory(r.hi, size as u64, cx) {
                Ok(())
            } else {
                Err(format!("the argument {arg} may reach {} and exceed memory", r.hi))
            }
        }
    }
}

/// Whether `[addr + offset, addr + offset + len)` is within memory for every value
/// `addr` may hold, where `len` is at most `len_hi`.
pub fn access_in_bounds(cx: &dyn Claims, addr: Value, offset: u64, len_hi: u64) -> bool {
    if let Some(Fact::InMemory { size }) = cx.fact(addr) {
        if size as u64 >= offset.saturating_add(len_hi) {
            return true;
        }
    }
    let r = range_of(cx, addr);
    r.hi as u128 + offset as u128 + len_hi as u128 <= initial_memory_bytes(cx) as u128
}

/// The largest value `v` may hold.
pub fn upper_bound(cx: &dyn Claims, v: Value) -> u64 {
    range_of(cx, v).hi
}
