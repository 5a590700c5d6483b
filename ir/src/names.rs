//! Names and display forms of IR entities (types, signatures, values, facts,
//! opcodes), as the text format writes them and as error messages quote them.
//!
//! TRUSTED by use only: the verifier quotes these names in its messages; no
//! decision depends on them.

use std::fmt::{self, Display, Write};

use crate::model::*;

impl Display for NumType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NumType::I32 => "i32",
            NumType::I64 => "i64",
            NumType::F32 => "f32",
            NumType::F64 => "f64",
        })
    }
}

impl Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::I32 => f.write_str("i32"),
            Type::I64 => f.write_str("i64"),
            Type::F32 => f.write_str("f32"),
            Type::F64 => f.write_str("f64"),
            Type::Region => f.write_str("region"),
            Type::Buf => f.write_str("buf"),
            Type::Cap(sig) => write!(f, "cap<{sig}>"),
            Type::FuncRef => f.write_str("funcref"),
            Type::ExternRef => f.write_str("externref"),
        }
    }
}

impl Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(")?;
        write_list(f, &self.params)?;
        f.write_str(")")?;
        match self.results.as_slice() {
            [] => Ok(()),
            [one] => write!(f, " -> {one}"),
            many => {
                f.write_str(" -> (")?;
                write_list(f, many)?;
                f.write_str(")")
            }
        }
    }
}

impl Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

impl Display for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "block{}", self.0)
    }
}

impl Display for Fact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fact::Range { lo, hi } => write!(f, "!range({lo}, {hi})"),
            Fact::Lt(v) => write!(f, "!lt({v})"),
            Fact::InMemory { size } => write!(f, "!mem({size})"),
        }
    }
}

pub(crate) fn write_list<T: Display>(f: &mut impl Write, items: &[T]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

fn access_name(prefix: &str, a: MemAccess, is_load: bool) -> String {
    if a.bytes >= a.ty.bytes() {
        return format!("{prefix}.{}", a.ty);
    }
    let bits = a.bytes as u32 * 8;
    let sign = match (is_load, a.signed) {
        (false, _) => "",
        (true, true) => "s",
        (true, false) => "u",
    };
    format!("{prefix}{bits}{sign}.{}", a.ty)
}

pub fn binop_name(op: BinOp) -> &'static str {
    use BinOp::*;
    match op {
        Iadd => "iadd",
        Isub => "isub",
        Imul => "imul",
        Sdiv => "sdiv",
        Udiv => "udiv",
        Srem => "srem",
        Urem => "urem",
        Band => "band",
        Bor => "bor",
        Bxor => "bxor",
        Ishl => "ishl",
        Ushr => "ushr",
        Sshr => "sshr",
        Rotl => "rotl",
        Rotr => "rotr",
        Fadd => "fadd",
        Fsub => "fsub",
        Fmul => "fmul",
        Fdiv => "fdiv",
        Fmin => "fmin",
        Fmax => "fmax",
        Fcopysign => "fcopysign",
    }
}

pub fn unop_name(op: UnOp) -> &'static str {
    use UnOp::*;
    match op {
        Clz => "clz",
        Ctz => "ctz",
        Popcnt => "popcnt",
        Sext8 => "sext8",
        Sext16 => "sext16",
        Sext32 => "sext32",
        Fneg => "fneg",
        Fabs => "fabs",
        Fsqrt => "fsqrt",
        Fceil => "fceil",
        Ffloor => "ffloor",
        Ftrunc => "ftrunc",
        Fnearest => "fnearest",
    }
}

pub fn intcc_name(cc: IntCC) -> &'static str {
    use IntCC::*;
    match cc {
        Eq => "eq",
        Ne => "ne",
        Slt => "slt",
        Sle => "sle",
        Sgt => "sgt",
        Sge => "sge",
        Ult => "ult",
        Ule => "ule",
        Ugt => "ugt",
        Uge => "uge",
    }
}

