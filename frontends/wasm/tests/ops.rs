//! Every numeric operator class, translated, verified and run in the interpreter,
//! against Rust's semantics (wrapping integers, Wasm's float rules).

mod common;

use capjit_ir::interp::Val;
use capjit_ir::TrapCode;
use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

const INT_BINOPS: [&str; 15] = [
    "add", "sub", "mul", "div_s", "div_u", "rem_s", "rem_u", "and", "or", "xor", "shl", "shr_s", "shr_u", "rotl",
    "rotr",
];
const INT_CMPS: [&str; 10] = [
    "eq", "ne", "lt_s", "lt_u", "gt_s", "gt_u", "le_s", "le_u", "ge_s", "ge_u",
];
const FLOAT_BINOPS: [&str; 7] = ["add", "sub", "mul", "div", "min", "max", "copysign"];
const FLOAT_UNOPS: [&str; 7] = ["abs", "neg", "ceil", "floor", "trunc", "nearest", "sqrt"];
const FLOAT_CMPS: [&str; 6] = ["eq", "ne", "lt", "gt", "le", "ge"];

/// A module exporting every numeric operator as `TYPE.OP` (e.g. `i32.add`).
fn ops_module() -> String {
    let mut s = String::from("(module\n");
    let mut f = |name: &str, params: &str, result: &str, body: &str| {
        s.push_str(&format!(
            "(func (export \"{name}\") (param {params}) (result {result}) {body})\n"
        ));
    };
    for t in ["i32", "i64"] {
        for op in INT_BINOPS {
            f(
                &format!("{t}.{op}"),
                &format!("{t} {t}"),
                t,
                &format!("local.get 0 local.get 1 {t}.{op}"),
            );
        }
        for op in INT_CMPS {
            f(
                &format!("{t}.{op}"),
                &format!("{t} {t}"),
                "i32",
                &format!("local.get 0 local.get 1 {t}.{op}"),
            );
        }
        for op in ["clz", "ctz", "popcnt", "extend8_s", "extend16_s"] {
            f(&format!("{t}.{op}"), t, t, &format!("local.get 0 {t}.{op}"));
        }
        f(&format!("{t}.eqz"), t, "i32", &format!("local.get 0 {t}.eqz"));
    }
    f("i64.extend32_s", "i64", "i64", "local.get 0 i64.extend32_s");
    for t in ["f32", "f64"] {
        for op in FLOAT_BINOPS {
            f(
                &format!("{t}.{op}"),
                &format!("{t} {t}"),
                t,
                &format!("local.get 0 local.get 1 {t}.{op}"),
            );
        }
        for op in FLOAT_UNOPS {
            f(&format!("{t}.{op}"), t, t, &format!("local.get 0 {t}.{op}"));
        }
        for op in FLOAT_CMPS {
            f(
                &format!("{t}.{op}"),
                &format!("{t} {t}"),
                "i32",
                &format!("local.get 0 local.get 1 {t}.{op}"),
            );
        }
    }
    let conversions = [
        ("i32.wrap_i64", "i64", "i32"),
        ("i64.extend_i32_s", "i32", "i64"),
        ("i64.extend_i32_u", "i32", "i64"),
        ("i32.trunc_f32_s", "f32", "i32"),
        ("i32.trunc_f32_u", "f32", "i32"),
        ("i32.trunc_f64_s", "f64", "i32"),
        ("i32.trunc_f64_u", "f64", "i32"),
        ("i64.trunc_f32_s", "f32", "i64"),
        ("i64.trunc_f32_u", "f32", "i64"),
        ("i64.trunc_f64_s", "f64", "i64"),
        ("i64.trunc_f64_u", "f64", "i64"),
        ("i32.trunc_sat_f32_s", "f32", "i32"),
        ("i32.trunc_sat_f32_u", "f32", "i32"),
        ("i32.trunc_sat_f64_s", "f64", "i32"),
        ("i32.trunc_sat_f64_u", "f64", "i32"),
        ("i64.trunc_sat_f32_s", "f32", "i64"),
        ("i64.trunc_sat_f32_u", "f32", "i64"),
        ("i64.trunc_sat_f64_s", "f64", "i64"),
        ("i64.trunc_sat_f64_u", "f64", "i64"),
        ("f32.convert_i32_s", "i32", "f32"),
        ("f32.convert_i32_u", "i32", "f32"),
        ("f32.convert_i64_s", "i64", "f32"),
        ("f32.convert_i64_u", "i64", "f32"),
        ("f64.convert_i32_s", "i32", "f64"),
        ("f64.convert_i32_u", "i32", "f64"),
        ("f64.convert_i64_s", "i64", "f64"),
        ("f64.convert_i64_u", "i64", "f64"),
        ("f32.demote_f64", "f64", "f32"),
        ("f64.promote_f32", "f32", "f64"),
        ("i32.reinterpret_f32", "f32", "i32"),
        ("i64.reinterpret_f64", "f64", "i64"),
        ("f32.reinterpret_i32", "i32", "f32"),
        ("f64.reinterpret_i64", "i64", "f64"),
    ];
    for (op, from, to) in conversions {
        f(op, from, to, &format!("local.get 0 {op}"));
    }
    f(
        "select",
        "i32 i32 i32",
        "i32",
        "local.get 0 local.get 1 local.get 2 select",
    );
    f(
        "select_f64",
        "f64 f64 i32",
        "f64",
        "local.get 0 local.get 1 local.get 2 select",
    );
    s.push(')');
    s
}

