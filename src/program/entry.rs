//! Which exported function a program run starts at: the entry point.
//!
//! A name is `DOMAIN.FUNC`, a `FUNC` exactly one domain exports, or, for
//! WebAssembly inputs, an export's Wasm name (`MODULE.NAME` picks a module).
//! Without a name: `main`; else a WebAssembly program's `_start`; else the only
//! exported function.

use std::fmt;

use capjit_ir::Module;

use crate::load::{Loaded, WasmInfo};

/// An exported function, by domain and function name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub domain: String,
    pub function: String,
}

impl Entry {
    pub fn new(domain: impl Into<String>, function: impl Into<String>) -> Entry {
        Entry {
            domain: domain.into(),
            function: function.into(),
        }
    }
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.domain, self.function)
    }
}

/// Why no entry point was found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("no domain exports a function `{0}`")]
    NotFound(String),
    #[error("no domain named `{domain}` (entry `{domain}.{function}`)")]
    NoDomain { domain: String, function: String },
    #[error("domain `{domain}` exports no function `{function}`")]
    NotExported { domain: String, function: String },
    #[error("several domains export `{name}` ({}); choose one as `DOMAIN.{name}`", .owners.join(", "))]
    AmbiguousFunction { name: String, owners: Vec<String> },
    #[error("several modules export `{name}` ({}); choose one as `MODULE.{name}`", .modules.join(", "))]
    AmbiguousWasmExport { name: String, modules: Vec<String> },
    #[error("no function to run by default: nothing exports `main` and {count} functions are exported ({})", .first.join(", "))]
    NoDefault { count: usize, first: Vec<String> },
}

/// The entry point `name` designates (see the module documentation), or the
/// default one when `name` is `None`.
pub fn resolve_entry(loaded: &Loaded, name: Option<&str>) -> Result<Entry, EntryError> {
    let module = &loaded.module;
    let name = match (name, &loaded.wasm) {
        (Some(name), _) => name,
        (None, _) if exports_function(module, "main") => "main",
        (None, Some(w)) if w.exports.iter().any(|e| e.wasm_name == "_start") => "_start",
        (None, _) => {
            let mut exports = all_exports(module);
            if exports.len() == 1 {
                return Ok(exports.remove(0));
            }
            // A WebAssembly export may still be called `main`.
            return resolve_name(loaded, "main").map_err(|e| match e {
                EntryError::NotFound(_) if exports.len() > 1 => EntryError::NoDefault {
                    count: exports.len(),
                    first: exports.iter().take(5).map(Entry::to_string).collect(),
                },
                other => other,
            });
        }
    };
    resolve_name(loaded, name)
}

/// A name given or chosen by default: a WebAssembly export first, then IR names.
fn resolve_name(loaded: &Loaded, name: &str) -> Result<Entry, EntryError> {
    if let Some(wasm) = &loaded.wasm {
        if let Some(found) = resolve_wasm_export(wasm, name)? {
            return Ok(found);
        }
    }
    resolve_ir_entry(&loaded.module, name)
}

fn exports_function(module: &Module, name: &str) -> bool {
    module
        .domains
        .iter()
        .any(|d| d.functions.iter().any(|f| f.exported && f.name == name))
}

/// Every exported function, in module order.
fn all_exports(module: &Module) -> Vec<Entry> {
    module
        .domains
        .iter()
        .flat_map(|d| {
            d.functions
                .iter()
                .filter(|f| f.exported)
                .map(move |f| Entry::new(&d.name, &f.name))
        })
        .collect()
}

/// A WebAssembly export by its Wasm name, or `MODULE.NAME`; `None` if no module
/// exports such a name.
fn resolve_wasm_export(wasm: &WasmInfo, name: &str) -> Result<Option<Entry>, EntryError> {
    let by_name: Vec<_> = wasm.exports.iter().filter(|e| e.wasm_name == name).collect();
    match by_name.as_slice() {
        [one] => return Ok(Some(Entry::new(&one.domain, &one.function))),
        [] => {}
        many => {
            let modules = many
                .iter()
                .filter_map(|e| wasm.modules.iter().find(|m| m.domain == e.domain))
                .map(|m| m.name.clone())
                .collect();
            return Err(EntryError::AmbiguousWasmExport {
                name: name.to_string(),
                modules,
            });
        }
    }
    let Some((module, export)) = name.split_once('.') else {
        return Ok(None);
    };
    let Some(info) = wasm.modules.iter().find(|m| m.name == module || m.domain == module) else {
        return Ok(None);
    };
    Ok(wasm
        .exports
        .iter()
        .find(|e| e.domain == info.domain && e.wasm_name == export)
        .map(|e| Entry::new(&e.domain, &e.function)))
}

/// `DOMAIN.FUNC`, or a `FUNC` exactly one IR domain exports.
fn resolve_ir_entry(module: &Module, name: &str) -> Result<Entry, EntryError> {
    if let Some((domain, function)) = name.split_once('.') {
        let Some(d) = module.domains.iter().find(|d| d.name == domain) else {
            return Err(EntryError::NoDomain {
                domain: domain.to_string(),
                function: function.to_string(),
            });
        };
        if !d.functions.iter().any(|f| f.exported && f.name == function) {
            return Err(EntryError::NotExported {
                domain: domain.to_string(),
                function: function.to_string(),
            });
        }
        return Ok(Entry::new(domain, function));
    }
    let owners: Vec<String> = module
        .domains
        .iter()
        .filter(|d| d.functions.iter().any(|f| f.exported && f.name == name))
        .map(|d| d.name.clone())
        .collect();
    match owners.as_slice() {
        [one] => Ok(Entry::new(one, name)),
        [] => Err(EntryError::NotFound(name.to_string())),
        _ => Err(EntryError::AmbiguousFunction {
            name: name.to_string(),
            owners,
        }),
    }
}
