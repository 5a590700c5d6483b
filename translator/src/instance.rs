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

use crate::lazy::{LazyTranslator, LAZY_FRAME_CAP};
use crate::{translate, translate_exports, Compiled, Config, TranslateError};

/// Bytes kept free below the lowest frame for the runtime's own Rust frames
/// (helpers, host functions, the IDC path).
const RUNTIME_RESERVE: u64 = 512 * 1024;

/// Bytes the runtime's half of one `call_cap` (`capjit_call_cap` and what it calls
/// before the callee's entry trampoline) may take on the native stack: under 700
/// in an unoptimised build when measured, so about 6x room. `tests/call_depth.rs`
/// recurses through it to the depth limit on both executors (and fails with 0).
const IDC_RUNTIME_FRAMES: u64 = 4 * 1024;

/// Bytes kept free below the lowest frame when functions are translated on their
/// first call: Cranelift then runs on the guest's thread, below the calling frame,
/// and gets as much stack as a Rust thread has by default (Wasmtime compiles on
/// such threads too).
const LAZY_RESERVE: u64 = 2 << 20;

/// The frame each level of calls is planned with when functions are translated on
/// their first call, as long as no function translated so far has a larger one.
/// Nearly every function's frame is far below it (the largest of the Lua and SQLite
/// interpreters' are about 1 KiB): if a recursion's frames are larger, the stack
/// limit may stop it (with the same `call depth exceeded` trap) before the depth
/// limit does, in its first run.
const LAZY_LEVEL_FRAME: u64 = 16 << 10;

/// How a host call's native stack is laid out: its size, and the part of it below
/// `stack_limit` kept free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct StackPlan {
    size: u64,
    margin: u64,
}

/// The native stack a host call into `code` gets, so that the call-depth limit and
/// never the native stack stops a program: every level of calls may hold the
/// largest frame and, when the module has `call_cap`, the runtime's path and a
/// trampoline; below the limit stay the largest frame a leaf may have (checked
/// before any function that calls is entered), a trampoline and the reserve for
/// the host's own entry, helpers and host functions (and the translator, when
/// functions are left to translate). With `pending` (functions left to
/// translate), frames are those translated so far, planned as at least
/// `LAZY_LEVEL_FRAME` per level (shrunk to fit `max`, never below the largest
/// known) and at most `LAZY_FRAME_CAP` for a leaf.
fn stack_plan(
    code: &Compiled,
    max_frame: u64,
    pending: bool,
    limits: &Limits,
    max: u64,
) -> Result<StackPlan, InstantiateError> {
    let idc = if code.has_call_cap {
        IDC_RUNTIME_FRAMES + code.max_trampoline_bytes
    } else {
        0
    };
    let (reserve, leaf) = if pending {
        (LAZY_RESERVE, LAZY_FRAME_CAP.max(max_frame))
    } else {
        (RUNTIME_RESERVE, max_frame)
    };
    let margin = reserve + leaf + code.max_trampoline_bytes;
    let size = |frame: u64| {
        (limits.max_call_depth as u64)
            .saturating_mul(frame + idc)
            .saturating_add(2 * margin)
            .next_multiple_of(64 * 1024)
    };
    let mut frame = max_frame;
    if pending && size(LAZY_LEVEL_FRAME.max(max_frame)) <= max {
        frame = LAZY_LEVEL_FRAME.max(max_frame);
    } else if pending && size(max_frame) <= max {
        // As much per level as fits.
        let depth = (limits.max_call_depth as u64).max(1);
        frame = ((max - 2 * margin - 64 * 1024) / depth)
            .saturating_sub(idc)
            .max(max_frame);
    }
    let needed = size(frame);
    if needed > max {
        return Err(InstantiateError::Stack {
            depth: limits.max_call_depth,
            frame,
            needed,
            max,
        });
    }
    Ok(StackPlan { size: needed, margin })
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
    /// Functions are translated on their first call.
    lazy: bool,
    limits: Limits,
    max_stack_size: u64,
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
        verified: Verified<Module>,
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
        verified: Verified<Module>,
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
        let code = if config.lazy {
            translate_exports(&verified, config)?
        } else {
            translate(&verified, config)?
        };
        let verified = std::rc::Rc::new(verified);
        let pending = config.lazy && !code.session.borrow().all_ready();
        stack_plan(&code, code.max_frame_bytes, pending, &limits, max_stack_size as u64)?;
        let table = CodeTable {
            entries: code.entries.clone(),
            code: code.code.clone(),
            sigs: code.sigs.clone(),
            lazy: config.lazy.then(|| {
                Box::new(LazyTranslator::new(verified.clone(), code.session.clone())) as Box<dyn capjit_tcb::LazyCode>
            }),
        };
        let runtime = Runtime::with_host_functions(&verified, table, limits, output, host_fns)?;
        Ok(JitInstance {
            runtime,
            code,
            lazy: config.lazy,
            limits,
            max_stack_size: max_stack_size as u64,
        })
    }

    /// The stack plan for the next host call, from the frames translated so far.
    /// Once every function is translated, the plan is the eager one.
    fn plan(&self) -> Result<StackPlan, InstantiateError> {
        let session = self.code.session.borrow();
        let pending = self.lazy && !session.all_ready();
        stack_plan(
            &self.code,
            session.max_frame,
            pending,
            &self.limits,
            self.max_stack_size,
        )
    }

    pub fn module(&self) -> &Module {
        self.runtime.module()
    }

    /// Translation statistics so far (with lazy translation, they grow as
    /// functions are first called).
    pub fn stats(&self) -> crate::Stats {
        self.code.session.borrow().stats.clone()
    }

    /// Bytes of native stack the next host call runs on.
    pub fn stack_size(&self) -> usize {
        self.plan().map_or(0, |p| p.size as usize)
    }

    /// Call exported function `f` of domain `d`.
    pub fn invoke(&mut self, d: usize, f: usize, args: &[Val]) -> Result<Vec<Val>, RunError> {
        if d >= self.runtime.domains().len() || f >= self.runtime.module().domains[d].functions.len() {
            return Err(RunError::BadInvoke(format!("no function #{f} in domain #{d}")));
        }
        let StackPlan { size, margin } = self.plan().map_err(|e| RunError::BadInvoke(e.to_string()))?;
        let stack_size = size as usize;
        let rt = SendPtr(self.runtime.as_ptr());
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