fn i32_binop(op: &str, a: i32, b: i32) -> Result<i32, TrapCode> {
    let (ua, ub) = (a as u32, b as u32);
    Ok(match op {
        "add" => a.wrapping_add(b),
        "sub" => a.wrapping_sub(b),
        "mul" => a.wrapping_mul(b),
        "div_s" | "rem_s" | "div_u" | "rem_u" if b == 0 => return Err(TrapCode::IntDivideByZero),
        "div_s" if a == i32::MIN && b == -1 => return Err(TrapCode::IntOverflow),
        "div_s" => a / b,
        "rem_s" => a.wrapping_rem(b),
        "div_u" => (ua / ub) as i32,
        "rem_u" => (ua % ub) as i32,
        "and" => a & b,
        "or" => a | b,
        "xor" => a ^ b,
        "shl" => a.wrapping_shl(ub),
        "shr_s" => a.wrapping_shr(ub),
        "shr_u" => ua.wrapping_shr(ub) as i32,
        "rotl" => ua.rotate_left(ub % 32) as i32,
        "rotr" => ua.rotate_right(ub % 32) as i32,
        "eq" => (a == b) as i32,
        "ne" => (a != b) as i32,
        "lt_s" => (a < b) as i32,
        "lt_u" => (ua < ub) as i32,
        "gt_s" => (a > b) as i32,
        "gt_u" => (ua > ub) as i32,
        "le_s" => (a <= b) as i32,
        "le_u" => (ua <= ub) as i32,
        "ge_s" => (a >= b) as i32,
        "ge_u" => (ua >= ub) as i32,
        _ => unreachable!("{op}"),
    })
}

fn i64_binop(op: &str, a: i64, b: i64) -> Result<i64, TrapCode> {
    let (ua, ub) = (a as u64, b as u64);
    Ok(match op {
        "add" => a.wrapping_add(b),
        "sub" => a.wrapping_sub(b),
        "mul" => a.wrapping_mul(b),
        "div_s" | "rem_s" | "div_u" | "rem_u" if b == 0 => return Err(TrapCode::IntDivideByZero),
        "div_s" if a == i64::MIN && b == -1 => return Err(TrapCode::IntOverflow),
        "div_s" => a / b,
        "rem_s" => a.wrapping_rem(b),
        "div_u" => (ua / ub) as i64,
        "rem_u" => (ua % ub) as i64,
        "and" => a & b,
        "or" => a | b,
        "xor" => a ^ b,
        "shl" => a.wrapping_shl(ub as u32),
        "shr_s" => a.wrapping_shr(ub as u32),
        "shr_u" => ua.wrapping_shr(ub as u32) as i64,
        "rotl" => ua.rotate_left((ub % 64) as u32) as i64,
        "rotr" => ua.rotate_right((ub % 64) as u32) as i64,
        _ => unreachable!("{op}"),
    })
}

