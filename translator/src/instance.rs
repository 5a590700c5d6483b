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
use capjit_tcb::{CodeTable, LinkError, Runtime, Shared};
use capjit_verifier::Verified;

use crate::{translate, Compiled, Config, TranslateError};

/// Bytes kept free below the lowest frame for the runtime's own Rust frames
/// (helpers, host functions, the IDC path).
const RUNTIME_RESERVE: u64 = 512 * 1024;

/// Bytes the runtime's half of one `call_cap` (`capjit_call_cap` and what it calls
/// before the callee's entry trampoline) may take on the native stack: under 700
/// in an unoptimised build when measured, so about 6x room. `tests/call_depth.rs`
/// recurses through it to the depth limit on both executors (and fails with 0).
const IDC_RUNTIME_FRAMES: u64 = 4 * 1024;

/// The native stack a host call into `code` gets, and the part of it below
/// `stack_limit` kept free, so that the call-depth limit and never the native stack
/// stops a program: every level of calls may hold the module's largest frame and,
/// when it has `call_cap`, the runtime's path and a trampoline; the host's own
/// entry, helpers and host functions fit in the reserve.
fn stack_plan(code: &Compiled, limits: &Limits) -> (u64, u64) {
    let per_level = code.max_frame_bytes
        + if code.has_call_cap {
            IDC_RUNTIME_FRAMES + code.max_trampoline_bytes
        } else {
            0
        };
    let margin = RUNTIME_RESERVE + code.max_frame_bytes + code.max_trampoline_bytes;
    let size = (limits.max_call_depth as u64)
        .saturating_mul(per_level)
        .saturating_add(2 * margin)
        .next_multiple_of(64 * 1024);
    (size, margin)
}

#[derive(Debug, thiserror::Error)]
pub enum InstantiateError {
    #[error(transparent)]
    Translate(#[from] TranslateError),
    #[error(transparent)]
    Link(#[from] LinkError),
    #[error(
        "a call depth of {depth} with frames of up to {frame} bytes needs {needed} bytes of native stack, \
         more than the {max} allowed: lower the call-depth limit or allow a larger stack"
    )]
    Stack {
        depth: u32,
        frame: u64,
        needed: u64,
        max: u64,
    },
}

/// A verified module translated and linked, ready to be called.
pub struct JitInstance {
    runtime: Shared<Runtime>,
    /// Dropped after the runtime: no native code outlives its callers.
    code: Compiled,
    /// Native stack of each host call, and the part of it kept free below the
    /// stack limit (see `stack_plan`).
    stack_size: usize,
    margin: u64,
}

/// Raw pointer to a runtime, handed to the thread that runs generated code while
/// its owner waits.
struct SendPtr(*mut Runtime);
// SAFETY: the runtime is only touched by the worker thread while the owning thread
// is blocked joining it (see `JitInstance::invoke`).
unsafe impl Send for SendPtr {}

impl JitInstance {
    /// Translate and link. Every call runs on a fresh thread whose stack holds
    /// `limits.max_call_depth` levels of the module's largest frames, at most
    /// `max_stack_size` bytes.
    pub fn new(
        verified: &Verified<Module>,
        config: &Config,
        limits: Limits,
        output: Box<dyn Write + Send>,
        max_stack_size: usize,
    ) -> Result<JitInstance, InstantiateError> {
        Self::with_host_functions(verified, config, limits, output, max_stack_size, Vec::new())
    }

    /// [`JitInstance::new`], with host functions the embedder defines, linked to
    /// imports `= host.NAME` after the built-in ones.
    pub fn with_host_functions(
        verified: &Verified<Module>,
        config: &Config,
        limits: Limits,
        output: Box<dyn Write + Send>,
        max_stack_size: usize,
        host_fns: Vec<HostFn>,
    ) -> Result<JitInstance, InstantiateError> {
        let config = &Config {
            fuel: config.fuel && limits.fuel != Limits::UNLIMITED_FUEL,
            ..config.clone()
        };
        let code = translate(verified, config)?;
        let (stack_size, margin) = stack_plan(&code, &limits);
        if stack_size > max_stack_size as u64 {
            return Err(InstantiateError::Stack {
                depth: limits.max_call_depth,
                frame: code.max_frame_bytes,
                needed: stack_size,
                max: max_stack_size as u64,
            });
        }
        let table = CodeTable {
            entries: code.entries.clone(),
            functions: code.exported_code.clone(),
            table_entries: code.table_entries.clone(),
        };
        let runtime = Runtime::with_host_functions(verified, table, limits, output, host_fns)?;
        Ok(JitInstance {
            runtime,
            code,
            stack_size: stack_size as usize,
            margin,
        })
    }

    pub fn module(&self) -> &Module {
        self.runtime.module()
    }

    /// Translation statistics.
    pub fn stats(&self) -> &crate::Stats {
        &self.code.stats
    }

    /// Bytes of native stack each host call runs on.
    pub fn stack_size(&self) -> usize {
        self.stack_size
    }

    /// Call exported function `f` of domain `d`.
    pub fn invoke(&mut self, d: usize, f: usize, args: &[Val]) -> Result<Vec<Val>, RunError> {
        if d >= self.runtime.domains().len() || f >= self.runtime.module().domains[d].functions.len() {
            return Err(RunError::BadInvoke(format!("no function #{f} in domain #{d}")));
        }
        let rt = SendPtr(self.runtime.as_ptr());
        let (margin, stack_size) = (self.margin, self.stack_size);
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
        self.runtime.domains()[d].status()
    }

    /// The last trap of every faulted domain, in domain order.
    pub fn faults(&self) -> Vec<TrapInfo> {
        self.runtime
            .domains()
            .iter()
            .filter(|d| d.status() == DomainStatus::Faulted)
            .filter_map(|d| d.last_trap().cloned())
            .collect()
    }

    pub fn memory(&self, d: usize) -> &[u8] {
        self.runtime.domains()[d].memory()
    }

    pub fn fuel(&self, d: usize) -> u64 {
        self.runtime.domains()[d].context().fuel
    }

    /// Restart domain `d`; `false` when its initial memory no longer fits the
    /// instance's budget or the host (it is then left dead).
    pub fn restart(&mut self, d: usize) -> bool {
        self.runtime.restart(d)
    }

    pub fn kill(&mut self, d: usize) {
        self.runtime.kill(d);
    }

    pub fn revoke(&mut self, d: usize, import: usize) {
        self.runtime.revoke(d, import);
    }

    pub fn grant_file(&mut self, name: &str, path: std::path::PathBuf) {
        self.runtime.grant_file(name, path);
    }

    pub fn set_trace(&mut self, on: bool) {
        self.runtime.set_trace(on);
    }

    pub fn take_trace(&mut self) -> Vec<IdcEvent> {
        self.runtime.take_trace()
    }
}
