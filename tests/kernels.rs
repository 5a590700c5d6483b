//! The benchmark kernels of `benches/kernels/` as tests: every `.cir` kernel runs
//! with small arguments through the JIT and the interpreter, and must return what
//! its native Rust reference (`benches/kernels/native.rs`) computes. The expected
//! numbers never come from capjit: the header's `; expect:` is itself checked
//! against the native reference, and the references are checked against
//! independent algorithms (a CRC check value, `sort_unstable`, trial division,
//! another loop order).

mod support;

#[path = "../benches/kernels/native.rs"]
mod native;

use std::path::PathBuf;

use capjit::ir::{parse_module, Module, Val};
use capjit::{Backend, Config, Instance};
use support::{Entry, Expected};

/// Small arguments per kernel, run in this order on one instance (so each run also
/// starts from the memory the previous one left, grown and dirty).
const ARGS: [(&str, &[i64]); 5] = [
    ("fib", &[0, 1, 2, 3, 10, 22, 20]),
    ("sieve", &[0, 1, 2, 3, 4, 100, 65_543, 70_001, 1000, 5]),
    ("matmul", &[0, 1, 2, 7, 33, 16, 3]),
    ("crc32", &[0, 1, 9, 1000, 66_000, 64_512, 2]),
    ("quicksort", &[0, 1, 2, 3, 10, 5000, 1000, 7]),
];

struct Kernel {
    name: String,
    module: Module,
    entry: Entry,
    expected: Vec<Val>,
}

fn kernel_files() -> Vec<PathBuf> {
    support::cir_files(&support::repo_dir("benches/kernels"))
}

fn load(path: &PathBuf) -> Kernel {
    let name = path.file_stem().unwrap().to_string_lossy().into_owned();
    let src = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{name}: {e}"));
    let header = support::parse_header(&src).unwrap_or_else(|e| panic!("{name}: {e}"));
    let module = parse_module(&src).unwrap_or_else(|e| panic!("{name}: {e}"));
    let entry = support::resolve_entry(&module, &header).unwrap_or_else(|e| panic!("{name}: {e}"));
    let Expected::Values(expected) = header.expected else {
        panic!("{name}: a kernel must `; expect:` a result, not a trap");
    };
    Kernel {
        name,
        module,
        entry,
        expected,
    }
}

fn kernels() -> Vec<Kernel> {
    let ks: Vec<Kernel> = kernel_files().iter().map(load).collect();
    assert!(ks.len() >= 5, "expected at least 5 kernels, found {}", ks.len());
    ks
}

/// The single integer argument of a kernel's entry, typed like its parameter.
fn arg(k: &Kernel, n: i64) -> Val {
    match k.entry.args.as_slice() {
        [Val::I32(_)] => Val::I32(i32::try_from(n).expect("argument fits i32")),
        [Val::I64(_)] => Val::I64(n),
        other => panic!("{}: expected one integer argument, the header gives {other:?}", k.name),
    }
}

fn as_i64(v: &Val) -> i64 {
    match *v {
        Val::I32(x) => x as i64,
        Val::I64(x) => x,
        other => panic!("not an integer argument: {other:?}"),
    }
}

fn instance(k: &Kernel, backend: Backend) -> Instance {
    let config = Config {
        backend,
        ..Config::default()
    };
    Instance::new(&k.module, &config, Box::new(std::io::sink()))
        .unwrap_or_else(|e| panic!("{} ({backend:?}): {e}", k.name))
}

#[test]
fn every_kernel_has_a_native_reference_and_arguments() {
    let mut names: Vec<String> = kernels().into_iter().map(|k| k.name).collect();
    names.sort();
    let mut native: Vec<String> = native::KERNELS.iter().map(|(n, _)| n.to_string()).collect();
    native.sort();
    assert_eq!(names, native, "kernel files and native references differ");
    for name in &names {
        assert!(ARGS.iter().any(|(n, _)| n == name), "no test arguments for {name}");
    }
}

#[test]
fn headers_agree_with_the_native_references() {
    for k in kernels() {
        let [n] = k.entry.args.as_slice() else {
            panic!("{}: one argument expected", k.name);
        };
        let f = native::by_name(&k.name).unwrap_or_else(|| panic!("{}: no native reference", k.name));
        assert_eq!(
            k.expected,
            vec![Val::I64(f(as_i64(n)))],
            "{}: the header's `; expect:` is not what the native reference computes",
            k.name
        );
    }
}

