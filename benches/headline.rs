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
//!   interpreter, on a smaller input against native re-timed on that same input.
//!
//! Run: `cargo bench --bench headline`. Prints a table and writes one flat JSON
//! object of numbers to `target/headline.json`. Every result is checked against the
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
use capjit::ir::{parse_module, Module, Type, Val};
use capjit::{Backend, Instance};
use capjit_translator::{self as translator, Regalloc};
use cranelift_codegen::ir::{types, AbiParam, Function, Signature};
use cranelift_codegen::Context;
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, Linkage, Module as _};

/// IR instructions in the generated module translated for the speed figures.
const TRANSLATE_SIZE: usize = 50_000;
const TRANSLATE_ROUNDS: usize = 5;
const KERNEL_ROUNDS: usize = 7;
const INTERP_ROUNDS: usize = 3;

/// A kernel: its source, the argument for the JIT and native runs (chosen so that
/// native takes ~10-100 ms), and the smaller one for the interpreter.
struct Kernel {
    name: &'static str,
    src: &'static str,
    n: i64,
    interp_n: i64,
}

const KERNELS: [Kernel; 5] = [
    Kernel {
        name: "fib",
        src: include_str!("kernels/fib.cir"),
        n: 34,
        interp_n: 25,
    },
    Kernel {
        name: "sieve",
        src: include_str!("kernels/sieve.cir"),
        n: 8_000_000,
        interp_n: 500_000,
    },
    Kernel {
        name: "matmul",
        src: include_str!("kernels/matmul.cir"),
        n: 256,
        interp_n: 64,
    },
    Kernel {
        name: "crc32",
        src: include_str!("kernels/crc32.cir"),
        n: 8 << 20,
        interp_n: 1 << 19,
    },
    Kernel {
        name: "quicksort",
        src: include_str!("kernels/quicksort.cir"),
        n: 300_000,
        interp_n: 30_000,
    },
];

