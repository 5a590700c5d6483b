//! Fuel on both executors: counted to the unit, it runs out at the same place
//! with the same fuel left; `Limits::UNLIMITED_FUEL` is not counted at all (the
//! JIT emits no fuel code, and neither executor spends any), which is what
//! `capjit run` uses unless `--fuel` is given.

use capjit::ir::exec::{Limits, RunError};
use capjit::ir::{parse_module, Val};
use capjit::translator::{translate, Config as TranslatorConfig};
use capjit::{Backend, Config, Instance};

/// `main(n)`: a loop of `n` rounds calling `step` each round (two units a round:
/// the back edge and `step`'s entry).
const LOOP: &str = r#"
domain app {
  func step(i64) -> i64 {
  block0(v0: i64):
    v1 = iconst.i64 1
    v2 = iadd.i64 v0, v1
    return v2
  }
  export func main(i64) -> i64 {
  block0(v0: i64):
    v1 = iconst.i64 0
    jump block1(v1)
  block1(v2: i64):
    v3 = icmp.ult.i64 v2, v0
    brif v3, block2, block3
  block2:
    v4 = call step(v2)
    jump block1(v4)
  block3:
    return v2
  }
}
"#;

fn run(backend: Backend, fuel: u64, n: i64) -> (Result<Vec<Val>, String>, Option<u64>) {
    let module = parse_module(LOOP).unwrap();
    let config = Config {
        backend,
        limits: Limits {
            fuel,
            ..Limits::default()
        },
        ..Config::default()
    };
    let mut instance = Instance::new(&module, &config, Box::new(std::io::sink())).unwrap();
    let result = instance.invoke("app", "main", &[Val::I64(n)]).map_err(|e| match e {
        RunError::Trap(t) => t.to_string(),
        other => other.to_string(),
    });
    (result, instance.fuel("app"))
}

#[test]
fn counted_fuel_runs_out_at_the_same_place_on_both_backends() {
    for fuel in [0, 1, 2, 3, 50, 201, 202, 203, 10_000] {
        let jit = run(Backend::Jit, fuel, 100);
        let interp = run(Backend::Interpreter, fuel, 100);
        assert_eq!(jit, interp, "fuel {fuel}");
    }
    // main's entry, 100 rounds of two units, and the last test of the loop.
    let (result, left) = run(Backend::Jit, 10_000, 100);
    assert_eq!(result, Ok(vec![Val::I64(100)]));
    assert_eq!(left, Some(10_000 - 1 - 200));
    let (result, _) = run(Backend::Jit, 200, 100);
    assert!(result.unwrap_err().starts_with("trap fuel_exhausted"));
}

#[test]
fn unlimited_fuel_is_not_counted() {
    for backend in [Backend::Jit, Backend::Interpreter] {
        let (result, left) = run(backend, Limits::UNLIMITED_FUEL, 1_000_000);
        assert_eq!(result, Ok(vec![Val::I64(1_000_000)]), "{backend:?}");
        assert_eq!(left, Some(Limits::UNLIMITED_FUEL), "{backend:?}: nothing spent");
    }
}

#[test]
fn without_fuel_the_code_is_smaller() {
    let verified = capjit::verifier::verify(&parse_module(LOOP).unwrap()).unwrap();
    let clif = |fuel: bool| {
        let config = TranslatorConfig {
            fuel,
            ..TranslatorConfig::default()
        };
        translate(&verified, &config).unwrap().stats.clif_instructions
    };
    let (with, without) = (clif(true), clif(false));
    // Each fuel check is a load, a compare, a branch, a subtract and a store.
    assert!(
        without + 10 <= with,
        "{without} CLIF instructions without fuel, {with} with"
    );
}
