//! The optimiser on random valid programs (the generator of
//! `tests/support/gen_valid.rs`): the optimised module must verify, keep every
//! fact it wrote (none dropped by its safety net), and behave exactly like the
//! original in the interpreter — every call's results or trap code, host output,
//! the inter-domain call trace, and each domain's memory, fuel and status. Trap
//! *locations* may differ (instructions move); their codes, domains and functions
//! may not. Every fourth case also runs the optimised module in the JIT, which must
//! agree with the interpreter exactly (its proven accesses run unchecked).
//!
//! `CAPJIT_DIFF_CASES` sets the number of cases (default 1000), `CAPJIT_DIFF_SEED`
//! the seed.

#[path = "support/gen_valid.rs"]
mod gen_valid;

use capjit::ir::exec::RunError;
use capjit::optimizer::{optimize_report, Options};
use capjit::Backend;
use gen_valid::{Case, Outcome};

const DEFAULT_CASES: u64 = 1000;
const DEFAULT_SEED: u64 = 0x0b71_3153_d00d_cafe;

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(s) => {
            let s = s.trim();
            match s.strip_prefix("0x") {
                Some(h) => u64::from_str_radix(h, 16),
                None => s.parse(),
            }
            .unwrap_or_else(|_| panic!("{name} must be a number, not `{s}`"))
        }
        Err(_) => default,
    }
}

/// splitmix64 choices from a seed.
fn seeded(seed: u64) -> impl FnMut(u32) -> u32 {
    let mut s = seed;
    move |n| {
        s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z % n.max(1) as u64) as u32
    }
}

/// An outcome with trap locations reduced to what optimisation must keep.
fn normalised(o: &Outcome) -> String {
    let call = |c: &Result<Vec<capjit::ir::Val>, RunError>| match c {
        Ok(v) => format!("ok {v:?}"),
        Err(RunError::Trap(t)) => format!("trap {} in {}.{}", t.code, t.domain, t.function),
        Err(e) => format!("error {e}"),
    };
    let calls: Vec<String> = o.calls.iter().map(call).collect();
    let faults: Vec<String> = o
        .faults
        .iter()
        .map(|t| format!("{} in {}.{}", t.code, t.domain, t.function))
        .collect();
    let domains: Vec<String> = o
        .domains
        .iter()
        .map(|(n, mem, fuel, status)| {
            let sum = mem.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ *b as u64).wrapping_mul(0x100_0000_01b3)
            });
            format!("{n}: {} bytes hash {sum:x}, fuel {fuel}, {status:?}", mem.len())
        })
        .collect();
    format!(
        "calls: {calls:?}\noutput: {:?}\ndomains: {domains:?}\nfaults: {faults:?}\ntrace: {:?}",
        String::from_utf8_lossy(&o.output),
        o.trace
    )
}

/// Totals over the run, printed at the end.
#[derive(Default, Debug)]
struct Stats {
    changed: u64,
    versioned: u64,
    proven_before: u64,
    proven_after: u64,
    accesses_before: u64,
    accesses_after: u64,
    /// Cases with more accesses checked at run time after optimisation than before.
    more_checked: u64,
}

fn check(case: &Case, stats: &mut Stats) -> Result<(), String> {
    let (module, report) = optimize_report(&case.module, &Options::default());
    stats.changed += (module != case.module) as u64;
    stats.versioned += report.versioned.len() as u64;
    if let (Some(b), Some(a)) = (
        capjit::optimizer::proven_counts(&case.module),
        capjit::optimizer::proven_counts(&module),
    ) {
        stats.proven_before += b.0;
        stats.accesses_before += b.0 + b.1;
        stats.proven_after += a.0;
        stats.accesses_after += a.0 + a.1;
        if a.1 > b.1 {
            stats.more_checked += 1;
            if std::env::var("CAPJIT_OPT_SHOW").is_ok() {
                eprintln!(
                    "more checked ({} > {}):\n{}\n=== optimised:\n{}",
                    a.1,
                    b.1,
                    capjit::ir::print_module(&case.module),
                    capjit::ir::print_module(&module)
                );
            }
        }
    }
    if report.facts_dropped > 0 {
        return Err(format!(
            "{} fact(s) dropped by the safety net: {}",
            report.facts_dropped,
            report.dropped_messages.join("; ")
        ));
    }
    if let Err(e) = capjit::verifier::verify(&module) {
        return Err(format!("the optimised module does not verify: {}", e[0]));
    }
    let opt = Case { module, ..case.clone() };
    let before = gen_valid::run(case, Backend::Interpreter)?;
    let after = gen_valid::run(&opt, Backend::Interpreter)?;
    let (a, b) = (normalised(&before), normalised(&after));
    if a != b {
        return Err(format!("outcomes differ:\noriginal:\n{a}\noptimised:\n{b}"));
    }
    Ok(())
}

/// The optimised module in the JIT against the optimised module in the interpreter.
fn check_jit(case: &Case) -> Result<(), String> {
    let opt = Case {
        module: capjit::optimizer::optimize(&case.module),
        ..case.clone()
    };
    match gen_valid::check(&opt) {
        Ok(_) => Ok(()),
        Err(m) if gen_valid::known_bug(&opt, &m).is_some() => Ok(()),
        Err(m) => Err(format!("JIT and interpreter disagree on the optimised module: {m}")),
    }
}

#[test]
fn optimised_random_programs_behave_exactly_as_the_originals() {
    let cases = env_u64("CAPJIT_DIFF_CASES", DEFAULT_CASES);
    let seed = env_u64("CAPJIT_DIFF_SEED", DEFAULT_SEED);
    let mut failures = Vec::new();
    let mut stats = Stats::default();
    for i in 0..cases {
        let case_seed = seed.wrapping_add(i.wrapping_mul(0x9e37_79b9));
        let case = gen_valid::generate(&mut seeded(case_seed));
        let mut result = check(&case, &mut stats);
        if result.is_ok() && i % 4 == 0 {
            result = check_jit(&case);
        }
        if let Err(e) = result {
            failures.push(format!(
                "case {i} (seed {case_seed:#x}): {e}\n{}",
                gen_valid::case_text(&case, "optimiser mismatch")
            ));
            if failures.len() >= 3 {
                break;
            }
        }
    }
    eprintln!("{cases} cases: {stats:?}");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
