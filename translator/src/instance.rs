//! TRUSTED. A translated module bound to its runtime, behind a safe interface.
//!
//! Invariant protected: the native code lives exactly as long as the runtime that
//! calls it; generated code only ever runs on a thread whose stack has the room the
//! translator reported, with the runtime's state reachable by nothing else; the
//! untrusted host sees the runtime only through these methods, none of which can
//! break what generated code relies on.

use std::io::Write;

use capjit_ir::exec::{DomainStatus, IdcEvent, Limits, RunError, TrapInfo};
use capjit_ir::{HostFn, Module, Val};
use capjit_tcb::{CodeTable, LinkError, Runtime};
use capjit_verifier::Verified;

use crate::{translate, Compiled, Config, TranslateError};

/// Bytes kept free below the lowest frame for the runtime's own Rust frames
/// (helpers, host functions, the IDC path).
const RUNTIME_RESERVE: u64 = 512 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum InstantiateError {
    #[error(transparent)]
    Translate(#[from] TranslateError),
    #[error(transparent)]
    Link(#[from] LinkError),
}

/// A verified module translated and linked, ready to be called.
pub struct JitInstance {
    runtime: Box<Runtime>,
    /// Dropped after the runtime: no native code outlives its callers.
    code: Compiled,
    stack_size: usize,
}

/// Raw pointer to a runtime, handed to the thread that runs generated code while
/// its owner waits.
struct SendPtr(*mut Runtime);
// SAFETY: the runtime is only touched by the worker thread while the owning thread
// is blocked joining it (see `JitInstance::invoke`).
unsafe impl Send for SendPtr {}

impl JitInstance {
    /// Translate and link. Every call runs on a fresh thread with `stack_size`
    /// bytes of stack.
    pub fn new(
        verified: &Verified<Module>,
        config: &Config,
        limits: Limits,
        output: Box<dyn Write + Send>,
        stack_size: usize,
    ) -> Result<JitInstance, InstantiateError> {
        Self::with_host_functions(verified, config, limits, output, stack_size, Vec::new())
    }

    /// [`JitInstance::new`], with host functions the embedder defines, linked to
    /// imports `= host.NAME` after the built-in ones.
    pub fn with_host_functions(
        verified: &Verified<Module>,
        config: &Config,
        limits: Limits,
        output: Box<dyn Write + Send>,
        stack_size: usize,
        host_fns: Vec<HostFn>,
    ) -> Result<JitInstance, InstantiateError> {
        let code = translate(verified, config)?;
        let table = CodeTable {
            entries: code.entries.clone(),
            functions: code.exported_code.clone(),
            tables: code.tables.clone(),
        };
        let runtime = Runtime::with_host_functions(verified, table, limits, output, host_fns)?;
        Ok(JitInstance {
            runtime,
            code,
            stack_size,
        })
    }

    pub fn module(&self) -> &Module {
        &self.runtime.module
    }

    /// Translation statistics.
    pub fn stats(&self) -> &crate::Stats {
        &self.code.stats
    }

    /// Call exported function `f` of domain `d`.
    pub fn invoke(&mut self, d: usize, f: usize, args: &[Val]) -> Result<Vec<Val>, RunError> {
        if d >= self.runtime.domains.len() || f >= self.runtime.module.domains[d].functions.len() {
            return Err(RunError::BadInvoke(format!("no function #{f} in domain #{d}")));
        }
        let rt = SendPtr(&mut *self.runtime);
        let margin = RUNTIME_RESERVE + self.code.max_frame_bytes;
        let stack_size = self.stack_size;
        if margin * 2 > stack_size as u64 {
            return Err(RunError::BadInvoke(format!(
                "a stack of {stack_size} bytes is too small for this module (needs over {})",
                margin * 2
            )));
        }
        std::thread::scope(|s| {
            let worker = std::thread::Builder::new()
                .stack_size(stack_size)
                .spawn_scoped(s, move || {
                    let rt = rt;
                    let marker = 0u8;
                    let top = std::ptr::addr_of!(marker) as u64;
                    let limit = top.saturating_sub(stack_size as u64) + margin;
                    // The owner is blocked in `join`, the code lives in `self.code`
                    // (borrowed for the scope), and the stack spans `stack_size` bytes
                    // below `top`, so `limit` keeps `margin` bytes free above its end.
                    // SAFETY: exclusive runtime, live code, and room on the stack (above).
                    unsafe { capjit_tcb::invoke(rt.0, d, f, args, limit) }
                });
            match worker {
                Ok(handle) => handle
                    .join()
                    .unwrap_or_else(|_| Err(RunError::Invalid("the runtime panicked".into()))),
                Err(e) => Err(RunError::BadInvoke(format!("cannot start a thread for the call: {e}"))),
            }
        })
    }

    pub fn domain_index(&self, name: &str) -> Option<usize> {
        self.runtime.domain_index(name)
    }

    pub fn status(&self, d: usize) -> DomainStatus {
        self.runtime.domains[d].status()
    }

    /// The last trap of every faulted domain, in domain order.
    pub fn faults(&self) -> Vec<TrapInfo> {
        self.runtime
            .domains
            .iter()
            .filter(|d| d.status() == DomainStatus::Faulted)
            .filter_map(|d| d.last_trap.clone())
            .collect()
    }

    pub fn memory(&self, d: usize) -> &[u8] {
        &self.runtime.domains[d].memory
    }

    pub fn fuel(&self, d: usize) -> u64 {
        self.runtime.domains[d].ctx.fuel
    }

    pub fn restart(&mut self, d: usize) {
        self.runtime.restart(d);
    }

    pub fn kill(&mut self, d: usize) {
        self.runtime.kill(d);
    }

    pub fn revoke(&mut self, d: usize, import: usize) {
        self.runtime.revoke(d, import);
    }

    pub fn grant_file(&mut self, name: &str, path: std::path::PathBuf) {
        self.runtime.files.retain(|(n, _)| n != name);
        self.runtime.files.push((name.to_string(), path));
    }

    pub fn set_trace(&mut self, on: bool) {
        self.runtime.set_trace(on);
    }

    pub fn take_trace(&mut self) -> Vec<IdcEvent> {
        self.runtime.trace.as_mut().map(std::mem::take).unwrap_or_default()
    }
}
