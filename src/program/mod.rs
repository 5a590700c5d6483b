//! Running a program the way `capjit run` does, for any host: the entry point
//! ([`entry`]), its arguments from words ([`args`]), WASI programs ([`wasi`]),
//! and WebAssembly start functions. The CLI parses its flags into
//! [`RunOptions`] and prints what comes back; everything in between is here, so
//! an embedder that calls [`Program::prepare`] and [`Program::run`] gets what
//! `capjit run FILE... ARGS` does.
//!
//! The steps, in order: resolve the entry point; read the words as its
//! arguments (or, for a WASI program whose entry takes none, hand them to the
//! program as its command line); verify, optimising first if asked; instantiate
//! with the WASI host functions when the program imports them; switch tracing
//! on and grant files; then, at [`Program::run`], call each start function and
//! the entry point. A mistake in how the program is called is reported before
//! anything is verified.
//!
//! ```
//! use capjit::ir::Val;
//! use capjit::load::load_files;
//! use capjit::program::{Program, RunOptions};
//! use capjit::Backend;
//!
//! // What `capjit run double.cir 21` does (here with `--interp`; the JIT agrees).
//! let path = std::env::temp_dir().join(format!("capjit-doc-double-{}.cir", std::process::id()));
//! std::fs::write(
//!     &path,
//!     "domain d {
//!        export func double(i64) -> i64 {
//!        block0(v0: i64):
//!          v1 = iadd.i64 v0, v0
//!          return v1
//!        }
//!      }",
//! )?;
//! let loaded = load_files(&[path.clone()])?;
//! let mut options = RunOptions { args: vec!["21".into()], ..RunOptions::default() };
//! options.config.backend = Backend::Interpreter;
//! let mut program = Program::prepare(&loaded, options, Box::new(std::io::stdout()))?;
//! assert_eq!(program.entry.to_string(), "d.double"); // the only export
//! assert_eq!(program.run()?, vec![Val::I64(42)]);
//!
//! // A word that is not an i64 is refused before anything is verified or run.
//! let options = RunOptions { args: vec!["x".into()], ..RunOptions::default() };
//! let err = Program::prepare(&loaded, options, Box::new(std::io::stdout())).err().unwrap();
//! assert_eq!(err.to_string(), "argument `x` is not a valid i64 (parameter 1 of `d.double`)");
//! # std::fs::remove_file(&path)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod args;
pub mod entry;
pub mod wasi;

use std::io::Write;
use std::path::PathBuf;

use capjit_ir::exec::RunError;
use capjit_ir::{Module, Val};
use capjit_verifier::{Verified, VerifyError};
use capjit_wasi::{WasiCtx, WasiCtxBuilder};

pub use args::{entry_signature, parse_args, ArgError};
pub use entry::{resolve_entry, Entry, EntryError};
pub use wasi::imports_wasi;

use crate::load::Loaded;
use crate::{Config, EngineError, Instance};

/// How to run a program: what `capjit run`'s flags say.
pub struct RunOptions {
    /// The entry point's name (see [`entry`]); `None`: the default one.
    pub entry: Option<String>,
    /// The words after the program: the entry point's arguments, read by its
    /// parameter types, or a WASI program's command-line arguments.
    pub args: Vec<String>,
    /// Optimise first; if the optimised module fails verification, run the
    /// original and say why in [`Program::warnings`].
    pub optimize: bool,
    /// Record every inter-domain call (see [`Instance::take_trace`]).
    pub trace: bool,
    /// Files granted to imports of `host.file(NAME)`: (NAME, path).
    pub grants: Vec<(String, PathBuf)>,
    /// What a WASI program may reach: stdio, environment, directories. Its
    /// arguments are added here: [`RunOptions::program_name`], then the words.
    /// Default: nothing (stdio discarded); `capjit run` inherits its stdio.
    pub wasi: WasiCtxBuilder,
    /// A WASI program's own name, its first argument; `None`: the first file's name.
    pub program_name: Option<String>,
    /// Backend, limits, translator settings and host functions (the WASI ones
    /// are added to these when the program imports WASI).
    pub config: Config,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            entry: None,
            args: Vec::new(),
            optimize: false,
            trace: false,
            grants: Vec::new(),
            wasi: WasiCtx::builder(),
            program_name: None,
            config: Config::default(),
        }
    }
}

