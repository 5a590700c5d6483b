//! UNTRUSTED. The WebAssembly frontend: translates core Wasm modules into one capjit
//! IR [`Module`], one **domain** per Wasm module. Its output is verified like any
//! other IR; nothing here is trusted.
//!
//! ```
//! let wat = br#"(module (func (export "add") (param i32 i32) (result i32)
//!                 local.get 0 local.get 1 i32.add))"#;
//! let t = capjit_wasm::translate(&[capjit_wasm::WasmInput { name: "m".into(), bytes: wat }]).unwrap();
//! assert_eq!(t.exports[0].function, "add");
//! ```
//!
//! # Scope
//!
//! WebAssembly 1.0 core, plus multi-value, sign-extension operators, non-trapping
//! float-to-int conversions, bulk memory (`memory.copy`, `memory.fill`, `memory.init`,
//! `data.drop` over passive data segments, `table.copy`), mutable globals and
//! reference types (`funcref`/`externref` values, `ref.*`, several tables,
//! `table.*`, passive and declarative element segments). Inputs are validated by
//! wasmparser with exactly these features enabled; a module that is valid only
//! with another proposal gets an `unsupported: FEATURE` error naming it (SIMD,
//! threads, GC, exceptions, tail calls, memory64, multiple memories, ...). Also
//! unsupported, with their own errors: imported memories and tables, imported
//! mutable globals, references passed between modules (an import whose type holds
//! one, an imported reference global); tables larger than [`MAX_TABLE_ENTRIES`].
//!
//! # Mapping
//!
//! - Linear memory: the domain's memory (initial and maximum pages). A memory
//!   without a maximum gets [`DEFAULT_MAX_PAGES`] (4 GiB, the most the verifier
//!   accepts; the runtime caps it with its own limit). Active data segments become
//!   the domain's data; a segment outside the initial memory is an
//!   [`WasmErrorKind::Instantiation`] error.
//! - Globals: the domain's globals, named `g0`, `g1`, ... (constant initialisers,
//!   or `global.get` of an earlier global). An imported global must be immutable
//!   and exported by an earlier input: the importing domain gets a copy of its
//!   value (it never changes).
//! - Tables: the domain's tables in order, filled from active element segments;
//!   every element segment is also a passive IR segment of the same index (empty
//!   for an active or declarative one); a reference global is one more table of
//!   one entry (`func::GlobalSlot`). `call_indirect`, `ref.*` and `table.*` become
//!   the same IR operations (the runtime checks indices, null entries and
//!   signatures).
//! - Functions: defined function `i` (among the defined ones) is IR function `i`.
//!   An exported function takes its (first) export name, mangled into an
//!   identifier (see [`names::mangle`]: `i32.add` becomes `i32_x2e_add`); other
//!   export names of it are small exported wrappers; unexported functions take
//!   their name from the `name` section (mangled), else `f<wasm index>`.
//!   [`Translated::exports`] maps every Wasm export name to its IR name. Locals and the operand stack become SSA values and block parameters
//!   (see `func.rs`).
//! - Imported functions: capjit imports, called with `cap.get` and `call_cap`.
//!   An import from module `M` where `M` is the name of another input binds to
//!   `M`'s export of that name (the types must be equal); from
//!   `wasi_snapshot_preview1` it binds to the host function `wasi_NAME` with the
//!   Wasm signature. Anything else is a link error. If the callee traps, the caller
//!   traps too with the callee's code (the IR's `trap v` in the failure
//!   successor), since Wasm code cannot observe a failure.
//! - Global exports: an exported function `global_<name>` `() -> T` returning the
//!   global's current value ([`Translated::globals`]), for hosts and tests.
//! - Start function: an exported wrapper named `_start_init` (or `_start_init_1`,
//!   ... if an export already has that name) that calls it. Running it is the
//!   host's job: [`ModuleInfo::start`] names it, and the host should call it once
//!   per module, in input order, before anything else.
//!
//! # The `try:` convention (a capjit extension)
//!
//! Wasm cannot observe a trap in another module, but a capjit caller survives its
//! callee's trap. To use that, import from module `"try:M"` instead of `"M"`, with
//! one extra `i32` result in front: an import `(import "try:M" "f" (func (param P)
//! (result i32 R)))` binds to `M`'s export `f` of type `(param P) (result R)`.
//! The call returns `0` and `f`'s results when `f` returns, or the trap code (a
//! non-zero i32, see `capjit_ir::TrapCode::code`) and zeros when it traps. The
//! callee's domain is then faulted, so later calls into it fail too (with
//! `domain_unavailable`, code 9) until the host restarts it. `try:` also works for
//! `wasi_snapshot_preview1` (a failing host function).
//!
//! # Traps
//!
//! Wasm traps map to capjit traps: integer division by zero (`int_divide_by_zero`),
//! overflow (`int_overflow`), invalid conversion (`bad_conversion` for NaN,
//! `int_overflow` out of range), out-of-bounds memory (`out_of_bounds`),
//! `unreachable`, call stack exhaustion (`call_depth_exceeded`), and the three
//! `call_indirect` traps (`table_out_of_bounds`, `indirect_call_null`,
//! `indirect_call_type`).

