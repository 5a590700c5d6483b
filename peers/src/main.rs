//! capjit side by side with Wasmtime on the same `.wasm` kernels, in one run.
//!
//! `cargo run --release --manifest-path peers/Cargo.toml` (see `peers/README.md`).
//! Prints three tables and writes one flat JSON object of numbers to
//! `<repo>/target/peers.json`:
//!
//! 1. **Compile time** of each kernel's `.wasm` bytes. capjit: Wasm frontend
//!    (`capjit_wasm::translate`) + verifier + translator (lower, Cranelift
//!    compile, link), each part reported; also the optimiser's pipeline
//!    (`optimize_and_verify`) in place of the plain verifier. Wasmtime:
//!    `Module::new` with Cranelift (default `Config`, on one thread, and set up like
//!    capjit's translator) and with Winch.
//! 2. **Run time** of each kernel's `run(n)` on an input that takes tens to
//!    hundreds of milliseconds: native Rust (the references of
//!    `benches/kernels/native.rs`), capjit's JIT (default config, with and without
//!    the optimiser), Wasmtime Cranelift (default; without signals-based traps, i.e.
//!    with explicit bounds checks like capjit; and set up like capjit's translator:
//!    no optimisation, NaN canonicalisation, explicit bounds checks), Winch.
//! 3. **Call cost**: a Wasm loop calling an imported `id(i64) -> i64` N times.
//!    Wasmtime: a `Func::wrap` host function, and the export of a second Wasm
//!    instance. capjit: the export of a second Wasm module, which the frontend
//!    puts in another domain, so every call is an inter-domain call (IDC), and a
//!    `HostFn` host function. The same loop with a direct call and with no call
//!    gives the baselines. Also the cost of one call from Rust into Wasm.
//!
//! `--quick` runs small sizes and few rounds (a smoke run); `--dump-ir` prints the
//! capjit IR the frontend makes of every kernel and stops.
//!
//! Every engine's result is checked against the native reference before timing,
//! and again on every timed call; any mismatch stops the run with exit code 1.
//! Timed configurations alternate within each round (after a warm-up), and the
//! median over the rounds is reported, with the fastest round next to it where the
//! machine's noise matters most.

#[path = "../../benches/kernels/native.rs"]
mod native;

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use capjit::ir::exec::Limits;
use capjit::ir::{HostCall, HostFn, Module as IrModule, Signature, Type, Val};
use capjit::translator;
use capjit::{Backend, Instance};
use capjit_wasm::WasmInput;

// ---- configuration -------------------------------------------------------------

/// One kernel: its `.wat` source, the argument timed, and a small argument checked first.
struct Kernel {
    name: &'static str,
    wat: &'static str,
    /// `run` takes an i64 (fib) or an i32 (the others).
    arg_i64: bool,
    n: i64,
    check_n: i64,
}

const KERNELS: [Kernel; 5] = [
    Kernel {
        name: "fib",
        wat: include_str!("../kernels/fib.wat"),
        arg_i64: true,
        n: 34,
        check_n: 20,
    },
    Kernel {
        name: "sieve",
        wat: include_str!("../kernels/sieve.wat"),
        arg_i64: false,
        n: 8_000_000,
        check_n: 1000,
    },
    Kernel {
        name: "matmul",
        wat: include_str!("../kernels/matmul.wat"),
        arg_i64: false,
        n: 256,
        check_n: 7,
    },
    Kernel {
        name: "crc32",
        wat: include_str!("../kernels/crc32.wat"),
        arg_i64: false,
        n: 8 << 20,
        check_n: 1000,
    },
    Kernel {
        name: "quicksort",
        wat: include_str!("../kernels/quicksort.wat"),
        arg_i64: false,
        n: 500_000,
        check_n: 1000,
    },
];

const CALL_APP_WAT: &str = include_str!("../kernels/hostcall_app.wat");
const CALL_CALLEE_WAT: &str = include_str!("../kernels/hostcall_callee.wat");

/// Rounds of each measurement (after one untimed warm-up round), and the call count of
/// the call-cost loops. `--quick` shrinks everything for a smoke run.
struct Plan {
    quick: bool,
    compile_rounds: usize,
    run_rounds: usize,
    call_rounds: usize,
    calls: i64,
    /// Kernel sizes are divided by this in quick mode (fib: minus a few).
    shrink: i64,
}

impl Plan {
    fn from_args() -> Plan {
        let quick = std::env::args().any(|a| a == "--quick");
        if quick {
            Plan {
                quick,
                compile_rounds: 3,
                run_rounds: 3,
                call_rounds: 3,
                calls: 200_000,
                shrink: 64,
            }
        } else {
            Plan {
                quick,
                compile_rounds: 11,
                run_rounds: 7,
                call_rounds: 9,
                calls: 10_000_000,
                shrink: 1,
            }
        }
    }

    fn size(&self, k: &Kernel) -> i64 {
        match (self.quick, k.name) {
            (false, _) => k.n,
            (true, "fib") => k.n - 8,
            (true, "matmul") => k.n / 4,
            (true, _) => k.n / self.shrink,
        }
    }
}

// ---- small helpers -------------------------------------------------------------

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn ms(s: f64) -> f64 {
    s * 1e3
}

fn median(mut v: Vec<f64>) -> f64 {
    assert!(!v.is_empty());
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

fn geomean(v: &[f64]) -> f64 {
    (v.iter().map(|x| x.ln()).sum::<f64>() / v.len() as f64).exp()
}

/// Stop the run: a result differs between engines, or something that must work did not.
fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("peers: FAILED: {msg}");
    std::process::exit(1);
}

fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `target/` of the repository (the root workspace's, not peers' own).
fn repo_target_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("target")
}

/// The flat JSON object written to `target/peers.json`: keys in insertion order.
#[derive(Default)]
struct Figures(Vec<(String, f64)>);

impl Figures {
    fn set(&mut self, key: impl Into<String>, v: f64) {
        let key = key.into();
        if let Some(e) = self.0.iter_mut().find(|(k, _)| *k == key) {
            e.1 = v;
        } else {
            self.0.push((key, v));
        }
    }

