//! Differential testing: the JIT must agree with the reference interpreter on
//! every valid program — results bit for bit (NaN canonicalisation is part of the
//! semantics), traps with their exact location, host output, every domain's
//! memory, fuel and status, the faulted domains and the inter-domain call trace.
//!
//! Programs come from the generator in `tests/support/gen_valid.rs`, driven by
//! proptest through a vector of choices (which shrinks well). The run is
//! deterministic: `CAPJIT_DIFF_CASES` sets the number of cases (default 1000),
//! `CAPJIT_DIFF_SEED` the seed (a number, or `random`).
//!
//! Mismatches found once are kept as `.cir` files in `tests/differential/` and run
//! by the named tests at the end of this file.

#[path = "support/gen_valid.rs"]
mod gen_valid;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use capjit::ir::print::opcode_text;
use capjit::ir::{Module, Terminator};
use gen_valid::Case;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config as PtConfig, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

const DEFAULT_CASES: u32 = 1000;
const DEFAULT_SEED: u64 = 0x00c0_ffee_cafe_d00d;
/// Most choices one case draws; programs that need more get zeros (the simplest
/// option) for the rest.
const MAX_CHOICES: usize = 3000;

fn env_cases() -> u32 {
    match std::env::var("CAPJIT_DIFF_CASES") {
        Ok(s) => s
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("CAPJIT_DIFF_CASES must be a number, not `{s}`")),
        Err(_) => DEFAULT_CASES,
    }
}

fn env_seed() -> u64 {
    match std::env::var("CAPJIT_DIFF_SEED") {
        Ok(s) if s.trim() == "random" => {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            t ^ (std::process::id() as u64) << 32
        }
        Ok(s) => {
            let s = s.trim();
            let parsed = match s.strip_prefix("0x") {
                Some(h) => u64::from_str_radix(h, 16),
                None => s.parse(),
            };
            parsed.unwrap_or_else(|_| panic!("CAPJIT_DIFF_SEED must be a number or `random`, not `{s}`"))
        }
        Err(_) => DEFAULT_SEED,
    }
}

/// The program a vector of choices makes: choices are used in order, then zeros.
fn case_of(choices: &[u32]) -> Case {
    let mut it = choices.iter();
    gen_valid::generate(&mut |n| it.next().map_or(0, |x| x % n.max(1)))
}

/// A choice source from a seed (splitmix64), for tests that only generate.
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

/// A random choice vector like the proptest strategy's, from a seed.
fn random_choices(next: &mut impl FnMut(u32) -> u32) -> Vec<u32> {
    let n = next(MAX_CHOICES as u32) as usize;
    (0..n).map(|_| next(u32::MAX)).collect()
}

/// Whether `choices` still make a case that fails the way `kind` says (a mismatch
/// kind, or the name of a known bug).
fn fails_as(choices: &[u32], kind: &str) -> bool {
    let case = case_of(choices);
    match gen_valid::check(&case) {
        Ok(_) => false,
        Err(m) => gen_valid::known_bug(&case, &m).unwrap_or(&m.kind) == kind,
    }
}

/// Shrink failing choices while they keep failing the same way: delete chunks,
/// then make single choices smaller (0 is the simplest option everywhere).
fn minimise(mut choices: Vec<u32>, kind: &str, budget: Duration) -> Vec<u32> {
    let started = Instant::now();
    let left = || started.elapsed() < budget;
    let mut improved = true;
    while improved && left() {
        improved = false;
        for k in [512, 128, 32, 8, 2, 1] {
            let mut i = 0;
            while i < choices.len() && left() {
                let mut c = choices.clone();
                c.drain(i..(i + k).min(choices.len()));
                if fails_as(&c, kind) {
                    choices = c;
                    improved = true;
                } else {
                    i += k;
                }
            }
        }
        for i in 0..choices.len() {
            if !left() {
                break;
            }
            let x = choices[i];
            for smaller in [0, x / 2, x.saturating_sub(1)] {
                if smaller >= x {
                    continue;
                }
                let mut c = choices.clone();
                c[i] = smaller;
                if fails_as(&c, kind) {
                    choices = c;
                    improved = true;
                    break;
                }
            }
        }
    }
    while choices.last() == Some(&0) {
        choices.pop();
    }
    choices
}

fn report(choices: &[u32], kind: &str) -> String {
    let case = case_of(choices);
    let mismatch = match gen_valid::check(&case) {
        Ok(_) => "(no longer fails)".to_string(),
        Err(m) => m.to_string(),
    };
    format!(
        "{mismatch}\n\nAs tests/differential/NAME.cir (and a named test):\n\n{}",
        gen_valid::case_text(&case, &format!("differential regression: {kind}"))
    )
}

