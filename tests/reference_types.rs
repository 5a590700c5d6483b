//! Reference values at the host boundary and under resource pressure, on both
//! executors: the host cannot forge a funcref, hands in and gets back externref
//! handles unchanged, and `table.grow` is bounded by the limits and the
//! instance's budget (a refusal is -1, never an abort).

use capjit::ir::exec::{Limits, RunError};
use capjit::ir::{parse_module, Module, Val};
use capjit::{Backend, Config, Instance};

const SRC: &str = "
domain app {
  table [] max 4
  table externref 1 max 100000
  func seven() -> i32 {
  block0:
    v0 = iconst.i32 7
    return v0
  }
  ; Calls the function the host handed in (through table 0).
  export func call(funcref) -> i32 {
  block0(v0: funcref):
    v1 = iconst.i32 1
    v2 = table.grow 0, v0, v1
    v3 = call_indirect v2() : () -> i32
    return v3
  }
  export func seven_ref() -> funcref {
  block0:
    v0 = ref.func seven
    return v0
  }
  ; Keeps a handle in table 1 and gives back what was there.
  export func swap(externref) -> externref {
  block0(v0: externref):
    v1 = iconst.i32 0
    v2 = table.get 1, v1
    table.set 1, v1, v0
    return v2
  }
  export func grow(i32) -> (i32, i32) {
  block0(v0: i32):
    v1 = ref.null externref
    v2 = table.grow 1, v1, v0
    v3 = table.size 1
    return v2, v3
  }
}";

fn module() -> Module {
    parse_module(SRC).unwrap_or_else(|e| panic!("{e}"))
}

fn instance(backend: Backend, limits: Limits) -> Instance {
    let config = Config {
        backend,
        limits,
        ..Config::default()
    };
    Instance::new(&module(), &config, Box::new(std::io::sink())).unwrap_or_else(|e| panic!("{backend:?}: {e}"))
}

const BACKENDS: [Backend; 2] = [Backend::Jit, Backend::Interpreter];

#[test]
fn the_host_cannot_forge_a_funcref() {
    for backend in BACKENDS {
        let mut inst = instance(backend, Limits::default());
        // Function #1 exists (`call`), #5 does not: refused before any code runs.
        match inst.invoke("app", "call", &[Val::FuncRef(Some(5))]) {
            Err(RunError::BadInvoke(why)) => assert!(why.contains("funcref"), "{backend:?}: {why}"),
            other => panic!("{backend:?}: a forged funcref was accepted: {other:?}"),
        }
        // A funcref the domain gave out works when handed back.
        let seven = inst.invoke("app", "seven_ref", &[]).unwrap();
        assert!(matches!(seven[..], [Val::FuncRef(Some(_))]), "{backend:?}: {seven:?}");
        assert_eq!(
            inst.invoke("app", "call", &seven).unwrap(),
            [Val::I32(7)],
            "{backend:?}"
        );
        // Null: the call through the null entry traps, and only the domain faults.
        let r = inst.invoke("app", "call", &[Val::FuncRef(None)]);
        assert!(matches!(r, Err(RunError::Trap(_))), "{backend:?}: {r:?}");
    }
}

#[test]
fn externref_handles_come_back_unchanged() {
    for backend in BACKENDS {
        let mut inst = instance(backend, Limits::default());
        let swap = |inst: &mut Instance, v: Val| inst.invoke("app", "swap", &[v]).unwrap();
        assert_eq!(swap(&mut inst, Val::ExternRef(Some(u32::MAX))), [Val::ExternRef(None)]);
        assert_eq!(
            swap(&mut inst, Val::ExternRef(Some(0))),
            [Val::ExternRef(Some(u32::MAX))]
        );
        assert_eq!(swap(&mut inst, Val::ExternRef(None)), [Val::ExternRef(Some(0))]);
        // A number is not a handle.
        let r = inst.invoke("app", "swap", &[Val::I64(0)]);
        assert!(matches!(r, Err(RunError::BadInvoke(_))), "{backend:?}: {r:?}");
    }
}

#[test]
fn table_growth_is_bounded_by_the_limits_and_the_budget() {
    for backend in BACKENDS {
        // The table's own maximum (100000) is above the limit: the limit rules.
        let limits = Limits {
            max_table_entries: 1000,
            ..Limits::default()
        };
        let mut inst = instance(backend, limits);
        let grow = |inst: &mut Instance, n: i32| inst.invoke("app", "grow", &[Val::I32(n)]).unwrap();
        assert_eq!(grow(&mut inst, 999), [Val::I32(1), Val::I32(1000)], "{backend:?}");
        assert_eq!(grow(&mut inst, 1), [Val::I32(-1), Val::I32(1000)], "{backend:?}");
        assert_eq!(grow(&mut inst, -1), [Val::I32(-1), Val::I32(1000)], "{backend:?}");
        // An instance budget of 2,400 bytes holds 100 new entries of 24 bytes.
        let limits = Limits {
            max_instance_bytes: 2400,
            ..Limits::default()
        };
        let mut inst = instance(backend, limits);
        assert_eq!(grow(&mut inst, 101), [Val::I32(-1), Val::I32(1)], "{backend:?}");
        assert_eq!(grow(&mut inst, 100), [Val::I32(1), Val::I32(101)], "{backend:?}");
        assert_eq!(grow(&mut inst, 1), [Val::I32(-1), Val::I32(101)], "{backend:?}");
        // A restart gives the entries back to the budget.
        inst.restart("app").unwrap();
        assert_eq!(grow(&mut inst, 100), [Val::I32(1), Val::I32(101)], "{backend:?}");
    }
}
