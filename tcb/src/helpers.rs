//! TRUSTED. Runtime helpers that generated code calls for operations too large to
//! inline: memory grow/copy/fill/init, data.drop, every table operation but
//! `call_indirect`, and every region operation.
//!
//! Invariant protected: each helper touches only the calling domain's memory and
//! regions the calling domain owns, after checking every range in 64-bit arithmetic.
//! Helpers return a status (0, or a trap code the caller turns into a trap) and put
//! any result in `ctx.scratch[0]`.

use capjit_ir::exec::MAX_TRAP_CALLERS;
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

/// The status for generated code; a result goes to domain `d`'s `ctx.scratch[0]`.
fn status(rt: &mut Runtime, d: usize, r: Result<u64, TrapCode>) -> u32 {
    match r {
        Ok(v) => {
            rt.domains[d].ctx.scratch[0] = v;
            0
        }
        Err(code) => code.code() as u32,
    }
}

/// A trap status passed up through a `call` or `call_indirect` of function
/// `func` of the calling domain, at `block` and `inst`: note the call site
/// for the trap's callers (at most `MAX_TRAP_CALLERS`, innermost first). Returns
/// 0; allocates at most once per trap.
///
/// # Safety
/// Called only by generated code with its own live context.
pub unsafe extern "C" fn capjit_trap_caller(ctx: *mut DomainCtx, func: u32, block: u32, inst: u32) -> i32 {
    // SAFETY: per the contract.
    let (rt, d) = unsafe { parts(ctx) };
    let callers = &mut rt.domains[d].trap_callers;
    let room = MAX_TRAP_CALLERS.saturating_sub(callers.len());
    // The first call reserves all the room there will be; a refused allocation
    // only shortens the list.
    if room > 0 && callers.try_reserve_exact(room).is_ok() {
        callers.push((func, block, inst));
    }
    0
}

