//! The `capjit` command line: a thin layer over the library. Every failure is a
//! message and a non-zero exit code, never a panic.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use codespan_reporting::term::termcolor::StandardStream;

use capjit::diagnostics;
use capjit::ir::exec::{RunError, TrapInfo};
use capjit::ir::{codec, print_module, Module, Type};
use capjit::ir::{TrapCode, Val};
use capjit::load::{self, LoadError, Loaded};
use capjit::verifier::{self, Verified};
use capjit::{Backend, Config, Instance};

mod limit_args;
use limit_args::LimitArgs;

/// Exit code when the program trapped.
const EXIT_TRAP: u8 = 3;
/// Exit code for a bad program, a missing file or a failed link.
const EXIT_ERROR: u8 = 1;

#[derive(Parser)]
#[command(
    name = "capjit",
    version,
    about = "Run mutually distrusting domains in one address space, calling each other through typed capabilities",
    after_help = "Exit codes: 0 success, 1 bad input (file, syntax, link), 2 bad arguments, 3 the program trapped."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Link the domains of one or more programs and call an exported function.
    Run(RunArgs),
    /// Check a program and report every error, or `ok` with a summary.
    Verify {
        /// Program files (`.cir`, `.cirb`, `.wasm` or `.wat`), linked together.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Verify and translate a program; print its IR, CLIF, machine code or statistics.
    Translate {
        /// Program files (`.cir`, `.cirb`, `.wasm` or `.wat`), linked together.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// What to print.
        #[arg(long, value_enum, default_value_t = Emit::Stats)]
        emit: Emit,
    },
    /// Print a program's canonical text.
    Fmt {
        /// A `.cir` or `.cirb` file.
        file: PathBuf,
    },
    /// Encode a program in the binary format.
    Encode {
        /// A `.cir` or `.cirb` file.
        file: PathBuf,
        /// Where to write the binary.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Optimise a program (untrusted passes that attach proof facts) and write its text.
    Opt {
        /// Program files (`.cir` or `.cirb`), linked together.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Write the optimised text here instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Decode a binary program and print it as text.
    Decode {
        /// A `.cirb` file.
        file: PathBuf,
        /// Write the text here instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Emit {
    /// The capjit IR text (for WebAssembly: what the frontend produced), unverified.
    Ir,
    /// Cranelift IR of every function.
    Clif,
    /// Machine code listing of every function.
    Asm,
    /// Counts, code size and time per phase.
    Stats,
}

#[derive(clap::Args)]
struct RunArgs {
    /// Program files (`.cir` text, `.cirb` binary, `.wasm` or `.wat` WebAssembly),
    /// then the arguments of the function to call, typed by its signature.
    #[arg(required = true, num_args = 1.., allow_negative_numbers = true, value_name = "FILE... [ARGS]")]
    inputs: Vec<String>,
    /// The function to call: `DOMAIN.FUNC`, or `FUNC` if one domain exports it. For
    /// WebAssembly, `FUNC` is the export's name (`MODULE.NAME` picks a module).
    /// Default: `main`; else a WebAssembly program's `_start`; else the only
    /// exported function.
    #[arg(long)]
    invoke: Option<String>,
    /// Run in the reference interpreter instead of the JIT.
    #[arg(long)]
    interp: bool,
    /// Print every inter-domain call and its result to standard error.
    #[arg(long)]
    trace_idc: bool,
    /// Grant a file to domains that import `host.file(NAME)`: `--grant NAME=PATH`.
    #[arg(long, value_name = "NAME=PATH")]
    grant: Vec<String>,
    /// Optimise first; if the optimised module fails verification, warn and run
    /// the unoptimised one.
    #[arg(long)]
    opt: bool,
    /// WASI: let the program read files below a host directory, `--dir PATH` (seen
    /// by the program as PATH) or `--dir HOST::GUEST`. Nothing else is reachable.
    #[arg(long, value_name = "DIR")]
    dir: Vec<String>,
    /// WASI: an environment variable for the program, `--env KEY=VALUE` (none by default).
    #[arg(long, value_name = "KEY=VALUE")]
    env: Vec<String>,
    #[command(flatten)]
    limits: LimitArgs,
}

/// A failure already reported to the user, with the exit code to use.
struct Reported(u8);

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::Verify { files } => verify_cmd(&files),
        Command::Translate { files, emit } => translate_cmd(&files, emit),
        Command::Fmt { file } => load_one(&file).map(|m| print!("{}", print_module(&m))),
        Command::Encode { file, output } => encode(&file, &output),
        Command::Decode { file, output } => decode(&file, output),
        Command::Opt { files, output } => opt_cmd(&files, output),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Reported(code)) => ExitCode::from(code),
    }
}

