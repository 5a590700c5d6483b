//! Embedder-defined host functions (`Config::host_functions`) on both backends:
//! every number type through the call, the caller's own memory and nothing
//! else, each way a call can fail, a misbehaving closure (wrong results, a
//! panic) failing the call instead of the runtime, linking, and exits.

use std::sync::{Arc, Mutex};

use capjit::ir::exec::{DomainStatus, RunError};
use capjit::ir::{parse_module, HostCall, HostFailure, HostFn, Signature, TrapCode, Type, Val};
use capjit::{Backend, Config, EngineError, Instance};

const BACKENDS: [Backend; 2] = [Backend::Jit, Backend::Interpreter];

fn sig(params: &[Type], results: &[Type]) -> Signature {
    Signature {
        params: params.to_vec(),
        results: results.to_vec(),
    }
}

fn host(
    name: &str,
    s: Signature,
    f: impl Fn(&mut HostCall<'_>, &[Val]) -> Result<Vec<Val>, HostFailure> + Send + Sync + 'static,
) -> HostFn {
    HostFn::new(name, s, f).unwrap()
}

fn run(text: &str, fns: &[HostFn], domain: &str, func: &str, args: &[Val]) -> Vec<Result<Vec<Val>, RunError>> {
    let module = parse_module(text).unwrap();
    BACKENDS
        .iter()
        .map(|&backend| {
            let config = Config {
                backend,
                host_functions: fns.to_vec(),
                ..Config::default()
            };
            let mut inst = Instance::new(&module, &config, Box::new(std::io::sink())).unwrap();
            inst.invoke(domain, func, args)
        })
        .collect()
}

/// Both backends give `expected`.
fn both(text: &str, fns: &[HostFn], func: &str, args: &[Val], expected: Result<Vec<Val>, RunError>) {
    for (backend, got) in BACKENDS.iter().zip(run(text, fns, "app", func, args)) {
        assert_eq!(got, expected, "{backend:?}");
    }
}

#[test]
fn every_number_type_goes_through() {
    let all = [Type::I32, Type::I64, Type::F32, Type::F64];
    // Returns its arguments rotated by one and a checksum of their bits.
    let rotate = host(
        "rotate",
        sig(&all, &[Type::F64, Type::I32, Type::I64, Type::F32, Type::I64]),
        |_, a| {
            let [Val::I32(w), Val::I64(x), Val::F32(y), Val::F64(z)] = *a else {
                return Err(HostFailure::Failed(TrapCode::HostError));
            };
            let sum = (w as i64).wrapping_add(x).wrapping_add(y as i64).wrapping_add(z as i64);
            Ok(vec![Val::F64(z), Val::I32(w), Val::I64(x), Val::F32(y), Val::I64(sum)])
        },
    );
    let text = "domain app {
      import rotate = host.rotate : (i32, i64, f32, f64) -> (f64, i32, i64, f32, i64)
      export func main(i32, i64, f32, f64) -> (f64, i32, i64, f32, i64) {
      block0(v0: i32, v1: i64, v2: f32, v3: f64):
        v4 = cap.get rotate
        call_cap v4(v0, v1, v2, v3) -> ok(block1), fail(block2)
      block1(v5: f64, v6: i32, v7: i64, v8: f32, v9: i64):
        return v5, v6, v7, v8, v9
      block2(v10: i32):
        trap
      }
    }";
    let nan = 0x7ff4_0000_0000_0001u64; // a signalling NaN payload survives
    let args = [Val::I32(-7), Val::I64(i64::MIN), Val::F32(0x7fc0_0001), Val::F64(nan)];
    let sum = (-7i64)
        .wrapping_add(i64::MIN)
        .wrapping_add(0x7fc0_0001)
        .wrapping_add(nan as i64);
    let expected = vec![
        Val::F64(nan),
        Val::I32(-7),
        Val::I64(i64::MIN),
        Val::F32(0x7fc0_0001),
        Val::I64(sum),
    ];
    both(text, &[rotate], "main", &args, Ok(expected));
}