/// Translate function `func` of the calling domain on its first call and put its
/// code in `ctx.code[func]`; a translation that fails is a `resource limit` trap
/// at the call. Called only for a verified function index whose code is null.
///
/// # Safety
/// Called only by generated code with its own live context.
pub unsafe extern "C" fn capjit_translate(ctx: *mut DomainCtx, func: u32) -> u32 {
    // SAFETY: per the contract.
    let (rt, d) = unsafe { parts(ctx) };
    let translated = match rt.lazy.as_mut() {
        Some(lazy) => lazy.translate(d, func as usize).unwrap_or_default(),
        None => Vec::new(),
    };
    for &((domain, f), code) in &translated {
        if let Some(slot) = rt.domains.get_mut(domain).and_then(|s| s.code.get_mut(f)) {
            *slot = code;
        }
    }
    match rt.domains[d].code.get(func as usize) {
        Some(code) if !code.is_null() => 0,
        _ => TrapCode::ResourceLimit.code() as u32,
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
    status(rt, d, r)
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
    status(rt, d, r)
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
    status(rt, d, r)
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

// The table helpers: table and segment numbers are verified to exist in the
// calling domain; `tables.rs` checks every range. A reference is a `u64` as
// generated code carries it (`ctx::REF_NULL` for null).

/// `table.get`: the reference in scratch.
///
/// # Safety
/// Called only by generated code with its own live context.
pub unsafe extern "C" fn capjit_table_get(ctx: *mut DomainCtx, t: u32, i: u32) -> u32 {
    // SAFETY: per the contract.
    let (rt, d) = unsafe { parts(ctx) };
    let r = rt.domains[d].tables.get(t as usize, i);
    status(rt, d, r)
}

/// `table.set`.
///
/// # Safety
/// Called only by generated code with its own live context.
pub unsafe extern "C" fn capjit_table_set(ctx: *mut DomainCtx, t: u32, i: u32, item: u64) -> u32 {
    // SAFETY: per the contract.
    let (rt, d) = unsafe { parts(ctx) };
    let r = rt.domains[d].tables.set(t as usize, i, item);
    status(rt, d, r)
}

/// `table.size`. Never traps.
///
/// # Safety
/// Called only by generated code with its own live context.
pub unsafe extern "C" fn capjit_table_size(ctx: *mut DomainCtx, t: u32) -> i32 {
    // SAFETY: per the contract.
    let (rt, d) = unsafe { parts(ctx) };
    rt.domains[d].tables.size(t as usize) as i32
}

/// `table.grow`: the old size, or -1. Never traps.
///
/// # Safety
/// Called only by generated code with its own live context.
pub unsafe extern "C" fn capjit_table_grow(ctx: *mut DomainCtx, t: u32, item: u64, delta: u32) -> i32 {
    // SAFETY: per the contract.
    let (rt, d) = unsafe { parts(ctx) };
    rt.domains[d].tables.grow(t as usize, item, delta, &mut rt.budget)
}

/// `table.fill`.
///
/// # Safety
/// Called only by generated code with its own live context.
pub unsafe extern "C" fn capjit_table_fill(ctx: *mut DomainCtx, t: u32, dst: u32, item: u64, len: u32) -> u32 {
    // SAFETY: per the contract.
    let (rt, d) = unsafe { parts(ctx) };
    let r = rt.domains[d].tables.fill(t as usize, dst, item, len);
    status(rt, d, r)
}

/// `table.copy` from table `from` to table `t` (entries move whole).
///
/// # Safety
/// Called only by generated code with its own live context.
pub unsafe extern "C" fn capjit_table_copy(
    ctx: *mut DomainCtx,
    t: u32,
    from: u32,
    dst: u32,
    src: u32,
    len: u32,
) -> u32 {
    // SAFETY: per the contract.
    let (rt, d) = unsafe { parts(ctx) };
    let r = rt.domains[d].tables.copy(t as usize, from as usize, dst, src, len);
    status(rt, d, r)
}

/// `table.init` from passive element segment `seg` (a dropped one is empty).
///
/// # Safety
/// Called only by generated code with its own live context.
pub unsafe extern "C" fn capjit_table_init(ctx: *mut DomainCtx, t: u32, seg: u32, dst: u32, src: u32, len: u32) -> u32 {
    // SAFETY: per the contract.
    let (rt, d) = unsafe { parts(ctx) };
    let r = rt.domains[d].tables.init(t as usize, seg as usize, dst, src, len);
    status(rt, d, r)
}

/// `elem.drop`. Never traps.
///
/// # Safety
/// Called only by generated code with its own live context.
pub unsafe extern "C" fn capjit_elem_drop(ctx: *mut DomainCtx, seg: u32) -> u32 {
    // SAFETY: per the contract.
    let (rt, d) = unsafe { parts(ctx) };
    rt.domains[d].tables.drop_elem(seg as usize);
    0
}

/// `region.new`: the packed handle in scratch.
///
/// # Safety
/// Called only by generated code with its own live context.
pub unsafe extern "C" fn capjit_region_new(ctx: *mut DomainCtx, len: u32) -> u32 {
    // SAFETY: per the contract.
    let (rt, d) = unsafe { parts(ctx) };
    let r = rt.regions.create(d, len, &mut rt.budget).map(pack_region);
    status(rt, d, r)
}

/// `region.len`.
///
/// # Safety
/// Called only by generated code with its own live context.
pub unsafe extern "C" fn capjit_region_len(ctx: *mut DomainCtx, handle: u64) -> u32 {
    // SAFETY: per the contract.
    let (rt, d) = unsafe { parts(ctx) };
    let r = rt.regions.bytes(unpack_region(handle), d).map(|b| b.len() as u64);
    status(rt, d, r)
}

/// `region.free`.
///
/// # Safety
/// Called only by generated code with its own live context.
pub unsafe extern "C" fn capjit_region_free(ctx: *mut DomainCtx, handle: u64) -> u32 {
    // SAFETY: per the contract.
    let (rt, d) = unsafe { parts(ctx) };
    let r = rt.regions.free(unpack_region(handle), d, &mut rt.budget).map(|_| 0);
    status(rt, d, r)
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
    status(rt, d, r)
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
    status(rt, d, r)
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
    status(rt, d, r)
}

/// The width of a helper parameter after the context (every helper takes the
/// calling domain's `*mut DomainCtx` first and returns an `i32`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Param {
    I32,
    I64,
}

/// Every runtime helper generated code may call. The one declaration of the helper
/// ABI: the translator builds each import's signature from `params` and links it to
/// `address`, both read from the same `match` on the helper, so the two sides
/// cannot disagree about a helper's name, parameters or function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Helper {
    CallCap,
    IdcFault,
    TrapCaller,
    Translate,
    MemoryGrow,
    MemoryCopy,
    MemoryFill,
    MemoryInit,
    DataDrop,
    TableCopy,
    TableGet,
    TableSet,
    TableSize,
    TableGrow,
    TableFill,
    TableInit,
    ElemDrop,
    RegionNew,
    RegionLen,
    RegionFree,
    RegionLoad,
    RegionStore,
    RegionCopy,
}