#[test]
fn jit_agrees_with_interpreter() {
    let cases = env_cases();
    let seed = env_seed();
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = PtConfig {
        cases,
        failure_persistence: None,
        max_shrink_iters: 500,
        max_shrink_time: 60_000,
        ..PtConfig::default()
    };
    let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes));
    let started = Instant::now();
    let stats: RefCell<BTreeMap<String, u32>> = RefCell::default();
    let result = runner.run(&vec(any::<u32>(), 0..MAX_CHOICES), |choices| {
        let case = case_of(&choices);
        let mut stats = stats.borrow_mut();
        let outcome = match gen_valid::check(&case) {
            Ok(outcome) => outcome,
            Err(m) => match gen_valid::known_bug(&case, &m) {
                Some(bug) => {
                    *stats.entry(format!("known bug, tolerated: {bug}")).or_default() += 1;
                    return Ok(());
                }
                None => return Err(TestCaseError::fail(m.kind)),
            },
        };
        let kind = match &outcome.calls[0] {
            Ok(_) => "returned".to_string(),
            Err(capjit::ir::exec::RunError::Trap(t)) => format!("trapped: {}", t.code),
            Err(e) => format!("error: {e}"),
        };
        *stats.entry(kind).or_default() += 1;
        if outcome.domains.len() > 1 {
            *stats.entry("(two domains)".into()).or_default() += 1;
        }
        if !outcome.trace.is_empty() {
            *stats.entry("(made inter-domain or host calls)".into()).or_default() += 1;
        }
        if !outcome.faults.is_empty() {
            *stats.entry("(some domain faulted)".into()).or_default() += 1;
        }
        let codes: BTreeSet<String> = outcome
            .trace
            .iter()
            .filter_map(|e| e.outcome.as_ref().err())
            .map(|c| format!("(a call_cap failed with {c})"))
            .collect();
        for c in codes {
            *stats.entry(c).or_default() += 1;
        }
        if !outcome.output.is_empty() {
            *stats.entry("(printed)".into()).or_default() += 1;
        }
        Ok(())
    });
    let elapsed = started.elapsed();
    eprintln!(
        "differential: {cases} cases, seed {seed:#x}, {:.1} s",
        elapsed.as_secs_f64()
    );
    for (k, n) in stats.borrow().iter() {
        eprintln!("  {k}: {n}");
    }
    match result {
        Ok(()) => {}
        Err(TestError::Fail(kind, choices)) => {
            let kind = kind.message().to_string();
            let choices = minimise(choices, &kind, Duration::from_secs(120));
            panic!(
                "the JIT and the interpreter disagree (seed {seed:#x}, minimised): {}",
                report(&choices, &kind)
            );
        }
        Err(TestError::Abort(reason)) => panic!("differential test aborted: {reason}"),
    }
}

/// A tool more than a test: run many cases without stopping at the first
/// mismatch, group mismatches by kind (known bugs by name) and print a minimised
/// program for each. `cargo test --test differential survey -- --ignored --nocapture`
/// (same `CAPJIT_DIFF_CASES` and `CAPJIT_DIFF_SEED` as the main test).
#[test]
#[ignore = "a bug-hunting tool; run it by hand"]
fn survey() {
    let cases = env_cases();
    let seed = env_seed();
    let mut next = seeded(seed);
    let mut found: BTreeMap<String, (u32, Vec<u32>)> = BTreeMap::new();
    let started = Instant::now();
    for _ in 0..cases {
        let choices = random_choices(&mut next);
        let case = case_of(&choices);
        if let Err(m) = gen_valid::check(&case) {
            let kind = gen_valid::known_bug(&case, &m).map_or(m.kind.clone(), str::to_string);
            let e = found.entry(kind).or_insert((0, choices));
            e.0 += 1;
        }
    }
    eprintln!(
        "survey: {cases} cases, seed {seed:#x}, {:.1} s, {} kinds of mismatch",
        started.elapsed().as_secs_f64(),
        found.len()
    );
    for (kind, (n, choices)) in &found {
        let small = minimise(choices.clone(), kind, Duration::from_secs(90));
        eprintln!("\n==== {n} case(s): {kind}\n{}", report(&small, kind));
    }
}

