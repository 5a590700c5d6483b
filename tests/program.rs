//! The library side of `capjit run` (`capjit::program`): entry points chosen by
//! the documented rules and refused with clear messages; words read by the
//! entry's parameter types; WASI programs given their words as arguments; start
//! functions run first; both backends give the same results through the one
//! `Instance` interface; and an embedder gets exactly what the CLI prints.

use std::path::{Path, PathBuf};
use std::process::Command;

use capjit::ir::exec::{DomainStatus, RunError};
use capjit::ir::{parse_module, TrapCode, Val};
use capjit::load::{load_files, Loaded};
use capjit::program::{
    imports_wasi, resolve_entry, ArgError, Entry, EntryArgs, EntryError, Plan, Program, ProgramError, RunOptions,
};
use capjit::{Backend, Config, Instance};

const BACKENDS: [Backend; 2] = [Backend::Jit, Backend::Interpreter];

/// A module from text, as `load_files` would give it for one `.cir` file.
fn loaded(text: &str) -> Loaded {
    let (module, file) =
        capjit::load::load_bytes("test.cir", text.as_bytes().to_vec()).expect("the test module parses");
    Loaded {
        module,
        files: vec![file],
        domain_file: vec![0],
        wasm: None,
    }
}

fn file(name: &str, text: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("program");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn options(backend: Backend, entry: Option<&str>, args: &[&str]) -> RunOptions {
    let mut options = RunOptions {
        entry: entry.map(str::to_string),
        args: args.iter().map(|w| w.to_string()).collect(),
        ..RunOptions::default()
    };
    options.config.backend = backend;
    options
}

fn prepare(loaded: &Loaded, options: RunOptions) -> Result<Program, ProgramError> {
    Program::prepare(loaded, options, Box::new(std::io::sink()))
}

/// Two domains both exporting `get`, one exporting `main`, one function not exported.
const TWO_DOMAINS: &str = "domain a {
  export func get() -> i32 {
  block0:
    v0 = iconst.i32 1
    return v0
  }
  func hidden() -> i32 {
  block0:
    v0 = iconst.i32 3
    return v0
  }
}
domain b {
  export func get() -> i32 {
  block0:
    v0 = iconst.i32 2
    return v0
  }
  export func main() -> i32 {
  block0:
    v0 = iconst.i32 4
    return v0
  }
}
";

#[test]
fn entry_points_follow_the_default_rules() {
    let m = loaded(TWO_DOMAINS);
    assert_eq!(resolve_entry(&m, None), Ok(Entry::new("b", "main")));
    assert_eq!(resolve_entry(&m, Some("main")), Ok(Entry::new("b", "main")));
    assert_eq!(resolve_entry(&m, Some("a.get")), Ok(Entry::new("a", "get")));
    // Without `main`, the only export.
    let only = loaded("domain d {\n export func f() {\n block0:\n return\n }\n func g() {\n block0:\n return\n }\n}\n");
    assert_eq!(resolve_entry(&only, None), Ok(Entry::new("d", "f")));
}

#[test]
fn entry_points_are_refused_with_what_went_wrong() {
    let m = loaded(TWO_DOMAINS);
    let cases: [(&str, EntryError, &str); 4] = [
        (
            "get",
            EntryError::AmbiguousFunction {
                name: "get".into(),
                owners: vec!["a".into(), "b".into()],
            },
            "several domains export `get` (a, b); choose one as `DOMAIN.get`",
        ),
        (
            "nowhere",
            EntryError::NotFound("nowhere".into()),
            "no domain exports a function `nowhere`",
        ),
        (
            "c.get",
            EntryError::NoDomain {
                domain: "c".into(),
                function: "get".into(),
            },
            "no domain named `c` (entry `c.get`)",
        ),
        (
            "a.hidden",
            EntryError::NotExported {
                domain: "a".into(),
                function: "hidden".into(),
            },
            "domain `a` exports no function `hidden`",
        ),
    ];
    for (name, error, message) in cases {
        assert_eq!(resolve_entry(&m, Some(name)), Err(error.clone()), "{name}");
        assert_eq!(error.to_string(), message);
        // Refused before anything is verified or run.
        match prepare(&m, options(Backend::Jit, Some(name), &[])) {
            Err(ProgramError::Entry(e)) => assert_eq!(e, error),
            other => panic!("{name}: expected an entry error, got {:?}", other.err()),
        }
    }
    // No `main` and several exports: nothing to choose by default.
    let several =
        loaded("domain d {\n export func f() {\n block0:\n return\n }\n export func g() {\n block0:\n return\n }\n}\n");
    let err = resolve_entry(&several, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no function to run by default: nothing exports `main` and 2 functions are exported (d.f, d.g)"
    );
    // An empty module has no `main`.
    assert_eq!(
        resolve_entry(&loaded(""), None),
        Err(EntryError::NotFound("main".into()))
    );
}

