//! Errors of the Wasm frontend: which module, where in its binary, what went wrong.

use std::fmt;

/// What kind of problem a [`WasmError`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WasmErrorKind {
    /// The text format (`.wat`) does not parse.
    Syntax,
    /// The binary is not a valid WebAssembly module (wasmparser's validator says why).
    Invalid,
    /// Valid WebAssembly that uses something outside the frontend's scope; the
    /// message starts with `unsupported: ` and names the feature.
    Unsupported,
    /// An import cannot be bound (no such module or export, or a type mismatch), or
    /// two inputs share a name.
    Link,
    /// Instantiation would fail: a data or element segment lies outside its memory
    /// or table.
    Instantiation,
    /// A size the capjit IR or verifier cannot take (too many blocks, values, ...).
    Limit,
}

/// A translation error: the input module's name, the byte offset in its binary
/// where wasmparser gives one, and a message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct WasmError {
    /// The name of the input ([`crate::WasmInput::name`]).
    pub module: String,
    /// Byte offset in the Wasm binary (after converting text to binary).
    pub offset: Option<u64>,
    pub kind: WasmErrorKind,
    pub message: String,
}

impl fmt::Display for WasmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "wasm module `{}`", self.module)?;
        if let Some(off) = self.offset {
            write!(f, " at offset {off:#x}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl WasmError {
    pub fn new(module: &str, offset: Option<u64>, kind: WasmErrorKind, message: impl Into<String>) -> Self {
        WasmError {
            module: module.to_string(),
            offset,
            kind,
            message: message.into(),
        }
    }

    /// An `unsupported: FEATURE` error.
    pub fn unsupported(module: &str, offset: Option<u64>, feature: impl fmt::Display) -> Self {
        WasmError::new(
            module,
            offset,
            WasmErrorKind::Unsupported,
            format!("unsupported: {feature}"),
        )
    }

    /// Whether this error is about a feature outside the frontend's scope.
    pub fn is_unsupported(&self) -> bool {
        self.kind == WasmErrorKind::Unsupported
    }

    /// A wasmparser error met while reading an already validated module.
    pub(crate) fn from_reader(module: &str, e: &wasmparser::BinaryReaderError) -> Self {
        WasmError::new(
            module,
            Some(e.offset()),
            WasmErrorKind::Invalid,
            e.message().to_string(),
        )
    }
}