fn i64_cmp(op: &str, a: i64, b: i64) -> i32 {
    let (ua, ub) = (a as u64, b as u64);
    (match op {
        "eq" => a == b,
        "ne" => a != b,
        "lt_s" => a < b,
        "lt_u" => ua < ub,
        "gt_s" => a > b,
        "gt_u" => ua > ub,
        "le_s" => a <= b,
        "le_u" => ua <= ub,
        "ge_s" => a >= b,
        "ge_u" => ua >= ub,
        _ => unreachable!("{op}"),
    }) as i32
}

fn outcome(w: &mut Wasm, name: &str, args: &[Val]) -> Result<Vec<Val>, TrapCode> {
    match w.call(name, args) {
        Ok(v) => Ok(v),
        Err(capjit_ir::interp::RunError::Trap(info)) => Err(info.code),
        Err(e) => panic!("{name}: {e}"),
    }
}

const EDGE32: [i32; 10] = [0, 1, -1, 2, 31, 32, 33, i32::MIN, i32::MAX, 0x1234_5678];
const EDGE64: [i64; 10] = [0, 1, -1, 2, 63, 64, 65, i64::MIN, i64::MAX, 0x1234_5678_9abc_def0];

#[test]
fn integer_binops_and_comparisons_match_rust() {
    let mut w = wasm(&ops_module());
    let check32 = |w: &mut Wasm, a: i32, b: i32| {
        for op in INT_BINOPS.iter().chain(&INT_CMPS) {
            let want = i32_binop(op, a, b).map(|v| i32s(&[v]));
            assert_eq!(
                outcome(w, &format!("i32.{op}"), &i32s(&[a, b])),
                want,
                "i32.{op} {a} {b}"
            );
        }
    };
    let check64 = |w: &mut Wasm, a: i64, b: i64| {
        for op in INT_BINOPS {
            let want = i64_binop(op, a, b).map(|v| i64s(&[v]));
            assert_eq!(
                outcome(w, &format!("i64.{op}"), &i64s(&[a, b])),
                want,
                "i64.{op} {a} {b}"
            );
        }
        for op in INT_CMPS {
            let want = Ok(i32s(&[i64_cmp(op, a, b)]));
            assert_eq!(
                outcome(w, &format!("i64.{op}"), &i64s(&[a, b])),
                want,
                "i64.{op} {a} {b}"
            );
        }
    };
    for a in EDGE32 {
        for b in EDGE32 {
            check32(&mut w, a, b);
        }
    }
    for a in EDGE64 {
        for b in EDGE64 {
            check64(&mut w, a, b);
        }
    }
    let cases = std::env::var("CAPJIT_WASM_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let mut runner = TestRunner::new(Config {
        cases,
        ..Config::default()
    });
    let w = std::cell::RefCell::new(w);
    runner
        .run(
            &(any::<i32>(), any::<i32>(), any::<i64>(), any::<i64>()),
            |(a, b, c, d)| {
                check32(&mut w.borrow_mut(), a, b);
                check64(&mut w.borrow_mut(), c, d);
                Ok(())
            },
        )
        .unwrap();
}

