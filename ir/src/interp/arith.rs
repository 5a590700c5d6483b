//! Pure semantics of arithmetic, comparison and conversion instructions.
//!
//! This is the reference every other implementation (the JIT, constant folding in
//! the optimiser) must agree with. Integers wrap; shifts take the amount modulo the
//! width; float arithmetic that produces a NaN produces the canonical quiet NaN,
//! while `fneg`, `fabs`, `fcopysign` and moves keep NaN bits exactly.

use crate::model::{BinOp, ConvOp, FloatCC, IntCC, NumType, UnOp};
use crate::trap::TrapCode;

use crate::value::Val;

/// Why an operation could not produce a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArithError {
    Trap(TrapCode),
    /// Operand types do not fit the operation (the verifier rejects such code).
    Type(String),
}

type R = Result<Val, ArithError>;

const CANON_NAN32: u32 = 0x7fc0_0000;
const CANON_NAN64: u64 = 0x7ff8_0000_0000_0000;

fn f32v(f: f32) -> Val {
    Val::F32(if f.is_nan() { CANON_NAN32 } else { f.to_bits() })
}

fn f64v(f: f64) -> Val {
    Val::F64(if f.is_nan() { CANON_NAN64 } else { f.to_bits() })
}

fn type_err(what: &str, ty: NumType, vals: &[Val]) -> ArithError {
    ArithError::Type(format!("`{what}.{ty}` applied to {vals:?}"))
}

