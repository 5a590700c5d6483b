//! The headline figures, measured side by side in one run and printed as ratios:
//!
//! - **translation speed vs raw Cranelift**: IR instructions per second through
//!   `capjit_verifier::verify` + `capjit_translator::translate` (verify, lower,
//!   compile, link) on a generated module (`modgen`), against Cranelift compiling
//!   the very CLIF functions capjit built (`Config::keep_functions`) with the same
//!   flags (`capjit_translator::host_isa`) into a `JITModule`: module setup, compile
//!   and link only. Rounds alternate between every configuration, so drift on a
//!   shared machine hits them alike. Also: Cranelift's verifier on vs off, regalloc
//!   backtracking vs single_pass (the figures behind the translator's defaults);
//! - **run time vs native Rust**: each kernel of `benches/kernels/` through the JIT
//!   (both register allocators) against its native reference
//!   (`benches/kernels/native.rs`) on the same input, alternating; and through the
//!   interpreter, on a smaller input against native re-timed on that same input;
//! - **the optimiser** (`capjit::optimize_and_verify`): each kernel optimised,
//!   verified and translated, timed against native in the same rounds; the share
//!   of executed memory accesses that ran without a runtime check (block entry
//!   counts from the interpreter times the verifier's per-access proofs); both
//!   again on an input small enough for the versioned copy; and what optimising
//!   adds to translation time, for the kernels and the generated module.
//!
//! - **resources** (issue 12): growing a linear memory to 1 GiB (time, and how much
//!   of it is resident while untouched), and the cost of Spectre guards: each
//!   kernel with the translator's guards on / off, alternating rounds, geomean.
//!
//! - **verification** (`capjit_verifier::verify_owned`): the generated module and
//!   one ten times larger, each call on a fresh copy: `verify_insts_per_s`.
//!
//! Run: `cargo bench --bench headline` (`CAPJIT_HEADLINE_ONLY=resources,idc` runs
//! only the named sections of translation, verify, kernels, idc, resources). Prints
//! a table and writes one flat JSON object of numbers to `target/headline.json`. Every result is checked against the
//! native reference before it is timed.

mod modgen;

#[path = "idc/mod.rs"]
mod idc;
#[path = "kernels/native.rs"]
mod native;

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

use capjit::ir::exec::Limits;
use capjit::ir::{parse_module, Module, Op, Type, Val};
use capjit::verifier::Verified;
use capjit::{Backend, Instance};
use capjit_optimizer::Options;
use capjit_translator::{self as translator, Regalloc};
use cranelift_codegen::ir::{types, AbiParam, Function, Signature};
use cranelift_codegen::Context;
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, Linkage, Module as _};

/// IR instructions in the generated module translated for the speed figures.
const TRANSLATE_SIZE: usize = 50_000;
const TRANSLATE_ROUNDS: usize = 5;
/// Rounds of plain translation against the `--opt` pipeline (the generated module).
const OPT_TRANSLATE_ROUNDS: usize = 3;
/// The same for each kernel (small modules: milliseconds).
const KERNEL_TRANSLATE_ROUNDS: usize = 9;
const KERNEL_ROUNDS: usize = 7;
const INTERP_ROUNDS: usize = 3;
/// Samples of the small-input runs (each batched to >= 20 ms).
const SMALL_ROUNDS: usize = 7;

/// A kernel: its source, the argument for the JIT and native runs (chosen so that
/// native takes ~10-100 ms), the smaller one for the interpreter, and one small
/// enough that the optimiser's versioned copy runs (`docs/optimizer.md`: the
/// bound it specialises for), if it has memory accesses.
struct Kernel {
    name: &'static str,
    src: &'static str,
    n: i64,
    interp_n: i64,
    small_n: Option<i64>,
}

const KERNELS: [Kernel; 5] = [
    Kernel {
        name: "fib",
        src: include_str!("kernels/fib.cir"),
        n: 34,
        interp_n: 25,
        small_n: None,
    },
    Kernel {
        name: "sieve",
        src: include_str!("kernels/sieve.cir"),
        n: 8_000_000,
        interp_n: 500_000,
        small_n: Some(65_000),
    },
    Kernel {
        name: "matmul",
        src: include_str!("kernels/matmul.cir"),
        n: 256,
        interp_n: 64,
        small_n: Some(52),
    },
    Kernel {
        name: "crc32",
        src: include_str!("kernels/crc32.cir"),
        n: 8 << 20,
        interp_n: 1 << 19,
        small_n: Some(64_000),
    },
    Kernel {
        name: "quicksort",
        src: include_str!("kernels/quicksort.cir"),
        n: 300_000,
        interp_n: 30_000,
        small_n: Some(8_000),
    },
];

