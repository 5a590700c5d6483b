//! The Wasm path, differentially: valid modules from `wasm-smith`, restricted to
//! what the frontend supports, go through the frontend and the verifier, then
//! run on the JIT, on the reference interpreter and (with the `wasmi` feature)
//! on wasmi, call by call, and every observable result is compared.
//!
//! A case is one module `a`, or (half the time) two: `b` imports some of `a`'s
//! exported functions, so calls cross domains (`call_cap`, a callee's trap
//! re-raised in its caller), also through `b`'s table.
//!
//! What is a bug (an `Err(Bug)` from [`check`], a panic in the fuzz target):
//! - the frontend refuses valid modules for any reason but `Unsupported`,
//!   `Limit` or `Instantiation` (a segment out of bounds: then wasmi must refuse
//!   to instantiate too);
//! - the verifier rejects the frontend's output;
//! - the JIT and the interpreter differ in anything: instantiation, start
//!   functions, each call's results (floats by bits) or trap (code and
//!   location), every domain's memory, fuel and status after each call;
//! - wasmi differs from them in instantiation (a data or element segment out of
//!   bounds, a start function that traps), a call's results (floats by bits:
//!   both canonicalise the NaNs arithmetic makes) or whether and how it traps
//!   (codes mapped, see [`same_trap`]), memories after a call, or the exported
//!   globals after a call that returned (read through the frontend's getters).
//!   Fuel and stack exhaustion are not comparable (the engines count
//!   differently): once either side runs out of fuel or stack, wasmi is not
//!   compared any more.
//!
//! State: a trap faults capjit domains; after one, every domain is restarted
//! (memory, globals, fuel back to the image) and the start functions run again
//! in input order, and wasmi gets fresh instances, so the engines stay in step.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use arbitrary::Unstructured;
use capjit::ir::exec::{Limits, RunError};
use capjit::ir::{TrapCode, Type, Val};
use capjit::{Backend, Config, Instance};
use capjit_wasm::{translate, Translated, WasmErrorKind, WasmInput};

/// Pages of linear memory the runtime allows (capjit's `max_memory_pages`,
/// wasmi's store limit); also the most wasm-smith declares.
pub const MAX_PAGES: u32 = 4;
/// capjit fuel per domain (reset on restart): a function entry or a backward
/// branch costs one unit.
pub const FUEL: u64 = 5_000;
/// capjit call depth.
pub const CALL_DEPTH: u32 = 100;
/// wasmi fuel per call: it counts instructions, so it has to be much more than
/// capjit's; running out only stops the comparison with wasmi.
pub const WASMI_FUEL: u64 = 20_000_000;
/// wasmi recursion depth: deeper than capjit's, so that capjit runs out first.
pub const WASMI_DEPTH: usize = 1_000;
/// Calls of exported functions per module (each export in turn, round after round).
pub const MAX_CALLS: usize = 24;

/// What a non-null funcref is compared as with wasmi: which function it names is
/// not comparable between engines (each numbers its own).
pub const SOME_FUNC: u32 = u32::MAX;

/// A capjit result as it is compared with wasmi's.
fn comparable(v: &Val) -> Val {
    match *v {
        Val::FuncRef(Some(_)) => Val::FuncRef(Some(SOME_FUNC)),
        other => other,
    }
}

/// A generated test case: the module and how to call it.
#[derive(Clone, Debug)]
pub struct Case {
    /// The modules, named `a`, `b`, ... in this order (a later one may import
    /// from an earlier one).
    pub wasm: Vec<Vec<u8>>,
    /// Seeds the argument values.
    pub arg_seed: u64,
    /// Rounds of calls over the exports.
    pub rounds: u32,
}

/// What happened to a case (for statistics and tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// wasm-smith could not build a module from the input.
    NoModule,
    /// The frontend says `unsupported` (or `Limit`).
    Unsupported,
    /// A segment out of bounds: the frontend and wasmi both refuse it.
    InstantiationFails,
    /// A start function trapped (in every engine alike).
    StartTraps,
    /// Ran; `calls` calls compared between the JIT and the interpreter,
    /// `wasmi_calls` of them with wasmi too.
    Ran { calls: usize, wasmi_calls: usize },
}

/// A disagreement, readable.
#[derive(Clone, Debug)]
pub struct Bug(pub String);

/// Counters over a run, printed with `CAPJIT_FUZZ_STATS=1`.
#[derive(Default)]
pub struct Stats {
    pub cases: AtomicU64,
    pub no_module: AtomicU64,
    pub unsupported: AtomicU64,
    pub instantiation: AtomicU64,
    pub start_traps: AtomicU64,
    pub ran: AtomicU64,
    pub calls: AtomicU64,
    pub wasmi_calls: AtomicU64,
}