fn fail(message: impl std::fmt::Display) -> Reported {
    eprintln!("error: {message}");
    Reported(EXIT_ERROR)
}

fn report_load_error(e: LoadError) -> Reported {
    match e {
        LoadError::Parse { file, err } => {
            let mut stderr = StandardStream::stderr(diagnostics::stderr_colors());
            diagnostics::emit(&mut stderr, &file, Some(err.span), &err.message, "here");
            Reported(EXIT_ERROR)
        }
        other => fail(other),
    }
}

fn load_one(path: &std::path::Path) -> Result<Module, Reported> {
    load::load_file(path).map(|(m, _)| m).map_err(report_load_error)
}

fn encode(file: &std::path::Path, output: &std::path::Path) -> Result<(), Reported> {
    let m = load_one(file)?;
    std::fs::write(output, codec::encode(&m)).map_err(|e| fail(format!("cannot write `{}`: {e}", output.display())))
}

fn decode(file: &std::path::Path, output: Option<PathBuf>) -> Result<(), Reported> {
    let m = load_one(file)?;
    let text = print_module(&m);
    match output {
        Some(path) => std::fs::write(&path, text).map_err(|e| fail(format!("cannot write `{}`: {e}", path.display()))),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

/// Verify, rendering every error against the file its domain came from.
fn verify_loaded(loaded: &Loaded) -> Result<Verified<Module>, Reported> {
    verifier::verify(&loaded.module).map_err(|errors| {
        let mut stderr = StandardStream::stderr(diagnostics::stderr_colors());
        let mut renderer = diagnostics::Renderer::new();
        for e in &errors {
            let file = loaded
                .module
                .domains
                .iter()
                .position(|d| d.name == e.location.domain)
                .and_then(|i| loaded.domain_file.get(i))
                .and_then(|f| loaded.files.get(*f))
                .or(loaded.files.first());
            let message = format!("{} [{}]", e.kind, e.kind.name());
            match file {
                Some(file) => renderer.emit(&mut stderr, file, e.location.span, &message, &e.location.to_string()),
                None => eprintln!("error: {}: {message}", e.location),
            }
        }
        eprintln!("error: verification failed with {} error(s)", errors.len());
        Reported(EXIT_ERROR)
    })
}

fn verify_cmd(files: &[PathBuf]) -> Result<(), Reported> {
    let loaded = load::load_files(files).map_err(report_load_error)?;
    let verified = verify_loaded(&loaded)?;
    let c = verified.counts();
    let m = verified.module();
    let functions: usize = m.domains.iter().map(|d| d.functions.len()).sum();
    println!(
        "ok: {} domain(s), {functions} function(s), {} instruction(s); memory accesses: {} proven in bounds, {} checked at run time",
        m.domains.len(),
        c.instructions,
        c.accesses_proven,
        c.accesses_checked
    );
    Ok(())
}

fn translate_cmd(files: &[PathBuf], emit: Emit) -> Result<(), Reported> {
    let loaded = load::load_files(files).map_err(report_load_error)?;
    if matches!(emit, Emit::Ir) {
        print!("{}", print_module(&loaded.module));
        return Ok(());
    }
    let started = std::time::Instant::now();
    let verified = verify_loaded(&loaded)?;
    let verify_time = started.elapsed();
    let config = capjit::translator::Config {
        keep_clif: matches!(emit, Emit::Clif),
        keep_asm: matches!(emit, Emit::Asm),
        ..Default::default()
    };
    let compiled = capjit::translator::translate(&verified, &config).map_err(fail)?;
    match emit {
        Emit::Ir => {} // printed before verification
        Emit::Clif | Emit::Asm => {
            let listing = if matches!(emit, Emit::Clif) {
                &compiled.clif
            } else {
                &compiled.asm
            };
            for (name, text) in listing {
                println!("; {name}\n{text}");
            }
        }
        Emit::Stats => {
            let s = &compiled.stats;
            let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
            println!("functions:          {}", s.functions);
            println!("IR instructions:    {}", s.ir_instructions);
            println!("CLIF instructions:  {}", s.clif_instructions);
            println!("code bytes:         {}", s.code_bytes);
            println!("verify:             {:.3} ms", ms(verify_time));
            println!("lower:              {:.3} ms", ms(s.lower));
            println!("Cranelift compile:  {:.3} ms", ms(s.compile));
            println!("link:               {:.3} ms", ms(s.link));
        }
    }
    Ok(())
}

/// Does this command-line word name a program file rather than an argument?
fn looks_like_program(word: &str) -> bool {
    [".cir", ".cirb", ".wasm", ".wat"].iter().any(|ext| word.ends_with(ext))
}

/// Split `FILE... ARGS...`: the first word is always a file; files continue while
/// words carry a program extension.
fn split_inputs(inputs: &[String]) -> (Vec<PathBuf>, Vec<String>) {
    let files = 1 + inputs.iter().skip(1).take_while(|w| looks_like_program(w)).count();
    let files = files.min(inputs.len());
    (
        inputs[..files].iter().map(PathBuf::from).collect(),
        inputs[files..].to_vec(),
    )
}

/// The function `--invoke` names: a WebAssembly export's name (or `MODULE.NAME`),
/// `DOMAIN.FUNC`, or a unique exported `FUNC`. Without `--invoke`: `main`, or a
/// WebAssembly program's `_start`.
fn resolve_entry(loaded: &Loaded, invoke: Option<&str>) -> Result<(String, String), Reported> {
    let m = &loaded.module;
    let exported = |name: &str| {
        m.domains
            .iter()
            .any(|d| d.functions.iter().any(|f| f.exported && f.name == name))
    };
    let all_exports: Vec<(&str, &str)> = m
        .domains
        .iter()
        .flat_map(|d| {
            d.functions
                .iter()
                .filter(|f| f.exported)
                .map(move |f| (d.name.as_str(), f.name.as_str()))
        })
        .collect();
    let invoke = match (invoke, &loaded.wasm) {
        (Some(name), _) => name,
        (None, _) if exported("main") => "main",
        (None, Some(w)) if w.exports.iter().any(|e| e.wasm_name == "_start") => "_start",
        (None, _) => match all_exports.as_slice() {
            [(d, f)] => return Ok((d.to_string(), f.to_string())),
            _ => "main",
        },
    };
    if let Some(w) = &loaded.wasm {
        if let Some(found) = resolve_wasm_export(w, invoke)? {
            return Ok(found);
        }
    }
    resolve_ir_entry(m, invoke)
}

/// A WebAssembly export by its Wasm name, or `MODULE.NAME`; `None` if no module
/// exports such a name.
fn resolve_wasm_export(w: &load::WasmInfo, invoke: &str) -> Result<Option<(String, String)>, Reported> {
    let by_name: Vec<_> = w.exports.iter().filter(|e| e.wasm_name == invoke).collect();
    match by_name.as_slice() {
        [one] => return Ok(Some((one.domain.clone(), one.function.clone()))),
        [] => {}
        many => {
            let modules: Vec<&str> = many
                .iter()
                .filter_map(|e| w.modules.iter().find(|m| m.domain == e.domain).map(|m| m.name.as_str()))
                .collect();
            return Err(fail(format!(
                "several modules export `{invoke}` ({}); choose one with --invoke MODULE.{invoke}",
                modules.join(", ")
            )));
        }
    }
    let Some((module, name)) = invoke.split_once('.') else {
        return Ok(None);
    };
    let Some(info) = w.modules.iter().find(|m| m.name == module || m.domain == module) else {
        return Ok(None);
    };
    Ok(w.exports
        .iter()
        .find(|e| e.domain == info.domain && e.wasm_name == name)
        .map(|e| (e.domain.clone(), e.function.clone())))
}

/// Find `DOMAIN.FUNC` or a unique exported `FUNC` among the IR domains.
fn resolve_ir_entry(m: &Module, invoke: &str) -> Result<(String, String), Reported> {
    if let Some((d, f)) = invoke.split_once('.') {
        return Ok((d.to_string(), f.to_string()));
    }
    let owners: Vec<&str> = m
        .domains
        .iter()
        .filter(|d| d.functions.iter().any(|f| f.exported && f.name == invoke))
        .map(|d| d.name.as_str())
        .collect();
    match owners.as_slice() {
        [one] => Ok((one.to_string(), invoke.to_string())),
        [] => Err(fail(format!(
            "no domain exports a function `{invoke}`; name one with --invoke DOMAIN.FUNC"
        ))),
        many => Err(fail(format!(
            "several domains export `{invoke}` ({}); choose one with --invoke DOMAIN.FUNC",
            many.join(", ")
        ))),
    }
}

/// Parse command-line arguments against the entry function's parameter types.
/// The exported function `domain.func`, if there is one.
fn exported_function<'m>(m: &'m Module, domain: &str, func: &str) -> Option<&'m capjit::ir::Function> {
    m.domains
        .iter()
        .find(|d| d.name == domain)
        .and_then(|d| d.functions.iter().find(|f| f.name == func && f.exported))
}