mod error;
mod func;
mod module;
pub mod names;

use std::borrow::Cow;

use capjit_ir::{
    Const, DataSegment, Domain, ElemSegment, Function, Global, Import, ImportSource, Memory, Module, NumType, Table,
    PAGE_SIZE,
};
use wasmparser::{ExternalKind, Validator, WasmFeatures};

pub use error::{WasmError, WasmErrorKind};

use func::{GlobalSlot, ImportCall, ModuleCtx};
use module::{ElemKind, Init, ParsedModule, ValTy, WasmSig};
use names::{mangle, NameSet};

/// The maximum memory size, in pages, of a Wasm memory that declares none: 65536
/// pages (4 GiB), the limit of a 32-bit memory and of the verifier.
pub const DEFAULT_MAX_PAGES: u32 = 65_536;

/// The largest table the frontend translates (entries).
pub const MAX_TABLE_ENTRIES: u64 = 1 << 20;

/// The import module name of WASI functions.
pub const WASI_MODULE: &str = "wasi_snapshot_preview1";

/// The prefix of an import module name that asks for the `try:` convention.
pub const TRY_PREFIX: &str = "try:";

/// Value numbers in one function: the verifier's `MAX_VALUE_INDEX`. The frontend
/// checks its output against the verifier's limits (verifier/src/limits.rs) so that
/// a Wasm function beyond them gets a clear [`WasmErrorKind::Limit`] error;
/// `tests/errors.rs` keeps these in step.
pub const MAX_VALUES: usize = 1 << 22;
/// Parameters of one block: the verifier's `MAX_ARITY`. A construct whose label
/// values plus written locals exceed it cannot be translated.
pub const MAX_BLOCK_PARAMS: usize = 1_000;
/// Blocks in one function: the verifier's `MAX_BLOCKS`.
pub const MAX_BLOCKS: usize = 1_000_000;
/// Targets of one `br_table`: the verifier's `MAX_TABLE_TARGETS`.
pub const MAX_BR_TABLE_TARGETS: usize = 65_536;
/// Functions of one domain (defined ones plus wrappers): the verifier's `MAX_FUNCTIONS`.
pub const MAX_FUNCTIONS: usize = 100_000;
/// Imported functions of one module: the verifier's `MAX_IMPORTS`.
pub const MAX_IMPORTS: usize = 100_000;
/// Globals of one module: the verifier's `MAX_GLOBALS`.
pub const MAX_GLOBALS: usize = 65_536;
/// Data segments of a module using `memory.init` or `data.drop`: the verifier's
/// `MAX_PASSIVE_DATA`.
pub const MAX_PASSIVE_DATA: usize = 100_000;
/// Tables and element segments of one module: the verifier's `MAX_TABLES` and
/// `MAX_PASSIVE_ELEMS` (every Wasm element segment becomes one, active ones empty).
pub const MAX_TABLES: usize = 10_000;
pub const MAX_PASSIVE_ELEMS: usize = 100_000;
/// Branch arguments of one `br_table`, over all its targets (bounds the memory a
/// hostile module can make the translator use).
pub const MAX_BR_TABLE_ARGS: usize = 1 << 24;

/// One Wasm module to translate.
pub struct WasmInput<'a> {
    /// The module's name: other inputs import from it by this name, and its domain
    /// is named after it (mangled into an identifier).
    pub name: String,
    /// A binary module (starting with `\0asm`), or the text format.
    pub bytes: &'a [u8],
}

/// The result of [`translate`].
#[derive(Clone, Debug)]
pub struct Translated {
    /// One domain per input, in input order.
    pub module: Module,
    /// Every function export of every input, in input and export order.
    pub exports: Vec<ExportName>,
    /// What became of each input, in input order.
    pub modules: Vec<ModuleInfo>,
    /// Every global export of every input, with the function that reads it.
    pub globals: Vec<GlobalExport>,
}

impl Translated {
    /// The IR function name of a Wasm export of the input named `module`.
    pub fn export(&self, module: &str, wasm_name: &str) -> Option<&ExportName> {
        let domain = &self.modules.iter().find(|m| m.name == module)?.domain;
        self.exports
            .iter()
            .find(|e| &e.domain == domain && e.wasm_name == wasm_name)
    }