pub static STATS: Stats = Stats {
    cases: AtomicU64::new(0),
    no_module: AtomicU64::new(0),
    unsupported: AtomicU64::new(0),
    instantiation: AtomicU64::new(0),
    start_traps: AtomicU64::new(0),
    ran: AtomicU64::new(0),
    calls: AtomicU64::new(0),
    wasmi_calls: AtomicU64::new(0),
};

impl Stats {
    pub fn record(&self, o: Outcome) {
        self.cases.fetch_add(1, Relaxed);
        let c = match o {
            Outcome::NoModule => &self.no_module,
            Outcome::Unsupported => &self.unsupported,
            Outcome::InstantiationFails => &self.instantiation,
            Outcome::StartTraps => &self.start_traps,
            Outcome::Ran { calls, wasmi_calls } => {
                self.calls.fetch_add(calls as u64, Relaxed);
                self.wasmi_calls.fetch_add(wasmi_calls as u64, Relaxed);
                &self.ran
            }
        };
        c.fetch_add(1, Relaxed);
    }

    pub fn summary(&self) -> String {
        let g = |c: &AtomicU64| c.load(Relaxed);
        format!(
            "cases {} (no module {}, unsupported {}, instantiation fails {}, start traps {}, ran {}): calls {}, with wasmi {}",
            g(&self.cases),
            g(&self.no_module),
            g(&self.unsupported),
            g(&self.instantiation),
            g(&self.start_traps),
            g(&self.ran),
            g(&self.calls),
            g(&self.wasmi_calls)
        )
    }
}

/// The wasm-smith configuration: the frontend's features only (see
/// `capjit_wasm::features`), no imports, small sizes; a few knobs come from the
/// input.
pub fn smith_config(u: &mut Unstructured<'_>) -> arbitrary::Result<wasm_smith::Config> {
    let knobs: u8 = u.arbitrary()?;
    Ok(wasm_smith::Config {
        // The frontend's scope.
        simd_enabled: false,
        relaxed_simd_enabled: false,
        // Reference types in half the cases: funcref/externref values, several
        // tables, table.* and ref.* operators, passive and declared segments.
        reference_types_enabled: knobs & 0x40 != 0,
        threads_enabled: false,
        shared_everything_threads_enabled: false,
        tail_call_enabled: false,
        exceptions_enabled: false,
        gc_enabled: false,
        custom_descriptors_enabled: false,
        memory64_enabled: false,
        custom_page_sizes_enabled: false,
        extended_const_enabled: false,
        wide_arithmetic_enabled: false,
        compact_imports_enabled: false,
        bulk_memory_enabled: true,
        multi_value_enabled: true,
        saturating_float_to_int_enabled: true,
        sign_extension_ops_enabled: true,
        max_memories: 1,
        max_tables: if knobs & 0x40 != 0 { 3 } else { 1 },
        max_imports: 0,
        max_tags: 0,
        max_memory32_bytes: u64::from(MAX_PAGES) * 65536,
        max_table_elements: 64,
        max_elements: 32,
        max_element_segments: 6,
        max_data_segments: 6,
        max_funcs: 10,
        min_funcs: 2,
        min_types: 1,
        max_globals: 8,
        max_types: 16,
        max_exports: 16,
        max_instructions: 120,
        max_nesting_depth: 8,
        export_everything: true,
        allow_start_export: true,
        canonicalize_nans: knobs & 7 != 0,
        generate_custom_sections: knobs & 0x38 == 0,
        ..wasm_smith::Config::default()
    })
}

/// The name of input `i`.
pub fn module_name(i: usize) -> String {
    ((b'a' + i as u8) as char).to_string()
}

/// The case an input describes: 8 bytes of argument seed, knobs, then
/// wasm-smith's choices. `None` if wasm-smith cannot build a module.
pub fn generate(data: &[u8]) -> Option<Case> {
    let mut u = Unstructured::new(data);
    let arg_seed: u64 = u.arbitrary().ok()?;
    let rounds = u.int_in_range(1..=3u32).ok()?;
    let two = u.arbitrary::<bool>().ok()?;
    let a = smith(&mut u, None)?;
    let mut wasm = vec![a];
    if two {
        if let Some(imports) = importable(&wasm[0]) {
            wasm.push(smith(&mut u, Some(imports))?);
        }
    }
    Some(Case { wasm, arg_seed, rounds })
}

