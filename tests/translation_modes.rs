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

#[test]
fn several_threads_translate_to_the_same_code_as_one() {
    let mut checked = 0;
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/programs")).unwrap() {
        let path = entry.unwrap().path();
        let Ok(m) = parse_module(&std::fs::read_to_string(&path).unwrap()) else {
            continue;
        };
        let Ok(verified) = capjit::verifier::verify(&m) else {
            continue;
        };
        let on = |threads: usize| {
            let config = Config {
                threads,
                ..Config::default()
            };
            counts(&translate(&verified, &config).unwrap().stats)
        };
        let one = on(1);
        assert_eq!(on(3), one, "{}", path.display());
        checked += usize::from(one.0 > 1);
    }
    assert!(checked > 20, "only {checked} programs with several functions");
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