    /// The getter of a global export of the input named `module`.
    pub fn global(&self, module: &str, wasm_name: &str) -> Option<&GlobalExport> {
        let domain = &self.modules.iter().find(|m| m.name == module)?.domain;
        self.globals
            .iter()
            .find(|g| &g.domain == domain && g.wasm_name == wasm_name)
    }

    /// The start functions to run, in order: (domain, function).
    pub fn start_functions(&self) -> impl Iterator<Item = (&str, &str)> {
        self.modules
            .iter()
            .filter_map(|m| m.start.as_deref().map(|f| (m.domain.as_str(), f)))
    }
}

/// A Wasm function export and the IR function it became.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportName {
    /// The domain (IR name of the exporting module).
    pub domain: String,
    /// The export's name in the Wasm module.
    pub wasm_name: String,
    /// The exported IR function's name.
    pub function: String,
}

/// A Wasm global export: capjit domains do not share globals, so the frontend
/// exports a function that returns the global's current value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalExport {
    pub domain: String,
    /// The export's name in the Wasm module.
    pub wasm_name: String,
    /// The exported IR function `() -> T` that returns the global's value.
    pub getter: String,
}

/// One input's domain and start function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleInfo {
    /// The input's name ([`WasmInput::name`]).
    pub name: String,
    /// Its domain's name.
    pub domain: String,
    /// The exported IR function that runs the Wasm start function, if any.
    pub start: Option<String>,
    /// The module's defined functions in order: IR function `i` of the domain is
    /// `functions[i]` (the IR functions after them are the frontend's wrappers).
    pub functions: Vec<WasmFunction>,
}

/// A defined Wasm function, as a trap or a backtrace names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WasmFunction {
    /// Its index in the module's function index space (imports first).
    pub index: u32,
    /// Its name in the `name` section, else its first export name, unmangled.
    pub name: Option<String>,
}

impl std::fmt::Display for WasmFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.name {
            Some(name) => write!(f, "`{name}` (function {})", self.index),
            None => write!(f, "function {}", self.index),
        }
    }
}

/// Index and name of each defined function of `m`.
fn wasm_functions(m: &ParsedModule) -> Vec<WasmFunction> {
    let imported = m.num_imported_funcs();
    (0..m.funcs.len() as u32)
        .map(|def| {
            let index = imported + def;
            let exported = || {
                m.exports
                    .iter()
                    .find(|e| matches!(e.kind, ExternalKind::Func | ExternalKind::FuncExact) && e.index == index)
                    .map(|e| e.name.to_string())
            };
            WasmFunction {
                index,
                name: m.func_names.get(&index).cloned().or_else(exported),
            }
        })
        .collect()
}

/// The wasmparser features the frontend accepts.
pub fn features() -> WasmFeatures {
    WasmFeatures::WASM1
        | WasmFeatures::MULTI_VALUE
        | WasmFeatures::SIGN_EXTENSION
        | WasmFeatures::SATURATING_FLOAT_TO_INT
        | WasmFeatures::BULK_MEMORY
        | WasmFeatures::REFERENCE_TYPES
}

/// Proposals outside the scope, tried one at a time to name what a module needs.
fn extensions() -> [(&'static str, WasmFeatures); 11] {
    [
        ("SIMD", WasmFeatures::SIMD),
        ("relaxed SIMD", WasmFeatures::SIMD.union(WasmFeatures::RELAXED_SIMD)),
        ("threads", WasmFeatures::THREADS),
        ("tail calls", WasmFeatures::TAIL_CALL),
        ("multiple memories", WasmFeatures::MULTI_MEMORY),
        ("memory64", WasmFeatures::MEMORY64),
        (
            "exceptions",
            WasmFeatures::EXCEPTIONS.union(WasmFeatures::REFERENCE_TYPES),
        ),
        ("extended constant expressions", WasmFeatures::EXTENDED_CONST),
        (
            "function references",
            WasmFeatures::FUNCTION_REFERENCES.union(WasmFeatures::REFERENCE_TYPES),
        ),
        (
            "GC",
            WasmFeatures::GC
                .union(WasmFeatures::FUNCTION_REFERENCES)
                .union(WasmFeatures::REFERENCE_TYPES),
        ),
        ("wide arithmetic", WasmFeatures::WIDE_ARITHMETIC),
    ]
}

/// A module's bytes as a binary: binaries as they are, text through `wat`.
fn binary_of<'b>(name: &str, bytes: &'b [u8]) -> Result<Cow<'b, [u8]>, WasmError> {
    if bytes.starts_with(b"\0asm") {
        return Ok(Cow::Borrowed(bytes));
    }
    // From a `str`, the message names the line and column and shows the line.
    let parsed = match std::str::from_utf8(bytes) {
        Ok(text) => wat::parse_str(text).map(Cow::Owned),
        Err(_) => wat::parse_bytes(bytes),
    };
    parsed.map_err(|mut e| {
        e.set_path(std::path::Path::new(name));
        WasmError::new(name, None, WasmErrorKind::Syntax, e.to_string())
    })
}

