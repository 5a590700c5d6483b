//! TRUSTED. Runtime helpers that generated code calls for operations too large to
//! inline: memory grow/copy/fill/init, data.drop, table.copy and every region operation.
//!
//! Invariant protected: each helper touches only the calling domain's memory and
//! regions the calling domain owns, after checking every range in 64-bit arithmetic.
//! Helpers return a status (0, or a trap code the caller turns into a trap) and put
//! any result in `ctx.scratch[0]`.

use capjit_ir::TrapCode;

use crate::ctx::DomainCtx;
use crate::runtime::Runtime;
use crate::slots::{pack_region, unpack_region};

/// The runtime and the domain index of a context.
///
/// # Safety
/// `ctx` must be a live context whose runtime is not otherwise borrowed.
unsafe fn parts<'a>(ctx: *mut DomainCtx) -> (&'a mut Runtime, usize) {
    // SAFETY: per this function's contract.
    unsafe { (&mut *((*ctx).runtime as *mut Runtime), (*ctx).domain as usize) }
}

fn range(len: usize, start: u32, n: u32) -> Result<std::ops::Range<usize>, TrapCode> {
    let end = start as u64 + n as u64;
    if end > len as u64 {
        return Err(TrapCode::OutOfBounds);
    }
    Ok(start as usize..end as usize)
}

fn status(r: Result<u64, TrapCode>, ctx: *mut DomainCtx) -> u32 {
    match r {
        Ok(v) => {
            // SAFETY: `ctx` is the live context the helper was called with.
            unsafe { (*ctx).scratch[0] = v };
            0
        }
        Err(code) => code.code() as u32,
    }
}

/// `memory.grow`: the old size in pages, or -1. Never traps.
///
/// # Safety
/// Called only by generated code with its own live context.
pub unsafe extern "C" fn capjit_memory_grow(ctx: *mut DomainCtx, delta: u32) -> i32 {
    // SAFETY: per the contract.
    let (rt, d) = unsafe { parts(ctx) };
    rt.grow_memory(d, delta)
}

/// `memory.copy`.
///
/// # Safety
/// Called only by generated code with its own live context.
pub unsafe extern "C" fn capjit_memory_copy(ctx: *mut DomainCtx, dst: u32, src: u32, len: u32) -> u32 {
    // SAFETY: per the contract.
    let (rt, d) = unsafe { parts(ctx) };
    let mem = &mut rt.domains[d].memory;
    let r = range(mem.len(), src, len).and_then(|s| {
        let t = range(mem.len(), dst, len)?;
        mem.copy_within(s, t.start);
        Ok(0)
    });
    status(r, ctx)
}

/// `memory.fill`.
///
/// # Safety
/// Called only by generated code with its own live context.
pub unsafe extern "C" fn capjit_memory_fill(ctx: *mut DomainCtx, dst: u32, byte: u32, len: u32) -> u32 {
    // SAFETY: per the contract.
    let (rt, d) = unsafe { parts(ctx) };
    let mem = &mut rt.domains[d].memory;
    let r = range(mem.len(), dst, len).map(|t| {
        mem[t].fill(byte as u8);
        0
    });
    status(r, ctx)
}

/// `memory.init` of passive segment `seg` (verified to exist; a dropped one is empty).
///
/// # Safety
/// Called only by generated code with its own live context.
pub unsafe extern "C" fn capjit_memory_init(ctx: *mut DomainCtx, seg: u32, dst: u32, src: u32, len: u32) -> u32 {
    // SAFETY: per the contract.
    let (rt, d) = unsafe { parts(ctx) };
    let state = &mut rt.domains[d];
    let bytes = match state.dropped.get(seg as usize) {
        Some(false) => rt.module.domains[d]
            .passive_data
            .get(seg as usize)
            .map_or(&[][..], |b| &b[..]),
        _ => &[],
    };
    let r = range(bytes.len(), src, len).and_then(|s| {
        let t = range(state.memory.len(), dst, len)?;
        state.memory[t].copy_from_slice(&bytes[s]);
        Ok(0)
    });
    status(r, ctx)
}

/// `data.drop` of passive segment `seg`. Never traps.
///
/// # Safety
/// Called only by generated code with its own live context.
pub unsafe extern "C" fn capjit_data_drop(ctx: *mut DomainCtx, seg: u32) -> u32 {
    // SAFETY: per the contract.
    let (rt, d) = unsafe { parts(ctx) };
    if let Some(flag) = rt.domains[d].dropped.get_mut(seg as usize) {
        *flag = true;
    }
    0
}

/// `table.copy` within the calling domain's table (`ctx.table` points into it;
/// entries move whole, code pointer with signature number).
///
/// # Safety
/// Called only by generated code with its own live context.
pub unsafe extern "C" fn capjit_table_copy(ctx: *mut DomainCtx, dst: u32, src: u32, len: u32) -> u32 {
    // SAFETY: per the contract.
    let (rt, d) = unsafe { parts(ctx) };
    let table = &mut rt.domains[d].table;
    let r = match (range(table.len(), src, len), range(table.len(), dst, len)) {
        (Ok(s), Ok(t)) => {
            table.copy_within(s, t.start);
            Ok(0)
        }
        _ => Err(TrapCode::TableOutOfBounds),
    };
    status(r, ctx)
}

