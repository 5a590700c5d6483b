//! The `wasm_diff` check on inputs of a fixed pseudo-random sequence: no
//! disagreement, and the generator stays useful (most modules are within the
//! frontend's scope and get called). `cargo test --release -- --nocapture`
//! prints the counts; `WASM_DIFF_CASES=N` runs more.
//!
//! Regression cases (found by the fuzz target, fixed since) go in `REGRESSIONS`
//! as `.wat` text (one per module) with the argument seed and rounds of the
//! crash message.

use capjit_fuzz::wasm_diff::{check, generate, Case, Outcome};

/// A small deterministic byte source (xorshift), so the test needs no dependency.
fn bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn random_modules_agree_on_every_engine() {
    let total: u64 = std::env::var("WASM_DIFF_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let (mut ran, mut unsupported, mut other) = (0u64, 0u64, 0u64);
    let (mut calls, mut wasmi_calls, mut linked) = (0, 0, 0);
    for seed in 0..total {
        let data = bytes(seed, 2048 + (seed as usize % 4) * 1024);
        let Some(case) = generate(&data) else {
            other += 1;
            continue;
        };
        linked += u64::from(case.wasm.len() > 1);
        match check(&case) {
            Ok(Outcome::Ran {
                calls: c,
                wasmi_calls: w,
            }) => {
                ran += 1;
                calls += c;
                wasmi_calls += w;
            }
            Ok(Outcome::Unsupported) => unsupported += 1,
            Ok(_) => other += 1,
            Err(bug) => panic!("seed {seed}: {}\n\n{}", bug.0, capjit_fuzz::wasm_diff::describe(&case)),
        }
    }
    println!(
        "{total} inputs ({linked} of two modules): {ran} ran ({calls} calls, {wasmi_calls} compared with wasmi), {unsupported} unsupported, {other} other"
    );
    assert!(ran * 2 >= total, "only {ran} of {total} modules ran");
    assert!(unsupported * 4 <= total, "{unsupported} of {total} modules unsupported");
    if cfg!(feature = "wasmi") {
        assert!(
            wasmi_calls * 2 >= calls,
            "only {wasmi_calls} of {calls} calls compared with wasmi"
        );
    }
}

/// Modules that once made the engines disagree: (what, `.wat` of modules `a`,
/// `b`, ..., argument seed, rounds).
type Regression = (&'static str, &'static [&'static str], u64, u32);
const REGRESSIONS: &[Regression] = &[];

#[test]
fn regressions() {
    for (what, wats, arg_seed, rounds) in REGRESSIONS {
        let case = Case {
            wasm: wats
                .iter()
                .map(|w| capjit_wasm::to_wasm_binary(w.as_bytes()).expect("valid .wat"))
                .collect(),
            arg_seed: *arg_seed,
            rounds: *rounds,
        };
        if let Err(bug) = check(&case) {
            panic!("{what}: {}", bug.0);
        }
    }
}
