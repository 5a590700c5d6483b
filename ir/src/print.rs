//! Printer for the `.cir` text format: the canonical text of a module.
//!
//! `parse_module(&print_module(m)) == m` for every module whose names are
//! identifiers, whose call/import indices are in range, and whose spans are unset.

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

fn write_list<T: Display>(f: &mut impl Write, items: &[T]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

/// The canonical text of a whole module.
pub fn print_module(m: &Module) -> String {
    let mut out = String::new();
    for (i, d) in m.domains.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        // Writing to a String cannot fail.
        let _ = print_domain(&mut out, d);
    }
    out
}

fn print_domain(out: &mut String, d: &Domain) -> fmt::Result {
    writeln!(out, "domain {} {{", d.name)?;
    let mem = d.memory;
    if mem.initial == mem.maximum {
        writeln!(out, "  memory {}", mem.initial)?;
    } else {
        writeln!(out, "  memory {} {}", mem.initial, mem.maximum)?;
    }
    if let Some(inbox) = d.inbox {
        writeln!(out, "  inbox {} {}", inbox.offset, inbox.size)?;
    }
    for seg in &d.data {
        writeln!(out, "  data {} \"{}\"", seg.offset, escape_bytes(&seg.bytes))?;
    }
    for imp in &d.imports {
        let source = match &imp.source {
            ImportSource::Export { domain, function } => format!("{domain}.{function}"),
            ImportSource::Host { function } => format!("host.{function}"),
            ImportSource::Restart { domain } => format!("host.restart({domain})"),
            ImportSource::File { name } => format!("host.file({name})"),
        };
        writeln!(out, "  import {} = {source} : {}", imp.name, imp.sig)?;
    }
    for f in &d.functions {
        out.push('\n');
        print_function(out, d, f)?;
    }
    writeln!(out, "}}")
}

/// Bytes as a string literal body: printable ASCII as is, the rest as `\xx`.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(b as char),
            _ => {
                let _ = write!(s, "\\{b:02x}");
            }
        }
    }
    s
}

/// A function's text; `d` supplies the names of callees and imports.
pub fn print_function(out: &mut String, d: &Domain, f: &Function) -> fmt::Result {
    let export = if f.exported { "export " } else { "" };
    writeln!(out, "  {export}func {}{} {{", f.name, f.sig)?;
    for (i, b) in f.blocks.iter().enumerate() {
        write!(out, "  block{i}")?;
        if !b.params.is_empty() {
            out.push('(');
            for (i, p) in b.params.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write!(out, "{}: {}", p.value, p.ty)?;
                if let Some(fact) = p.fact {
                    write!(out, " {fact}")?;
                }
            }
            out.push(')');
        }
        out.push_str(":\n");
        for inst in &b.insts {
            out.push_str("    ");
            print_inst(out, d, inst)?;
            out.push('\n');
        }
        out.push_str("    ");
        print_terminator(out, &b.term)?;
        out.push('\n');
    }
    writeln!(out, "  }}")
}

/// One instruction, with its results, without indentation or newline.
pub fn print_inst(out: &mut String, d: &Domain, inst: &Inst) -> fmt::Result {
    for (i, def) in inst.results.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write!(out, "{}", def.value)?;
        if let Some(fact) = def.fact {
            write!(out, " {fact}")?;
        }
    }
    if !inst.results.is_empty() {
        out.push_str(" = ");
    }
    print_op(out, d, &inst.op)
}

