//! The core capjit's random program generators share: where their choices come
//! from, the operation tables they draw from, and how a function body is built
//! (blocks with parameters, fresh values, instructions, terminators, and the scope
//! of typed values an operand is picked from).
//!
//! Users:
//! - `tests/support/gen_valid.rs`, the differential generator of valid programs
//!   (driven by proptest's choice vectors, by a seeded PRNG, and by fuzzer bytes in
//!   `fuzz/fuzz_targets/jit_vs_interp.rs`);
//! - `fuzz/src/gen.rs`, the mostly-valid modules of the `verify_structured` target
//!   (fuzzer bytes);
//! - `benches/modgen/`, the benches' generated module (a seeded PRNG).
//!
//! Not a user: `ir/tests/common/gen.rs`, the proptest strategies of the IR's
//! round-trip tests. They build structurally arbitrary, invalid modules (values
//! unrelated to types or scope), and as a dev-dependency of `capjit-ir` this crate
//! would bring a second copy of the IR types into those tests.
//!
//! Test, fuzz and bench code only: no trusted crate depends on it.

pub mod builder;
pub mod choice;
pub mod ops;

pub use builder::{edge, FnBuilder, Mark, Reuse, Scoping};
pub use choice::{ByteChoices, Choices, FnChoices, XorShift};