/// One module; `imports`: a module of imports it may choose from.
fn smith(u: &mut Unstructured<'_>, imports: Option<Vec<u8>>) -> Option<Vec<u8>> {
    // Most modules count their own fuel (a global, decremented at function
    // entries and loop heads; `unreachable` when it is gone): then all engines
    // stop in the same place and wasmi stays comparable after endless loops.
    let wasm_fuel: Option<u32> = match u.int_in_range(0..=3u8).ok()? {
        0 => None,
        _ => Some(u.int_in_range(20..=400u32).ok()?),
    };
    let mut config = smith_config(u).ok()?;
    if imports.is_some() {
        config.max_imports = 8;
        config.available_imports = imports;
    }
    let mut module = wasm_smith::Module::new(config, u).ok()?;
    if let Some(fuel) = wasm_fuel {
        module.ensure_termination(fuel).ok()?;
    }
    Some(module.to_bytes())
}

/// A module whose imports are the function exports of `a` that take and return
/// numbers only (for wasm-smith's `available_imports`), or `None` if it has none
/// (or does not translate).
fn importable(a: &[u8]) -> Option<Vec<u8>> {
    let t = translate(&[WasmInput {
        name: module_name(0),
        bytes: a,
    }])
    .ok()?;
    let d = &t.module.domains[0];
    let mut wat = String::from("(module");
    let mut any = false;
    for e in &t.exports {
        let f = d.functions.iter().find(|f| f.name == e.function)?;
        // References do not cross domains: such a function is for the host only.
        if f.sig
            .params
            .iter()
            .chain(&f.sig.results)
            .any(|t| t.ref_type().is_some())
        {
            continue;
        }
        any = true;
        let ty = |ts: &[Type]| {
            ts.iter()
                .map(|t| match t {
                    Type::I32 => " i32",
                    Type::I64 => " i64",
                    Type::F32 => " f32",
                    _ => " f64",
                })
                .collect::<String>()
        };
        let _ = write!(
            wat,
            "\n (import \"{}\" \"{}\" (func (param{}) (result{})))",
            module_name(0),
            wat_string(&e.wasm_name),
            ty(&f.sig.params),
            ty(&f.sig.results)
        );
    }
    wat.push(')');
    if !any {
        return None;
    }
    capjit_wasm::to_wasm_binary(wat.as_bytes()).ok()
}

/// A name as the inside of a `.wat` string.
fn wat_string(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c.to_string(),
            _ => format!("\\u{{{:x}}}", c as u32),
        })
        .collect()
}

/// Generate and check; a panic on a bug, with the module as text.
pub fn fuzz_one(data: &[u8]) {
    let Some(case) = generate(data) else {
        STATS.record(Outcome::NoModule);
        return;
    };
    if let Some(dir) = std::env::var_os("CAPJIT_FUZZ_WASM") {
        let dir = std::path::Path::new(&dir);
        for (i, w) in case.wasm.iter().enumerate() {
            let _ = std::fs::write(dir.join(format!("{}.wasm", module_name(i))), w);
        }
    }
    match check(&case) {
        Ok(o) => STATS.record(o),
        Err(Bug(msg)) => panic!("{msg}\n\n{}", describe(&case)),
    }
    if std::env::var_os("CAPJIT_FUZZ_STATS").is_some() && STATS.cases.load(Relaxed).is_multiple_of(500) {
        eprintln!("wasm_diff: {}", STATS.summary());
    }
}

/// The case as text: call plan and the modules (`wasmprinter`).
pub fn describe(case: &Case) -> String {
    let mut out = format!(
        "arguments seed {:#x}, {} round(s) of calls; set CAPJIT_FUZZ_WASM=DIR to save the binaries",
        case.arg_seed, case.rounds
    );
    for (i, w) in case.wasm.iter().enumerate() {
        let text = wasmprinter::print_bytes(w).unwrap_or_else(|e| format!("(wasmprinter: {e})"));
        let _ = write!(out, "\n--- module `{}`\n{text}", module_name(i));
    }
    out
}

/// splitmix64: the argument values.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn val(&mut self, t: &Type) -> Val {
        // Edge values half the time: zero, ones, signs, page boundaries.
        const INTS: [i64; 12] = [
            0,
            1,
            -1,
            2,
            7,
            8,
            65535,
            65536,
            0x7fff_ffff,
            i32::MIN as i64,
            i64::MAX,
            i64::MIN,
        ];
        let edge = self.below(2) == 0;
        let pick = self.below(INTS.len() as u64) as usize;
        let r = self.next();
        match t {
            Type::I32 => Val::I32(if edge { INTS[pick] as i32 } else { r as i32 }),
            Type::I64 => Val::I64(if edge { INTS[pick] } else { r as i64 }),
            Type::F32 => {
                const F: [u32; 8] = [
                    0,
                    0x8000_0000,
                    0x3f80_0000,
                    0x7f80_0000,
                    0xff80_0000,
                    0x7fc0_0000,
                    0x7fa0_0001,
                    0x4f00_0000,
                ];
                Val::F32(if edge { F[pick % F.len()] } else { r as u32 })
            }
            Type::F64 => {
                const F: [u64; 8] = [
                    0,
                    0x8000_0000_0000_0000,
                    0x3ff0_0000_0000_0000,
                    0x7ff0_0000_0000_0000,
                    0xfff0_0000_0000_0000,
                    0x7ff8_0000_0000_0000,
                    0xfff4_0000_0000_0001,
                    0x43e0_0000_0000_0000,
                ];
                Val::F64(if edge { F[pick % F.len()] } else { r })
            }
            // The host holds no function of the domain: a funcref argument is null.
            Type::FuncRef => Val::FuncRef(None),
            Type::ExternRef => Val::ExternRef((!edge).then_some(r as u32)),
            _ => Val::I32(0),
        }
    }
}