/// `app` and `other` both import `peek(addr) -> i32` (a byte of the caller's
/// memory, or a trap when outside it); `app.main` also asks `other`.
const TWO: &str = r#"
domain other {
  memory 1
  data 0 "\07"
  import peek = host.peek : (i32) -> i32
  export func first() -> i32 {
  block0:
    v0 = iconst.i32 0
    v1 = cap.get peek
    call_cap v1(v0) -> ok(block1), fail(block1)
  block1(v2: i32):
    return v2
  }
}
domain app {
  memory 1
  data 0 "\05"
  import peek = host.peek : (i32) -> i32
  import first = other.first : () -> i32
  export func main(i32) -> (i32, i32) {
  block0(v0: i32):
    v1 = cap.get peek
    call_cap v1(v0) -> ok(block1), fail(block3)
  block1(v2: i32):
    v3 = cap.get first
    call_cap v3() -> ok(block2), fail(block3)
  block2(v4: i32):
    return v2, v4
  block3(v5: i32):
    v6 = iconst.i32 -1
    return v6, v5
  }
}
"#;

fn peek() -> HostFn {
    host("peek", sig(&[Type::I32], &[Type::I32]), |call, a| {
        let [Val::I32(addr)] = *a else { unreachable!() };
        match call.memory().get(addr as u32 as usize) {
            Some(&b) => Ok(vec![Val::I32(b as i32)]),
            None => Err(HostFailure::CallerTrap(TrapCode::OutOfBounds)),
        }
    })
}

#[test]
fn a_host_function_sees_the_callers_memory_only() {
    both(
        TWO,
        &[peek()],
        "main",
        &[Val::I32(0)],
        Ok(vec![Val::I32(5), Val::I32(7)]),
    );
    // The memory's bounds are the slice's: one past the end makes the caller trap.
    for got in run(TWO, &[peek()], "app", "main", &[Val::I32(65536)]) {
        match got {
            Err(RunError::Trap(t)) => assert_eq!((t.code, t.domain.as_str()), (TrapCode::OutOfBounds, "app")),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        run(TWO, &[peek()], "app", "main", &[Val::I32(65535)])[0],
        Ok(vec![Val::I32(0), Val::I32(7)])
    );
}

const CALL: &str = "domain app {
  import f = host.f : () -> i32
  export func main() -> i32 {
  block0:
    v0 = cap.get f
    call_cap v0() -> ok(block1), fail(block2)
  block1(v1: i32):
    return v1
  block2(v2: i32):
    v3 = iconst.i32 -1
    v4 = imul.i32 v2, v3
    return v4
  }
}";

fn f(body: impl Fn() -> Result<Vec<Val>, HostFailure> + Send + Sync + 'static) -> HostFn {
    host("f", sig(&[], &[Type::I32]), move |_, _| body())
}

#[test]
fn each_way_a_host_call_ends() {
    both(CALL, &[f(|| Ok(vec![Val::I32(9)]))], "main", &[], Ok(vec![Val::I32(9)]));
    // Failed: the caller's fail successor gets the code.
    let failed = f(|| Err(HostFailure::Failed(TrapCode::ResourceLimit)));
    both(
        CALL,
        &[failed],
        "main",
        &[],
        Ok(vec![Val::I32(-TrapCode::ResourceLimit.code())]),
    );
    // CallerTrap: the caller traps at its call_cap.
    let trap = f(|| Err(HostFailure::CallerTrap(TrapCode::Unreachable)));
    for got in run(CALL, &[trap], "app", "main", &[]) {
        match got {
            Err(RunError::Trap(t)) => assert_eq!((t.code, t.block, t.inst), (TrapCode::Unreachable, 0, None)),
            other => panic!("{other:?}"),
        }
    }
    // Exit: the run ends with the status.
    both(
        CALL,
        &[f(|| Err(HostFailure::Exit(3)))],
        "main",
        &[],
        Err(RunError::Exit(3)),
    );
}

