//! Host functions the embedder defines, and how any host function fails.
//!
//! Plain data shared by both executors (the JIT runtime and the reference
//! interpreter). An embedder function is granted to a domain only through an
//! import `= host.NAME` whose signature equals the function's; it takes and
//! returns numbers only, and sees nothing of the domain but its linear memory,
//! as a slice ([`HostCall`]). The closure is the embedder's own code, trusted by
//! the embedder like any host function; what the runtime relies on is checked
//! here, once for both executors: the arguments and results match the signature
//! (a closure returning anything else fails the call with `host_error`), and a
//! panicking closure fails the call instead of unwinding into the runtime.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use crate::model::{Signature, Type};
use crate::trap::TrapCode;
use crate::value::Val;

/// How a host call went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostFailure {
    /// The caller passed something invalid (e.g. a buffer outside its memory):
    /// the caller traps with this code.
    CallerTrap(TrapCode),
    /// The host could not do it: the caller takes its failure successor with this code.
    Failed(TrapCode),
    /// End the calling domain's activation with exit status `n`: it unwinds like
    /// a trap with code `exit`. Reaching the host, the call returns
    /// `RunError::Exit(n)`; reaching an inter-domain call, the caller takes its
    /// failure successor with code `exit` (a callee cannot end its caller).
    Exit(i32),
}

/// What a host function sees of its caller: the calling domain's linear memory,
/// as it is (the slice's bounds are the memory's bounds), and nothing else.
pub struct HostCall<'a> {
    memory: &'a mut [u8],
}

impl<'a> HostCall<'a> {
    /// A call on `memory` (the runtimes build these; so can tests of host functions).
    pub fn new(memory: &'a mut [u8]) -> HostCall<'a> {
        HostCall { memory }
    }

    /// The caller's linear memory.
    pub fn memory(&self) -> &[u8] {
        self.memory
    }

    /// The caller's linear memory, writable; it cannot grow or move.
    pub fn memory_mut(&mut self) -> &mut [u8] {
        self.memory
    }
}

/// The closure behind a [`HostFn`].
pub type HostClosure = dyn Fn(&mut HostCall<'_>, &[Val]) -> Result<Vec<Val>, HostFailure> + Send + Sync;

/// Why a [`HostFn`] could not be defined.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("host function `{name}`: {message}")]
pub struct HostFnError {
    pub name: String,
    pub message: String,
}

/// A host function the embedder defines, linked to imports `= host.NAME` of the
/// same signature. Built-in host functions take precedence over one of the same
/// name.
///
/// ```
/// use capjit_ir::host_fn::{HostCall, HostFn};
/// use capjit_ir::{Signature, Type, Val};
///
/// // (ptr, len) -> sum of the bytes; a range outside the memory yields -1.
/// let sig = Signature { params: vec![Type::I32, Type::I32], results: vec![Type::I64] };
/// let sum = HostFn::new("byte_sum", sig, |call: &mut HostCall<'_>, args: &[Val]| {
///     let [Val::I32(ptr), Val::I32(len)] = *args else { unreachable!("checked against the signature") };
///     let range = (ptr as u32 as usize)..(ptr as u32 as usize).saturating_add(len as u32 as usize);
///     Ok(vec![Val::I64(match call.memory().get(range) {
///         Some(bytes) => bytes.iter().map(|&b| b as i64).sum(),
///         None => -1,
///     })])
/// })?;
/// let mut memory = vec![1u8, 2, 3, 4];
/// let mut call = HostCall::new(&mut memory);
/// assert_eq!(sum.call(&mut call, &[Val::I32(1), Val::I32(3)]), Ok(vec![Val::I64(9)]));
/// assert_eq!(sum.call(&mut call, &[Val::I32(2), Val::I32(9)]), Ok(vec![Val::I64(-1)]));
/// # Ok::<(), capjit_ir::host_fn::HostFnError>(())
/// ```
#[derive(Clone)]
pub struct HostFn {
    name: String,
    sig: Signature,
    func: Arc<HostClosure>,
}

impl fmt::Debug for HostFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HostFn({} : {})", self.name, self.sig)
    }
}

fn is_number(t: &Type) -> bool {
    matches!(t, Type::I32 | Type::I64 | Type::F32 | Type::F64)
}

/// Whether `vals` are exactly of the types `types`.
fn fits(vals: &[Val], types: &[Type]) -> bool {
    vals.len() == types.len() && vals.iter().zip(types).all(|(v, t)| v.has_type(t))
}