fn limits() -> Limits {
    Limits {
        fuel: FUEL,
        max_call_depth: CALL_DEPTH,
        max_memory_pages: MAX_PAGES,
        ..Limits::default()
    }
}

fn engine(module: &capjit::ir::Module, backend: Backend) -> Result<Instance, String> {
    let config = Config {
        backend,
        limits: limits(),
        max_stack_size: 16 << 20,
        ..Config::default()
    };
    Instance::new(module, &config, Box::new(std::io::sink())).map_err(|e| e.to_string())
}

/// One call's outcome in capjit terms: results, or a trap code.
type Res = Result<Vec<Val>, RunError>;

fn show(r: &Res) -> String {
    match r {
        Ok(v) => format!("returned {}", show_vals(v)),
        Err(RunError::Trap(t)) => format!("trapped: {t}"),
        Err(e) => format!("failed: {e}"),
    }
}

fn show_vals(v: &[Val]) -> String {
    let items: Vec<String> = v
        .iter()
        .map(|v| match v {
            Val::F32(b) => format!("f32:{b:#010x}({})", f32::from_bits(*b)),
            Val::F64(b) => format!("f64:{b:#018x}({})", f64::from_bits(*b)),
            other => format!("{other:?}"),
        })
        .collect();
    format!("[{}]", items.join(", "))
}

/// The first byte where two memories differ, described.
fn memory_difference(a: &[u8], b: &[u8]) -> Option<String> {
    if a.len() != b.len() {
        return Some(format!("memory sizes differ: {} vs {} bytes", a.len(), b.len()));
    }
    // `==` is one memcmp; the byte loop (slow under coverage instrumentation)
    // only runs to describe a difference.
    if a == b {
        return None;
    }
    let i = a.iter().zip(b).position(|(x, y)| x != y)?;
    let end = (i + 16).min(a.len());
    Some(format!(
        "memories differ from byte {i:#x}: {:02x?} vs {:02x?}",
        &a[i..end],
        &b[i..end]
    ))
}

/// The JIT and the interpreter side by side.
struct Capjit {
    jit: Instance,
    interp: Instance,
    /// Every domain, in input order.
    domains: Vec<String>,
    /// (domain, start function wrapper), in input order.
    starts: Vec<(String, String)>,
}

impl Capjit {
    /// Call `f` of `domain` on both; any difference is a bug.
    fn call(&mut self, domain: &str, f: &str, args: &[Val], what: &str) -> Result<Res, Bug> {
        let i = self.interp.invoke(domain, f, args);
        let j = self.jit.invoke(domain, f, args);
        for (name, r) in [("interpreter", &i), ("JIT", &j)] {
            if let Err(e @ (RunError::Invalid(_) | RunError::BadInvoke(_) | RunError::Output(_) | RunError::Exit(_))) =
                r
            {
                return Err(Bug(format!("{what}: the {name} fails on a verified module: {e}")));
            }
        }
        if i != j {
            return Err(Bug(format!(
                "{what}: the JIT and the interpreter disagree\n  interpreter: {}\n  JIT:         {}",
                show(&i),
                show(&j)
            )));
        }
        for d in &self.domains {
            let (mi, mj) = (self.interp.memory(d), self.jit.memory(d));
            if let Some(diff) = memory_difference(mi.unwrap_or(&[]), mj.unwrap_or(&[])) {
                return Err(Bug(format!(
                    "{what}: after the call ({}), interpreter vs JIT: `{d}`'s {diff}",
                    show(&i)
                )));
            }
            let (fi, fj) = (self.interp.fuel(d), self.jit.fuel(d));
            let (si, sj) = (self.interp.status(d), self.jit.status(d));
            if fi != fj || si != sj {
                return Err(Bug(format!(
                    "{what}: after the call ({}), `{d}`'s fuel/status: interpreter {fi:?}/{si:?}, JIT {fj:?}/{sj:?}",
                    show(&i)
                )));
            }
        }
        Ok(i)
    }