#[test]
fn integer_unops() {
    let mut w = wasm(&ops_module());
    for a in EDGE32.iter().copied().chain([0x80, 0x7f, 0x8000, 0xff00]) {
        let r = |w: &mut Wasm, op: &str| w.call(&format!("i32.{op}"), &i32s(&[a])).unwrap();
        assert_eq!(r(&mut w, "clz"), i32s(&[a.leading_zeros() as i32]));
        assert_eq!(r(&mut w, "ctz"), i32s(&[a.trailing_zeros() as i32]));
        assert_eq!(r(&mut w, "popcnt"), i32s(&[a.count_ones() as i32]));
        assert_eq!(r(&mut w, "eqz"), i32s(&[(a == 0) as i32]));
        assert_eq!(r(&mut w, "extend8_s"), i32s(&[a as i8 as i32]));
        assert_eq!(r(&mut w, "extend16_s"), i32s(&[a as i16 as i32]));
    }
    for a in EDGE64.iter().copied().chain([0x80, 0x8000, 0x8000_0000, 0xffff_ffff]) {
        let r = |w: &mut Wasm, op: &str| w.call(&format!("i64.{op}"), &i64s(&[a])).unwrap();
        assert_eq!(r(&mut w, "clz"), i64s(&[a.leading_zeros() as i64]));
        assert_eq!(r(&mut w, "ctz"), i64s(&[a.trailing_zeros() as i64]));
        assert_eq!(r(&mut w, "popcnt"), i64s(&[a.count_ones() as i64]));
        assert_eq!(r(&mut w, "eqz"), i32s(&[(a == 0) as i32]));
        assert_eq!(r(&mut w, "extend8_s"), i64s(&[a as i8 as i64]));
        assert_eq!(r(&mut w, "extend16_s"), i64s(&[a as i16 as i64]));
        assert_eq!(r(&mut w, "extend32_s"), i64s(&[a as i32 as i64]));
    }
}

fn wasm_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == b {
        if a.is_sign_negative() {
            a
        } else {
            b
        }
    } else {
        a.min(b)
    }
}

fn wasm_max(a: f64, b: f64) -> f64 {
    -wasm_min(-a, -b)
}

fn f64_binop(op: &str, a: f64, b: f64) -> f64 {
    match op {
        "add" => a + b,
        "sub" => a - b,
        "mul" => a * b,
        "div" => a / b,
        "min" => wasm_min(a, b),
        "max" => wasm_max(a, b),
        "copysign" => a.copysign(b),
        _ => unreachable!(),
    }
}

fn f32_binop(op: &str, a: f32, b: f32) -> f32 {
    match op {
        "add" => a + b,
        "sub" => a - b,
        "mul" => a * b,
        "div" => a / b,
        "min" => wasm_min(a as f64, b as f64) as f32,
        "max" => wasm_max(a as f64, b as f64) as f32,
        "copysign" => a.copysign(b),
        _ => unreachable!(),
    }
}

fn f64_unop(op: &str, a: f64) -> f64 {
    match op {
        "abs" => a.abs(),
        "neg" => -a,
        "ceil" => a.ceil(),
        "floor" => a.floor(),
        "trunc" => a.trunc(),
        "nearest" => a.round_ties_even(),
        "sqrt" => a.sqrt(),
        _ => unreachable!(),
    }
}

fn f32_unop(op: &str, a: f32) -> f32 {
    match op {
        "abs" => a.abs(),
        "neg" => -a,
        "ceil" => a.ceil(),
        "floor" => a.floor(),
        "trunc" => a.trunc(),
        "nearest" => a.round_ties_even(),
        "sqrt" => a.sqrt(),
        _ => unreachable!(),
    }
}

fn fcmp(op: &str, a: f64, b: f64) -> i32 {
    (match op {
        "eq" => a == b,
        "ne" => a != b,
        "lt" => a < b,
        "gt" => a > b,
        "le" => a <= b,
        "ge" => a >= b,
        _ => unreachable!(),
    }) as i32
}

/// Same value, or both NaN (the IR canonicalises arithmetic NaNs).
fn same64(got: &[Val], want: f64) -> bool {
    match got {
        [Val::F64(bits)] => {
            let g = f64::from_bits(*bits);
            (g.is_nan() && want.is_nan()) || *bits == want.to_bits()
        }
        _ => false,
    }
}