fn median(mut v: Vec<f64>) -> f64 {
    assert!(!v.is_empty());
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
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
    let verified = capjit_verifier::verify(m).expect("the generated module verifies");
    let verified_at = Instant::now();
    let compiled = translator::translate(&verified, cfg).expect("the generated module translates");
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
    let helpers = capjit_tcb::helpers::symbols();
    for (name, ptr) in &helpers {
        builder.symbol(*name, *ptr);
    }
    let mut jit = JITModule::new(builder);
    // The signature of an import is not used when the calling CLIF carries its own.
    let mut helper_sig = Signature::new(call_conv);
    helper_sig.params.push(AbiParam::new(types::I64));
    helper_sig.returns.push(AbiParam::new(types::I32));
    for (name, _) in &helpers {
        jit.declare_function(name, Linkage::Import, &helper_sig)
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

fn translation(figures: &mut Figures, table: &mut String) {
    let default = translator::Config::default();
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
        "default ({}, verifier {}): capjit / Cranelift only = {:.2} (target >= 0.90)\n",
        regalloc_name(default.regalloc),
        if default.cranelift_verifier { "on" } else { "off" },
        rates[d] / cl_rates[dc]
    );
}

// ---- kernels --------------------------------------------------------------------

fn instance(m: &Module, backend: Backend, regalloc: Regalloc) -> Instance {
    let config = capjit::Config {
        backend,
        limits: Limits {
            fuel: u64::MAX,
            ..Limits::default()
        },
        translator: translator::Config {
            regalloc,
            ..translator::Config::default()
        },
        ..capjit::Config::default()
    };
    Instance::new(m, &config, Box::new(std::io::sink())).expect("the kernel instantiates")
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

fn kernels(figures: &mut Figures, table: &mut String) {
    let default = translator::Config::default().regalloc;
    let _ = writeln!(
        table,
        "kernels through the JIT vs native Rust on the same input (median of {KERNEL_ROUNDS} alternating rounds; \
         x = time / native; default regalloc {})",
        regalloc_name(default)
    );
    let _ = writeln!(
        table,
        "{:<10} {:>9} {:>10} {:>10} {:>7} {:>10} {:>7}",
        "kernel", "n", "native ms", "sp ms", "sp x", "bt ms", "bt x"
    );
    let mut interp_rows = Vec::new();
    // Sums of ln(time / native): single_pass, backtracking.
    let (mut log_sp, mut log_bt) = (0.0, 0.0);
    for k in &KERNELS {
        let m = parse_module(k.src).unwrap_or_else(|e| panic!("{}: {e}", k.name));
        let f = native::by_name(k.name).expect("native reference");
        let arg = argument(&m, k, k.n);
        let want = f(k.n);
        let mut sp = instance(&m, Backend::Jit, Regalloc::SinglePass);
        let mut bt = instance(&m, Backend::Jit, Regalloc::Backtracking);
        assert_eq!(invoke(&mut sp, k, arg), want, "{} single_pass", k.name);
        assert_eq!(invoke(&mut bt, k, arg), want, "{} backtracking", k.name);
        let (mut tn, mut tsp, mut tbt) = (Vec::new(), Vec::new(), Vec::new());
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
        }
        drop((sp, bt));
        let (n, s, b) = (median(tn), median(tsp), median(tbt));
        let _ = writeln!(
            table,
            "{:<10} {:>9} {:>10.1} {:>10.1} {:>7.2} {:>10.1} {:>7.2}",
            k.name,
            k.n,
            ms(n),
            ms(s),
            s / n,
            ms(b),
            b / n
        );
        let jit = if default == Regalloc::SinglePass { s } else { b };
        log_sp += (s / n).ln();
        log_bt += (b / n).ln();
        let key = |s: &str| format!("kernel_{}_{s}", k.name);
        figures.set(key("n"), k.n as f64);
        figures.set(key("native_ms"), ms(n));
        figures.set(key("jit_ms"), ms(jit));
        figures.set(key("vs_native"), jit / n);
        figures.set(key("jit_ms_single_pass"), ms(s));
        figures.set(key("vs_native_single_pass"), s / n);
        figures.set(key("jit_ms_backtracking"), ms(b));
        figures.set(key("vs_native_backtracking"), b / n);

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
        let (i, n) = (median(ti), native_batched(f, k.interp_n));
        interp_rows.push((k.name, k.interp_n, n, i));
        let key = |s: &str| format!("interp_{}_{s}", k.name);
        figures.set(key("n"), k.interp_n as f64);
        figures.set(key("native_ms"), ms(n));
        figures.set(key("ms"), ms(i));
        figures.set(key("vs_native"), i / n);
    }
    let (geo_sp, geo_bt) = (
        (log_sp / KERNELS.len() as f64).exp(),
        (log_bt / KERNELS.len() as f64).exp(),
    );
    let geo = if default == Regalloc::SinglePass {
        geo_sp
    } else {
        geo_bt
    };
    figures.set("kernel_geomean_vs_native", geo);
    figures.set("kernel_geomean_vs_native_single_pass", geo_sp);
    figures.set("kernel_geomean_vs_native_backtracking", geo_bt);
    let _ = writeln!(
        table,
        "geometric mean: single_pass {geo_sp:.2}x, backtracking {geo_bt:.2}x native \
         (target <= 3x, without optimisation)\n"
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
}

/// The 1-minute load average (Linux), to tell a quiet machine from a busy one.
fn load_average() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
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
    let mut table = String::new();
    translation(&mut figures, &mut table);
    print!("{table}");
    let mut table2 = String::new();
    kernels(&mut figures, &mut table2);
    print!("{table2}");
    let calls = idc::measure(false);
    println!("\ninter-domain calls (JIT; median of repetitions, timed inside the IR)\n");
    print!("{}", idc::table(&calls));
    for (key, value) in &calls {
        figures.set(key, *value);
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
