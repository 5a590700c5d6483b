//! Copy propagation: uses of a value that is only a copy of another read the
//! original instead.
//!
//! - `select c, a, b` with a constant `c` is `a` or `b`; `select c, a, a` is `a`.
//!   (`select` never traps, so the instruction can go.)
//! - A block parameter that receives the same value `w` on every incoming edge
//!   (or itself, around a loop) is `w`, provided `w` is defined in a block that
//!   strictly dominates the parameter's block (so `w` is available wherever the
//!   parameter was). The parameter and its arguments are removed. Not when an
//!   argument is compared by the `icmp` deciding its `brif` edge: the verifier
//!   refines the parameter by that comparison, so the copy carries a fact.
//!
//! Parameters of the entry block and of `call_cap` successors are never touched:
//! their values come from outside the function.

use std::collections::HashMap;

use capjit_ir::{Const, Function, Op, Value};

use crate::fold::dedup;
use crate::util::{block_calls, foreign_param_blocks, remove_params, substitute, Cfg, Defs, DomainCx};

/// Run copy propagation over one function; returns whether anything changed.
pub fn run(cx: &DomainCx, f: &mut Function) -> bool {
    let mut changed = false;
    loop {
        let round = selects(f) | params(cx, f);
        if !round {
            break;
        }
        changed = true;
    }
    changed
}

fn selects(f: &mut Function) -> bool {
    let mut consts: HashMap<Value, i32> = HashMap::new();
    for b in &f.blocks {
        for i in &b.insts {
            if let (Op::Const(Const::I32(c)), [d]) = (&i.op, i.results.as_slice()) {
                consts.insert(d.value, *c);
            }
        }
    }
    let mut map = HashMap::new();
    for b in &mut f.blocks {
        b.insts.retain(|inst| {
            let (Op::Select { cond, a, b, .. }, [d]) = (&inst.op, inst.results.as_slice()) else {
                return true;
            };
            let to = match consts.get(cond) {
                Some(0) => *b,
                Some(_) => *a,
                None if a == b => *a,
                None => return true,
            };
            if to == d.value {
                return true;
            }
            map.insert(d.value, to);
            false
        });
    }
    let changed = !map.is_empty();
    substitute(f, &map);
    changed
}

fn params(cx: &DomainCx, f: &mut Function) -> bool {
    let cfg = Cfg::new(f);
    let defs = Defs::new(cx, f);
    let foreign = foreign_param_blocks(f);
    let mut map = HashMap::new();
    let mut dead: Vec<(usize, usize)> = Vec::new();
    for (b, block) in f.blocks.iter().enumerate() {
        if foreign[b] || !cfg.reachable(b) {
            continue;
        }
        for (k, p) in block.params.iter().enumerate() {
            let mut only: Option<Value> = None;
            let mut ok = true;
            for pred in dedup(&cfg.preds[b]) {
                let cond = crate::range::brif_condition(f, &defs, &f.blocks[pred].term);
                for call in block_calls(&f.blocks[pred].term) {
                    if call.block.0 as usize != b {
                        continue;
                    }
                    // An argument the branch condition compares is known better on
                    // this edge than where it was defined: the parameter carries
                    // that knowledge (see `bounds`), so it stays.
                    if let (Some((_, x, y)), Some(a)) = (cond, call.args.get(k)) {
                        if *a == x || *a == y {
                            ok = false;
                        }
                    }
                    match call.args.get(k) {
                        Some(a) if *a == p.value => {}
                        Some(a) if only.is_none() || only == Some(*a) => only = Some(*a),
                        _ => ok = false,
                    }
                }
            }
            let Some(w) = only.filter(|_| ok) else { continue };
            // Chains through other parameters resolve in later rounds.
            if map.contains_key(&w) {
                continue;
            }
            let Some(site) = defs.site.get(&w) else { continue };
            if site.block() != b && cfg.dominates(site.block(), b) {
                map.insert(p.value, w);
                dead.push((b, k));
            }
        }
    }
    if map.is_empty() {
        return false;
    }
    substitute(f, &map);
    let mut by_block: HashMap<usize, Vec<usize>> = HashMap::new();
    for (b, k) in dead {
        by_block.entry(b).or_default().push(k);
    }
    for (b, ks) in by_block {
        remove_params(f, b, &ks);
    }
    true
}
