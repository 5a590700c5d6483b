//! Versioning: a specialised copy of a function for small values of one integer
//! entry parameter.
//!
//! The verifier proves an access only against the domain's *initial* memory, and
//! only from facts; an address bounded by a parameter `n` (a loop `i < n`) cannot
//! be proven for every `n`. When assuming `n <= K` would let the bounds pass prove
//! more accesses, the function becomes:
//!
//! ```text
//! block0(params):                      ; new entry
//!   k = iconst K
//!   c = icmp.ule n, k
//!   brif c, blockF(params), block1(params)
//! block1 .. blockN:                    ; the original blocks, in order
//! blockF .. :                          ; a copy of them, fresh value numbers;
//!                                      ; its entry parameter n' gets !range(0, K)
//! ```
//!
//! The verifier refines `n'` by the `icmp` on the edge, and the bounds pass
//! proves the copy's accesses from it. `K` is chosen from what the bounds pass
//! proves under `n <= K`: the bounds 16, 64, 256, ... are tried, the most
//! accesses any of them proves is the goal, and `K` is the largest bound that
//! still reaches it (binary search after the last bound on the ladder that
//! does). The parameter is the one that gains the most accesses.
//!
//! Semantics and fuel: the new entry only compares and branches forward; each
//! copy keeps the relative order of its blocks, so every branch inside it keeps its
//! direction. A call spends the same fuel, computes the same values and traps at
//! the same operations as before, in whichever copy it runs. The cost is code
//! size: the function is twice as large (functions above `MAX_INSTS` are left
//! alone), and the original copy keeps its runtime checks, so static counts of
//! proven accesses rise by at most half of the accesses.

use std::collections::HashMap;

use capjit_ir::{
    Block, BlockCall, BlockId, BlockParam, Const, Def, Fact, Function, Inst, IntCC, NumType, Op, Terminator, Type,
    Value,
};

use crate::bounds;
use crate::range::{max_of, Assumptions, Range};
use crate::util::{self, DomainCx};

/// Largest function (instructions) that is versioned.
const MAX_INSTS: usize = 2000;
/// Smallest useful bound: below it the fast copy would rarely run.
const MIN_BOUND: u64 = 16;
/// Entry parameters tried.
const MAX_CANDIDATES: usize = 4;

/// What the bounds pass proves in a copy of `f`, assuming `assume`.
fn proven_with(cx: &DomainCx, f: &Function, assume: &Assumptions) -> usize {
    let mut g = f.clone();
    bounds::rewrite(cx, &mut g, assume);
    bounds::proven(cx, &g, assume).0
}