fn parse_args(m: &Module, domain: &str, func: &str, words: &[String]) -> Result<Vec<Val>, Reported> {
    let Some(f) = exported_function(m, domain, func) else {
        return Err(fail(format!("domain `{domain}` exports no function `{func}`")));
    };
    if words.len() != f.sig.params.len() {
        return Err(fail(format!(
            "`{domain}.{func}` takes {} argument(s) {}, given {}",
            f.sig.params.len(),
            f.sig,
            words.len()
        )));
    }
    f.sig
        .params
        .iter()
        .zip(words)
        .map(|(ty, w)| parse_arg(ty, w).ok_or_else(|| fail(format!("argument `{w}` is not a valid {ty}"))))
        .collect()
}

fn parse_arg(ty: &Type, w: &str) -> Option<Val> {
    match ty {
        Type::I32 => {
            let v: i64 = w.parse().ok()?;
            (i32::MIN as i64..=u32::MAX as i64)
                .contains(&v)
                .then_some(Val::I32(v as i32))
        }
        Type::I64 => {
            let v: i128 = w.parse().ok()?;
            (i64::MIN as i128..=u64::MAX as i128)
                .contains(&v)
                .then_some(Val::I64(v as i64))
        }
        Type::F32 => w.parse::<f32>().ok().map(|f| Val::F32(f.to_bits())),
        Type::F64 => w.parse::<f64>().ok().map(|f| Val::F64(f.to_bits())),
        Type::Cap(_) | Type::Region | Type::Buf => None,
    }
}