fn median(mut v: Vec<f64>) -> f64 {
    assert!(!v.is_empty());
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The smallest sample: for short operations on a loaded machine.
fn fastest(v: Vec<f64>) -> f64 {
    assert!(!v.is_empty());
    v.into_iter().fold(f64::INFINITY, f64::min)
}

fn ms(secs: f64) -> f64 {
    secs * 1e3
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn regalloc_name(r: Regalloc) -> &'static str {
    match r {
        Regalloc::SinglePass => "single_pass",
        Regalloc::Backtracking => "backtracking",
    }
}

/// The flat JSON object written at the end, in insertion order.
#[derive(Default)]
struct Figures(Vec<(String, f64)>);

impl Figures {
    fn set(&mut self, key: impl Into<String>, v: f64) {
        assert!(v.is_finite(), "non-finite figure");
        self.0.push((key.into(), v));
    }

    fn json(&self) -> String {
        let mut s = String::from("{\n");
        for (i, (k, v)) in self.0.iter().enumerate() {
            let sep = if i + 1 < self.0.len() { "," } else { "" };
            let _ = writeln!(s, "  \"{k}\": {v}{sep}");
        }
        s.push_str("}\n");
        s
    }
}

// ---- translation ----------------------------------------------------------------

/// One end-to-end translation: total seconds and its parts.
#[derive(Default, Clone, Copy)]
struct Translation {
    total: f64,
    verify: f64,
    lower: f64,
    compile: f64,
    link: f64,
}

fn translate_once(m: &Module, cfg: &translator::Config) -> Translation {
    let started = Instant::now();
    let verified = capjit_verifier::verify(m).expect("the module verifies");
    let verified_at = Instant::now();
    let compiled = translator::translate(&verified, cfg).expect("the module translates");
    let total = secs(started.elapsed());
    let t = Translation {
        total,
        verify: secs(verified_at - started),
        lower: secs(compiled.stats.lower),
        compile: secs(compiled.stats.compile),
        link: secs(compiled.stats.link),
    };
    drop(black_box(compiled));
    t
}

/// What `capjit run --opt` does before running (`capjit::optimize_and_verify`,
/// then translate), phase by phase: verify the original, optimise, verify the
/// result, translate it. Returns (total, optimise) seconds. Panics if the
/// optimised module is rejected (the bench measures the optimised code only).
fn opt_pipeline_once(m: &Module, cfg: &translator::Config) -> (f64, f64) {
    let started = Instant::now();
    let original = capjit_verifier::verify(m).expect("the module verifies");
    let optimize_started = Instant::now();
    let (optimized, _) = capjit_optimizer::optimize_report(m, &Options::default());
    let optimize = secs(optimize_started.elapsed());
    let verified = capjit_verifier::verify(&optimized).expect("the optimised module verifies");
    let compiled = translator::translate(&verified, cfg).expect("the optimised module translates");
    let total = secs(started.elapsed());
    drop(black_box((original, compiled)));
    (total, optimize)
}

/// Plain translation (verify + translate) against the `--opt` pipeline
/// ([`opt_pipeline_once`]) of the same module, alternating over `rounds` after
/// one untimed run of each: (plain, optimise, pipeline) seconds, each the
/// `pick` (median, or [`fastest`] for operations of milliseconds, which a loaded
/// machine stretches at random) of its rounds.
fn optimizer_cost(m: &Module, cfg: &translator::Config, rounds: usize, pick: fn(Vec<f64>) -> f64) -> (f64, f64, f64) {
    translate_once(m, cfg);
    opt_pipeline_once(m, cfg);
    let (mut plain, mut opt, mut pipeline) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        plain.push(translate_once(m, cfg).total);
        let (total, o) = opt_pipeline_once(m, cfg);
        pipeline.push(total);
        opt.push(o);
    }
    (pick(plain), pick(opt), pick(pipeline))
}

/// Cranelift alone: a `JITModule` with the same ISA and flags, the same
/// declarations (helpers, then every function, so the `FuncId`s the CLIF refers to
/// are the same), every function defined (compiled), then linked. Returns
/// (total, compile, link) seconds. The code memory is not freed (that is unsafe,
/// and benches hold no unsafe code): a few MB per call.
fn cranelift_once(functions: Vec<Function>, cfg: &translator::Config) -> (f64, f64, f64) {
    let started = Instant::now();
    let isa = translator::host_isa(cfg).expect("host ISA");
    let call_conv = isa.default_call_conv();
    let mut builder = JITBuilder::with_isa(isa, default_libcall_names());
    let helpers = capjit_tcb::helpers::Helper::ALL;
    for h in helpers {
        builder.symbol(h.name(), h.address());
    }
    let mut jit = JITModule::new(builder);
    // The signature of an import is not used when the calling CLIF carries its own.
    let mut helper_sig = Signature::new(call_conv);
    helper_sig.params.push(AbiParam::new(types::I64));
    helper_sig.returns.push(AbiParam::new(types::I32));
    for h in helpers {
        jit.declare_function(h.name(), Linkage::Import, &helper_sig)
            .expect("declare helper");
    }
    let ids: Vec<_> = functions
        .iter()
        .enumerate()
        .map(|(i, f)| {
            jit.declare_function(&format!("f{i}"), Linkage::Local, &f.signature)
                .expect("declare function")
        })
        .collect();
    let compile_started = Instant::now();
    let mut ctx = Context::new();
    for (id, f) in ids.into_iter().zip(functions) {
        ctx.clear();
        ctx.func = f;
        jit.define_function(id, &mut ctx)
            .expect("Cranelift compiles capjit's CLIF");
    }
    let link_started = Instant::now();
    jit.finalize_definitions().expect("link");
    let done = Instant::now();
    drop(black_box(jit));
    (
        secs(done - started),
        secs(link_started - compile_started),
        secs(done - link_started),
    )
}

/// Copies of the module verified per sample of [`verification`], by size.
const VERIFY_COPIES: [(usize, usize); 2] = [(TRANSLATE_SIZE, 16), (10 * TRANSLATE_SIZE, 4)];
const VERIFY_SAMPLES: usize = 5;

/// Median seconds per `verify_owned_on(copy, threads)` of `m`; each call gets its
/// own copy, made before the sample starts (as `capjit run` hands the parsed module
/// over), so the module is not in the cache and copying is not timed.
fn verify_seconds(m: &Module, copies: usize, threads: usize) -> f64 {
    let mut samples = Vec::new();
    for _ in 0..VERIFY_SAMPLES {
        let inputs: Vec<Module> = (0..copies).map(|_| m.clone()).collect();
        let mut kept = Vec::with_capacity(copies);
        let start = Instant::now();
        for input in inputs {
            let verified = capjit_verifier::verify_owned_on(std::hint::black_box(input), threads);
            kept.push(verified.expect("the generated module verifies"));
        }
        samples.push(secs(start.elapsed()) / copies as f64);
        drop(kept);
    }
    median(samples)
}

