//! The attack corpus, the verifier's conscience: every file of `tests/attacks/` is
//! a hostile program, named after its attack, that must be stopped. A file starts
//! with a one-line description, then says how it must be stopped:
//!
//! ```text
//! ; what the attack tries, one line
//! ; parse-error: SUBSTRING     the parser rejects it with a message containing SUBSTRING
//! ; verify-error: KIND         the verifier rejects it with at least one error of KIND
//! ;                            (`ErrorKind::name()`, e.g. `type_mismatch`, `fact_not_proven`)
//! ; link-error: SUBSTRING      it verifies, and the runtime refuses to link it
//! ; trap: CODE                 it verifies, runs, and the entry call traps with CODE
//! ; expect: i32:7              it verifies, runs, and the failure is contained: the entry
//! ;                            call returns these values (e.g. a callee's trap code)
//! ```
//!
//! Run files (`trap:` / `expect:`) take the headers of `tests/support/mod.rs`
//! (`invoke:`, `args:`, `fuel:`, `faulted:`, `stdout:`) and run in the reference
//! interpreter with `Limits::default()` and the header's fuel. Without `faulted:`,
//! no domain may be left faulted except the entry domain of a `trap:` file. Every trap they
//! cause with `out_of_bounds` at a memory access must be at an access the verifier
//! did not mark as proven in bounds: otherwise the JIT would have left its check out.
//!
//! A `verify-error:` file may add `; fixed-by: OLD => NEW`: replacing the first
//! `OLD` in its code by `NEW` must give a program the verifier accepts, which shows
//! the file is rejected for the attack it names and not for a typo.
//!
//! The attacks that cannot be written as text (index-only, or too big for a file)
//! are built in Rust at the end of this file.

mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use capjit::ir::interp::{DomainStatus, Instance, RunError, TrapInfo};
use capjit::ir::*;
use capjit::verifier::{verify, Verified, VerifyError};
use support::Header;

/// Every `ErrorKind::name()`, so that a header cannot name a kind that does not exist.
const ERROR_KINDS: [&str; 29] = [
    "limit_exceeded",
    "duplicate_name",
    "bad_memory",
    "link_missing",
    "link_signature_mismatch",
    "cap_crosses_domains",
    "ref_crosses_domains",
    "empty_function",
    "unknown_block",
    "entry_targeted",
    "unreachable_block",
    "value_too_large",
    "duplicate_definition",
    "undefined_value",
    "not_dominated",
    "type_mismatch",
    "arity_mismatch",
    "bad_op_type",
    "unknown_function",
    "unknown_import",
    "unknown_global",
    "unknown_data_segment",
    "immutable_global",
    "unknown_table",
    "unknown_elem_segment",
    "bad_table_entry",
    "fact_on_wrong_type",
    "fact_malformed",
    "fact_not_proven",
];

/// Keys a header line may start with.
const HEADER_KEYS: [&str; 11] = [
    "parse-error",
    "verify-error",
    "link-error",
    "fixed-by",
    "trap",
    "expect",
    "invoke",
    "args",
    "fuel",
    "stdout",
    "faulted",
];

/// How a file must be stopped.
#[derive(Debug)]
enum Expect {
    Parse(String),
    Verify(String),
    Link(String),
    /// Verifies, then runs as the header says (a trap or contained results).
    Run(Box<Header>),
}

#[derive(Debug)]
struct Attack {
    expect: Expect,
    /// `; fixed-by: OLD => NEW`.
    fixed_by: Option<(String, String)>,
}

/// The leading comment lines of a file, without their `;`.
fn header_lines(src: &str) -> Vec<&str> {
    src.lines()
        .map(str::trim)
        .take_while(|l| l.is_empty() || l.starts_with(';'))
        .filter_map(|l| l.strip_prefix(';'))
        .map(str::trim)
        .collect()
}

