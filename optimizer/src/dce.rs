//! Dead code elimination.
//!
//! A value is live when something observable needs it: an instruction with an
//! effect or a possible trap (stores, calls, memory and region operations,
//! divisions that may divide by zero, trapping conversions, loads), a terminator
//! (conditions, returned values, `call_cap` operands), an argument passed to a live
//! block parameter, an operand of a live instruction, or the value an `lt` fact of
//! a kept value names. Liveness flows backwards through block arguments, so
//! parameters that only feed themselves around a loop are dead.
//!
//! Removed: instructions that cannot trap and have no effect whose results are all
//! dead, and dead parameters of ordinary blocks together with their arguments.
//! Everything that may trap stays, so traps happen exactly as before. Parameters of
//! the entry block and of `call_cap` successors stay (their shape is fixed by
//! signatures). Blocks are never removed here.

use std::collections::{HashMap, HashSet};

use capjit_ir::{Fact, Function, Value};

use crate::util::{
    block_calls, for_each_term_value_mut, foreign_param_blocks, is_removable, operands, remove_params, Defs, DomainCx,
    Site,
};

fn mark(v: Value, live: &mut HashSet<Value>, work: &mut Vec<Value>) {
    if live.insert(v) {
        work.push(v);
    }
}

/// Run dead code elimination over one function; returns whether anything changed.
pub fn run(cx: &DomainCx, f: &mut Function) -> bool {
    let defs = Defs::new(cx, f);
    let consts = |v: Value| defs.const_of(f, v);
    let foreign = foreign_param_blocks(f);
    // Which instructions must stay whatever their results.
    let pinned: Vec<Vec<bool>> = f
        .blocks
        .iter()
        .map(|b| {
            b.insts
                .iter()
                .map(|i| {
                    let bits = i.results.first().and_then(|d| defs.bits(d.value)).unwrap_or(64);
                    !is_removable(&i.op, consts, bits)
                })
                .collect()
        })
        .collect();
    // Incoming arguments of every parameter: (block, index) -> args.
    let mut incoming: HashMap<(usize, usize), Vec<Value>> = HashMap::new();
    for block in &f.blocks {
        for call in block_calls(&block.term) {
            for (k, a) in call.args.iter().enumerate() {
                incoming.entry((call.block.0 as usize, k)).or_default().push(*a);
            }
        }
    }
    let mut live: HashSet<Value> = HashSet::new();
    let mut work: Vec<Value> = Vec::new();
    for (b, block) in f.blocks.iter().enumerate() {
        for p in &block.params {
            if foreign[b] {
                mark(p.value, &mut live, &mut work);
            }
        }
        for (i, inst) in block.insts.iter().enumerate() {
            if pinned[b][i] {
                for v in operands(&inst.op) {
                    mark(v, &mut live, &mut work);
                }
                for d in &inst.results {
                    mark(d.value, &mut live, &mut work);
                }
            }
        }
        // Terminator operands other than block arguments.
        let mut term = block.term.clone();
        for call in crate::util::block_calls_mut(&mut term) {
            call.args.clear();
        }
        for_each_term_value_mut(&mut term, &mut |v| mark(*v, &mut live, &mut work));
    }
    let facts = crate::range::all_facts(f);
    while let Some(v) = work.pop() {
        if let Some(Fact::Lt(n)) = facts.get(&v) {
            mark(*n, &mut live, &mut work);
        }
        match defs.site.get(&v) {
            Some(Site::Inst { block, inst, .. }) => {
                for o in operands(&f.blocks[*block].insts[*inst].op) {
                    mark(o, &mut live, &mut work);
                }
                // An instruction stays whole: all its results are kept.
                for d in &f.blocks[*block].insts[*inst].results {
                    mark(d.value, &mut live, &mut work);
                }
            }
            Some(Site::Param { block, index }) => {
                if let Some(args) = incoming.get(&(*block, *index)) {
                    for a in args {
                        mark(*a, &mut live, &mut work);
                    }
                }
            }
            None => {}
        }
    }
    let mut changed = false;
    for (b, block) in f.blocks.iter_mut().enumerate() {
        let before = block.insts.len();
        let pins = &pinned[b];
        let mut i = 0;
        block.insts.retain(|inst| {
            let keep = pins[i] || inst.results.iter().any(|d| live.contains(&d.value));
            i += 1;
            keep
        });
        changed |= block.insts.len() != before;
    }
    let dead_params: Vec<(usize, Vec<usize>)> = f
        .blocks
        .iter()
        .enumerate()
        .filter(|(b, _)| !foreign[*b])
        .map(|(b, block)| {
            let ks: Vec<usize> = block
                .params
                .iter()
                .enumerate()
                .filter(|(_, p)| !live.contains(&p.value))
                .map(|(k, _)| k)
                .collect();
            (b, ks)
        })
        .filter(|(_, ks)| !ks.is_empty())
        .collect();
    for (b, ks) in dead_params {
        remove_params(f, b, &ks);
        changed = true;
    }
    changed
}