    fn json(&self) -> String {
        let mut s = String::from("{\n");
        for (i, (k, v)) in self.0.iter().enumerate() {
            let sep = if i + 1 == self.0.len() { "" } else { "," };
            let v = if v.is_finite() { format!("{v}") } else { "null".into() };
            let _ = writeln!(s, "  \"{k}\": {v}{sep}");
        }
        s.push_str("}\n");
        s
    }
}

/// Prints a line to stdout and keeps it for the summary.
struct Out(String);

impl Out {
    fn line(&mut self, s: impl AsRef<str>) {
        println!("{}", s.as_ref());
        self.0.push_str(s.as_ref());
        self.0.push('\n');
    }
}

// ---- capjit --------------------------------------------------------------------

/// Wasm bytes of each input to capjit IR, with the name of each export's function.
struct CapjitModule {
    module: IrModule,
    exports: Vec<capjit_wasm::ExportName>,
}

impl CapjitModule {
    /// `(domain, function)` of the Wasm export `wasm_name` of input `input`.
    fn export(&self, input: &str, wasm_name: &str) -> (String, String) {
        self.exports
            .iter()
            .find(|e| e.domain == input && e.wasm_name == wasm_name)
            .map(|e| (e.domain.clone(), e.function.clone()))
            .unwrap_or_else(|| fail(format!("capjit: no export `{wasm_name}` in domain `{input}`")))
    }
}

fn capjit_frontend(inputs: &[(&str, &[u8])]) -> Result<CapjitModule, String> {
    let inputs: Vec<WasmInput> = inputs
        .iter()
        .map(|(name, bytes)| WasmInput {
            name: name.to_string(),
            bytes,
        })
        .collect();
    let t = capjit_wasm::translate(&inputs).map_err(|e| format!("{e}"))?;
    Ok(CapjitModule {
        module: t.module,
        exports: t.exports,
    })
}

/// Seconds of each part of one capjit compile of `bytes`.
#[derive(Clone, Copy, Default)]
struct CapjitCompile {
    frontend: f64,
    verify: f64,
    lower: f64,
    compile: f64,
    link: f64,
    total: f64,
    /// The optimiser's pipeline instead of `verify`: optimise, verify the
    /// original and the result (`capjit::optimize_and_verify`).
    optimize_and_verify: f64,
    /// frontend + optimize_and_verify + translate of the optimised module.
    total_opt: f64,
}

fn capjit_compile_once(name: &str, bytes: &[u8], cfg: &translator::Config) -> CapjitCompile {
    let started = Instant::now();
    let m = capjit_frontend(&[(name, bytes)]).unwrap_or_else(|e| fail(e));
    let frontend_done = Instant::now();
    let verified =
        capjit::verifier::verify(&m.module).unwrap_or_else(|e| fail(format!("capjit: {name} does not verify: {e:?}")));
    let verified_at = Instant::now();
    let compiled = translator::translate(&verified, cfg).unwrap_or_else(|e| fail(format!("capjit: {name}: {e}")));
    let total = secs(started.elapsed());
    let mut c = CapjitCompile {
        frontend: secs(frontend_done - started),
        verify: secs(verified_at - frontend_done),
        lower: secs(compiled.stats.lower),
        compile: secs(compiled.stats.compile),
        link: secs(compiled.stats.link),
        total,
        ..CapjitCompile::default()
    };
    drop(black_box(compiled));
    drop(verified);

    // The same with the optimiser. The frontend time is the one measured above.
    let started = Instant::now();
    let out = capjit::optimize_and_verify(&m.module).unwrap_or_else(|e| fail(format!("capjit: {name}: {e:?}")));
    let optimized_at = Instant::now();
    let compiled = translator::translate(&out.verified, cfg).unwrap_or_else(|e| fail(format!("capjit: {name}: {e}")));
    let translated = secs(started.elapsed());
    c.optimize_and_verify = secs(optimized_at - started);
    c.total_opt = c.frontend + translated;
    drop(black_box(compiled));
    c
}

fn capjit_config() -> capjit::Config {
    capjit::Config {
        backend: Backend::Jit,
        limits: Limits {
            fuel: u64::MAX,
            ..Limits::default()
        },
        ..capjit::Config::default()
    }
}

/// A capjit instance of a translated module, plain or through the optimiser.
fn capjit_instance(m: &CapjitModule, optimize: bool) -> Instance {
    let cfg = capjit_config();
    let r = if optimize {
        let out = capjit::optimize_and_verify(&m.module).unwrap_or_else(|e| fail(format!("capjit: {e:?}")));
        if let Some(f) = &out.fallback {
            eprintln!("peers: note: the optimiser's output was not used: {f:?}");
        }
        Instance::from_verified(out.verified, &cfg, Box::new(std::io::sink()))
    } else {
        Instance::new(&m.module, &cfg, Box::new(std::io::sink()))
    };
    r.unwrap_or_else(|e| fail(format!("capjit: instantiate: {e}")))
}

fn capjit_call(inst: &mut Instance, (domain, func): &(String, String), arg: Val) -> i64 {
    match inst.invoke(domain, func, &[arg]).as_deref() {
        Ok([Val::I64(r)]) => *r,
        other => fail(format!("capjit: {domain}.{func}: {other:?}")),
    }
}

// ---- Wasmtime ------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Wt {
    /// `Config::default()`: Cranelift, signals-based traps (guard pages, no bounds checks).
    Cranelift,
    /// Cranelift with `signals_based_traps(false)`: explicit bounds checks, like capjit.
    CraneliftNoSignals,
    /// Cranelift with `parallel_compilation(false)`: compiles on the calling thread,
    /// like capjit (for compile time only).
    CraneliftOneThread,
    /// `Strategy::Winch`, Wasmtime's baseline compiler.
    Winch,
    /// Cranelift set up as capjit's translator sets it up: no optimisation
    /// (`opt_level` none), NaN canonicalisation, explicit bounds checks (no
    /// signals-based traps), one compile thread. What remains between this and
    /// capjit is capjit's IR, lowering and runtime checks.
    CapjitLike,
}

