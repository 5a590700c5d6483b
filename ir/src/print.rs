//! Printer for the `.cir` text format: the canonical text of a module.
//!
//! `parse_module(&print_module(m)) == m` for every module whose names are
//! identifiers, whose call, import, global and table indices are in range, whose
//! globals' constants have the global's type, and whose spans are unset.

use std::fmt::{self, Write};

use crate::model::*;
use crate::names::write_list;
pub use crate::names::{binop_name, conv_name, floatcc_name, intcc_name, opcode_text, unop_name};

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
    for bytes in &d.passive_data {
        writeln!(out, "  data passive \"{}\"", escape_bytes(bytes))?;
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
    for g in &d.globals {
        let mutable = if g.mutable { "mut " } else { "" };
        writeln!(out, "  global {mutable}{} : {} = {}", g.name, g.ty, const_text(&g.init))?;
    }
    for t in &d.tables {
        out.push_str("  table ");
        print_entries(out, d, t.elem, &t.init);
        if t.maximum as usize != t.init.len() {
            write!(out, " max {}", t.maximum)?;
        }
        out.push('\n');
    }
    for seg in &d.passive_elems {
        out.push_str("  elem ");
        print_entries(out, d, seg.elem, &seg.items);
        out.push('\n');
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

fn addr(v: Value, offset: u32) -> String {
    if offset == 0 {
        format!("{v}")
    } else {
        format!("{v}+{offset}")
    }
}

/// A table's or segment's entries: `[f, -, g]` for a funcref table (the type is
/// implied), `externref [-, -]` otherwise, or `TYPE N` when all N are null.
fn print_entries(out: &mut String, d: &Domain, elem: RefType, entries: &[Option<u32>]) {
    if !entries.is_empty() && entries.iter().all(Option::is_none) {
        out.push_str(&format!("{} {}", elem.as_type(), entries.len()));
        return;
    }
    if elem != RefType::Func {
        out.push_str(&format!("{} ", elem.as_type()));
    }
    out.push('[');
    for (i, entry) in entries.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        match entry {
            Some(f) => out.push_str(&func_name(d, *f)),
            None => out.push('-'),
        }
    }
    out.push(']');
}

fn func_name(d: &Domain, index: u32) -> String {
    match d.functions.get(index as usize) {
        Some(f) => f.name.clone(),
        None => format!("<invalid function #{index}>"),
    }
}

fn global_name(d: &Domain, index: u32) -> String {
    match d.globals.get(index as usize) {
        Some(g) => g.name.clone(),
        None => format!("<invalid global #{index}>"),
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

/// A constant's literal, as `iconst` / `fconst` and `global` write it.
fn const_text(c: &Const) -> String {
    match *c {
        Const::I32(v) => v.to_string(),
        Const::I64(v) => v.to_string(),
        Const::F32(b) => float_text(b as u64, false),
        Const::F64(b) => float_text(b, true),
    }
}

fn print_op(out: &mut String, d: &Domain, op: &Op) -> fmt::Result {
    let name = opcode_text(op);
    match op {
        Op::Const(c) => write!(out, "{name} {}", const_text(c)),
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
        Op::MemoryInit { segment, dst, src, len } => write!(out, "{name} {segment}, {dst}, {src}, {len}"),
        Op::DataDrop { segment } => write!(out, "{name} {segment}"),
        Op::TableCopy {
            dst_table: 0,
            src_table: 0,
            dst,
            src,
            len,
        } => write!(out, "{name} {dst}, {src}, {len}"),
        Op::TableCopy {
            dst_table,
            src_table,
            dst,
            src,
            len,
        } => write!(out, "{name} {dst_table}, {src_table}, {dst}, {src}, {len}"),
        Op::RefNull { ty } => write!(out, "{name} {}", ty.as_type()),
        Op::RefIsNull { a } => write!(out, "{name} {a}"),
        Op::RefFunc { func } => write!(out, "{name} {}", func_name(d, *func)),
        Op::TableGet { table, index } => write!(out, "{name} {table}, {index}"),
        Op::TableSet { table, index, value } => write!(out, "{name} {table}, {index}, {value}"),
        Op::TableSize { table } => write!(out, "{name} {table}"),
        Op::TableGrow { table, init, delta } => write!(out, "{name} {table}, {init}, {delta}"),
        Op::TableFill { table, dst, value, len } => write!(out, "{name} {table}, {dst}, {value}, {len}"),
        Op::TableInit {
            table,
            segment,
            dst,
            src,
            len,
        } => write!(out, "{name} {table}, {segment}, {dst}, {src}, {len}"),
        Op::ElemDrop { segment } => write!(out, "{name} {segment}"),
        Op::Call { func, args } => {
            write!(out, "{name} {}(", func_name(d, *func))?;
            write_list(out, args)?;
            out.push(')');
            Ok(())
        }
        Op::CallIndirect {
            table,
            sig,
            index,
            args,
        } => {
            if *table != 0 {
                write!(out, "{name} {table}, {index}(")?;
            } else {
                write!(out, "{name} {index}(")?;
            }
            write_list(out, args)?;
            write!(out, ") : {sig}")
        }
        Op::GlobalGet { global } => write!(out, "{name} {}", global_name(d, *global)),
        Op::GlobalSet { global, value } => write!(out, "{name} {}, {value}", global_name(d, *global)),
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
        Terminator::TrapWith(code) => write!(out, "trap {code}"),
    }
}
