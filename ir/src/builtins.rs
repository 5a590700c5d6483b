//! The built-in host functions (`print_i32`, `print_i64`, `print_f64`, `print`,
//! `clock_ns`) and the read behind a granted file capability: one implementation,
//! called by both executors.
//!
//! TRUSTED. A host function is granted to a domain only through an import
//! (`= host.NAME`), never as ambient authority. Invariant protected: it reads or
//! writes only the calling domain's memory (the slice it is given), within bounds,
//! and only what its signature says; it copies nothing guest-sized onto the host.

use std::io::Write;
use std::time::Instant;

use crate::host_fn::HostFailure;
use crate::model::{Signature, Type};
use crate::trap::TrapCode;
use crate::value::Val;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    /// `(i32) -> ()`: print the value and a newline.
    PrintI32,
    /// `(i64) -> ()`
    PrintI64,
    /// `(f64) -> ()`
    PrintF64,
    /// `(buf) -> ()`: write the bytes of the caller's memory as they are.
    Print,
    /// `() -> i64`: nanoseconds since the instance started (monotonic).
    ClockNs,
}

const ALL: [(Builtin, &str); 5] = [
    (Builtin::PrintI32, "print_i32"),
    (Builtin::PrintI64, "print_i64"),
    (Builtin::PrintF64, "print_f64"),
    (Builtin::Print, "print"),
    (Builtin::ClockNs, "clock_ns"),
];

impl Builtin {
    pub fn by_name(name: &str) -> Option<Builtin> {
        ALL.iter().find(|(_, n)| *n == name).map(|(h, _)| *h)
    }

    pub fn names() -> Vec<&'static str> {
        ALL.iter().map(|(_, n)| *n).collect()
    }

    pub fn signature(self) -> Signature {
        let (params, results) = match self {
            Builtin::PrintI32 => (vec![Type::I32], vec![]),
            Builtin::PrintI64 => (vec![Type::I64], vec![]),
            Builtin::PrintF64 => (vec![Type::F64], vec![]),
            Builtin::Print => (vec![Type::Buf], vec![]),
            Builtin::ClockNs => (vec![], vec![Type::I64]),
        };
        Signature { params, results }
    }

    /// Run the function for a caller whose memory is `memory`; `started` is when
    /// the instance started. Arguments that do not fit the signature (which the
    /// link-time check rules out) fail the call with `host_error`.
    pub fn call(
        self,
        memory: &[u8],
        output: &mut dyn Write,
        started: Instant,
        args: &[Val],
    ) -> Result<Vec<Val>, HostFailure> {
        let text;
        let bytes: &[u8] = match (self, args) {
            (Builtin::PrintI32, [Val::I32(v)]) => {
                text = format!("{v}\n");
                text.as_bytes()
            }
            (Builtin::PrintI64, [Val::I64(v)]) => {
                text = format!("{v}\n");
                text.as_bytes()
            }
            (Builtin::PrintF64, [Val::F64(b)]) => {
                text = format!("{:?}\n", f64::from_bits(*b));
                text.as_bytes()
            }
            // Written from the caller's memory as it is, never copied.
            (Builtin::Print, [Val::Buf { ptr, len }]) => {
                let end = *ptr as u64 + *len as u64;
                if end > memory.len() as u64 {
                    return Err(HostFailure::CallerTrap(TrapCode::OutOfBounds));
                }
                &memory[*ptr as usize..end as usize]
            }
            (Builtin::ClockNs, []) => {
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