/// `capjit_verifier::verify_owned` on the generated module and on one ten times
/// larger, on one thread and on every core (the verifier splits modules of 20,000
/// instructions or more between threads).
fn verification(figures: &mut Figures, table: &mut String) {
    use std::fmt::Write as _;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    let _ = writeln!(
        table,
        "\nverification (verify_owned_on, a fresh copy per call; median of {VERIFY_SAMPLES} samples)\n"
    );
    let _ = writeln!(
        table,
        "{:>10} {:>16} {:>14} {:>16} {:>14}",
        "instrs",
        "1 thread ms",
        "instrs/s",
        format!("{cores} threads ms"),
        "instrs/s"
    );
    let mut rates = Vec::new();
    for (size, copies) in VERIFY_COPIES {
        let m = modgen::module(size, 0x4ead_1e55);
        let insts = modgen::instruction_count(&m) as f64;
        let one = verify_seconds(&m, copies, 1);
        let all = verify_seconds(&m, copies, cores);
        let _ = writeln!(
            table,
            "{insts:>10} {:>16.2} {:>12.1} M {:>16.2} {:>12.1} M",
            ms(one),
            insts / one / 1e6,
            ms(all),
            insts / all / 1e6
        );
        rates.push((insts, one, all));
    }
    let (insts, one, all) = rates[0];
    let (insts_10x, one_10x, all_10x) = rates[1];
    figures.set("verify_insts", insts);
    figures.set("verify_threads", cores as f64);
    figures.set("verify_insts_per_s", insts / all);
    figures.set("verify_insts_per_s_1thread", insts / one);
    figures.set("verify_insts_per_s_10x", insts_10x / all_10x);
    figures.set("verify_insts_per_s_10x_1thread", insts_10x / one_10x);
    // Time for ten times the input, per ten times the instructions (linear: 10).
    let scaled = one_10x / one * (insts / insts_10x) * 10.0;
    figures.set("verify_10x_time_ratio", scaled);
    let _ = writeln!(
        table,
        "10x the input took {scaled:.1}x the time on one thread (per instruction, scaled to 10x)"
    );
}

fn translation(figures: &mut Figures, table: &mut String) {
    // One thread: the figures compare translation with Cranelift alone, per core.
    let default = translator::Config {
        threads: 1,
        ..translator::Config::default()
    };
    let m = modgen::module(TRANSLATE_SIZE, 0x4ead_1e55);
    let insts = modgen::instruction_count(&m) as f64;
    let nfuncs: usize = m.domains.iter().map(|d| d.functions.len()).sum();

    // The CLIF capjit builds (the same for every regalloc: it is a codegen flag).
    let verified = capjit_verifier::verify(&m).expect("the generated module verifies");
    let kept = translator::translate(
        &verified,
        &translator::Config {
            keep_functions: true,
            ..default.clone()
        },
    )
    .expect("translates");
    let functions = kept.functions.clone();
    let stats = kept.stats.clone();
    assert_eq!(functions.len(), nfuncs);
    drop(kept);
    drop(verified);

    let configs: Vec<(String, translator::Config)> = [
        (Regalloc::SinglePass, false),
        (Regalloc::Backtracking, false),
        (Regalloc::SinglePass, true),
        (Regalloc::Backtracking, true),
    ]
    .into_iter()
    .map(|(regalloc, verifier)| {
        let name = format!(
            "{}, verifier {}",
            regalloc_name(regalloc),
            if verifier { "on" } else { "off" }
        );
        let cfg = translator::Config {
            regalloc,
            cranelift_verifier: verifier,
            ..default.clone()
        };
        (name, cfg)
    })
    .collect();
    let cl_configs: Vec<translator::Config> = [Regalloc::SinglePass, Regalloc::Backtracking]
        .into_iter()
        .map(|regalloc| translator::Config {
            regalloc,
            cranelift_verifier: default.cranelift_verifier,
            ..default.clone()
        })
        .collect();

    let mut capjit_runs: Vec<Vec<Translation>> = vec![Vec::new(); configs.len()];
    let mut cl_runs: Vec<Vec<(f64, f64, f64)>> = vec![Vec::new(); cl_configs.len()];
    // One untimed warm-up of each, then rounds that alternate between all of them.
    for (_, cfg) in &configs {
        translate_once(&m, cfg);
    }
    for cfg in &cl_configs {
        cranelift_once(functions.clone(), cfg);
    }
    for _ in 0..TRANSLATE_ROUNDS {
        for (i, (_, cfg)) in configs.iter().enumerate() {
            capjit_runs[i].push(translate_once(&m, cfg));
        }
        for (i, cfg) in cl_configs.iter().enumerate() {
            let input = functions.clone();
            cl_runs[i].push(cranelift_once(input, cfg));
        }
    }

    let med = |runs: &[Translation], f: fn(&Translation) -> f64| median(runs.iter().map(f).collect());
    let _ = writeln!(
        table,
        "translation: generated module, {insts} IR instructions, {nfuncs} functions in 2 domains, \
         {} CLIF instructions; median of {TRANSLATE_ROUNDS} alternating rounds",
        stats.clif_instructions
    );
    let _ = writeln!(
        table,
        "{:<36} {:>9} {:>13} {:>8} {:>8} {:>8} {:>8}",
        "", "total ms", "IR insts/s", "verify", "lower", "compile", "link"
    );
    let mut rates = Vec::new();
    for (i, (name, cfg)) in configs.iter().enumerate() {
        let runs = &capjit_runs[i];
        let total = med(runs, |t| t.total);
        let rate = insts / total;
        rates.push(rate);
        let _ = writeln!(
            table,
            "{:<36} {:>9.1} {:>11.1} K {:>8.1} {:>8.1} {:>8.1} {:>8.1}",
            format!("capjit {name}"),
            ms(total),
            rate / 1e3,
            ms(med(runs, |t| t.verify)),
            ms(med(runs, |t| t.lower)),
            ms(med(runs, |t| t.compile)),
            ms(med(runs, |t| t.link)),
        );
        let suffix = format!(
            "{}_verifier_{}",
            regalloc_name(cfg.regalloc),
            if cfg.cranelift_verifier { "on" } else { "off" }
        );
        figures.set(format!("translate_insts_per_s_{suffix}"), rate);
    }
    let mut cl_rates = Vec::new();
    for (i, cfg) in cl_configs.iter().enumerate() {
        let runs = &cl_runs[i];
        let total = median(runs.iter().map(|r| r.0).collect());
        let rate = insts / total;
        cl_rates.push(rate);
        let _ = writeln!(
            table,
            "{:<36} {:>9.1} {:>11.1} K {:>8} {:>8} {:>8.1} {:>8.1}",
            format!("Cranelift only, {}", regalloc_name(cfg.regalloc)),
            ms(total),
            rate / 1e3,
            "-",
            "-",
            ms(median(runs.iter().map(|r| r.1).collect())),
            ms(median(runs.iter().map(|r| r.2).collect())),
        );
        figures.set(
            format!("cranelift_only_insts_per_s_{}", regalloc_name(cfg.regalloc)),
            cl_rates[i],
        );
        figures.set(
            format!("capjit_vs_cranelift_ratio_{}", regalloc_name(cfg.regalloc)),
            rates[i] / cl_rates[i],
        );
    }

    // The headline: the translator's default configuration.
    let d = configs
        .iter()
        .position(|(_, c)| c.regalloc == default.regalloc && c.cranelift_verifier == default.cranelift_verifier)
        .expect("the default is among the configurations");
    let dc = cl_configs
        .iter()
        .position(|c| c.regalloc == default.regalloc)
        .expect("the default regalloc is measured");
    let runs = &capjit_runs[d];
    figures.set("translate_ir_instructions", insts);
    figures.set("translate_clif_instructions", stats.clif_instructions as f64);
    figures.set("translate_clif_per_ir", stats.clif_instructions as f64 / insts);
    figures.set("translate_insts_per_s", rates[d]);
    figures.set("cranelift_only_insts_per_s", cl_rates[dc]);
    figures.set("capjit_vs_cranelift_ratio", rates[d] / cl_rates[dc]);
    figures.set("translate_ms", ms(med(runs, |t| t.total)));
    figures.set("translate_verify_ms", ms(med(runs, |t| t.verify)));
    figures.set("translate_lower_ms", ms(med(runs, |t| t.lower)));
    figures.set("translate_compile_ms", ms(med(runs, |t| t.compile)));
    figures.set("translate_link_ms", ms(med(runs, |t| t.link)));
    figures.set(
        "cranelift_only_ms",
        ms(median(cl_runs[dc].iter().map(|r| r.0).collect())),
    );
    figures.set(
        "cranelift_only_compile_ms",
        ms(median(cl_runs[dc].iter().map(|r| r.1).collect())),
    );
    let _ = writeln!(
        table,
        "default ({}, verifier {}): capjit / Cranelift only = {:.2} (target >= 0.90)",
        regalloc_name(default.regalloc),
        if default.cranelift_verifier { "on" } else { "off" },
        rates[d] / cl_rates[dc]
    );

    // What the optimiser adds (default configuration).
    let (plain, opt, pipeline) = optimizer_cost(&m, &default, OPT_TRANSLATE_ROUNDS, median);
    figures.set("translate_optimize_ms", ms(opt));
    figures.set("translate_opt_pipeline_ms", ms(pipeline));
    figures.set("translate_optimize_vs_translate", opt / plain);
    figures.set("translate_opt_pipeline_vs_translate", pipeline / plain);
    let _ = writeln!(
        table,
        "with the optimiser (median of {OPT_TRANSLATE_ROUNDS}, alternating with plain verify + translate at {:.1} ms): \
         optimise {:.1} ms = {:.2}x plain; verify + optimise + verify + translate {:.1} ms = {:.2}x plain\n",
        ms(plain),
        ms(opt),
        opt / plain,
        ms(pipeline),
        pipeline / plain
    );
}

