//! Linear memory, data segments, globals and the function table.

mod common;

use capjit_ir::interp::Val;
use capjit_ir::TrapCode;
use capjit_wasm::{translate, WasmErrorKind, WasmInput, DEFAULT_MAX_PAGES};
use common::*;

#[test]
fn loads_and_stores_of_every_width() {
    let mut w = wasm(
        r#"(module (memory 1)
        (func (export "store_load") (param $addr i32) (param $v i64) (result i64 i64 i64 i64 i64 i64 i64)
          (i64.store (local.get $addr) (local.get $v))
          (i64.load (local.get $addr))
          (i64.load8_s (local.get $addr))
          (i64.load8_u (local.get $addr))
          (i64.load16_s (local.get $addr))
          (i64.load16_u (local.get $addr))
          (i64.load32_s (local.get $addr))
          (i64.load32_u (local.get $addr)))
        (func (export "i32_loads") (param $addr i32) (result i32 i32 i32 i32 i32)
          (i32.load offset=4 (local.get $addr))
          (i32.load8_s offset=4 (local.get $addr))
          (i32.load8_u offset=4 (local.get $addr))
          (i32.load16_s offset=4 (local.get $addr))
          (i32.load16_u offset=4 (local.get $addr)))
        (func (export "narrow_stores") (result i64)
          (i64.store (i32.const 0) (i64.const 0))
          (i32.store8 (i32.const 0) (i32.const 0x1ff))
          (i32.store16 (i32.const 1) (i32.const 0x2345))
          (i64.store8 (i32.const 3) (i64.const 0x67))
          (i64.store16 (i32.const 4) (i64.const 0x89ab))
          (i64.store32 (i32.const 6) (i64.const 0xffffcdef))
          (i64.load (i32.const 0)))
        (func (export "floats") (param f32 f64) (result f32 f64)
          (f32.store (i32.const 100) (local.get 0))
          (f64.store (i32.const 104) (local.get 1))
          (f32.load (i32.const 100))
          (f64.load (i32.const 104))))"#,
    );
    let v: i64 = 0x8182_8384_f5f6_f7f8u64 as i64;
    let got = w.call("store_load", &[Val::I32(8), Val::I64(v)]).unwrap();
    let want = i64s(&[
        v,
        v as i8 as i64,
        v as u8 as i64,
        v as i16 as i64,
        v as u16 as i64,
        v as i32 as i64,
        v as u32 as i64,
    ]);
    assert_eq!(got, want);
    let got = w.call("i32_loads", &i32s(&[4])).unwrap();
    let lo = v as i32;
    assert_eq!(
        got,
        i32s(&[lo, lo as i8 as i32, lo as u8 as i32, lo as i16 as i32, lo as u16 as i32])
    );
    assert_eq!(
        w.call("narrow_stores", &[]).unwrap(),
        i64s(&[0xcdef_89ab_6723_45ff_u64 as i64])
    );
    assert_eq!(
        w.call("floats", &[f32v(1.5), f64v(-2.25)]).unwrap(),
        vec![f32v(1.5), f64v(-2.25)]
    );
}

#[test]
fn out_of_bounds_accesses_trap() {
    let mut w = wasm(
        r#"(module (memory 1)
        (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
        (func (export "load_off") (param i32) (result i32) (i32.load offset=0xffffffff (local.get 0)))
        (func (export "store") (param i32) (i64.store (local.get 0) (i64.const 1))))"#,
    );
    assert_eq!(w.call("load", &i32s(&[65532])).unwrap(), i32s(&[0]));
    assert_eq!(w.trap("load", &i32s(&[65533])), TrapCode::OutOfBounds);
    assert_eq!(w.trap("load", &i32s(&[-1])), TrapCode::OutOfBounds);
    assert_eq!(w.trap("load_off", &i32s(&[1])), TrapCode::OutOfBounds);
    assert_eq!(w.trap("store", &i32s(&[65529])), TrapCode::OutOfBounds);
}

#[test]
fn size_grow_copy_fill() {
    let mut w = wasm(
        r#"(module (memory 1 3)
        (func (export "size") (result i32) (memory.size))
        (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
        (func (export "load8") (param i32) (result i32) (i32.load8_u (local.get 0)))
        (func (export "fill") (param i32 i32 i32) (memory.fill (local.get 0) (local.get 1) (local.get 2)))
        (func (export "copy") (param i32 i32 i32) (memory.copy (local.get 0) (local.get 1) (local.get 2))))"#,
    );
    assert_eq!(w.call("size", &[]).unwrap(), i32s(&[1]));
    assert_eq!(w.call("grow", &i32s(&[1])).unwrap(), i32s(&[1]));
    assert_eq!(w.call("size", &[]).unwrap(), i32s(&[2]));
    assert_eq!(w.call("grow", &i32s(&[2])).unwrap(), i32s(&[-1]));
    assert_eq!(w.call("grow", &i32s(&[1])).unwrap(), i32s(&[2]));
    assert_eq!(w.call("load8", &i32s(&[3 * 65536 - 1])).unwrap(), i32s(&[0]));
    w.call("fill", &i32s(&[10, 0x1ab, 5])).unwrap();
    assert_eq!(w.call("load8", &i32s(&[14])).unwrap(), i32s(&[0xab]));
    assert_eq!(w.call("load8", &i32s(&[15])).unwrap(), i32s(&[0]));
    w.call("copy", &i32s(&[12, 10, 5])).unwrap(); // overlapping
    assert_eq!(w.call("load8", &i32s(&[16])).unwrap(), i32s(&[0xab]));
    assert_eq!(w.call("load8", &i32s(&[17])).unwrap(), i32s(&[0]));
    assert_eq!(w.trap("fill", &i32s(&[3 * 65536 - 2, 0, 3])), TrapCode::OutOfBounds);
    // The trap restarted the domain: memory is back to one page.
    assert_eq!(w.call("size", &[]).unwrap(), i32s(&[1]));
    assert_eq!(w.trap("copy", &i32s(&[0, 65535, 2])), TrapCode::OutOfBounds);
    w.call("copy", &i32s(&[65536, 0, 0])).unwrap(); // empty at the end: in bounds
}