/// The text format or a binary, as a Wasm binary.
pub fn to_wasm_binary(bytes: &[u8]) -> Result<Vec<u8>, WasmError> {
    Ok(binary_of("<input>", bytes)?.into_owned())
}

/// Validate with the supported features; name the unsupported proposal a module
/// needs when it is valid with one more.
pub fn validate(name: &str, bytes: &[u8]) -> Result<(), WasmError> {
    let err = match Validator::new_with_features(features()).validate_all(bytes) {
        Ok(_) => return Ok(()),
        Err(e) => e,
    };
    let offset = Some(err.offset());
    let valid_with = |extra: WasmFeatures| Validator::new_with_features(extra).validate_all(bytes).is_ok();
    for (feature, flags) in extensions() {
        if valid_with(features() | flags) {
            return Err(WasmError::unsupported(name, offset, feature));
        }
    }
    if valid_with(WasmFeatures::all()) {
        return Err(WasmError::unsupported(
            name,
            offset,
            format!(
                "a WebAssembly proposal outside the frontend's scope ({})",
                err.message()
            ),
        ));
    }
    Err(WasmError::new(
        name,
        offset,
        WasmErrorKind::Invalid,
        err.message().to_string(),
    ))
}

/// Extra IR functions a module needs besides its defined functions.
enum ExtraKind {
    /// Calls imported function `k`.
    ImportWrapper(usize),
    /// Calls IR function `target` (a second export name, the start function).
    Alias { target: u32, sig: WasmSig },
    /// Returns the value of global `global` (a global export).
    GlobalGetter { global: u32 },
}

struct Extra {
    name: String,
    exported: bool,
    kind: ExtraKind,
}

/// The IR functions of one module, before their bodies exist.
struct Plan {
    domain: String,
    funcs: NameSet,
    /// Names of the defined functions (set for exported ones first).
    names: Vec<Option<String>>,
    exported: Vec<bool>,
    extras: Vec<Extra>,
    /// IR function of each imported function's wrapper, once made.
    wrappers: Vec<Option<u32>>,
    /// (Wasm export name, IR function name, Wasm signature) of function exports.
    exports: Vec<(String, String, WasmSig)>,
    /// (Wasm export name, getter function name) of global exports.
    global_exports: Vec<(String, String)>,
    start: Option<String>,
}

impl Plan {
    /// The IR function index for Wasm function `idx` (making an import wrapper
    /// for an imported one).
    fn ir_function(&mut self, m: &ParsedModule, idx: u32) -> u32 {
        let nimp = m.num_imported_funcs();
        if idx >= nimp {
            return idx - nimp;
        }
        let k = idx as usize;
        if let Some(w) = self.wrappers[k] {
            return w;
        }
        let name = self
            .funcs
            .claim(&format!("import_{}", mangle(&m.func_imports[k].field)));
        let w = (m.funcs.len() + self.extras.len()) as u32;
        self.extras.push(Extra {
            name,
            exported: false,
            kind: ExtraKind::ImportWrapper(k),
        });
        self.wrappers[k] = Some(w);
        w
    }
}