/// `mix(i32, i64, f32, f64) -> f64`: each argument converted and summed.
const MIX: &str = "domain m {
  export func mix(i32, i64, f32, f64) -> f64 {
  block0(v0: i32, v1: i64, v2: f32, v3: f64):
    v4 = fcvt_from_sint.f64.i32 v0
    v5 = fcvt_from_sint.f64.i64 v1
    v6 = fpromote.f64.f32 v2
    v7 = fadd.f64 v4, v5
    v8 = fadd.f64 v7, v6
    v9 = fadd.f64 v8, v3
    return v9
  }
}
";

#[test]
fn words_are_read_by_the_parameter_types() {
    let m = loaded(MIX);
    for backend in BACKENDS {
        let mut program = prepare(&m, options(backend, None, &["-3", "40", "0.5", "2.25"])).unwrap();
        assert_eq!(program.run(), Ok(vec![Val::F64(39.75f64.to_bits())]), "{backend:?}");
    }
    // 4294967295 is an i32's bit pattern for -1.
    let plan = Plan::new(&m, options(Backend::Jit, None, &["4294967295", "-1", "inf", "-0"])).unwrap();
    let expected = vec![
        Val::I32(-1),
        Val::I64(-1),
        Val::F32(f32::INFINITY.to_bits()),
        Val::F64((-0.0f64).to_bits()),
    ];
    assert_eq!(plan.args, EntryArgs::Typed(expected));
}

#[test]
fn words_that_do_not_fit_are_refused_with_where_they_were_going() {
    let m = loaded(MIX);
    let cases: [(&[&str], &str); 5] = [
        (
            &["1"],
            "`m.mix` takes 4 argument(s) (i32, i64, f32, f64) -> f64, given 1",
        ),
        (
            &["4294967296", "0", "0", "0"],
            "argument `4294967296` is not a valid i32 (parameter 1 of `m.mix`)",
        ),
        (
            &["1", "1.5", "0", "0"],
            "argument `1.5` is not a valid i64 (parameter 2 of `m.mix`)",
        ),
        (
            &["1", "1", "", "0"],
            "argument `` is not a valid f32 (parameter 3 of `m.mix`)",
        ),
        (
            &["1", "1", "1", "one"],
            "argument `one` is not a valid f64 (parameter 4 of `m.mix`)",
        ),
    ];
    for (words, message) in cases {
        match prepare(&m, options(Backend::Interpreter, None, words)) {
            Err(ProgramError::Args(e)) => assert_eq!(e.to_string(), message),
            other => panic!("{words:?}: expected an argument error, got {:?}", other.err()),
        }
    }
    // A capability cannot be written as a word.
    let cap = loaded("domain m {\n export func f(cap<() -> ()>) {\n block0(v0: cap<() -> ()>):\n return\n }\n}\n");
    match prepare(&cap, options(Backend::Jit, None, &["0"])) {
        Err(ProgramError::Args(e @ ArgError::Unwritable { position: 1, .. })) => {
            assert!(e.to_string().contains("which no argument can give"), "{e}")
        }
        other => panic!("expected an unwritable parameter, got {:?}", other.err()),
    }
}

#[test]
fn a_program_the_verifier_refuses_never_runs() {
    let bad = loaded("domain m {\n export func main(i32) -> i64 {\n block0(v0: i32):\n return v0\n }\n}\n");
    // The call is checked first...
    assert!(matches!(
        prepare(&bad, options(Backend::Jit, None, &[])),
        Err(ProgramError::Args(ArgError::Count { given: 0, .. }))
    ));
    // ...then the verifier has its say, for the host to render.
    match prepare(&bad, options(Backend::Jit, None, &["1"])) {
        Err(ProgramError::Verify(errors)) => assert_eq!(errors[0].kind.name(), "type_mismatch"),
        other => panic!("expected verification errors, got {:?}", other.err()),
    }
}

