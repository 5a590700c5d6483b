//! Runs every `.cir` file of `tests/programs/` and `examples/` and checks it
//! against its comment header (format in `tests/support/mod.rs`), in every
//! executor; runs a few through the real `capjit` binary; checks that the corpus
//! is well-formed and covers every instruction of `docs/ir.md`.

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use capjit::ir::interp::Val;
use capjit::ir::print::opcode_text;
use capjit::ir::{parse_module, Module, Terminator, TrapCode};
use support::{Executor, Expected};

/// Files of the corpus directory.
fn programs() -> Vec<PathBuf> {
    support::cir_files(&support::repo_dir("tests/programs"))
}

fn examples() -> Vec<PathBuf> {
    support::cir_files(&support::repo_dir("examples"))
}

fn run_all(executor: Executor) {
    let files: Vec<PathBuf> = programs().into_iter().chain(examples()).collect();
    assert!(!files.is_empty(), "no .cir files found");
    let failures = support::check_files(&files, executor);
    eprintln!(
        "{executor:?}: {} of {} files passed",
        files.len() - failures.len(),
        files.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} files failed in {executor:?}:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn programs_and_examples_pass_in_the_interpreter() {
    run_all(Executor::Interpreter);
}

#[test]
fn programs_and_examples_pass_in_the_jit() {
    run_all(Executor::Jit);
}

#[test]
fn programs_and_examples_pass_in_the_jit_translating_everything_up_front() {
    run_all(Executor::EagerJit);
}

fn parsed(path: &PathBuf) -> (String, Module) {
    let src = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", support::short(path)));
    let m = parse_module(&src).unwrap_or_else(|e| panic!("{}: {e}", support::short(path)));
    (src, m)
}

/// The corpus must be valid input for the strict verifier to come.
#[test]
fn programs_are_well_formed() {
    let mut problems = Vec::new();
    for path in programs() {
        let (_, m) = parsed(&path);
        for p in support::wellformed::lint(&m) {
            problems.push(format!("{}: {p}", support::short(&path)));
        }
    }
    assert!(problems.is_empty(), "ill-formed programs:\n{}", problems.join("\n"));
}

/// Every instruction and terminator of `docs/ir.md`, at every legal type.
fn every_opcode() -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    let mut add = |s: String| {
        all.insert(s);
    };
    let ints = ["i32", "i64"];
    let floats = ["f32", "f64"];
    for t in ints {
        add(format!("iconst.{t}"));
        for op in [
            "iadd", "isub", "imul", "sdiv", "udiv", "srem", "urem", "band", "bor", "bxor", "ishl", "ushr", "sshr",
            "rotl", "rotr", "clz", "ctz", "popcnt", "sext8", "sext16",
        ] {
            add(format!("{op}.{t}"));
        }
        for cc in ["eq", "ne", "slt", "sle", "sgt", "sge", "ult", "ule", "ugt", "uge"] {
            add(format!("icmp.{cc}.{t}"));
        }
    }
    add("sext32.i64".into());
    for t in floats {
        add(format!("fconst.{t}"));
        for op in [
            "fadd",
            "fsub",
            "fmul",
            "fdiv",
            "fmin",
            "fmax",
            "fcopysign",
            "fneg",
            "fabs",
            "fsqrt",
            "fceil",
            "ffloor",
            "ftrunc",
            "fnearest",
        ] {
            add(format!("{op}.{t}"));
        }
        for cc in ["eq", "ne", "lt", "le", "gt", "ge"] {
            add(format!("fcmp.{cc}.{t}"));
        }
    }
    for t in ["i32", "i64", "f32", "f64", "region", "buf", "cap"] {
        add(format!("select.{t}"));
    }
    add("wrap.i32.i64".into());
    add("uextend.i64.i32".into());
    add("sextend.i64.i32".into());
    for i in ints {
        for f in floats {
            for op in ["fcvt_to_sint", "fcvt_to_uint", "fcvt_to_sint_sat", "fcvt_to_uint_sat"] {
                add(format!("{op}.{i}.{f}"));
            }
            for op in ["fcvt_from_sint", "fcvt_from_uint"] {
                add(format!("{op}.{f}.{i}"));
            }
        }
    }
    add("fpromote.f64.f32".into());
    add("fdemote.f32.f64".into());
    for (a, b) in [("i32", "f32"), ("i64", "f64")] {
        add(format!("bitcast.{a}.{b}"));
        add(format!("bitcast.{b}.{a}"));
    }
    for prefix in ["load", "region.load"] {
        for t in ["i32", "i64", "f32", "f64"] {
            add(format!("{prefix}.{t}"));
        }
        for t in ints {
            for n in ["8u", "8s", "16u", "16s"] {
                add(format!("{prefix}{n}.{t}"));
            }
        }
        add(format!("{prefix}32u.i64"));
        add(format!("{prefix}32s.i64"));
    }
    for prefix in ["store", "region.store"] {
        for t in ["i32", "i64", "f32", "f64"] {
            add(format!("{prefix}.{t}"));
        }
        for t in ints {
            add(format!("{prefix}8.{t}"));
            add(format!("{prefix}16.{t}"));
        }
        add(format!("{prefix}32.i64"));
    }
    for op in [
        "memory.size",
        "memory.grow",
        "memory.copy",
        "memory.fill",
        "memory.init",
        "data.drop",
        "call",
        "call_indirect",
        "global.get",
        "global.set",
        "cap.get",
        "buf.make",
        "buf.ptr",
        "buf.len",
        "region.new",
        "region.len",
        "region.read",
        "region.write",
        "region.free",
        "jump",
        "brif",
        "br_table",
        "return",
        "trap",
        "trap v",
        "call_cap",
    ] {
        add(op.into());
    }
    all
}