/// Specialise `f` if that proves more accesses; returns whether it did.
pub fn run(cx: &DomainCx, f: &mut Function, base: &Assumptions) -> bool {
    let insts: usize = f.blocks.iter().map(|b| b.insts.len()).sum();
    if insts > MAX_INSTS || f.blocks.is_empty() {
        return false;
    }
    let has_access = f.blocks.iter().any(|b| {
        b.insts.iter().any(|i| {
            matches!(
                i.op,
                Op::Load { .. } | Op::Store { .. } | Op::MemoryCopy { .. } | Op::MemoryFill { .. }
            )
        })
    });
    if !has_access || cx.initial_bytes() == 0 || is_versioned(f) {
        return false;
    }
    let baseline = proven_with(cx, f, base);
    let (_, total) = bounds::proven(cx, f, base);
    if baseline == total {
        return false;
    }
    let mut best: Option<(usize, u64, usize)> = None; // (param index, K, gain)
    let ints = f.blocks[0]
        .params
        .iter()
        .enumerate()
        .filter(|(_, p)| p.ty.int_bits().is_some());
    for (k, p) in ints.take(MAX_CANDIDATES) {
        let Some(bits) = p.ty.int_bits() else { continue };
        let assuming = |bound: u64| {
            let mut a = base.clone();
            a.entry.insert(p.value, Range { lo: 0, hi: bound });
            a
        };
        // Restructure once, for the smallest bound (the rewrites are valid for any
        // value of the parameter; a small bound enables the most of them), then
        // count what each bound proves on that shape: one analysis per bound.
        let mut shaped = f.clone();
        bounds::rewrite(cx, &mut shaped, &assuming(MIN_BOUND));
        let eval = |bound: u64| bounds::proven(cx, &shaped, &assuming(bound)).0;
        // What each bound on a ladder proves (small bounds are not always best:
        // a loop that cannot run is not always seen as such by the rules).
        let max = max_of(bits).min(u32::MAX as u64 * 2);
        let mut ladder = Vec::new();
        let mut b = MIN_BOUND;
        while b < max {
            ladder.push((b, eval(b)));
            b = b.saturating_mul(4);
        }
        let Some(top) = ladder.iter().map(|(_, n)| *n).max() else {
            continue;
        };
        if top <= baseline {
            continue;
        }
        // The largest bound that still proves `top`: past the last rung that does,
        // before the next rung.
        let last = ladder.iter().rposition(|(_, n)| *n == top).unwrap_or(0);
        let (mut lo, mut hi) = (ladder[last].0, ladder.get(last + 1).map_or(max, |(b, _)| b - 1));
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if eval(mid) >= top {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        if lo < MIN_BOUND {
            continue;
        }
        let gain = top - baseline;
        if best.is_none_or(|(_, bk, bg)| gain > bg || (gain == bg && lo > bk)) {
            best = Some((k, lo, gain));
        }
    }
    let Some((k, bound, _)) = best else { return false };
    specialise(f, k, bound);
    true
}

/// Whether `f` already starts with a version switch (so optimising an optimised
/// module does not copy the function again).
pub fn is_versioned(f: &Function) -> bool {
    let entry = &f.blocks[0];
    let params: Vec<Value> = entry.params.iter().map(|p| p.value).collect();
    let Terminator::Brif { cond, then, else_ } = &entry.term else {
        return false;
    };
    let is_switch = entry.insts.iter().any(|i| {
        i.results.first().is_some_and(|d| d.value == *cond)
            && matches!(i.op, Op::Icmp { cc: IntCC::Ule, a, .. } if params.contains(&a))
    });
    is_switch && then.args == params && else_.args == params
}

/// Build the versioned function: new entry, original blocks, the copy.
fn specialise(f: &mut Function, k: usize, bound: u64) {
    let n = f.blocks.len() as u32;
    let mut next = util::next_value(f);
    let mut fresh = || {
        let v = Value(next);
        next += 1;
        v
    };
    // The copy: every value renamed.
    let mut rename: HashMap<Value, Value> = HashMap::new();
    for b in &f.blocks {
        for p in &b.params {
            rename.insert(p.value, fresh());
        }
        for i in &b.insts {
            for d in &i.results {
                rename.insert(d.value, fresh());
            }
        }
    }
    let r = |v: Value| rename.get(&v).copied().unwrap_or(v);
    let mut copy: Vec<Block> = f.blocks.clone();
    for b in &mut copy {
        let rf = |fact: &mut Option<Fact>| {
            if let Some(Fact::Lt(m)) = fact {
                *m = r(*m);
            }
        };
        for p in &mut b.params {
            p.value = r(p.value);
            rf(&mut p.fact);
        }
        for i in &mut b.insts {
            util::for_each_operand_mut(&mut i.op, &mut |v| *v = r(*v));
            for d in &mut i.results {
                d.value = r(d.value);
                rf(&mut d.fact);
            }
        }
        util::for_each_term_value_mut(&mut b.term, &mut |v| *v = r(*v));
        b.term.successors_mut().for_each(|t| t.0 += n + 1);
    }
    // The original blocks move up by one.
    for b in &mut f.blocks {
        b.term.successors_mut().for_each(|t| t.0 += 1);
    }
    // The new entry.
    let params: Vec<BlockParam> = f.blocks[0]
        .params
        .iter()
        .map(|p| BlockParam {
            value: fresh(),
            ty: p.ty.clone(),
            fact: None,
        })
        .collect();
    let args: Vec<Value> = params.iter().map(|p| p.value).collect();
    let pv = args[k];
    let (ty, c) = match params[k].ty {
        Type::I32 => (NumType::I32, Const::I32(bound as u32 as i32)),
        _ => (NumType::I64, Const::I64(bound as i64)),
    };
    let (kv, cv) = (fresh(), fresh());
    let entry = Block {
        params,
        insts: vec![
            Inst {
                results: [Def { value: kv, fact: None }].into(),
                op: Op::Const(c),
                span: None,
            },
            Inst {
                results: [Def { value: cv, fact: None }].into(),
                op: Op::Icmp {
                    cc: IntCC::Ule,
                    ty,
                    a: pv,
                    b: kv,
                },
                span: None,
            },
        ],
        term: Terminator::Brif {
            cond: cv,
            then: BlockCall {
                block: BlockId(n + 1),
                args: args.clone(),
            },
            else_: BlockCall {
                block: BlockId(1),
                args,
            },
        },
        term_span: None,
    };
    // The copied entry's parameters are ordinary now; the specialised one is bounded.
    for (i, p) in copy[0].params.iter_mut().enumerate() {
        p.fact = if i == k {
            Some(Fact::Range { lo: 0, hi: bound })
        } else {
            None
        };
    }
    for p in &mut f.blocks[0].params {
        p.fact = None;
    }
    f.blocks.insert(0, entry);
    f.blocks.extend(copy);
}
