//! TRUSTED. The capjit runtime: domains with their own memory, capability table,
//! fuel and state; regions with exactly one owner; inter-domain calls with copy and
//! transfer; traps surfaced as status codes, never as signals.
//!
//! Invariants protected (each file says which part it holds):
//! - generated code reaches memory only through its own domain's `DomainCtx`
//!   (`ctx.rs`), which always describes that domain's current memory (`runtime.rs`);
//! - a capability call goes only where the capability was linked, only while it is
//!   live, and a callee's trap faults only the callee (`idc.rs`);
//! - helpers check every range before touching memory, tables or regions
//!   (`helpers.rs`, `tables.rs`;
//!   the region table is the IR model's `resources.rs`); host functions exist only
//!   as granted imports (the IR model's `link.rs` binds them, `builtins.rs` runs
//!   the built-in ones, for both executors);
//! - whatever host memory a guest asks for is obtained fallibly and within the
//!   limits' budgets (`memory.rs`, `runtime.rs`): exhaustion is the guilty
//!   domain's -1 or trap, never the host's abort.

pub mod ctx;
pub mod helpers;
pub mod idc;
pub mod memory;
pub mod runtime;
pub mod shared;
pub mod slots;
pub mod tables;

pub use ctx::{DomainCtx, EntryFn};
pub use runtime::{invoke, CodeTable, LazyCode, LinkError, Runtime};
pub use shared::Shared;
