//! Shared by the integration tests that run `.cir` files against expectations in
//! their comment header (`tests/programs.rs`, later `tests/attacks/` and
//! `examples/` harnesses).
//!
//! A file starts with comment lines; the first is a one-line description, the
//! others are `key: value` headers:
//!
//! ```text
//! ; what this program checks, one line
//! ; invoke: app.main          (optional; default: the unique exported `main`)
//! ; args: 5 -3                (optional; parsed by the entry signature like the CLI does)
//! ; fuel: 1000                (optional)
//! ; expect: i64:42 i32:7      (results in `Val`'s Display form; `; expect:` alone = no results)
//! ; trap: out_of_bounds       (instead of expect: the entry call traps with this code)
//! ; stdout: 42                (optional, repeatable: one expected line of host output each)
//! ; faulted: kv worker        (optional: exactly these domains are faulted at the end)
//! ```
//!
//! Results are compared bit for bit (so `f64:-0.0` differs from `f64:0.0` and NaN
//! payloads matter). When no `; stdout:` line is given the program must print
//! nothing. [`check_file`] (programs and examples) reads an absent `; faulted:` as
//! "no domain, or just the entry domain of a `; trap:` file" ([`default_faulted`]);
//! [`compare`] itself checks the faulted domains only when the header names them.
#![allow(dead_code)]

pub mod wellformed;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use capjit::ir::interp::{Instance, Limits, RunError, Val};
use capjit::ir::{parse_module, Module, TrapCode, Type};

/// What a file says its entry call does.
#[derive(Clone, Debug, PartialEq)]
pub enum Expected {
    /// Returns exactly these values.
    Values(Vec<Val>),
    /// Traps with this code (in the entry domain, i.e. it reaches the host).
    Trap(TrapCode),
}

/// A parsed comment header.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    pub description: String,
    /// `DOMAIN.FUNC` or a bare `FUNC` exported by exactly one domain.
    pub invoke: Option<String>,
    /// Raw argument words, typed later by the entry signature.
    pub args: Vec<String>,
    pub fuel: Option<u64>,
    pub expected: Expected,
    /// Expected output lines of host printing, in order.
    pub stdout: Vec<String>,
    /// Exactly these domains are faulted at the end (sorted); `None` = not given.
    pub faulted: Option<Vec<String>>,
}

const KEYS: [&str; 7] = ["invoke", "args", "fuel", "expect", "trap", "stdout", "faulted"];

/// Parse the leading comment block of a `.cir` file.
pub fn parse_header(src: &str) -> Result<Header, String> {
    let mut description = None;
    let mut invoke = None;
    let mut args = None;
    let mut fuel = None;
    let mut expect: Option<Vec<Val>> = None;
    let mut trap = None;
    let mut stdout = Vec::new();
    let mut faulted = None;
    for (n, line) in src.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some(text) = line.strip_prefix(';') else {
            break; // the header ends at the first line of code
        };
        let text = text.trim_start();
        let keyed = text
            .split_once(':')
            .filter(|(k, _)| KEYS.contains(&k.trim_end()))
            .map(|(k, v)| (k.trim_end(), v.strip_prefix(' ').unwrap_or(v).trim_end_matches('\r')));
        let Some((key, value)) = keyed else {
            if description.is_none() {
                description = Some(text.to_string());
            }
            continue;
        };
        let at = |msg: String| format!("header line {}: {msg}", n + 1);
        let dup = |what: &str| at(format!("`{what}:` given twice"));
        match key {
            "invoke" => {
                if invoke.replace(value.trim().to_string()).is_some() {
                    return Err(dup(key));
                }
            }
            "args" => {
                let words = value.split_whitespace().map(str::to_string).collect();
                if args.replace(words).is_some() {
                    return Err(dup(key));
                }
            }
            "fuel" => {
                let v = value
                    .trim()
                    .replace('_', "")
                    .parse::<u64>()
                    .map_err(|e| at(format!("bad fuel `{}`: {e}", value.trim())))?;
                if fuel.replace(v).is_some() {
                    return Err(dup(key));
                }
            }
            "expect" => {
                let vals = value
                    .split_whitespace()
                    .map(parse_val)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(at)?;
                if expect.replace(vals).is_some() {
                    return Err(dup(key));
                }
            }
            "trap" => {
                let name = value.trim();
                let code = TrapCode::from_name(name).ok_or_else(|| at(format!("unknown trap code `{name}`")))?;
                if trap.replace(code).is_some() {
                    return Err(dup(key));
                }
            }
            "stdout" => stdout.push(value.to_string()),
            "faulted" => {
                let mut names: Vec<String> = value.split_whitespace().map(str::to_string).collect();
                names.sort();
                if faulted.replace(names).is_some() {
                    return Err(dup(key));
                }
            }
            _ => unreachable!("only known keys are matched"),
        }
    }
    let expected = match (expect, trap) {
        (Some(v), None) => Expected::Values(v),
        (None, Some(t)) => Expected::Trap(t),
        (Some(_), Some(_)) => return Err("header has both `; expect:` and `; trap:`".into()),
        (None, None) => return Err("header has neither `; expect:` nor `; trap:`".into()),
    };
    Ok(Header {
        description: description.unwrap_or_default(),
        invoke,
        args: args.unwrap_or_default(),
        fuel,
        expected,
        stdout,
        faulted,
    })
}

