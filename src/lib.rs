//! capjit: a proof-carrying dynamic translator. Mutually distrusting domains share
//! one address space and call each other through typed capabilities.
//!
//! This crate is the library facade: loading programs from text or binary
//! ([`load`]), verifying and running them through the JIT or the interpreter
//! ([`engine`]), and rendering located errors ([`diagnostics`]). The IR itself, its
//! formats and the reference interpreter live in [`ir`].

pub use capjit_ir as ir;
pub use capjit_translator as translator;
pub use capjit_verifier as verifier;
pub use engine::{Backend, Config, EngineError, Instance};

pub mod diagnostics;
pub mod engine;
pub mod load;