fn plan_module(m: &ParsedModule, domain: String) -> Result<Plan, WasmError> {
    let mut p = Plan {
        domain,
        funcs: NameSet::default(),
        names: vec![None; m.funcs.len()],
        exported: vec![false; m.funcs.len()],
        extras: Vec::new(),
        wrappers: vec![None; m.func_imports.len()],
        exports: Vec::new(),
        global_exports: Vec::new(),
        start: None,
    };
    let nimp = m.num_imported_funcs();
    for e in &m.exports {
        if !matches!(e.kind, ExternalKind::Func | ExternalKind::FuncExact) {
            continue; // memories, tables and globals are not exported to other domains
        }
        let sig = m.func_sig(e.index, None)?.clone();
        let name = p.funcs.claim(&mangle(&e.name));
        let first = if e.index >= nimp {
            let def = (e.index - nimp) as usize;
            if p.names[def].is_none() {
                p.names[def] = Some(name.clone());
                p.exported[def] = true;
                true
            } else {
                false
            }
        } else if p.wrappers[e.index as usize].is_none() {
            p.wrappers[e.index as usize] = Some((m.funcs.len() + p.extras.len()) as u32);
            p.extras.push(Extra {
                name: name.clone(),
                exported: true,
                kind: ExtraKind::ImportWrapper(e.index as usize),
            });
            true
        } else {
            false
        };
        if !first {
            let target = p.ir_function(m, e.index);
            p.extras.push(Extra {
                name: name.clone(),
                exported: true,
                kind: ExtraKind::Alias {
                    target,
                    sig: sig.clone(),
                },
            });
        }
        p.exports.push((e.name.clone(), name, sig));
    }
    if let Some(s) = m.start {
        let sig = m.func_sig(s, None)?.clone();
        let target = p.ir_function(m, s);
        let name = p.funcs.claim("_start_init");
        p.extras.push(Extra {
            name: name.clone(),
            exported: true,
            kind: ExtraKind::Alias { target, sig },
        });
        p.start = Some(name);
    }
    for e in m.exports.iter().filter(|e| e.kind == ExternalKind::Global) {
        let name = p.funcs.claim(&format!("global_{}", mangle(&e.name)));
        p.extras.push(Extra {
            name: name.clone(),
            exported: true,
            kind: ExtraKind::GlobalGetter { global: e.index },
        });
        p.global_exports.push((e.name.clone(), name));
    }
    for (def, slot) in p.names.iter_mut().enumerate() {
        if slot.is_none() {
            let idx = nimp + def as u32;
            let base = match m.func_names.get(&idx) {
                Some(debug_name) => mangle(debug_name),
                None => format!("f{idx}"),
            };
            *slot = Some(p.funcs.claim(&base));
        }
    }
    Ok(p)
}

/// Bind module `mi`'s imported functions: capjit imports and how to call them.
fn resolve_imports(
    mi: usize,
    parsed: &[ParsedModule],
    plans: &[Plan],
) -> Result<(Vec<Import>, Vec<ImportCall>), WasmError> {
    let m = &parsed[mi];
    let mut names = NameSet::default();
    let mut imports = Vec::new();
    let mut calls = Vec::new();
    // Imports from a module that is not among the inputs: all named in one error.
    let mut unknown: Vec<(String, u64)> = Vec::new();
    for imp in &m.func_imports {
        let at = Some(imp.offset);
        let link = |msg: String| WasmError::new(&m.name, at, WasmErrorKind::Link, msg);
        let sig = m.sig(imp.ty, at)?;
        let (try_, source) = match imp.module.strip_prefix(TRY_PREFIX) {
            Some(rest) => (true, rest),
            None => (false, imp.module.as_str()),
        };
        let what = format!("import `{}`.`{}`", imp.module, imp.field);
        if sig.has_ref() {
            return Err(WasmError::unsupported(
                &m.name,
                at,
                format!("reference types ({what} passes references between domains)"),
            ));
        }
        let callee_results = if try_ {
            if sig.results.first() != Some(&ValTy::Num(NumType::I32)) {
                return Err(link(format!(
                    "{what}: a `{TRY_PREFIX}` import must return an i32 status first, its type is {sig}"
                )));
            }
            sig.results[1..].to_vec()
        } else {
            sig.results.clone()
        };
        let callee = WasmSig {
            params: sig.params.clone(),
            results: callee_results.clone(),
        };
        let src = if source == WASI_MODULE {
            ImportSource::Host {
                function: format!("wasi_{}", mangle(&imp.field)),
            }
        } else {
            let Some(j) = parsed.iter().position(|p| p.name == source) else {
                unknown.push((format!("`{}`.`{}`", imp.module, imp.field), imp.offset));
                continue;
            };
            let Some((_, function, found)) = plans[j].exports.iter().find(|(n, _, _)| *n == imp.field) else {
                return Err(link(format!(
                    "{what}: module `{source}` exports no function `{}`",
                    imp.field
                )));
            };
            if *found != callee {
                return Err(link(format!(
                    "{what}: incompatible import type: expected {callee}, `{source}`.`{}` is {found}",
                    imp.field
                )));
            }
            ImportSource::Export {
                domain: plans[j].domain.clone(),
                function: function.clone(),
            }
        };
        let ir_import = imports.len() as u32;
        imports.push(Import {
            name: names.claim(&mangle(&imp.field)),
            source: src,
            sig: callee.to_ir(),
            span: None,
        });
        calls.push(ImportCall {
            ir_import,
            try_,
            callee_results,
        });
    }
    if let Some((_, at)) = unknown.first() {
        let names: Vec<&str> = unknown.iter().map(|(n, _)| n.as_str()).collect();
        let message = format!(
            "{} import(s) from modules that are not among the inputs (nor WASI): {}",
            names.len(),
            names.join(", ")
        );
        return Err(WasmError::new(&m.name, Some(*at), WasmErrorKind::Link, message));
    }
    Ok((imports, calls))
}

