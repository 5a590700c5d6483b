//! Real C and C++ programs (Lua, zlib's minigzip, bzip2, SQLite, jsoncpp's
//! test runner) built for wasm32-wasi with Debian's clang-19 at default flags,
//! run through the `capjit` command line on the workloads of
//! `realworld/workloads.tsv`. Each must print exactly what the same sources
//! built natively printed (`realworld/expected/`, captured by
//! `realworld/expected.sh`), write the same files and exit with the same
//! status, on the JIT and, where the manifest says so, on the interpreter.
//! `realworld/README.md` says where every program comes from.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn realworld(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("realworld").join(path)
}

/// One line of `realworld/workloads.tsv` (its header says what each field is).
#[derive(Debug)]
struct Workload {
    name: String,
    program: String,
    interp: bool,
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
            assert_eq!(fields.len(), 8, "workloads.tsv: 8 tab-separated fields: {line:?}");
            Workload {
                name: fields[0].to_owned(),
                program: fields[1].to_owned(),
                interp: match fields[2] {
                    "yes" => true,
                    "no" => false,
                    other => panic!("workloads.tsv: interp is yes or no, not {other:?}"),
                },
                code: fields[3].parse().expect("workloads.tsv: exit code"),
                stdin: (fields[4] != "-").then(|| fields[4].to_owned()),
                files: list(fields[5]),
                outfiles: list(fields[6]),
                args: fields[7].split(' ').filter(|a| !a.is_empty()).map(str::to_owned).collect(),
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
    let at = actual.iter().zip(expected).position(|(a, e)| a != e).unwrap_or(actual.len().min(expected.len()));
    let show = |bytes: &[u8]| String::from_utf8_lossy(&bytes[at.saturating_sub(40)..(at + 80).min(bytes.len())]).into_owned();
    format!(
        "{} bytes, expected {}; first difference at byte {at}:\n  got:      {:?}\n  expected: {:?}",
        actual.len(),
        expected.len(),
        show(actual),
        show(expected)
    )
}

/// Run `name` from the manifest through `capjit run` on the JIT and, if the
/// manifest says so, on the interpreter; compare with the native run.
fn run_workload(name: &str) {
    let all = workloads();
    let w = all.iter().find(|w| w.name == name).unwrap_or_else(|| panic!("{name} is not in realworld/workloads.tsv"));
    let mut backends = vec![false];
    if w.interp {
        backends.push(true);
    }
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
            assert!(written == expected, "{what}: {file}: {}", first_difference(&written, &expected));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

macro_rules! workload_tests {
    ($($test:ident => $name:literal,)*) => {
        $(
            #[test]
            fn $test() {
                run_workload($name);
            }
        )*
        const TESTED: &[&str] = &[$($name),*];
    };
}

workload_tests! {
    lua_benchmarks => "lua-all",
    lua_script_on_stdin => "lua-stdin-fib",
    minigzip_compresses => "minigzip-compress",
    minigzip_decompresses => "minigzip-decompress",
    bzip2_compresses_sample1_like_upstream => "bzip2-compress-1",
    bzip2_decompresses_sample2_like_upstream => "bzip2-decompress-2",
    bzip2_compresses_sample3_like_upstream => "bzip2-compress-3",
    bzip2_decompresses_sample3_small_memory => "bzip2-decompress-3s",
    sqlite_fills_indexes_and_queries_a_database => "sqlite-2000",
    jsoncpp_parses_and_rewrites => "jsoncpp-complex",
    jsoncpp_parses_a_large_document => "jsoncpp-legacy-large",
    jsoncpp_reports_a_syntax_error => "jsoncpp-fail",
}

#[test]
fn every_workload_has_a_test_and_its_expected_output() {
    let names: Vec<String> = workloads().into_iter().map(|w| w.name).collect();
    assert_eq!(names, TESTED, "realworld/workloads.tsv and the tests here list the same workloads");
    for w in workloads() {
        assert!(realworld(&format!("wasm/{}.wasm", w.program)).is_file(), "{}: wasm/{}.wasm", w.name, w.program);
        assert!(realworld(&format!("expected/{}.out", w.name)).is_file(), "{}: expected output", w.name);
    }
}
