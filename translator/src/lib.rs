//! TRUSTED. The capjit translator: a [`Verified`] module to native code through
//! Cranelift, one IR instruction to a few CLIF instructions, without optimisation.
//!
//! Invariant protected: only verified modules are translated, and the code emitted
//! for them keeps every guarantee the verifier relies on (see `lower.rs`): no
//! instruction that can fault or trap, explicit checks for every access the
//! verifier did not prove, fuel and call-depth accounting, status propagation.
//!
//! Only x86-64 Linux hosts are supported; anything else gets
//! [`TranslateError::UnsupportedHost`].

mod instance;
mod lazy;
mod lower;
mod session;
mod trampoline;

pub use instance::{InstantiateError, JitInstance};

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use capjit_ir::Module;
use capjit_tcb::EntryFn;
use capjit_verifier::Verified;
use cranelift_codegen::settings::{self, Configurable};

use session::Session;

pub use lower::clif_type;

/// Which register allocator Cranelift uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Regalloc {
    Backtracking,
    SinglePass,
}

/// Translation settings. The defaults are the measured choice (`docs/translator.md`).
#[derive(Clone, Debug)]
pub struct Config {
    /// Run Cranelift's own IR verifier on every function (slow; for debugging).
    pub cranelift_verifier: bool,
    pub regalloc: Regalloc,
    /// Keep the CLIF text of every function.
    pub keep_clif: bool,
    /// Keep the machine-code listing of every function.
    pub keep_asm: bool,
    /// Keep a copy of every function's CLIF as handed to Cranelift (benchmarks).
    pub keep_functions: bool,
    /// Clamp each checked memory address and table index with a conditional move
    /// after its bounds check, so that a mispredicted check reads nothing out of
    /// bounds (Spectre variant 1). On by default; turning it off is for measuring.
    pub spectre_guards: bool,
    /// Emit fuel code (a count at function entries and backward branches).
    /// `JitInstance` turns it off when the limits give unlimited fuel.
    pub fuel: bool,
    /// `JitInstance` translates the exported functions and what they call
    /// directly up front, and any other function at its first call through a
    /// table, with what it calls directly (`lazy.rs`); off, it translates
    /// everything up front. [`translate`] is always eager.
    pub lazy: bool,
    /// Threads that lower and compile each batch of functions (the whole module
    /// when eager); 0: one per core. Keeping
    /// listings (`keep_clif`, `keep_asm`, `keep_functions`) uses one.
    pub threads: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            cranelift_verifier: false,
            regalloc: Regalloc::Backtracking,
            keep_clif: false,
            keep_asm: false,
            keep_functions: false,
            spectre_guards: true,
            fuel: true,
            lazy: true,
            threads: 0,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TranslateError {
    #[error("unsupported host: capjit generates code for x86-64 Linux only ({0})")]
    UnsupportedHost(String),
    #[error("code generation failed in `{function}`: {message}")]
    Codegen { function: String, message: String },
}

/// Counts and timings of one translation.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub functions: usize,
    pub ir_instructions: usize,
    pub clif_instructions: usize,
    pub code_bytes: usize,
    pub lower: Duration,
    pub compile: Duration,
    pub link: Duration,
}

/// Native code for a module, kept alive as long as this value lives.
pub struct Compiled {
    /// Owns the code (and, when lazy, translates the rest).
    session: Rc<RefCell<Session>>,
    /// Entry trampolines: `entries[domain][function]`, for exported functions.
    pub entries: Vec<Vec<Option<EntryFn>>>,
    /// Native code of every function, `code[domain][function]`; null for a
    /// function left to translate on its first call.
    pub code: Vec<Vec<*const u8>>,
    /// Every function's signature number (`lower::SigIds`): what a funcref to it
    /// carries in a table.
    pub sigs: Vec<Vec<u64>>,
    /// The largest native stack frame of any function translated, in bytes.
    pub max_frame_bytes: u64,
    /// The largest frame of an entry trampoline (zero without exports).
    pub max_trampoline_bytes: u64,
    /// Whether any function has a `call_cap`, whose runtime path puts the runtime's
    /// own frames and an entry trampoline between two generated frames.
    pub has_call_cap: bool,
    pub stats: Stats,
    /// `(domain.function, text)` when asked for.
    pub clif: Vec<(String, String)>,
    pub asm: Vec<(String, String)>,
    /// With `keep_functions`: each function body in definition order (not the
    /// trampolines); its callees are `FuncId`s of the `JITModule` declarations.
    pub functions: Vec<cranelift_codegen::ir::Function>,
}

