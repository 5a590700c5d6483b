//! IR modules written by hand that import WASI functions (`= host.wasi_NAME`),
//! run through `capjit::Instance` on both backends.

use capjit::ir::exec::{DomainStatus, RunError};
use capjit::ir::{parse_module, Module, TrapCode, Val};
use capjit::{Backend, Config, EngineError, Instance};
use capjit_wasi::{SharedBuffer, WasiCtx};

const BACKENDS: [Backend; 2] = [Backend::Jit, Backend::Interpreter];

fn instance(module: &Module, backend: Backend, ctx: WasiCtx) -> Result<Instance, EngineError> {
    let config = Config {
        backend,
        host_functions: capjit_wasi::host_functions(ctx),
        ..Config::default()
    };
    Instance::new(module, &config, Box::new(std::io::sink()))
}

/// Writes "hello\n" and then "wasi\n" (two iovecs) to fd 1 and returns the errno
/// and the byte count; the built-in `host.print_i32` still works beside it.
const HELLO: &str = r#"
domain app {
  memory 1
  data 0 "\20\00\00\00\06\00\00\00\30\00\00\00\05\00\00\00"
  data 32 "hello\0a"
  data 48 "wasi\0a"
  import fd_write = host.wasi_fd_write : (i32, i32, i32, i32) -> i32
  import print = host.print_i32 : (i32)
  export func main(i32) -> (i32, i32) {
  block0(v0: i32):                       ; the fd
    v1 = iconst.i32 0                    ; the iovecs
    v2 = iconst.i32 2
    v3 = iconst.i32 16                   ; where the count goes
    v4 = cap.get fd_write
    call_cap v4(v0, v1, v2, v3) -> ok(block1), fail(block2)
  block1(v5: i32):
    v6 = load.i32 v3
    v7 = cap.get print
    call_cap v7(v6) -> ok(block3), fail(block2)
  block3:
    return v5, v6
  block2(v8: i32):
    trap
  }
}
"#;

#[test]
fn fd_write_reaches_stdout_and_stderr_on_both_backends() {
    let module = parse_module(HELLO).unwrap();
    for backend in BACKENDS {
        let (out, err) = (SharedBuffer::default(), SharedBuffer::default());
        let ctx = WasiCtx::builder()
            .stdout(out.clone())
            .stderr(err.clone())
            .build()
            .unwrap();
        let mut inst = instance(&module, backend, ctx).unwrap();
        assert_eq!(
            inst.invoke("app", "main", &[Val::I32(1)]).unwrap(),
            vec![Val::I32(0), Val::I32(11)]
        );
        assert_eq!(
            inst.invoke("app", "main", &[Val::I32(2)]).unwrap(),
            vec![Val::I32(0), Val::I32(11)]
        );
        assert_eq!(out.text(), "hello\nwasi\n", "{backend:?}");
        assert_eq!(err.text(), "hello\nwasi\n", "{backend:?}");
        // stdin is not open for writing: EBADF, and the count is untouched.
        assert_eq!(
            inst.invoke("app", "main", &[Val::I32(0)]).unwrap(),
            vec![Val::I32(capjit_wasi::errno::BADF), Val::I32(11)]
        );
        assert_eq!(out.text(), "hello\nwasi\n");
    }
}

/// `argc` and the size of the argument strings, then the first byte of argv[1].
const ARGS: &str = r#"
domain app {
  memory 1
  import sizes = host.wasi_args_sizes_get : (i32, i32) -> i32
  import get = host.wasi_args_get : (i32, i32) -> i32
  export func main() -> (i32, i32, i32) {
  block0:
    v0 = iconst.i32 0
    v1 = iconst.i32 4
    v2 = cap.get sizes
    call_cap v2(v0, v1) -> ok(block1), fail(block9)
  block1(v3: i32):
    v4 = iconst.i32 64
    v5 = iconst.i32 128
    v6 = cap.get get
    call_cap v6(v4, v5) -> ok(block2), fail(block9)
  block2(v7: i32):
    v8 = load.i32 v0
    v9 = load.i32 v1
    v10 = load.i32 v4+4                 ; argv[1]
    v11 = load8u.i32 v10
    return v8, v9, v11
  block9(v12: i32):
    trap
  }
}
"#;

