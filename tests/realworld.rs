//! Real C and C++ programs (Lua, zlib's minigzip and example test, bzip2,
//! SQLite, jsoncpp's test runner) built for wasm32-wasi with Debian's clang-19
//! at default flags, run through the `capjit` command line on the workloads of
//! `realworld/workloads.tsv`. Each must print exactly what the same sources
//! built natively printed (`realworld/expected/`, captured by
//! `realworld/expected.sh`), write the same files and exit with the same
//! status, on the JIT and on the interpreter where the manifest says so: some
//! runs only in `cargo test --release --test realworld`, since a debug build
//! of capjit takes a minute to compile SQLite (Cranelift unoptimized) and its
//! interpreter is slow. `realworld/README.md` says where every program comes
//! from.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn realworld(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("realworld").join(path)
}

/// Whether a workload runs on a backend: always, only when the tests (and so
/// the capjit binary) are built with optimizations, or never.
#[derive(Debug, Clone, Copy, PartialEq)]
enum When {
    Yes,
    Release,
    No,
}

impl When {
    fn parse(field: &str) -> When {
        match field {
            "yes" => When::Yes,
            "release" => When::Release,
            "no" => When::No,
            other => panic!("workloads.tsv: jit and interp are yes, release or no, not {other:?}"),
        }
    }

    fn now(self) -> bool {
        match self {
            When::Yes => true,
            When::Release => !cfg!(debug_assertions),
            When::No => false,
        }
    }
}

/// One line of `realworld/workloads.tsv` (its header says what each field is).
#[derive(Debug)]
struct Workload {
    name: String,
    program: String,
    jit: When,
    interp: When,
    code: i32,
    stdin: Option<String>,
    files: Vec<String>,
    outfiles: Vec<String>,
    args: Vec<String>,
}

fn list(field: &str) -> Vec<String> {
    if field == "-" {
        Vec::new()
    } else {
        field.split(',').map(str::to_owned).collect()
    }
}

fn workloads() -> Vec<Workload> {
    let manifest = std::fs::read_to_string(realworld("workloads.tsv")).expect("realworld/workloads.tsv");
    manifest
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            assert_eq!(fields.len(), 9, "workloads.tsv: 9 tab-separated fields: {line:?}");
            Workload {
                name: fields[0].to_owned(),
                program: fields[1].to_owned(),
                jit: When::parse(fields[2]),
                interp: When::parse(fields[3]),
                code: fields[4].parse().expect("workloads.tsv: exit code"),
                stdin: (fields[5] != "-").then(|| fields[5].to_owned()),
                files: list(fields[6]),
                outfiles: list(fields[7]),
                args: fields[8]
                    .split(' ')
                    .filter(|a| !a.is_empty())
                    .map(str::to_owned)
                    .collect(),
            }
        })
        .collect()
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("realworld").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Where two outputs first differ, for a failure message that fits a screen.
fn first_difference(actual: &[u8], expected: &[u8]) -> String {
    let at = actual
        .iter()
        .zip(expected)
        .position(|(a, e)| a != e)
        .unwrap_or(actual.len().min(expected.len()));
    let show =
        |bytes: &[u8]| String::from_utf8_lossy(&bytes[at.saturating_sub(40)..(at + 80).min(bytes.len())]).into_owned();
    format!(
        "{} bytes, expected {}; first difference at byte {at}:\n  got:      {:?}\n  expected: {:?}",
        actual.len(),
        expected.len(),
        show(actual),
        show(expected)
    )
}

