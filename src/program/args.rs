//! An entry point's arguments, from words (as on a command line) to typed values.
//!
//! Each word is read as the type of the parameter it fills: `i32` takes
//! `-2147483648..=4294967295` (values above `i32::MAX` wrap, as unsigned),
//! `i64` likewise for 64 bits, `f32` and `f64` any decimal Rust reads
//! (`1.5`, `-0`, `inf`, `NaN`). Capabilities, regions and buffers cannot be
//! written as words.

use capjit_ir::{Module, Signature, Type, Val};

use super::entry::Entry;

/// Why the words do not fit the entry point's parameters.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ArgError {
    #[error("`{entry}` takes {} argument(s) {sig}, given {given}", .sig.params.len())]
    Count { entry: Entry, sig: Signature, given: usize },
    #[error("argument `{word}` is not a valid {ty} (parameter {position} of `{entry}`)")]
    Invalid {
        entry: Entry,
        position: usize,
        word: String,
        ty: Type,
    },
    #[error("parameter {position} of `{entry}` is a {ty}, which no argument can give")]
    Unwritable { entry: Entry, position: usize, ty: Type },
    #[error("domain `{}` exports no function `{}`", .0.domain, .0.function)]
    NoSuchEntry(Entry),
}

/// The signature of the exported function `entry`, if the module has it.
pub fn entry_signature<'m>(module: &'m Module, entry: &Entry) -> Option<&'m Signature> {
    module
        .domains
        .iter()
        .find(|d| d.name == entry.domain)
        .and_then(|d| d.functions.iter().find(|f| f.name == entry.function && f.exported))
        .map(|f| &f.sig)
}

/// Read `words` as the arguments of `entry`, one per parameter.
pub fn parse_args(module: &Module, entry: &Entry, words: &[String]) -> Result<Vec<Val>, ArgError> {
    let Some(sig) = entry_signature(module, entry) else {
        return Err(ArgError::NoSuchEntry(entry.clone()));
    };
    if words.len() != sig.params.len() {
        return Err(ArgError::Count {
            entry: entry.clone(),
            sig: sig.clone(),
            given: words.len(),
        });
    }
    let mut vals = Vec::with_capacity(words.len());
    for (i, (ty, word)) in sig.params.iter().zip(words).enumerate() {
        let position = i + 1;
        if !writable(ty) {
            return Err(ArgError::Unwritable {
                entry: entry.clone(),
                position,
                ty: ty.clone(),
            });
        }
        let Some(val) = parse_arg(ty, word) else {
            return Err(ArgError::Invalid {
                entry: entry.clone(),
                position,
                word: word.clone(),
                ty: ty.clone(),
            });
        };
        vals.push(val);
    }
    Ok(vals)
}

/// Whether a value of type `ty` can be written as a word.
fn writable(ty: &Type) -> bool {
    !matches!(ty, Type::Cap(_) | Type::Region | Type::Buf)
}

/// One word as a value of type `ty`, if it is one.
fn parse_arg(ty: &Type, word: &str) -> Option<Val> {
    match ty {
        Type::I32 => {
            let v: i64 = word.parse().ok()?;
            (i32::MIN as i64..=u32::MAX as i64)
                .contains(&v)
                .then_some(Val::I32(v as i32))
        }
        Type::I64 => {
            let v: i128 = word.parse().ok()?;
            (i64::MIN as i128..=u64::MAX as i128)
                .contains(&v)
                .then_some(Val::I64(v as i64))
        }
        Type::F32 => word.parse::<f32>().ok().map(|f| Val::F32(f.to_bits())),
        Type::F64 => word.parse::<f64>().ok().map(|f| Val::F64(f.to_bits())),
        // A reference from the command line: `null`, or a host handle for an externref.
        Type::FuncRef => (word == "null").then_some(Val::FuncRef(None)),
        Type::ExternRef if word == "null" => Some(Val::ExternRef(None)),
        Type::ExternRef => word.parse().ok().map(|h| Val::ExternRef(Some(h))),
        Type::Cap(_) | Type::Region | Type::Buf => None,
    }
}
