//! Runtime values as the host and the runtimes exchange them: plain data.

use std::fmt;

use crate::model::{NumType, RefType, Type};

/// A region handle: a slot in the region table and the generation it was issued at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegionHandle {
    pub slot: u32,
    pub generation: u32,
}

/// A value as the interpreter holds it. Floats are kept as bits so that NaN
/// payloads survive loads, stores and moves exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Val {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
    /// Index into the running domain's import (capability) table.
    Cap(u32),
    Region(RegionHandle),
    Buf {
        ptr: u32,
        len: u32,
    },
    /// A function of the running domain by index, or null.
    FuncRef(Option<u32>),
    /// A host handle, or null.
    ExternRef(Option<u32>),
}

impl Val {
    /// Whether this value inhabits `ty`. A `cap` value's signature is fixed by
    /// its import and checked where the value is created.
    pub fn has_type(&self, ty: &Type) -> bool {
        matches!(
            (self, ty),
            (Val::I32(_), Type::I32)
                | (Val::I64(_), Type::I64)
                | (Val::F32(_), Type::F32)
                | (Val::F64(_), Type::F64)
                | (Val::Cap(_), Type::Cap(_))
                | (Val::Region(_), Type::Region)
                | (Val::Buf { .. }, Type::Buf)
                | (Val::FuncRef(_), Type::FuncRef)
                | (Val::ExternRef(_), Type::ExternRef)
        )
    }

    /// Whether the host may pass this value as a parameter of type `ty` to a domain
    /// with `functions` functions: it has the type, and a funcref names one of
    /// them (the host cannot forge a reference to code that is not there).
    pub fn fits(&self, ty: &Type, functions: usize) -> bool {
        self.has_type(ty) && !matches!(*self, Val::FuncRef(Some(f)) if f as usize >= functions)
    }

    pub fn has_num_type(&self, ty: NumType) -> bool {
        matches!(
            (self, ty),
            (Val::I32(_), NumType::I32)
                | (Val::I64(_), NumType::I64)
                | (Val::F32(_), NumType::F32)
                | (Val::F64(_), NumType::F64)
        )
    }

    /// The reference of type `ty` a table entry holds (`None` is null).
    pub fn reference(ty: RefType, entry: Option<u32>) -> Val {
        match ty {
            RefType::Func => Val::FuncRef(entry),
            RefType::Extern => Val::ExternRef(entry),
        }
    }

    /// The entry a reference value is in a table (`None` for null), or `None` when
    /// the value is not a reference.
    pub fn ref_entry(&self) -> Option<Option<u32>> {
        match *self {
            Val::FuncRef(r) | Val::ExternRef(r) => Some(r),
            _ => None,
        }
    }

    /// The zero value of a numeric type.
    pub fn zero(ty: NumType) -> Val {
        match ty {
            NumType::I32 => Val::I32(0),
            NumType::I64 => Val::I64(0),
            NumType::F32 => Val::F32(0),
            NumType::F64 => Val::F64(0),
        }
    }
}

impl fmt::Display for Val {
    /// The typed form used in test headers and traces: `i32:7`, `f64:1.5`, ...
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Val::I32(v) => write!(f, "i32:{v}"),
            Val::I64(v) => write!(f, "i64:{v}"),
            Val::F32(b) => write!(f, "f32:{}", float_text(f32::from_bits(b) as f64, b as u64, 8)),
            Val::F64(b) => write!(f, "f64:{}", float_text(f64::from_bits(b), b, 16)),
            Val::Cap(i) => write!(f, "cap:#{i}"),
            Val::Region(h) => write!(f, "region:#{}.{}", h.slot, h.generation),
            Val::Buf { ptr, len } => write!(f, "buf:{ptr}+{len}"),
            Val::FuncRef(None) => f.write_str("funcref:null"),
            Val::FuncRef(Some(i)) => write!(f, "funcref:#{i}"),
            Val::ExternRef(None) => f.write_str("externref:null"),
            Val::ExternRef(Some(h)) => write!(f, "externref:{h}"),
        }
    }
}

fn float_text(v: f64, bits: u64, hex_digits: usize) -> String {
    if v.is_nan() {
        format!("nan(0x{bits:0hex_digits$x})")
    } else if hex_digits == 8 {
        format!("{:?}", v as f32)
    } else {
        format!("{v:?}")
    }
}