pub fn floatcc_name(cc: FloatCC) -> &'static str {
    use FloatCC::*;
    match cc {
        Eq => "eq",
        Ne => "ne",
        Lt => "lt",
        Le => "le",
        Gt => "gt",
        Ge => "ge",
    }
}

pub fn conv_name(op: ConvOp) -> &'static str {
    use ConvOp::*;
    match op {
        Wrap => "wrap",
        Uextend => "uextend",
        Sextend => "sextend",
        FtoSint => "fcvt_to_sint",
        FtoUint => "fcvt_to_uint",
        FtoSintSat => "fcvt_to_sint_sat",
        FtoUintSat => "fcvt_to_uint_sat",
        SintToF => "fcvt_from_sint",
        UintToF => "fcvt_from_uint",
        Promote => "fpromote",
        Demote => "fdemote",
        Bitcast => "bitcast",
    }
}

/// The opcode's text (e.g. `iadd.i64`, `load8u.i32`, `call_cap`), for messages.
pub fn opcode_text(op: &Op) -> String {
    match op {
        Op::Const(Const::I32(_)) => "iconst.i32".into(),
        Op::Const(Const::I64(_)) => "iconst.i64".into(),
        Op::Const(Const::F32(_)) => "fconst.f32".into(),
        Op::Const(Const::F64(_)) => "fconst.f64".into(),
        Op::Binary { op, ty, .. } => format!("{}.{ty}", binop_name(*op)),
        Op::Unary { op, ty, .. } => format!("{}.{ty}", unop_name(*op)),
        Op::Icmp { cc, ty, .. } => format!("icmp.{}.{ty}", intcc_name(*cc)),
        Op::Fcmp { cc, ty, .. } => format!("fcmp.{}.{ty}", floatcc_name(*cc)),
        Op::Select { ty, .. } => format!("select.{ty}"),
        Op::Convert { op, from, to, .. } => format!("{}.{to}.{from}", conv_name(*op)),
        Op::Load { access, .. } => access_name("load", *access, true),
        Op::Store { access, .. } => access_name("store", *access, false),
        Op::MemorySize => "memory.size".into(),
        Op::MemoryGrow { .. } => "memory.grow".into(),
        Op::MemoryCopy { .. } => "memory.copy".into(),
        Op::MemoryFill { .. } => "memory.fill".into(),
        Op::MemoryInit { .. } => "memory.init".into(),
        Op::DataDrop { .. } => "data.drop".into(),
        Op::TableCopy { .. } => "table.copy".into(),
        Op::RefNull { .. } => "ref.null".into(),
        Op::RefIsNull { .. } => "ref.is_null".into(),
        Op::RefFunc { .. } => "ref.func".into(),
        Op::TableGet { .. } => "table.get".into(),
        Op::TableSet { .. } => "table.set".into(),
        Op::TableSize { .. } => "table.size".into(),
        Op::TableGrow { .. } => "table.grow".into(),
        Op::TableFill { .. } => "table.fill".into(),
        Op::TableInit { .. } => "table.init".into(),
        Op::ElemDrop { .. } => "elem.drop".into(),
        Op::Call { .. } => "call".into(),
        Op::CallIndirect { .. } => "call_indirect".into(),
        Op::GlobalGet { .. } => "global.get".into(),
        Op::GlobalSet { .. } => "global.set".into(),
        Op::CapGet { .. } => "cap.get".into(),
        Op::BufMake { .. } => "buf.make".into(),
        Op::BufPtr { .. } => "buf.ptr".into(),
        Op::BufLen { .. } => "buf.len".into(),
        Op::RegionNew { .. } => "region.new".into(),
        Op::RegionLen { .. } => "region.len".into(),
        Op::RegionLoad { access, .. } => access_name("region.load", *access, true),
        Op::RegionStore { access, .. } => access_name("region.store", *access, false),
        Op::RegionRead { .. } => "region.read".into(),
        Op::RegionWrite { .. } => "region.write".into(),
        Op::RegionFree { .. } => "region.free".into(),
    }
}
