//! Errors: unsupported features are named, invalid modules are reported with an
//! offset, and no input makes the frontend panic.

use capjit_wasm::{to_wasm_binary, translate, WasmError, WasmErrorKind, WasmInput};
use proptest::prelude::*;

fn translate_one(bytes: &[u8]) -> Result<capjit_wasm::Translated, WasmError> {
    translate(&[WasmInput {
        name: "m".into(),
        bytes,
    }])
}

fn unsupported(text: &str) -> String {
    let e = translate_one(text.as_bytes()).expect_err(text);
    assert_eq!(e.kind, WasmErrorKind::Unsupported, "{e}");
    assert!(e.to_string().contains("unsupported: "), "{e}");
    e.message
}

#[test]
fn unsupported_features_are_named() {
    let cases = [
        (r#"(module (func (result v128) (v128.const i32x4 1 2 3 4)))"#, "SIMD"),
        (r#"(module (memory 1 1 shared))"#, "threads"),
        (r#"(module (func $f (return_call $f)))"#, "tail calls"),
        (r#"(module (memory i64 1))"#, "memory64"),
        (r#"(module (memory 1) (memory 1))"#, "multiple memories"),
        (
            r#"(module (import "env" "g" (global externref)))"#,
            "reference types (imported externref globals)",
        ),
        (r#"(module (tag))"#, "exceptions"),
        (
            r#"(module (global i32 (i32.add (i32.const 1) (i32.const 2))))"#,
            "extended constant",
        ),
        (r#"(module (type (struct)))"#, "GC"),
        (r#"(module (import "env" "mem" (memory 1)))"#, "imported memory"),
        (r#"(module (import "env" "t" (table 1 funcref)))"#, "imported table"),
        (
            r#"(module (import "env" "g" (global (mut i32))))"#,
            "imported mutable global",
        ),
        (r#"(module (table 2000000 funcref))"#, "table of 2000000 entries"),
    ];
    for (text, feature) in cases {
        let msg = unsupported(text);
        assert!(msg.contains(feature), "{text}: {msg}");
    }
}

#[test]
fn data_segments_keep_their_wasm_indices() {
    // Wasm data index 1 is passive; index 0 is active, so it is dropped (empty) for
    // memory.init after instantiation.
    let t = translate_one(
        br#"(module (memory 1) (data (i32.const 8) "a") (data "bc")
              (func (memory.init 1 (i32.const 0) (i32.const 1) (i32.const 1)) (data.drop 0)))"#,
    )
    .unwrap();
    let d = &t.module.domains[0];
    assert_eq!(d.passive_data, vec![Vec::new(), b"bc".to_vec()]);
    assert_eq!(d.data.len(), 1);
    let ops: Vec<_> = d
        .functions
        .iter()
        .flat_map(|f| &f.blocks)
        .flat_map(|b| &b.insts)
        .map(|i| &i.op)
        .collect();
    assert!(
        ops.iter()
            .any(|op| matches!(op, capjit_ir::Op::MemoryInit { segment: 1, .. })),
        "{ops:?}"
    );
    assert!(ops.contains(&&capjit_ir::Op::DataDrop { segment: 0 }), "{ops:?}");
    capjit_verifier::verify(&t.module).unwrap();
    // Without passive segments or a data count section, no passive segments at all.
    let t = translate_one(br#"(module (memory 1) (data (i32.const 8) "a"))"#).unwrap();
    assert!(t.module.domains[0].passive_data.is_empty());
}

#[test]
fn table_copy_translates() {
    let t =
        translate_one(br#"(module (table 2 funcref) (func (table.copy (i32.const 1) (i32.const 0) (i32.const 1))))"#)
            .unwrap();
    let ops: Vec<_> = t.module.domains[0]
        .functions
        .iter()
        .flat_map(|f| &f.blocks)
        .flat_map(|b| &b.insts)
        .map(|i| &i.op)
        .collect();
    assert!(
        ops.iter().any(|op| matches!(op, capjit_ir::Op::TableCopy { .. })),
        "{ops:?}"
    );
    capjit_verifier::verify(&t.module).unwrap();
}

#[test]
fn dropping_segments_verifies() {
    let t = translate_one(
        br#"(module (memory 1) (data "x") (table 1 funcref) (elem func $f) (func $f (data.drop 0) (elem.drop 0)))"#,
    );
    capjit_verifier::verify(&t.unwrap().module).unwrap();
}

#[test]
fn invalid_modules_are_reported_with_offsets() {
    let e = translate_one(br#"(module (func (result i32) (i64.const 1)))"#).unwrap_err();
    assert_eq!(e.kind, WasmErrorKind::Invalid, "{e}");
    assert!(e.offset.is_some());
    assert!(e.message.contains("type mismatch"), "{e}");
    let e = translate_one(b"\0asm\x01\0\0\0\x01").unwrap_err();
    assert_eq!(e.kind, WasmErrorKind::Invalid, "{e}");
    let e = translate_one(b"(module (func").unwrap_err();
    assert_eq!(e.kind, WasmErrorKind::Syntax, "{e}");
    let e = translate_one(b"\xff\xfe garbage").unwrap_err();
    assert_eq!(e.kind, WasmErrorKind::Syntax, "{e}");
    assert!(e.to_string().starts_with("wasm module `m`"), "{e}");
}

#[test]
fn beyond_the_verifiers_limits_is_a_limit_error() {
    let mut text = String::from("(module");
    for _ in 0..65_537 {
        text.push_str(" (global i32 (i32.const 0))");
    }
    text.push(')');
    let Err(e) = translate_one(text.as_bytes()) else {
        panic!("65537 globals should not translate");
    };
    assert_eq!(e.kind, WasmErrorKind::Limit, "{e}");
    // 65537 targets and the default
    let targets = "0 ".repeat(65_538);
    let text = format!("(module (func (block (br_table {targets} (i32.const 0)))))");
    let Err(e) = translate_one(text.as_bytes()) else {
        panic!("a br_table of 65537 targets should not translate");
    };
    assert_eq!(e.kind, WasmErrorKind::Limit, "{e}");
    let text = format!(
        "(module (func (block (br_table {} (i32.const 0)))))",
        "0 ".repeat(65_537)
    );
    capjit_verifier::verify(&translate_one(text.as_bytes()).unwrap().module).unwrap();
}

#[test]
fn binary_and_text_give_the_same_module() {
    let text = br#"(module (memory 1) (func (export "f") (param i32) (result i32) (i32.load (local.get 0))))"#;
    let bin = to_wasm_binary(text).unwrap();
    assert!(bin.starts_with(b"\0asm"));
    assert_eq!(to_wasm_binary(&bin).unwrap(), bin);
    assert_eq!(translate_one(text).unwrap().module, translate_one(&bin).unwrap().module);
}

/// A valid module exercising most of the translator, to mutate.
const SEED: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_close" (func $close (param i32) (result i32)))
  (memory 1 2) (table 2 funcref) (elem (i32.const 0) $f $g)
  (global $g0 (mut i32) (i32.const 1))
  (data (i32.const 8) "abc")
  (func $f (export "f") (param i32 i64) (result i64) (local f32)
    (block (result i64)
      (loop (br_if 0 (i32.eqz (local.get 0))) (local.set 0 (i32.sub (local.get 0) (i32.const 1))))
      (if (result i64) (local.get 0) (then (local.get 1)) (else (i64.const 3)))
      (br_table 0 0 (i32.const 1))))
  (func $g (param i32 i64) (result i64)
    (global.set $g0 (call $close (i32.load8_u (i32.const 8))))
    (call_indirect (param i32 i64) (result i64) (local.get 0) (local.get 1) (i32.const 0)))
  (start $h) (func $h))"#;

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut b = b"\0asm\x01\0\0\0".to_vec();
        b.extend(bytes);
        let _ = translate_one(&b);
    }

    #[test]
        fn mutated_modules_never_panic(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
        let mut b = to_wasm_binary(SEED.as_bytes()).unwrap();
        for (i, byte) in edits {
            let i = i.index(b.len());
            b[i] = byte;
        }
        if let Ok(t) = translate_one(&b) {
            // Whatever translates must verify.
            if let Err(errors) = capjit_verifier::verify(&t.module) {
                prop_assert!(false, "verifier rejected: {:?}", errors.iter().map(|e| e.to_string()).collect::<Vec<_>>());
            }
        }
    }
}

#[test]
fn seed_translates_and_verifies() {
    let t = translate_one(SEED.as_bytes()).unwrap();
    capjit_verifier::verify(&t.module).unwrap();
}

#[test]
fn limits_match_the_verifier() {
    // The frontend checks its output against these so users get a clear error.
    assert_eq!(capjit_verifier::limits::MAX_ARITY, capjit_wasm::MAX_BLOCK_PARAMS);
    assert_eq!(
        capjit_verifier::limits::MAX_VALUE_INDEX as usize,
        capjit_wasm::MAX_VALUES
    );
    assert_eq!(capjit_verifier::limits::MAX_BLOCKS, capjit_wasm::MAX_BLOCKS);
    assert_eq!(
        capjit_verifier::limits::MAX_TABLE_TARGETS,
        capjit_wasm::MAX_BR_TABLE_TARGETS
    );
    assert_eq!(capjit_verifier::limits::MAX_FUNCTIONS, capjit_wasm::MAX_FUNCTIONS);
    assert_eq!(capjit_verifier::limits::MAX_IMPORTS, capjit_wasm::MAX_IMPORTS);
    assert_eq!(capjit_verifier::limits::MAX_GLOBALS, capjit_wasm::MAX_GLOBALS);
    assert_eq!(capjit_verifier::limits::MAX_PASSIVE_DATA, capjit_wasm::MAX_PASSIVE_DATA);
    assert_eq!(
        capjit_verifier::limits::MAX_TABLE_ENTRIES as u64,
        capjit_wasm::MAX_TABLE_ENTRIES
    );
    assert_eq!(
        capjit_verifier::limits::MAX_MEMORY_PAGES,
        capjit_wasm::DEFAULT_MAX_PAGES
    );
}
