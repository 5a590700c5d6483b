//! Several modules: imports bound to other modules' exports, the `try:`
//! convention, WASI imports, start functions, export aliases and wrappers.

mod common;

use capjit_ir::interp::Val;
use capjit_ir::{ImportSource, TrapCode};
use capjit_wasm::{translate, WasmErrorKind, WasmInput};
use common::*;

const MATH: &str = r#"(module
  (memory 1)
  (func (export "square") (param i64) (result i64) (i64.mul (local.get 0) (local.get 0)))
  (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func (export "divmod") (param i32 i32) (result i32 i32)
    (i32.div_u (local.get 0) (local.get 1)) (i32.rem_u (local.get 0) (local.get 1)))
  (func (export "store") (param i32) (i32.store (i32.const 0) (local.get 0)))
  (func (export "load") (result i32) (i32.load (i32.const 0))))"#;

#[test]
fn two_modules_call_each_other() {
    let app = r#"(module
      (import "math" "square" (func $square (param i64) (result i64)))
      (import "math" "divmod" (func $divmod (param i32 i32) (result i32 i32)))
      (import "math" "store" (func $store (param i32)))
      (import "math" "load" (func $load (result i32)))
      (memory 1)
      (func (export "main") (param i64) (result i64)
        (i64.add (call $square (local.get 0)) (i64.const 1)))
      (func (export "dm") (param i32 i32) (result i32 i32) (call $divmod (local.get 0) (local.get 1)))
      ;; each module has its own memory
      (func (export "memories") (result i32 i32)
        (i32.store (i32.const 0) (i32.const 11))
        (call $store (i32.const 22))
        (i32.load (i32.const 0))
        (call $load)))"#;
    let mut w = Wasm::new(&[("math", MATH), ("app", app)]);
    assert_eq!(w.call_in("app", "main", &i64s(&[12])).unwrap(), i64s(&[145]));
    assert_eq!(w.call_in("app", "dm", &i32s(&[17, 5])).unwrap(), i32s(&[3, 2]));
    assert_eq!(w.call_in("app", "memories", &[]).unwrap(), i32s(&[11, 22]));
    let d = &w.t.module.domains[1];
    assert_eq!(
        d.imports[0].source,
        ImportSource::Export {
            domain: "math".into(),
            function: "square".into()
        }
    );
}

#[test]
fn mutual_imports_between_modules() {
    // Wasm cannot instantiate cycles, but capjit domains link by name: allowed.
    let a = r#"(module
      (import "b" "pong" (func $pong (param i32) (result i32)))
      (func (export "ping") (param i32) (result i32)
        (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 100))
          (else (call $pong (i32.sub (local.get 0) (i32.const 1)))))))"#;
    let b = r#"(module
      (import "a" "ping" (func $ping (param i32) (result i32)))
      (func (export "pong") (param i32) (result i32)
        (i32.add (call $ping (local.get 0)) (i32.const 1))))"#;
    let mut w = Wasm::new(&[("a", a), ("b", b)]);
    assert_eq!(w.call_in("a", "ping", &i32s(&[3])).unwrap(), i32s(&[103]));
}