fn access_name(prefix: &str, a: MemAccess, is_load: bool) -> String {
    let width = match a.ty {
        NumType::I32 | NumType::F32 => 4,
        NumType::I64 | NumType::F64 => 8,
    };
    if a.bytes >= width {
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

fn addr(v: Value, offset: u32) -> String {
    if offset == 0 {
        format!("{v}")
    } else {
        format!("{v}+{offset}")
    }
}

fn func_name(d: &Domain, index: u32) -> String {
    match d.functions.get(index as usize) {
        Some(f) => f.name.clone(),
        None => format!("<invalid function #{index}>"),
    }
}

fn import_name(d: &Domain, index: u32) -> String {
    match d.imports.get(index as usize) {
        Some(i) => i.name.clone(),
        None => format!("<invalid import #{index}>"),
    }
}

/// Shortest text that reads back as the same bits; NaNs as raw bits.
fn float_text(bits: u64, double: bool) -> String {
    if double {
        let f = f64::from_bits(bits);
        if f.is_nan() {
            format!("0x{bits:x}")
        } else {
            format!("{f:?}")
        }
    } else {
        let f = f32::from_bits(bits as u32);
        if f.is_nan() {
            format!("0x{bits:x}")
        } else {
            format!("{f:?}")
        }
    }
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
        Op::Call { .. } => "call".into(),
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

fn print_op(out: &mut String, d: &Domain, op: &Op) -> fmt::Result {
    let name = opcode_text(op);
    match op {
        Op::Const(c) => match *c {
            Const::I32(v) => write!(out, "{name} {v}"),
            Const::I64(v) => write!(out, "{name} {v}"),
            Const::F32(b) => write!(out, "{name} {}", float_text(b as u64, false)),
            Const::F64(b) => write!(out, "{name} {}", float_text(b, true)),
        },
        Op::Binary { a, b, .. } | Op::Icmp { a, b, .. } | Op::Fcmp { a, b, .. } => {
            write!(out, "{name} {a}, {b}")
        }
        Op::Unary { a, .. } | Op::Convert { a, .. } => write!(out, "{name} {a}"),
        Op::Select { cond, a, b, .. } => write!(out, "{name} {cond}, {a}, {b}"),
        Op::Load { addr: a, offset, .. } => write!(out, "{name} {}", addr(*a, *offset)),
        Op::Store {
            value, addr: a, offset, ..
        } => write!(out, "{name} {value}, {}", addr(*a, *offset)),
        Op::MemorySize => write!(out, "{name}"),
        Op::MemoryGrow { delta } => write!(out, "{name} {delta}"),
        Op::MemoryCopy { dst, src, len } => write!(out, "{name} {dst}, {src}, {len}"),
        Op::MemoryFill { dst, byte, len } => write!(out, "{name} {dst}, {byte}, {len}"),
        Op::Call { func, args } => {
            write!(out, "{name} {}(", func_name(d, *func))?;
            write_list(out, args)?;
            out.push(')');
            Ok(())
        }
        Op::CapGet { import } => write!(out, "{name} {}", import_name(d, *import)),
        Op::BufMake { ptr, len } => write!(out, "{name} {ptr}, {len}"),
        Op::BufPtr { buf } | Op::BufLen { buf } => write!(out, "{name} {buf}"),
        Op::RegionNew { len } => write!(out, "{name} {len}"),
        Op::RegionLen { region } | Op::RegionFree { region } => write!(out, "{name} {region}"),
        Op::RegionLoad { region, index, .. } => write!(out, "{name} {region}, {index}"),
        Op::RegionStore {
            value, region, index, ..
        } => write!(out, "{name} {value}, {region}, {index}"),
        Op::RegionRead {
            region,
            index,
            addr: a,
            len,
        }
        | Op::RegionWrite {
            region,
            index,
            addr: a,
            len,
        } => write!(out, "{name} {region}, {index}, {a}, {len}"),
    }
}

fn print_block_call(out: &mut String, c: &BlockCall) -> fmt::Result {
    write!(out, "{}", c.block)?;
    if !c.args.is_empty() {
        out.push('(');
        write_list(out, &c.args)?;
        out.push(')');
    }
    Ok(())
}

/// One terminator, without indentation or newline.
pub fn print_terminator(out: &mut String, t: &Terminator) -> fmt::Result {
    match t {
        Terminator::Jump(c) => {
            out.push_str("jump ");
            print_block_call(out, c)
        }
        Terminator::Brif { cond, then, else_ } => {
            write!(out, "brif {cond}, ")?;
            print_block_call(out, then)?;
            out.push_str(", ");
            print_block_call(out, else_)
        }
        Terminator::BrTable {
            index,
            default,
            targets,
        } => {
            write!(out, "br_table {index}, ")?;
            print_block_call(out, default)?;
            out.push_str(", [");
            for (i, c) in targets.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                print_block_call(out, c)?;
            }
            out.push(']');
            Ok(())
        }
        Terminator::Return(vals) => {
            out.push_str("return");
            if !vals.is_empty() {
                out.push(' ');
                write_list(out, vals)?;
            }
            Ok(())
        }
        Terminator::CallCap { cap, args, ok, fail } => {
            write!(out, "call_cap {cap}(")?;
            write_list(out, args)?;
            write!(out, ") -> ok({ok}), fail({fail})")
        }
        Terminator::Trap => out.write_str("trap"),
    }
}