// ---- kernels --------------------------------------------------------------------

fn config(backend: Backend, regalloc: Regalloc) -> capjit::Config {
    capjit::Config {
        backend,
        limits: unlimited(),
        translator: translator::Config {
            regalloc,
            ..translator::Config::default()
        },
        ..capjit::Config::default()
    }
}

fn unlimited() -> Limits {
    Limits {
        fuel: u64::MAX,
        ..Limits::default()
    }
}

fn instance(m: &Module, backend: Backend, regalloc: Regalloc) -> Instance {
    Instance::new(m, &config(backend, regalloc), Box::new(std::io::sink())).expect("the kernel instantiates")
}

/// The optimised module through the JIT (it verified already).
fn opt_instance(verified: Verified<Module>, regalloc: Regalloc) -> Instance {
    Instance::from_verified(verified, &config(Backend::Jit, regalloc), Box::new(std::io::sink()))
        .expect("the optimised kernel instantiates")
}

/// `capjit::optimize_and_verify`, which must use the optimised module.
fn optimized(m: &Module, k: &Kernel) -> Verified<Module> {
    let o = capjit::optimize_and_verify(m).unwrap_or_else(|e| panic!("{}: {e:?}", k.name));
    if let Some(why) = &o.fallback {
        panic!("{}: the optimised module is not used: {why:?}", k.name);
    }
    o.verified
}

/// The kernel's entry: domain `name`, exported `run`, one integer parameter.
fn argument(m: &Module, k: &Kernel, n: i64) -> Val {
    let f = m
        .domains
        .iter()
        .find(|d| d.name == k.name)
        .and_then(|d| d.functions.iter().find(|f| f.name == "run" && f.exported))
        .unwrap_or_else(|| panic!("{}: no exported {0}.run", k.name));
    match f.sig.params.as_slice() {
        [Type::I32] => Val::I32(n as i32),
        [Type::I64] => Val::I64(n),
        other => panic!("{}: unexpected parameters {other:?}", k.name),
    }
}

/// Seconds of one call, and its result.
fn timed(f: impl FnOnce() -> i64) -> (f64, i64) {
    let started = Instant::now();
    let r = f();
    (secs(started.elapsed()), r)
}

fn invoke(inst: &mut Instance, k: &Kernel, arg: Val) -> i64 {
    match inst.invoke(k.name, "run", &[arg]).as_deref() {
        Ok([Val::I64(r)]) => *r,
        other => panic!("{}: {other:?}", k.name),
    }
}

/// Median seconds per native call at `n`, batched so a sample lasts >= 20 ms.
fn native_batched(f: native::Run, n: i64) -> f64 {
    let (first, _) = timed(|| f(n));
    let reps = ((0.02 / first).ceil() as usize).clamp(1, 100_000);
    median(
        (0..5)
            .map(|_| {
                let started = Instant::now();
                for _ in 0..reps {
                    black_box(f(black_box(n)));
                }
                secs(started.elapsed()) / reps as f64
            })
            .collect(),
    )
}

