//! The harness the WASI tests share: the host functions of one `WasiCtx`, called
//! by name with numbers converted to their parameter types, and little-endian
//! reads and writes of guest memory.
#![allow(dead_code)]

use capjit_ir::host_fn::{HostCall, HostFailure, HostFn};
use capjit_ir::{Type, Val};
use capjit_wasi::WasiCtx;

pub struct Wasi {
    pub fns: Vec<HostFn>,
}

impl Wasi {
    pub fn new(ctx: WasiCtx) -> Wasi {
        Wasi {
            fns: capjit_wasi::host_functions(ctx),
        }
    }

    /// The host function `wasi_NAME`.
    pub fn get(&self, name: &str) -> &HostFn {
        let full = format!("wasi_{name}");
        self.fns
            .iter()
            .find(|f| f.name() == full)
            .unwrap_or_else(|| panic!("no {full}"))
    }

    /// Call `wasi_NAME` with `args` converted to its parameter types (exactly as
    /// many as it has).
    pub fn raw(&self, mem: &mut [u8], name: &str, args: &[i64]) -> Result<Vec<Val>, HostFailure> {
        let f = self.get(name);
        assert_eq!(f.signature().params.len(), args.len(), "{name}: argument count");
        let vals: Vec<Val> = f
            .signature()
            .params
            .iter()
            .zip(args)
            .map(|(t, &a)| match t {
                Type::I64 => Val::I64(a),
                _ => Val::I32(a as u32 as i32),
            })
            .collect();
        f.call(&mut HostCall::new(mem), &vals)
    }

    /// [`Wasi::raw`] for a function that returns an errno.
    pub fn call(&self, mem: &mut [u8], name: &str, args: &[i64]) -> i32 {
        match self.raw(mem, name, args) {
            Ok(v) => match v[..] {
                [Val::I32(e)] => e,
                _ => panic!("{name}: {v:?}"),
            },
            Err(e) => panic!("{name}: {e:?}"),
        }
    }
}

pub fn u32_at(mem: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(mem[at..at + 4].try_into().unwrap())
}

pub fn u64_at(mem: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(mem[at..at + 8].try_into().unwrap())
}

pub fn put_u32(mem: &mut [u8], at: usize, v: u32) {
    mem[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

pub fn put_u64(mem: &mut [u8], at: usize, v: u64) {
    mem[at..at + 8].copy_from_slice(&v.to_le_bytes());
}
