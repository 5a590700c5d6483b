//! Constant folding and propagation.
//!
//! - An arithmetic, comparison or conversion instruction whose operands are all
//!   constants becomes a constant, computed by the reference interpreter's own
//!   arithmetic (`capjit_ir::interp::arith`), so the folded value is exactly what
//!   the program computes (NaN canonicalisation included). An operation that would
//!   trap for these constants (division by zero, `MIN / -1`, a float-to-int
//!   conversion out of range) is left alone: it must still trap when reached.
//! - Algebraic identities that need no constant on both sides and can never trap
//!   (`x + 0`, `x * 1`, `x & -1`, `x << 0`, `x / 1`, ...) forward `x`; `x * 0` and
//!   `x & 0` become `0`. Float operations are only folded on constants (no
//!   identity holds for every NaN and signed zero).
//! - A block parameter that receives equal constants on every incoming edge (or
//!   itself, around a loop) becomes that constant.
//! - A `brif` on a constant condition, a `brif` whose two targets are the same
//!   call, and a `br_table` on a constant index become a `jump` to the block that
//!   would have been taken; blocks no longer reachable are removed, keeping the
//!   order of the others, so every remaining branch keeps its direction and fuel is
//!   spent exactly as before.

use std::collections::HashMap;

use capjit_ir::interp::arith;
use capjit_ir::{BinOp, Const, Def, Function, Inst, NumType, Op, Terminator, Val, Value};

use crate::util::{block_calls, foreign_param_blocks, remove_params, remove_unreachable_blocks, substitute, Cfg};

fn const_val(c: Const) -> Val {
    match c {
        Const::I32(x) => Val::I32(x),
        Const::I64(x) => Val::I64(x),
        Const::F32(x) => Val::F32(x),
        Const::F64(x) => Val::F64(x),
    }
}

fn val_const(v: Val) -> Option<Const> {
    match v {
        Val::I32(x) => Some(Const::I32(x)),
        Val::I64(x) => Some(Const::I64(x)),
        Val::F32(x) => Some(Const::F32(x)),
        Val::F64(x) => Some(Const::F64(x)),
        _ => None,
    }
}

/// Integer constant as unsigned bits of its width.
fn int_bits_of(c: Const) -> Option<(u64, u32)> {
    match c {
        Const::I32(x) => Some((x as u32 as u64, 32)),
        Const::I64(x) => Some((x as u64, 64)),
        _ => None,
    }
}

fn consts_of(f: &Function) -> HashMap<Value, Const> {
    let mut m = HashMap::new();
    for b in &f.blocks {
        for i in &b.insts {
            if let (Op::Const(c), [d]) = (&i.op, i.results.as_slice()) {
                m.insert(d.value, *c);
            }
        }
    }
    m
}

/// Evaluate an operation on constant operands; `None` when an operand is not a
/// constant, the operation is not a pure computation, or it would trap.
fn evaluate(op: &Op, consts: &HashMap<Value, Const>) -> Option<Const> {
    let c = |v: &Value| consts.get(v).copied().map(const_val);
    let r = match op {
        Op::Binary { op, ty, a, b } => arith::binary(*op, *ty, c(a)?, c(b)?),
        Op::Unary { op, ty, a } => arith::unary(*op, *ty, c(a)?),
        Op::Icmp { cc, ty, a, b } => arith::icmp(*cc, *ty, c(a)?, c(b)?),
        Op::Fcmp { cc, ty, a, b } => arith::fcmp(*cc, *ty, c(a)?, c(b)?),
        Op::Convert { op, from, to, a } => arith::convert(*op, *from, *to, c(a)?),
        _ => return None,
    };
    r.ok().and_then(val_const)
}

enum Simplified {
    /// The result is this existing value.
    Forward(Value),
    /// The result is this constant.
    Constant(Const),
}

/// Identities of integer operations with one constant operand.
fn simplify(op: &Op, consts: &HashMap<Value, Const>) -> Option<Simplified> {
    let Op::Binary { op, ty, a, b } = op else {
        return None;
    };
    let bits = match ty {
        NumType::I32 => 32u32,
        NumType::I64 => 64,
        _ => return None,
    };
    let ones = crate::range::max_of(bits);
    let zero = || match ty {
        NumType::I32 => Const::I32(0),
        _ => Const::I64(0),
    };
    let k = |v: &Value| consts.get(v).copied().and_then(int_bits_of).map(|(x, _)| x);
    let (ka, kb) = (k(a), k(b));
    use BinOp::*;
    use Simplified::*;
    match (op, ka, kb) {
        (Iadd | Bor | Bxor, _, Some(0)) => Some(Forward(*a)),
        (Iadd | Bor | Bxor, Some(0), _) => Some(Forward(*b)),
        (Isub, _, Some(0)) => Some(Forward(*a)),
        (Imul, _, Some(1)) | (Udiv | Sdiv, _, Some(1)) => Some(Forward(*a)),
        (Imul, Some(1), _) => Some(Forward(*b)),
        (Imul | Band, _, Some(0)) | (Imul | Band, Some(0), _) => Some(Constant(zero())),
        (Band, _, Some(x)) if x == ones => Some(Forward(*a)),
        (Band, Some(x), _) if x == ones => Some(Forward(*b)),
        (Ishl | Ushr | Sshr | Rotl | Rotr, _, Some(x)) if x % bits as u64 == 0 => Some(Forward(*a)),
        (Urem, _, Some(1)) => Some(Constant(zero())),
        (Isub | Bxor, _, _) if a == b => Some(Constant(zero())),
        (Band | Bor, _, _) if a == b => Some(Forward(*a)),
        _ => None,
    }
}