/// An exported `bench_repeat(n, reps)` appended to a kernel's domain: calls `run(n)`
/// `reps` (>= 1) times and returns the last result. At small inputs one
/// `Instance::invoke` (a thread start: 0.1-0.4 ms on a loaded machine) would
/// otherwise weigh as much as the kernel itself.
const REPEAT: &str = "
  export func bench_repeat(i32, i32) -> i64 {
  block0(v0: i32, v1: i32):
    jump block1(v1)
  block1(v2: i32):
    v3 = call run(v0)
    v4 = iconst.i32 1
    v5 = isub.i32 v2, v4
    v6 = iconst.i32 0
    v7 = icmp.ne.i32 v5, v6
    brif v7, block1(v5), block2
  block2:
    return v3
  }
";

/// The kernel with [`REPEAT`] (its `run` must take an i32).
fn with_repeat(k: &Kernel) -> Module {
    let body = k
        .src
        .trim_end()
        .strip_suffix('}')
        .expect("the kernel's source ends with its domain");
    parse_module(&format!("{body}{REPEAT}}}\n")).unwrap_or_else(|e| panic!("{} with bench_repeat: {e}", k.name))
}

/// `bench_repeat(n, reps)`: the result of the last call.
fn repeat(inst: &mut Instance, k: &Kernel, n: i64, reps: i32) -> i64 {
    match inst
        .invoke(k.name, "bench_repeat", &[Val::I32(n as i32), Val::I32(reps)])
        .as_deref()
    {
        Ok([Val::I64(r)]) => *r,
        other => panic!("{}: {other:?}", k.name),
    }
}

/// Seconds per kernel call at a small `n`: native, the JIT and the optimised
/// module (both through [`REPEAT`], `reps` calls per invoke, sized so that native
/// takes >= 20 ms), alternating over [`SMALL_ROUNDS`] rounds; the fastest of each.
fn small_timings(f: native::Run, n: i64, jit: &mut Instance, opt: &mut Instance, k: &Kernel) -> [f64; 3] {
    let want = f(n);
    assert_eq!(repeat(jit, k, n, 1), want, "{} bench_repeat", k.name);
    assert_eq!(repeat(opt, k, n, 1), want, "{} optimised bench_repeat", k.name);
    let one = (0..3)
        .map(|_| timed(|| f(black_box(n))).0)
        .fold(f64::INFINITY, f64::min);
    let reps = ((0.02 / one).ceil() as i32).clamp(1, 1_000_000);
    let (mut tn, mut tj, mut to) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..SMALL_ROUNDS {
        let started = Instant::now();
        for _ in 0..reps {
            assert_eq!(black_box(f(black_box(n))), want);
        }
        tn.push(secs(started.elapsed()) / reps as f64);
        let (t, r) = timed(|| repeat(jit, k, n, reps));
        assert_eq!(r, want);
        tj.push(t / reps as f64);
        let (t, r) = timed(|| repeat(opt, k, n, reps));
        assert_eq!(r, want);
        to.push(t / reps as f64);
    }
    [fastest(tn), fastest(tj), fastest(to)]
}

/// The memory accesses the verifier counts (`Verified::counts`): each one is
/// checked at run time unless proven.
fn is_access(op: &Op) -> bool {
    matches!(
        op,
        Op::Load { .. } | Op::Store { .. } | Op::MemoryCopy { .. } | Op::MemoryFill { .. }
    )
}

/// (proven, checked) memory accesses.
type Accesses = (u64, u64);

/// `[domain][function][block]`: the block's memory accesses, as the verifier
/// decided (`Verified::access_proven`).
fn accesses_by_block(v: &Verified<Module>) -> Vec<Vec<Vec<Accesses>>> {
    let by_block: Vec<Vec<Vec<Accesses>>> = v
        .module()
        .domains
        .iter()
        .enumerate()
        .map(|(d, dom)| {
            dom.functions
                .iter()
                .enumerate()
                .map(|(f, func)| {
                    func.blocks
                        .iter()
                        .enumerate()
                        .map(|(b, block)| {
                            let mut a = (0, 0);
                            for (i, _) in block.insts.iter().enumerate().filter(|(_, x)| is_access(&x.op)) {
                                if v.access_proven(d, f, b, i) {
                                    a.0 += 1;
                                } else {
                                    a.1 += 1;
                                }
                            }
                            a
                        })
                        .collect()
                })
                .collect()
        })
        .collect();
    let total = by_block
        .iter()
        .flatten()
        .flatten()
        .fold((0, 0), |s, a| (s.0 + a.0, s.1 + a.1));
    let c = v.counts();
    assert_eq!(total, (c.accesses_proven, c.accesses_checked), "access counts");
    by_block
}

/// One call of the kernel at `n` in the reference interpreter, counting block
/// entries: the memory accesses it executed (proven, checked), and its result.
/// Entries times each block's accesses is exact: every instruction of an entered
/// block runs (a call returns into the middle of its block, which is not a new
/// entry), since the kernels do not trap.
fn executed_accesses(m: &Module, by_block: &[Vec<Vec<Accesses>>], k: &Kernel, n: i64) -> (Accesses, i64) {
    let mut interp = capjit::ir::interp::Instance::new(m.clone(), unlimited(), Box::new(std::io::sink()))
        .expect("the optimised kernel links");
    interp.count_blocks(true);
    let r = match interp.invoke(k.name, "run", &[argument(m, k, n)]).as_deref() {
        Ok([Val::I64(r)]) => *r,
        other => panic!("{} (optimised, interpreter): {other:?}", k.name),
    };
    let counts = interp.block_counts().expect("counting");
    let mut executed = (0, 0);
    for (cd, ad) in counts.iter().zip(by_block) {
        for (cf, af) in cd.iter().zip(ad) {
            for (&entries, &(p, c)) in cf.iter().zip(af) {
                executed.0 += entries * p;
                executed.1 += entries * c;
            }
        }
    }
    (executed, r)
}

/// Proven / all, or `None` without accesses.
fn fraction((p, c): Accesses) -> Option<f64> {
    (p + c > 0).then(|| p as f64 / (p + c) as f64)
}

fn fraction_text(a: Accesses) -> String {
    fraction(a).map_or_else(|| "-".into(), |f| format!("{f:.3}"))
}

/// What the optimiser table prints for one kernel.
struct OptRow {
    name: &'static str,
    static_acc: Accesses,
    interp_n: i64,
    executed: Accesses,
    /// small n, executed there, (native, JIT, optimised) seconds per call.
    small: Option<(i64, Accesses, [f64; 3])>,
    /// (plain, optimise, pipeline) seconds.
    translate: (f64, f64, f64),
}