/// `region.new`: the packed handle in scratch.
///
/// # Safety
/// Called only by generated code with its own live context.
pub unsafe extern "C" fn capjit_region_new(ctx: *mut DomainCtx, len: u32) -> u32 {
    // SAFETY: per the contract.
    let (rt, d) = unsafe { parts(ctx) };
    status(rt.regions.create(d, len, &mut rt.budget).map(pack_region), ctx)
}

/// `region.len`.
///
/// # Safety
/// Called only by generated code with its own live context.
pub unsafe extern "C" fn capjit_region_len(ctx: *mut DomainCtx, handle: u64) -> u32 {
    // SAFETY: per the contract.
    let (rt, d) = unsafe { parts(ctx) };
    status(rt.regions.bytes(unpack_region(handle), d).map(|b| b.len() as u64), ctx)
}

/// `region.free`.
///
/// # Safety
/// Called only by generated code with its own live context.
pub unsafe extern "C" fn capjit_region_free(ctx: *mut DomainCtx, handle: u64) -> u32 {
    // SAFETY: per the contract.
    let (rt, d) = unsafe { parts(ctx) };
    status(
        rt.regions.free(unpack_region(handle), d, &mut rt.budget).map(|_| 0),
        ctx,
    )
}

/// `region.load`: `bytes` little-endian bytes at `index`, sign-extended to 64 bits
/// when `signed`, in scratch.
///
/// # Safety
/// Called only by generated code with its own live context.
pub unsafe extern "C" fn capjit_region_load(
    ctx: *mut DomainCtx,
    handle: u64,
    index: u32,
    bytes: u32,
    signed: u32,
) -> u32 {
    // SAFETY: per the contract.
    let (rt, d) = unsafe { parts(ctx) };
    let r = rt.regions.bytes(unpack_region(handle), d).and_then(|buf| {
        let r = range(buf.len(), index, bytes)?;
        let raw = buf[r].iter().rev().fold(0u64, |acc, &b| (acc << 8) | b as u64);
        let bits = bytes * 8;
        Ok(if signed != 0 && bits < 64 {
            ((raw << (64 - bits)) as i64 >> (64 - bits)) as u64
        } else {
            raw
        })
    });
    status(r, ctx)
}

/// `region.store`: the low `bytes` bytes of `value` at `index`.
///
/// # Safety
/// Called only by generated code with its own live context.
pub unsafe extern "C" fn capjit_region_store(
    ctx: *mut DomainCtx,
    handle: u64,
    index: u32,
    bytes: u32,
    value: u64,
) -> u32 {
    // SAFETY: per the contract.
    let (rt, d) = unsafe { parts(ctx) };
    let r = rt.regions.bytes_mut(unpack_region(handle), d).and_then(|buf| {
        let r = range(buf.len(), index, bytes)?;
        for (i, b) in buf[r].iter_mut().enumerate() {
            *b = (value >> (8 * i)) as u8;
        }
        Ok(0)
    });
    status(r, ctx)
}

/// `region.read` (region to memory, `to_memory = 1`) and `region.write` (memory to
/// region, `to_memory = 0`).
///
/// # Safety
/// Called only by generated code with its own live context.
pub unsafe extern "C" fn capjit_region_copy(
    ctx: *mut DomainCtx,
    handle: u64,
    index: u32,
    addr: u32,
    len: u32,
    to_memory: u32,
) -> u32 {
    // SAFETY: per the contract.
    let (rt, d) = unsafe { parts(ctx) };
    let h = unpack_region(handle);
    let mem = &mut rt.domains[d].memory;
    let r = if to_memory != 0 {
        rt.regions.bytes(h, d).and_then(|buf| {
            let s = range(buf.len(), index, len)?;
            let t = range(mem.len(), addr, len)?;
            mem[t].copy_from_slice(&buf[s]);
            Ok(0)
        })
    } else {
        rt.regions.bytes_mut(h, d).and_then(|buf| {
            let t = range(buf.len(), index, len)?;
            let s = range(mem.len(), addr, len)?;
            buf[t].copy_from_slice(&mem[s]);
            Ok(0)
        })
    };
    status(r, ctx)
}

/// Every helper by the symbol name generated code imports it under.
pub fn symbols() -> Vec<(&'static str, *const u8)> {
    vec![
        ("capjit_call_cap", crate::idc::capjit_call_cap as *const u8),
        ("capjit_idc_fault", crate::idc::capjit_idc_fault as *const u8),
        ("capjit_memory_grow", capjit_memory_grow as *const u8),
        ("capjit_memory_copy", capjit_memory_copy as *const u8),
        ("capjit_memory_fill", capjit_memory_fill as *const u8),
        ("capjit_memory_init", capjit_memory_init as *const u8),
        ("capjit_data_drop", capjit_data_drop as *const u8),
        ("capjit_table_copy", capjit_table_copy as *const u8),
        ("capjit_region_new", capjit_region_new as *const u8),
        ("capjit_region_len", capjit_region_len as *const u8),
        ("capjit_region_free", capjit_region_free as *const u8),
        ("capjit_region_load", capjit_region_load as *const u8),
        ("capjit_region_store", capjit_region_store as *const u8),
        ("capjit_region_copy", capjit_region_copy as *const u8),
    ]
}
