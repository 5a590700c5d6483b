//! capjit IR: the data model (`model`, trusted plain data), the `.cir` text format
//! (`parse`, `print`), the binary codec (`codec`) and the reference interpreter
//! (`interp`). Only `model` and `trap` are read by the trusted verifier; everything
//! else here is untrusted and its output is re-checked.

pub mod codec;
pub mod exec;
pub mod model;
pub mod trap;
pub mod value;

pub use model::*;
pub use trap::TrapCode;
pub use value::{RegionHandle, Val};
mod lexer;
pub mod parse;
pub mod print;

pub use parse::{parse_module, ParseError};
pub use print::print_module;
pub mod interp;