    /// Run the start functions in order; the first trap, if any.
    fn start(&mut self) -> Result<Option<TrapCode>, Bug> {
        for (d, s) in self.starts.clone() {
            match self.call(&d, &s, &[], &format!("start function `{d}.{s}`"))? {
                Ok(_) => {}
                Err(RunError::Trap(t)) => return Ok(Some(t.code)),
                Err(e) => return Err(Bug(format!("start function `{d}.{s}`: {e}"))),
            }
        }
        Ok(None)
    }

    /// Every domain back to its image, start functions again.
    fn restart(&mut self) -> Result<Option<TrapCode>, Bug> {
        for d in &self.domains {
            for inst in [&mut self.interp, &mut self.jit] {
                inst.restart(d)
                    .map_err(|e| Bug(format!("restart of `{d}` failed: {e}")))?;
            }
        }
        self.start()
    }

    /// Fuel left in the domain with the least.
    fn least_fuel(&self) -> u64 {
        self.domains
            .iter()
            .map(|d| self.interp.fuel(d).unwrap_or(0))
            .min()
            .unwrap_or(0)
    }
}

/// Whether a capjit trap code and a wasmi one mean the same Wasm trap.
#[cfg(feature = "wasmi")]
pub fn same_trap(c: TrapCode, w: wasmi::TrapCode) -> bool {
    use wasmi::TrapCode as W;
    matches!(
        (c, w),
        (TrapCode::Unreachable, W::UnreachableCodeReached)
            | (TrapCode::IntDivideByZero, W::IntegerDivisionByZero)
            | (TrapCode::IntOverflow, W::IntegerOverflow)
            | (TrapCode::BadConversion, W::BadConversionToInteger)
            | (TrapCode::OutOfBounds, W::MemoryOutOfBounds)
            | (TrapCode::TableOutOfBounds, W::TableOutOfBounds)
            | (TrapCode::IndirectCallNull, W::IndirectCallToNull)
            | (TrapCode::IndirectCallType, W::BadSignature)
    )
}

/// Resource exhaustion on the capjit side: not comparable with wasmi.
#[cfg(feature = "wasmi")]
fn exhausted(r: &Res) -> bool {
    matches!(r, Err(RunError::Trap(t)) if matches!(t.code, TrapCode::FuelExhausted | TrapCode::CallDepthExceeded))
}

#[cfg(feature = "wasmi")]
mod oracle {
    use super::*;
    use wasmi::TrapCode as W;

    /// A wasmi call or instantiation: results, a trap, or another error.
    pub enum WRes {
        Ok(Vec<Val>),
        Trap(W),
        Other(String),
    }

    impl WRes {
        pub fn show(&self) -> String {
            match self {
                WRes::Ok(v) => format!("returned {}", show_vals(v)),
                WRes::Trap(c) => format!("trapped: {c:?}"),
                WRes::Other(e) => format!("failed: {e}"),
            }
        }

        pub fn exhausted(&self) -> bool {
            matches!(self, WRes::Trap(W::OutOfFuel | W::StackOverflow))
        }
    }

    fn from_error(e: wasmi::Error) -> WRes {
        match e.as_trap_code() {
            Some(c) => WRes::Trap(c),
            None => WRes::Other(e.to_string()),
        }
    }

    /// A wasmi value as capjit's, a non-null funcref as [`super::SOME_FUNC`] (which
    /// function is not comparable: each engine numbers its own) and an externref
    /// as the handle it was made from.
    fn val(store: &wasmi::Store<wasmi::StoreLimits>, v: &wasmi::Val) -> Val {
        match v {
            wasmi::Val::I32(x) => Val::I32(*x),
            wasmi::Val::I64(x) => Val::I64(*x),
            wasmi::Val::F32(x) => Val::F32(x.to_bits()),
            wasmi::Val::F64(x) => Val::F64(x.to_bits()),
            wasmi::Val::FuncRef(f) => Val::FuncRef((!f.is_null()).then_some(super::SOME_FUNC)),
            wasmi::Val::ExternRef(e) => Val::ExternRef(
                e.val()
                    .map(|e| e.data(store).downcast_ref::<u32>().copied().unwrap_or(u32::MAX)),
            ),
            // Not made: the frontend's features have no other values.
            _ => Val::Cap(u32::MAX),
        }
    }

    pub struct Wasmi {
        engine: wasmi::Engine,
        /// (input name, module), in input order.
        modules: Vec<(String, wasmi::Module)>,
        store: wasmi::Store<wasmi::StoreLimits>,
        /// One per module once instantiated.
        instances: Vec<wasmi::Instance>,
    }