/// The target ISA `translate` compiles for, with the flags `cfg` selects.
pub fn host_isa(cfg: &Config) -> Result<cranelift_codegen::isa::OwnedTargetIsa, TranslateError> {
    if !cfg!(all(target_arch = "x86_64", target_os = "linux")) {
        return Err(TranslateError::UnsupportedHost(format!(
            "this is {}-{}",
            std::env::consts::ARCH,
            std::env::consts::OS
        )));
    }
    let mut flags = settings::builder();
    let set = |flags: &mut settings::Builder, k: &str, v: &str| {
        flags
            .set(k, v)
            .map_err(|e| TranslateError::UnsupportedHost(format!("setting {k}={v}: {e}")))
    };
    set(&mut flags, "opt_level", "none")?;
    set(
        &mut flags,
        "enable_verifier",
        if cfg.cranelift_verifier { "true" } else { "false" },
    )?;
    set(&mut flags, "enable_nan_canonicalization", "true")?;
    set(&mut flags, "enable_multi_ret_implicit_sret", "true")?;
    set(
        &mut flags,
        "regalloc_algorithm",
        match cfg.regalloc {
            Regalloc::Backtracking => "backtracking",
            Regalloc::SinglePass => "single_pass",
        },
    )?;
    let isa = cranelift_native::builder().map_err(|e| TranslateError::UnsupportedHost(e.to_string()))?;
    isa.finish(settings::Flags::new(flags))
        .map_err(|e| TranslateError::UnsupportedHost(e.to_string()))
}

/// Translate every function of a verified module.
pub fn translate(v: &Verified<Module>, cfg: &Config) -> Result<Compiled, TranslateError> {
    let cfg = Config {
        lazy: false,
        ..cfg.clone()
    };
    translate_some(v, &cfg, |_| true)
}

/// Translate the exported functions of a verified module, their trampolines and
/// every function they reach by direct calls; every other function is left for
/// [`lazy::LazyTranslator`] to translate on its first call (its `code` entry is
/// null).
pub fn translate_exports(v: &Verified<Module>, cfg: &Config) -> Result<Compiled, TranslateError> {
    let cfg = Config {
        lazy: true,
        ..cfg.clone()
    };
    translate_some(v, &cfg, |f| f.exported)
}

fn translate_some(
    v: &Verified<Module>,
    cfg: &Config,
    now: impl Fn(&capjit_ir::Function) -> bool,
) -> Result<Compiled, TranslateError> {
    let m = v.module();
    let mut s = Session::new(m, cfg)?;
    let roots: Vec<(usize, usize)> = m
        .domains
        .iter()
        .enumerate()
        .flat_map(|(di, d)| {
            d.functions
                .iter()
                .enumerate()
                .filter(|(_, f)| now(f))
                .map(move |(fi, _)| (di, fi))
        })
        .collect();
    let functions = s.mark_batch(m, &roots);
    let threads = s.threads();
    s.define_all(v, &functions, threads)?;
    let mut trampolines = Vec::with_capacity(m.domains.len());
    for (di, d) in m.domains.iter().enumerate() {
        let mut domain_tramps = Vec::with_capacity(d.functions.len());
        for (fi, f) in d.functions.iter().enumerate() {
            let tramp = if f.exported {
                Some(s.define_trampoline(m, di, fi)?)
            } else {
                None
            };
            domain_tramps.push(tramp);
        }
        trampolines.push(domain_tramps);
    }
    s.finalize()?;
    let started = Instant::now();
    let entries = trampolines
        .iter()
        .map(|ds| ds.iter().map(|t| t.map(|id| s.entry(id))).collect())
        .collect();
    let code = m
        .domains
        .iter()
        .enumerate()
        .map(|(di, d)| {
            d.functions
                .iter()
                .enumerate()
                .map(|(fi, _)| {
                    if s.is_ready(di, fi) {
                        s.code(di, fi)
                    } else {
                        std::ptr::null()
                    }
                })
                .collect()
        })
        .collect();
    let sigs = m
        .domains
        .iter()
        .map(|d| d.functions.iter().map(|f| s.sig_ids.id(&f.sig)).collect())
        .collect();
    s.stats.link += started.elapsed();
    Ok(Compiled {
        entries,
        code,
        sigs,
        max_frame_bytes: s.max_frame,
        max_trampoline_bytes: s.max_trampoline,
        has_call_cap: m
            .domains
            .iter()
            .flat_map(|d| &d.functions)
            .flat_map(|f| &f.blocks)
            .any(|b| matches!(b.term, capjit_ir::Terminator::CallCap { .. })),
        stats: s.stats.clone(),
        clif: std::mem::take(&mut s.clif),
        asm: std::mem::take(&mut s.asm),
        functions: std::mem::take(&mut s.functions),
        session: Rc::new(RefCell::new(s)),
    })
}
