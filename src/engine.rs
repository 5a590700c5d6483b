//! The embedding API: verify a module, then run it through the JIT (translator +
//! runtime) or the reference interpreter behind one interface.

use std::io::Write;

use capjit_ir::exec::{DomainStatus, IdcEvent, Limits, RunError, TrapInfo};
use capjit_ir::{Module, Val};
use capjit_tcb::{LinkError, Runtime};
use capjit_translator::{Compiled, TranslateError};
use capjit_verifier::{Verified, VerifyError};

/// Which executor runs the code.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Backend {
    /// Verified IR translated to native code by Cranelift.
    #[default]
    Jit,
    /// The reference interpreter.
    Interpreter,
}

/// How an [`Instance`] is built and what it may use.
#[derive(Clone, Debug)]
pub struct Config {
    pub backend: Backend,
    pub limits: Limits,
    pub translator: capjit_translator::Config,
    /// Native stack for each host call into JIT code, in bytes.
    pub stack_size: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            backend: Backend::Jit,
            limits: Limits::default(),
            translator: capjit_translator::Config::default(),
            stack_size: 256 << 20,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("verification failed with {} error(s); first: {}", .0.len(), .0.first().map_or(String::new(), |e| e.to_string()))]
    Verify(Vec<VerifyError>),
    #[error(transparent)]
    Translate(#[from] TranslateError),
    #[error(transparent)]
    Link(#[from] LinkError),
    #[error(transparent)]
    InterpLink(#[from] capjit_ir::interp::LinkError),
}

struct Jit {
    runtime: Box<Runtime>,
    /// Keeps the native code alive; dropped after the runtime.
    code: Compiled,
    stack_size: usize,
}

enum Inner {
    Jit(Box<Jit>),
    Interp(capjit_ir::interp::Instance),
}

/// A linked module ready to be called.
pub struct Instance {
    inner: Inner,
}

/// Raw pointer to a runtime, moved to the thread that runs generated code while
/// the owner waits for it.
struct SendPtr(*mut Runtime);
// SAFETY: the runtime is only touched by the worker thread while the owning
// thread is blocked joining it (see `Jit::invoke`).
unsafe impl Send for SendPtr {}

/// Bytes kept free below the lowest frame for the runtime's own Rust frames
/// (helpers, host functions, IDC).
const RUNTIME_RESERVE: u64 = 512 * 1024;

impl Jit {
    fn invoke(&mut self, d: usize, f: usize, args: &[Val]) -> Result<Vec<Val>, RunError> {
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
                    // SAFETY: this thread has exclusive use of the runtime until it ends
                    // (the owner is blocked in `join`), and its stack spans at least
                    // `stack_size` bytes below `top`, so `limit` leaves `margin` bytes
                    // above the stack's end for the largest frame and the runtime.
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
}

impl Instance {
    /// Verify `module` and instantiate it with the configured backend. Host
    /// `print` functions write to `output`.
    pub fn new(module: &Module, config: &Config, output: Box<dyn Write + Send>) -> Result<Instance, EngineError> {
        let verified = capjit_verifier::verify(module).map_err(EngineError::Verify)?;
        Self::from_verified(verified, config, output)
    }

    pub fn from_verified(
        verified: Verified<Module>,
        config: &Config,
        output: Box<dyn Write + Send>,
    ) -> Result<Instance, EngineError> {
        let inner = match config.backend {
            Backend::Interpreter => Inner::Interp(capjit_ir::interp::Instance::new(
                verified.into_inner(),
                config.limits,
                output,
            )?),
            Backend::Jit => {
                let code = capjit_translator::translate(&verified, &config.translator)?;
                let runtime = Runtime::new(&verified, code.entries.clone(), config.limits, output)?;
                Inner::Jit(Box::new(Jit {
                    runtime,
                    code,
                    stack_size: config.stack_size,
                }))
            }
        };
        Ok(Instance { inner })
    }

    fn module(&self) -> &Module {
        match &self.inner {
            Inner::Jit(j) => &j.runtime.module,
            Inner::Interp(i) => i.module(),
        }
    }

    fn domain_index(&self, name: &str) -> Result<usize, RunError> {
        self.module()
            .domains
            .iter()
            .position(|d| d.name == name)
            .ok_or_else(|| RunError::BadInvoke(format!("no domain named `{name}`")))
    }

    /// Call exported function `function` of `domain` with `args`.
    pub fn invoke(&mut self, domain: &str, function: &str, args: &[Val]) -> Result<Vec<Val>, RunError> {
        let d = self.domain_index(domain)?;
        let Some(f) = self.module().domains[d]
            .functions
            .iter()
            .position(|f| f.name == function && f.exported)
        else {
            return Err(RunError::BadInvoke(format!(
                "domain `{domain}` exports no function `{function}`"
            )));
        };
        match &mut self.inner {
            Inner::Interp(i) => i.invoke(domain, function, args),
            Inner::Jit(j) => j.invoke(d, f, args),
        }
    }

    pub fn status(&self, domain: &str) -> Option<DomainStatus> {
        match &self.inner {
            Inner::Interp(i) => i.status(domain),
            Inner::Jit(j) => j.runtime.domain_index(domain).map(|d| j.runtime.domains[d].status),
        }
    }

    /// The last trap of every faulted domain, in domain order.
    pub fn faults(&self) -> Vec<TrapInfo> {
        match &self.inner {
            Inner::Interp(i) => i.faults(),
            Inner::Jit(j) => j
                .runtime
                .domains
                .iter()
                .filter(|d| d.status == DomainStatus::Faulted)
                .filter_map(|d| d.last_trap.clone())
                .collect(),
        }
    }

    /// A domain's linear memory.
    pub fn memory(&self, domain: &str) -> Option<&[u8]> {
        match &self.inner {
            Inner::Interp(i) => i.memory(domain),
            Inner::Jit(j) => j
                .runtime
                .domain_index(domain)
                .map(|d| j.runtime.domains[d].memory.as_slice()),
        }
    }

    /// Fuel left in a domain.
    pub fn fuel(&self, domain: &str) -> Option<u64> {
        match &self.inner {
            Inner::Interp(i) => i.fuel(domain),
            Inner::Jit(j) => j.runtime.domain_index(domain).map(|d| j.runtime.domains[d].ctx.fuel),
        }
    }

    /// Put a domain back to its image (memory, fuel), free its regions, mark it running.
    pub fn restart(&mut self, domain: &str) -> Result<(), RunError> {
        let d = self.domain_index(domain)?;
        match &mut self.inner {
            Inner::Interp(i) => i.restart(domain),
            Inner::Jit(j) => {
                j.runtime.restart(d);
                Ok(())
            }
        }
    }

    /// Kill a domain: dead for good, every capability into it revoked.
    pub fn kill(&mut self, domain: &str) -> Result<(), RunError> {
        let d = self.domain_index(domain)?;
        match &mut self.inner {
            Inner::Interp(i) => i.kill(domain),
            Inner::Jit(j) => {
                j.runtime.kill(d);
                Ok(())
            }
        }
    }

    /// Revoke the capability bound to `import` in `domain`.
    pub fn revoke(&mut self, domain: &str, import: &str) -> Result<(), RunError> {
        let d = self.domain_index(domain)?;
        let Some(i) = self.module().domains[d].imports.iter().position(|i| i.name == import) else {
            return Err(RunError::BadInvoke(format!(
                "domain `{domain}` has no import `{import}`"
            )));
        };
        match &mut self.inner {
            Inner::Interp(inst) => inst.revoke(domain, import),
            Inner::Jit(j) => {
                j.runtime.domains[d].caps[i].revoked = true;
                Ok(())
            }
        }
    }

    /// Grant the file at `path` to every domain that imports `host.file(name)`.
    /// Nothing else of the file system is reachable from a domain.
    pub fn grant_file(&mut self, name: &str, path: std::path::PathBuf) {
        match &mut self.inner {
            Inner::Interp(i) => i.grant_file(name, path),
            Inner::Jit(j) => {
                j.runtime.files.retain(|(n, _)| n != name);
                j.runtime.files.push((name.to_string(), path));
            }
        }
    }

    /// Record every inter-domain call from now on (or stop).
    pub fn set_trace(&mut self, on: bool) {
        match &mut self.inner {
            Inner::Interp(i) => i.set_trace(on),
            Inner::Jit(j) => j.runtime.trace = on.then(Vec::new),
        }
    }

    /// The calls recorded since tracing was switched on.
    pub fn take_trace(&mut self) -> Vec<IdcEvent> {
        match &mut self.inner {
            Inner::Interp(i) => i.take_trace(),
            Inner::Jit(j) => j.runtime.trace.as_mut().map(std::mem::take).unwrap_or_default(),
        }
    }
}
