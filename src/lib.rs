//! capjit: a proof-carrying dynamic translator. Mutually distrusting domains share
//! one address space and call each other through typed capabilities.
//!
//! This crate is the library facade: loading programs from text or binary
//! ([`load`]), verifying and running them through the JIT or the interpreter
//! ([`engine`]), running a program the way `capjit run` does (entry point,
//! arguments, WASI, start functions: [`program`]), and rendering located errors
//! ([`diagnostics`]). The IR itself, its formats and the reference interpreter
//! live in [`ir`].
//!
//! # Example
//!
//! Parse a module, verify and instantiate it (with the JIT, the default
//! [`Backend`]), and call an exported function with typed arguments. The domain's
//! memory keeps its state between calls.
//!
//! ```
//! use capjit::ir::{parse_module, Val};
//! use capjit::{Config, Instance};
//!
//! let module = parse_module(
//!     "domain counter {
//!        memory 1
//!        export func bump(i64) -> i64 {
//!        block0(v0: i64):
//!          v1 = iconst.i32 0
//!          v2 = load.i64 v1
//!          v3 = iadd.i64 v2, v0
//!          store.i64 v3, v1
//!          return v3
//!        }
//!      }",
//! )?;
//! let mut instance = Instance::new(&module, &Config::default(), Box::new(std::io::sink()))?;
//! instance.invoke("counter", "bump", &[Val::I64(3)])?;
//! assert_eq!(instance.invoke("counter", "bump", &[Val::I64(4)])?, vec![Val::I64(7)]);
//! assert_eq!(instance.memory("counter").unwrap()[..8], 7i64.to_le_bytes());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Text or binary files go through [`load::load_bytes`] / [`load::load_file`];
//! `examples/embed.rs` is a complete host with two domains.

pub use capjit_ir as ir;
pub use capjit_optimizer as optimizer;
pub use capjit_translator as translator;
pub use capjit_verifier as verifier;
pub use engine::{Backend, Config, EngineError, Instance};
pub use opt::{optimize_and_verify, optimize_and_verify_with};

pub mod diagnostics;
pub mod engine;
mod executor;
pub mod load;
pub mod opt;
pub mod program;