/// Why a program could not be made ready to run.
#[derive(Debug, thiserror::Error)]
pub enum ProgramError {
    #[error(transparent)]
    Entry(#[from] EntryError),
    #[error(transparent)]
    Args(#[from] ArgError),
    /// Every error the verifier reported, for the host to render.
    #[error("verification failed with {} error(s); first: {}", .0.len(), .0.first().map_or(String::new(), |e| e.to_string()))]
    Verify(Vec<VerifyError>),
    /// A preopened directory cannot be used.
    #[error("WASI: {0}")]
    Wasi(std::io::Error),
    #[error(transparent)]
    Instantiate(#[from] EngineError),
}

/// What the entry point receives.
#[derive(Clone, Debug, PartialEq)]
pub enum EntryArgs {
    /// One value per parameter.
    Typed(Vec<Val>),
    /// A WASI program whose entry takes no parameters: the words are its
    /// command-line arguments.
    Wasi(Vec<String>),
}

/// A program checked and ready to instantiate: entry resolved, arguments read,
/// module verified. [`Plan::warnings`] can be shown before anything runs.
pub struct Plan {
    pub entry: Entry,
    pub args: EntryArgs,
    /// WebAssembly start functions, in input order.
    pub start_functions: Vec<Entry>,
    /// Why the optimised module is not used (with [`RunOptions::optimize`]).
    pub warnings: Vec<String>,
    wasi: bool,
    program_name: String,
    verified: Verified<Module>,
    options: RunOptions,
}

impl Plan {
    /// Resolve the entry point, read the arguments, then verify (and optimise, if
    /// asked). Errors in the call come before the verifier's.
    pub fn new(loaded: &Loaded, options: RunOptions) -> Result<Plan, ProgramError> {
        let module = &loaded.module;
        let entry = resolve_entry(loaded, options.entry.as_deref())?;
        let wasi = imports_wasi(module);
        let takes_params = entry_signature(module, &entry).is_some_and(|sig| !sig.params.is_empty());
        let args = if wasi && !takes_params {
            EntryArgs::Wasi(options.args.clone())
        } else {
            EntryArgs::Typed(parse_args(module, &entry, &options.args)?)
        };
        let (verified, warnings) = verify(module, options.optimize)?;
        let start_functions = loaded
            .wasm
            .as_ref()
            .map(|w| w.start_functions())
            .unwrap_or_default()
            .into_iter()
            .map(|(domain, function)| Entry::new(domain, function))
            .collect();
        let program_name = options
            .program_name
            .clone()
            .or_else(|| loaded.files.first().map(|f| f.name.clone()))
            .unwrap_or_default();
        Ok(Plan {
            entry,
            args,
            start_functions,
            warnings,
            wasi,
            program_name,
            verified,
            options,
        })
    }

    /// Instantiate (with the WASI host functions if the program imports them),
    /// switch tracing on if asked, and grant the files. Host `print` functions
    /// write to `output`.
    pub fn instantiate(self, output: Box<dyn Write + Send>) -> Result<Program, ProgramError> {
        let RunOptions {
            trace,
            grants,
            wasi: wasi_ctx,
            mut config,
            ..
        } = self.options;
        let (args, words) = match self.args {
            EntryArgs::Typed(vals) => (vals, Vec::new()),
            EntryArgs::Wasi(words) => (Vec::new(), words),
        };
        if self.wasi {
            let wasi_fns = wasi::wasi_host_functions(wasi_ctx, self.program_name, words).map_err(ProgramError::Wasi)?;
            config.host_functions.extend(wasi_fns);
        }
        let mut instance = Instance::from_verified(self.verified, &config, output)?;
        instance.set_trace(trace);
        for (name, path) in grants {
            instance.grant_file(&name, path);
        }
        Ok(Program {
            instance,
            entry: self.entry,
            warnings: self.warnings,
            args,
            start_functions: self.start_functions,
        })
    }
}

/// Verify `module`, or optimise and verify it; the warnings say why an optimised
/// module was not used.
fn verify(module: &Module, optimize: bool) -> Result<(Verified<Module>, Vec<String>), ProgramError> {
    if !optimize {
        let verified = capjit_verifier::verify(module).map_err(ProgramError::Verify)?;
        return Ok((verified, Vec::new()));
    }
    let optimized = crate::optimize_and_verify(module).map_err(ProgramError::Verify)?;
    let warnings = optimized.warnings(5);
    Ok((optimized.verified, warnings))
}

/// A program instantiated and ready to run: what `capjit run` runs.
pub struct Program {
    /// The running instance: for results, faults, memories and traces.
    pub instance: Instance,
    /// The function [`Program::run`] calls.
    pub entry: Entry,
    /// Why the optimised module is not used (with [`RunOptions::optimize`]).
    pub warnings: Vec<String>,
    args: Vec<Val>,
    start_functions: Vec<Entry>,
}

impl Program {
    /// [`Plan::new`], then [`Plan::instantiate`].
    pub fn prepare(
        loaded: &Loaded,
        options: RunOptions,
        output: Box<dyn Write + Send>,
    ) -> Result<Program, ProgramError> {
        Plan::new(loaded, options)?.instantiate(output)
    }

    /// Call the start functions (the first time only; the first that fails
    /// ends the run with its error), then the entry point with its arguments.
    pub fn run(&mut self) -> Result<Vec<Val>, RunError> {
        for start in std::mem::take(&mut self.start_functions) {
            self.instance.invoke(&start.domain, &start.function, &[])?;
        }
        self.instance
            .invoke(&self.entry.domain, &self.entry.function, &self.args)
    }
}