fn parse_attack_header(src: &str) -> Result<Attack, String> {
    let lines = header_lines(src);
    let keyed = |l: &str| l.split_once(':').is_some_and(|(k, _)| HEADER_KEYS.contains(&k.trim()));
    match lines.first() {
        Some(first) if !first.is_empty() && !keyed(first) => {}
        _ => return Err("the first line must describe the attack".into()),
    }
    let mut rejection = None;
    let mut fixed_by = None;
    for line in &lines[1..] {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim().to_string();
        let found = match key.trim() {
            "parse-error" => Expect::Parse(value),
            "verify-error" => {
                if !ERROR_KINDS.contains(&value.as_str()) {
                    return Err(format!("unknown verify error kind `{value}`"));
                }
                Expect::Verify(value)
            }
            "link-error" => Expect::Link(value),
            "fixed-by" => {
                let (old, new) = value.split_once(" => ").ok_or("`fixed-by:` needs `OLD => NEW`")?;
                fixed_by = Some((old.to_string(), new.to_string()));
                continue;
            }
            _ => continue,
        };
        if let Expect::Parse(s) | Expect::Link(s) = &found {
            if s.is_empty() {
                return Err("an expected message must not be empty".into());
            }
        }
        if rejection.replace(found).is_some() {
            return Err("more than one of `parse-error:`, `verify-error:`, `link-error:`".into());
        }
    }
    let run = support::parse_header(src);
    let expect = match (rejection, run) {
        (Some(r), Err(_)) => r,
        (Some(_), Ok(_)) => return Err("a rejected file cannot also say `trap:` or `expect:`".into()),
        (None, Ok(h)) => Expect::Run(Box::new(h)),
        (None, Err(e)) => {
            return Err(format!(
                "no `parse-error:`, `verify-error:` or `link-error:`, and the run header is bad: {e}"
            ))
        }
    };
    if fixed_by.is_some() && !matches!(expect, Expect::Verify(_)) {
        return Err("`fixed-by:` only goes with `verify-error:`".into());
    }
    Ok(Attack { expect, fixed_by })
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// Verify without letting a verifier panic take the whole test down.
fn verify_guarded(m: &Module) -> Result<Result<Verified<Module>, Vec<VerifyError>>, String> {
    catch_unwind(AssertUnwindSafe(|| verify(m))).map_err(|p| format!("the verifier panicked: {}", panic_message(p)))
}

/// `kind x3, other` for a list of errors.
fn kinds(errors: &[VerifyError]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for e in errors {
        *counts.entry(e.kind.name()).or_default() += 1;
    }
    counts
        .iter()
        .map(|(k, n)| if *n == 1 { k.to_string() } else { format!("{k} x{n}") })
        .collect::<Vec<_>>()
        .join(", ")
}

fn first_error(errors: &[VerifyError]) -> String {
    errors.first().map(|e| e.to_string()).unwrap_or_default()
}

fn parse(src: &str) -> Result<Module, String> {
    parse_module(src).map_err(|e| {
        let (line, col) = e.line_col(src);
        format!("parse error at {line}:{col}: {}", e.message)
    })
}

/// Parse and verify a file that must be accepted.
fn parse_and_verify(src: &str) -> Result<Verified<Module>, String> {
    let m = parse(src)?;
    match verify_guarded(&m)? {
        Ok(v) => Ok(v),
        Err(errors) => Err(format!(
            "the verifier rejected it ({}): {}",
            kinds(&errors),
            first_error(&errors)
        )),
    }
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

/// The code a trap stopped at must not be an access the verifier proved in bounds.
fn check_trap_site(v: &Verified<Module>, info: &TrapInfo) -> Result<(), String> {
    if info.code != TrapCode::OutOfBounds {
        return Ok(());
    }
    let Some(inst) = info.inst else { return Ok(()) };
    let m = v.module();
    let Some(d) = m.domains.iter().position(|d| d.name == info.domain) else {
        return Ok(());
    };
    let Some(f) = m.domains[d].functions.iter().position(|f| f.name == info.function) else {
        return Ok(());
    };
    let op = m.domains[d].functions[f]
        .blocks
        .get(info.block as usize)
        .and_then(|b| b.insts.get(inst as usize))
        .map(|i| &i.op);
    let memory_access = matches!(
        op,
        Some(Op::Load { .. } | Op::Store { .. } | Op::MemoryCopy { .. } | Op::MemoryFill { .. })
    );
    if memory_access && v.access_proven(d, f, info.block as usize, inst as usize) {
        return Err(format!(
            "the access that trapped ({info}) was proven in bounds by the verifier, so compiled code would not check it"
        ));
    }
    Ok(())
}

/// Verify, run and compare a file that must be stopped at run time.
fn check_run(src: &str, header: &Header) -> Result<(), String> {
    let verified = parse_and_verify(src)?;
    let module = verified.module().clone();
    let entry = support::resolve_entry(&module, header)?;
    let mut header = header.clone();
    if header.faulted.is_none() {
        header.faulted = Some(support::default_faulted(&header, &entry));
    }
    let out = Captured::default();
    let names: Vec<String> = module.domains.iter().map(|d| d.name.clone()).collect();
    let mut inst = Instance::new(module, support::limits_for(&header), Box::new(out.clone()))
        .map_err(|e| format!("it does not link: {e}"))?;
    let mut traps = Vec::new();
    let result = match inst.invoke(&entry.domain, &entry.func, &entry.args) {
        Ok(vals) => Ok(vals),
        Err(RunError::Trap(info)) => {
            let code = info.code;
            traps.push(info);
            Err(code)
        }
        Err(e) => return Err(format!("it did not run cleanly: {e}")),
    };
    traps.extend(inst.faults());
    let mut faulted: Vec<String> = names
        .into_iter()
        .filter(|d| inst.status(d) == Some(DomainStatus::Faulted))
        .collect();
    faulted.sort();
    let stdout = String::from_utf8_lossy(&out.0.lock().map_err(|_| "poisoned output")?).into_owned();
    let outcome = support::Outcome {
        result,
        stdout,
        faulted,
    };
    let mut problems = support::compare(&header, &outcome);
    for t in &traps {
        if let Err(e) = check_trap_site(&verified, t) {
            problems.push(e);
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// The source with the first `old` after the header replaced by `new`.
fn apply_fix(src: &str, old: &str, new: &str) -> Result<String, String> {
    let body_start = src
        .lines()
        .take_while(|l| {
            let l = l.trim();
            l.is_empty() || l.starts_with(';')
        })
        .map(|l| l.len() + 1)
        .sum::<usize>()
        .min(src.len());
    let at = src[body_start..]
        .find(old)
        .ok_or_else(|| format!("`fixed-by:` text `{old}` is not in the code"))?;
    let at = body_start + at;
    Ok(format!("{}{new}{}", &src[..at], &src[at + old.len()..]))
}

/// Check one file against its header.
fn check_attack(path: &Path) -> Result<(), String> {
    let src = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let attack = parse_attack_header(&src).map_err(|e| format!("bad header: {e}"))?;
    match &attack.expect {
        Expect::Parse(want) => match parse_module(&src) {
            Ok(_) => Err(format!("expected a parse error containing `{want}`, but it parsed")),
            Err(e) if e.message.contains(want.as_str()) => Ok(()),
            Err(e) => Err(format!(
                "expected a parse error containing `{want}`, got `{}`",
                e.message
            )),
        },
        Expect::Verify(kind) => {
            let m = parse(&src)?;
            match verify_guarded(&m)? {
                Ok(_) => Err(format!("expected a `{kind}` error, but the verifier ACCEPTED it")),
                Err(errors) if errors.iter().any(|e| e.kind.name() == kind) => {
                    if let Some((old, new)) = &attack.fixed_by {
                        let fixed = apply_fix(&src, old, new)?;
                        parse_and_verify(&fixed)
                            .map_err(|e| format!("rejected as expected, but the `fixed-by:` version fails too: {e}"))?;
                    }
                    Ok(())
                }
                Err(errors) => Err(format!(
                    "expected a `{kind}` error, got {}: {}",
                    kinds(&errors),
                    first_error(&errors)
                )),
            }
        }
        Expect::Link(want) => {
            let v = parse_and_verify(&src)?;
            match Instance::new(v.into_inner(), Default::default(), Box::new(std::io::sink())) {
                Ok(_) => Err(format!("expected a link error containing `{want}`, but it linked")),
                Err(e) if e.to_string().contains(want.as_str()) => Ok(()),
                Err(e) => Err(format!("expected a link error containing `{want}`, got `{e}`")),
            }
        }
        Expect::Run(_) if skip_run(path) => parse_and_verify(&src).map(drop),
        Expect::Run(header) => check_run(&src, header),
    }
}

/// `CAPJIT_ATTACKS_SKIP_RUN=A,B`: run files whose name contains `A` or `B` are only
/// verified, not run. `scripts/mutants.sh` skips the two deep recursions this way
/// (9 of the corpus's 14 s in a debug build, spent in the interpreter, not the verifier).
fn skip_run(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    std::env::var("CAPJIT_ATTACKS_SKIP_RUN")
        .is_ok_and(|skip| skip.split(',').any(|s| !s.is_empty() && name.contains(s)))
}

fn attack_files() -> Vec<PathBuf> {
    support::cir_files(&support::repo_dir("tests/attacks"))
}

#[test]
fn every_attack_is_stopped_as_its_header_says() {
    let files = attack_files();
    assert!(!files.is_empty(), "no attack files found");
    let failures: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let r = catch_unwind(|| check_attack(f)).unwrap_or_else(|p| Err(format!("panicked: {}", panic_message(p))));
            r.err().map(|e| format!("{}: {e}", support::short(f)))
        })
        .collect();
    eprintln!(
        "attacks: {} of {} files stopped as expected",
        files.len() - failures.len(),
        files.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} attack files are not stopped as their header says:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

/// A file rejected by the verifier should be rejected for its attack only: every
/// error it gets has the kind its header names (an extra kind usually means a typo).
#[test]
fn rejected_attacks_fail_for_one_reason_only() {
    let mut mixed = Vec::new();
    for path in attack_files() {
        let Ok(src) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(Attack {
            expect: Expect::Verify(kind),
            ..
        }) = parse_attack_header(&src)
        else {
            continue;
        };
        let Ok(m) = parse(&src) else { continue };
        if let Ok(Err(errors)) = verify_guarded(&m) {
            if errors.iter().any(|e| e.kind.name() != kind) {
                mixed.push(format!(
                    "{}: expects only `{kind}`, got {}",
                    support::short(&path),
                    kinds(&errors)
                ));
            }
        }
    }
    assert!(
        mixed.is_empty(),
        "attacks rejected for more than one reason:\n{}",
        mixed.join("\n")
    );
}

/// File names say what the attack is: lower-case words joined by `_`, unique.
#[test]
fn corpus_is_large_and_well_named() {
    let files = attack_files();
    assert!(
        files.len() >= 90,
        "tests/attacks holds {} files; at least 90 are expected",
        files.len()
    );
    let bad: Vec<String> = files
        .iter()
        .filter_map(|f| f.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .filter(|s| {
            s.split('_').count() < 2
                || !s
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
        .collect();
    assert!(bad.is_empty(), "badly named attack files: {}", bad.join(", "));
}

#[test]
fn header_parser_reads_every_form() {
    let cases = [
        ("; x\n; parse-error: unknown block\n", "Parse"),
        ("; x\n; verify-error: type_mismatch\n; fixed-by: a => b\n", "Verify"),
        ("; x\n; link-error: no host function\n", "Link"),
        ("; x\n; trap: out_of_bounds\n; fuel: 10\n", "Run"),
        ("; x\n; expect: i32:7\n; faulted: callee\n", "Run"),
    ];
    for (src, want) in cases {
        let a = parse_attack_header(src).unwrap_or_else(|e| panic!("{src:?}: {e}"));
        assert!(format!("{:?}", a.expect).starts_with(want), "{src:?}: {a:?}");
    }
    for (src, why) in [
        ("; verify-error: type_mismatch\n", "describe"),
        ("; x\n; verify-error: no_such_kind\n", "unknown verify error kind"),
        (
            "; x\n; verify-error: type_mismatch\n; trap: unreachable\n",
            "cannot also",
        ),
        (
            "; x\n; verify-error: type_mismatch\n; parse-error: y\n",
            "more than one",
        ),
        ("; x\n; parse-error: y\n; fixed-by: a => b\n", "only goes with"),
        ("; x\n; nothing\n", "run header is bad"),
        ("; x\n; parse-error:\n", "must not be empty"),
    ] {
        match parse_attack_header(src) {
            Err(e) => assert!(e.contains(why), "{src:?}: `{e}` does not mention `{why}`"),
            Ok(a) => panic!("{src:?} was accepted: {a:?}"),
        }
    }
    assert_eq!(
        apply_fix("; a => b\n; fixed-by: a => b\nx a a\n", "a", "b").unwrap(),
        "; a => b\n; fixed-by: a => b\nx b a\n"
    );
}

// ---- attacks built in Rust ---------------------------------------------------

/// A one-domain module to start from: `app` with memory, an import, a helper and `main`.
fn base() -> Module {
    parse_module(
        "domain callee {\n  export func f() {\n  block0:\n    return\n  }\n}\n\
         domain app {\n  memory 1\n  import f = callee.f : ()\n  func helper() {\n  block0:\n    return\n  }\n\
         export func main() -> i32 {\n  block0:\n    v0 = iconst.i32 0\n    return v0\n  }\n}\n",
    )
    .expect("the base module parses")
}

/// [`base`] with one mutable i32 global `g` in `app`.
fn with_global() -> Module {
    let mut m = base();
    app(&mut m).globals.push(Global {
        name: "g".into(),
        ty: NumType::I32,
        mutable: true,
        init: Const::I32(0),
        span: None,
    });
    m
}

/// A funcref table that starts with `init` and cannot grow.
fn funcref_table(init: Vec<Option<u32>>) -> Table {
    Table {
        elem: RefType::Func,
        maximum: init.len() as u32,
        init,
    }
}

fn app(m: &mut Module) -> &mut Domain {
    m.domains.iter_mut().find(|d| d.name == "app").expect("domain app")
}

fn main_fn(m: &mut Module) -> &mut Function {
    app(m)
        .functions
        .iter_mut()
        .find(|f| f.name == "main")
        .expect("function main")
}

fn inst(results: &[u32], op: Op) -> Inst {
    Inst {
        results: results
            .iter()
            .map(|&v| Def {
                value: Value(v),
                fact: None,
            })
            .collect(),
        op,
        span: None,
    }
}

fn call(block: u32) -> BlockCall {
    BlockCall {
        block: BlockId(block),
        args: vec![],
    }
}

fn trap_block() -> Block {
    Block {
        params: vec![],
        insts: vec![],
        term: Terminator::Trap,
        term_span: None,
    }
}

fn access(ty: NumType, bytes: u8, signed: bool) -> MemAccess {
    MemAccess { ty, bytes, signed }
}

/// `main` loads with this access shape from address v0.
fn load_with(a: MemAccess) -> Module {
    let mut m = base();
    let f = main_fn(&mut m);
    f.sig.results = vec![];
    let b = &mut f.blocks[0];
    b.insts.push(inst(
        &[1],
        Op::Load {
            access: a,
            addr: Value(0),
            offset: 0,
        },
    ));
    b.term = Terminator::Return(vec![]);
    m
}

type Builder = fn() -> Module;

/// (name, builder, the error kind the verifier must report).
fn rust_built_attacks() -> Vec<(&'static str, Builder, &'static str)> {
    vec![
        (
            "call_function_index_out_of_range",
            || {
                let mut m = base();
                main_fn(&mut m).blocks[0]
                    .insts
                    .push(inst(&[], Op::Call { func: 99, args: vec![] }));
                m
            },
            "unknown_function",
        ),
        (
            "call_function_index_u32_max",
            || {
                let mut m = base();
                main_fn(&mut m).blocks[0].insts.push(inst(
                    &[1, 2],
                    Op::Call {
                        func: u32::MAX,
                        args: vec![Value(0)],
                    },
                ));
                m
            },
            "unknown_function",
        ),
        (
            "cap_get_import_index_out_of_range",
            || {
                let mut m = base();
                main_fn(&mut m).blocks[0]
                    .insts
                    .push(inst(&[1], Op::CapGet { import: 1 }));
                m
            },
            "unknown_import",
        ),
        (
            "cap_get_import_in_domain_without_imports",
            || {
                let mut m = base();
                m.domains[0].functions[0].blocks[0]
                    .insts
                    .push(inst(&[0], Op::CapGet { import: 0 }));
                m
            },
            "unknown_import",
        ),
        (
            "jump_to_block_index_out_of_range",
            || {
                let mut m = base();
                main_fn(&mut m).blocks[0].term = Terminator::Jump(call(1));
                m
            },
            "unknown_block",
        ),
        (
            "brif_else_to_block_u32_max",
            || {
                let mut m = base();
                let f = main_fn(&mut m);
                f.blocks.push(trap_block());
                f.blocks[0].term = Terminator::Brif {
                    cond: Value(0),
                    then: call(1),
                    else_: call(u32::MAX),
                };
                m
            },
            "unknown_block",
        ),
        (
            "br_table_target_out_of_range",
            || {
                let mut m = base();
                let f = main_fn(&mut m);
                f.blocks.push(trap_block());
                f.blocks[0].term = Terminator::BrTable {
                    index: Value(0),
                    default: call(1),
                    targets: vec![call(1), call(2)],
                };
                m
            },
            "unknown_block",
        ),
        (
            "call_cap_fail_to_block_out_of_range",
            || {
                let mut m = base();
                let f = main_fn(&mut m);
                f.blocks[0].insts.push(inst(&[1], Op::CapGet { import: 0 }));
                f.blocks.push(trap_block());
                f.blocks[0].term = Terminator::CallCap {
                    cap: Value(1),
                    args: vec![],
                    ok: BlockId(1),
                    fail: BlockId(7),
                };
                m
            },
            "unknown_block",
        ),
        (
            "function_without_blocks",
            || {
                let mut m = base();
                main_fn(&mut m).blocks.clear();
                m
            },
            "empty_function",
        ),
        (
            "duplicate_function_names",
            || {
                let mut m = base();
                let d = app(&mut m);
                let mut twin = d.functions[0].clone();
                twin.exported = true;
                twin.name = "main".into();
                d.functions.push(twin);
                m
            },
            "duplicate_name",
        ),
        (
            "duplicate_import_names",
            || {
                let mut m = base();
                let d = app(&mut m);
                let twin = d.imports[0].clone();
                d.imports.push(twin);
                m
            },
            "duplicate_name",
        ),
        (
            "value_index_above_limit_built",
            || {
                let mut m = base();
                main_fn(&mut m).blocks[0].insts.push(inst(
                    &[capjit::verifier::limits::MAX_VALUE_INDEX],
                    Op::Const(Const::I32(1)),
                ));
                m
            },
            "value_too_large",
        ),
        (
            "store_with_a_result",
            || {
                let mut m = base();
                main_fn(&mut m).blocks[0].insts.push(inst(
                    &[1],
                    Op::Store {
                        access: access(NumType::I32, 4, false),
                        value: Value(0),
                        addr: Value(0),
                        offset: 0,
                    },
                ));
                m
            },
            "arity_mismatch",
        ),
        (
            "load_of_three_bytes",
            || load_with(access(NumType::I32, 3, false)),
            "bad_op_type",
        ),
        (
            "load_wider_than_its_type",
            || load_with(access(NumType::I32, 8, false)),
            "bad_op_type",
        ),
        (
            "load_sign_extending_full_width",
            || load_with(access(NumType::I32, 4, true)),
            "bad_op_type",
        ),
        (
            "load_narrow_float",
            || load_with(access(NumType::F64, 4, false)),
            "bad_op_type",
        ),
        (
            "load_of_zero_bytes",
            || load_with(access(NumType::I64, 0, false)),
            "bad_op_type",
        ),
        (
            "select_of_a_cap_forged_from_an_integer_built",
            || {
                let mut m = base();
                let sig = Signature::default();
                let b = &mut main_fn(&mut m).blocks[0];
                b.insts.push(inst(
                    &[1],
                    Op::Select {
                        ty: Type::Cap(Box::new(sig)),
                        cond: Value(0),
                        a: Value(0),
                        b: Value(0),
                    },
                ));
                m
            },
            "type_mismatch",
        ),
        (
            "br_table_with_65537_targets",
            || {
                let mut m = base();
                let f = main_fn(&mut m);
                f.blocks.push(Block {
                    params: vec![],
                    insts: vec![],
                    term: Terminator::Return(vec![Value(0)]),
                    term_span: None,
                });
                f.blocks[0].term = Terminator::BrTable {
                    index: Value(0),
                    default: call(1),
                    targets: vec![call(1); capjit::verifier::limits::MAX_TABLE_TARGETS + 1],
                };
                m
            },
            "limit_exceeded",
        ),
        (
            "too_many_domains",
            || {
                let mut m = base();
                let proto = m.domains[0].clone();
                m.domains = (0..=capjit::verifier::limits::MAX_DOMAINS)
                    .map(|i| Domain {
                        name: format!("d{i}"),
                        ..proto.clone()
                    })
                    .collect();
                m
            },
            "limit_exceeded",
        ),
        (
            "too_many_functions",
            || {
                let mut m = base();
                let d = app(&mut m);
                let proto = d.functions[0].clone();
                d.functions = (0..=capjit::verifier::limits::MAX_FUNCTIONS)
                    .map(|i| Function {
                        name: format!("f{i}"),
                        ..proto.clone()
                    })
                    .collect();
                m
            },
            "limit_exceeded",
        ),
        (
            "too_many_imports",
            || {
                let mut m = base();
                let d = app(&mut m);
                let proto = d.imports[0].clone();
                d.imports = (0..=capjit::verifier::limits::MAX_IMPORTS)
                    .map(|i| Import {
                        name: format!("i{i}"),
                        ..proto.clone()
                    })
                    .collect();
                m
            },
            "limit_exceeded",
        ),
        (
            "global_get_index_out_of_range",
            || {
                let mut m = with_global();
                main_fn(&mut m).blocks[0]
                    .insts
                    .push(inst(&[1], Op::GlobalGet { global: 1 }));
                m
            },
            "unknown_global",
        ),
        (
            "global_set_index_u32_max",
            || {
                let mut m = with_global();
                main_fn(&mut m).blocks[0].insts.push(inst(
                    &[],
                    Op::GlobalSet {
                        global: u32::MAX,
                        value: Value(0),
                    },
                ));
                m
            },
            "unknown_global",
        ),
        (
            "global_get_in_domain_without_globals",
            || {
                let mut m = base();
                main_fn(&mut m).blocks[0]
                    .insts
                    .push(inst(&[1], Op::GlobalGet { global: 0 }));
                m
            },
            "unknown_global",
        ),
        (
            "global_initial_value_of_another_type",
            || {
                let mut m = with_global();
                app(&mut m).globals[0].init = Const::F64(1.5f64.to_bits());
                m
            },
            "type_mismatch",
        ),
        (
            "table_entry_function_index_out_of_range",
            || {
                let mut m = base();
                app(&mut m).tables = vec![funcref_table(vec![Some(0), Some(2)])];
                m
            },
            "bad_table_entry",
        ),
        (
            "table_entry_function_index_u32_max",
            || {
                let mut m = base();
                app(&mut m).tables = vec![funcref_table(vec![None, Some(u32::MAX)])];
                m
            },
            "bad_table_entry",
        ),
        (
            "ref_func_of_function_index_u32_max",
            || {
                let mut m = base();
                main_fn(&mut m).blocks[0]
                    .insts
                    .push(inst(&[1], Op::RefFunc { func: u32::MAX }));
                m
            },
            "unknown_function",
        ),
        (
            "elem_segment_entry_function_index_out_of_range",
            || {
                let mut m = base();
                app(&mut m).passive_elems = vec![ElemSegment {
                    elem: RefType::Func,
                    items: vec![None, Some(7)],
                }];
                m
            },
            "bad_table_entry",
        ),
        (
            "too_many_globals",
            || {
                let mut m = with_global();
                let d = app(&mut m);
                let proto = d.globals[0].clone();
                d.globals = (0..=capjit::verifier::limits::MAX_GLOBALS)
                    .map(|i| Global {
                        name: format!("g{i}"),
                        ..proto.clone()
                    })
                    .collect();
                m
            },
            "limit_exceeded",
        ),
        (
            "too_many_table_entries",
            || {
                let mut m = base();
                app(&mut m).tables = vec![funcref_table(vec![
                    None;
                    capjit::verifier::limits::MAX_TABLE_ENTRIES + 1
                ])];
                m
            },
            "limit_exceeded",
        ),
        (
            "call_indirect_with_1001_results",
            || {
                let mut m = base();
                main_fn(&mut m).blocks[0].insts.push(inst(
                    &[],
                    Op::CallIndirect {
                        table: 0,
                        sig: Box::new(Signature {
                            params: vec![],
                            results: vec![Type::I32; capjit::verifier::limits::MAX_ARITY + 1],
                        }),
                        index: Value(0),
                        args: vec![],
                    },
                ));
                m
            },
            "limit_exceeded",
        ),
        (
            "call_indirect_signature_nested_too_deep",
            || {
                let mut m = base();
                let mut ty = Type::I32;
                for _ in 0..=capjit::verifier::limits::MAX_TYPE_DEPTH {
                    ty = Type::Cap(Box::new(Signature {
                        params: vec![ty],
                        results: vec![],
                    }));
                }
                main_fn(&mut m).blocks[0].insts.push(inst(
                    &[1],
                    Op::CallIndirect {
                        table: 0,
                        sig: Box::new(Signature {
                            params: vec![],
                            results: vec![ty],
                        }),
                        index: Value(0),
                        args: vec![],
                    },
                ));
                m
            },
            "limit_exceeded",
        ),
        (
            "too_many_blocks",
            || {
                let mut m = base();
                let f = main_fn(&mut m);
                f.blocks.resize(capjit::verifier::limits::MAX_BLOCKS + 1, trap_block());
                m
            },
            "limit_exceeded",
        ),
    ]
}

#[test]
fn rust_built_attacks_are_rejected() {
    let mut failures = Vec::new();
    let attacks = rust_built_attacks();
    for (name, build, kind) in &attacks {
        assert!(ERROR_KINDS.contains(kind), "{name}: unknown kind `{kind}`");
        let m = build();
        match verify_guarded(&m) {
            Err(e) => failures.push(format!("{name}: {e}")),
            Ok(Ok(_)) => failures.push(format!(
                "{name}: expected a `{kind}` error, but the verifier ACCEPTED it"
            )),
            Ok(Err(errors)) if errors.iter().any(|e| e.kind.name() == *kind) => {}
            Ok(Err(errors)) => failures.push(format!(
                "{name}: expected a `{kind}` error, got {}: {}",
                kinds(&errors),
                first_error(&errors)
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} Rust-built attacks are not rejected as expected:\n{}",
        failures.len(),
        attacks.len(),
        failures.join("\n")
    );
}

/// The base module of the Rust-built attacks is itself valid, so each attack is
/// rejected for what it adds.
#[test]
fn rust_built_attack_base_verifies() {
    if let Err(errors) = verify(&base()) {
        panic!("the base module is rejected: {}", kinds(&errors));
    }
    if let Err(errors) = verify(&with_global()) {
        panic!("the base module with a global is rejected: {}", kinds(&errors));
    }
}
