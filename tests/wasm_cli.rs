//! WebAssembly through the `capjit` command line: every example under
//! `examples/wasm/` runs with the expected output and exit code on the JIT and on
//! the interpreter; two modules calling each other by IDC survive a trapping
//! callee; WASI programs print, read their arguments and exit with a status;
//! `--dir` grants only what it names; bad Wasm gives a clear error and exit code 1.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const EXIT_ERROR: i32 = 1;
const EXIT_TRAP: i32 = 3;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn capjit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_capjit"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("the capjit binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// [`check`] of a run that traps with `trap` on both backends, printing nothing.
#[track_caller]
fn check_trap(args: &[&str], trap: &str) {
    for out in check(args, "", EXIT_TRAP) {
        let err = text(&out.stderr);
        assert!(err.contains(trap), "{err}");
    }
}

/// Run `args` on both backends; both must give `stdout` and exit `code`.
#[track_caller]
fn check(args: &[&str], stdout: &str, code: i32) -> Vec<Output> {
    let mut outs = Vec::new();
    for interp in [false, true] {
        let mut all: Vec<&str> = args.to_vec();
        if interp {
            // Before the files: everything after the first one is the program's.
            all.insert(1, "--interp");
        }
        let out = capjit(&all);
        let backend = if interp { "interpreter" } else { "JIT" };
        assert_eq!(
            out.status.code(),
            Some(code),
            "{backend}: capjit {all:?}\nstdout: {}\nstderr: {}",
            text(&out.stdout),
            text(&out.stderr)
        );
        assert_eq!(
            text(&out.stdout),
            stdout,
            "{backend}: capjit {all:?}\nstderr: {}",
            text(&out.stderr)
        );
        outs.push(out);
    }
    outs
}

#[test]
fn fib_wat_runs_its_only_export() {
    check(&["run", "examples/wasm/fib.wat", "20"], "6765\n", 0);
    check(&["run", "--invoke", "fib", "examples/wasm/fib.wat", "1"], "1\n", 0);
}

#[test]
fn handlers_wat_keeps_funcrefs_in_a_growable_table() {
    check(&["run", "examples/wasm/handlers.wat"], "60\n3\n", 0);
    check_trap(
        &["run", "--invoke", "fire", "examples/wasm/handlers.wat", "5", "1"],
        "table_out_of_bounds",
    );
}

#[test]
fn dispatch_wasm_is_its_wat_source_encoded() {
    let source = std::fs::read(repo("examples/wasm/dispatch.wat")).unwrap();
    let encoded = capjit_wasm::to_wasm_binary(&source).unwrap();
    let path = repo("examples/wasm/dispatch.wasm");
    if std::env::var_os("CAPJIT_BLESS").is_some() {
        std::fs::write(&path, &encoded).unwrap();
    }
    let committed = std::fs::read(&path).expect("examples/wasm/dispatch.wasm (CAPJIT_BLESS=1 writes it)");
    assert!(committed.starts_with(b"\0asm"), "dispatch.wasm is a binary module");
    assert_eq!(committed, encoded, "dispatch.wasm is stale: run with CAPJIT_BLESS=1");
}

#[test]
fn dispatch_wasm_calls_through_the_table_and_counts_in_a_global() {
    check(
        &["run", "--invoke", "demo", "examples/wasm/dispatch.wasm"],
        "42\n3\n",
        0,
    );
    check(
        &["run", "--invoke", "apply", "examples/wasm/dispatch.wasm", "2", "6", "7"],
        "42\n",
        0,
    );
    check_trap(
        &["run", "--invoke", "apply", "examples/wasm/dispatch.wasm", "3", "1", "1"],
        "indirect_call_null",
    );
    check_trap(
        &["run", "--invoke", "apply", "examples/wasm/dispatch.wasm", "5", "1", "1"],
        "table_out_of_bounds",
    );
}

#[test]
fn a_trapping_callee_module_leaves_its_caller_running() {
    let outs = check(
        &[
            "run",
            "--trace-idc",
            "examples/wasm/divider.wat",
            "examples/wasm/calc.wat",
        ],
        "20\n2\n9\n",
        0,
    );
    for out in outs {
        let err = text(&out.stderr);
        assert!(err.contains("idc: calc -> div: ok(20)"), "{err}");
        assert!(err.contains("idc: calc -> div: fail(int_divide_by_zero)"), "{err}");
        assert!(err.contains("domain `divider` is faulted"), "{err}");
    }
}