fn opcodes_used(m: &Module) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for f in m.domains.iter().flat_map(|d| &d.functions) {
        for b in &f.blocks {
            for i in &b.insts {
                let mut name = opcode_text(&i.op);
                if name.starts_with("select.cap") {
                    name = "select.cap".into();
                }
                used.insert(name);
            }
            used.insert(
                match b.term {
                    Terminator::Jump(_) => "jump",
                    Terminator::Brif { .. } => "brif",
                    Terminator::BrTable { .. } => "br_table",
                    Terminator::Return(_) => "return",
                    Terminator::Trap => "trap",
                    Terminator::TrapWith(_) => "trap v",
                    Terminator::CallCap { .. } => "call_cap",
                }
                .to_string(),
            );
        }
    }
    used
}

#[test]
fn programs_cover_every_instruction() {
    let mut used = BTreeSet::new();
    for path in programs() {
        used.extend(opcodes_used(&parsed(&path).1));
    }
    let missing: Vec<String> = every_opcode().difference(&used).cloned().collect();
    assert!(
        missing.is_empty(),
        "no program in tests/programs uses: {}",
        missing.join(", ")
    );
}

/// Every trap code a program can cause is some file's `; trap:` (the entry
/// traps) or is named in a file name (reached through a failure edge).
/// `cap_revoked` needs the host API, `host_error` a failing host and `exit` an
/// embedder host function (tests/host_functions.rs covers it).
#[test]
fn programs_cover_every_trap_code() {
    let mut seen = BTreeSet::new();
    for path in programs() {
        let (src, _) = parsed(&path);
        let h = support::parse_header(&src).unwrap_or_else(|e| panic!("{}: {e}", support::short(&path)));
        if let Expected::Trap(t) = h.expected {
            seen.insert(t.name());
        }
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        for t in TrapCode::ALL {
            if stem.contains(t.name()) {
                seen.insert(t.name());
            }
        }
    }
    let missing: Vec<&str> = TrapCode::ALL
        .iter()
        .map(|t| t.name())
        .filter(|n| !["cap_revoked", "host_error", "exit"].contains(n) && !seen.contains(n))
        .collect();
    assert!(
        missing.is_empty(),
        "no program covers trap code(s): {}",
        missing.join(", ")
    );
}

#[test]
fn corpus_is_large_enough() {
    let n = programs().len();
    assert!(n >= 65, "tests/programs holds {n} programs; at least 65 are expected");
}

// ---- the real command line ---------------------------------------------

/// A handful of programs, chosen for variety: results of several types, host
/// output, arguments, a named entry, fuel, traps in the entry domain.
const CLI_SAMPLE: [&str; 9] = [
    "args_every_numeric_type.cir",
    "idc_basic_counter.cir",
    "idc_buf_copy_through_inbox.cir",
    "host_print_every_kind.cir",
    "invoke_named_export_with_args.cir",
    "float_neg_zero_f64.cir",
    "fuel_infinite_loop_exhausts.cir",
    "int_sdiv_overflow_traps.cir",
    "mem_address_near_u32_max_with_offset_traps.cir",
];