/// Run constant folding over one function; returns whether anything changed.
pub fn run(f: &mut Function) -> bool {
    let mut changed = false;
    // Fold instructions until nothing more folds (constants feed constants).
    loop {
        let consts = consts_of(f);
        let mut forward: HashMap<Value, Value> = HashMap::new();
        let mut round = false;
        for b in &mut f.blocks {
            let mut forwarded = Vec::new();
            for (i, inst) in b.insts.iter_mut().enumerate() {
                let [d] = inst.results.as_slice() else { continue };
                if matches!(inst.op, Op::Const(_)) {
                    continue;
                }
                if let Some(k) = evaluate(&inst.op, &consts) {
                    inst.op = Op::Const(k);
                    round = true;
                    continue;
                }
                match simplify(&inst.op, &consts) {
                    Some(Simplified::Constant(k)) => {
                        inst.op = Op::Const(k);
                        round = true;
                    }
                    Some(Simplified::Forward(v)) if v != d.value => {
                        // None of the identities can trap: the instruction goes.
                        forward.insert(d.value, v);
                        forwarded.push(i);
                        round = true;
                    }
                    _ => {}
                }
            }
            for i in forwarded.into_iter().rev() {
                b.insts.remove(i);
            }
        }
        if !forward.is_empty() {
            substitute(f, &forward);
        }
        round |= const_params(f);
        round |= fold_branches(f);
        if !round {
            break;
        }
        changed = true;
    }
    changed
}

/// Parameters that receive the same constant on every edge become that constant.
fn const_params(f: &mut Function) -> bool {
    let consts = consts_of(f);
    let foreign = foreign_param_blocks(f);
    let cfg = Cfg::new(f);
    let mut next = crate::util::next_value(f);
    let mut map = HashMap::new();
    let mut inserts: Vec<(usize, Inst)> = Vec::new();
    for (b, block) in f.blocks.iter().enumerate() {
        if foreign[b] || !cfg.reachable(b) {
            continue;
        }
        for (k, p) in block.params.iter().enumerate() {
            let mut value: Option<Const> = None;
            let mut ok = true;
            let mut any = false;
            for pred in dedup(&cfg.preds[b]) {
                for call in block_calls(&f.blocks[pred].term) {
                    if call.block.0 as usize != b {
                        continue;
                    }
                    let Some(arg) = call.args.get(k) else {
                        ok = false;
                        continue;
                    };
                    if *arg == p.value {
                        continue;
                    }
                    any = true;
                    match (consts.get(arg), value) {
                        (Some(c), None) => value = Some(*c),
                        (Some(c), Some(v)) if *c == v => {}
                        _ => ok = false,
                    }
                }
            }
            if let (true, true, Some(c)) = (ok, any, value) {
                let v = Value(next);
                next += 1;
                map.insert(p.value, v);
                inserts.push((
                    b,
                    Inst {
                        results: [Def { value: v, fact: None }].into(),
                        op: Op::Const(c),
                        span: None,
                    },
                ));
            }
        }
    }
    if map.is_empty() {
        return false;
    }
    let mut dead: HashMap<usize, Vec<usize>> = HashMap::new();
    for (b, inst) in inserts {
        f.blocks[b].insts.insert(0, inst);
    }
    for (b, block) in f.blocks.iter().enumerate() {
        for (k, p) in block.params.iter().enumerate() {
            if map.contains_key(&p.value) {
                dead.entry(b).or_default().push(k);
            }
        }
    }
    substitute(f, &map);
    for (b, ks) in dead {
        remove_params(f, b, &ks);
    }
    true
}

pub(crate) fn dedup(xs: &[usize]) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::with_capacity(xs.len());
    for &x in xs {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

/// Branches decided by constants become jumps; unreachable blocks go.
fn fold_branches(f: &mut Function) -> bool {
    let consts = consts_of(f);
    let mut changed = false;
    for b in &mut f.blocks {
        let new = match &b.term {
            Terminator::Brif { cond, then, else_ } => match consts.get(cond) {
                Some(Const::I32(c)) => Some(if *c != 0 { then.clone() } else { else_.clone() }),
                _ if then == else_ => Some(then.clone()),
                _ => None,
            },
            Terminator::BrTable {
                index,
                default,
                targets,
            } => match consts.get(index) {
                Some(Const::I32(i)) => Some(targets.get(*i as u32 as usize).unwrap_or(default).clone()),
                _ => None,
            },
            _ => None,
        };
        if let Some(call) = new {
            b.term = Terminator::Jump(call);
            changed = true;
        }
    }
    if changed {
        remove_unreachable_blocks(f);
    }
    changed
}
