//! The per-domain context that generated code receives as its first argument.
//!
//! Invariant protected: generated code reaches its domain's memory, fuel, limits and
//! trap record only through this struct, at the fixed offsets below; the runtime
//! keeps `mem_base`/`mem_len` equal to the domain's current memory at all times.

use std::mem::offset_of;

/// Laid out for generated code: `#[repr(C)]`, read and written at the `OFF_*` offsets.
#[repr(C)]
#[derive(Debug)]
pub struct DomainCtx {
    /// Start of the domain's linear memory (dangling but never dereferenced when
    /// empty). Never changes while the runtime lives (the memory is reserved once
    /// and grows in place).
    pub mem_base: *mut u8,
    /// Its size in bytes.
    pub mem_len: u64,
    /// Fuel left.
    pub fuel: u64,
    /// The run's call depth, shared by every domain of the runtime.
    pub depth: *mut u32,
    pub max_depth: u32,
    /// Where a trap happened: code, function index, block, instruction (`u32::MAX`
    /// for the terminator).
    pub trap_code: u32,
    pub trap_func: u32,
    pub trap_block: u32,
    pub trap_inst: u32,
    /// Lowest native stack address a function may start at (checked on entry).
    pub stack_limit: u64,
    /// Values returned by runtime helpers.
    pub scratch: [u64; 2],
    /// The runtime and this domain's index in it, for helpers.
    pub runtime: *mut u8,
    pub domain: u32,
    /// Lifecycle, mirrored by the runtime for the inline IDC path: `STATUS_*`.
    pub status: u32,
    /// Moves on when the domain is killed; capabilities granted earlier then fail.
    pub epoch: u32,
    /// Activations of this domain on the stack (host entries and IDCs).
    pub active: u32,
    /// This domain's capability table, one `NativeCap` per import.
    pub caps: *const NativeCap,
    /// This domain's globals, one 8-byte slot each (an `i32` or `f32` in the low
    /// 32 bits, the high bits zero). Generated code reads and writes slot `i` at
    /// `globals + 8 * i` for verified global indices only.
    pub globals: *mut u64,
    /// This domain's tables, one view per table (`tables.rs`).
    pub tables: *const TableView,
    /// Native code of each of this domain's functions, by index; null for a
    /// function not translated yet (lazy translation). Generated code calls
    /// through it, and `capjit_translate` fills it in.
    pub code: *const *const u8,
}

pub const STATUS_RUNNING: u32 = 0;
pub const STATUS_FAULTED: u32 = 1;
pub const STATUS_DEAD: u32 = 2;

/// A capability as generated code reads it on the inline IDC path.
///
/// Invariant protected: `slow == 0` only for a live capability to an exported
/// function whose signature carries numbers only, while tracing is off; then `ctx`
/// and `func` are the target domain's context and that function's native code.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NativeCap {
    pub ctx: *mut DomainCtx,
    pub func: *const u8,
    pub epoch: u32,
    /// Non-zero: take the runtime's `capjit_call_cap` instead.
    pub slow: u32,
}

/// A table entry as `call_indirect` and the table helpers read it.
///
/// Invariant protected: `sig == 0` exactly for an entry that cannot be called
/// (null, or an externref); otherwise `item` is a function of the same domain,
/// whose signature the translator numbered `sig` (equal numbers, identical
/// signatures), and `call_indirect` finds its code at `ctx.code[item]`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct TableEntry {
    pub sig: u64,
    /// The reference as generated code holds it: a function index, a host handle,
    /// or [`REF_NULL`].
    pub item: u64,
}

/// A reference value as generated code carries it, when null (a function index or
/// a host handle is at most `u32::MAX`).
pub const REF_NULL: u64 = u64::MAX;

/// One table as generated code reads it: `len` entries at `base`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct TableView {
    pub base: *const TableEntry,
    pub len: u64,
}

pub const TABLE_VIEW_SIZE: i32 = std::mem::size_of::<TableView>() as i32;
pub const OFF_VIEW_BASE: i32 = offset_of!(TableView, base) as i32;
pub const OFF_VIEW_LEN: i32 = offset_of!(TableView, len) as i32;

pub const TABLE_ENTRY_SIZE: i64 = std::mem::size_of::<TableEntry>() as i64;
pub const OFF_ENTRY_ITEM: i32 = offset_of!(TableEntry, item) as i32;
pub const OFF_ENTRY_SIG: i32 = offset_of!(TableEntry, sig) as i32;

pub const NATIVE_CAP_SIZE: i64 = std::mem::size_of::<NativeCap>() as i64;
pub const OFF_CAP_CTX: i32 = offset_of!(NativeCap, ctx) as i32;
pub const OFF_CAP_FUNC: i32 = offset_of!(NativeCap, func) as i32;
pub const OFF_CAP_EPOCH: i32 = offset_of!(NativeCap, epoch) as i32;
pub const OFF_CAP_SLOW: i32 = offset_of!(NativeCap, slow) as i32;

pub const OFF_MEM_BASE: i32 = offset_of!(DomainCtx, mem_base) as i32;
pub const OFF_MEM_LEN: i32 = offset_of!(DomainCtx, mem_len) as i32;
pub const OFF_FUEL: i32 = offset_of!(DomainCtx, fuel) as i32;
pub const OFF_DEPTH: i32 = offset_of!(DomainCtx, depth) as i32;
pub const OFF_MAX_DEPTH: i32 = offset_of!(DomainCtx, max_depth) as i32;
pub const OFF_TRAP_CODE: i32 = offset_of!(DomainCtx, trap_code) as i32;
pub const OFF_TRAP_FUNC: i32 = offset_of!(DomainCtx, trap_func) as i32;
pub const OFF_TRAP_BLOCK: i32 = offset_of!(DomainCtx, trap_block) as i32;
pub const OFF_TRAP_INST: i32 = offset_of!(DomainCtx, trap_inst) as i32;
pub const OFF_STACK_LIMIT: i32 = offset_of!(DomainCtx, stack_limit) as i32;
pub const OFF_SCRATCH: i32 = offset_of!(DomainCtx, scratch) as i32;
pub const OFF_STATUS: i32 = offset_of!(DomainCtx, status) as i32;
pub const OFF_EPOCH: i32 = offset_of!(DomainCtx, epoch) as i32;
pub const OFF_ACTIVE: i32 = offset_of!(DomainCtx, active) as i32;
pub const OFF_CAPS: i32 = offset_of!(DomainCtx, caps) as i32;
pub const OFF_GLOBALS: i32 = offset_of!(DomainCtx, globals) as i32;
pub const OFF_TABLES: i32 = offset_of!(DomainCtx, tables) as i32;
pub const OFF_CODE: i32 = offset_of!(DomainCtx, code) as i32;

/// `trap_inst` value meaning "the block's terminator".
pub const TRAP_AT_TERMINATOR: u32 = u32::MAX;

/// The calling convention of every exported function's entry trampoline: arguments
/// and results as 64-bit slots (see `slots.rs`), the status (0 or a trap code) returned.
pub type EntryFn = unsafe extern "C" fn(ctx: *mut DomainCtx, args: *const u64, results: *mut u64) -> u32;