/// `app.main(d)` divides 100 by `d` in `worker` across a capability; a trap in
/// the worker comes back as `-code`. `app` keeps a call count in memory.
const IDC: &str = "domain worker {
  export func div(i32, i32) -> i32 {
  block0(v0: i32, v1: i32):
    v2 = sdiv.i32 v0, v1
    return v2
  }
}
domain app {
  memory 1
  import div = worker.div : (i32, i32) -> i32
  export func main(i32) -> i32 {
  block0(v0: i32):
    v1 = iconst.i32 0
    v2 = load.i32 v1
    v3 = iconst.i32 1
    v4 = iadd.i32 v2, v3
    store.i32 v4, v1
    v5 = iconst.i32 100
    v6 = cap.get div
    call_cap v6(v5, v0) -> ok(block1), fail(block2)
  block1(v7: i32):
    return v7
  block2(v8: i32):
    v9 = iconst.i32 0
    v10 = isub.i32 v9, v8
    return v10
  }
}
";

#[test]
fn both_backends_agree_through_the_one_interface() {
    let m = loaded(IDC);
    let mut seen = Vec::new();
    for backend in BACKENDS {
        let mut options = options(backend, None, &["0"]);
        options.trace = true;
        let mut program = prepare(&m, options).unwrap();
        let trapped = program.run();
        let instance = &mut program.instance;
        let after_trap = (
            instance.status("worker"),
            instance.faults(),
            instance.take_trace().len(),
        );
        instance.restart("worker").unwrap();
        let ok = instance.invoke("app", "main", &[Val::I32(4)]);
        let refused = (
            instance.invoke("app", "main", &[Val::I64(4)]),
            instance.invoke("app", "nope", &[]),
            instance.invoke("nope", "main", &[]),
            instance.revoke("app", "nope"),
            instance.restart("nope"),
        );
        instance.revoke("app", "div").unwrap();
        let revoked = instance.invoke("app", "main", &[Val::I32(4)]);
        let memory = instance.memory("app").map(|m| m[..4].to_vec());
        let fuel_spent = instance
            .fuel("worker")
            .map(|f| f < capjit::ir::exec::Limits::default().fuel);
        seen.push((trapped, after_trap, ok, refused, revoked, memory, fuel_spent));
    }
    let (trapped, (status, faults, traced), ok, refused, revoked, memory, fuel_spent) = &seen[0];
    assert_eq!(*trapped, Ok(vec![Val::I32(-TrapCode::IntDivideByZero.code())]));
    assert_eq!((*status, faults.len(), *traced), (Some(DomainStatus::Faulted), 1, 1));
    assert_eq!(*ok, Ok(vec![Val::I32(25)]));
    assert!(
        matches!(&refused.0, Err(RunError::BadInvoke(m)) if m == "`app.main` takes (i32) -> i32, given (i64:4)"),
        "{:?}",
        refused.0
    );
    assert_eq!(
        refused.1,
        Err(RunError::BadInvoke("domain `app` exports no function `nope`".into()))
    );
    assert_eq!(refused.2, Err(RunError::BadInvoke("no domain named `nope`".into())));
    assert_eq!(
        refused.3,
        Err(RunError::BadInvoke("domain `app` has no import `nope`".into()))
    );
    assert_eq!(refused.4, Err(RunError::BadInvoke("no domain named `nope`".into())));
    assert_eq!(*revoked, Ok(vec![Val::I32(-TrapCode::CapRevoked.code())]));
    assert_eq!(*memory, Some(3i32.to_le_bytes().to_vec()));
    assert_eq!(*fuel_spent, Some(true));
    // The interpreter saw exactly what the JIT saw, errors and messages included.
    assert_eq!(seen[0], seen[1]);
}

