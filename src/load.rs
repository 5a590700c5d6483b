//! Reading programs: `.cir` text or `.cirb` binary (told apart by the magic
//! bytes), one file or several linked into one module.

use std::path::{Path, PathBuf};

use capjit_ir::codec::{self, DecodeError};
use capjit_ir::{parse_module, Module, ParseError};

/// Largest input file accepted, so that a runaway file is refused before it is read.
pub const MAX_INPUT_BYTES: u64 = 256 << 20;

/// One input file, kept for rendering errors that point into it.
#[derive(Clone, Debug)]
pub struct SourceFile {
    pub name: String,
    /// The text, for `.cir` input; `None` for binary input.
    pub text: Option<String>,
}

/// A module assembled from one or more files, with where each domain came from.
#[derive(Clone, Debug, Default)]
pub struct Loaded {
    pub module: Module,
    pub files: Vec<SourceFile>,
    /// For each domain of `module`, the index of its file in `files`.
    pub domain_file: Vec<usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read `{path}`: {err}")]
    Io { path: PathBuf, err: std::io::Error },
    #[error("`{path}` is {size} bytes; the limit is {MAX_INPUT_BYTES} bytes")]
    TooLarge { path: PathBuf, size: u64 },
    #[error("`{path}` is neither UTF-8 text nor a capjit binary (it does not start with the `\\0cir` magic)")]
    NotText { path: PathBuf },
    #[error("{err}")]
    Parse { file: SourceFile, err: ParseError },
    #[error("`{path}`: {err}")]
    Decode { path: PathBuf, err: DecodeError },
}

/// Whether `bytes` start like a capjit binary.
pub fn is_binary(bytes: &[u8]) -> bool {
    bytes.starts_with(&codec::MAGIC)
}

/// Parse or decode one file's bytes.
pub fn load_bytes(name: &str, bytes: Vec<u8>) -> Result<(Module, SourceFile), LoadError> {
    let path = PathBuf::from(name);
    if is_binary(&bytes) {
        let module = codec::decode(&bytes).map_err(|err| LoadError::Decode { path, err })?;
        let file = SourceFile {
            name: name.to_string(),
            text: None,
        };
        return Ok((module, file));
    }
    let text = String::from_utf8(bytes).map_err(|_| LoadError::NotText { path })?;
    let file = SourceFile {
        name: name.to_string(),
        text: Some(text),
    };
    let src = file.text.as_deref().unwrap_or("");
    match parse_module(src) {
        Ok(module) => Ok((module, file)),
        Err(err) => Err(LoadError::Parse { file, err }),
    }
}

/// Read, size-check and load one file.
pub fn load_file(path: &Path) -> Result<(Module, SourceFile), LoadError> {
    let io = |err| LoadError::Io {
        path: path.to_path_buf(),
        err,
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > MAX_INPUT_BYTES {
        return Err(LoadError::TooLarge {
            path: path.to_path_buf(),
            size,
        });
    }
    let bytes = std::fs::read(path).map_err(io)?;
    load_bytes(&path.display().to_string(), bytes)
}

/// Load several files into one module: their domains side by side, linked by name.
pub fn load_files(paths: &[PathBuf]) -> Result<Loaded, LoadError> {
    let mut loaded = Loaded::default();
    for path in paths {
        let (module, file) = load_file(path)?;
        let index = loaded.files.len();
        loaded.files.push(file);
        loaded
            .domain_file
            .extend(std::iter::repeat_n(index, module.domains.len()));
        loaded.module.domains.extend(module.domains);
    }
    Ok(loaded)
}
