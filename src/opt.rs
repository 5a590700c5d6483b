//! Optimise, then verify again, and fall back when the optimiser got it wrong.
//!
//! The optimiser (`capjit-optimizer`) is untrusted: its output is verified like
//! any other module. [`optimize_and_verify`] verifies the original module first
//! (its errors are the program's errors), then optimises and verifies the result.
//! If the optimised module is rejected, or the optimiser panics, the original,
//! already verified module is used instead and the reason is kept in
//! [`Optimized::fallback`], so the program still runs, correctly, and never
//! unverified:
//!
//! ```
//! use capjit::ir::parse_module;
//! use capjit::opt::optimize_and_verify;
//!
//! let module = parse_module(
//!     "domain m {
//!        memory 1
//!        export func get(i32) -> i32 {
//!        block0(v0: i32):
//!          v1 = iconst.i32 255
//!          v2 = band.i32 v0, v1
//!          v3 = load8u.i32 v2
//!          return v3
//!        }
//!      }",
//! )?;
//! let out = optimize_and_verify(&module).map_err(|e| format!("{e:?}"))?;
//! assert!(out.fallback.is_none());
//! // The optimiser attached `v2 !range(0, 255)`: the load needs no check.
//! assert_eq!(out.verified.counts().accesses_proven, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::panic::{catch_unwind, AssertUnwindSafe};

use capjit_ir::Module;
use capjit_verifier::{verify, Verified, VerifyError};

/// Why the optimised module was not used.
#[derive(Debug)]
pub enum Fallback {
    /// The verifier rejected the optimised module; every error it reported.
    Rejected(Vec<VerifyError>),
    /// The optimiser panicked (its message).
    Panicked(String),
}

/// The module that will run, and whether it is the optimised one.
#[derive(Debug)]
pub struct Optimized {
    /// The optimised module when it verified, else the original.
    pub verified: Verified<Module>,
    /// Why the original is used, if it is.
    pub fallback: Option<Fallback>,
    /// Memory accesses (proven, checked) of the original module.
    pub before: (u64, u64),
    /// What the optimiser reported (empty after a panic).
    pub report: capjit_optimizer::Report,
}

impl Optimized {
    /// Warning lines for a fallback (at most `max_errors` verifier errors, each
    /// with its rule name and location), or nothing when the optimised module runs.
    pub fn warnings(&self, max_errors: usize) -> Vec<String> {
        match &self.fallback {
            None => Vec::new(),
            Some(Fallback::Panicked(msg)) => {
                vec![format!(
                    "warning: the optimiser panicked ({msg}); running the unoptimised module"
                )]
            }
            Some(Fallback::Rejected(errors)) => {
                let mut out = vec![format!(
                    "warning: the optimised module failed verification with {} error(s); running the unoptimised module",
                    errors.len()
                )];
                for e in errors.iter().take(max_errors) {
                    out.push(format!("warning:   [{}] {}: {}", e.kind.name(), e.location, e.kind));
                }
                if errors.len() > max_errors {
                    out.push(format!("warning:   ... and {} more", errors.len() - max_errors));
                }
                out
            }
        }
    }
}

/// Optimise with every pass; see the module documentation.
pub fn optimize_and_verify(m: &Module) -> Result<Optimized, Vec<VerifyError>> {
    optimize_and_verify_with(m, |m| {
        capjit_optimizer::optimize_report(m, &capjit_optimizer::Options::default())
    })
}

/// The same with any optimiser (tests pass a lying one). `Err` holds the
/// original module's own verification errors.
pub fn optimize_and_verify_with(
    m: &Module,
    optimizer: impl FnOnce(&Module) -> (Module, capjit_optimizer::Report),
) -> Result<Optimized, Vec<VerifyError>> {
    let original = verify(m)?;
    let c = original.counts();
    let before = (c.accesses_proven, c.accesses_checked);
    let optimized = match catch_unwind(AssertUnwindSafe(|| optimizer(m))) {
        Ok(o) => o,
        Err(p) => {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            return Ok(Optimized {
                verified: original,
                fallback: Some(Fallback::Panicked(msg)),
                before,
                report: Default::default(),
            });
        }
    };
    let (module, report) = optimized;
    match verify(&module) {
        Ok(v) => Ok(Optimized {
            verified: v,
            fallback: None,
            before,
            report,
        }),
        Err(errors) => Ok(Optimized {
            verified: original,
            fallback: Some(Fallback::Rejected(errors)),
            before,
            report,
        }),
    }
}