/// A result as the CLI prints it: the bare number.
fn plain(v: &Val) -> String {
    match *v {
        Val::I32(x) => x.to_string(),
        Val::I64(x) => x.to_string(),
        Val::F32(b) => format!("{:?}", f32::from_bits(b)),
        Val::F64(b) => format!("{:?}", f64::from_bits(b)),
        other => other.to_string(),
    }
}

fn run(args: RunArgs) -> Result<(), Reported> {
    let (files, words) = split_inputs(&args.inputs);
    let loaded = load::load_files(&files).map_err(report_load_error)?;
    let (domain, func) = resolve_entry(&loaded, args.invoke.as_deref())?;
    // A WASI program's entry takes no parameters: the words are its arguments.
    let wasi = imports_wasi(&loaded.module);
    let takes_params = exported_function(&loaded.module, &domain, &func).is_some_and(|f| !f.sig.params.is_empty());
    let (vals, program_args) = if wasi && !takes_params {
        (Vec::new(), words)
    } else {
        (parse_args(&loaded.module, &domain, &func, &words)?, Vec::new())
    };
    let limits = args.limits.limits();
    let verified = if args.opt {
        verify_optimized(&loaded)?
    } else {
        verify_loaded(&loaded)?
    };
    let host_functions = if wasi {
        capjit_wasi::host_functions(wasi_context(&args, &files[0], program_args)?)
    } else {
        Vec::new()
    };
    let config = Config {
        backend: if args.interp {
            Backend::Interpreter
        } else {
            Backend::Jit
        },
        limits,
        host_functions,
        ..Config::default()
    };
    let mut instance = Instance::from_verified(verified, &config, Box::new(std::io::stdout())).map_err(fail)?;
    instance.set_trace(args.trace_idc);
    for grant in &args.grant {
        let Some((name, path)) = grant.split_once('=') else {
            return Err(fail(format!("--grant expects NAME=PATH, found `{grant}`")));
        };
        instance.grant_file(name, PathBuf::from(path));
    }
    let starts = loaded
        .wasm
        .as_ref()
        .map(load::WasmInfo::start_functions)
        .unwrap_or_default();
    let mut result = Ok(Vec::new());
    for (d, f) in &starts {
        result = instance.invoke(d, f, &[]);
        if result.is_err() {
            break;
        }
    }
    if result.is_ok() {
        result = instance.invoke(&domain, &func, &vals);
    }
    let _ = std::io::stdout().flush();
    for event in instance.take_trace() {
        let outcome = match &event.outcome {
            Ok(vals) => format!("ok({})", vals.iter().map(plain).collect::<Vec<_>>().join(", ")),
            Err(code) => format!("fail({code})"),
        };
        eprintln!("idc: {} -> {}: {outcome}", event.caller, event.import);
    }
    let entry_trap = match &result {
        Err(RunError::Trap(info)) => Some(info.clone()),
        _ => None,
    };
    let exited = matches!(result, Err(RunError::Exit(_)));
    let entry_exit = |f: &TrapInfo| exited && f.domain == domain && f.code == TrapCode::Exit;
    for fault in instance
        .faults()
        .into_iter()
        .filter(|f| Some(f) != entry_trap.as_ref() && !entry_exit(f))
    {
        eprintln!("note: domain `{}` is faulted: {fault}", fault.domain);
    }
    match result {
        Ok(vals) => {
            for v in &vals {
                println!("{}", plain(v));
            }
            Ok(())
        }
        Err(RunError::Trap(info)) => {
            eprintln!("error: {info}");
            Err(Reported(EXIT_TRAP))
        }
        // A host function ended the run (WASI `proc_exit`): exit with its status
        // (statuses outside 0..=255 become 1).
        Err(RunError::Exit(0)) => Ok(()),
        Err(RunError::Exit(status)) => Err(Reported(u8::try_from(status).unwrap_or(EXIT_ERROR))),
        Err(e) => Err(fail(e)),
    }
}