impl Wt {
    fn engine(self) -> wasmtime::Engine {
        let mut c = wasmtime::Config::new();
        match self {
            Wt::Cranelift => {}
            Wt::CraneliftNoSignals => {
                c.signals_based_traps(false);
            }
            Wt::CraneliftOneThread => {
                c.parallel_compilation(false);
            }
            Wt::Winch => {
                c.strategy(wasmtime::Strategy::Winch);
            }
            Wt::CapjitLike => {
                c.cranelift_opt_level(wasmtime::OptLevel::None)
                    .cranelift_nan_canonicalization(true)
                    .signals_based_traps(false)
                    .parallel_compilation(false);
            }
        }
        wasmtime::Engine::new(&c).unwrap_or_else(|e| fail(format!("wasmtime engine: {e:#}")))
    }
}

/// An instantiated kernel whose `run` is called with an i64 or an i32.
enum WtRun {
    I64(wasmtime::TypedFunc<i64, i64>),
    I32(wasmtime::TypedFunc<i32, i64>),
}

struct WtKernel {
    store: wasmtime::Store<()>,
    run: WtRun,
}

impl WtKernel {
    fn new(engine: &wasmtime::Engine, module: &wasmtime::Module) -> WtKernel {
        let mut store = wasmtime::Store::new(engine, ());
        let instance = wasmtime::Instance::new(&mut store, module, &[])
            .unwrap_or_else(|e| fail(format!("wasmtime: instantiate: {e:#}")));
        let run = match instance.get_typed_func::<i64, i64>(&mut store, "run") {
            Ok(f) => WtRun::I64(f),
            Err(_) => WtRun::I32(
                instance
                    .get_typed_func::<i32, i64>(&mut store, "run")
                    .unwrap_or_else(|e| fail(format!("wasmtime: run: {e:#}"))),
            ),
        };
        WtKernel { store, run }
    }

    fn call(&mut self, n: i64) -> i64 {
        let r = match &self.run {
            WtRun::I64(f) => f.call(&mut self.store, n),
            WtRun::I32(f) => f.call(&mut self.store, n as i32),
        };
        r.unwrap_or_else(|e| fail(format!("wasmtime: run({n}): {e:#}")))
    }
}

// ---- compile time --------------------------------------------------------------

struct CompileRow {
    capjit: Option<CapjitCompile>,
    /// capjit's fastest round (total).
    capjit_min: f64,
    /// Seconds for each of COMPILE_ENGINES, in that order: median, fastest round.
    wt: Vec<(f64, f64)>,
}

fn measure_compile(
    plan: &Plan,
    name: &str,
    bytes: &[u8],
    capjit_ok: bool,
    engines: &[(Wt, wasmtime::Engine)],
) -> CompileRow {
    // One thread, like the compile-time figures of the fast-translation issue.
    let cfg = translator::Config {
        threads: 1,
        ..translator::Config::default()
    };
    let engines: Vec<&(Wt, wasmtime::Engine)> = engines.iter().filter(|(w, _)| COMPILE_ENGINES.contains(w)).collect();
    let wt_once = |engine: &wasmtime::Engine| {
        let started = Instant::now();
        let m = wasmtime::Module::new(engine, bytes).unwrap_or_else(|e| fail(format!("wasmtime: {name}: {e:#}")));
        let t = secs(started.elapsed());
        drop(black_box(m));
        t
    };
    let mut capjit_runs = Vec::new();
    let mut wt_runs: Vec<Vec<f64>> = vec![Vec::new(); engines.len()];
    for round in 0..=plan.compile_rounds {
        let c = capjit_ok.then(|| capjit_compile_once(name, bytes, &cfg));
        let w: Vec<f64> = engines.iter().map(|(_, e)| wt_once(e)).collect();
        if round == 0 {
            continue; // warm-up
        }
        if let Some(c) = c {
            capjit_runs.push(c);
        }
        for (runs, t) in wt_runs.iter_mut().zip(w) {
            runs.push(t);
        }
    }
    let med = |f: fn(&CapjitCompile) -> f64| median(capjit_runs.iter().map(f).collect());
    let min_of = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    CompileRow {
        capjit: capjit_ok.then(|| CapjitCompile {
            frontend: med(|c| c.frontend),
            verify: med(|c| c.verify),
            lower: med(|c| c.lower),
            compile: med(|c| c.compile),
            link: med(|c| c.link),
            total: med(|c| c.total),
            optimize_and_verify: med(|c| c.optimize_and_verify),
            total_opt: med(|c| c.total_opt),
        }),
        capjit_min: capjit_runs.iter().map(|c| c.total).fold(f64::INFINITY, f64::min),
        wt: wt_runs.iter().map(|v| (median(v.clone()), min_of(v))).collect(),
    }
}

// ---- main ----------------------------------------------------------------------

/// `--dump-ir`: print the capjit IR the frontend makes of every kernel and of the
/// call loops, then stop.
fn dump_ir() {
    let call_app = wat::parse_str(CALL_APP_WAT).unwrap_or_else(|e| fail(e));
    let call_callee = wat::parse_str(CALL_CALLEE_WAT).unwrap_or_else(|e| fail(e));
    let mut sets: Vec<Vec<(&str, Vec<u8>)>> = KERNELS
        .iter()
        .map(|k| vec![(k.name, wat::parse_str(k.wat).unwrap_or_else(|e| fail(e)))])
        .collect();
    sets.push(vec![("callee", call_callee), ("app", call_app)]);
    for set in sets {
        let inputs: Vec<(&str, &[u8])> = set.iter().map(|(n, b)| (*n, b.as_slice())).collect();
        match capjit_frontend(&inputs) {
            Ok(m) => println!("{}", capjit::ir::print::print_module(&m.module)),
            Err(e) => println!("; {}: {e}", set[0].0),
        }
    }
}

