//! Reading programs: `.cir` text or `.cirb` binary (told apart by the magic
//! bytes), and WebAssembly (`.wasm` binary or `.wat` text, through the untrusted
//! frontend); one file or several linked into one module.

use std::path::{Path, PathBuf};

use capjit_ir::codec::{self, DecodeError};
use capjit_ir::exec::TrapInfo;
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
    /// What the Wasm frontend made of the WebAssembly inputs (export names, start
    /// functions); `None` when there were none.
    pub wasm: Option<WasmInfo>,
}

/// The WebAssembly inputs' export names and start functions.
#[derive(Clone, Debug)]
pub struct WasmInfo {
    pub exports: Vec<capjit_wasm::ExportName>,
    pub modules: Vec<capjit_wasm::ModuleInfo>,
}

/// Where a trap happened, in the WebAssembly program's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WasmTrapSite {
    /// The input's name (its file name without the extension).
    pub module: String,
    pub function: capjit_wasm::WasmFunction,
    /// Byte offset in the module's binary of the operator that trapped.
    pub offset: Option<u32>,
}

impl std::fmt::Display for WasmTrapSite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} of wasm module `{}`", self.function, self.module)?;
        match self.offset {
            Some(offset) => write!(f, " at offset {offset:#x}"),
            None => Ok(()),
        }
    }
}

impl WasmInfo {
    /// Where `trap` happened in `module` (the module these inputs were loaded into),
    /// in Wasm terms; `None` when it was not in a defined Wasm function (an IR
    /// domain, or one of the frontend's wrappers).
    pub fn trap_site(&self, module: &Module, trap: &TrapInfo) -> Option<WasmTrapSite> {
        self.site(module, &trap.domain, &trap.function, trap.block, trap.inst)
    }

    /// Where IR location `function` `block` `inst` (`None`: the terminator) of
    /// `domain` is, in Wasm terms; `None` outside a defined Wasm function.
    pub fn site(
        &self,
        module: &Module,
        domain: &str,
        function: &str,
        block: u32,
        inst: Option<u32>,
    ) -> Option<WasmTrapSite> {
        let info = self.modules.iter().find(|m| m.domain == domain)?;
        let domain = module.domains.iter().find(|d| d.name == domain)?;
        let index = domain.functions.iter().position(|f| f.name == function)?;
        let function = info.functions.get(index)?.clone();
        let block = domain.functions[index].blocks.get(block as usize)?;
        let span = match inst {
            Some(i) => block.insts.get(i as usize)?.span,
            None => block.term_span,
        };
        Some(WasmTrapSite {
            module: info.name.clone(),
            function,
            offset: span.map(|s| s.start),
        })
    }

    /// The start functions to run after instantiation, in input order: (domain, function).
    pub fn start_functions(&self) -> Vec<(String, String)> {
        self.modules
            .iter()
            .filter_map(|m| m.start.clone().map(|f| (m.domain.clone(), f)))
            .collect()
    }
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
    #[error("{err}")]
    Wasm { err: capjit_wasm::WasmError },
}

/// Whether a path names a WebAssembly module (`.wasm` or `.wat`).
pub fn is_wasm_path(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()), Some("wasm" | "wat"))
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

/// Read one file's bytes, refusing files over [`MAX_INPUT_BYTES`].
fn read_limited(path: &Path) -> Result<Vec<u8>, LoadError> {
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
    std::fs::read(path).map_err(io)
}

/// Read, size-check and load one capjit IR file.
pub fn load_file(path: &Path) -> Result<(Module, SourceFile), LoadError> {
    let bytes = read_limited(path)?;
    load_bytes(&path.display().to_string(), bytes)
}

/// The name a WebAssembly file's module goes by (what other modules import from):
/// its file name without the extension.
pub fn wasm_module_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Load several files into one module: their domains side by side, linked by name.
/// The WebAssembly files among them are translated together (they import from each
/// other by file name) and their domains come after the IR files' domains.
pub fn load_files(paths: &[PathBuf]) -> Result<Loaded, LoadError> {
    let mut loaded = Loaded::default();
    let mut wasm: Vec<(String, Vec<u8>)> = Vec::new();
    let mut wasm_files = Vec::new();
    for path in paths {
        if is_wasm_path(path) {
            wasm.push((wasm_module_name(path), read_limited(path)?));
            wasm_files.push(path.display().to_string());
            continue;
        }
        let (module, file) = load_file(path)?;
        let index = loaded.files.len();
        loaded.files.push(file);
        loaded
            .domain_file
            .extend(std::iter::repeat_n(index, module.domains.len()));
        loaded.module.domains.extend(module.domains);
    }
    if wasm.is_empty() {
        return Ok(loaded);
    }
    let inputs: Vec<capjit_wasm::WasmInput> = wasm
        .iter()
        .map(|(name, bytes)| capjit_wasm::WasmInput {
            name: name.clone(),
            bytes,
        })
        .collect();
    let translated = capjit_wasm::translate(&inputs).map_err(|err| LoadError::Wasm { err })?;
    for (name, module) in wasm_files.into_iter().zip(&translated.modules) {
        let index = loaded.files.len();
        loaded.files.push(SourceFile { name, text: None });
        let count = translated
            .module
            .domains
            .iter()
            .filter(|d| d.name == module.domain)
            .count();
        loaded.domain_file.extend(std::iter::repeat_n(index, count));
    }
    loaded.module.domains.extend(translated.module.domains);
    loaded.wasm = Some(WasmInfo {
        exports: translated.exports,
        modules: translated.modules,
    });
    Ok(loaded)
}
