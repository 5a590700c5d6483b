//! The `capjit` command line: a thin layer over the library. Every failure is a
//! message and a non-zero exit code, never a panic.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use codespan_reporting::term::termcolor::StandardStream;

use capjit::diagnostics;
use capjit::ir::exec::{RunError, TrapInfo};
use capjit::ir::{codec, print_module, Module};
use capjit::ir::{TrapCode, Val};
use capjit::load::{self, LoadError, Loaded};
use capjit::program::{Plan, ProgramError, RunOptions};
use capjit::verifier::{self, Verified, VerifyError};
use capjit::{Backend, Config};
use capjit_wasi::WasiCtxBuilder;

mod limit_args;
mod watchdog;
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
    after_help = "Exit codes: 0 success, 1 bad input (file, syntax, link), 2 bad arguments, 3 the program trapped, \
                  124 --timeout ran out, 130 Ctrl-C; a WASI program that exits with a status gives that status."
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
        /// Translate with fuel code, as `run --fuel N` does. Without it, as `run`
        /// does by default: fuel is unlimited, so no fuel code.
        #[arg(long)]
        fuel: bool,
        /// Threads that translate functions in parallel (default: one per core;
        /// `--emit clif` and `--emit asm` use one). Statistics add up the time
        /// of every thread.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=256))]
        threads: Option<u32>,
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
    /// then the arguments of the function to call, typed by its signature (a WASI
    /// program: its command-line arguments). Everything after the first file goes
    /// to the program as it is, `-` words included: capjit's options come before it.
    #[arg(
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        value_name = "FILE... [ARGS]"
    )]
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
    /// Translate every function before the run starts, instead of a function
    /// reached only through a table at its first call (for measuring; the
    /// results are the same).
    #[arg(long, conflicts_with = "interp")]
    eager: bool,
    /// After the run, print to standard error how many functions the JIT
    /// translated (of how many) and how long that took.
    #[arg(long, conflicts_with = "interp")]
    translation_stats: bool,
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
    /// WASI: grant a host directory, read-write: `--dir PATH` (seen by the
    /// program as PATH) or `--dir HOST::GUEST`; add `:ro` for read-only
    /// (`--dir data:ro`, `--dir ./data::/data:ro`) or `:rw` to say read-write
    /// explicitly (for a name that itself ends in `:ro`). Nothing else is reachable.
    #[arg(long, value_name = "DIR[::GUEST][:ro]")]
    dir: Vec<String>,
    /// WASI: an environment variable for the program, `--env KEY=VALUE` (none by default).
    #[arg(long, value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// Stop the run after this long (`10`, `2s`, `500ms`, `1m`): a message and
    /// exit code 124. Default: no limit. Ctrl-C stops it too (exit code 130).
    #[arg(long, value_name = "DURATION", value_parser = watchdog::parse_timeout)]
    timeout: Option<std::time::Duration>,
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
        Command::Translate {
            files,
            emit,
            fuel,
            threads,
        } => translate_cmd(&files, emit, fuel, threads.unwrap_or(0) as usize),
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
    verifier::verify(&loaded.module).map_err(|errors| report_verify_errors(loaded, &errors))
}

