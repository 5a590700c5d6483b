//! UNTRUSTED. capjit's optimiser: IR-to-IR passes over `ir::Module` that make code
//! simpler and attach proof facts so that the verifier can prove memory accesses
//! in bounds (the translator then leaves their runtime checks out).
//!
//! Nothing here is trusted. Every module this crate returns goes through
//! `capjit_verifier::verify` again before it runs; a wrong fact is a verification
//! error, and the caller falls back to the unoptimised module
//! (`capjit::optimize_and_verify`). No trusted crate depends on this one.
//!
//! Passes (one module each; `docs/optimizer.md` has the details):
//! - [`fold`]: constant folding and propagation with the interpreter's arithmetic,
//!   branch folding;
//! - [`copyprop`]: copy propagation (`select` on a constant, parameters that
//!   always receive the same value);
//! - [`cse`]: common subexpressions of pure operations, over the dominator tree;
//! - [`dce`]: dead instructions and dead block parameters;
//! - [`version`]: a specialised copy of a function for small values of one entry
//!   parameter, where the accesses can be proven;
//! - [`bounds`]: restructuring for the verifier's rules and `!range` facts.
//!
//! Every pass preserves what the program computes, for every input: results, trap
//! codes, memory, host output and fuel. Blocks are only removed when unreachable
//! and only inserted next to their single predecessor (or as a versioned copy
//! after all others), keeping the order of all others, so every branch keeps its
//! direction and fuel, spent at backward branches, is spent exactly as before.
//!
//! Before returning, [`optimize_with`] asks the verifier about the facts it wrote
//! and drops any it does not accept (`Report::facts_dropped` counts them; a
//! correct analysis drops none). Facts already in the input are kept when they
//! still verify.

pub mod bounds;
pub mod copyprop;
pub mod cse;
pub mod dce;
pub mod fold;
pub mod range;
pub mod util;
pub mod version;

use std::collections::HashSet;

use capjit_ir::{Fact, Function, Module, Value};
use capjit_verifier::ErrorKind;

use crate::range::Assumptions;
use crate::util::DomainCx;

/// Which passes run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub fold: bool,
    pub copy_prop: bool,
    pub cse: bool,
    pub dce: bool,
    /// Specialise functions for small values of an entry parameter.
    pub version: bool,
    /// Bounds-check elimination: restructuring and `!range` facts.
    pub bounds: bool,
    /// Drop facts the verifier does not accept before returning.
    pub prune_facts: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            fold: true,
            copy_prop: true,
            cse: true,
            dce: true,
            version: true,
            bounds: true,
            prune_facts: true,
        }
    }
}

impl Options {
    /// No pass at all (the module comes back unchanged).
    pub fn none() -> Options {
        Options {
            fold: false,
            copy_prop: false,
            cse: false,
            dce: false,
            version: false,
            bounds: false,
            prune_facts: false,
        }
    }
}

/// What the optimiser did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Functions specialised by [`version`].
    pub versioned: Vec<String>,
    /// Facts the verifier did not accept and that were removed.
    pub facts_dropped: usize,
    /// The verifier's messages for those facts (the first few).
    pub dropped_messages: Vec<String>,
}

/// Optimise with every pass.
pub fn optimize(m: &Module) -> Module {
    optimize_with(m, &Options::default())
}

/// Optimise with the chosen passes.
pub fn optimize_with(m: &Module, opts: &Options) -> Module {
    optimize_report(m, opts).0
}

/// Largest function (instructions) the bounds rewrites run on.
const MAX_REWRITE_INSTS: usize = 5000;

fn instructions(f: &Function) -> usize {
    f.blocks.iter().map(|b| b.insts.len() + 1).sum()
}

/// Rounds of the scalar passes (each round runs all of them).
const MAX_SCALAR_ROUNDS: usize = 8;