#[test]
fn a_trapping_callee_makes_a_plain_caller_trap() {
    let app = r#"(module
      (import "math" "div" (func $div (param i32 i32) (result i32)))
      (func (export "safe_div") (param i32 i32) (result i32) (call $div (local.get 0) (local.get 1))))"#;
    let mut w = Wasm::new(&[("math", MATH), ("app", app)]);
    assert_eq!(w.call_in("app", "safe_div", &i32s(&[9, 3])).unwrap(), i32s(&[3]));
    match w.call_in("app", "safe_div", &i32s(&[9, 0])) {
        Err(capjit_ir::interp::RunError::Trap(t)) => {
            // The caller re-raises the callee's trap code (`trap v`).
            assert_eq!(t.code, TrapCode::IntDivideByZero, "{t}");
            assert_eq!(t.domain, "app");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn try_convention_survives_a_trapping_callee() {
    let app = r#"(module
      (import "try:math" "div" (func $div (param i32 i32) (result i32 i32)))
      (import "try:math" "divmod" (func $divmod (param i32 i32) (result i32 i32 i32)))
      (func (export "checked_div") (param i32 i32) (result i32 i32) (call $div (local.get 0) (local.get 1)))
      (func (export "checked_divmod") (param i32 i32) (result i32 i32 i32)
        (call $divmod (local.get 0) (local.get 1)))
      ;; keeps going after a failure: adds the status codes of two calls
      (func (export "two_calls") (result i32) (local $s i32)
        (call $div (i32.const 1) (i32.const 0))
        (drop)
        (local.set $s)
        (call $div (i32.const 4) (i32.const 2))
        (drop)
        (i32.add (local.get $s))))"#;
    let mut w = Wasm::new(&[("math", MATH), ("app", app)]);
    assert_eq!(w.call_in("app", "checked_div", &i32s(&[9, 3])).unwrap(), i32s(&[0, 3]));
    assert_eq!(
        w.call_in("app", "checked_divmod", &i32s(&[9, 4])).unwrap(),
        i32s(&[0, 2, 1])
    );
    let code = TrapCode::IntDivideByZero.code();
    assert_eq!(
        w.call_in("app", "checked_div", &i32s(&[9, 0])).unwrap(),
        i32s(&[code, 0])
    );
    // The callee is faulted now: the next call fails without running it.
    let unavailable = TrapCode::DomainUnavailable.code();
    assert_eq!(
        w.call_in("app", "checked_div", &i32s(&[9, 3])).unwrap(),
        i32s(&[unavailable, 0])
    );
    w.inst.restart("math").unwrap();
    assert_eq!(
        w.call_in("app", "checked_divmod", &i32s(&[7, 0])).unwrap(),
        i32s(&[code, 0, 0])
    );
    w.inst.restart("math").unwrap();
    assert_eq!(w.call_in("app", "two_calls", &[]).unwrap(), i32s(&[code + unavailable]));
}

#[test]
fn try_import_type_must_lead_with_a_status() {
    let app = r#"(module (import "try:math" "div" (func (param i32 i32) (result i64))))"#;
    let e = translate(&[
        WasmInput {
            name: "math".into(),
            bytes: MATH.as_bytes(),
        },
        WasmInput {
            name: "app".into(),
            bytes: app.as_bytes(),
        },
    ])
    .unwrap_err();
    assert_eq!(e.kind, WasmErrorKind::Link);
    assert!(e.message.contains("status"), "{e}");
}

fn link_error(inputs: &[(&str, &str)]) -> capjit_wasm::WasmError {
    let inputs: Vec<WasmInput> = inputs
        .iter()
        .map(|(n, t)| WasmInput {
            name: n.to_string(),
            bytes: t.as_bytes(),
        })
        .collect();
    translate(&inputs).unwrap_err()
}

#[test]
fn link_errors_name_module_and_field() {
    let e = link_error(&[("app", r#"(module (import "env" "f" (func)))"#)]);
    assert_eq!(e.kind, WasmErrorKind::Link);
    assert!(e.message.contains("`env`") && e.message.contains("`f`"), "{e}");
    // Every import from a module that is not there, in one error.
    let e = link_error(&[(
        "app",
        r#"(module (import "env" "f" (func)) (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32))) (import "libc" "g" (func)))"#,
    )]);
    assert!(e.message.starts_with("2 import(s) from modules"), "{e}");
    assert!(e.message.ends_with(": `env`.`f`, `libc`.`g`"), "{e}");
    let e = link_error(&[("math", MATH), ("app", r#"(module (import "math" "cube" (func)))"#)]);
    assert!(e.message.contains("exports no function `cube`"), "{e}");
    let e = link_error(&[
        ("math", MATH),
        (
            "app",
            r#"(module (import "math" "square" (func (param i32) (result i32))))"#,
        ),
    ]);
    assert!(e.message.contains("incompatible import type"), "{e}");
    let e = link_error(&[("m", "(module)"), ("m", "(module)")]);
    assert_eq!(e.kind, WasmErrorKind::Link);
}

#[test]
fn wasi_imports_become_host_functions() {
    let app = r#"(module
      (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
      (func (export "_start") (drop (call $w (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0)))))"#;
    let t = translate(&[WasmInput {
        name: "app".into(),
        bytes: app.as_bytes(),
    }])
    .unwrap();
    let d = &t.module.domains[0];
    assert_eq!(
        d.imports[0].source,
        ImportSource::Host {
            function: "wasi_fd_write".into()
        }
    );
    assert_eq!(d.imports[0].sig.params.len(), 4);
    assert_eq!(d.imports[1].name, "proc_exit");
    capjit_verifier::verify(&t.module).unwrap();
}

#[test]
fn start_function_runs_and_is_recorded() {
    let m = r#"(module (memory 1)
      (func $init (i32.store (i32.const 0) (i32.const 42)))
      (start $init)
      (func (export "get") (result i32) (i32.load (i32.const 0))))"#;
    let mut w = wasm(m);
    assert_eq!(w.t.modules[0].start.as_deref(), Some("_start_init"));
    assert_eq!(w.call("get", &[]).unwrap(), i32s(&[42]));
    // An export already called `_start_init` keeps its name.
    let m = r#"(module (func $s) (start $s) (func (export "_start_init") (result i32) (i32.const 1)))"#;
    let mut w = wasm(m);
    assert_eq!(w.t.modules[0].start.as_deref(), Some("_start_init_1"));
    assert_eq!(w.call("_start_init", &[]).unwrap(), i32s(&[1]));
}

#[test]
fn one_function_under_two_names_and_reexports() {
    let lib = r#"(module
      (func $f (export "first") (export "second") (param i32) (result i32) (i32.mul (local.get 0) (i32.const 3))))"#;
    let mid = r#"(module
      (import "lib" "first" (func $f (param i32) (result i32)))
      (export "again" (func $f))
      (table 2 funcref)
      (elem (i32.const 1) $f)
      (func (export "via_table") (param i32) (result i32)
        (call_indirect (param i32) (result i32) (local.get 0) (i32.const 1))))"#;
    let top = r#"(module
      (import "mid" "again" (func $g (param i32) (result i32)))
      (func (export "go") (param i32) (result i32) (call $g (local.get 0))))"#;
    let mut w = Wasm::new(&[("lib", lib), ("mid", mid), ("top", top)]);
    assert_eq!(w.call_in("lib", "first", &i32s(&[2])).unwrap(), i32s(&[6]));
    assert_eq!(w.call_in("lib", "second", &i32s(&[3])).unwrap(), i32s(&[9]));
    assert_eq!(w.call_in("mid", "again", &i32s(&[4])).unwrap(), i32s(&[12]));
    assert_eq!(w.call_in("mid", "via_table", &i32s(&[5])).unwrap(), i32s(&[15]));
    assert_eq!(w.call_in("top", "go", &i32s(&[6])).unwrap(), i32s(&[18]));
}

#[test]
fn odd_module_and_export_names_are_mangled() {
    let m = r#"(module (func (export "\u{2603} snow.man") (result i32) (i32.const 1)) (func (export "") (result i32) (i32.const 2)))"#;
    let mut w = Wasm::new(&[("my-module.wasm", m)]);
    assert_eq!(w.t.modules[0].domain, "my_x2d_module_x2e_wasm");
    assert_eq!(
        w.call_in("my-module.wasm", "\u{2603} snow.man", &[]).unwrap(),
        i32s(&[1])
    );
    assert_eq!(w.call_in("my-module.wasm", "", &[]).unwrap(), i32s(&[2]));
    let text = capjit_ir::print_module(&w.t.module);
    capjit_ir::parse_module(&text).unwrap();
    let _ = Val::I32(0);
}

#[test]
fn immutable_globals_are_imported_by_value() {
    let consts = r#"(module
      (global (export "base") i32 (i32.const 16))
      (global (export "pi") f64 (f64.const 3.5))
      (global (export "counter") (mut i32) (i32.const 0)))"#;
    let user = r#"(module
      (import "consts" "base" (global $base i32))
      (import "consts" "pi" (global $pi f64))
      (global $copy i32 (global.get $base))
      (memory 1)
      (data (global.get $base) "\2a")
      (table 4 funcref)
      (elem (global.get $base) $f)
      (func $f (result i32) (i32.const 7))
      (func (export "get") (result i32 f64 i32 i32)
        (global.get $base) (global.get $pi) (global.get $copy) (i32.load8_u (i32.const 16))))"#;
    let e = link_error(&[("consts", consts), ("user", user)]);
    // The element segment at 16 does not fit the table of 4.
    assert_eq!(e.kind, WasmErrorKind::Instantiation, "{e}");
    let user = user.replace("(table 4 funcref)", "(table 20 funcref)");
    let mut w = Wasm::new(&[("consts", consts), ("user", &user)]);
    assert_eq!(
        w.call_in("user", "get", &[]).unwrap(),
        vec![Val::I32(16), f64v(3.5), Val::I32(16), Val::I32(42)]
    );
    assert_eq!(w.t.module.domains[1].tables[0].init[16], Some(0));

    let mutable = r#"(module (import "consts" "counter" (global i32)))"#;
    let e = link_error(&[("consts", consts), ("m", mutable)]);
    assert_eq!(e.kind, WasmErrorKind::Unsupported, "{e}");
    let wrong_type = r#"(module (import "consts" "pi" (global i32)))"#;
    let e = link_error(&[("consts", consts), ("m", wrong_type)]);
    assert!(e.message.contains("incompatible import type"), "{e}");
    let later = r#"(module (import "consts" "base" (global i32)))"#;
    let e = link_error(&[("m", later), ("consts", consts)]);
    assert!(e.message.contains("earlier input"), "{e}");
    let e = link_error(&[
        ("consts", consts),
        ("m", r#"(module (import "consts" "nope" (global i32)))"#),
    ]);
    assert!(e.message.contains("exports no global `nope`"), "{e}");
}