#[test]
fn a_misbehaving_closure_fails_the_call_not_the_runtime() {
    let host_error = Ok(vec![Val::I32(-TrapCode::HostError.code())]);
    let too_many = f(|| Ok(vec![Val::I32(1); 64]));
    both(CALL, &[too_many], "main", &[], host_error.clone());
    both(CALL, &[f(|| Ok(vec![]))], "main", &[], host_error.clone());
    both(CALL, &[f(|| Ok(vec![Val::I64(1)]))], "main", &[], host_error.clone());
    both(CALL, &[f(|| Ok(vec![Val::Cap(0)]))], "main", &[], host_error.clone());
    both(CALL, &[f(|| panic!("the embedder's bug"))], "main", &[], host_error);
}

#[test]
fn a_host_function_keeps_its_own_state_and_is_traced() {
    let calls = Arc::new(Mutex::new(0));
    let counter = {
        let calls = Arc::clone(&calls);
        f(move || {
            let mut n = calls.lock().unwrap();
            *n += 1;
            Ok(vec![Val::I32(*n)])
        })
    };
    let module = parse_module(CALL).unwrap();
    for backend in BACKENDS {
        let config = Config {
            backend,
            host_functions: vec![counter.clone()],
            ..Config::default()
        };
        let mut inst = Instance::new(&module, &config, Box::new(std::io::sink())).unwrap();
        inst.set_trace(true);
        let first = inst.invoke("app", "main", &[]).unwrap();
        let second = inst.invoke("app", "main", &[]).unwrap();
        let (Val::I32(a), Val::I32(b)) = (first[0], second[0]) else {
            panic!()
        };
        assert_eq!(b, a + 1);
        let trace = inst.take_trace();
        assert_eq!(trace.len(), 2);
        assert_eq!((trace[0].caller.as_str(), trace[0].import.as_str()), ("app", "f"));
        assert_eq!(trace[1].outcome, Ok(vec![Val::I32(b)]));
    }
    assert_eq!(*calls.lock().unwrap(), 4);
}

#[test]
fn linking() {
    let module = parse_module(CALL).unwrap();
    let wrong = host("f", sig(&[], &[Type::I64]), |_, _| Ok(vec![Val::I64(0)]));
    for backend in BACKENDS {
        let make = |fns: Vec<HostFn>| {
            let config = Config {
                backend,
                host_functions: fns,
                ..Config::default()
            };
            Instance::new(&module, &config, Box::new(std::io::sink())).map(|_| ())
        };
        // Unknown: the message lists what there is, built-in and defined.
        let e = make(vec![peek()]).unwrap_err().to_string();
        assert!(
            e.contains("no host function `f`") && e.contains("print_i32") && e.contains("peek"),
            "{e}"
        );
        let e = make(vec![wrong.clone()]).unwrap_err().to_string();
        assert!(
            e.contains("declares () -> i32, but host function `f` has () -> i64"),
            "{e}"
        );
        // A built-in name or a name defined twice is refused before linking.
        let print = host("print_i32", sig(&[Type::I32], &[]), |_, _| Ok(vec![]));
        assert!(matches!(make(vec![print]), Err(EngineError::HostFunction(n)) if n == "print_i32"));
        let one = f(|| Ok(vec![Val::I32(1)]));
        assert!(matches!(make(vec![one.clone(), one]), Err(EngineError::HostFunction(n)) if n == "f"));
    }
    // Only numbers.
    assert!(
        HostFn::new("g", sig(&[Type::Buf], &[]), |_: &mut HostCall<'_>, _: &[Val]| Ok(
            vec![]
        ))
        .is_err()
    );
    assert!(
        HostFn::new("g", sig(&[], &[Type::Region]), |_: &mut HostCall<'_>, _: &[Val]| Ok(
            vec![]
        ))
        .is_err()
    );
}