/// The initial value of every global of every module, in input order: imported
/// immutable globals take the value of the export they name (from an earlier
/// input, as Wasm instantiates in order), `global.get` initialisers the value of
/// the global they read.
fn resolve_globals(parsed: &[ParsedModule]) -> Result<Vec<Vec<Const>>, WasmError> {
    let mut values: Vec<Vec<Const>> = Vec::with_capacity(parsed.len());
    for m in parsed {
        let mut vals: Vec<Const> = Vec::with_capacity(m.globals.len());
        for g in &m.globals {
            let v = match (&g.import, g.init) {
                (Some((module, field, at)), _) => {
                    let link = |msg: String| WasmError::new(&m.name, Some(*at), WasmErrorKind::Link, msg);
                    let what = format!("import `{module}`.`{field}`");
                    let Some(j) = parsed.iter().position(|p| p.name == *module) else {
                        return Err(link(format!("{what}: no module named `{module}` among the inputs")));
                    };
                    let export = parsed[j]
                        .exports
                        .iter()
                        .find(|e| e.name == *field && e.kind == ExternalKind::Global);
                    let Some(src) = export.and_then(|e| parsed[j].globals.get(e.index as usize).map(|g| (e, g))) else {
                        return Err(link(format!("{what}: module `{module}` exports no global `{field}`")));
                    };
                    let (e, src) = src;
                    if src.mutable {
                        return Err(WasmError::unsupported(
                            &m.name,
                            Some(*at),
                            format!("imported mutable global ({what})"),
                        ));
                    }
                    if src.ty != g.ty {
                        return Err(link(format!(
                            "{what}: incompatible import type: expected global {}, `{module}`.`{field}` is global {}",
                            g.ty, src.ty
                        )));
                    }
                    match values.get(j).and_then(|v| v.get(e.index as usize)) {
                        Some(v) => *v,
                        None => {
                            return Err(link(format!(
                                "{what}: a global can only be imported from an earlier input"
                            )))
                        }
                    }
                }
                (None, Init::Const(c)) => c,
                // A reference global becomes a table (`build_domain`): no constant.
                (None, Init::Ref(_)) => Const::I32(0),
                (None, Init::Global(k)) => match vals.get(k as usize) {
                    Some(v) => *v,
                    None => {
                        return Err(WasmError::new(
                            &m.name,
                            None,
                            WasmErrorKind::Invalid,
                            format!("global initialiser reads global {k}, which is not defined before it"),
                        ))
                    }
                },
            };
            vals.push(v);
        }
        values.push(vals);
    }
    Ok(values)
}

/// A segment offset's value.
fn offset_value(m: &ParsedModule, init: Init, globals: &[Const], at: u64) -> Result<u32, WasmError> {
    let v = match init {
        Init::Const(c) => Some(c),
        Init::Global(g) => globals.get(g as usize).copied(),
        Init::Ref(_) => None,
    };
    match v {
        Some(Const::I32(v)) => Ok(v as u32),
        _ => Err(WasmError::new(
            &m.name,
            Some(at),
            WasmErrorKind::Invalid,
            "segment offset is not an i32",
        )),
    }
}