fn kernels(figures: &mut Figures, table: &mut String) {
    let default = translator::Config::default().regalloc;
    let _ = writeln!(
        table,
        "kernels through the JIT vs native Rust on the same input (median of {KERNEL_ROUNDS} alternating rounds; \
         x = time / native; default regalloc {}; opt = optimised, default regalloc)",
        regalloc_name(default)
    );
    let _ = writeln!(
        table,
        "{:<10} {:>9} {:>10} {:>10} {:>7} {:>10} {:>7} {:>10} {:>7}",
        "kernel", "n", "native ms", "sp ms", "sp x", "bt ms", "bt x", "opt ms", "opt x"
    );
    let mut interp_rows = Vec::new();
    let mut opt_rows = Vec::new();
    // Sums of ln(time / native): single_pass, backtracking, optimised.
    let (mut log_sp, mut log_bt, mut log_opt) = (0.0, 0.0, 0.0);
    for k in &KERNELS {
        let m = parse_module(k.src).unwrap_or_else(|e| panic!("{}: {e}", k.name));
        let f = native::by_name(k.name).expect("native reference");
        let arg = argument(&m, k, k.n);
        let want = f(k.n);
        let verified = optimized(&m, k);
        let by_block = accesses_by_block(&verified);
        let c = verified.counts();
        let static_acc = (c.accesses_proven, c.accesses_checked);
        let opt_module = verified.module().clone();
        let mut sp = instance(&m, Backend::Jit, Regalloc::SinglePass);
        let mut bt = instance(&m, Backend::Jit, Regalloc::Backtracking);
        let mut opt = opt_instance(verified, default);
        assert_eq!(invoke(&mut sp, k, arg), want, "{} single_pass", k.name);
        assert_eq!(invoke(&mut bt, k, arg), want, "{} backtracking", k.name);
        assert_eq!(invoke(&mut opt, k, arg), want, "{} optimised", k.name);
        let (mut tn, mut tsp, mut tbt, mut topt) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..KERNEL_ROUNDS {
            let (t, r) = timed(|| f(k.n));
            assert_eq!(r, want);
            tn.push(t);
            let (t, r) = timed(|| invoke(&mut sp, k, arg));
            assert_eq!(r, want);
            tsp.push(t);
            let (t, r) = timed(|| invoke(&mut bt, k, arg));
            assert_eq!(r, want);
            tbt.push(t);
            let (t, r) = timed(|| invoke(&mut opt, k, arg));
            assert_eq!(r, want);
            topt.push(t);
        }
        drop((sp, bt, opt));
        let (n, s, b, o) = (median(tn), median(tsp), median(tbt), median(topt));
        let _ = writeln!(
            table,
            "{:<10} {:>9} {:>10.1} {:>10.1} {:>7.2} {:>10.1} {:>7.2} {:>10.1} {:>7.2}",
            k.name,
            k.n,
            ms(n),
            ms(s),
            s / n,
            ms(b),
            b / n,
            ms(o),
            o / n
        );
        let jit = if default == Regalloc::SinglePass { s } else { b };
        log_sp += (s / n).ln();
        log_bt += (b / n).ln();
        log_opt += (o / n).ln();
        let key = |s: &str| format!("kernel_{}_{s}", k.name);
        figures.set(key("n"), k.n as f64);
        figures.set(key("native_ms"), ms(n));
        figures.set(key("jit_ms"), ms(jit));
        figures.set(key("vs_native"), jit / n);
        figures.set(key("jit_ms_single_pass"), ms(s));
        figures.set(key("vs_native_single_pass"), s / n);
        figures.set(key("jit_ms_backtracking"), ms(b));
        figures.set(key("vs_native_backtracking"), b / n);
        figures.set(key("opt_ms"), ms(o));
        figures.set(key("opt_vs_native"), o / n);
        figures.set(key("opt_vs_jit"), o / jit);

        // The interpreter, on a smaller input; native is re-timed on that input.
        let arg = argument(&m, k, k.interp_n);
        let want = f(k.interp_n);
        let mut interp = instance(&m, Backend::Interpreter, default);
        let ti: Vec<f64> = (0..INTERP_ROUNDS)
            .map(|_| {
                let (t, r) = timed(|| invoke(&mut interp, k, arg));
                assert_eq!(r, want, "{} interpreter", k.name);
                t
            })
            .collect();
        drop(interp);
        let (i, n) = (median(ti), native_batched(f, k.interp_n));
        interp_rows.push((k.name, k.interp_n, n, i));
        let ikey = |s: &str| format!("interp_{}_{s}", k.name);
        figures.set(ikey("n"), k.interp_n as f64);
        figures.set(ikey("native_ms"), ms(n));
        figures.set(ikey("ms"), ms(i));
        figures.set(ikey("vs_native"), i / n);

        // Accesses executed by the optimised module, counted in the interpreter
        // (the JIT's n would take minutes there; see docs/performance.md).
        let (executed, r) = executed_accesses(&opt_module, &by_block, k, k.interp_n);
        assert_eq!(r, want, "{} optimised, interpreter", k.name);

        // A small input: the versioned copy runs.
        let small = k.small_n.map(|sn| {
            let (small_executed, r) = executed_accesses(&opt_module, &by_block, k, sn);
            let want = f(sn);
            assert_eq!(r, want, "{} optimised, interpreter, n = {sn}", k.name);
            // The same kernel with `bench_repeat`, optimised the same way.
            let mr = with_repeat(k);
            let verified = optimized(&mr, k);
            let c = verified.counts();
            assert_eq!(
                (c.accesses_proven, c.accesses_checked),
                static_acc,
                "{} with bench_repeat",
                k.name
            );
            let mut jit = instance(&mr, Backend::Jit, default);
            let mut opt = opt_instance(verified, default);
            let t = small_timings(f, sn, &mut jit, &mut opt, k);
            (sn, small_executed, t)
        });

        // What the optimiser adds to translation (default configuration).
        let translate = optimizer_cost(&m, &translator::Config::default(), KERNEL_TRANSLATE_ROUNDS, fastest);

        figures.set(key("accesses_static_proven"), static_acc.0 as f64);
        figures.set(key("accesses_static_checked"), static_acc.1 as f64);
        if let Some(fr) = fraction(static_acc) {
            figures.set(key("proven_fraction_static"), fr);
        }
        figures.set(key("proven_fraction_n"), k.interp_n as f64);
        figures.set(key("accesses_executed"), (executed.0 + executed.1) as f64);
        if let Some(fr) = fraction(executed) {
            figures.set(key("proven_fraction"), fr);
        }
        if let Some((sn, small_executed, [tn, tj, to])) = small {
            figures.set(key("small_n"), sn as f64);
            figures.set(
                key("small_accesses_executed"),
                (small_executed.0 + small_executed.1) as f64,
            );
            if let Some(fr) = fraction(small_executed) {
                figures.set(key("small_proven_fraction"), fr);
            }
            figures.set(key("small_native_ms"), ms(tn));
            figures.set(key("small_jit_ms"), ms(tj));
            figures.set(key("small_jit_vs_native"), tj / tn);
            figures.set(key("small_opt_ms"), ms(to));
            figures.set(key("small_opt_vs_native"), to / tn);
            figures.set(key("small_opt_vs_jit"), to / tj);
        }
        let (plain, optimise, pipeline) = translate;
        figures.set(key("translate_ms"), ms(plain));
        figures.set(key("optimize_ms"), ms(optimise));
        figures.set(key("opt_pipeline_ms"), ms(pipeline));
        figures.set(key("optimize_vs_translate"), optimise / plain);
        figures.set(key("opt_pipeline_vs_translate"), pipeline / plain);
        opt_rows.push(OptRow {
            name: k.name,
            static_acc,
            interp_n: k.interp_n,
            executed,
            small,
            translate,
        });
    }
    let count = KERNELS.len() as f64;
    let (geo_sp, geo_bt, geo_opt) = ((log_sp / count).exp(), (log_bt / count).exp(), (log_opt / count).exp());
    let geo = if default == Regalloc::SinglePass {
        geo_sp
    } else {
        geo_bt
    };
    figures.set("kernel_geomean_vs_native", geo);
    figures.set("kernel_geomean_vs_native_single_pass", geo_sp);
    figures.set("kernel_geomean_vs_native_backtracking", geo_bt);
    figures.set("kernel_geomean_opt_vs_native", geo_opt);
    let _ = writeln!(
        table,
        "geometric mean: single_pass {geo_sp:.2}x, backtracking {geo_bt:.2}x native \
         (target <= 3x, without optimisation); optimised {geo_opt:.2}x (target <= 1.5x per kernel)\n"
    );

    let _ = writeln!(
        table,
        "kernels through the interpreter, on smaller inputs: native re-timed on the same smaller input, \
         so x is per unit of work (interpreter median of {INTERP_ROUNDS})"
    );
    let _ = writeln!(
        table,
        "{:<10} {:>9} {:>10} {:>10} {:>8}",
        "kernel", "n", "native ms", "interp ms", "x"
    );
    for (name, n, tn, ti) in interp_rows {
        let _ = writeln!(
            table,
            "{name:<10} {n:>9} {:>10.3} {:>10.1} {:>8.0}",
            ms(tn),
            ms(ti),
            ti / tn
        );
    }

    opt_table(&opt_rows, figures, table);
}

