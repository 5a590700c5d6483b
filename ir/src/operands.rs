//! The values each operation and terminator reads, in order: written once for
//! every tool that rewrites or scans them (the optimiser, the test generators).
//! The verifier does not use it: its rules name each operand with the type it
//! needs (`verifier/src/function.rs`).

use crate::model::{Op, Terminator, Value};

/// The values an operation reads, in order.
pub fn operands(op: &Op) -> Vec<Value> {
    let mut out = Vec::new();
    let mut op = op.clone();
    for_each_operand_mut(&mut op, &mut |v| out.push(*v));
    out
}

/// Visit every value an operation reads.
pub fn for_each_operand_mut(op: &mut Op, f: &mut dyn FnMut(&mut Value)) {
    match op {
        Op::Const(_)
        | Op::MemorySize
        | Op::CapGet { .. }
        | Op::GlobalGet { .. }
        | Op::DataDrop { .. }
        | Op::RefNull { .. }
        | Op::RefFunc { .. }
        | Op::TableSize { .. }
        | Op::ElemDrop { .. } => {}
        Op::RefIsNull { a } => f(a),
        Op::TableGet { index, .. } => f(index),
        Op::TableSet { index, value, .. } => {
            f(index);
            f(value);
        }
        Op::TableGrow { init, delta, .. } => {
            f(init);
            f(delta);
        }
        Op::TableFill { dst, value, len, .. } => {
            f(dst);
            f(value);
            f(len);
        }
        Op::GlobalSet { value, .. } => f(value),
        Op::CallIndirect { index, args, .. } => {
            f(index);
            args.iter_mut().for_each(f)
        }
        Op::Binary { a, b, .. } | Op::Icmp { a, b, .. } | Op::Fcmp { a, b, .. } => {
            f(a);
            f(b);
        }
        Op::Unary { a, .. } | Op::Convert { a, .. } => f(a),
        Op::Select { cond, a, b, .. } => {
            f(cond);
            f(a);
            f(b);
        }
        Op::Load { addr, .. } => f(addr),
        Op::Store { value, addr, .. } => {
            f(value);
            f(addr);
        }
        Op::MemoryGrow { delta } => f(delta),
        Op::MemoryCopy { dst, src, len } | Op::TableCopy { dst, src, len, .. } => {
            f(dst);
            f(src);
            f(len);
        }
        Op::MemoryFill { dst, byte, len } => {
            f(dst);
            f(byte);
            f(len);
        }
        Op::MemoryInit { dst, src, len, .. } | Op::TableInit { dst, src, len, .. } => {
            f(dst);
            f(src);
            f(len);
        }
        Op::Call { args, .. } => args.iter_mut().for_each(f),
        Op::BufMake { ptr, len } => {
            f(ptr);
            f(len);
        }
        Op::BufPtr { buf } | Op::BufLen { buf } => f(buf),
        Op::RegionNew { len } => f(len),
        Op::RegionLen { region } | Op::RegionFree { region } => f(region),
        Op::RegionLoad { region, index, .. } => {
            f(region);
            f(index);
        }
        Op::RegionStore {
            value, region, index, ..
        } => {
            f(value);
            f(region);
            f(index);
        }
        Op::RegionRead {
            region,
            index,
            addr,
            len,
        }
        | Op::RegionWrite {
            region,
            index,
            addr,
            len,
        } => {
            f(region);
            f(index);
            f(addr);
            f(len);
        }
    }
}

/// Visit every value a terminator reads (conditions, arguments, returned values).
pub fn for_each_term_value_mut(t: &mut Terminator, f: &mut dyn FnMut(&mut Value)) {
    match t {
        Terminator::Jump(c) => c.args.iter_mut().for_each(f),
        Terminator::Brif { cond, then, else_ } => {
            f(cond);
            then.args.iter_mut().for_each(&mut *f);
            else_.args.iter_mut().for_each(f);
        }
        Terminator::BrTable {
            index,
            default,
            targets,
        } => {
            f(index);
            default.args.iter_mut().for_each(&mut *f);
            for c in targets {
                c.args.iter_mut().for_each(&mut *f);
            }
        }
        Terminator::Return(vals) => vals.iter_mut().for_each(f),
        Terminator::CallCap { cap, args, .. } => {
            f(cap);
            args.iter_mut().for_each(f);
        }
        Terminator::TrapWith(code) => f(code),
        Terminator::Trap => {}
    }
}