/// Run `name` from the manifest through `capjit run` on the JIT and on the
/// interpreter, each if the manifest says so for this build; compare with the
/// native run.
fn run_workload(name: &str) {
    let all = workloads();
    let w = all
        .iter()
        .find(|w| w.name == name)
        .unwrap_or_else(|| panic!("{name} is not in realworld/workloads.tsv"));
    let backends: Vec<bool> = [(false, w.jit), (true, w.interp)]
        .into_iter()
        .filter(|(_, when)| when.now())
        .map(|(interp, _)| interp)
        .collect();
    assert!(!backends.is_empty(), "{name}: runs on no backend in this build");
    for interp in backends {
        let backend = if interp { "interpreter" } else { "JIT" };
        let dir = scratch(&format!("{name}-{}", if interp { "interp" } else { "jit" }));
        for file in &w.files {
            let from = realworld(&format!("inputs/{file}"));
            let base = Path::new(file).file_name().unwrap();
            std::fs::copy(&from, dir.join(base)).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
        }
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_capjit"));
        cmd.arg("run");
        if interp {
            cmd.arg("--interp");
        }
        cmd.arg("--dir").arg(format!("{}::.", dir.display()));
        cmd.arg(realworld(&format!("wasm/{}.wasm", w.program)));
        cmd.args(&w.args);
        cmd.stdin(match &w.stdin {
            Some(file) => Stdio::from(std::fs::File::open(realworld(&format!("inputs/{file}"))).unwrap()),
            None => Stdio::null(),
        });
        let out = cmd.output().expect("the capjit binary runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let what = format!("{backend}: {name}: capjit {:?}", cmd.get_args().collect::<Vec<_>>());
        assert_eq!(out.status.code(), Some(w.code), "{what}\nstderr: {stderr}");
        let expected = read(&realworld(&format!("expected/{name}.out")));
        assert!(
            out.stdout == expected,
            "{what}: standard output: {}\nstderr: {stderr}",
            first_difference(&out.stdout, &expected)
        );
        for file in &w.outfiles {
            let written = read(&dir.join(file));
            let expected = read(&realworld(&format!("expected/{name}.{file}")));
            assert!(
                written == expected,
                "{what}: {file}: {}",
                first_difference(&written, &expected)
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

macro_rules! workload_tests {
    (
        always { $($test:ident => $name:literal,)* }
        release_only { $($rtest:ident => $rname:literal,)* }
    ) => {
        $(
            #[test]
            fn $test() {
                run_workload($name);
            }
        )*
        $(
            #[test]
            #[cfg_attr(debug_assertions, ignore = "runs only in a release build: cargo test --release --test realworld")]
            fn $rtest() {
                run_workload($rname);
            }
        )*
        const TESTED: &[&str] = &[$($name,)* $($rname,)*];
        const RELEASE_ONLY: &[&str] = &[$($rname),*];
    };
}

workload_tests! {
    always {
        lua_benchmarks => "lua-all",
        lua_script_on_stdin => "lua-stdin-fib",
        lua_uncaught_error_exits_with_status_1 => "lua-error",
        lua_writes_reads_renames_and_removes_files => "lua-files",
        minigzip_compresses => "minigzip-compress",
        minigzip_decompresses => "minigzip-decompress",
        zlib_passes_its_own_example_test => "zlib-example",
        bzip2_compresses_sample3_like_upstream => "bzip2-compress-3",
        bzip2_decompresses_sample3_small_memory => "bzip2-decompress-3s",
        sqlite_fills_indexes_and_queries_a_small_database => "sqlite-200",
        jsoncpp_parses_and_rewrites => "jsoncpp-complex",
        jsoncpp_reports_a_syntax_error => "jsoncpp-fail",
    }
    release_only {
        bzip2_compresses_sample1_like_upstream => "bzip2-compress-1",
        bzip2_decompresses_sample2_like_upstream => "bzip2-decompress-2",
        sqlite_fills_indexes_and_queries_a_database => "sqlite-2000",
        jsoncpp_parses_a_large_document => "jsoncpp-legacy-large",
    }
}

#[test]
fn every_workload_has_a_test_and_its_expected_output() {
    let mut names: Vec<String> = workloads().into_iter().map(|w| w.name).collect();
    let mut tested: Vec<&str> = TESTED.to_vec();
    names.sort();
    tested.sort();
    assert_eq!(
        names, tested,
        "realworld/workloads.tsv and the tests here list the same workloads"
    );
    for w in workloads() {
        let release_only = w.jit != When::Yes && w.interp != When::Yes;
        assert_eq!(
            release_only,
            RELEASE_ONLY.contains(&w.name.as_str()),
            "{}: a test is release_only exactly when its workload runs on no backend in a debug build",
            w.name
        );
        assert!(
            realworld(&format!("wasm/{}.wasm", w.program)).is_file(),
            "{}: wasm/{}.wasm",
            w.name,
            w.program
        );
        assert!(
            realworld(&format!("expected/{}.out", w.name)).is_file(),
            "{}: expected output",
            w.name
        );
    }
}