    fn store(engine: &wasmi::Engine) -> wasmi::Store<wasmi::StoreLimits> {
        let limits = wasmi::StoreLimitsBuilder::new()
            .memory_size(MAX_PAGES as usize * 65536)
            .build();
        let mut store = wasmi::Store::new(engine, limits);
        store.limiter(|l| l);
        store
    }

    impl Wasmi {
        pub fn new(wasm: &[Vec<u8>]) -> Result<Wasmi, String> {
            let mut config = wasmi::Config::default();
            config.consume_fuel(true);
            config.set_max_recursion_depth(WASMI_DEPTH);
            let engine = wasmi::Engine::new(&config);
            let mut modules = Vec::new();
            for (i, w) in wasm.iter().enumerate() {
                let m = wasmi::Module::new(&engine, w).map_err(|e| format!("`{}`: {e}", module_name(i)))?;
                modules.push((module_name(i), m));
            }
            let store = store(&engine);
            Ok(Wasmi {
                engine,
                modules,
                store,
                instances: Vec::new(),
            })
        }

        /// A fresh store and instances, each linked to the earlier ones' exports,
        /// start functions run in order.
        pub fn instantiate(&mut self) -> WRes {
            self.store = store(&self.engine);
            self.instances.clear();
            if let Err(e) = self.store.set_fuel(WASMI_FUEL) {
                return WRes::Other(e.to_string());
            }
            let mut linker = wasmi::Linker::<wasmi::StoreLimits>::new(&self.engine);
            for (name, module) in &self.modules {
                match linker.instantiate_and_start(&mut self.store, module) {
                    Ok(i) => {
                        self.instances.push(i);
                        if let Err(e) = linker.instance(&mut self.store, name, i) {
                            return WRes::Other(e.to_string());
                        }
                    }
                    Err(e) => {
                        self.instances.clear();
                        return from_error(e);
                    }
                }
            }
            WRes::Ok(Vec::new())
        }

        /// Call export `name` of module `m`.
        pub fn call(&mut self, m: usize, name: &str, args: &[Val]) -> WRes {
            let Some(&instance) = self.instances.get(m) else {
                return WRes::Other("no instance".into());
            };
            let Some(f) = instance.get_func(&self.store, name) else {
                return WRes::Other(format!("no export `{name}`"));
            };
            if let Err(e) = self.store.set_fuel(WASMI_FUEL) {
                return WRes::Other(e.to_string());
            }
            let ty = f.ty(&self.store);
            let mut out: Vec<wasmi::Val> = ty.results().iter().map(|t| wasmi::Val::default_for_ty(*t)).collect();
            let inputs: Vec<wasmi::Val> = args
                .iter()
                .map(|a| match *a {
                    Val::I32(x) => wasmi::Val::I32(x),
                    Val::I64(x) => wasmi::Val::I64(x),
                    Val::F32(b) => wasmi::Val::F32(wasmi::F32::from_bits(b)),
                    Val::F64(b) => wasmi::Val::F64(wasmi::F64::from_bits(b)),
                    Val::FuncRef(_) => wasmi::Val::FuncRef(wasmi::Nullable::Null),
                    Val::ExternRef(None) => wasmi::Val::ExternRef(wasmi::Nullable::Null),
                    Val::ExternRef(Some(h)) => {
                        wasmi::Val::ExternRef(wasmi::Nullable::Val(wasmi::ExternRef::new(&mut self.store, h)))
                    }
                    _ => wasmi::Val::I32(0),
                })
                .collect();
            match f.call(&mut self.store, &inputs, &mut out) {
                Ok(()) => WRes::Ok(out.iter().map(|v| val(&self.store, v)).collect()),
                Err(e) => from_error(e),
            }
        }

        /// The value of exported global `name` of module `m`.
        pub fn global(&self, m: usize, name: &str) -> Option<Vec<Val>> {
            let g = self.instances.get(m)?.get_global(&self.store, name)?;
            Some(vec![val(&self.store, &g.get(&self.store))])
        }

        /// Module `m`'s memory (modules export everything), if it has one.
        pub fn memory(&self, m: usize) -> Option<&[u8]> {
            let instance = self.instances.get(m)?;
            let mem = instance.exports(&self.store).find_map(|e| e.into_memory())?;
            Some(mem.data(&self.store))
        }
    }
}