/// Every instruction and terminator the IR has, as `opcode_text` prints them.
fn expected_opcodes() -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    let mut add = |s: String| {
        all.insert(s);
    };
    for t in ["i32", "i64"] {
        add(format!("iconst.{t}"));
        for op in [
            "iadd", "isub", "imul", "sdiv", "udiv", "srem", "urem", "band", "bor", "bxor", "ishl", "ushr", "sshr",
            "rotl", "rotr", "clz", "ctz", "popcnt", "sext8", "sext16",
        ] {
            add(format!("{op}.{t}"));
        }
        for cc in ["eq", "ne", "slt", "sle", "sgt", "sge", "ult", "ule", "ugt", "uge"] {
            add(format!("icmp.{cc}.{t}"));
        }
    }
    add("sext32.i64".into());
    for t in ["f32", "f64"] {
        add(format!("fconst.{t}"));
        for op in [
            "fadd",
            "fsub",
            "fmul",
            "fdiv",
            "fmin",
            "fmax",
            "fcopysign",
            "fneg",
            "fabs",
            "fsqrt",
            "fceil",
            "ffloor",
            "ftrunc",
            "fnearest",
        ] {
            add(format!("{op}.{t}"));
        }
        for cc in ["eq", "ne", "lt", "le", "gt", "ge"] {
            add(format!("fcmp.{cc}.{t}"));
        }
        for i in ["i32", "i64"] {
            for op in ["fcvt_to_sint", "fcvt_to_uint", "fcvt_to_sint_sat", "fcvt_to_uint_sat"] {
                add(format!("{op}.{i}.{t}"));
            }
            for op in ["fcvt_from_sint", "fcvt_from_uint"] {
                add(format!("{op}.{t}.{i}"));
            }
        }
    }
    for s in [
        "wrap.i32.i64",
        "uextend.i64.i32",
        "sextend.i64.i32",
        "fpromote.f64.f32",
        "fdemote.f32.f64",
        "bitcast.f32.i32",
        "bitcast.i32.f32",
        "bitcast.f64.i64",
        "bitcast.i64.f64",
    ] {
        add(s.into());
    }
    for t in ["i32", "i64", "f32", "f64", "buf", "region", "funcref"] {
        add(format!("select.{t}"));
    }
    for (t, narrow) in [
        ("i32", &["8u", "8s", "16u", "16s"][..]),
        ("i64", &["8u", "8s", "16u", "16s", "32u", "32s"][..]),
    ] {
        for n in narrow {
            add(format!("load{n}.{t}"));
            add(format!("region.load{n}.{t}"));
        }
    }
    for (t, narrow) in [("i32", &["8", "16"][..]), ("i64", &["8", "16", "32"][..])] {
        for n in narrow {
            add(format!("store{n}.{t}"));
            add(format!("region.store{n}.{t}"));
        }
    }
    for t in ["i32", "i64", "f32", "f64"] {
        add(format!("load.{t}"));
        add(format!("store.{t}"));
        add(format!("region.load.{t}"));
        add(format!("region.store.{t}"));
    }
    for s in [
        "memory.size",
        "memory.grow",
        "memory.copy",
        "memory.fill",
        "ref.null",
        "ref.is_null",
        "ref.func",
        "table.get",
        "table.set",
        "table.size",
        "table.grow",
        "table.fill",
        "table.copy",
        "table.init",
        "elem.drop",
        "call",
        "call_indirect",
        "global.get",
        "global.set",
        "cap.get",
        "buf.make",
        "buf.ptr",
        "buf.len",
        "region.new",
        "region.len",
        "region.read",
        "region.write",
        "region.free",
        "jump",
        "brif",
        "br_table",
        "return",
        "call_cap",
        "trap",
        "trap v",
    ] {
        add(s.into());
    }
    all
}

fn terminator_name(t: &Terminator) -> &'static str {
    match t {
        Terminator::Jump(_) => "jump",
        Terminator::Brif { .. } => "brif",
        Terminator::BrTable { .. } => "br_table",
        Terminator::Return(_) => "return",
        Terminator::CallCap { .. } => "call_cap",
        Terminator::Trap => "trap",
        Terminator::TrapWith(_) => "trap v",
    }
}

fn opcodes_of(m: &Module, into: &mut BTreeSet<String>) {
    for d in &m.domains {
        for f in &d.functions {
            for b in &f.blocks {
                for i in &b.insts {
                    into.insert(opcode_text(&i.op));
                }
                into.insert(terminator_name(&b.term).into());
            }
        }
    }
}