fn parse_int<T: TryFrom<i128>>(s: &str) -> Option<T> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let body = body.replace('_', "");
    let mag = match body.strip_prefix("0x") {
        Some(hex) => i128::from_str_radix(hex, 16).ok()?,
        None => body.parse::<i128>().ok()?,
    };
    T::try_from(if neg { -mag } else { mag }).ok()
}

/// A float written as a decimal, `inf`, `-inf` or `nan(0xBITS)`; returns raw bits.
fn parse_float_bits(s: &str, double: bool) -> Option<u64> {
    if let Some(hex) = s.strip_prefix("nan(0x").and_then(|r| r.strip_suffix(')')) {
        let bits = u64::from_str_radix(hex, 16).ok()?;
        let (exp, frac) = if double {
            (0x7ff0_0000_0000_0000u64, 0x000f_ffff_ffff_ffffu64)
        } else {
            (0x7f80_0000, 0x007f_ffff)
        };
        // Must really be a NaN of the right width.
        return (bits & exp == exp && bits & frac != 0 && (double || bits <= u32::MAX as u64)).then_some(bits);
    }
    if s.contains("nan") || s.contains("NaN") {
        return None; // NaNs must name their bits
    }
    if double {
        s.parse::<f64>().ok().map(f64::to_bits)
    } else {
        s.parse::<f32>().ok().map(|f| f.to_bits() as u64)
    }
}

/// Parse one value in `Val`'s Display form: `i32:-7`, `i64:0x10`, `f64:-0.0`,
/// `f32:nan(0x7fc00000)`, `buf:16+5`, `region:#0.1`, `cap:#2`, `funcref:#1`,
/// `funcref:null`, `externref:7`, `externref:null`.
pub fn parse_val(s: &str) -> Result<Val, String> {
    let bad = || format!("bad value `{s}` (expected e.g. `i32:7`, `f64:-0.0`, `f32:nan(0x7fc00000)`)");
    let (ty, v) = s.split_once(':').ok_or_else(bad)?;
    let val = match ty {
        "i32" => Val::I32(parse_int::<i32>(v).ok_or_else(bad)?),
        "i64" => Val::I64(parse_int::<i64>(v).ok_or_else(bad)?),
        "f32" => Val::F32(parse_float_bits(v, false).ok_or_else(bad)? as u32),
        "f64" => Val::F64(parse_float_bits(v, true).ok_or_else(bad)?),
        "buf" => {
            let (p, l) = v.split_once('+').ok_or_else(bad)?;
            Val::Buf {
                ptr: parse_int(p).ok_or_else(bad)?,
                len: parse_int(l).ok_or_else(bad)?,
            }
        }
        "region" => {
            let (slot, generation) = v.strip_prefix('#').and_then(|r| r.split_once('.')).ok_or_else(bad)?;
            Val::Region(capjit::ir::interp::RegionHandle {
                slot: parse_int(slot).ok_or_else(bad)?,
                generation: parse_int(generation).ok_or_else(bad)?,
            })
        }
        "cap" => Val::Cap(v.strip_prefix('#').and_then(parse_int).ok_or_else(bad)?),
        "funcref" if v == "null" => Val::FuncRef(None),
        "funcref" => Val::FuncRef(Some(v.strip_prefix('#').and_then(parse_int).ok_or_else(bad)?)),
        "externref" if v == "null" => Val::ExternRef(None),
        "externref" => Val::ExternRef(Some(parse_int(v).ok_or_else(bad)?)),
        _ => return Err(bad()),
    };
    Ok(val)
}

/// A command-line argument typed by a parameter, exactly as `capjit run` reads it.
pub fn parse_arg(ty: &Type, w: &str) -> Option<Val> {
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
        Type::FuncRef => (w == "null").then_some(Val::FuncRef(None)),
        Type::ExternRef if w == "null" => Some(Val::ExternRef(None)),
        Type::ExternRef => w.parse().ok().map(|h| Val::ExternRef(Some(h))),
        Type::Cap(_) | Type::Region | Type::Buf => None,
    }
}