#[test]
fn wasi_programs_get_the_words_as_their_arguments() {
    let hello = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/wasm/hello_wasi.wat");
    let loaded = load_files(&[hello]).unwrap();
    assert!(imports_wasi(&loaded.module));
    assert!(!imports_wasi(&self::loaded(MIX).module));
    for backend in BACKENDS {
        let stdout = capjit_wasi::SharedBuffer::default();
        let mut options = options(backend, None, &["one", "two words"]);
        options.wasi = capjit_wasi::WasiCtx::builder().stdout(stdout.clone());
        let plan = Plan::new(&loaded, options).unwrap();
        assert_eq!(plan.entry.function, "_start");
        assert_eq!(plan.args, EntryArgs::Wasi(vec!["one".into(), "two words".into()]));
        let mut program = plan.instantiate(Box::new(std::io::sink())).unwrap();
        assert_eq!(program.run(), Err(RunError::Exit(0)), "{backend:?}");
        assert_eq!(stdout.text(), "hello from wasm\none\ntwo words\n", "{backend:?}");
    }
}

#[test]
fn start_functions_run_before_the_entry_point() {
    let wat = file(
        "start.wat",
        r#"(module
             (global $g (mut i32) (i32.const 1))
             (func $init (global.set $g (i32.mul (global.get $g) (i32.const 10))))
             (start $init)
             (func (export "main") (result i32) (global.get $g)))"#,
    );
    let loaded = load_files(&[wat]).unwrap();
    for backend in BACKENDS {
        let mut program = prepare(&loaded, options(backend, None, &[])).unwrap();
        assert_eq!(program.run(), Ok(vec![Val::I32(10)]), "{backend:?}");
        // Once: a second run calls only the entry point.
        assert_eq!(program.run(), Ok(vec![Val::I32(10)]), "{backend:?}");
    }
}

#[test]
fn files_are_granted_and_optimisation_changes_no_result() {
    let motd = file("motd.txt", "hello");
    let m = loaded(
        "domain reader {
           memory 1
           import motd = host.file(motd) : (buf) -> i32
           export func main() -> i32 {
           block0:
             v0 = iconst.i32 0
             v1 = iconst.i32 64
             v2 = buf.make v0, v1
             v3 = cap.get motd
             call_cap v3(v2) -> ok(block1), fail(block1)
           block1(v4: i32):
             return v4
           }
         }",
    );
    for backend in BACKENDS {
        for optimize in [false, true] {
            let mut options = options(backend, None, &[]);
            options.grants = vec![("motd".into(), motd.clone())];
            options.optimize = optimize;
            let mut program = prepare(&m, options).unwrap();
            assert!(program.warnings.is_empty());
            assert_eq!(program.run(), Ok(vec![Val::I32(5)]), "{backend:?}, optimize {optimize}");
            assert_eq!(&program.instance.memory("reader").unwrap()[..5], b"hello");
        }
    }
}

/// What `capjit run FILE ARGS` prints is what `Program::run` returns.
#[test]
fn an_embedder_gets_what_capjit_run_prints() {
    let path = file(
        "double.cir",
        "domain d {\n export func double(i64) -> i64 {\n block0(v0: i64):\n v1 = iadd.i64 v0, v0\n return v1\n }\n}\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_capjit"))
        .args(["run".as_ref(), path.as_os_str(), "-21".as_ref()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8(out.stdout).unwrap();

    let loaded = load_files(&[path]).unwrap();
    let mut program = prepare(&loaded, options(Backend::Jit, None, &["-21"])).unwrap();
    assert_eq!(program.run(), Ok(vec![Val::I64(-42)]));
    assert_eq!(printed, "-42\n");
}

#[test]
fn instance_refuses_bad_requests_alike_on_both_backends() {
    let module = parse_module(MIX).unwrap();
    let messages: Vec<_> = BACKENDS
        .iter()
        .map(|&backend| {
            let config = Config {
                backend,
                ..Config::default()
            };
            let mut instance = Instance::new(&module, &config, Box::new(std::io::sink())).unwrap();
            (
                instance.invoke("m", "mix", &[Val::I32(1)]),
                instance.status("nope"),
                instance.memory("nope").is_none(),
                instance.fuel("nope"),
                instance.kill("nope"),
            )
        })
        .collect();
    assert_eq!(
        messages[0].0,
        Err(RunError::BadInvoke(
            "`m.mix` takes (i32, i64, f32, f64) -> f64, given (i32:1)".into()
        ))
    );
    assert_eq!((messages[0].1, messages[0].2, messages[0].3), (None, true, None));
    assert_eq!(messages[0], messages[1]);
}
