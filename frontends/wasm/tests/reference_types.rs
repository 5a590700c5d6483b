//! Reference types through the frontend: the padded 5-byte table index LLVM 19
//! (clang, rustc) writes in every `call_indirect`, which is valid only with the
//! proposal; reference globals (one-entry tables) with their getters; references
//! at the host boundary; several tables. The spec testsuite's reference-types
//! files (tests/spectest.rs) cover the rest on both backends.

use capjit_ir::interp::{Instance, Limits, Val};
use capjit_wasm::{to_wasm_binary, translate, WasmInput};

/// `bytes` with the `call_indirect` (opcode 0x11, type 0, table 0) of the only
/// function body that has one rewritten to carry its table index as
/// `0x80 0x80 0x80 0x80 0x00`, as LLVM 19 emits it. Section and body sizes must be
/// one-byte LEBs (small test modules).
fn pad_table_index(bytes: &[u8]) -> Vec<u8> {
    let pattern = [0x11, 0x00, 0x00];
    let at = bytes
        .windows(pattern.len())
        .rposition(|w| w == pattern)
        .expect("a call_indirect of type 0 on table 0");
    let mut out = bytes[..at + 2].to_vec();
    out.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x00]);
    out.extend_from_slice(&bytes[at + 3..]);
    // The code section (id 10) and the body holding the instruction grow by 4.
    let mut pos = 8;
    while pos < at {
        let (id, size) = (bytes[pos], bytes[pos + 1] as usize);
        assert!(size < 0x80, "test modules keep one-byte section sizes");
        if id == 10 {
            out[pos + 1] += 4;
            let mut body = pos + 3; // after the id, the size and the body count
            loop {
                let body_size = bytes[body] as usize;
                assert!(body_size < 0x80);
                if body + 1 + body_size > at {
                    out[body] += 4;
                    return out;
                }
                body += 1 + body_size;
            }
        }
        pos += 2 + size;
    }
    panic!("no code section before the instruction");
}

fn run_main(bytes: &[u8]) -> Vec<Val> {
    let t = translate(&[WasmInput {
        name: "m".into(),
        bytes,
    }])
    .unwrap_or_else(|e| panic!("translation failed: {e}"));
    capjit_verifier::verify(&t.module).unwrap_or_else(|e| panic!("verification failed: {e:?}"));
    let mut inst = Instance::new(t.module.clone(), Limits::default(), Box::new(std::io::sink())).unwrap();
    let main = t.export("m", "main").expect("export main");
    inst.invoke(&main.domain, &main.function, &[]).unwrap()
}

#[test]
fn call_indirect_with_a_padded_table_index_runs() {
    let text = br#"(module
        (type $t (func (result i32)))
        (table 2 funcref)
        (elem (i32.const 0) $forty_two $seven)
        (func $forty_two (type $t) (i32.const 42))
        (func $seven (type $t) (i32.const 7))
        (func (export "main") (result i32)
          (call_indirect (type $t) (i32.const 0))))"#;
    let plain = to_wasm_binary(text).unwrap();
    let padded = pad_table_index(&plain);
    assert_eq!(padded.len(), plain.len() + 4);
    // Refused before reference types were accepted: the padded index is their encoding.
    let mvp = wasmparser::WasmFeatures::WASM1 | wasmparser::WasmFeatures::MULTI_VALUE;
    assert!(wasmparser::Validator::new_with_features(mvp)
        .validate_all(&padded)
        .is_err());
    assert_eq!(run_main(&plain), vec![Val::I32(42)]);
    assert_eq!(run_main(&padded), vec![Val::I32(42)]);
}

#[test]
fn typed_select_of_a_number_runs() {
    let text = br#"(module
        (func (export "main") (result i32)
          (select (result i32) (i32.const 3) (i32.const 4) (i32.const 0))))"#;
    assert_eq!(run_main(&to_wasm_binary(text).unwrap()), vec![Val::I32(4)]);
}

#[test]
fn reference_globals_are_one_entry_tables_that_restart() {
    let text = br#"(module
        (type $t (func (result i32)))
        (table $a 1 funcref)
        (table $b 2 externref)
        (global $f (export "f") (mut funcref) (ref.null func))
        (global $h (mut externref) (ref.null extern))
        (elem declare func $nine)
        (func $nine (type $t) (i32.const 9))
        ;; Keeps the handle, points $f at $nine, calls it through table $a.
        (func (export "main") (param externref) (result i32 externref)
          (global.set $h (local.get 0))
          (global.set $f (ref.func $nine))
          (table.set $a (i32.const 0) (global.get $f))
          (table.set $b (i32.const 1) (global.get $h))
          (call_indirect $a (type $t) (i32.const 0))
          (table.get $b (i32.const 1))))"#;
    let t = translate(&[WasmInput {
        name: "m".into(),
        bytes: text,
    }])
    .unwrap_or_else(|e| panic!("{e}"));
    capjit_verifier::verify(&t.module).unwrap_or_else(|e| panic!("{e:?}"));
    let d = &t.module.domains[0];
    assert!(d.globals.is_empty(), "no numeric global");
    assert_eq!(d.tables.len(), 4, "two tables, then one per reference global");
    assert_eq!((d.tables[2].init.len(), d.tables[2].maximum), (1, 1));
    let mut inst = Instance::new(t.module.clone(), Limits::default(), Box::new(std::io::sink())).unwrap();
    let main = t.export("m", "main").unwrap();
    let getter = t.global("m", "f").unwrap();
    assert_eq!(
        inst.invoke(&getter.domain, &getter.getter, &[]).unwrap(),
        [Val::FuncRef(None)]
    );
    let out = inst
        .invoke(&main.domain, &main.function, &[Val::ExternRef(Some(42))])
        .unwrap();
    assert_eq!(out, [Val::I32(9), Val::ExternRef(Some(42))]);
    assert!(matches!(
        inst.invoke(&getter.domain, &getter.getter, &[]).unwrap()[..],
        [Val::FuncRef(Some(_))]
    ));
    inst.restart(&main.domain).unwrap();
    assert_eq!(
        inst.invoke(&getter.domain, &getter.getter, &[]).unwrap(),
        [Val::FuncRef(None)]
    );
}