/// A result as `capjit run` prints it on standard output: the bare number.
pub fn plain(v: &Val) -> String {
    match *v {
        Val::I32(x) => x.to_string(),
        Val::I64(x) => x.to_string(),
        Val::F32(b) => format!("{:?}", f32::from_bits(b)),
        Val::F64(b) => format!("{:?}", f64::from_bits(b)),
        other => other.to_string(),
    }
}

/// The entry point of a program: which function, with which arguments.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub domain: String,
    pub func: String,
    pub args: Vec<Val>,
}

/// Resolve `; invoke:` (default `main`) and type `; args:` by the entry signature.
pub fn resolve_entry(m: &Module, h: &Header) -> Result<Entry, String> {
    let invoke = h.invoke.as_deref().unwrap_or("main");
    let (domain, func) = match invoke.split_once('.') {
        Some((d, f)) => (d.to_string(), f.to_string()),
        None => {
            let owners: Vec<&str> = m
                .domains
                .iter()
                .filter(|d| d.functions.iter().any(|f| f.exported && f.name == invoke))
                .map(|d| d.name.as_str())
                .collect();
            match owners.as_slice() {
                [one] => (one.to_string(), invoke.to_string()),
                [] => return Err(format!("no domain exports `{invoke}`")),
                many => return Err(format!("several domains export `{invoke}`: {}", many.join(", "))),
            }
        }
    };
    let f = m
        .domains
        .iter()
        .find(|d| d.name == domain)
        .and_then(|d| d.functions.iter().find(|f| f.name == func && f.exported))
        .ok_or_else(|| format!("domain `{domain}` exports no function `{func}`"))?;
    if f.sig.params.len() != h.args.len() {
        return Err(format!(
            "`{domain}.{func}` takes {} argument(s) {}, the header gives {}",
            f.sig.params.len(),
            f.sig,
            h.args.len()
        ));
    }
    let args = f
        .sig
        .params
        .iter()
        .zip(&h.args)
        .map(|(ty, w)| parse_arg(ty, w).ok_or_else(|| format!("argument `{w}` is not a valid {ty}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Entry { domain, func, args })
}

/// Something that runs a linked module; every mode must produce the same
/// [`Outcome`] for every file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Executor {
    /// The reference interpreter (`capjit_ir::interp`).
    Interpreter,
    /// Verified, translated by Cranelift and run natively (`capjit::Instance`
    /// with `Backend::Jit`), each function on its first call.
    Jit,
    /// The same, every function translated up front.
    EagerJit,
}

/// What one run did.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// The entry call's results, or the code it trapped with.
    pub result: Result<Vec<Val>, TrapCode>,
    /// Everything host printing wrote.
    pub stdout: String,
    /// The domains faulted at the end, sorted.
    pub faulted: Vec<String>,
}

/// Host output captured in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Limits for a run: the defaults, with the header's fuel if it gives one.
pub fn limits_for(h: &Header) -> Limits {
    let mut limits = Limits::default();
    if let Some(fuel) = h.fuel {
        limits.fuel = fuel;
    }
    limits
}

/// Run `entry` of `module` with `executor`. `Err` is a failure to run at all
/// (link error, invalid program), never a trap.
pub fn execute(executor: Executor, module: Module, limits: Limits, entry: &Entry) -> Result<Outcome, String> {
    match executor {
        Executor::Interpreter => {
            let out = Captured::default();
            let domains: Vec<String> = module.domains.iter().map(|d| d.name.clone()).collect();
            let mut inst = Instance::new(module, limits, Box::new(out.clone())).map_err(|e| e.to_string())?;
            let result = match inst.invoke(&entry.domain, &entry.func, &entry.args) {
                Ok(vals) => Ok(vals),
                Err(RunError::Trap(info)) => Err(info.code),
                Err(e) => return Err(format!("run failed: {e}")),
            };
            let mut faulted: Vec<String> = domains
                .into_iter()
                .filter(|d| inst.status(d) == Some(capjit::ir::interp::DomainStatus::Faulted))
                .collect();
            faulted.sort();
            let stdout = String::from_utf8_lossy(&out.0.lock().map_err(|_| "poisoned output")?).into_owned();
            Ok(Outcome {
                result,
                stdout,
                faulted,
            })
        }
        Executor::Jit | Executor::EagerJit => {
            let out = Captured::default();
            let config = capjit::Config {
                backend: capjit::Backend::Jit,
                limits,
                translator: capjit::translator::Config {
                    lazy: executor == Executor::Jit,
                    ..Default::default()
                },
                ..capjit::Config::default()
            };
            let mut inst = capjit::Instance::new(&module, &config, Box::new(out.clone())).map_err(|e| e.to_string())?;
            let result = match inst.invoke(&entry.domain, &entry.func, &entry.args) {
                Ok(vals) => Ok(vals),
                Err(RunError::Trap(info)) => Err(info.code),
                Err(e) => return Err(format!("run failed: {e}")),
            };
            let mut faulted: Vec<String> = module
                .domains
                .iter()
                .map(|d| d.name.clone())
                .filter(|d| inst.status(d) == Some(capjit::ir::exec::DomainStatus::Faulted))
                .collect();
            faulted.sort();
            let stdout = String::from_utf8_lossy(&out.0.lock().map_err(|_| "poisoned output")?).into_owned();
            Ok(Outcome {
                result,
                stdout,
                faulted,
            })
        }
    }
}

fn show_vals(vals: &[Val]) -> String {
    if vals.is_empty() {
        "(no results)".to_string()
    } else {
        vals.iter().map(Val::to_string).collect::<Vec<_>>().join(" ")
    }
}

fn show_expected(e: &Expected) -> String {
    match e {
        Expected::Values(v) => format!("expect {}", show_vals(v)),
        Expected::Trap(t) => format!("trap {t}"),
    }
}

fn show_result(r: &Result<Vec<Val>, TrapCode>) -> String {
    match r {
        Ok(v) => format!("returned {}", show_vals(v)),
        Err(t) => format!("trapped with {t}"),
    }
}

/// What an absent `; faulted:` means for a run of `entry`: no domain is faulted at
/// the end, except the entry domain when the entry call is expected to trap.
pub fn default_faulted(h: &Header, entry: &Entry) -> Vec<String> {
    match h.expected {
        Expected::Trap(_) => vec![entry.domain.clone()],
        Expected::Values(_) => Vec::new(),
    }
}

/// Compare an outcome with a header; every mismatch, one per line. The faulted
/// domains are checked only when the header names them (see [`default_faulted`]).
pub fn compare(h: &Header, o: &Outcome) -> Vec<String> {
    let mut problems = Vec::new();
    let result_ok = match (&h.expected, &o.result) {
        (Expected::Values(want), Ok(got)) => want == got,
        (Expected::Trap(want), Err(got)) => want == got,
        _ => false,
    };
    if !result_ok {
        let mut msg = format!("{}, but it {}", show_expected(&h.expected), show_result(&o.result));
        if let (Expected::Values(want), Ok(got)) = (&h.expected, &o.result) {
            if want.len() == got.len() {
                let diffs: Vec<String> = want
                    .iter()
                    .zip(got)
                    .enumerate()
                    .filter(|(_, (w, g))| w != g)
                    .map(|(i, (w, g))| format!("#{i}: {w} != {g}"))
                    .collect();
                msg.push_str(&format!(" (differing results: {})", diffs.join(", ")));
            }
        }
        problems.push(msg);
    }
    let got_lines: Vec<&str> = o.stdout.lines().collect();
    if got_lines != h.stdout {
        problems.push(format!("stdout: expected {:?}, got {:?}", h.stdout, o.stdout));
    }
    if let Some(want) = &h.faulted {
        if want != &o.faulted {
            problems.push(format!("faulted domains: expected {want:?}, got {:?}", o.faulted));
        }
    }
    problems
}

/// Read, parse and run one file with `executor` and check it against its header.
pub fn check_file(path: &Path, executor: Executor) -> Result<(), String> {
    let src = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let mut header = parse_header(&src)?;
    let module = parse_module(&src).map_err(|e| {
        let (line, col) = e.line_col(&src);
        format!("parse error at {line}:{col}: {}", e.message)
    })?;
    let entry = resolve_entry(&module, &header)?;
    let outcome = execute(executor, module, limits_for(&header), &entry)?;
    if header.faulted.is_none() {
        header.faulted = Some(default_faulted(&header, &entry));
    }
    let problems = compare(&header, &outcome);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// Every `.cir` file under `dir` (recursively), sorted; none if `dir` does not exist.
pub fn cir_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "cir") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A directory of the repository, e.g. `repo_dir("tests/programs")`.
pub fn repo_dir(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// A path relative to the repository root, for messages.
pub fn short(path: &Path) -> String {
    path.strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Check every file; returns `"file: problem"` for each failing one.
pub fn check_files(files: &[PathBuf], executor: Executor) -> Vec<String> {
    files
        .iter()
        .filter_map(|f| check_file(f, executor).err().map(|e| format!("{}: {e}", short(f))))
        .collect()
}