/// Translate, verify, run and compare. `Err` is a bug.
pub fn check(case: &Case) -> Result<Outcome, Bug> {
    let inputs: Vec<WasmInput<'_>> = case
        .wasm
        .iter()
        .enumerate()
        .map(|(i, w)| WasmInput {
            name: module_name(i),
            bytes: w,
        })
        .collect();
    let t = match translate(&inputs) {
        Ok(t) => t,
        Err(e) => {
            return match e.kind {
                WasmErrorKind::Unsupported | WasmErrorKind::Limit => Ok(Outcome::Unsupported),
                WasmErrorKind::Instantiation => {
                    #[cfg(feature = "wasmi")]
                    {
                        let mut w =
                            oracle::Wasmi::new(&case.wasm).map_err(|m| Bug(format!("wasmi refuses a module: {m}")))?;
                        if let oracle::WRes::Ok(_) = w.instantiate() {
                            return Err(Bug(format!(
                                "the frontend says instantiation fails ({e}), wasmi instantiates the modules"
                            )));
                        }
                    }
                    Ok(Outcome::InstantiationFails)
                }
                _ => Err(Bug(format!("the frontend fails on valid modules: {e}"))),
            };
        }
    };
    if let Err(errors) = capjit_verifier::verify(&t.module) {
        let mut msg = format!("the verifier rejects the frontend's output ({} errors):", errors.len());
        for e in errors.iter().take(5) {
            let _ = write!(msg, "\n  {e}");
        }
        let _ = write!(msg, "\n--- IR\n{}", capjit_ir::print_module(&t.module));
        return Err(Bug(msg));
    }
    run(case, &t)
}

/// One call of the plan: the domain and its input index, the Wasm export name
/// (for wasmi; `None` for other exported IR functions), the IR function.
struct Call<'t> {
    domain: &'t str,
    input: usize,
    wasm_name: Option<&'t str>,
    function: &'t capjit::ir::Function,
}