impl HostFn {
    /// Define `name` (what imports write after `host.`: letters, digits and `_`,
    /// not starting with a digit) with signature `sig`, whose parameters and
    /// results must all be numbers (`i32`, `i64`, `f32`, `f64`).
    pub fn new<F>(name: impl Into<String>, sig: Signature, func: F) -> Result<HostFn, HostFnError>
    where
        F: Fn(&mut HostCall<'_>, &[Val]) -> Result<Vec<Val>, HostFailure> + Send + Sync + 'static,
    {
        let name = name.into();
        let err = |message: String| HostFnError {
            name: name.clone(),
            message,
        };
        let mut chars = name.chars();
        let good_start = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        if !good_start || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(err(
                "a name is letters, digits and `_`, not starting with a digit".into()
            ));
        }
        if matches!(name.as_str(), "restart" | "file") {
            return Err(err(
                "the name is reserved for `host.restart(D)` and `host.file(NAME)`".into()
            ));
        }
        if let Some(t) = sig.params.iter().chain(&sig.results).find(|t| !is_number(t)) {
            return Err(err(format!(
                "signature {sig} has a parameter or result of type {t}; host functions take and return numbers only"
            )));
        }
        Ok(HostFn {
            name,
            sig,
            func: Arc::new(func),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn signature(&self) -> &Signature {
        &self.sig
    }

    /// Run the function for a caller. Arguments that do not match the signature,
    /// results that do not match it, and a panic in the closure all fail the call
    /// with `host_error`, so the runtimes can rely on the shape of what comes back.
    pub fn call(&self, call: &mut HostCall<'_>, args: &[Val]) -> Result<Vec<Val>, HostFailure> {
        if !fits(args, &self.sig.params) {
            return Err(HostFailure::Failed(TrapCode::HostError));
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| (self.func)(call, args)))
            .unwrap_or(Err(HostFailure::Failed(TrapCode::HostError)))?;
        if !fits(&outcome, &self.sig.results) {
            return Err(HostFailure::Failed(TrapCode::HostError));
        }
        Ok(outcome)
    }
}

/// The embedder function named `name` among `fns` (the first one, if several).
pub fn find<'a>(fns: &'a [HostFn], name: &str) -> Option<(usize, &'a HostFn)> {
    fns.iter().enumerate().find(|(_, f)| f.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(params: Vec<Type>, results: Vec<Type>) -> Signature {
        Signature { params, results }
    }

    #[test]
    fn only_numbers_and_good_names() {
        let ok = |_: &mut HostCall<'_>, _: &[Val]| Ok(vec![]);
        assert!(HostFn::new("f_1", sig(vec![Type::I32, Type::F64], vec![]), ok).is_ok());
        assert!(HostFn::new("f", sig(vec![Type::Buf], vec![]), ok).is_err());
        assert!(HostFn::new("f", sig(vec![], vec![Type::Region]), ok).is_err());
        let cap = Type::Cap(Box::default());
        assert!(HostFn::new("f", sig(vec![cap], vec![]), ok).is_err());
        for bad in ["", "1f", "a.b", "a-b", "restart", "file", "é"] {
            assert!(HostFn::new(bad, Signature::default(), ok).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn wrong_results_and_panics_fail_the_call() {
        let three = HostFn::new(
            "three",
            sig(vec![], vec![Type::I32]),
            |_: &mut HostCall<'_>, _: &[Val]| Ok(vec![Val::I32(1), Val::I32(2), Val::I32(3)]),
        )
        .unwrap();
        let wrong_type = HostFn::new("w", sig(vec![], vec![Type::I32]), |_: &mut HostCall<'_>, _: &[Val]| {
            Ok(vec![Val::I64(1)])
        })
        .unwrap();
        let panics = HostFn::new("p", sig(vec![], vec![]), |_: &mut HostCall<'_>, _: &[Val]| {
            panic!("the embedder's bug")
        })
        .unwrap();
        let mut mem = [0u8; 4];
        let mut call = HostCall::new(&mut mem);
        let host_error = Err(HostFailure::Failed(TrapCode::HostError));
        assert_eq!(three.call(&mut call, &[]), host_error);
        assert_eq!(wrong_type.call(&mut call, &[]), host_error);
        assert_eq!(panics.call(&mut call, &[]), host_error);
        // Arguments not of the signature never reach the closure.
        assert_eq!(three.call(&mut call, &[Val::I32(0)]), host_error);
    }
}