#[test]
fn arguments_reach_the_program_on_both_backends() {
    let module = parse_module(ARGS).unwrap();
    for backend in BACKENDS {
        let ctx = WasiCtx::builder().args(["prog", "xyz"]).build().unwrap();
        let mut inst = instance(&module, backend, ctx).unwrap();
        let got = inst.invoke("app", "main", &[]).unwrap();
        assert_eq!(
            got,
            vec![Val::I32(2), Val::I32(9), Val::I32(b'x' as i32)],
            "{backend:?}"
        );
    }
}

/// `worker.quit(n)` calls `proc_exit(n)`; `app.main(n)` calls `worker.quit(n)`
/// and returns 1000 plus the failure code it gets.
const EXIT: &str = r#"
domain worker {
  import exit = host.wasi_proc_exit : (i32)
  export func quit(i32) -> i32 {
  block0(v0: i32):
    v1 = cap.get exit
    call_cap v1(v0) -> ok(block1), fail(block2)
  block1:
    v2 = iconst.i32 0
    return v2
  block2(v3: i32):
    return v3
  }
}
domain app {
  import quit = worker.quit : (i32) -> i32
  export func main(i32) -> i32 {
  block0(v0: i32):
    v1 = cap.get quit
    call_cap v1(v0) -> ok(block1), fail(block2)
  block1(v2: i32):
    return v2
  block2(v3: i32):
    v4 = iconst.i32 1000
    v5 = iadd.i32 v3, v4
    return v5
  }
}
"#;

#[test]
fn proc_exit_ends_the_run_or_fails_the_caller() {
    let module = parse_module(EXIT).unwrap();
    for backend in BACKENDS {
        let mut inst = instance(&module, backend, WasiCtx::default()).unwrap();
        // Called by the host: the run ends with the status; the domain is left
        // faulted with `exit`, like after a trap.
        assert_eq!(inst.invoke("worker", "quit", &[Val::I32(42)]), Err(RunError::Exit(42)));
        assert_eq!(inst.status("worker"), Some(DomainStatus::Faulted));
        assert_eq!(inst.faults()[0].code, TrapCode::Exit);
        inst.restart("worker").unwrap();
        assert_eq!(inst.invoke("worker", "quit", &[Val::I32(0)]), Err(RunError::Exit(0)));
        inst.restart("worker").unwrap();
        // Called by another domain: the exit cannot end the caller, which takes
        // its failure successor with code `exit`.
        let code = 1000 + TrapCode::Exit.code();
        assert_eq!(
            inst.invoke("app", "main", &[Val::I32(3)]).unwrap(),
            vec![Val::I32(code)],
            "{backend:?}"
        );
        assert_eq!(inst.status("worker"), Some(DomainStatus::Faulted));
        assert_eq!(inst.status("app"), Some(DomainStatus::Running));
        // A later trap is a trap, not a stale exit.
        assert!(matches!(
            inst.invoke("worker", "quit", &[Val::I32(1)]),
            Err(RunError::Trap(_))
        ));
    }
}

#[test]
fn linking_checks_names_and_signatures() {
    let wrong_sig = parse_module(
        "domain app {
           import w = host.wasi_fd_write : (i32, i32, i32) -> i32
           export func main() {
           block0:
             return
           }
         }",
    )
    .unwrap();
    let unknown = parse_module(
        "domain app {
           import w = host.wasi_fd_frobnicate : (i32) -> i32
           export func main() {
           block0:
             return
           }
         }",
    )
    .unwrap();
    for backend in BACKENDS {
        let e = instance(&wrong_sig, backend, WasiCtx::default())
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("host function `wasi_fd_write` has (i32, i32, i32, i32) -> i32"),
            "{e}"
        );
        let e = instance(&unknown, backend, WasiCtx::default())
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("no host function `wasi_fd_frobnicate`"), "{e}");
        assert!(e.contains("print_i32") && e.contains("wasi_path_open"), "{e}");
        // Without the WASI functions, the same import does not link.
        let bare = Instance::new(
            &wrong_sig,
            &Config {
                backend,
                ..Config::default()
            },
            Box::new(std::io::sink()),
        );
        assert!(bare.is_err());
    }
    // Two definitions of one name are refused.
    let mut fns = capjit_wasi::host_functions(WasiCtx::default());
    fns.extend(capjit_wasi::host_functions(WasiCtx::default()));
    let config = Config {
        host_functions: fns,
        ..Config::default()
    };
    match Instance::new(&wrong_sig, &config, Box::new(std::io::sink())) {
        Err(EngineError::HostFunction(name)) => assert!(name.starts_with("wasi_")),
        other => panic!("{:?}", other.err()),
    }
}
