//! capjit IR.
//!
//! Always built, and the only part trusted code may use (plain data and names):
//! `model` (the IR), `shape` (each operation's result types, each terminator's
//! successors, condition and numeric-type helpers: the IR's shape, written once),
//! `trap` (trap codes), `value` (runtime values), `exec` (limits,
//! statuses and reports shared by executors), `names` (display forms),
//! `host_fn` (host functions the embedder defines), `builtins` (the built-in host
//! functions), `link` (what each import binds to) and `resources` (the byte budget
//! and region table): the last three are shared by both executors.
//!
//! With the `tools` feature (on by default; trusted crates turn it off, so the
//! compiler keeps them away from it): the `.cir` text format (`parse`, `print`),
//! the binary codec (`codec`), the reference interpreter (`interp`) and the values
//! each operation reads (`operands`, for the optimiser and test tools). These are
//! untrusted: whatever they produce is verified again.

pub mod builtins;
pub mod exec;
pub mod host_fn;
pub mod link;
pub mod model;
pub mod names;
pub mod resources;
pub mod shape;
pub mod trap;
pub mod value;

pub use host_fn::{HostCall, HostFailure, HostFn};
pub use model::*;
pub use shape::{DomainTypes, ResultTypes};
pub use trap::TrapCode;
pub use value::{RegionHandle, Val};

#[cfg(feature = "tools")]
pub mod codec;
#[cfg(feature = "tools")]
pub mod interp;
#[cfg(feature = "tools")]
mod lexer;
#[cfg(feature = "tools")]
pub mod operands;
#[cfg(feature = "tools")]
pub mod parse;
#[cfg(feature = "tools")]
pub mod print;

#[cfg(feature = "tools")]
pub use parse::{parse_module, ParseError};
#[cfg(feature = "tools")]
pub use print::print_module;