fn main() {
    if std::env::args().any(|a| a == "--dump-ir") {
        dump_ir();
        return;
    }
    let plan = Plan::from_args();
    let started = Instant::now();
    let mut figures = Figures::default();
    let mut out = Out(String::new());
    let load_start = load_average();
    out.line(format!(
        "capjit vs Wasmtime {} ({}), {} CPUs, load average at start: {}",
        WASMTIME_VERSION,
        if plan.quick { "quick mode" } else { "full run" },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_start.map_or("?".into(), |l| format!("{l:.2}")),
    ));
    if let Some(l) = load_start {
        figures.set("load_average_start", l);
    }

    let engines: Vec<(Wt, wasmtime::Engine)> = [
        Wt::Cranelift,
        Wt::CraneliftNoSignals,
        Wt::Winch,
        Wt::CraneliftOneThread,
        Wt::CapjitLike,
    ]
    .into_iter()
    .map(|w| (w, w.engine()))
    .collect();
    let engine = |which: Wt| &engines.iter().find(|(w, _)| *w == which).expect("engine").1;

    // Every kernel to Wasm bytes once (the text parse is timed on neither side),
    // and to capjit IR: a kernel the frontend cannot take yet is reported and
    // measured in Wasmtime only.
    struct Prepared<'k> {
        k: &'k Kernel,
        bytes: Vec<u8>,
        capjit: Result<CapjitModule, String>,
    }
    let prepared: Vec<Prepared> = KERNELS
        .iter()
        .map(|k| {
            let bytes = wat::parse_str(k.wat).unwrap_or_else(|e| fail(format!("{}.wat: {e}", k.name)));
            let capjit = capjit_frontend(&[(k.name, &bytes)]);
            if let Err(e) = &capjit {
                out.line(format!("capjit cannot take {}.wasm yet: {e}", k.name));
            }
            Prepared { k, bytes, capjit }
        })
        .collect();

    // ---- run time: correctness first, then timing ----
    // Columns: native, the Wasmtime configurations of RUN_ENGINES, capjit, capjit+opt.
    let mut cols: Vec<(&str, &str)> = vec![("native", "native")];
    cols.extend(RUN_ENGINES.iter().map(|w| (w.column(), w.key())));
    cols.extend([("capjit", "capjit"), ("cj+opt", "capjit_opt")]);
    let base_col = 1; // Wasmtime Cranelift default
    let like_col = cols.iter().position(|c| c.1 == Wt::CapjitLike.key()).expect("wt-like");
    let mut run_table = String::new();
    let _ = writeln!(
        run_table,
        "run time of run(n) in ms, median of {} alternating rounds after a warm-up; x = time / Wasmtime Cranelift default",
        plan.run_rounds
    );
    let mut header = format!("{:<10} {:>8}", "kernel", "n");
    for (label, _) in &cols {
        let _ = write!(header, " {label:>8}");
    }
    for (label, _) in &cols[2..] {
        let _ = write!(header, " {:>8}", format!("{label} x"));
    }
    let _ = writeln!(run_table, "{header}");
    // Per column: ratios to Wasmtime (median, fastest round); and capjit / wt-like.
    let mut ratios: Vec<[Vec<f64>; 2]> = vec![Default::default(); cols.len()];
    let mut like_ratios: [Vec<f64>; 2] = Default::default();
    let mut opt_lines = String::from(
        "capjit's optimiser on the frontend's IR (static counts of loads and stores; \
         a proven one carries no bounds check):\n",
    );
    for p in &prepared {
        let k = p.k;
        let n = plan.size(k);
        let arg = |n: i64| if k.arg_i64 { Val::I64(n) } else { Val::I32(n as i32) };
        let reference = native::by_name(k.name).unwrap_or_else(|| fail(format!("no native {}", k.name)));
        let mut wt: Vec<(Wt, WtKernel)> = RUN_ENGINES
            .iter()
            .map(|w| {
                let e = engine(*w);
                let m =
                    wasmtime::Module::new(e, &p.bytes).unwrap_or_else(|e| fail(format!("wasmtime: {}: {e:#}", k.name)));
                (*w, WtKernel::new(e, &m))
            })
            .collect();
        let mut cj = p.capjit.as_ref().ok().map(|m| {
            let run = m.export(k.name, "run");
            (capjit_instance(m, false), capjit_instance(m, true), run)
        });
        // What the optimiser proved: memory accesses in the code, static counts.
        if let Ok(m) = &p.capjit {
            let plain = capjit::verifier::verify(&m.module)
                .unwrap_or_else(|e| fail(format!("capjit: {}: {e:?}", k.name)))
                .counts();
            let out = capjit::optimize_and_verify(&m.module).unwrap_or_else(|e| fail(format!("capjit: {e:?}")));
            let c = out.verified.counts();
            let key = |s: &str| format!("opt_{}_{s}", k.name);
            figures.set(key("accesses_proven_before"), plain.accesses_proven as f64);
            figures.set(key("accesses_checked_before"), plain.accesses_checked as f64);
            figures.set(key("accesses_proven"), c.accesses_proven as f64);
            figures.set(key("accesses_checked"), c.accesses_checked as f64);
            figures.set(key("fallback"), if out.fallback.is_some() { 1.0 } else { 0.0 });
            let _ = writeln!(
                opt_lines,
                "{:<10} {:>3} of {:>3} accesses proven before, {:>3} of {:>3} after{}",
                k.name,
                plain.accesses_proven,
                plain.accesses_proven + plain.accesses_checked,
                c.accesses_proven,
                c.accesses_proven + c.accesses_checked,
                if out.fallback.is_some() {
                    " (fallback: the original runs)"
                } else {
                    ""
                }
            );
        }
        // Every engine agrees with the native reference, on a small input and on n.
        for size in [k.check_n, n] {
            let want = reference(size);
            for (w, inst) in wt.iter_mut() {
                let got = inst.call(size);
                if got != want {
                    fail(format!(
                        "{}({size}): Wasmtime {} returned {got}, native {want}",
                        k.name,
                        w.label()
                    ));
                }
            }
            if let Some((plain, opt, run)) = cj.as_mut() {
                for (label, inst) in [("capjit", plain), ("capjit+opt", opt)] {
                    let got = capjit_call(inst, run, arg(size));
                    if got != want {
                        fail(format!("{}({size}): {label} returned {got}, native {want}", k.name));
                    }
                }
            }
        }
        let want = reference(n);
        let timed = |f: &mut dyn FnMut() -> i64, who: &str| {
            let t = Instant::now();
            let got = f();
            let s = secs(t.elapsed());
            if got != want {
                fail(format!(
                    "{}({n}): {who} returned {got} while timed, native {want}",
                    k.name
                ));
            }
            s
        };
        // t[col]: seconds of each round.
        let mut t: Vec<Vec<f64>> = vec![Vec::new(); cols.len()];
        for _ in 0..plan.run_rounds {
            t[0].push(timed(&mut || reference(black_box(n)), "native"));
            for (i, (w, inst)) in wt.iter_mut().enumerate() {
                t[1 + i].push(timed(&mut || inst.call(n), w.label()));
            }
            if let Some((plain, opt, run)) = cj.as_mut() {
                let c = 1 + RUN_ENGINES.len();
                t[c].push(timed(&mut || capjit_call(plain, run, arg(n)), "capjit"));
                t[c + 1].push(timed(&mut || capjit_call(opt, run, arg(n)), "capjit+opt"));
            }
        }
        let key = |s: &str| format!("run_{}_{s}", k.name);
        figures.set(key("n"), n as f64);
        let med: Vec<Option<f64>> = t.iter().map(|v| (!v.is_empty()).then(|| median(v.clone()))).collect();
        // The fastest round of each, the least disturbed on a shared machine.
        let min: Vec<Option<f64>> = t
            .iter()
            .map(|v| (!v.is_empty()).then(|| v.iter().copied().fold(f64::INFINITY, f64::min)))
            .collect();
        let mut row = format!("{:<10} {:>8}", k.name, n);
        for (c, (_, ckey)) in cols.iter().enumerate() {
            match (med[c], min[c]) {
                (Some(m), Some(f)) => {
                    figures.set(key(&format!("{ckey}_ms")), ms(m));
                    figures.set(key(&format!("{ckey}_min_ms")), ms(f));
                    let _ = write!(row, " {:>8.1}", ms(m));
                }
                _ => {
                    let _ = write!(row, " {:>8}", "-");
                }
            }
        }
        let (base, base_min) = (med[base_col].expect("wasmtime"), min[base_col].expect("wasmtime"));
        for (c, (_, ckey)) in cols.iter().enumerate().skip(2) {
            match (med[c], min[c]) {
                (Some(m), Some(f)) => {
                    figures.set(key(&format!("{ckey}_vs_wasmtime")), m / base);
                    figures.set(key(&format!("{ckey}_vs_wasmtime_min")), f / base_min);
                    ratios[c][0].push(m / base);
                    ratios[c][1].push(f / base_min);
                    let _ = write!(row, " {:>8.2}", m / base);
                }
                _ => {
                    let _ = write!(row, " {:>8}", "-");
                }
            }
        }
        let native = (med[0].expect("native"), min[0].expect("native"));
        figures.set(key("wasmtime_vs_native"), base / native.0);
        figures.set(key("wasmtime_vs_native_min"), base_min / native.1);
        ratios[0][0].push(base / native.0);
        ratios[0][1].push(base_min / native.1);
        let capjit_col = 1 + RUN_ENGINES.len();
        if let (Some(c), Some(cf)) = (med[capjit_col], min[capjit_col]) {
            let (l, lf) = (med[like_col].expect("wt-like"), min[like_col].expect("wt-like"));
            figures.set(key("capjit_vs_wasmtime_like"), c / l);
            figures.set(key("capjit_vs_wasmtime_like_min"), cf / lf);
            like_ratios[0].push(c / l);
            like_ratios[1].push(cf / lf);
        }
        let _ = writeln!(run_table, "{row}");
    }
    for (which, label) in [
        (0, "geometric mean of x"),
        (1, "the same from the fastest round of each"),
    ] {
        let mut line = format!("{label}:");
        for (c, (clabel, ckey)) in cols.iter().enumerate().skip(2) {
            if ratios[c][which].is_empty() {
                continue;
            }
            let g = geomean(&ratios[c][which]);
            let suffix = if which == 1 { "_min" } else { "" };
            figures.set(format!("run_geomean_{ckey}_vs_wasmtime{suffix}"), g);
            let _ = write!(line, " {clabel} {g:.2},");
        }
        let g = geomean(&ratios[0][which]);
        let suffix = if which == 1 { "_min" } else { "" };
        figures.set(format!("run_geomean_wasmtime_vs_native{suffix}"), g);
        let _ = write!(line, " Wasmtime / native {g:.2}");
        if !like_ratios[which].is_empty() {
            let g = geomean(&like_ratios[which]);
            figures.set(format!("run_geomean_capjit_vs_wasmtime_like{suffix}"), g);
            let _ = write!(line, ", capjit / wt-like {g:.2}");
        }
        let _ = writeln!(run_table, "{line}");
    }
    run_table.push_str(&opt_lines);

    // ---- compile time ----
    let mut compile_table = String::new();
    let _ = writeln!(
        compile_table,
        "compile time of each kernel's .wasm in ms, median of {} alternating rounds after a warm-up; \
         x <engine> = capjit total / that engine",
        plan.compile_rounds
    );
    let mut header = format!(
        "{:<10} {:>5} {:>8} {:>6} {:>6} {:>7} {:>5} {:>7} {:>7} {:>7}",
        "kernel", "bytes", "frontend", "verify", "lower", "compile", "link", "capjit", "opt+vfy", "cj+opt"
    );
    for w in COMPILE_ENGINES {
        let _ = write!(header, " {:>8}", w.column());
    }
    for w in COMPILE_ENGINES {
        let _ = write!(header, " {:>10}", format!("x {}", w.column()));
    }
    let _ = writeln!(compile_table, "{header}");
    // capjit / each engine: median, fastest round.
    let mut compile_ratios: Vec<[Vec<f64>; 2]> = vec![Default::default(); COMPILE_ENGINES.len()];
    let mut winch_compile_ratios = Vec::new();
    for p in &prepared {
        let k = p.k;
        let row = measure_compile(&plan, k.name, &p.bytes, p.capjit.is_ok(), &engines);
        let key = |s: &str| format!("compile_{}_{s}", k.name);
        figures.set(key("wasm_bytes"), p.bytes.len() as f64);
        for (w, (m, f)) in COMPILE_ENGINES.iter().zip(&row.wt) {
            figures.set(key(&format!("{}_ms", w.key())), ms(*m));
            figures.set(key(&format!("{}_min_ms", w.key())), ms(*f));
        }
        let wt_of = |which: Wt| row.wt[COMPILE_ENGINES.iter().position(|w| *w == which).expect("engine")];
        winch_compile_ratios.push(wt_of(Wt::Winch).0 / wt_of(Wt::Cranelift).0);
        let mut line = format!("{:<10} {:>5}", k.name, p.bytes.len());
        match &row.capjit {
            Some(c) => {
                figures.set(key("capjit_frontend_ms"), ms(c.frontend));
                figures.set(key("capjit_verify_ms"), ms(c.verify));
                figures.set(key("capjit_lower_ms"), ms(c.lower));
                figures.set(key("capjit_compile_ms"), ms(c.compile));
                figures.set(key("capjit_link_ms"), ms(c.link));
                figures.set(key("capjit_ms"), ms(c.total));
                figures.set(key("capjit_min_ms"), ms(row.capjit_min));
                figures.set(key("capjit_optimize_and_verify_ms"), ms(c.optimize_and_verify));
                figures.set(key("capjit_opt_ms"), ms(c.total_opt));
                let _ = write!(
                    line,
                    " {:>8.3} {:>6.3} {:>6.3} {:>7.3} {:>5.3} {:>7.3} {:>7.3} {:>7.3}",
                    ms(c.frontend),
                    ms(c.verify),
                    ms(c.lower),
                    ms(c.compile),
                    ms(c.link),
                    ms(c.total),
                    ms(c.optimize_and_verify),
                    ms(c.total_opt)
                );
            }
            None => {
                let _ = write!(
                    line,
                    " {:>8} {:>6} {:>6} {:>7} {:>5} {:>7} {:>7} {:>7}",
                    "-", "-", "-", "-", "-", "-", "-", "-"
                );
            }
        }
        for (m, _) in &row.wt {
            let _ = write!(line, " {:>8.3}", ms(*m));
        }
        for (i, (w, (m, f))) in COMPILE_ENGINES.iter().zip(&row.wt).enumerate() {
            match &row.capjit {
                Some(c) => {
                    figures.set(key(&format!("capjit_vs_{}", w.key())), c.total / m);
                    figures.set(key(&format!("capjit_vs_{}_min", w.key())), row.capjit_min / f);
                    compile_ratios[i][0].push(c.total / m);
                    compile_ratios[i][1].push(row.capjit_min / f);
                    let _ = write!(line, " {:>10.2}", c.total / m);
                }
                None => {
                    let _ = write!(line, " {:>10}", "-");
                }
            }
        }
        let _ = writeln!(compile_table, "{line}");
    }
    for (which, label) in [
        (0, "geometric mean of x"),
        (1, "the same from the fastest round of each"),
    ] {
        let mut line = format!("{label}:");
        for (i, w) in COMPILE_ENGINES.iter().enumerate() {
            if compile_ratios[i][which].is_empty() {
                continue;
            }
            let g = geomean(&compile_ratios[i][which]);
            let suffix = if which == 1 { "_min" } else { "" };
            figures.set(format!("compile_geomean_capjit_vs_{}{suffix}", w.key()), g);
            let _ = write!(line, " capjit / {} {g:.2},", w.column());
        }
        if which == 0 {
            let g = geomean(&winch_compile_ratios);
            figures.set("compile_geomean_winch_vs_wasmtime", g);
            let _ = write!(line, " winch / wasmtime {g:.2}");
        }
        let _ = writeln!(compile_table, "{}", line.trim_end_matches(','));
    }

    // ---- call cost ----
    let call_table = measure_calls(&plan, engine(Wt::Cranelift), &mut figures);

    out.line("");
    for line in compile_table
        .lines()
        .chain([""])
        .chain(run_table.lines())
        .chain([""])
        .chain(call_table.lines())
    {
        out.line(line);
    }
    let load_end = load_average();
    if let Some(l) = load_end {
        figures.set("load_average_end", l);
    }
    out.line("");
    out.line(format!(
        "load average at end: {}; took {:.1} s",
        load_end.map_or("?".into(), |l| format!("{l:.2}")),
        secs(started.elapsed())
    ));

    let dir = repo_target_dir();
    let path = dir.join("peers.json");
    if let Err(e) = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, figures.json())) {
        fail(format!("cannot write {}: {e}", path.display()));
    }
    println!("wrote {}", path.canonicalize().unwrap_or(path).display());
}