fn opt_table(rows: &[OptRow], figures: &mut Figures, table: &mut String) {
    let _ = writeln!(
        table,
        "\nthe optimiser: memory accesses without a runtime check; static = in the optimised module, \
         executed = in one call in the interpreter (block entries x the verifier's proofs)"
    );
    let _ = writeln!(
        table,
        "{:<10} {:>13} {:>7} {:>9} {:>12} {:>7} {:>9} {:>10} {:>7}",
        "kernel", "static", "frac", "n", "executed", "proven", "small n", "executed", "proven"
    );
    for r in rows {
        let (sn, se, sf) = match r.small {
            Some((sn, se, _)) => (sn.to_string(), (se.0 + se.1).to_string(), fraction_text(se)),
            None => ("-".into(), "-".into(), "-".into()),
        };
        let _ = writeln!(
            table,
            "{:<10} {:>13} {:>7} {:>9} {:>12} {:>7} {:>9} {:>10} {:>7}",
            r.name,
            format!("{} / {}", r.static_acc.0, r.static_acc.0 + r.static_acc.1),
            fraction_text(r.static_acc),
            r.interp_n,
            r.executed.0 + r.executed.1,
            fraction_text(r.executed),
            sn,
            se,
            sf
        );
    }

    let _ = writeln!(
        table,
        "\nsmall inputs (the versioned copy runs): fastest of {SMALL_ROUNDS} alternating rounds; the JIT runs \
         call the kernel in a loop in IR (bench_repeat) for as many calls as native does in >= 20 ms"
    );
    let _ = writeln!(
        table,
        "{:<10} {:>9} {:>10} {:>10} {:>7} {:>10} {:>7} {:>9}",
        "kernel", "n", "native ms", "jit ms", "jit x", "opt ms", "opt x", "opt/jit"
    );
    for r in rows {
        if let Some((sn, _, [tn, tj, to])) = r.small {
            let _ = writeln!(
                table,
                "{:<10} {:>9} {:>10.3} {:>10.3} {:>7.2} {:>10.3} {:>7.2} {:>9.2}",
                r.name,
                sn,
                ms(tn),
                ms(tj),
                tj / tn,
                ms(to),
                to / tn,
                to / tj
            );
        }
    }

    let _ = writeln!(
        table,
        "\ntranslation with the optimiser (fastest of {KERNEL_TRANSLATE_ROUNDS} alternating rounds): plain = verify + translate; \
         pipeline = verify + optimise + verify + translate (capjit run --opt)"
    );
    let _ = writeln!(
        table,
        "{:<10} {:>9} {:>12} {:>8} {:>12} {:>8}",
        "kernel", "plain ms", "optimise ms", "/ plain", "pipeline ms", "/ plain"
    );
    let mut total = (0.0, 0.0, 0.0);
    let row = |table: &mut String, name: &str, (plain, opt, pipeline): (f64, f64, f64)| {
        let _ = writeln!(
            table,
            "{:<10} {:>9.2} {:>12.2} {:>8.2} {:>12.2} {:>8.2}",
            name,
            ms(plain),
            ms(opt),
            opt / plain,
            ms(pipeline),
            pipeline / plain
        );
    };
    for r in rows {
        row(table, r.name, r.translate);
        total.0 += r.translate.0;
        total.1 += r.translate.1;
        total.2 += r.translate.2;
    }
    row(table, "total", total);
    figures.set("kernels_translate_ms", ms(total.0));
    figures.set("kernels_optimize_ms", ms(total.1));
    figures.set("kernels_opt_pipeline_ms", ms(total.2));
    figures.set("kernels_optimize_vs_translate", total.1 / total.0);
    figures.set("kernels_opt_pipeline_vs_translate", total.2 / total.0);
}

