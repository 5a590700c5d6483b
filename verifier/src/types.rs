//! Compact type ids for the scratch tables, and which operations, conversions and
//! memory accesses are defined for which types.
//!
//! Invariant protected: every value has exactly one type, fixed by the operation
//! that defines it (never inferred from operands), and capability types compare by
//! their full signature.

use std::collections::HashMap;

use capjit_ir::{ConvOp, MemAccess, NumType, RefType, Signature, Type, UnOp};

pub type TypeId = u32;
pub const I32: TypeId = 0;
pub const I64: TypeId = 1;
pub const F32: TypeId = 2;
pub const F64: TypeId = 3;
pub const REGION: TypeId = 4;
pub const BUF: TypeId = 5;
pub const FUNCREF: TypeId = 6;
pub const EXTERNREF: TypeId = 7;
const FIRST_CAP: TypeId = 8;

/// Interns capability signatures of one function so types compare as integers.
#[derive(Default)]
pub struct TypeTable {
    caps: Vec<Signature>,
    ids: HashMap<Signature, TypeId>,
}

impl TypeTable {
    pub fn clear(&mut self) {
        self.caps.clear();
        self.ids.clear();
    }

    #[inline]
    pub fn id(&mut self, t: &Type) -> TypeId {
        match t {
            Type::I32 => I32,
            Type::I64 => I64,
            Type::F32 => F32,
            Type::F64 => F64,
            Type::Region => REGION,
            Type::Buf => BUF,
            Type::FuncRef => FUNCREF,
            Type::ExternRef => EXTERNREF,
            Type::Cap(sig) => self.cap_id(sig),
        }
    }

    /// The id of `cap<sig>`.
    #[inline(never)]
    pub fn cap_id(&mut self, sig: &Signature) -> TypeId {
        if let Some(id) = self.ids.get(sig) {
            return *id;
        }
        let id = FIRST_CAP + self.caps.len() as TypeId;
        self.caps.push(sig.clone());
        self.ids.insert(sig.clone(), id);
        id
    }

    /// The type's text, for messages.
    pub fn name(&self, id: TypeId) -> String {
        match id {
            I32 => "i32".into(),
            I64 => "i64".into(),
            F32 => "f32".into(),
            F64 => "f64".into(),
            REGION => "region".into(),
            BUF => "buf".into(),
            FUNCREF => "funcref".into(),
            EXTERNREF => "externref".into(),
            _ => match self.caps.get((id - FIRST_CAP) as usize) {
                Some(sig) => format!("cap<{sig}>"),
                None => "?".into(),
            },
        }
    }

    /// The signature of a capability type.
    pub fn cap_signature(&self, id: TypeId) -> Option<&Signature> {
        id.checked_sub(FIRST_CAP).and_then(|i| self.caps.get(i as usize))
    }
}

pub fn num(t: NumType) -> TypeId {
    match t {
        NumType::I32 => I32,
        NumType::I64 => I64,
        NumType::F32 => F32,
        NumType::F64 => F64,
    }
}

/// The type id of references of type `t`.
pub fn ref_id(t: RefType) -> TypeId {
    match t {
        RefType::Func => FUNCREF,
        RefType::Extern => EXTERNREF,
    }
}

/// Bits of an integer type id (the width facts are read at).
pub fn int_bits(t: TypeId) -> Option<u32> {
    match t {
        I32 => Some(32),
        I64 => Some(64),
        _ => None,
    }
}

/// Whether a memory access shape is well-formed: 1, 2, 4 or 8 bytes, no wider
/// than its type, narrow only for integers, sign-extension only when narrow.
pub fn access_ok(a: MemAccess) -> bool {
    let width = a.ty.bytes();
    let narrow = a.bytes < width;
    matches!(a.bytes, 1 | 2 | 4 | 8) && a.bytes <= width && (!narrow || a.ty.is_int()) && (!a.signed || narrow)
}

/// Whether a conversion is defined between these types.
pub fn conversion_ok(op: ConvOp, from: NumType, to: NumType) -> bool {
    use NumType::*;
    let float = |t| matches!(t, F32 | F64);
    match op {
        ConvOp::Wrap => from == I64 && to == I32,
        ConvOp::Uextend | ConvOp::Sextend => from == I32 && to == I64,
        ConvOp::FtoSint | ConvOp::FtoUint | ConvOp::FtoSintSat | ConvOp::FtoUintSat => float(from) && to.is_int(),
        ConvOp::SintToF | ConvOp::UintToF => from.is_int() && float(to),
        ConvOp::Promote => from == F32 && to == F64,
        ConvOp::Demote => from == F64 && to == F32,
        ConvOp::Bitcast => matches!((from, to), (I32, F32) | (F32, I32) | (I64, F64) | (F64, I64)),
    }
}

/// Whether a unary operation is defined on a type.
pub fn unary_ok(op: UnOp, ty: NumType) -> bool {
    match op {
        UnOp::Clz | UnOp::Ctz | UnOp::Popcnt | UnOp::Sext8 | UnOp::Sext16 => ty.is_int(),
        UnOp::Sext32 => ty == NumType::I64,
        UnOp::Fneg | UnOp::Fabs | UnOp::Fsqrt | UnOp::Fceil | UnOp::Ffloor | UnOp::Ftrunc | UnOp::Fnearest => {
            !ty.is_int()
        }
    }
}
