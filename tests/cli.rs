//! The `capjit` command line on good and bad input: every failure is a clear message
//! on stderr and a non-zero exit code, never a panic; `fmt`, `encode` and `decode`
//! agree with each other and with running the text.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use capjit::ir::{parse_module, Module};

/// Exit codes of the CLI.
const EXIT_ERROR: i32 = 1;
const EXIT_USAGE: i32 = 2;
const EXIT_TRAP: i32 = 3;

/// Two domains: `app.main(n)` prints `n`, adds it to the counter (5) and returns the
/// sum and `-0.0`.
const PROGRAM: &str = r#"; A counter domain and an app that calls it through a capability.
domain counter {
  memory 1
  data 8 "\05\00\00\00\00\00\00\00"
  export func bump(i64) -> i64 {
  block0(v0: i64):
    v1 = iconst.i32 0
    v2 = load.i64 v1+8   ; the counter
    v3 = iadd.i64 v2, v0
    store.i64 v3, v1+8
    return v3
  }
}

domain app {
  import bump = counter.bump : (i64) -> i64
  import print = host.print_i32 : (i32)
  export func main(i32) -> (i64, f64) {
  block0(v0: i32):
    v1 = cap.get print
    call_cap v1(v0) -> ok(block1), fail(block3)
  block1:
    v2 = sextend.i64.i32 v0
    v3 = cap.get bump
    call_cap v3(v2) -> ok(block2), fail(block3)
  block2(v4: i64):
    v5 = fconst.f64 -0.0
    return v4, v5
  block3(v6: i32):
    trap
  }
}
"#;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// A file or directory under the system temp dir, removed when dropped.
struct Temp(PathBuf);