#[test]
fn a_plain_import_propagates_the_callee_trap() {
    let dir = tempdir("plain_import");
    let callee = dir.join("callee.wat");
    let app = dir.join("app.wat");
    std::fs::write(&callee, r#"(module (func (export "boom") (result i32) unreachable))"#).unwrap();
    std::fs::write(
        &app,
        r#"(module (import "callee" "boom" (func $b (result i32)))
             (func (export "main") (result i32) (i32.add (call $b) (i32.const 1))))"#,
    )
    .unwrap();
    let args = [
        "run",
        "--invoke",
        "app.main",
        callee.to_str().unwrap(),
        app.to_str().unwrap(),
    ];
    check(&args, "", EXIT_TRAP);
}

#[test]
fn wasi_hello_prints_its_arguments_and_exits() {
    check(&["run", "examples/wasm/hello_wasi.wat"], "hello from wasm\n", 0);
    check(
        &["run", "examples/wasm/hello_wasi.wat", "one", "two words"],
        "hello from wasm\none\ntwo words\n",
        0,
    );
}

#[test]
fn a_trap_is_reported_in_the_wasm_programs_terms() {
    let dir = tempdir("trap");
    let prog = dir.join("calc.wat");
    let source = r#"(module
        (func $divide (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
        (func $middle (result i32) (call $divide (i32.const 7) (i32.const 0)))
        (func (export "main") (result i32) (call $middle)))"#;
    std::fs::write(&prog, source).unwrap();
    let binary = capjit_wasm::to_wasm_binary(source.as_bytes()).unwrap();
    // local.get 0, local.get 1, i32.div_s: the offset of the last.
    let div = binary
        .windows(5)
        .position(|w| w == [0x20, 0x00, 0x20, 0x01, 0x6d])
        .unwrap()
        + 4;
    // i32.const 7, i32.const 0, call 0; then call 1, end.
    let call_divide = binary
        .windows(6)
        .position(|w| w == [0x41, 0x07, 0x41, 0x00, 0x10, 0x00])
        .unwrap()
        + 4;
    let call_middle = binary.windows(3).rposition(|w| w == [0x10, 0x01, 0x0b]).unwrap();
    for out in check(&["run", prog.to_str().unwrap()], "", EXIT_TRAP) {
        let want = format!(
            "error: trap int_divide_by_zero in `divide` (function 0) of wasm module `calc` at offset {div:#x} (IR: calc.divide block0 inst 0)\n  \
             called from `middle` (function 1) of wasm module `calc` at offset {call_divide:#x} (IR: calc.middle block0 inst 2)\n  \
             called from `main` (function 2) of wasm module `calc` at offset {call_middle:#x} (IR: calc.main block0 inst 0)\n"
        );
        assert_eq!(text(&out.stderr), want);
    }
}

#[test]
fn everything_after_the_module_goes_to_the_program() {
    check(
        &["run", "examples/wasm/hello_wasi.wat", "-e", "--fuel", "--", "x"],
        "hello from wasm\n-e\n--fuel\n--\nx\n",
        0,
    );
}

#[test]
fn timeout_and_ctrl_c_stop_a_run_with_a_message() {
    let dir = tempdir("spin");
    let prog = dir.join("spin.wat");
    std::fs::write(&prog, r#"(module (func (export "_start") (loop (br 0))))"#).unwrap();
    let p = prog.to_str().unwrap();
    for backend in [None, Some("--interp")] {
        let mut args = vec!["run", "--timeout", "300ms"];
        args.extend(backend);
        args.push(p);
        let out = capjit(&args);
        assert_eq!(out.status.code(), Some(124), "{args:?}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("ran longer than --timeout 300ms"),
            "{}",
            text(&out.stderr)
        );
    }
    // Ctrl-C: SIGINT to a run that would never end (no fuel limit by default).
    let child = Command::new(env!("CARGO_BIN_EXE_capjit"))
        .args(["run", p])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("interrupted (Ctrl-C)"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn wasi_exit_status_becomes_the_process_status() {
    let dir = tempdir("exit");
    let prog = dir.join("exit.wat");
    std::fs::write(
        &prog,
        r#"(module (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
             (func (export "_start") (call $exit (i32.const 42)) unreachable))"#,
    )
    .unwrap();
    check(&["run", prog.to_str().unwrap()], "", 42);
}

/// A WASI program that opens `name` below preopened fd 3 and prints its bytes; it
/// exits with the errno when the open fails.
const CAT: &str = r#"(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory 1)
  (data (i32.const 100) "NAME")
  (func (export "_start") (local $err i32)
    ;; path_open(fd 3, lookup 0, path 100, len, oflags 0, rights read, inherit 0, fdflags 0, out fd at 8)
    (local.set $err (call $open (i32.const 3) (i32.const 0) (i32.const 100) (i32.const LEN)
      (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 8)))
    (if (local.get $err) (then (call $exit (local.get $err))))
    ;; read up to 256 bytes into 1024 through the iovec at 16
    (i32.store (i32.const 16) (i32.const 1024))
    (i32.store (i32.const 20) (i32.const 256))
    (drop (call $read (i32.load (i32.const 8)) (i32.const 16) (i32.const 1) (i32.const 24)))
    (i32.store (i32.const 20) (i32.load (i32.const 24)))
    (drop (call $write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 28)))))"#;

#[test]
fn wasi_reads_files_only_below_a_granted_dir() {
    let dir = tempdir("dir");
    let granted = dir.join("granted");
    std::fs::create_dir_all(&granted).unwrap();
    std::fs::write(granted.join("note.txt"), "inside\n").unwrap();
    std::fs::write(dir.join("secret.txt"), "outside\n").unwrap();
    let program = |name: &str| {
        let path = dir.join(format!("cat_{}.wat", name.replace(['/', '.'], "_")));
        let wat = CAT.replace("NAME", name).replace("LEN", &name.len().to_string());
        std::fs::write(&path, wat).unwrap();
        path
    };
    let inside = program("note.txt");
    let grant = format!("{}::data", granted.display());
    check(&["run", "--dir", &grant, inside.to_str().unwrap()], "inside\n", 0);
    // Without --dir there is no fd 3: EBADF (8).
    check(&["run", inside.to_str().unwrap()], "", 8);
    // `..` out of the granted directory: ENOTCAPABLE (76).
    let escape = program("../secret.txt");
    check(&["run", "--dir", &grant, escape.to_str().unwrap()], "", 76);
}

#[test]
fn translate_emit_ir_prints_the_frontends_output() {
    let out = capjit(&["translate", "examples/wasm/fib.wat", "--emit", "ir"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let ir = text(&out.stdout);
    assert!(ir.contains("domain fib {"), "{ir}");
    assert!(ir.contains("export func fib(i32) -> i64"), "{ir}");
    // What it prints is a capjit program that parses and runs the same.
    let module = capjit::ir::parse_module(&ir).expect("the printed IR parses");
    assert_eq!(module.domains.len(), 1);
}

#[test]
fn bad_wasm_is_a_clear_error() {
    let dir = tempdir("bad");
    let cases: [(&str, &[u8], &str); 4] = [
        (
            "syntax.wat",
            b"(module (func (export \"f\") (result i32) i32.const))",
            "syntax:1:",
        ),
        ("truncated.wasm", b"\0asm\x01\x00\x00\x00\x01", "truncated"),
        (
            "simd.wat",
            b"(module (func (export \"f\") (result v128) v128.const i64x2 0 0))",
            "unsupported: SIMD",
        ),
        (
            "link.wat",
            b"(module (import \"nowhere\" \"f\" (func)) (func (export \"main\")))",
            "nowhere",
        ),
    ];
    for (name, bytes, expected) in cases {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let out = capjit(&["run", path.to_str().unwrap()]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(EXIT_ERROR), "{name}: {err}");
        assert!(err.contains("error:") && err.contains(expected), "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
    }
}

fn tempdir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("wasm_cli").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
