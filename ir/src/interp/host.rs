//! Host functions: granted to a domain only through an import (`= host.NAME`),
//! never as ambient authority.

use crate::model::{Signature, Type};
use crate::trap::TrapCode;

use super::link::Runtime;
use crate::value::Val;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostFunc {
    /// `(i32) -> ()`: print the value and a newline.
    PrintI32,
    /// `(i64) -> ()`
    PrintI64,
    /// `(f64) -> ()`
    PrintF64,
    /// `(buf) -> ()`: write the bytes as they are.
    Print,
    /// `() -> i64`: nanoseconds since the instance started (monotonic).
    ClockNs,
}

const ALL: [(HostFunc, &str); 5] = [
    (HostFunc::PrintI32, "print_i32"),
    (HostFunc::PrintI64, "print_i64"),
    (HostFunc::PrintF64, "print_f64"),
    (HostFunc::Print, "print"),
    (HostFunc::ClockNs, "clock_ns"),
];

pub use crate::host_fn::HostFailure;

/// Read the file granted as `name` into `memory[ptr..ptr + len]`; the bytes read.
pub fn read_granted_file(
    files: &[(String, std::path::PathBuf)],
    name: &str,
    memory: &mut [u8],
    ptr: u32,
    len: u32,
) -> Result<Vec<Val>, HostFailure> {
    let end = ptr as u64 + len as u64;
    if end > memory.len() as u64 {
        return Err(HostFailure::CallerTrap(TrapCode::OutOfBounds));
    }
    let Some((_, path)) = files.iter().find(|(n, _)| n == name) else {
        return Err(HostFailure::Failed(TrapCode::HostError));
    };
    // At most `len` bytes, however large the file: read through `take` into a
    // buffer that grows only with what the file really holds.
    let failed = |_| HostFailure::Failed(TrapCode::HostError);
    let file = std::fs::File::open(path).map_err(failed)?;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(file, len as u64), &mut bytes).map_err(failed)?;
    memory[ptr as usize..ptr as usize + bytes.len()].copy_from_slice(&bytes);
    Ok(vec![Val::I32(bytes.len() as i32)])
}

impl HostFunc {
    pub fn by_name(name: &str) -> Option<HostFunc> {
        ALL.iter().find(|(_, n)| *n == name).map(|(h, _)| *h)
    }

    pub fn names() -> Vec<&'static str> {
        ALL.iter().map(|(_, n)| *n).collect()
    }

    pub fn signature(self) -> Signature {
        let (params, results) = match self {
            HostFunc::PrintI32 => (vec![Type::I32], vec![]),
            HostFunc::PrintI64 => (vec![Type::I64], vec![]),
            HostFunc::PrintF64 => (vec![Type::F64], vec![]),
            HostFunc::Print => (vec![Type::Buf], vec![]),
            HostFunc::ClockNs => (vec![], vec![Type::I64]),
        };
        Signature { params, results }
    }

    pub fn call(self, rt: &mut Runtime, caller: usize, args: &[Val]) -> Result<Vec<Val>, HostFailure> {
        let text = match (self, args) {
            (HostFunc::PrintI32, [Val::I32(v)]) => format!("{v}\n").into_bytes(),
            (HostFunc::PrintI64, [Val::I64(v)]) => format!("{v}\n").into_bytes(),
            (HostFunc::PrintF64, [Val::F64(b)]) => format!("{:?}\n", f64::from_bits(*b)).into_bytes(),
            (HostFunc::Print, [Val::Buf { ptr, len }]) => {
                let mem = &rt.domains[caller].memory;
                let start = *ptr as usize;
                let end = *ptr as u64 + *len as u64;
                if end > mem.len() as u64 {
                    return Err(HostFailure::CallerTrap(TrapCode::OutOfBounds));
                }
                // Written from the caller's memory as it is, never copied.
                rt.output
                    .write_all(&mem[start..end as usize])
                    .map_err(|_| HostFailure::Failed(TrapCode::HostError))?;
                return Ok(Vec::new());
            }
            (HostFunc::ClockNs, []) => {
                let ns = rt.started.elapsed().as_nanos().min(i64::MAX as u128) as i64;
                return Ok(vec![Val::I64(ns)]);
            }
            _ => return Err(HostFailure::CallerTrap(TrapCode::HostError)),
        };
        rt.output
            .write_all(&text)
            .map_err(|_| HostFailure::Failed(TrapCode::HostError))?;
        Ok(Vec::new())
    }
}
