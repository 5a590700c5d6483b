//! How functions get translated does not change what is translated: on several
//! threads the code is the same as on one, and lazily a function is translated
//! at its first call together with what it calls directly, and nothing else is. That results do
//! not change either is checked by the differential tests (lazy and eager) and by
//! the program corpus on both.

use capjit::ir::parse_module;
use capjit::ir::Val;
use capjit::translator::{translate, Config, Stats};
use capjit::Instance;

/// Counts of a translation that do not depend on timing.
fn counts(s: &Stats) -> (usize, usize, usize, usize) {
    (s.functions, s.ir_instructions, s.clif_instructions, s.code_bytes)
}

/// A chain of `n` functions, each calling the one before it directly and the
/// first through the table: `f{i}(x) = f{i-1}(x * i + 1)`, `f0(x) = x`.
fn chain(n: usize) -> String {
    let mut src =
        String::from("domain app {\n  table [f0]\n  func f0(i64) -> i64 {\n  block0(v0: i64):\n    return v0\n  }\n");
    for i in 1..n {
        let call = if i % 5 == 0 {
            "v4 = iconst.i32 0\n    v5 = call_indirect v4(v3) : (i64) -> i64\n    v6 = iadd.i64 v5, v2".to_string()
        } else {
            "v6 = iadd.i64 v3, v2".to_string()
        };
        src += &format!(
            "  {}func f{i}(i64) -> i64 {{\n  block0(v0: i64):\n    v1 = iconst.i64 {i}\n    v2 = imul.i64 v0, v1\n    v3 = call f{}(v2)\n    {call}\n    return v6\n  }}\n",
            if i == n - 1 { "export " } else { "" },
            i - 1
        );
    }
    src + "}\n"
}

#[test]
fn several_threads_translate_to_the_same_code_as_one() {
    let m = parse_module(&chain(60)).unwrap();
    let verified = capjit::verifier::verify(&m).unwrap();
    let on = |threads: usize| {
        let config = Config {
            threads,
            ..Config::default()
        };
        counts(&translate(&verified, &config).unwrap().stats)
    };
    let one = on(1);
    assert_eq!(one.0, 60);
    assert_eq!(on(3), one);
    assert_eq!(on(8), one);
}

#[test]
fn code_translated_in_parallel_runs_like_the_interpreter() {
    let m = parse_module(&chain(60)).unwrap();
    let run = |backend, lazy| {
        let config = capjit::Config {
            backend,
            translator: Config {
                lazy,
                threads: 3,
                ..Config::default()
            },
            ..capjit::Config::default()
        };
        let mut inst = Instance::new(&m, &config, Box::new(std::io::sink())).unwrap();
        inst.invoke("app", "f59", &[Val::I64(7)]).unwrap()
    };
    let want = run(capjit::Backend::Interpreter, false);
    assert_eq!(run(capjit::Backend::Jit, false), want);
    assert_eq!(run(capjit::Backend::Jit, true), want);
}

/// `main` calls `twice`, which calls `once`, then `by_table` through the table;
/// `spare` is in the table too but never called.
const CHAIN: &str = r#"
domain app {
  table [spare, by_table]
  func once(i64) -> i64 {
  block0(v0: i64):
    v1 = iconst.i64 1
    v2 = iadd.i64 v0, v1
    return v2
  }
  func twice(i64) -> i64 {
  block0(v0: i64):
    v1 = call once(v0)
    v2 = call once(v1)
    return v2
  }
  func spare(i64) -> i64 {
  block0(v0: i64):
    return v0
  }
  func by_table(i64) -> i64 {
  block0(v0: i64):
    v1 = iconst.i64 10
    v2 = imul.i64 v0, v1
    return v2
  }
  export func main(i64) -> i64 {
  block0(v0: i64):
    v1 = call twice(v0)
    v2 = iconst.i32 1
    v3 = call_indirect v2(v1) : (i64) -> i64
    return v3
  }
}
"#;

#[test]
fn lazily_a_function_is_translated_with_its_direct_callees_at_its_first_call() {
    let m = parse_module(CHAIN).unwrap();
    let translated = |inst: &Instance| inst.translation_stats().expect("the JIT").functions;
    let mut inst = Instance::new(&m, &capjit::Config::default(), Box::new(std::io::sink())).unwrap();
    assert_eq!(translated(&inst), 3, "the export and what it calls directly");
    assert_eq!(inst.invoke("app", "main", &[Val::I64(4)]).unwrap(), [Val::I64(60)]);
    assert_eq!(translated(&inst), 4, "and the function called through the table");
    inst.invoke("app", "main", &[Val::I64(0)]).unwrap();
    assert_eq!(translated(&inst), 4, "each function once; `spare` never");

    let eager = capjit::Config {
        translator: Config {
            lazy: false,
            ..Config::default()
        },
        ..capjit::Config::default()
    };
    let inst = Instance::new(&m, &eager, Box::new(std::io::sink())).unwrap();
    assert_eq!(translated(&inst), 5, "everything up front");
}
