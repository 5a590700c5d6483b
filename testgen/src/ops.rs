//! The operations a generator draws from, with the types the verifier accepts
//! them on.

use capjit_ir::{BinOp, ConvOp, FloatCC, NumType, Op, UnOp, Value};

pub const NUM_TYPES: [NumType; 4] = [NumType::I32, NumType::I64, NumType::F32, NumType::F64];

pub const INT_BINOPS: [BinOp; 15] = [
    BinOp::Iadd,
    BinOp::Isub,
    BinOp::Imul,
    BinOp::Sdiv,
    BinOp::Udiv,
    BinOp::Srem,
    BinOp::Urem,
    BinOp::Band,
    BinOp::Bor,
    BinOp::Bxor,
    BinOp::Ishl,
    BinOp::Ushr,
    BinOp::Sshr,
    BinOp::Rotl,
    BinOp::Rotr,
];

pub const FLOAT_BINOPS: [BinOp; 7] = [
    BinOp::Fadd,
    BinOp::Fsub,
    BinOp::Fmul,
    BinOp::Fdiv,
    BinOp::Fmin,
    BinOp::Fmax,
    BinOp::Fcopysign,
];

/// `sext32` only on `i64`.
pub const INT_UNOPS: [UnOp; 6] = [
    UnOp::Clz,
    UnOp::Ctz,
    UnOp::Popcnt,
    UnOp::Sext8,
    UnOp::Sext16,
    UnOp::Sext32,
];

pub const FLOAT_UNOPS: [UnOp; 7] = [
    UnOp::Fneg,
    UnOp::Fabs,
    UnOp::Fsqrt,
    UnOp::Fceil,
    UnOp::Ffloor,
    UnOp::Ftrunc,
    UnOp::Fnearest,
];

pub const FLOAT_CCS: [FloatCC; 6] = [
    FloatCC::Eq,
    FloatCC::Ne,
    FloatCC::Lt,
    FloatCC::Le,
    FloatCC::Gt,
    FloatCC::Ge,
];

/// Every conversion the verifier accepts: (operation, from, to).
pub const CONVERSIONS: &[(ConvOp, NumType, NumType)] = {
    use ConvOp::*;
    use NumType::*;
    &[
        (Wrap, I64, I32),
        (Uextend, I32, I64),
        (Sextend, I32, I64),
        (FtoSint, F32, I32),
        (FtoSint, F64, I32),
        (FtoSint, F32, I64),
        (FtoSint, F64, I64),
        (FtoUint, F32, I32),
        (FtoUint, F64, I32),
        (FtoUint, F32, I64),
        (FtoUint, F64, I64),
        (FtoSintSat, F32, I32),
        (FtoSintSat, F64, I32),
        (FtoSintSat, F32, I64),
        (FtoSintSat, F64, I64),
        (FtoUintSat, F32, I32),
        (FtoUintSat, F64, I32),
        (FtoUintSat, F32, I64),
        (FtoUintSat, F64, I64),
        (SintToF, I32, F32),
        (SintToF, I32, F64),
        (SintToF, I64, F32),
        (SintToF, I64, F64),
        (UintToF, I32, F32),
        (UintToF, I32, F64),
        (UintToF, I64, F32),
        (UintToF, I64, F64),
        (Promote, F32, F64),
        (Demote, F64, F32),
        (Bitcast, I32, F32),
        (Bitcast, F32, I32),
        (Bitcast, I64, F64),
        (Bitcast, F64, I64),
    ]
};

/// Every conversion operation, for deliberately ill-typed ones.
pub const CONV_OPS: [ConvOp; 12] = [
    ConvOp::Wrap,
    ConvOp::Uextend,
    ConvOp::Sextend,
    ConvOp::FtoSint,
    ConvOp::FtoUint,
    ConvOp::FtoSintSat,
    ConvOp::FtoUintSat,
    ConvOp::SintToF,
    ConvOp::UintToF,
    ConvOp::Promote,
    ConvOp::Demote,
    ConvOp::Bitcast,
];

/// Loads the verifier accepts: (type, bytes, signed). Full width first.
pub const LOADS: &[(NumType, u8, bool)] = &[
    (NumType::I32, 4, false),
    (NumType::I64, 8, false),
    (NumType::F32, 4, false),
    (NumType::F64, 8, false),
    (NumType::I32, 1, false),
    (NumType::I32, 1, true),
    (NumType::I32, 2, false),
    (NumType::I32, 2, true),
    (NumType::I64, 1, false),
    (NumType::I64, 1, true),
    (NumType::I64, 2, false),
    (NumType::I64, 2, true),
    (NumType::I64, 4, false),
    (NumType::I64, 4, true),
];

/// Stores the verifier accepts: (type, bytes). A store never sign-extends.
pub const STORES: &[(NumType, u8)] = &[
    (NumType::I32, 4),
    (NumType::I64, 8),
    (NumType::F32, 4),
    (NumType::F64, 8),
    (NumType::I32, 1),
    (NumType::I32, 2),
    (NumType::I64, 1),
    (NumType::I64, 2),
    (NumType::I64, 4),
];

/// `region.read` (region to memory) when `read`, else `region.write`.
pub fn region_transfer(read: bool, region: Value, index: Value, addr: Value, len: Value) -> Op {
    if read {
        Op::RegionRead {
            region,
            index,
            addr,
            len,
        }
    } else {
        Op::RegionWrite {
            region,
            index,
            addr,
            len,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_hold_each_entry_once_and_agree_on_types() {
        let mut all: Vec<String> = CONVERSIONS.iter().map(|c| format!("{c:?}")).collect();
        all.extend(LOADS.iter().map(|l| format!("{l:?}")));
        all.extend(STORES.iter().map(|s| format!("{s:?}")));
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n);
        for (op, from, to) in CONVERSIONS {
            assert!(CONV_OPS.contains(op));
            assert_ne!(from, to, "{op:?}");
        }
        assert!(INT_BINOPS.iter().all(|op| !FLOAT_BINOPS.contains(op)));
        for (ty, bytes, signed) in LOADS {
            assert!(*bytes <= ty.bytes() && (!signed || (ty.is_int() && *bytes < ty.bytes())));
        }
        for (ty, bytes) in STORES {
            assert!(LOADS.contains(&(*ty, *bytes, false)));
        }
    }
}