const WASMTIME_VERSION: &str = "48.0.0";

/// The Wasmtime configurations timed running the kernels, and compiling them.
const RUN_ENGINES: [Wt; 4] = [Wt::Cranelift, Wt::CraneliftNoSignals, Wt::CapjitLike, Wt::Winch];
const COMPILE_ENGINES: [Wt; 4] = [Wt::Cranelift, Wt::CraneliftOneThread, Wt::CapjitLike, Wt::Winch];

impl Wt {
    fn label(self) -> &'static str {
        match self {
            Wt::Cranelift => "Cranelift",
            Wt::CraneliftNoSignals => "Cranelift without signals",
            Wt::CraneliftOneThread => "Cranelift on one thread",
            Wt::Winch => "Winch",
            Wt::CapjitLike => "Cranelift set up like capjit",
        }
    }

    /// Column heading in the tables.
    fn column(self) -> &'static str {
        match self {
            Wt::Cranelift => "wasmtime",
            Wt::CraneliftNoSignals => "wt-nosig",
            Wt::CraneliftOneThread => "wt-1thr",
            Wt::Winch => "winch",
            Wt::CapjitLike => "wt-like",
        }
    }

    /// Part of the JSON keys.
    fn key(self) -> &'static str {
        match self {
            Wt::Cranelift => "wasmtime",
            Wt::CraneliftNoSignals => "wasmtime_nosignals",
            Wt::CraneliftOneThread => "wasmtime_one_thread",
            Wt::Winch => "winch",
            Wt::CapjitLike => "wasmtime_like",
        }
    }
}