/// Render each verification error against the file its domain came from.
fn report_verify_errors(loaded: &Loaded, errors: &[VerifyError]) -> Reported {
    let mut stderr = StandardStream::stderr(diagnostics::stderr_colors());
    let mut renderer = diagnostics::Renderer::new();
    for e in errors {
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

fn translate_cmd(files: &[PathBuf], emit: Emit, fuel: bool, threads: usize) -> Result<(), Reported> {
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
        fuel,
        threads,
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
            println!("wall clock:         {:.3} ms", ms(started.elapsed()));
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

/// The first program argument that is one of `capjit run`'s own long options
/// (`--fuel`, `--fuel=5`, ...), for a hint when the arguments were refused.
fn misplaced_option(words: &[String]) -> Option<&str> {
    use clap::CommandFactory;
    let cli = Cli::command();
    let run = cli.find_subcommand("run")?;
    let options: Vec<&str> = run.get_arguments().filter_map(|a| a.get_long()).collect();
    words.iter().map(String::as_str).find(|w| {
        let name = w.strip_prefix("--").unwrap_or("");
        let name = name.split('=').next().unwrap_or("");
        options.contains(&name)
    })
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
    let options = RunOptions {
        entry: args.invoke.clone(),
        args: words,
        optimize: args.opt,
        trace: args.trace_idc,
        grants: parse_grants(&args.grant)?,
        wasi: wasi_builder(&args.env, &args.dir)?,
        program_name: files.first().map(|f| f.display().to_string()),
        config: Config {
            backend: if args.interp {
                Backend::Interpreter
            } else {
                Backend::Jit
            },
            limits: args.limits.limits(),
            translator: capjit::translator::Config {
                lazy: !args.eager,
                ..Default::default()
            },
            ..Config::default()
        },
    };
    let plan = Plan::new(&loaded, options).map_err(|e| {
        let reported = report_program_error(&loaded, e);
        if let Some(flag) = misplaced_option(&args.inputs[files.len()..]) {
            eprintln!(
                "help: `{flag}` comes after the program file, so it went to the program; capjit's options go before the file"
            );
        }
        reported
    })?;
    for warning in &plan.warnings {
        eprintln!("{warning}");
    }
    let mut program = plan
        .instantiate(Box::new(std::io::stdout()))
        .map_err(|e| report_program_error(&loaded, e))?;
    watchdog::arm(args.timeout);
    let result = program.run();
    let (instance, domain) = (&mut program.instance, &program.entry.domain);
    let _ = std::io::stdout().flush();
    for event in instance.take_trace() {
        let outcome = match &event.outcome {
            Ok(vals) => format!("ok({})", vals.iter().map(plain).collect::<Vec<_>>().join(", ")),
            Err(code) => format!("fail({code})"),
        };
        eprintln!("idc: {} -> {}: {outcome}", event.caller, event.import);
    }
    if let (true, Some(s)) = (args.translation_stats, instance.translation_stats()) {
        let total: usize = instance.module().domains.iter().map(|d| d.functions.len()).sum();
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        eprintln!(
            "translated: {} of {total} functions, {} IR and {} CLIF instructions, {} bytes of code; \
             lower {:.1} ms, Cranelift {:.1} ms, link {:.1} ms",
            s.functions,
            s.ir_instructions,
            s.clif_instructions,
            s.code_bytes,
            ms(s.lower),
            ms(s.compile),
            ms(s.link)
        );
    }
    let entry_trap = match &result {
        Err(RunError::Trap(info)) => Some(info.clone()),
        _ => None,
    };
    let exited = matches!(result, Err(RunError::Exit(_)));
    let entry_exit = |f: &TrapInfo| exited && &f.domain == domain && f.code == TrapCode::Exit;
    for fault in instance
        .faults()
        .into_iter()
        .filter(|f| Some(f) != entry_trap.as_ref() && !entry_exit(f))
    {
        eprintln!(
            "note: domain `{}` is faulted: {}",
            fault.domain,
            trap_text(&loaded, &fault)
        );
    }
    match result {
        Ok(vals) => {
            for v in &vals {
                println!("{}", plain(v));
            }
            Ok(())
        }
        Err(RunError::Trap(info)) => {
            eprintln!("error: {}", trap_text(&loaded, &info));
            Err(Reported(EXIT_TRAP))
        }
        // A host function ended the run (WASI `proc_exit`): exit with its status
        // (statuses outside 0..=255 become 1).
        Err(RunError::Exit(0)) => Ok(()),
        Err(RunError::Exit(status)) => Err(Reported(u8::try_from(status).unwrap_or(EXIT_ERROR))),
        Err(e) => Err(fail(e)),
    }
}

/// A trap as the user reads it: in a WebAssembly function, its kind, the Wasm
/// function and the byte offset (the IR location follows in brackets); elsewhere
/// its IR location.
fn trap_text(loaded: &Loaded, trap: &TrapInfo) -> String {
    // `DOMAIN.FUNCTION blockB inst I` (or `terminator`), as `TrapInfo` shows it,
    // after the Wasm function and offset when the site is in one.
    let site = |function: &str, block: u32, inst: Option<u32>| {
        let at = inst.map_or_else(|| "terminator".to_string(), |i| format!("inst {i}"));
        let ir = format!("{}.{function} block{block} {at}", trap.domain);
        let wasm = loaded
            .wasm
            .as_ref()
            .and_then(|w| w.site(&loaded.module, &trap.domain, function, block, inst));
        match wasm {
            Some(wasm) => format!("{wasm} (IR: {ir})"),
            None => ir,
        }
    };
    let mut text = format!("trap {} in {}", trap.code, site(&trap.function, trap.block, trap.inst));
    for c in &trap.callers {
        text.push_str(&format!("\n  called from {}", site(&c.function, c.block, Some(c.inst))));
    }
    text
}

/// Report why a program could not be made ready to run.
fn report_program_error(loaded: &Loaded, e: ProgramError) -> Reported {
    match e {
        ProgramError::Verify(errors) => report_verify_errors(loaded, &errors),
        ProgramError::Entry(e) => {
            let reported = fail(e);
            eprintln!("help: name the function to run with --invoke DOMAIN.FUNC (WebAssembly: NAME or MODULE.NAME)");
            reported
        }
        ProgramError::Wasi(e) => fail(format!("--dir: {e}")),
        other => fail(other),
    }
}

/// `--grant NAME=PATH` pairs.
fn parse_grants(grants: &[String]) -> Result<Vec<(String, PathBuf)>, Reported> {
    grants
        .iter()
        .map(|grant| match grant.split_once('=') {
            Some((name, path)) => Ok((name.to_string(), PathBuf::from(path))),
            None => Err(fail(format!("--grant expects NAME=PATH, found `{grant}`"))),
        })
        .collect()
}

/// What a WASI program may reach: the process's stdio, the `--env` variables
/// and the `--dir` directories (`PATH`, or `HOST::GUEST`, then optionally `:ro`
/// for read-only or `:rw`; read-write by default, as in Wasmtime).
fn wasi_builder(env: &[String], dirs: &[String]) -> Result<WasiCtxBuilder, Reported> {
    let mut builder = capjit_wasi::WasiCtx::builder().inherit_stdio();
    for pair in env {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(fail(format!("--env expects KEY=VALUE, found `{pair}`")));
        };
        builder = builder.env(key, value);
    }
    for dir in dirs {
        let (spec, writable) = match (dir.strip_suffix(":ro"), dir.strip_suffix(":rw")) {
            (Some(spec), _) => (spec, false),
            (_, Some(spec)) => (spec, true),
            _ => (dir.as_str(), true),
        };
        let (host, guest) = spec.split_once("::").unwrap_or((spec, spec));
        if host.is_empty() || guest.is_empty() {
            return Err(fail(format!(
                "--dir expects PATH or HOST::GUEST, optionally with :ro, found `{dir}`"
            )));
        }
        builder = if writable {
            builder.preopened_dir(guest, host)
        } else {
            builder.preopened_dir_readonly(guest, host)
        };
    }
    Ok(builder)
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