/// Whether any domain imports a WASI function (`host.wasi_*`).
fn imports_wasi(m: &Module) -> bool {
    m.domains
        .iter()
        .flat_map(|d| &d.imports)
        .any(|i| matches!(&i.source, capjit::ir::ImportSource::Host { function } if function.starts_with("wasi_")))
}

/// The WASI context of a `run`: the process's stdio, the arguments after the
/// files (the program's path first), `--env` variables and `--dir` directories.
fn wasi_context(
    args: &RunArgs,
    program: &std::path::Path,
    words: Vec<String>,
) -> Result<capjit_wasi::WasiCtx, Reported> {
    let mut builder = capjit_wasi::WasiCtx::builder()
        .inherit_stdio()
        .arg(program.display().to_string())
        .args(words);
    for pair in &args.env {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(fail(format!("--env expects KEY=VALUE, found `{pair}`")));
        };
        builder = builder.env(key, value);
    }
    for dir in &args.dir {
        let (host, guest) = dir.split_once("::").unwrap_or((dir, dir));
        builder = builder.preopened_dir(guest, host);
    }
    builder.build().map_err(|e| fail(format!("--dir: {e}")))
}

/// Optimise, verify the result, and fall back to the (verified) original with a
/// warning naming the first errors when the optimised module is rejected.
fn verify_optimized(loaded: &Loaded) -> Result<Verified<Module>, Reported> {
    match capjit::optimize_and_verify(&loaded.module) {
        Ok(out) => {
            for w in out.warnings(5) {
                eprintln!("{w}");
            }
            Ok(out.verified)
        }
        // The original itself does not verify: report it as `run` always does.
        Err(_) => verify_loaded(loaded),
    }
}

/// Memory accesses as `P of N proven`.
fn proven_text((proven, checked): (u64, u64)) -> String {
    format!("{proven} of {} proven", proven + checked)
}

fn opt_cmd(files: &[PathBuf], output: Option<PathBuf>) -> Result<(), Reported> {
    let loaded = load::load_files(files).map_err(report_load_error)?;
    let original = verify_loaded(&loaded)?;
    let c = original.counts();
    let before = (c.accesses_proven, c.accesses_checked);
    let (module, report) = capjit::optimizer::optimize_report(&loaded.module, &capjit::optimizer::Options::default());
    let text = print_module(&module);
    match &output {
        Some(path) => {
            std::fs::write(path, &text).map_err(|e| fail(format!("cannot write `{}`: {e}", path.display())))?
        }
        None => print!("{text}"),
    }
    for f in &report.versioned {
        eprintln!("note: `{f}` specialised for small values of a parameter");
    }
    if report.facts_dropped > 0 {
        eprintln!(
            "note: {} fact(s) the verifier did not accept were dropped; first: {}",
            report.facts_dropped,
            report.dropped_messages.first().map_or("", String::as_str)
        );
    }
    match verifier::verify(&module) {
        Ok(v) => {
            let c = v.counts();
            eprintln!(
                "ok: memory accesses {} before, {} after optimisation",
                proven_text(before),
                proven_text((c.accesses_proven, c.accesses_checked))
            );
            Ok(())
        }
        Err(errors) => {
            for e in errors.iter().take(5) {
                eprintln!("error: [{}] {}: {}", e.kind.name(), e.location, e.kind);
            }
            Err(fail(format!(
                "the optimised module fails verification with {} error(s) (written anyway)",
                errors.len()
            )))
        }
    }
}