fn build_domain(
    m: &ParsedModule,
    plan: &mut Plan,
    imports: Vec<Import>,
    calls: &[ImportCall],
    global_values: &[Const],
) -> Result<Domain, WasmError> {
    let name = m.name.as_str();
    let memory = match m.memory {
        Some(mem) => Memory {
            initial: u32::try_from(mem.initial).map_err(|_| WasmError::unsupported(name, None, "memory64"))?,
            maximum: match mem.maximum {
                Some(max) => u32::try_from(max).map_err(|_| WasmError::unsupported(name, None, "memory64"))?,
                None => DEFAULT_MAX_PAGES.max(mem.initial as u32),
            },
        },
        None => Memory::default(),
    };
    let size = memory.initial as u64 * PAGE_SIZE;
    let mut data = Vec::new();
    for seg in &m.data {
        let offset = offset_value(m, seg.offset, global_values, seg.at)?;
        let end = offset as u64 + seg.bytes.len() as u64;
        if end > size {
            return Err(WasmError::new(
                name,
                Some(seg.at),
                WasmErrorKind::Instantiation,
                format!(
                    "data segment [{offset}, {end}) lies outside the initial memory of {size} bytes (out of bounds memory access)"
                ),
            ));
        }
        if !seg.bytes.is_empty() {
            data.push(DataSegment {
                offset,
                bytes: seg.bytes.to_vec(),
            });
        }
    }
    // A numeric global is an IR global; a reference global, a table of one entry
    // after the module's own tables (the IR's globals hold numbers only).
    let mut globals = Vec::new();
    let mut slots = Vec::with_capacity(m.globals.len());
    let mut ref_tables = Vec::new();
    for (i, (g, init)) in m.globals.iter().zip(global_values).enumerate() {
        match g.ty {
            ValTy::Num(ty) => {
                slots.push(GlobalSlot::Num {
                    global: globals.len() as u32,
                    ty,
                });
                globals.push(Global {
                    name: format!("g{i}"),
                    ty,
                    mutable: g.mutable,
                    init: *init,
                    span: None,
                });
            }
            ValTy::Ref(elem) => {
                let entry = match g.init {
                    Init::Ref(f) => f.map(|f| plan.ir_function(m, f)),
                    Init::Const(_) | Init::Global(_) => None,
                };
                let table = (m.tables.len() + ref_tables.len()) as u32;
                slots.push(GlobalSlot::Ref { table, ty: elem });
                ref_tables.push(Table {
                    elem,
                    init: vec![entry],
                    maximum: 1,
                });
            }
        }
    }
    let limit = |what: &str, n: usize, max: usize| {
        if n > max {
            Err(WasmError::new(
                name,
                None,
                WasmErrorKind::Limit,
                format!("{n} {what}, more than the verifier's limit of {max}"),
            ))
        } else {
            Ok(())
        }
    };
    limit("globals", globals.len(), MAX_GLOBALS)?;
    let passive_data: Vec<Vec<u8>> = match m.data_ops {
        true => m.passive.iter().map(|b| b.to_vec()).collect(),
        false => Vec::new(),
    };
    limit("data segments", passive_data.len(), MAX_PASSIVE_DATA)?;
    limit("imported functions", imports.len(), MAX_IMPORTS)?;
    limit("functions", m.funcs.len() + plan.extras.len(), MAX_FUNCTIONS)?;

    let mut tables = Vec::with_capacity(m.tables.len());
    for t in &m.tables {
        if t.initial > MAX_TABLE_ENTRIES {
            return Err(WasmError::unsupported(
                name,
                None,
                format!("a table of {} entries (at most {MAX_TABLE_ENTRIES})", t.initial),
            ));
        }
        tables.push(Table {
            elem: t.elem,
            init: vec![None; t.initial as usize],
            maximum: t.maximum.map_or(u32::MAX, |max| u32::try_from(max).unwrap_or(u32::MAX)),
        });
    }
    // Every function an element segment names gets its IR index now (an imported
    // one its wrapper), so that `ref.func` in the bodies can name it.
    let mut passive_elems = Vec::with_capacity(m.elems.len());
    for seg in &m.elems {
        let items: Vec<Option<u32>> = seg.items.iter().map(|f| f.map(|f| plan.ir_function(m, f))).collect();
        // Table.init sees active and declared segments as dropped: empty.
        let ElemKind::Active { table, offset } = seg.kind else {
            let items = if matches!(seg.kind, ElemKind::Passive) {
                items
            } else {
                Vec::new()
            };
            passive_elems.push(ElemSegment { elem: seg.elem, items });
            continue;
        };
        passive_elems.push(ElemSegment {
            elem: seg.elem,
            items: Vec::new(),
        });
        let offset = offset_value(m, offset, global_values, seg.at)?;
        let Some(t) = tables.get_mut(table as usize) else {
            return Err(WasmError::new(
                name,
                Some(seg.at),
                WasmErrorKind::Invalid,
                "unknown table",
            ));
        };
        let end = offset as u64 + items.len() as u64;
        if end > t.init.len() as u64 {
            return Err(WasmError::new(
                name,
                Some(seg.at),
                WasmErrorKind::Instantiation,
                format!(
                    "element segment [{offset}, {end}) lies outside table {table} of {} entries (out of bounds table access)",
                    t.init.len()
                ),
            ));
        }
        t.init[offset as usize..end as usize].copy_from_slice(&items);
    }
    tables.extend(ref_tables);
    limit("element segments", passive_elems.len(), MAX_PASSIVE_ELEMS)?;
    limit("tables", tables.len(), MAX_TABLES)?;

    let ctx = ModuleCtx {
        m,
        imports: calls,
        globals: &slots,
        wrappers: &plan.wrappers,
    };
    let mut functions: Vec<Function> = Vec::with_capacity(m.funcs.len() + plan.extras.len());
    for (def, body) in m.bodies.iter().enumerate() {
        let fname = plan.names[def].clone().unwrap_or_else(|| format!("f{def}"));
        functions.push(func::translate_function(&ctx, def, body, fname, plan.exported[def])?);
    }
    for extra in &plan.extras {
        let f = match &extra.kind {
            ExtraKind::ImportWrapper(k) => func::import_wrapper(&ctx, *k, extra.name.clone(), extra.exported)?,
            ExtraKind::Alias { target, sig } => func::alias(sig, *target, extra.name.clone(), extra.exported),
            ExtraKind::GlobalGetter { global } => {
                let Some(slot) = slots.get(*global as usize) else {
                    return Err(WasmError::new(
                        name,
                        None,
                        WasmErrorKind::Invalid,
                        "exported global out of range",
                    ));
                };
                global_getter(*slot, extra.name.clone())
            }
        };
        functions.push(f);
    }
    limit("functions", functions.len(), MAX_FUNCTIONS)?;
    Ok(Domain {
        name: plan.domain.clone(),
        memory,
        inbox: None,
        data,
        passive_data,
        imports,
        globals,
        tables,
        passive_elems,
        functions,
        span: None,
    })
}

