//! TRUSTED. Translation on first call: what `capjit_translate` asks to fill in a
//! null entry of a domain's code table, with the function's batch (it and what it
//! reaches by direct calls).
//!
//! Invariant protected: the code handed to the runtime for `(d, f)` is function
//! `f` of domain `d` of the verified module the rest of the code table was translated from, by
//! the same session (same signature numbers and settings), finalized, and with a
//! frame no larger than [`LAZY_FRAME_CAP`], which the stack plan keeps free below
//! the stack limit.

use std::cell::RefCell;
use std::rc::Rc;

use capjit_ir::Module;
use capjit_tcb::runtime::Translated;
use capjit_tcb::LazyCode;
use capjit_verifier::Verified;

use crate::session::Session;

/// The largest frame a function translated on its first call may have. The stack
/// plan of a lazy instance keeps this much free below the stack limit (the frame of
/// a leaf is allocated before anything can check it); a function with a larger
/// frame is not run: its call traps with `resource limit`.
pub const LAZY_FRAME_CAP: u64 = 256 << 10;

pub struct LazyTranslator {
    /// The module the session's code was translated from.
    module: Rc<Verified<Module>>,
    session: Rc<RefCell<Session>>,
}

impl LazyTranslator {
    pub(crate) fn new(module: Rc<Verified<Module>>, session: Rc<RefCell<Session>>) -> LazyTranslator {
        LazyTranslator { module, session }
    }
}

// SAFETY: `translate` defines the function of `module` (whose session made the rest
// of the code table) in that session, finalizes it and hands it out only within
// `LAZY_FRAME_CAP`; the session lives as long as the runtime holding this value.
unsafe impl LazyCode for LazyTranslator {
    fn translate(&mut self, domain: usize, func: usize) -> Result<Vec<Translated>, String> {
        let functions = self
            .module
            .module()
            .domains
            .get(domain)
            .map_or(0, |d| d.functions.len());
        if func >= functions {
            return Err(format!("no function #{func} in domain #{domain}"));
        }
        let mut s = self.session.borrow_mut();
        // The function and every function it reaches by direct calls that is not
        // translated yet, in parallel: all their direct calls are direct.
        let batch = s.mark_batch(self.module.module(), &[(domain, func)]);
        let threads = s.threads();
        let translated = s.define_all(&self.module, &batch, threads).and_then(|frame| {
            s.finalize()?;
            Ok(frame)
        });
        match translated {
            Ok(frame) if frame <= LAZY_FRAME_CAP => {
                let code = batch.iter().map(|&(d, f)| ((d, f), s.code(d, f))).collect();
                Ok(code)
            }
            refused => {
                // Never handed out, so never called directly either.
                s.unmark(&batch);
                Err(match refused {
                    Ok(frame) => format!(
                        "a frame of {frame} bytes, more than the {LAZY_FRAME_CAP} a lazily translated function may have"
                    ),
                    Err(e) => e.to_string(),
                })
            }
        }
    }
}