/// Optimise and say what happened.
pub fn optimize_report(m: &Module, opts: &Options) -> (Module, Report) {
    let mut out = m.clone();
    let mut report = Report::default();
    // Facts of a module the verifier accepted hold at run time, so the analysis may
    // build on them; otherwise it ignores them.
    let trusted = capjit_verifier::verify(m).is_ok();
    let assume = Assumptions {
        trust_facts: trusted,
        ..Assumptions::default()
    };
    for d in &mut out.domains {
        let cx = DomainCx::new(d);
        for f in &mut d.functions {
            if f.blocks.is_empty() || !well_formed(f) {
                continue;
            }
            scalar(&cx, f, opts);
            if opts.version && trusted && version::run(&cx, f, &assume) {
                report.versioned.push(format!("{}.{}", d.name, f.name));
                scalar(&cx, f, opts);
            }
            if opts.bounds {
                // The rewrites search the function for each candidate: only for
                // functions of a reasonable size. Facts are written for all.
                if instructions(f) <= MAX_REWRITE_INSTS {
                    bounds::rewrite(&cx, f, &assume);
                    scalar(&cx, f, opts);
                }
                bounds::attach_facts(&cx, f, &assume);
            }
        }
    }
    if opts.prune_facts {
        prune(&mut out, &mut report);
    }
    (out, report)
}

/// The scalar passes until nothing changes.
fn scalar(cx: &DomainCx, f: &mut Function, opts: &Options) {
    for _ in 0..MAX_SCALAR_ROUNDS {
        let mut changed = false;
        if opts.fold {
            changed |= fold::run(f);
        }
        if opts.copy_prop {
            changed |= copyprop::run(cx, f);
        }
        if opts.cse {
            changed |= cse::run(f);
        }
        if opts.dce {
            changed |= dce::run(cx, f);
        }
        if !changed {
            break;
        }
    }
}

/// Branch targets in range, block arguments matching parameter counts and value
/// numbers below the verifier's limit: the passes assume this much (the verifier
/// checks it too; a function that fails it is left as it is).
fn well_formed(f: &Function) -> bool {
    let n = f.blocks.len();
    util::next_value(f) <= capjit_verifier::limits::MAX_VALUE_INDEX
        && f.blocks.iter().all(|b| {
            b.term.successors().all(|s| (s.0 as usize) < n && s.0 != 0)
                && util::block_calls(&b.term)
                    .iter()
                    .all(|c| c.args.len() == f.blocks[c.block.0 as usize].params.len())
        })
}

/// Most verification rounds spent dropping facts.
const MAX_PRUNE_ROUNDS: usize = 16;

/// Drop the facts the verifier rejects, until it accepts the module or only other
/// errors are left. Dropping a fact can make another unprovable, hence the rounds.
fn prune(m: &mut Module, report: &mut Report) {
    for _ in 0..MAX_PRUNE_ROUNDS {
        let Err(errors) = capjit_verifier::verify(m) else {
            return;
        };
        let mut bad: Vec<(String, Option<String>, Value)> = Vec::new();
        for e in &errors {
            let value = match &e.kind {
                ErrorKind::FactNotProven { value, .. }
                | ErrorKind::FactMalformed { value, .. }
                | ErrorKind::FactOnWrongType { value, .. } => *value,
                _ => continue,
            };
            if report.dropped_messages.len() < 8 {
                report.dropped_messages.push(e.to_string());
            }
            bad.push((e.location.domain.clone(), e.location.function.clone(), value));
        }
        if bad.is_empty() {
            return;
        }
        for d in &mut m.domains {
            for f in &mut d.functions {
                let vals: HashSet<Value> = bad
                    .iter()
                    .filter(|(dn, fname, _)| *dn == d.name && fname.as_deref() == Some(f.name.as_str()))
                    .map(|(_, _, v)| *v)
                    .collect();
                if !vals.is_empty() {
                    report.facts_dropped += drop_facts(f, &vals);
                }
            }
        }
    }
}

fn drop_facts(f: &mut Function, vals: &HashSet<Value>) -> usize {
    let mut n = 0;
    let mut clear = |fact: &mut Option<Fact>, v: Value| {
        if fact.is_some() && vals.contains(&v) {
            *fact = None;
            n += 1;
        }
    };
    for b in &mut f.blocks {
        for p in &mut b.params {
            clear(&mut p.fact, p.value);
        }
        for i in &mut b.insts {
            for d in &mut i.results {
                clear(&mut d.fact, d.value);
            }
        }
    }
    n
}

/// Memory accesses proven in bounds and checked at run time, as the verifier
/// counts them (`None` when the module does not verify).
pub fn proven_counts(m: &Module) -> Option<(u64, u64)> {
    capjit_verifier::verify(m)
        .ok()
        .map(|v| (v.counts().accesses_proven, v.counts().accesses_checked))
}