#[test]
fn memory_limits_and_data_segments() {
    let mut w = wasm(
        r#"(module (memory 2)
        (data (i32.const 16) "hello")
        (data (i32.const 18) "LL")
        (func (export "load8") (param i32) (result i32) (i32.load8_u (local.get 0))))"#,
    );
    let d = &w.t.module.domains[0];
    assert_eq!(d.memory.initial, 2);
    assert_eq!(d.memory.maximum, DEFAULT_MAX_PAGES);
    let text: Vec<i32> = (16..21)
        .map(|a| w.call("load8", &i32s(&[a])).unwrap()[0])
        .map(|v| match v {
            Val::I32(x) => x,
            _ => panic!(),
        })
        .collect();
    assert_eq!(text, "heLLo".bytes().map(|b| b as i32).collect::<Vec<_>>());

    let e = translate(&[WasmInput {
        name: "m".into(),
        bytes: br#"(module (memory 1) (data (i32.const 65535) "ab"))"#,
    }])
    .unwrap_err();
    assert_eq!(e.kind, WasmErrorKind::Instantiation, "{e}");
    // No memory: zero pages.
    let w = wasm("(module)");
    assert_eq!(w.t.module.domains[0].memory.maximum, 0);
}

#[test]
fn globals() {
    let mut w = wasm(
        r#"(module
        (global $counter (mut i32) (i32.const 10))
        (global $big i64 (i64.const -5))
        (global $pi f64 (f64.const 3.25))
        (func (export "bump") (result i32)
          (global.set $counter (i32.add (global.get $counter) (i32.const 1)))
          (global.get $counter))
        (func (export "consts") (result i64 f64) (global.get $big) (global.get $pi)))"#,
    );
    assert_eq!(w.call("bump", &[]).unwrap(), i32s(&[11]));
    assert_eq!(w.call("bump", &[]).unwrap(), i32s(&[12]));
    let g = &w.t.module.domains[0].globals;
    assert_eq!((g[0].name.as_str(), g[0].mutable), ("g0", true));
    assert_eq!((g[1].ty, g[1].mutable), (capjit_ir::NumType::I64, false));
    assert_eq!(w.call("consts", &[]).unwrap(), vec![Val::I64(-5), f64v(3.25)]);
}

#[test]
fn call_indirect_through_the_table() {
    let mut w = wasm(
        r#"(module
        (type $bin (func (param i32 i32) (result i32)))
        (type $un (func (param i32) (result i32)))
        (table 5 funcref)
        (elem (i32.const 0) $add $sub $neg)
        (func $add (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
        (func $sub (param i32 i32) (result i32) (i32.sub (local.get 0) (local.get 1)))
        (func $neg (param i32) (result i32) (i32.sub (i32.const 0) (local.get 0)))
        (func (export "bin") (param i32 i32 i32) (result i32)
          (call_indirect (type $bin) (local.get 1) (local.get 2) (local.get 0)))
        (func (export "un") (param i32 i32) (result i32)
          (call_indirect (type $un) (local.get 1) (local.get 0))))"#,
    );
    assert_eq!(w.call("bin", &i32s(&[0, 5, 3])).unwrap(), i32s(&[8]));
    assert_eq!(w.call("bin", &i32s(&[1, 5, 3])).unwrap(), i32s(&[2]));
    assert_eq!(w.call("un", &i32s(&[2, 5])).unwrap(), i32s(&[-5]));
    assert_eq!(w.trap("bin", &i32s(&[2, 5, 3])), TrapCode::IndirectCallType);
    assert_eq!(w.trap("bin", &i32s(&[3, 5, 3])), TrapCode::IndirectCallNull);
    assert_eq!(w.trap("bin", &i32s(&[5, 5, 3])), TrapCode::TableOutOfBounds);
    assert_eq!(w.trap("bin", &i32s(&[-1, 5, 3])), TrapCode::TableOutOfBounds);
    assert_eq!(
        w.t.module.domains[0].tables[0].init,
        vec![Some(0), Some(1), Some(2), None, None]
    );
}

#[test]
fn element_segment_out_of_bounds_is_an_instantiation_error() {
    let e = translate(&[WasmInput {
        name: "m".into(),
        bytes: br#"(module (table 1 funcref) (elem (i32.const 1) $f) (func $f))"#,
    }])
    .unwrap_err();
    assert_eq!(e.kind, WasmErrorKind::Instantiation, "{e}");
}

#[test]
fn global_exports_get_a_getter() {
    let mut w = wasm(
        r#"(module
        (global $c (export "counter") (mut i64) (i64.const 5))
        (global (export "e.pi") f32 (f32.const 3.5))
        (func (export "bump") (global.set $c (i64.add (global.get $c) (i64.const 1)))))"#,
    );
    let g = w.t.global("m", "counter").unwrap().clone();
    assert_eq!(g.getter, "global_counter");
    assert_eq!(w.inst.invoke(&g.domain, &g.getter, &[]).unwrap(), i64s(&[5]));
    w.call("bump", &[]).unwrap();
    assert_eq!(w.inst.invoke(&g.domain, &g.getter, &[]).unwrap(), i64s(&[6]));
    let pi = w.t.global("m", "e.pi").unwrap().clone();
    assert_eq!(w.inst.invoke(&pi.domain, &pi.getter, &[]).unwrap(), vec![f32v(3.5)]);
}