/// `fmin`/`fmax` as WebAssembly defines them: NaN wins, and -0 < +0.
fn fmin64(a: f64, b: f64) -> f64 {
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

fn fmax64(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == b {
        if a.is_sign_positive() {
            a
        } else {
            b
        }
    } else {
        a.max(b)
    }
}

fn fmin32(a: f32, b: f32) -> f32 {
    fmin64(a as f64, b as f64) as f32
}

fn fmax32(a: f32, b: f32) -> f32 {
    fmax64(a as f64, b as f64) as f32
}

pub fn binary(op: BinOp, ty: NumType, a: Val, b: Val) -> R {
    use BinOp::*;
    let name = crate::names::binop_name(op);
    match (a, b) {
        (Val::I32(x), Val::I32(y)) if ty == NumType::I32 => Ok(Val::I32(match op {
            Iadd => x.wrapping_add(y),
            Isub => x.wrapping_sub(y),
            Imul => x.wrapping_mul(y),
            Sdiv => sdiv32(x, y)?,
            Udiv => (x as u32)
                .checked_div(y as u32)
                .ok_or(ArithError::Trap(TrapCode::IntDivideByZero))? as i32,
            Srem => {
                if y == 0 {
                    return Err(ArithError::Trap(TrapCode::IntDivideByZero));
                }
                x.wrapping_rem(y)
            }
            Urem => (x as u32)
                .checked_rem(y as u32)
                .ok_or(ArithError::Trap(TrapCode::IntDivideByZero))? as i32,
            Band => x & y,
            Bor => x | y,
            Bxor => x ^ y,
            Ishl => x.wrapping_shl(y as u32),
            Ushr => (x as u32).wrapping_shr(y as u32) as i32,
            Sshr => x.wrapping_shr(y as u32),
            Rotl => x.rotate_left(y as u32 % 32),
            Rotr => x.rotate_right(y as u32 % 32),
            _ => return Err(type_err(name, ty, &[a, b])),
        })),
        (Val::I64(x), Val::I64(y)) if ty == NumType::I64 => Ok(Val::I64(match op {
            Iadd => x.wrapping_add(y),
            Isub => x.wrapping_sub(y),
            Imul => x.wrapping_mul(y),
            Sdiv => sdiv64(x, y)?,
            Udiv => (x as u64)
                .checked_div(y as u64)
                .ok_or(ArithError::Trap(TrapCode::IntDivideByZero))? as i64,
            Srem => {
                if y == 0 {
                    return Err(ArithError::Trap(TrapCode::IntDivideByZero));
                }
                x.wrapping_rem(y)
            }
            Urem => (x as u64)
                .checked_rem(y as u64)
                .ok_or(ArithError::Trap(TrapCode::IntDivideByZero))? as i64,
            Band => x & y,
            Bor => x | y,
            Bxor => x ^ y,
            Ishl => x.wrapping_shl(y as u32),
            Ushr => (x as u64).wrapping_shr(y as u32) as i64,
            Sshr => x.wrapping_shr(y as u32),
            Rotl => x.rotate_left((y as u64 % 64) as u32),
            Rotr => x.rotate_right((y as u64 % 64) as u32),
            _ => return Err(type_err(name, ty, &[a, b])),
        })),
        (Val::F32(x), Val::F32(y)) if ty == NumType::F32 => {
            let (x, y) = (f32::from_bits(x), f32::from_bits(y));
            Ok(match op {
                Fadd => f32v(x + y),
                Fsub => f32v(x - y),
                Fmul => f32v(x * y),
                Fdiv => f32v(x / y),
                Fmin => f32v(fmin32(x, y)),
                Fmax => f32v(fmax32(x, y)),
                Fcopysign => Val::F32((x.to_bits() & 0x7fff_ffff) | (y.to_bits() & 0x8000_0000)),
                _ => return Err(type_err(name, ty, &[a, b])),
            })
        }
        (Val::F64(x), Val::F64(y)) if ty == NumType::F64 => {
            let (x, y) = (f64::from_bits(x), f64::from_bits(y));
            Ok(match op {
                Fadd => f64v(x + y),
                Fsub => f64v(x - y),
                Fmul => f64v(x * y),
                Fdiv => f64v(x / y),
                Fmin => f64v(fmin64(x, y)),
                Fmax => f64v(fmax64(x, y)),
                Fcopysign => Val::F64((x.to_bits() & !(1 << 63)) | (y.to_bits() & (1 << 63))),
                _ => return Err(type_err(name, ty, &[a, b])),
            })
        }
        _ => Err(type_err(name, ty, &[a, b])),
    }
}

fn sdiv32(x: i32, y: i32) -> Result<i32, ArithError> {
    if y == 0 {
        Err(ArithError::Trap(TrapCode::IntDivideByZero))
    } else if x == i32::MIN && y == -1 {
        Err(ArithError::Trap(TrapCode::IntOverflow))
    } else {
        Ok(x / y)
    }
}

fn sdiv64(x: i64, y: i64) -> Result<i64, ArithError> {
    if y == 0 {
        Err(ArithError::Trap(TrapCode::IntDivideByZero))
    } else if x == i64::MIN && y == -1 {
        Err(ArithError::Trap(TrapCode::IntOverflow))
    } else {
        Ok(x / y)
    }
}

pub fn unary(op: UnOp, ty: NumType, a: Val) -> R {
    use UnOp::*;
    let name = crate::names::unop_name(op);
    match a {
        Val::I32(x) if ty == NumType::I32 => Ok(Val::I32(match op {
            Clz => x.leading_zeros() as i32,
            Ctz => x.trailing_zeros() as i32,
            Popcnt => x.count_ones() as i32,
            Sext8 => x as i8 as i32,
            Sext16 => x as i16 as i32,
            _ => return Err(type_err(name, ty, &[a])),
        })),
        Val::I64(x) if ty == NumType::I64 => Ok(Val::I64(match op {
            Clz => x.leading_zeros() as i64,
            Ctz => x.trailing_zeros() as i64,
            Popcnt => x.count_ones() as i64,
            Sext8 => x as i8 as i64,
            Sext16 => x as i16 as i64,
            Sext32 => x as i32 as i64,
            _ => return Err(type_err(name, ty, &[a])),
        })),
        Val::F32(bits) if ty == NumType::F32 => {
            let x = f32::from_bits(bits);
            Ok(match op {
                Fneg => Val::F32(bits ^ 0x8000_0000),
                Fabs => Val::F32(bits & 0x7fff_ffff),
                Fsqrt => f32v(x.sqrt()),
                Fceil => f32v(x.ceil()),
                Ffloor => f32v(x.floor()),
                Ftrunc => f32v(x.trunc()),
                Fnearest => f32v(x.round_ties_even()),
                _ => return Err(type_err(name, ty, &[a])),
            })
        }
        Val::F64(bits) if ty == NumType::F64 => {
            let x = f64::from_bits(bits);
            Ok(match op {
                Fneg => Val::F64(bits ^ (1 << 63)),
                Fabs => Val::F64(bits & !(1 << 63)),
                Fsqrt => f64v(x.sqrt()),
                Fceil => f64v(x.ceil()),
                Ffloor => f64v(x.floor()),
                Ftrunc => f64v(x.trunc()),
                Fnearest => f64v(x.round_ties_even()),
                _ => return Err(type_err(name, ty, &[a])),
            })
        }
        _ => Err(type_err(name, ty, &[a])),
    }
}

pub fn icmp(cc: IntCC, ty: NumType, a: Val, b: Val) -> R {
    let (x, y, bits) = match (a, b) {
        (Val::I32(x), Val::I32(y)) if ty == NumType::I32 => (x as i64, y as i64, 32),
        (Val::I64(x), Val::I64(y)) if ty == NumType::I64 => (x, y, 64),
        _ => return Err(type_err("icmp", ty, &[a, b])),
    };
    let mask = if bits == 32 { u32::MAX as u64 } else { u64::MAX };
    let (ux, uy) = (x as u64 & mask, y as u64 & mask);
    let r = match cc {
        IntCC::Eq => x == y,
        IntCC::Ne => x != y,
        IntCC::Slt => x < y,
        IntCC::Sle => x <= y,
        IntCC::Sgt => x > y,
        IntCC::Sge => x >= y,
        IntCC::Ult => ux < uy,
        IntCC::Ule => ux <= uy,
        IntCC::Ugt => ux > uy,
        IntCC::Uge => ux >= uy,
    };
    Ok(Val::I32(r as i32))
}

pub fn fcmp(cc: FloatCC, ty: NumType, a: Val, b: Val) -> R {
    let (x, y) = match (a, b) {
        (Val::F32(x), Val::F32(y)) if ty == NumType::F32 => (f32::from_bits(x) as f64, f32::from_bits(y) as f64),
        (Val::F64(x), Val::F64(y)) if ty == NumType::F64 => (f64::from_bits(x), f64::from_bits(y)),
        _ => return Err(type_err("fcmp", ty, &[a, b])),
    };
    let r = match cc {
        FloatCC::Eq => x == y,
        FloatCC::Ne => x != y,
        FloatCC::Lt => x < y,
        FloatCC::Le => x <= y,
        FloatCC::Gt => x > y,
        FloatCC::Ge => x >= y,
    };
    Ok(Val::I32(r as i32))
}

/// A float as f64 (exact for f32), or a type error.
fn float_operand(from: NumType, a: Val) -> Result<f64, ArithError> {
    match (from, a) {
        (NumType::F32, Val::F32(b)) => Ok(f32::from_bits(b) as f64),
        (NumType::F64, Val::F64(b)) => Ok(f64::from_bits(b)),
        _ => Err(type_err("float conversion", from, &[a])),
    }
}

/// Trapping float-to-int: NaN is `bad_conversion`, out of range is `int_overflow`.
fn trunc_checked(x: f64, lo_exclusive: f64, hi_exclusive: f64) -> Result<f64, ArithError> {
    if x.is_nan() {
        return Err(ArithError::Trap(TrapCode::BadConversion));
    }
    let t = x.trunc();
    if t <= lo_exclusive || t >= hi_exclusive {
        return Err(ArithError::Trap(TrapCode::IntOverflow));
    }
    Ok(t)
}

pub fn convert(op: ConvOp, from: NumType, to: NumType, a: Val) -> R {
    use ConvOp::*;
    use NumType::*;
    let bad = || Err(type_err(crate::names::conv_name(op), to, &[a]));
    match (op, from, to, a) {
        (Wrap, I64, I32, Val::I64(x)) => Ok(Val::I32(x as i32)),
        (Uextend, I32, I64, Val::I32(x)) => Ok(Val::I64(x as u32 as i64)),
        (Sextend, I32, I64, Val::I32(x)) => Ok(Val::I64(x as i64)),
        (FtoSint, F32 | F64, I32, _) => {
            let t = trunc_checked(float_operand(from, a)?, -2147483649.0, 2147483648.0)?;
            Ok(Val::I32(t as i32))
        }
        (FtoSint, F32 | F64, I64, _) => {
            let t = trunc_checked(float_operand(from, a)?, -9223372036854777856.0, 9223372036854775808.0)?;
            Ok(Val::I64(t as i64))
        }
        (FtoUint, F32 | F64, I32, _) => {
            let t = trunc_checked(float_operand(from, a)?, -1.0, 4294967296.0)?;
            Ok(Val::I32(t as u32 as i32))
        }
        (FtoUint, F32 | F64, I64, _) => {
            let t = trunc_checked(float_operand(from, a)?, -1.0, 18446744073709551616.0)?;
            Ok(Val::I64(t as u64 as i64))
        }
        (FtoSintSat, F32 | F64, I32, _) => Ok(Val::I32(float_operand(from, a)? as i32)),
        (FtoSintSat, F32 | F64, I64, _) => Ok(Val::I64(float_operand(from, a)? as i64)),
        (FtoUintSat, F32 | F64, I32, _) => Ok(Val::I32(float_operand(from, a)? as u32 as i32)),
        (FtoUintSat, F32 | F64, I64, _) => Ok(Val::I64(float_operand(from, a)? as u64 as i64)),
        (SintToF, I32, F32, Val::I32(x)) => Ok(f32v(x as f32)),
        (SintToF, I32, F64, Val::I32(x)) => Ok(f64v(x as f64)),
        (SintToF, I64, F32, Val::I64(x)) => Ok(f32v(x as f32)),
        (SintToF, I64, F64, Val::I64(x)) => Ok(f64v(x as f64)),
        (UintToF, I32, F32, Val::I32(x)) => Ok(f32v(x as u32 as f32)),
        (UintToF, I32, F64, Val::I32(x)) => Ok(f64v(x as u32 as f64)),
        (UintToF, I64, F32, Val::I64(x)) => Ok(f32v(x as u64 as f32)),
        (UintToF, I64, F64, Val::I64(x)) => Ok(f64v(x as u64 as f64)),
        (Promote, F32, F64, Val::F32(b)) => Ok(f64v(f32::from_bits(b) as f64)),
        (Demote, F64, F32, Val::F64(b)) => Ok(f32v(f64::from_bits(b) as f32)),
        (Bitcast, I32, F32, Val::I32(x)) => Ok(Val::F32(x as u32)),
        (Bitcast, F32, I32, Val::F32(b)) => Ok(Val::I32(b as i32)),
        (Bitcast, I64, F64, Val::I64(x)) => Ok(Val::F64(x as u64)),
        (Bitcast, F64, I64, Val::F64(b)) => Ok(Val::I64(b as i64)),
        _ => bad(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn division_traps() {
        let t = |r: R| match r {
            Err(ArithError::Trap(t)) => Some(t),
            _ => None,
        };
        assert_eq!(
            t(binary(BinOp::Sdiv, NumType::I32, Val::I32(1), Val::I32(0))),
            Some(TrapCode::IntDivideByZero)
        );
        assert_eq!(
            t(binary(BinOp::Sdiv, NumType::I32, Val::I32(i32::MIN), Val::I32(-1))),
            Some(TrapCode::IntOverflow)
        );
        assert_eq!(
            binary(BinOp::Srem, NumType::I32, Val::I32(i32::MIN), Val::I32(-1)),
            Ok(Val::I32(0))
        );
        assert_eq!(
            t(binary(BinOp::Urem, NumType::I64, Val::I64(1), Val::I64(0))),
            Some(TrapCode::IntDivideByZero)
        );
    }

    #[test]
    fn conversions_at_the_edges() {
        let cv = |op, from, to, a| convert(op, from, to, a);
        let f = |x: f64| Val::F64(x.to_bits());
        assert_eq!(
            cv(ConvOp::FtoSint, NumType::F64, NumType::I32, f(2147483647.9)),
            Ok(Val::I32(i32::MAX))
        );
        assert_eq!(
            cv(ConvOp::FtoSint, NumType::F64, NumType::I32, f(2147483648.0)),
            Err(ArithError::Trap(TrapCode::IntOverflow))
        );
        assert_eq!(
            cv(ConvOp::FtoSint, NumType::F64, NumType::I32, f(-2147483648.9)),
            Ok(Val::I32(i32::MIN))
        );
        assert_eq!(
            cv(ConvOp::FtoUint, NumType::F64, NumType::I32, f(-0.9)),
            Ok(Val::I32(0))
        );
        assert_eq!(
            cv(ConvOp::FtoUint, NumType::F64, NumType::I64, f(f64::NAN)),
            Err(ArithError::Trap(TrapCode::BadConversion))
        );
        assert_eq!(
            cv(ConvOp::FtoSintSat, NumType::F64, NumType::I64, f(1e300)),
            Ok(Val::I64(i64::MAX))
        );
        assert_eq!(
            cv(ConvOp::FtoSint, NumType::F64, NumType::I64, f(-9223372036854775808.0)),
            Ok(Val::I64(i64::MIN))
        );
    }

    #[test]
    fn float_min_max_and_nearest() {
        let f = |x: f64| Val::F64(x.to_bits());
        assert_eq!(binary(BinOp::Fmin, NumType::F64, f(0.0), f(-0.0)), Ok(f(-0.0)));
        assert_eq!(binary(BinOp::Fmax, NumType::F64, f(-0.0), f(0.0)), Ok(f(0.0)));
        assert_eq!(
            binary(BinOp::Fmax, NumType::F64, f(1.0), f(f64::NAN)),
            Ok(Val::F64(CANON_NAN64))
        );
        assert_eq!(unary(UnOp::Fnearest, NumType::F64, f(2.5)), Ok(f(2.0)));
        assert_eq!(unary(UnOp::Fnearest, NumType::F64, f(-3.5)), Ok(f(-4.0)));
    }
}
