//! What each import of a domain binds to: a domain's export, a built-in or
//! embedder host function, a restart or a file capability. One implementation,
//! linked by both executors.
//!
//! TRUSTED. Invariant protected: a capability only ever targets what its import
//! names, with the signature the import declares (checked again here, though the
//! verifier checked domain exports: the runtime also checks host names, which
//! only the embedder knows).

use crate::builtins::Builtin;
use crate::host_fn::{self, HostFn};
use crate::model::{Domain, Import, ImportSource, Module, Signature, Type};

/// Why a module could not be linked or instantiated.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("link error in domain `{domain}`: {message}")]
pub struct LinkError {
    pub domain: String,
    pub message: String,
}

impl LinkError {
    pub fn new(d: &Domain, message: String) -> LinkError {
        LinkError {
            domain: d.name.clone(),
            message,
        }
    }
}

/// What a capability calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapTarget {
    Func {
        domain: usize,
        func: usize,
    },
    Host(Builtin),
    /// An embedder-defined host function, by index into the embedder's list.
    Embedder(usize),
    Restart {
        domain: usize,
    },
    /// A file the host may grant under the import's name.
    File,
}

/// Bind import `imp` of domain `d`; built-in host names come before the embedder's.
pub fn bind(m: &Module, d: &Domain, imp: &Import, host_fns: &[HostFn]) -> Result<CapTarget, LinkError> {
    let expect = |have: &Signature, what: &str| -> Result<(), LinkError> {
        if have == &imp.sig {
            Ok(())
        } else {
            Err(LinkError::new(
                d,
                format!("import `{}` declares {}, but {what} has {have}", imp.name, imp.sig),
            ))
        }
    };
    match &imp.source {
        ImportSource::Export { domain, function } => {
            let Some(t) = m.domains.iter().position(|x| &x.name == domain) else {
                return Err(LinkError::new(
                    d,
                    format!("import `{}` names unknown domain `{domain}`", imp.name),
                ));
            };
            let target = &m.domains[t];
            let Some(f) = target.functions.iter().position(|f| &f.name == function && f.exported) else {
                return Err(LinkError::new(
                    d,
                    format!(
                        "import `{}`: domain `{domain}` exports no function `{function}`",
                        imp.name
                    ),
                ));
            };
            expect(&target.functions[f].sig, &format!("export `{domain}.{function}`"))?;
            Ok(CapTarget::Func { domain: t, func: f })
        }
        ImportSource::Host { function } => {
            let Some(h) = Builtin::by_name(function) else {
                // Built-in names first, then the embedder's.
                if let Some((i, f)) = host_fn::find(host_fns, function) {
                    expect(f.signature(), &format!("host function `{function}`"))?;
                    return Ok(CapTarget::Embedder(i));
                }
                let mut names = Builtin::names();
                names.extend(host_fns.iter().map(HostFn::name));
                return Err(LinkError::new(
                    d,
                    format!(
                        "import `{}`: no host function `{function}` (available: {})",
                        imp.name,
                        names.join(", ")
                    ),
                ));
            };
            expect(&h.signature(), &format!("host function `{function}`"))?;
            Ok(CapTarget::Host(h))
        }
        ImportSource::Restart { domain } => {
            let Some(t) = m.domains.iter().position(|x| &x.name == domain) else {
                return Err(LinkError::new(
                    d,
                    format!("import `{}` names unknown domain `{domain}`", imp.name),
                ));
            };
            expect(&Signature::default(), "a restart capability")?;
            Ok(CapTarget::Restart { domain: t })
        }
        ImportSource::File { .. } => {
            let want = Signature {
                params: vec![Type::Buf],
                results: vec![Type::I32],
            };
            expect(&want, "a file capability")?;
            Ok(CapTarget::File)
        }
    }
}