fn run_everywhere(backend: Backend) {
    let mut failures = Vec::new();
    for k in kernels() {
        let f = native::by_name(&k.name).unwrap();
        let (_, args) = ARGS.iter().find(|(n, _)| *n == k.name).unwrap();
        let mut inst = instance(&k, backend);
        for &n in args.iter() {
            let want = vec![Val::I64(f(n))];
            match inst.invoke(&k.entry.domain, &k.entry.func, &[arg(&k, n)]) {
                Ok(got) if got == want => {}
                other => failures.push(format!("{}({n}): expected {want:?}, got {other:?}", k.name)),
            }
        }
        // The header's own call, on a fresh instance.
        let got = instance(&k, backend).invoke(&k.entry.domain, &k.entry.func, &k.entry.args);
        if got.as_ref().ok() != Some(&k.expected) {
            failures.push(format!("{} (header): expected {:?}, got {got:?}", k.name, k.expected));
        }
    }
    assert!(failures.is_empty(), "{backend:?}:\n{}", failures.join("\n"));
}

#[test]
fn kernels_match_native_in_the_jit() {
    run_everywhere(Backend::Jit);
}

#[test]
fn kernels_match_native_in_the_interpreter() {
    run_everywhere(Backend::Interpreter);
}

// ---- the native references against independent computations -------------------

#[test]
fn native_fib_known_values() {
    let known = [0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55];
    for (n, want) in known.iter().enumerate() {
        assert_eq!(native::fib::run(n as i64), *want);
    }
    assert_eq!(native::fib::run(30), 832_040);
}

#[test]
fn native_sieve_counts_like_trial_division() {
    let is_prime = |p: u64| p >= 2 && (2..).take_while(|d| d * d <= p).all(|d| !p.is_multiple_of(d));
    for n in [0u64, 1, 2, 3, 4, 5, 100, 1000, 7919, 7920, 65_543] {
        let want = (0..n).filter(|&p| is_prime(p)).count() as i64;
        assert_eq!(native::sieve::run(n as i64), want, "primes below {n}");
    }
}

#[test]
fn native_matmul_matches_another_loop_order() {
    use native::matmul::*;
    for n in [0usize, 1, 2, 7, 16, 33] {
        let a: Vec<f64> = (0..(n * n) as i64).map(a_entry).collect();
        let b: Vec<f64> = (0..(n * n) as i64).map(b_entry).collect();
        // i-k-j order over integers: exact, so it must agree to the bit.
        let mut c = vec![0i64; n * n];
        for i in 0..n {
            for k in 0..n {
                let x = a[i * n + k] as i64;
                for j in 0..n {
                    c[i * n + j] += x * b[k * n + j] as i64;
                }
            }
        }
        let want = c.iter().fold(0i64, |h, &x| h.wrapping_mul(31).wrapping_add(x));
        assert_eq!(native::matmul::run(n as i64), want, "n = {n}");
        assert_eq!(checksum(&multiply(&a, &b, n)), want, "n = {n}");
    }
}

#[test]
fn native_crc32_check_value_and_table() {
    let t = native::crc32::table();
    // The standard check value of CRC-32/ISO-HDLC.
    assert_eq!(native::crc32::crc(&t, b"123456789"), 0xCBF4_3926);
    assert_eq!(native::crc32::crc(&t, b""), 0);
    assert_eq!(t[1], 0x7707_3096);
    assert_eq!(t[255], 0x2D02_EF8D);
}

#[test]
fn native_quicksort_sorts() {
    use native::quicksort::*;
    for n in [0usize, 1, 2, 3, 10, 1000, 5000] {
        let mut a = input(n);
        let mut want = a.clone();
        want.sort_unstable();
        sort(&mut a, 0, n as i32 - 1);
        assert_eq!(a, want, "n = {n}");
        assert_eq!(native::quicksort::run(n as i64), checksum(&want), "n = {n}");
    }
    // Many equal keys.
    let mut a: Vec<i64> = (0..500).map(|i| i % 3).collect();
    let mut want = a.clone();
    want.sort_unstable();
    sort(&mut a, 0, 499);
    assert_eq!(a, want);
}