fn same32(got: &[Val], want: f32) -> bool {
    match got {
        [Val::F32(bits)] => {
            let g = f32::from_bits(*bits);
            (g.is_nan() && want.is_nan()) || *bits == want.to_bits()
        }
        _ => false,
    }
}

#[test]
fn float_ops() {
    let mut w = wasm(&ops_module());
    let vals = [
        0.0,
        -0.0,
        1.0,
        -1.5,
        2.5,
        0.5,
        -0.5,
        3.7,
        1e300,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        f64::MIN_POSITIVE,
    ];
    for a in vals {
        for op in FLOAT_UNOPS {
            let got = w.call(&format!("f64.{op}"), &[f64v(a)]).unwrap();
            assert!(same64(&got, f64_unop(op, a)), "f64.{op} {a}: {got:?}");
            let a32 = a as f32;
            let got = w.call(&format!("f32.{op}"), &[f32v(a32)]).unwrap();
            assert!(same32(&got, f32_unop(op, a32)), "f32.{op} {a32}: {got:?}");
        }
        for b in vals {
            for op in FLOAT_BINOPS {
                let got = w.call(&format!("f64.{op}"), &[f64v(a), f64v(b)]).unwrap();
                assert!(same64(&got, f64_binop(op, a, b)), "f64.{op} {a} {b}: {got:?}");
                let (a32, b32) = (a as f32, b as f32);
                let got = w.call(&format!("f32.{op}"), &[f32v(a32), f32v(b32)]).unwrap();
                assert!(same32(&got, f32_binop(op, a32, b32)), "f32.{op} {a32} {b32}: {got:?}");
            }
            for op in FLOAT_CMPS {
                let want = i32s(&[fcmp(op, a, b)]);
                assert_eq!(w.call(&format!("f64.{op}"), &[f64v(a), f64v(b)]).unwrap(), want);
                let want32 = i32s(&[fcmp(op, a as f32 as f64, b as f32 as f64)]);
                assert_eq!(
                    w.call(&format!("f32.{op}"), &[f32v(a as f32), f32v(b as f32)]).unwrap(),
                    want32
                );
            }
        }
    }
    // abs, neg and copysign keep NaN payloads.
    let nan = Val::F64(0x7ff4_0000_0000_0001);
    assert_eq!(
        w.call("f64.neg", &[nan]).unwrap(),
        vec![Val::F64(0xfff4_0000_0000_0001)]
    );
}