/// Translate Wasm modules (binary or text) into one IR module, one domain per
/// input, linking imports to other inputs' exports by name.
pub fn translate(inputs: &[WasmInput]) -> Result<Translated, WasmError> {
    for (i, a) in inputs.iter().enumerate() {
        if inputs[..i].iter().any(|b| b.name == a.name) {
            return Err(WasmError::new(
                &a.name,
                None,
                WasmErrorKind::Link,
                "two inputs have this name",
            ));
        }
    }
    let binaries = inputs
        .iter()
        .map(|i| binary_of(&i.name, i.bytes))
        .collect::<Result<Vec<_>, _>>()?;
    for (input, bytes) in inputs.iter().zip(&binaries) {
        validate(&input.name, bytes)?;
    }
    let parsed = inputs
        .iter()
        .zip(&binaries)
        .map(|(input, bytes)| module::parse(&input.name, bytes))
        .collect::<Result<Vec<_>, _>>()?;

    let mut domains = NameSet::default();
    let mut plans = Vec::with_capacity(parsed.len());
    for m in &parsed {
        let domain = domains.claim(&mangle(&m.name));
        plans.push(plan_module(m, domain)?);
    }
    let mut resolved = Vec::with_capacity(parsed.len());
    for mi in 0..parsed.len() {
        resolved.push(resolve_imports(mi, &parsed, &plans)?);
    }

    let global_values = resolve_globals(&parsed)?;
    let mut module = Module::default();
    for (((m, plan), (imports, calls)), values) in parsed.iter().zip(plans.iter_mut()).zip(resolved).zip(&global_values)
    {
        module.domains.push(build_domain(m, plan, imports, &calls, values)?);
    }
    let exports = plans
        .iter()
        .flat_map(|p| {
            p.exports.iter().map(|(wasm_name, function, _)| ExportName {
                domain: p.domain.clone(),
                wasm_name: wasm_name.clone(),
                function: function.clone(),
            })
        })
        .collect();
    let modules = parsed
        .iter()
        .zip(&plans)
        .map(|(m, p)| ModuleInfo {
            name: m.name.clone(),
            domain: p.domain.clone(),
            start: p.start.clone(),
            functions: wasm_functions(m),
        })
        .collect();
    let globals = plans
        .iter()
        .flat_map(|p| {
            p.global_exports.iter().map(|(wasm_name, getter)| GlobalExport {
                domain: p.domain.clone(),
                wasm_name: wasm_name.clone(),
                getter: getter.clone(),
            })
        })
        .collect();
    Ok(Translated {
        module,
        exports,
        modules,
        globals,
    })
}

/// `export func NAME() -> T { global.get; return }` (a reference global: the
/// entry of its table).
fn global_getter(slot: GlobalSlot, name: String) -> Function {
    let v = capjit_ir::Value(0);
    let def = |value| capjit_ir::Def { value, fact: None };
    let inst = |value, op| capjit_ir::Inst {
        results: [def(value)].into(),
        op,
        span: None,
    };
    let (ty, insts) = match slot {
        GlobalSlot::Num { global, ty } => (ty.into(), vec![inst(v, capjit_ir::Op::GlobalGet { global })]),
        GlobalSlot::Ref { table, ty } => {
            let zero = capjit_ir::Value(1);
            let get = capjit_ir::Op::TableGet { table, index: zero };
            let insts = vec![inst(zero, capjit_ir::Op::Const(Const::I32(0))), inst(v, get)];
            (ty.as_type().clone(), insts)
        }
    };
    Function {
        name,
        exported: true,
        sig: capjit_ir::Signature {
            params: Vec::new(),
            results: vec![ty],
        },
        blocks: vec![capjit_ir::Block {
            params: Vec::new(),
            insts,
            term: capjit_ir::Terminator::Return(vec![v]),
            term_span: None,
        }],
        span: None,
    }
}