// ---- call cost -----------------------------------------------------------------

/// The capjit host function behind `wasi_snapshot_preview1.peers_id`: returns its argument.
fn capjit_host_id() -> HostFn {
    let sig = Signature {
        params: vec![Type::I64],
        results: vec![Type::I64],
    };
    HostFn::new("wasi_peers_id", sig, |_: &mut HostCall<'_>, args: &[Val]| {
        Ok(args.to_vec())
    })
    .unwrap_or_else(|e| fail(format!("capjit: {e}")))
}

/// One timed configuration of the call loops: a label, a JSON key, and how to run
/// one loop of `n` iterations (returning its sum).
struct CallLoop<'a> {
    label: &'static str,
    key: &'static str,
    run: Box<dyn FnMut(i64) -> i64 + 'a>,
}

/// One call of a Wasmtime loop in `store`.
fn wt_loop<'a>(
    f: wasmtime::TypedFunc<i64, i64>,
    store: &'a std::cell::RefCell<wasmtime::Store<()>>,
) -> Box<dyn FnMut(i64) -> i64 + 'a> {
    Box::new(move |n| {
        f.call(&mut *store.borrow_mut(), n)
            .unwrap_or_else(|e| fail(format!("wasmtime: {e:#}")))
    })
}

/// ns per iteration of the loops of `hostcall_app.wat` in each setting, and the cost
/// of entering Wasm from the host.
fn measure_calls(plan: &Plan, engine: &wasmtime::Engine, figures: &mut Figures) -> String {
    let app = wat::parse_str(CALL_APP_WAT).unwrap_or_else(|e| fail(format!("hostcall_app.wat: {e}")));
    let callee = wat::parse_str(CALL_CALLEE_WAT).unwrap_or_else(|e| fail(format!("hostcall_callee.wat: {e}")));
    let n = plan.calls;
    let want = n * (n - 1) / 2;
    let mut table = String::new();
    let wt_err = |e: wasmtime::Error| -> ! { fail(format!("wasmtime: {e:#}")) };

    // Wasmtime, store `host`: both imports are `Func::wrap` closures. Store `wasm`:
    // `callee.id` is the export of an instance of hostcall_callee.wasm.
    let app_module = wasmtime::Module::new(engine, &app).unwrap_or_else(|e| wt_err(e));
    let callee_module = wasmtime::Module::new(engine, &callee).unwrap_or_else(|e| wt_err(e));
    let mut host_store = wasmtime::Store::new(engine, ());
    let host_id = wasmtime::Func::wrap(&mut host_store, |x: i64| -> i64 { x });
    let host_app = wasmtime::Instance::new(&mut host_store, &app_module, &[host_id.into(), host_id.into()])
        .unwrap_or_else(|e| wt_err(e));
    let mut wasm_store = wasmtime::Store::new(engine, ());
    let callee_inst = wasmtime::Instance::new(&mut wasm_store, &callee_module, &[]).unwrap_or_else(|e| wt_err(e));
    let wasm_id = callee_inst
        .get_func(&mut wasm_store, "id")
        .unwrap_or_else(|| fail("wasmtime: callee has no id"));
    let unused_host = wasmtime::Func::wrap(&mut wasm_store, |x: i64| -> i64 { x });
    let wasm_app = wasmtime::Instance::new(&mut wasm_store, &app_module, &[wasm_id.into(), unused_host.into()])
        .unwrap_or_else(|e| wt_err(e));
    let typed = |store: &mut wasmtime::Store<()>, inst: &wasmtime::Instance, name: &str| {
        inst.get_typed_func::<i64, i64>(store, name)
            .unwrap_or_else(|e| fail(format!("wasmtime: {name}: {e:#}")))
    };
    let [wt_host, wt_direct, wt_empty] =
        ["host_loop", "direct_loop", "empty_loop"].map(|l| typed(&mut host_store, &host_app, l));
    let wt_instance = typed(&mut wasm_store, &wasm_app, "import_loop");

    // capjit: two inputs, two domains; `callee.id` is an IDC, `peers_id` a host function.
    let capjit = capjit_frontend(&[("callee", &callee), ("app", &app)]);
    let mut cj = match &capjit {
        Ok(m) => {
            let cfg = capjit::Config {
                host_functions: vec![capjit_host_id()],
                ..capjit_config()
            };
            let inst = Instance::new(&m.module, &cfg, Box::new(std::io::sink()))
                .unwrap_or_else(|e| fail(format!("capjit: instantiate the call loops: {e}")));
            let names = ["import_loop", "host_loop", "direct_loop", "empty_loop"].map(|l| m.export("app", l));
            Some((std::cell::RefCell::new(inst), names))
        }
        Err(e) => {
            let _ = writeln!(table, "capjit cannot take the call loops yet: {e}");
            None
        }
    };

    // Host to Wasm: `empty_loop(0)` called ENTRIES times in a row, per call. Each
    // timed loop below includes one such entry (negligible next to N calls).
    const ENTRIES: usize = 200;
    let mut entry: [Vec<f64>; 2] = Default::default();
    for round in 0..=plan.call_rounds {
        let s = Instant::now();
        for _ in 0..ENTRIES {
            if wt_empty
                .call(&mut host_store, black_box(0))
                .unwrap_or_else(|e| wt_err(e))
                != 0
            {
                fail("wasmtime: empty_loop(0) is not 0");
            }
        }
        let wt_entry = secs(s.elapsed()) * 1e9 / ENTRIES as f64;
        if let Some((inst, names)) = &cj {
            let s = Instant::now();
            for _ in 0..ENTRIES {
                if capjit_call(&mut inst.borrow_mut(), &names[3], Val::I64(0)) != 0 {
                    fail("capjit: empty_loop(0) is not 0");
                }
            }
            if round > 0 {
                entry[1].push(secs(s.elapsed()) * 1e9 / ENTRIES as f64);
            }
        }
        if round > 0 {
            entry[0].push(wt_entry);
        }
    }

    // The loops, in the order of the table. The empty loop of each engine comes last.
    let host_store = std::cell::RefCell::new(host_store);
    let wasm_store = std::cell::RefCell::new(wasm_store);
    let mut loops: Vec<CallLoop> = vec![
        CallLoop {
            label: "Wasmtime host function (Func::wrap)",
            key: "wasmtime_host",
            run: wt_loop(wt_host, &host_store),
        },
        CallLoop {
            label: "Wasmtime instance-to-instance",
            key: "wasmtime_instance",
            run: wt_loop(wt_instance, &wasm_store),
        },
        CallLoop {
            label: "Wasmtime direct call",
            key: "wasmtime_direct",
            run: wt_loop(wt_direct, &host_store),
        },
        CallLoop {
            label: "Wasmtime empty loop",
            key: "wasmtime_empty",
            run: wt_loop(wt_empty, &host_store),
        },
    ];
    if let Some((inst, names)) = &cj {
        let labels = [
            ("capjit IDC (second Wasm module, other domain)", "capjit_idc"),
            ("capjit host function (HostFn)", "capjit_host"),
            ("capjit direct call", "capjit_direct"),
            ("capjit empty loop", "capjit_empty"),
        ];
        for ((label, key), name) in labels.into_iter().zip(names) {
            loops.push(CallLoop {
                label,
                key,
                run: Box::new(move |n| capjit_call(&mut inst.borrow_mut(), name, Val::I64(n))),
            });
        }
    }
    let mut t: Vec<Vec<f64>> = vec![Vec::new(); loops.len()];
    for round in 0..=plan.call_rounds {
        for (l, times) in loops.iter_mut().zip(t.iter_mut()) {
            let s = Instant::now();
            let got = (l.run)(n);
            let elapsed = secs(s.elapsed());
            if got != want {
                fail(format!("{}: sum {got}, expected {want}", l.label));
            }
            if round > 0 {
                times.push(elapsed * 1e9 / n as f64);
            }
        }
    }

    let _ = writeln!(
        table,
        "call cost: a Wasm loop of {n} calls to an imported id(i64) -> i64, timed from the host; \
         ns per iteration, median of {} rounds (net = minus the same engine's empty loop)",
        plan.call_rounds
    );
    let _ = writeln!(table, "{:<46} {:>9} {:>9} {:>9}", "", "ns/iter", "net ns", "fastest");
    let min_of = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let mut med = std::collections::HashMap::new();
    let mut fastest = std::collections::HashMap::new();
    for (i, l) in loops.iter().enumerate() {
        let empty_key = if l.key.starts_with("wasmtime") {
            "wasmtime_empty"
        } else {
            "capjit_empty"
        };
        let empty_i = loops.iter().position(|e| e.key == empty_key).expect("empty loop");
        let (v, empty, min) = (median(t[i].clone()), median(t[empty_i].clone()), min_of(&t[i]));
        let _ = writeln!(table, "{:<46} {v:>9.3} {:>9.3} {min:>9.3}", l.label, v - empty);
        figures.set(format!("call_{}_ns", l.key), v);
        figures.set(format!("call_{}_net_ns", l.key), v - empty);
        figures.set(format!("call_{}_min_ns", l.key), min);
        med.insert(l.key, (v, v - empty));
        fastest.insert(l.key, min);
    }
    if cj.is_some() {
        for (a, b, what) in [
            ("capjit_idc", "wasmtime_host", "capjit IDC / Wasmtime host call"),
            (
                "capjit_idc",
                "wasmtime_instance",
                "capjit IDC / Wasmtime instance-to-instance",
            ),
            ("capjit_host", "wasmtime_host", "capjit host call / Wasmtime host call"),
        ] {
            let (ratio, net, min) = (med[a].0 / med[b].0, med[a].1 / med[b].1, fastest[a] / fastest[b]);
            let key = format!("call_{a}_vs_{b}");
            figures.set(key.clone(), ratio);
            figures.set(format!("{key}_net"), net);
            figures.set(format!("{key}_min"), min);
            let _ = writeln!(table, "{what}: {ratio:.2} ({net:.2} net, {min:.2} fastest)");
        }
    }

    let _ = writeln!(
        table,
        "host to Wasm: one call of empty_loop(0) from Rust, {ENTRIES} in a row; ns per call, median (fastest)"
    );
    let wt_entry = median(entry[0].clone());
    figures.set("entry_wasmtime_ns", wt_entry);
    figures.set("entry_wasmtime_min_ns", min_of(&entry[0]));
    let _ = writeln!(
        table,
        "{:<46} {wt_entry:>9.0} ({:.0})",
        "Wasmtime TypedFunc::call",
        min_of(&entry[0])
    );
    if !entry[1].is_empty() {
        let cj_entry = median(entry[1].clone());
        figures.set("entry_capjit_ns", cj_entry);
        figures.set("entry_capjit_min_ns", min_of(&entry[1]));
        figures.set("entry_capjit_vs_wasmtime", cj_entry / wt_entry);
        let _ = writeln!(
            table,
            "{:<46} {cj_entry:>9.0} ({:.0})",
            "capjit Instance::invoke (a thread per call)",
            min_of(&entry[1])
        );
    }
    drop(loops);
    drop(cj.take());
    table
}