/// The 1-minute load average (Linux), to tell a quiet machine from a busy one.
fn load_average() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

// ---- resources ------------------------------------------------------------------

/// Resident bytes of this process now (`/proc/self/statm`), if the host says.
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

const GROW_1G: &str = "domain big {
  memory 1 65536
  export func grow() -> i32 {
  block0:
    v0 = iconst.i32 16383
    v1 = memory.grow v0
    return v1
  }
}";

fn resources(figures: &mut Figures, table: &mut String) {
    // Growing to 1 GiB: the fastest of a few fresh instances, and the resident
    // memory the grown instance adds while its pages are untouched.
    let m = parse_module(GROW_1G).expect("the grow module parses");
    let big = capjit::Config {
        limits: Limits {
            max_memory_pages: 65536,
            ..unlimited()
        },
        ..capjit::Config::default()
    };
    let mut times = Vec::new();
    let mut resident = 0.0;
    for _ in 0..5 {
        let mut inst = Instance::new(&m, &big, Box::new(std::io::sink())).expect("instantiates");
        let before = resident_bytes();
        let started = Instant::now();
        let r = inst.invoke("big", "grow", &[]);
        times.push(secs(started.elapsed()));
        assert_eq!(r, Ok(vec![Val::I32(1)]), "grow to 1 GiB");
        assert_eq!(inst.memory("big").map(<[u8]>::len), Some(1 << 30));
        if let (Some(b), Some(a)) = (before, resident_bytes()) {
            resident = a.saturating_sub(b) as f64 / (1 << 20) as f64;
        }
    }
    let grow = fastest(times);
    figures.set("grow_1g_ms", ms(grow));
    figures.set("grow_1g_resident_mb", resident);
    let _ = writeln!(
        table,
        "\nresources: memory.grow to 1 GiB {:.3} ms (fastest of 5), resident after it {resident:.1} MiB (untouched)",
        ms(grow)
    );

    // Spectre guards: each kernel with and without, alternating rounds.
    let guarded = |on: bool| capjit::Config {
        translator: translator::Config {
            spectre_guards: on,
            ..translator::Config::default()
        },
        ..config(Backend::Jit, translator::Config::default().regalloc)
    };
    let mut log = 0.0;
    let _ = writeln!(
        table,
        "spectre guards: kernel time with guards / without (median of {KERNEL_ROUNDS} alternating rounds)"
    );
    for k in &KERNELS {
        let m = parse_module(k.src).unwrap_or_else(|e| panic!("{}: {e}", k.name));
        let arg = argument(&m, k, k.n);
        let mut on = Instance::new(&m, &guarded(true), Box::new(std::io::sink())).expect("instantiates");
        let mut off = Instance::new(&m, &guarded(false), Box::new(std::io::sink())).expect("instantiates");
        let want = invoke(&mut off, k, arg);
        let (mut t_on, mut t_off) = (Vec::new(), Vec::new());
        for _ in 0..KERNEL_ROUNDS {
            let (t, r) = timed(|| invoke(&mut on, k, arg));
            assert_eq!(r, want, "{} with guards", k.name);
            t_on.push(t);
            let (t, r) = timed(|| invoke(&mut off, k, arg));
            assert_eq!(r, want, "{} without guards", k.name);
            t_off.push(t);
        }
        let ratio = median(t_on) / median(t_off);
        log += ratio.ln();
        figures.set(format!("kernel_{}_spectre_guard_cost", k.name), ratio);
        let _ = writeln!(table, "  {:<10} {ratio:.3}", k.name);
    }
    let geo = (log / KERNELS.len() as f64).exp();
    figures.set("spectre_guard_cost", geo);
    let _ = writeln!(table, "  geometric mean {geo:.3}");
}

fn main() {
    idc::serve_echo_if_asked();
    let started = Instant::now();
    let mut figures = Figures::default();
    if let Some(l) = load_average() {
        println!(
            "load average at start: {l:.2} on {} CPUs\n",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        figures.set("load_average_start", l);
    }
    let only = std::env::var("CAPJIT_HEADLINE_ONLY").ok();
    let wanted = |section: &str| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|s| s.trim() == section))
    };
    if wanted("translation") {
        let mut table = String::new();
        translation(&mut figures, &mut table);
        print!("{table}");
    }
    if wanted("verify") {
        let mut table = String::new();
        verification(&mut figures, &mut table);
        print!("{table}");
    }
    if wanted("kernels") {
        let mut table2 = String::new();
        kernels(&mut figures, &mut table2);
        print!("{table2}");
    }
    if wanted("idc") {
        let calls = idc::measure(false);
        println!("\ninter-domain calls (JIT; median of repetitions, timed inside the IR)\n");
        print!("{}", idc::table(&calls));
        for (key, value) in &calls {
            figures.set(key, *value);
        }
    }
    if wanted("resources") {
        let mut table3 = String::new();
        resources(&mut figures, &mut table3);
        print!("{table3}");
    }
    let took = secs(started.elapsed());
    figures.set("bench_seconds", took);
    println!();
    if let Some(l) = load_average() {
        println!("load average at end: {l:.2}");
        figures.set("load_average_end", l);
    }
    println!("bench took {took:.1} s");

    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let path = dir.join("headline.json");
    match std::fs::write(&path, figures.json()) {
        Ok(()) => println!("wrote {}", path.display()),
        Err(e) => eprintln!("cannot write {}: {e}", path.display()),
    }
}