// Without wasmi, some of what is compared with it is left unused.
#[cfg_attr(not(feature = "wasmi"), allow(unused_mut, unused_variables))]
fn run(case: &Case, t: &Translated) -> Result<Outcome, Bug> {
    let (jit, interp) = match (engine(&t.module, Backend::Jit), engine(&t.module, Backend::Interpreter)) {
        (Ok(j), Ok(i)) => (j, i),
        (Err(j), Err(i)) => return Err(Bug(format!("neither engine instantiates: JIT: {j}; interpreter: {i}"))),
        (j, i) => {
            return Err(Bug(format!(
                "only one engine instantiates: JIT: {:?}; interpreter: {:?}",
                j.err(),
                i.err()
            )))
        }
    };
    let mut cj = Capjit {
        jit,
        interp,
        domains: t.modules.iter().map(|m| m.domain.clone()).collect(),
        starts: t
            .start_functions()
            .map(|(d, f)| (d.to_string(), f.to_string()))
            .collect(),
    };
    let start_trap = cj.start()?;

    #[cfg(feature = "wasmi")]
    let mut wasmi = {
        let mut w = oracle::Wasmi::new(&case.wasm).map_err(|m| Bug(format!("wasmi refuses a module: {m}")))?;
        let r = w.instantiate();
        match (&start_trap, &r) {
            _ if r.exhausted() => None,
            (Some(TrapCode::FuelExhausted | TrapCode::CallDepthExceeded), _) => None,
            (None, oracle::WRes::Ok(_)) => Some(w),
            (Some(c), oracle::WRes::Trap(wc)) if same_trap(*c, *wc) => None,
            _ => {
                return Err(Bug(format!(
                    "instantiation (start functions): capjit {}, wasmi {}",
                    start_trap.map_or("ran".to_string(), |c| format!("trapped: {}", c.name())),
                    r.show()
                )))
            }
        }
    };
    if start_trap.is_some() {
        return Ok(Outcome::StartTraps);
    }

    // Every Wasm function export (by its Wasm name for wasmi), then any other
    // exported IR function the frontend made (not a start wrapper, not a
    // global's getter), for the JIT and the interpreter only.
    let input_of = |domain: &str| t.modules.iter().position(|m| m.domain == domain);
    let mut plan: Vec<Call<'_>> = Vec::new();
    for (input, m) in t.modules.iter().enumerate() {
        let d = t
            .module
            .domains
            .iter()
            .find(|d| d.name == m.domain)
            .ok_or_else(|| Bug(format!("no domain `{}`", m.domain)))?;
        for e in t.exports.iter().filter(|e| e.domain == m.domain) {
            let f = d
                .functions
                .iter()
                .find(|f| f.name == e.function && f.exported)
                .ok_or_else(|| {
                    Bug(format!(
                        "export `{}` has no exported function `{}`",
                        e.wasm_name, e.function
                    ))
                })?;
            plan.push(Call {
                domain: &d.name,
                input,
                wasm_name: Some(&e.wasm_name),
                function: f,
            });
        }
        for f in &d.functions {
            let mine = |domain: &str| domain == d.name;
            let known = t.exports.iter().any(|e| mine(&e.domain) && e.function == f.name)
                || t.globals.iter().any(|g| mine(&g.domain) && g.getter == f.name)
                || cj.starts.iter().any(|(sd, sf)| mine(sd) && *sf == f.name);
            if f.exported && !known {
                plan.push(Call {
                    domain: &d.name,
                    input,
                    wasm_name: None,
                    function: f,
                });
            }
        }
    }
    let mut rng = Rng(case.arg_seed);
    let (mut calls, mut wasmi_calls) = (0, 0);
    'rounds: for round in 0..case.rounds {
        for c in &plan {
            if calls == MAX_CALLS {
                break 'rounds;
            }
            let f = c.function;
            let args: Vec<Val> = f.sig.params.iter().map(|p| rng.val(p)).collect();
            let what = format!(
                "round {round}, call {calls}: `{}.{}` (IR `{}`) with {}",
                module_name(c.input),
                c.wasm_name.unwrap_or("-"),
                f.name,
                show_vals(&args)
            );
            let r = cj.call(c.domain, &f.name, &args, &what)?;
            calls += 1;

            #[cfg(feature = "wasmi")]
            if let (Some(w), Some(wasm_name)) = (&mut wasmi, c.wasm_name) {
                // After capjit's fuel or stack ran out, wasmi would only spend its own.
                let wr = if exhausted(&r) {
                    None
                } else {
                    Some(w.call(c.input, wasm_name, &args))
                };
                if let Some(wr) = wr.filter(|wr| !wr.exhausted()) {
                    let agree = match (&r, &wr) {
                        (Ok(a), oracle::WRes::Ok(b)) => a.iter().map(comparable).eq(b.iter().copied()),
                        (Err(RunError::Trap(tc)), oracle::WRes::Trap(wc)) => same_trap(tc.code, *wc),
                        _ => false,
                    };
                    if !agree {
                        return Err(Bug(format!(
                            "{what}: capjit and wasmi disagree\n  capjit: {}\n  wasmi:  {}",
                            show(&r),
                            wr.show()
                        )));
                    }
                    for (input, d) in cj.domains.iter().enumerate() {
                        let mine = cj.interp.memory(d).unwrap_or(&[]);
                        if let Some(theirs) = w.memory(input) {
                            if let Some(diff) = memory_difference(mine, theirs) {
                                return Err(Bug(format!(
                                    "{what}: after the call ({}), capjit vs wasmi: `{}`'s {diff}",
                                    show(&r),
                                    module_name(input)
                                )));
                            }
                        }
                    }
                    wasmi_calls += 1;
                } else {
                    wasmi = None;
                }
            }
            // The exported globals after a call that returned (a trap faults
            // domains, which then restart), if the getters' fuel is there.
            if r.is_ok() && cj.least_fuel() > t.globals.len() as u64 {
                for g in &t.globals {
                    let input = input_of(&g.domain).unwrap_or(0);
                    let what = format!("{what}; then getter `{}.{}`", g.domain, g.getter);
                    let mine = match cj.call(&g.domain, &g.getter, &[], &what)? {
                        Ok(v) => v,
                        other => return Err(Bug(format!("{what}: {}", show(&other)))),
                    };
                    #[cfg(feature = "wasmi")]
                    if let Some(w) = &wasmi {
                        let theirs = w.global(input, &g.wasm_name);
                        let mine: Vec<Val> = mine.iter().map(comparable).collect();
                        if theirs.as_deref() != Some(&mine[..]) {
                            return Err(Bug(format!(
                                "{what}: global `{}.{}`: capjit {}, wasmi {}",
                                module_name(input),
                                g.wasm_name,
                                show_vals(&mine),
                                theirs.map_or("none".to_string(), |v| show_vals(&v))
                            )));
                        }
                    }
                }
            }
            // capjit restarts the domains after a trap: wasmi starts afresh.
            #[cfg(feature = "wasmi")]
            if let (Some(w), Err(_)) = (&mut wasmi, &r) {
                if !matches!(w.instantiate(), oracle::WRes::Ok(_)) {
                    // It started before; only exhaustion can differ.
                    wasmi = None;
                }
            }

            if let Err(RunError::Trap(trap)) = &r {
                if trap.code == TrapCode::FuelExhausted {
                    break 'rounds;
                }
                if let Some(c) = cj.restart()? {
                    return Err(Bug(format!(
                        "{what}: a start function traps ({}) after a restart, not before",
                        c.name()
                    )));
                }
            }
        }
    }
    Ok(Outcome::Ran { calls, wasmi_calls })
}