impl Helper {
    pub const ALL: [Helper; 23] = [
        Helper::CallCap,
        Helper::IdcFault,
        Helper::TrapCaller,
        Helper::Translate,
        Helper::MemoryGrow,
        Helper::MemoryCopy,
        Helper::MemoryFill,
        Helper::MemoryInit,
        Helper::DataDrop,
        Helper::TableCopy,
        Helper::TableGet,
        Helper::TableSet,
        Helper::TableSize,
        Helper::TableGrow,
        Helper::TableFill,
        Helper::TableInit,
        Helper::ElemDrop,
        Helper::RegionNew,
        Helper::RegionLen,
        Helper::RegionFree,
        Helper::RegionLoad,
        Helper::RegionStore,
        Helper::RegionCopy,
    ];

    /// The symbol generated code imports the helper under.
    pub fn name(self) -> &'static str {
        self.abi().0
    }

    /// Its parameters after the context.
    pub fn params(self) -> &'static [Param] {
        self.abi().1
    }

    /// Its code. Each cast is of the function whose parameters `params` lists, in
    /// the same arm.
    pub fn address(self) -> *const u8 {
        self.abi().2
    }

    fn abi(self) -> (&'static str, &'static [Param], *const u8) {
        use Param::{I32, I64};
        match self {
            Helper::CallCap => ("capjit_call_cap", &[I32, I64], crate::idc::capjit_call_cap as *const u8),
            Helper::IdcFault => (
                "capjit_idc_fault",
                &[I32, I32],
                crate::idc::capjit_idc_fault as *const u8,
            ),
            Helper::TrapCaller => ("capjit_trap_caller", &[I32, I32, I32], capjit_trap_caller as *const u8),
            Helper::Translate => ("capjit_translate", &[I32], capjit_translate as *const u8),
            Helper::MemoryGrow => ("capjit_memory_grow", &[I32], capjit_memory_grow as *const u8),
            Helper::MemoryCopy => ("capjit_memory_copy", &[I32, I32, I32], capjit_memory_copy as *const u8),
            Helper::MemoryFill => ("capjit_memory_fill", &[I32, I32, I32], capjit_memory_fill as *const u8),
            Helper::MemoryInit => (
                "capjit_memory_init",
                &[I32, I32, I32, I32],
                capjit_memory_init as *const u8,
            ),
            Helper::DataDrop => ("capjit_data_drop", &[I32], capjit_data_drop as *const u8),
            Helper::TableCopy => (
                "capjit_table_copy",
                &[I32, I32, I32, I32, I32],
                capjit_table_copy as *const u8,
            ),
            Helper::TableGet => ("capjit_table_get", &[I32, I32], capjit_table_get as *const u8),
            Helper::TableSet => ("capjit_table_set", &[I32, I32, I64], capjit_table_set as *const u8),
            Helper::TableSize => ("capjit_table_size", &[I32], capjit_table_size as *const u8),
            Helper::TableGrow => ("capjit_table_grow", &[I32, I64, I32], capjit_table_grow as *const u8),
            Helper::TableFill => (
                "capjit_table_fill",
                &[I32, I32, I64, I32],
                capjit_table_fill as *const u8,
            ),
            Helper::TableInit => (
                "capjit_table_init",
                &[I32, I32, I32, I32, I32],
                capjit_table_init as *const u8,
            ),
            Helper::ElemDrop => ("capjit_elem_drop", &[I32], capjit_elem_drop as *const u8),
            Helper::RegionNew => ("capjit_region_new", &[I32], capjit_region_new as *const u8),
            Helper::RegionLen => ("capjit_region_len", &[I64], capjit_region_len as *const u8),
            Helper::RegionFree => ("capjit_region_free", &[I64], capjit_region_free as *const u8),
            Helper::RegionLoad => (
                "capjit_region_load",
                &[I64, I32, I32, I32],
                capjit_region_load as *const u8,
            ),
            Helper::RegionStore => (
                "capjit_region_store",
                &[I64, I32, I32, I64],
                capjit_region_store as *const u8,
            ),
            Helper::RegionCopy => (
                "capjit_region_copy",
                &[I64, I32, I32, I32, I32],
                capjit_region_copy as *const u8,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_helper_once_in_declaration_order_with_its_own_symbol() {
        for (i, h) in Helper::ALL.iter().enumerate() {
            assert_eq!(*h as usize, i, "{h:?}");
            assert!(h.name().starts_with("capjit_"));
            let same_name = Helper::ALL.iter().filter(|g| g.name() == h.name()).count();
            assert_eq!(same_name, 1, "{h:?}");
            // Miri gives a function a new address each time one is taken.
            if !cfg!(miri) {
                let same_code = Helper::ALL.iter().filter(|g| g.address() == h.address()).count();
                assert_eq!(same_code, 1, "{h:?}");
            }
        }
    }
}