impl Temp {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        if self.0.is_dir() {
            let _ = std::fs::remove_dir_all(&self.0);
        } else {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

/// A fresh path, unique across processes and tests: `capjit-cli-PID-N-NAME`.
fn temp_path(name: &str) -> Temp {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    Temp(std::env::temp_dir().join(format!("capjit-cli-{}-{n}-{name}", std::process::id())))
}

/// A temp file holding `contents`.
fn temp_file(name: &str, contents: impl AsRef<[u8]>) -> Temp {
    let t = temp_path(name);
    std::fs::write(t.path(), contents).expect("write temp file");
    t
}

/// Run the CLI without colours and without a backtrace setting from the environment.
fn capjit<S: AsRef<OsStr>>(args: impl IntoIterator<Item = S>) -> Output {
    Command::new(env!("CARGO_BIN_EXE_capjit"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .output()
        .expect("run capjit")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Success, with nothing on stderr; returns stdout.
fn assert_ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "expected success, got {:?}\nstderr:\n{}",
        out.status,
        stderr(out)
    );
    assert_eq!(stderr(out), "", "unexpected stderr");
    stdout(out)
}

/// A failure with exit code `code`, no output, no panic, and an error message on stderr
/// mentioning each of `parts`; returns stderr.
fn assert_fails(out: &Output, code: i32, parts: &[&str]) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "exit status; stderr:\n{}", excerpt(&err));
    assert!(!err.contains("panicked"), "panic:\n{}", excerpt(&err));
    assert!(!err.contains("RUST_BACKTRACE"), "panic:\n{}", excerpt(&err));
    assert!(err.contains("error"), "no error message:\n{}", excerpt(&err));
    for part in parts {
        assert!(err.contains(part), "stderr should mention {part:?}:\n{}", excerpt(&err));
    }
    assert_eq!(stdout(out), "", "unexpected stdout");
    err
}

/// The start of a possibly huge text, for assertion messages.
fn excerpt(s: &str) -> &str {
    let mut end = s.len().min(2000);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Parse and clear every span, to compare modules parsed from different texts.
fn parse_plain(src: &str) -> Module {
    let mut m = parse_module(src).unwrap_or_else(|e| panic!("{e:?} in:\n{src}"));
    for d in &mut m.domains {
        d.span = None;
        for i in &mut d.imports {
            i.span = None;
        }
        for f in &mut d.functions {
            f.span = None;
            for b in &mut f.blocks {
                b.term_span = None;
                for inst in &mut b.insts {
                    inst.span = None;
                }
            }
        }
    }
    m
}

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
fn pseudo_random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn encoded_program() -> (Temp, Temp) {
    let text = temp_file("prog.cir", PROGRAM);
    let bin = temp_path("prog.cirb");
    assert_ok(&capjit([
        OsStr::new("encode"),
        text.path().as_os_str(),
        OsStr::new("-o"),
        bin.path().as_os_str(),
    ]));
    (text, bin)
}

// ---------------------------------------------------------------------------------------
// Good input: the commands agree
// ---------------------------------------------------------------------------------------

#[test]
fn run_prints_output_and_results() {
    let prog = temp_file("run.cir", PROGRAM);
    let out = assert_ok(&capjit([OsStr::new("run"), prog.path().as_os_str(), OsStr::new("7")]));
    assert_eq!(out, "7\n12\n-0.0\n");
}

/// `main` calls `used` twice and never `unused`.
const PARTLY_USED: &str = r#"
domain app {
  func used(i32) -> i32 {
  block0(v0: i32):
    v1 = iconst.i32 3
    v2 = imul.i32 v0, v1
    return v2
  }
  func unused(i32) -> i32 {
  block0(v0: i32):
    v1 = call used(v0)
    return v1
  }
  export func main(i32) -> i32 {
  block0(v0: i32):
    v1 = call used(v0)
    v2 = call used(v1)
    return v2
  }
}
"#;

#[test]
fn run_translates_only_what_runs_unless_eager() {
    let prog = temp_file("partly_used.cir", PARTLY_USED);
    let run = |eager: bool| {
        let mut args = vec![OsStr::new("run"), OsStr::new("--translation-stats")];
        if eager {
            args.push(OsStr::new("--eager"));
        }
        args.extend([prog.path().as_os_str(), OsStr::new("5")]);
        let out = capjit(args);
        assert!(out.status.success(), "stderr:\n{}", stderr(&out));
        (stdout(&out), stderr(&out))
    };
    let (lazy_out, lazy_stats) = run(false);
    let (eager_out, eager_stats) = run(true);
    assert_eq!(lazy_out, "45\n");
    assert_eq!(eager_out, lazy_out);
    assert!(lazy_stats.starts_with("translated: 2 of 3 functions"), "{lazy_stats}");
    assert!(eager_stats.starts_with("translated: 3 of 3 functions"), "{eager_stats}");
    let interp = capjit([
        OsStr::new("run"),
        OsStr::new("--interp"),
        OsStr::new("--eager"),
        prog.path().as_os_str(),
    ]);
    assert_fails(&interp, EXIT_USAGE, &["--eager", "--interp"]);
}

#[test]
fn fmt_output_reparses_to_the_same_module() {
    let prog = temp_file("fmt.cir", PROGRAM);
    let text = assert_ok(&capjit([OsStr::new("fmt"), prog.path().as_os_str()]));
    assert_eq!(parse_plain(&text), parse_plain(PROGRAM));
    assert!(!text.contains(';'), "comments are not part of the canonical text");
    // The canonical text is a fixed point of `fmt`.
    let again = temp_file("fmt2.cir", &text);
    assert_eq!(assert_ok(&capjit([OsStr::new("fmt"), again.path().as_os_str()])), text);
}

#[test]
fn encoded_program_runs_like_the_text() {
    let (text, bin) = encoded_program();
    let bytes = std::fs::read(bin.path()).unwrap();
    assert!(bytes.starts_with(b"\0cir"), "{bytes:?}");
    for arg in ["7", "-3", "0"] {
        let from_text = assert_ok(&capjit([OsStr::new("run"), text.path().as_os_str(), OsStr::new(arg)]));
        let from_bin = assert_ok(&capjit([OsStr::new("run"), bin.path().as_os_str(), OsStr::new(arg)]));
        assert_eq!(from_bin, from_text, "argument {arg}");
    }
    // `fmt` reads the binary too.
    let fmt_text = assert_ok(&capjit([OsStr::new("fmt"), text.path().as_os_str()]));
    assert_eq!(
        assert_ok(&capjit([OsStr::new("fmt"), bin.path().as_os_str()])),
        fmt_text
    );
}

#[test]
fn decode_prints_the_fmt_text() {
    let (text, bin) = encoded_program();
    let fmt_text = assert_ok(&capjit([OsStr::new("fmt"), text.path().as_os_str()]));
    assert_eq!(
        assert_ok(&capjit([OsStr::new("decode"), bin.path().as_os_str()])),
        fmt_text
    );
    let out = temp_path("decoded.cir");
    let printed = assert_ok(&capjit([
        OsStr::new("decode"),
        bin.path().as_os_str(),
        OsStr::new("-o"),
        out.path().as_os_str(),
    ]));
    assert_eq!(printed, "");
    assert_eq!(std::fs::read_to_string(out.path()).unwrap(), fmt_text);
}

#[test]
fn a_trap_exits_with_code_3() {
    let prog = temp_file(
        "trap.cir",
        "domain d {\n  export func main() {\n  block0:\n    trap\n  }\n}\n",
    );
    assert_fails(
        &capjit([OsStr::new("run"), prog.path().as_os_str()]),
        EXIT_TRAP,
        &["unreachable"],
    );
}

// ---------------------------------------------------------------------------------------
// Bad files
// ---------------------------------------------------------------------------------------

#[test]
fn garbage_bytes() {
    for seed in 1..=8 {
        let bytes = pseudo_random_bytes(seed, 64 << seed);
        let file = temp_file("garbage.cir", &bytes);
        assert_fails(&capjit([OsStr::new("run"), file.path().as_os_str()]), EXIT_ERROR, &[]);
        assert_fails(&capjit([OsStr::new("fmt"), file.path().as_os_str()]), EXIT_ERROR, &[]);
    }
    // Printable garbage is text with a syntax error.
    let file = temp_file("garbage.cir", "@#$%^&*~`|\\?");
    assert_fails(
        &capjit([OsStr::new("run"), file.path().as_os_str()]),
        EXIT_ERROR,
        &["unexpected character '@'", ":1:1"],
    );
    // Garbage after the binary magic is a decode error.
    for seed in 1..=8 {
        let mut bytes = b"\0cir\x02\0\0\0".to_vec();
        bytes.extend(pseudo_random_bytes(seed, 16 << seed));
        let file = temp_file("garbage.cirb", &bytes);
        assert_fails(
            &capjit([OsStr::new("run"), file.path().as_os_str()]),
            EXIT_ERROR,
            &["garbage.cirb"],
        );
    }
}

#[test]
fn empty_file_has_no_main() {
    let file = temp_file("empty.cir", "");
    assert_fails(
        &capjit([OsStr::new("run"), file.path().as_os_str()]),
        EXIT_ERROR,
        &["`main`"],
    );
    // It is a valid (empty) module, so `fmt` prints nothing.
    assert_eq!(assert_ok(&capjit([OsStr::new("fmt"), file.path().as_os_str()])), "");
}

#[test]
fn non_utf8_text() {
    let file = temp_file("latin1.cir", b"domain d { data 0 \"caf\xe9\" }\n");
    assert_fails(
        &capjit([OsStr::new("run"), file.path().as_os_str()]),
        EXIT_ERROR,
        &["neither UTF-8 text nor a capjit binary"],
    );
}

#[test]
fn every_truncation_of_a_binary_fails_cleanly() {
    let (_text, bin) = encoded_program();
    let bytes = std::fs::read(bin.path()).unwrap();
    for len in 0..bytes.len() {
        let cut = temp_file("cut.cirb", &bytes[..len]);
        let out = capjit([OsStr::new("run"), cut.path().as_os_str(), OsStr::new("7")]);
        let err = assert_fails(&out, EXIT_ERROR, &[]);
        if len >= 8 {
            assert!(err.contains("cut.cirb"), "truncated at {len}: {err}");
        }
    }
}

#[test]
fn missing_file() {
    let missing = temp_path("missing.cir");
    for cmd in ["run", "fmt", "decode"] {
        assert_fails(
            &capjit([OsStr::new(cmd), missing.path().as_os_str()]),
            EXIT_ERROR,
            &["cannot read", "missing.cir"],
        );
    }
}

#[test]
fn directory_as_file() {
    let dir = temp_path("dir.cir");
    std::fs::create_dir(dir.path()).unwrap();
    assert_fails(
        &capjit([OsStr::new("run"), dir.path().as_os_str()]),
        EXIT_ERROR,
        &["cannot read", "dir.cir"],
    );
    // Writing the output to a directory fails too.
    let prog = temp_file("prog.cir", PROGRAM);
    assert_fails(
        &capjit([
            OsStr::new("encode"),
            prog.path().as_os_str(),
            OsStr::new("-o"),
            dir.path().as_os_str(),
        ]),
        EXIT_ERROR,
        &["cannot write"],
    );
}

const HUGE: usize = 100 << 20;

#[test]
fn hundred_megabyte_lines() {
    // A valid program on one 100 MB line: it loads, and has no `main`.
    let line = format!("domain d {{ data 0 \"{}\" }}", "a".repeat(HUGE));
    let file = temp_file("huge-data.cir", line);
    assert_fails(
        &capjit([OsStr::new("run"), file.path().as_os_str()]),
        EXIT_ERROR,
        &["`main`"],
    );
    drop(file);
    // A 100 MB comment line, then a syntax error on the next line.
    let text = format!(";{}\ndomain d {{ memory x }}\n", "x".repeat(HUGE));
    let file = temp_file("huge-comment.cir", text);
    let err = assert_fails(
        &capjit([OsStr::new("run"), file.path().as_os_str()]),
        EXIT_ERROR,
        &["expected initial page count", "huge-comment.cir:2:19"],
    );
    assert!(err.len() < 4096, "stderr of {} bytes", err.len());
}

/// The error lies inside the 100 MB line.
#[test]
fn hundred_megabyte_garbage_line() {
    let file = temp_file("huge-word.cir", "x".repeat(HUGE));
    let started = std::time::Instant::now();
    let err = assert_fails(
        &capjit([OsStr::new("run"), file.path().as_os_str()]),
        EXIT_ERROR,
        &["expected `domain`", "huge-word.cir:1:1"],
    );
    assert!(err.len() < 4096, "stderr of {} bytes", err.len());
    assert!(started.elapsed().as_secs() < 30, "took {:?}", started.elapsed());
}

/// A function of `blocks` chained blocks (about 100 bytes each) whose entry parameter
/// is `i32` where the signature says `i64`, and whose every `dup_every`-th block
/// redefines `v1`: errors located at the function, whose span is the whole function.
fn huge_function(blocks: usize, dup_every: usize) -> String {
    let mut text = String::from("domain big {\n  export func main(i64) -> i64 {\n  block0(v0: i32):\n");
    text.push_str("    v1 = iconst.i64 1\n    jump block1(v1)\n");
    for b in 1..blocks {
        let v = 3 * b;
        let p = if b % dup_every == 0 { 1 } else { v };
        text.push_str(&format!(
            "  block{b}(v{p}: i64):\n    v{} = iadd.i64 v{p}, v1\n    v{} = imul.i64 v{}, v{p}\n",
            v + 1,
            v + 2,
            v + 1
        ));
        if b + 1 < blocks {
            text.push_str(&format!("    jump block{}(v{})\n", b + 1, v + 2));
        } else {
            text.push_str(&format!("    return v{}\n", v + 2));
        }
    }
    text.push_str("  }\n}\n");
    text
}

/// An error whose span is a whole function of several megabytes is shown by its
/// first line and a note where it ends, not by the function's lines.
#[test]
fn an_error_spanning_a_huge_function_is_shown_briefly() {
    const BLOCKS: usize = 40_000;
    const DUPS: usize = 20;
    let text = huge_function(BLOCKS, BLOCKS / DUPS);
    assert!(text.len() > 3 << 20, "{} bytes", text.len());
    let lines = text.lines().count();
    let file = temp_file("huge-function.cir", &text);
    let err = assert_fails(
        &capjit([OsStr::new("verify"), file.path().as_os_str()]),
        EXIT_ERROR,
        &[
            "type mismatch in entry parameter v0: expected i64, found i32",
            "v1 is defined more than once",
            "huge-function.cir:2:3",
            "2 │   export func main(i64) -> i64 {",
            &format!("ends at line {}, column 3", lines - 1),
            &format!("verification failed with {DUPS} error(s)"),
        ],
    );
    // The first line is underlined; no line of the body is shown.
    let caret = err
        .lines()
        .find(|l| l.contains("^^^"))
        .unwrap_or_else(|| panic!("no caret:\n{err}"));
    assert_eq!(
        caret.matches('^').count(),
        "export func main(i64) -> i64 {".len(),
        "{err}"
    );
    assert!(!err.contains("iadd") && !err.contains("jump"), "{err}");
    assert!(err.len() < DUPS * 500, "stderr of {} bytes:\n{err}", err.len());
}

// ---------------------------------------------------------------------------------------
// Syntax errors
// ---------------------------------------------------------------------------------------

#[test]
fn parse_error_shows_line_col_and_caret() {
    let src = "domain d {\n  memory 1\n  func f() {\n  block0:\n    v0 = iadd.i32 v1 v2\n    trap\n  }\n}\n";
    let file = temp_file("syntax.cir", src);
    let err = assert_fails(
        &capjit([OsStr::new("run"), file.path().as_os_str()]),
        EXIT_ERROR,
        &["expected `,`, found `v2`", "syntax.cir:5:22"],
    );
    // The offending line, and a caret under the offending token.
    let lines: Vec<&str> = err.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.ends_with("v0 = iadd.i32 v1 v2"))
        .unwrap_or_else(|| panic!("source line not shown:\n{err}"));
    let caret = lines.get(at + 1).copied().unwrap_or("");
    let source_col = lines[at].find("v2").unwrap();
    assert_eq!(caret.find('^'), Some(source_col), "caret not under `v2`:\n{err}");
}

#[test]
fn parse_errors_at_awkward_places() {
    let cases: [(&str, &[u8], &[&str]); 6] = [
        ("eof.cir", b"domain d {", &["found end of input", "eof.cir:1:11", "^"]),
        (
            "unicode.cir",
            "domain dé {}".as_bytes(),
            &["unexpected character 'é'", "unicode.cir:1:9", "^"],
        ),
        // The span of this bad escape ends after the two-byte `é`, not inside it.
        (
            "escape.cir",
            "domain d { data 0 \"\\é\" }".as_bytes(),
            &["bad escape", "escape.cir:1:20", "^^"],
        ),
        (
            "string.cir",
            b"domain d {\n  data 0 \"abc\n}\n",
            &["unterminated string", "string.cir:2:10"],
        ),
        (
            "crlf.cir",
            b"domain d {\r\n  memory x\r\n}\r\n",
            &["crlf.cir:2:10", "^"],
        ),
        ("nul.cir", b"\0", &["unexpected character", "nul.cir:1:1"]),
    ];
    for (name, src, parts) in cases {
        let file = temp_file(name, src);
        assert_fails(&capjit([OsStr::new("fmt"), file.path().as_os_str()]), EXIT_ERROR, parts);
    }
}

// ---------------------------------------------------------------------------------------
// Bad arguments
// ---------------------------------------------------------------------------------------

#[test]
fn wrong_arguments() {
    let prog = temp_file("args.cir", PROGRAM);
    let p = prog.path().to_str().unwrap();
    // Usage errors (clap) exit with 2.
    let usage_errors: [&[&str]; 5] = [
        &["run", "--bogus", p],
        &["frobnicate", p],
        &[],
        &["run"],
        &["encode", p],
    ];
    for args in usage_errors {
        let out = capjit(args);
        assert_fails(&out, EXIT_USAGE, &[]);
    }
    // Arguments that do not fit the function exit with 1.
    let cases: [(&[&str], &[&str]); 7] = [
        (&[], &["takes 1 argument(s)", "given 0"]),
        (&["1", "2"], &["takes 1 argument(s)", "given 2"]),
        (&["seven"], &["argument `seven` is not a valid i32"]),
        (&["1.5"], &["not a valid i32"]),
        (&["4294967296"], &["not a valid i32"]),
        (&[""], &["not a valid i32"]),
        // After the file everything is the program's, `--` too.
        (&["--", "7"], &["given 2"]),
    ];
    for (args, parts) in cases {
        let mut all = vec!["run", p];
        all.extend_from_slice(args);
        let out = capjit(&all);
        assert_fails(&out, EXIT_ERROR, parts);
    }
    // `--` before the file ends capjit's options.
    assert_eq!(assert_ok(&capjit(["run", "--", p, "7"])), "7\n12\n-0.0\n");
    // An option after the file went to the program: the error says so.
    let out = capjit(["run", p, "7", "--fuel", "5"]);
    let err = assert_fails(&out, EXIT_ERROR, &["given 3"]);
    assert!(err.contains("help: `--fuel` comes after the program file"), "{err}");
    let out = capjit(["run", "--invoke", "nowhere", p, "1"]);
    assert_fails(&out, EXIT_ERROR, &["`nowhere`"]);
    let out = capjit(["run", "--invoke", "counter.bump", p, "x"]);
    assert_fails(&out, EXIT_ERROR, &["not a valid i64"]);
}