#[test]
fn conversions() {
    let mut w = wasm(&ops_module());
    let mut ok = |name: &str, arg: Val, want: Val| {
        assert_eq!(w.call(name, &[arg]).unwrap(), vec![want], "{name} {arg}");
    };
    ok("i32.wrap_i64", Val::I64(0x1_2345_6789), Val::I32(0x2345_6789));
    ok("i64.extend_i32_s", Val::I32(-2), Val::I64(-2));
    ok("i64.extend_i32_u", Val::I32(-2), Val::I64(0xffff_fffe));
    ok("i32.trunc_f64_s", f64v(-3.9), Val::I32(-3));
    ok("i32.trunc_f64_u", f64v(4294967295.5), Val::I32(-1));
    ok("i32.trunc_f32_s", f32v(-2.5), Val::I32(-2));
    ok("i32.trunc_f32_u", f32v(3.5), Val::I32(3));
    ok("i64.trunc_f64_s", f64v(-1e18), Val::I64(-1_000_000_000_000_000_000));
    ok(
        "i64.trunc_f64_u",
        f64v(1.8e19),
        Val::I64(18_000_000_000_000_000_000u64 as i64),
    );
    ok("i64.trunc_f32_s", f32v(-7.0), Val::I64(-7));
    ok("i64.trunc_f32_u", f32v(7.9), Val::I64(7));
    ok("i32.trunc_sat_f64_s", f64v(1e20), Val::I32(i32::MAX));
    ok("i32.trunc_sat_f64_s", f64v(-1e20), Val::I32(i32::MIN));
    ok("i32.trunc_sat_f64_u", f64v(-5.0), Val::I32(0));
    ok("i32.trunc_sat_f32_u", f32v(f32::NAN), Val::I32(0));
    ok("i32.trunc_sat_f32_s", f32v(f32::INFINITY), Val::I32(i32::MAX));
    ok("i64.trunc_sat_f64_u", f64v(1e30), Val::I64(-1));
    ok("i64.trunc_sat_f64_s", f64v(f64::NAN), Val::I64(0));
    ok("i64.trunc_sat_f32_s", f32v(-1e30), Val::I64(i64::MIN));
    ok("i64.trunc_sat_f32_u", f32v(2.5), Val::I64(2));
    ok("f32.convert_i32_s", Val::I32(-3), f32v(-3.0));
    ok("f32.convert_i32_u", Val::I32(-1), f32v(4294967296.0));
    ok("f32.convert_i64_s", Val::I64(-5), f32v(-5.0));
    ok("f32.convert_i64_u", Val::I64(-1), f32v(18446744073709551616.0));
    ok("f64.convert_i32_s", Val::I32(i32::MIN), f64v(-2147483648.0));
    ok("f64.convert_i32_u", Val::I32(-1), f64v(4294967295.0));
    ok("f64.convert_i64_s", Val::I64(1 << 53), f64v(9007199254740992.0));
    ok("f64.convert_i64_u", Val::I64(-1), f64v(18446744073709551616.0));
    ok("f32.demote_f64", f64v(0.1), f32v(0.1));
    ok("f64.promote_f32", f32v(0.5), f64v(0.5));
    ok("i32.reinterpret_f32", f32v(1.0), Val::I32(0x3f80_0000));
    ok("i64.reinterpret_f64", f64v(-0.0), Val::I64(i64::MIN));
    ok("f32.reinterpret_i32", Val::I32(0x7fa0_0001), Val::F32(0x7fa0_0001));
    ok("f64.reinterpret_i64", Val::I64(0x4000_0000_0000_0000), f64v(2.0));
}

#[test]
fn select_and_conversion_traps() {
    let mut w = wasm(&ops_module());
    assert_eq!(w.call("select", &i32s(&[10, 20, 1])).unwrap(), i32s(&[10]));
    assert_eq!(w.call("select", &i32s(&[10, 20, 0])).unwrap(), i32s(&[20]));
    assert_eq!(
        w.call("select_f64", &[f64v(1.5), f64v(2.5), Val::I32(-7)]).unwrap(),
        vec![f64v(1.5)]
    );
    assert_eq!(w.trap("i32.trunc_f64_s", &[f64v(f64::NAN)]), TrapCode::BadConversion);
    assert_eq!(w.trap("i32.trunc_f64_s", &[f64v(2147483648.0)]), TrapCode::IntOverflow);
    assert_eq!(w.trap("i32.trunc_f32_u", &[f32v(-1.0)]), TrapCode::IntOverflow);
    assert_eq!(w.trap("i64.trunc_f64_u", &[f64v(f64::INFINITY)]), TrapCode::IntOverflow);
    assert_eq!(w.trap("i64.trunc_f32_s", &[f32v(f32::NAN)]), TrapCode::BadConversion);
    assert_eq!(w.trap("i32.div_s", &i32s(&[i32::MIN, -1])), TrapCode::IntOverflow);
    assert_eq!(w.trap("i64.rem_u", &i64s(&[5, 0])), TrapCode::IntDivideByZero);
}

#[test]
fn export_names_are_mangled_and_mapped() {
    let w = wasm(&ops_module());
    let e = w.t.export("m", "i32.add").unwrap();
    assert_eq!(e.function, "i32_x2e_add");
    assert_eq!(e.domain, "m");
    // The printed module parses back: every name is an identifier.
    let text = capjit_ir::print_module(&w.t.module);
    let back = capjit_ir::parse_module(&text).unwrap();
    assert_eq!(back.domains[0].functions.len(), w.t.module.domains[0].functions.len());
}