/// The generator only makes programs the verifier accepts (`generate` asserts
/// it), they survive printing and parsing, and together they use every
/// instruction of the IR at every type.
#[test]
fn generator_makes_valid_programs_covering_the_ir() {
    let mut seen = BTreeSet::new();
    let mut extra = seeded(env_seed());
    let mut insts = 0usize;
    let started = Instant::now();
    for _ in 0..1000 {
        let case = gen_valid::generate(&mut extra);
        opcodes_of(&case.module, &mut seen);
        insts += case
            .module
            .domains
            .iter()
            .flat_map(|d| &d.functions)
            .flat_map(|f| &f.blocks)
            .map(|b| b.insts.len() + 1)
            .sum::<usize>();
        let text = gen_valid::case_text(&case, "round trip");
        let back = gen_valid::parse_case(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(back.args, case.args);
        assert_eq!(back.limits, case.limits);
        assert_eq!(back.between, case.between);
        assert_eq!(
            capjit::ir::print_module(&back.module),
            capjit::ir::print_module(&case.module),
            "printing and parsing changes the program"
        );
    }
    eprintln!(
        "generated 1000 programs, {insts} instructions, in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let missing: Vec<String> = expected_opcodes().difference(&seen).cloned().collect();
    assert!(missing.is_empty(), "the generator never makes: {missing:?}");
}

/// A source that always answers 0 makes the smallest program, which runs.
#[test]
fn the_smallest_program_runs_the_same() {
    let case = gen_valid::generate(&mut |_| 0);
    let outcome = gen_valid::check(&case).unwrap_or_else(|d| panic!("{d}"));
    assert!(outcome.calls[0].is_ok(), "{:?}", outcome.calls[0]);
}

// ---- regressions ---------------------------------------------------------------------

/// The fuzz target's choice source (`capjit_testgen::ByteChoices`, used by
/// `fuzz/fuzz_targets/jit_vs_interp.rs`): one byte per choice among up to 256
/// options, two up to 65,536, zeros once the bytes are gone; no bytes make the
/// smallest program, the same bytes the same program, and random bytes make
/// programs from a few hundred of them (what `fuzz/seed.sh`'s blobs are sized for).
#[test]
fn fuzz_bytes_make_programs() {
    let mut b = capjit_testgen::ByteChoices::new(&[7, 0x01, 0x02, 9]);
    assert_eq!(b.choose(1), 0, "a choice among one option reads no byte");
    assert_eq!(b.choose(5), 2);
    assert_eq!(b.choose(300), 0x0102, "two bytes, big-endian");
    assert_eq!(b.choose(1 << 20), 9, "a choice reads what bytes are left");
    assert_eq!((b.choose(10), b.used()), (0, 4));

    let mut none = capjit_testgen::ByteChoices::new(&[]);
    assert_eq!(
        gen_valid::generate(&mut |n| none.choose(n)),
        gen_valid::generate(&mut |_| 0)
    );
    let mut next = seeded(env_seed());
    let mut used = Vec::new();
    for _ in 0..200 {
        let data: Vec<u8> = (0..4096).map(|_| next(256) as u8).collect();
        let mut a = capjit_testgen::ByteChoices::new(&data);
        let case = gen_valid::generate(&mut |n| a.choose(n));
        let mut again = capjit_testgen::ByteChoices::new(&data);
        assert_eq!(gen_valid::generate(&mut |n| again.choose(n)), case);
        used.push(a.used());
    }
    used.sort_unstable();
    let median = used[used.len() / 2];
    eprintln!(
        "bytes used by 200 programs from 4 KiB each: min {}, median {median}, max {}",
        used[0],
        used[used.len() - 1]
    );
    assert!((100..=2048).contains(&median), "median {median} bytes per program");
}

fn regression_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/differential")
}

/// Run a kept case both ways and require agreement.
fn regression(name: &str) {
    let path = regression_dir().join(format!("{name}.cir"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let case = gen_valid::parse_case(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if let Err(d) = gen_valid::check(&case) {
        panic!("{name}: the JIT and the interpreter disagree:\n{d}");
    }
}

/// Every file in tests/differential/ has a test below (ignored ones included).
#[test]
fn every_regression_file_has_a_test() {
    let src = include_str!("differential.rs");
    let Ok(dir) = std::fs::read_dir(regression_dir()) else {
        return;
    };
    for entry in dir.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "cir") {
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
            assert!(
                src.contains(&format!("regression(\"{stem}\")")),
                "tests/differential/{stem}.cir has no test in tests/differential.rs"
            );
        }
    }
}

#[test]
fn region_write_freed_region_memory_out_of_bounds() {
    regression("region_write_freed_region_memory_out_of_bounds");
}