/// An exit in a callee faults only the callee; its caller sees `exit` on its
/// fail edge and the inline IDC path agrees with the runtime path.
#[test]
fn an_exit_is_a_failure_to_the_calling_domain() {
    let text = "domain lib {
      import quit = host.quit : (i32)
      export func go(i32) -> i32 {
      block0(v0: i32):
        v1 = cap.get quit
        call_cap v1(v0) -> ok(block1), fail(block2)
      block1:
        return v0
      block2(v2: i32):
        return v2
      }
    }
    domain app {
      import go = lib.go : (i32) -> i32
      export func main(i32) -> i32 {
      block0(v0: i32):
        v1 = cap.get go
        call_cap v1(v0) -> ok(block1), fail(block1)
      block1(v2: i32):
        return v2
      }
    }";
    let quit = host("quit", sig(&[Type::I32], &[]), |_, a| match a {
        [Val::I32(0)] => Ok(vec![]),
        [Val::I32(n)] => Err(HostFailure::Exit(*n)),
        _ => unreachable!(),
    });
    let module = parse_module(text).unwrap();
    for backend in BACKENDS {
        let config = Config {
            backend,
            host_functions: vec![quit.clone()],
            ..Config::default()
        };
        let mut inst = Instance::new(&module, &config, Box::new(std::io::sink())).unwrap();
        assert_eq!(inst.invoke("app", "main", &[Val::I32(0)]).unwrap(), vec![Val::I32(0)]);
        assert_eq!(
            inst.invoke("app", "main", &[Val::I32(5)]).unwrap(),
            vec![Val::I32(TrapCode::Exit.code())]
        );
        assert_eq!(inst.status("lib"), Some(DomainStatus::Faulted));
        assert_eq!(inst.faults()[0].code, TrapCode::Exit);
        assert_eq!(inst.status("app"), Some(DomainStatus::Running));
        inst.restart("lib").unwrap();
        assert_eq!(inst.invoke("lib", "go", &[Val::I32(9)]), Err(RunError::Exit(9)));
    }
}

/// A caller that re-raises its callee's `exit` with `trap v` ends the run with
/// the callee's status; `trap v` of 18 when no host function exited is a trap
/// with code `exit` (there is no status to give).
#[test]
fn re_raising_an_exit_ends_the_run_with_its_status() {
    let text = "domain lib {
      import quit = host.quit : (i32)
      export func go(i32) -> i32 {
      block0(v0: i32):
        v1 = cap.get quit
        call_cap v1(v0) -> ok(block1), fail(block2)
      block1:
        return v0
      block2(v2: i32):
        trap
      }
    }
    domain app {
      import go = lib.go : (i32) -> i32
      export func main(i32) -> i32 {
      block0(v0: i32):
        v1 = cap.get go
        call_cap v1(v0) -> ok(block1), fail(block2)
      block1(v2: i32):
        return v2
      block2(v3: i32):
        trap v3
      }
      export func raise_exit() {
      block0:
        v0 = iconst.i32 18
        trap v0
      }
    }";
    let quit = host("quit", sig(&[Type::I32], &[]), |_, a| match a {
        [Val::I32(0)] => Ok(vec![]),
        [Val::I32(n)] => Err(HostFailure::Exit(*n)),
        _ => unreachable!(),
    });
    let module = parse_module(text).unwrap();
    for backend in BACKENDS {
        let config = Config {
            backend,
            host_functions: vec![quit.clone()],
            ..Config::default()
        };
        let mut inst = Instance::new(&module, &config, Box::new(std::io::sink())).unwrap();
        assert_eq!(inst.invoke("app", "main", &[Val::I32(0)]).unwrap(), vec![Val::I32(0)]);
        assert_eq!(
            inst.invoke("app", "main", &[Val::I32(7)]),
            Err(RunError::Exit(7)),
            "{backend:?}"
        );
        assert_eq!(inst.status("lib"), Some(DomainStatus::Faulted));
        assert_eq!(inst.status("app"), Some(DomainStatus::Faulted));
        inst.restart("app").unwrap();
        match inst.invoke("app", "raise_exit", &[]) {
            Err(RunError::Trap(t)) => assert_eq!((t.code, t.block, t.inst), (TrapCode::Exit, 0, None)),
            other => panic!("{backend:?}: {other:?}"),
        }
    }
}
