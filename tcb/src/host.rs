//! TRUSTED. Host functions, granted to a domain only through an import
//! (`= host.NAME`), never as ambient authority.
//!
//! Invariant protected: a host function reads only the calling domain's memory,
//! within bounds, and only what its signature says.

use std::io::Write;
use std::time::Instant;

use capjit_ir::{Signature, TrapCode, Type, Val};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostFunc {
    PrintI32,
    PrintI64,
    PrintF64,
    /// Writes a `buf` of the caller's memory as it is.
    Print,
    ClockNs,
}

const ALL: [(HostFunc, &str); 5] = [
    (HostFunc::PrintI32, "print_i32"),
    (HostFunc::PrintI64, "print_i64"),
    (HostFunc::PrintF64, "print_f64"),
    (HostFunc::Print, "print"),
    (HostFunc::ClockNs, "clock_ns"),
];

pub use capjit_ir::host_fn::HostFailure;

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
    // Straight into the caller's buffer: nothing the size of the file or the
    // buffer is allocated on the host.
    let failed = |_| HostFailure::Failed(TrapCode::HostError);
    let mut file = std::fs::File::open(path).map_err(failed)?;
    let buf = &mut memory[ptr as usize..end as usize];
    let mut n = 0;
    while n < buf.len() {
        match std::io::Read::read(&mut file, &mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(failed(e)),
        }
    }
    Ok(vec![Val::I32(n as i32)])
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

    /// Run the function for a caller whose memory is `memory`.
    pub fn call(
        self,
        memory: &[u8],
        output: &mut dyn Write,
        started: Instant,
        args: &[Val],
    ) -> Result<Vec<Val>, HostFailure> {
        let text;
        let bytes: &[u8] = match (self, args) {
            (HostFunc::PrintI32, [Val::I32(v)]) => {
                text = format!("{v}\n");
                text.as_bytes()
            }
            (HostFunc::PrintI64, [Val::I64(v)]) => {
                text = format!("{v}\n");
                text.as_bytes()
            }
            (HostFunc::PrintF64, [Val::F64(b)]) => {
                text = format!("{:?}\n", f64::from_bits(*b));
                text.as_bytes()
            }
            // Written from the caller's memory as it is, never copied.
            (HostFunc::Print, [Val::Buf { ptr, len }]) => {
                let end = *ptr as u64 + *len as u64;
                if end > memory.len() as u64 {
                    return Err(HostFailure::CallerTrap(TrapCode::OutOfBounds));
                }
                &memory[*ptr as usize..end as usize]
            }
            (HostFunc::ClockNs, []) => {
                let ns = started.elapsed().as_nanos().min(i64::MAX as u128) as i64;
                return Ok(vec![Val::I64(ns)]);
            }
            _ => return Err(HostFailure::Failed(TrapCode::HostError)),
        };
        output
            .write_all(bytes)
            .map_err(|_| HostFailure::Failed(TrapCode::HostError))?;
        Ok(Vec::new())
    }
}