#[test]
fn cli_runs_sample_programs() {
    let dir = support::repo_dir("tests/programs");
    let mut failures = Vec::new();
    for name in CLI_SAMPLE {
        let path = dir.join(name);
        let (src, _) = parsed(&path);
        let h = support::parse_header(&src).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_capjit"));
        cmd.arg("run");
        if let Some(inv) = &h.invoke {
            cmd.args(["--invoke", inv]);
        }
        if let Some(fuel) = h.fuel {
            cmd.args(["--fuel", &fuel.to_string()]);
        }
        cmd.arg(&path).args(&h.args);
        let out = cmd.output().unwrap_or_else(|e| panic!("cannot run capjit: {e}"));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let code = out.status.code();
        let mut want_lines = h.stdout.clone();
        let want_code = match &h.expected {
            Expected::Values(vals) => {
                want_lines.extend(vals.iter().map(support::plain));
                0
            }
            Expected::Trap(t) => {
                if !stderr.contains(&format!("trap {t}")) {
                    failures.push(format!("{name}: stderr does not name trap `{t}`: {stderr:?}"));
                }
                3
            }
        };
        if code != Some(want_code) {
            failures.push(format!(
                "{name}: exit code {code:?}, expected {want_code}; stderr: {stderr:?}"
            ));
        }
        let got_lines: Vec<&str> = stdout.lines().collect();
        if got_lines != want_lines {
            failures.push(format!("{name}: stdout {got_lines:?}, expected {want_lines:?}"));
        }
    }
    assert!(failures.is_empty(), "CLI mismatches:\n{}", failures.join("\n"));
}

// ---- the header parser -------------------------------------------------

#[test]
fn header_parser_reads_every_key() {
    let src = "; adds things\n; invoke: app.go\n; args: 5 -3\n; fuel: 1_000\n\
               ; expect: i64:42 i32:-7 f64:-0.0 f32:nan(0x7fc00000)\n; stdout: hello\n; stdout:\n\
               ; faulted: worker kv\n; not a key: ignored\ndomain app {}\n; expect: i32:1\n";
    let h = support::parse_header(src).unwrap();
    assert_eq!(h.description, "adds things");
    assert_eq!(h.invoke.as_deref(), Some("app.go"));
    assert_eq!(h.args, ["5", "-3"]);
    assert_eq!(h.fuel, Some(1000));
    assert_eq!(
        h.expected,
        Expected::Values(vec![
            Val::I64(42),
            Val::I32(-7),
            Val::F64((-0.0f64).to_bits()),
            Val::F32(0x7fc0_0000)
        ])
    );
    assert_eq!(h.stdout, ["hello", ""]);
    assert_eq!(h.faulted, Some(vec!["kv".to_string(), "worker".to_string()]));
}

#[test]
fn header_parser_rejects_bad_headers() {
    for (src, why) in [
        ("; nothing to check\ndomain a {}\n", "neither"),
        ("; x\n; expect: i32:1\n; trap: unreachable\n", "both"),
        ("; x\n; trap: no_such_trap\n", "unknown trap"),
        ("; x\n; expect: i32:99999999999\n", "bad value"),
        ("; x\n; expect: f64:nan\n", "bad value"),
        ("; x\n; expect: i32:1\n; expect: i32:2\n", "twice"),
    ] {
        match support::parse_header(src) {
            Err(e) => assert!(e.contains(why), "{src:?}: error `{e}` does not mention `{why}`"),
            Ok(h) => panic!("{src:?} was accepted: {h:?}"),
        }
    }
    assert_eq!(
        support::parse_header("; x\n; expect:\n").unwrap().expected,
        Expected::Values(vec![])
    );
}

#[test]
fn comparison_reports_every_mismatch() {
    let h = support::parse_header("; x\n; expect: f64:0.0\n; stdout: a\n; faulted:\n").unwrap();
    let o = support::Outcome {
        result: Ok(vec![Val::F64((-0.0f64).to_bits())]),
        stdout: "b\n".into(),
        faulted: vec!["w".into()],
    };
    let problems = support::compare(&h, &o);
    assert_eq!(problems.len(), 3, "{problems:?}");
}

#[test]
fn faulted_defaults_to_the_entry_domain_of_a_trap_and_none_otherwise() {
    let entry = support::Entry {
        domain: "app".into(),
        func: "main".into(),
        args: vec![],
    };
    let outcome = |result, faulted: &[&str]| support::Outcome {
        result,
        stdout: String::new(),
        faulted: faulted.iter().map(|s| s.to_string()).collect(),
    };
    let with_default = |src: &str| {
        let mut h = support::parse_header(src).unwrap();
        assert_eq!(h.faulted, None);
        h.faulted = Some(support::default_faulted(&h, &entry));
        h
    };
    let trap = with_default("; x\n; trap: unreachable\n");
    assert!(support::compare(&trap, &outcome(Err(TrapCode::Unreachable), &["app"])).is_empty());
    assert_eq!(
        support::compare(&trap, &outcome(Err(TrapCode::Unreachable), &["app", "w"])).len(),
        1
    );
    let ok = with_default("; x\n; expect:\n");
    assert!(support::compare(&ok, &outcome(Ok(vec![]), &[])).is_empty());
    assert_eq!(support::compare(&ok, &outcome(Ok(vec![]), &["w"])).len(), 1);
}
