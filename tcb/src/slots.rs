//! Values as 64-bit slots: how arguments and results cross between the runtime and
//! generated code (entry trampolines, `call_cap`), and how globals are stored.
//!
//! Invariant protected: a slot is read back with the same type it was written with,
//! so a number can never be reinterpreted as a region handle or capability.

use capjit_ir::{Const, Type, Val};

use capjit_ir::RegionHandle;

use crate::ctx::REF_NULL;

/// Encode a value: integers and floats by their bits (zero-extended), regions and
/// bufs packed as `low | high << 32`, capabilities by import index, references
/// by function index or host handle ([`REF_NULL`] for null).
pub fn to_slot(v: Val) -> u64 {
    match v {
        Val::I32(x) => x as u32 as u64,
        Val::I64(x) => x as u64,
        Val::F32(b) => b as u64,
        Val::F64(b) => b,
        Val::Region(h) => pack_region(h),
        Val::Buf { ptr, len } => ptr as u64 | (len as u64) << 32,
        Val::Cap(i) => i as u64,
        Val::FuncRef(r) | Val::ExternRef(r) => r.map_or(REF_NULL, u64::from),
    }
}

/// The slot of a constant (a global's initial value): its bits, zero-extended.
pub fn const_slot(c: Const) -> u64 {
    match c {
        Const::I32(x) => to_slot(Val::I32(x)),
        Const::I64(x) => to_slot(Val::I64(x)),
        Const::F32(b) => to_slot(Val::F32(b)),
        Const::F64(b) => to_slot(Val::F64(b)),
    }
}

/// Decode a slot written for a value of type `ty`.
pub fn from_slot(ty: &Type, s: u64) -> Val {
    match ty {
        Type::I32 => Val::I32(s as u32 as i32),
        Type::I64 => Val::I64(s as i64),
        Type::F32 => Val::F32(s as u32),
        Type::F64 => Val::F64(s),
        Type::Region => Val::Region(unpack_region(s)),
        Type::Buf => Val::Buf {
            ptr: s as u32,
            len: (s >> 32) as u32,
        },
        Type::Cap(_) => Val::Cap(s as u32),
        Type::FuncRef => Val::FuncRef(reference(s)),
        Type::ExternRef => Val::ExternRef(reference(s)),
    }
}

/// The reference a slot holds: `None` for [`REF_NULL`], else the function index or
/// host handle (which generated code never changes, so it fits in 32 bits).
fn reference(s: u64) -> Option<u32> {
    (s != REF_NULL).then_some(s as u32)
}

/// A region handle as one 64-bit word, the way generated code carries it.
pub fn pack_region(h: RegionHandle) -> u64 {
    h.slot as u64 | (h.generation as u64) << 32
}

pub fn unpack_region(word: u64) -> RegionHandle {
    RegionHandle {
        slot: word as u32,
        generation: (word >> 32) as u32,
    }
}
