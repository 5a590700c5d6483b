//! Common subexpression elimination over the dominator tree (which includes the
//! case of one block).
//!
//! Two instructions with the same operation on the same operands compute the same
//! value when the operation reads nothing but its operands: arithmetic,
//! comparisons, `select`, conversions, constants, `cap.get`, `buf.make`,
//! `buf.ptr`, `buf.len` (`util::is_value_op`). The later one is removed and its
//! uses read the earlier one, which dominates it. Some of these operations trap
//! (division, trapping float-to-int conversions); that is fine: the earlier,
//! identical operation ran first, so if it trapped the later one was never reached,
//! and if it did not, the later one would not have either. Loads, `memory.size`,
//! region operations and calls read state that may change and are never merged.
//!
//! Operands of commutative operations are put in a canonical order first, so
//! `iadd a, b` and `iadd b, a` are the same expression. A range or `mem` fact of a
//! removed duplicate moves to the kept instruction when that one has none (both
//! derive the same range from the same operands).

use std::collections::HashMap;

use capjit_ir::{BinOp, Fact, Function, IntCC, Op, Value};

use crate::util::{is_value_op, substitute, Cfg};

fn canonical(op: &Op) -> Op {
    let mut op = op.clone();
    match &mut op {
        Op::Binary { op: bop, a, b, .. }
            if matches!(bop, BinOp::Iadd | BinOp::Imul | BinOp::Band | BinOp::Bor | BinOp::Bxor) && a.0 > b.0 =>
        {
            std::mem::swap(a, b);
        }
        Op::Icmp { cc, a, b, .. } if matches!(cc, IntCC::Eq | IntCC::Ne) && a.0 > b.0 => {
            std::mem::swap(a, b);
        }
        _ => {}
    }
    op
}

/// Run CSE over one function; returns whether anything changed.
pub fn run(f: &mut Function) -> bool {
    let cfg = Cfg::new(f);
    let children = cfg.dom_children();
    let mut table: HashMap<String, (Value, usize, usize)> = HashMap::new();
    let mut map: HashMap<Value, Value> = HashMap::new();
    let mut removed: Vec<(usize, usize)> = Vec::new();
    let mut fact_moves: Vec<((usize, usize), Fact)> = Vec::new();
    // Iterative preorder walk of the dominator tree with scoped table entries.
    enum Step {
        Enter(usize),
        Leave(Vec<String>),
    }
    let mut stack = if f.blocks.is_empty() {
        vec![]
    } else {
        vec![Step::Enter(0)]
    };
    while let Some(step) = stack.pop() {
        match step {
            Step::Leave(keys) => {
                for k in keys {
                    table.remove(&k);
                }
            }
            Step::Enter(b) => {
                let mut added = Vec::new();
                for (i, inst) in f.blocks[b].insts.iter().enumerate() {
                    let [d] = inst.results.as_slice() else { continue };
                    if !is_value_op(&inst.op) {
                        continue;
                    }
                    // Operands as already renamed by earlier merges.
                    let mut op = inst.op.clone();
                    crate::util::for_each_operand_mut(&mut op, &mut |v| {
                        if let Some(w) = map.get(v) {
                            *v = *w;
                        }
                    });
                    let key = format!("{:?}", canonical(&op));
                    match table.get(&key) {
                        Some(&(v, kb, ki)) => {
                            map.insert(d.value, v);
                            removed.push((b, i));
                            if let Some(fact @ (Fact::Range { .. } | Fact::InMemory { .. })) = d.fact {
                                fact_moves.push(((kb, ki), fact));
                            }
                        }
                        None => {
                            table.insert(key.clone(), (d.value, b, i));
                            added.push(key);
                        }
                    }
                }
                stack.push(Step::Leave(added));
                for &c in children[b].iter().rev() {
                    stack.push(Step::Enter(c));
                }
            }
        }
    }
    if map.is_empty() {
        return false;
    }
    for ((b, i), fact) in fact_moves {
        let d = &mut f.blocks[b].insts[i].results[0];
        if d.fact.is_none() {
            d.fact = Some(fact);
        }
    }
    removed.sort_unstable();
    for &(b, i) in removed.iter().rev() {
        f.blocks[b].insts.remove(i);
    }
    substitute(f, &map);
    true
}
