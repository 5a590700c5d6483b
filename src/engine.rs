//! The embedding API: verify a module, then run it through the JIT (translator +
//! runtime) or the reference interpreter behind one interface.
//!
//! An [`Instance`] holds every domain of a module. The host calls exported
//! functions with [`Instance::invoke`]; domains call each other only through the
//! capabilities they import (`call_cap`), and a trap in a callee reaches its caller's
//! `fail` successor as a code while the callee is marked faulted:
//!
//! ```
//! use capjit::ir::exec::DomainStatus;
//! use capjit::ir::{parse_module, TrapCode, Val};
//! use capjit::{Config, Instance};
//!
//! let module = parse_module(
//!     "domain worker {
//!        export func div(i32, i32) -> i32 {
//!        block0(v0: i32, v1: i32):
//!          v2 = sdiv.i32 v0, v1
//!          return v2
//!        }
//!      }
//!      domain app {
//!        import div = worker.div : (i32, i32) -> i32
//!        export func main(i32) -> i32 {
//!        block0(v0: i32):
//!          v1 = iconst.i32 100
//!          v2 = cap.get div
//!          call_cap v2(v1, v0) -> ok(block1), fail(block2)
//!        block1(v3: i32):
//!          return v3
//!        block2(v4: i32):                ; the trap code
//!          v5 = iconst.i32 -1
//!          v6 = imul.i32 v4, v5
//!          return v6
//!        }
//!      }",
//! )?;
//! let mut instance = Instance::new(&module, &Config::default(), Box::new(std::io::sink()))?;
//! assert_eq!(instance.invoke("app", "main", &[Val::I32(4)])?, vec![Val::I32(25)]);
//! // worker divides by zero: app survives on its fail edge, worker is faulted.
//! let code = TrapCode::IntDivideByZero.code();
//! assert_eq!(instance.invoke("app", "main", &[Val::I32(0)])?, vec![Val::I32(-code)]);
//! assert_eq!(instance.status("worker"), Some(DomainStatus::Faulted));
//! assert_eq!(instance.status("app"), Some(DomainStatus::Running));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::Write;

use capjit_ir::exec::{DomainStatus, IdcEvent, Limits, RunError, TrapInfo};
use capjit_ir::{HostFn, Module, Val};
use capjit_tcb::LinkError;
use capjit_translator::{InstantiateError, JitInstance, TranslateError};
use capjit_verifier::{Verified, VerifyError};

use crate::executor::Executor;

/// Which executor runs the code. Both give the same results, traps and memory
/// contents for every verified module; the JIT is the fast one.
///
/// ```
/// use capjit::ir::{parse_module, Val};
/// use capjit::{Backend, Config, Instance};
///
/// let module = parse_module(
///     "domain m {
///        export func sq(f64) -> f64 {
///        block0(v0: f64):
///          v1 = fmul.f64 v0, v0
///          return v1
///        }
///      }",
/// )?;
/// for backend in [Backend::Jit, Backend::Interpreter] {
///     let config = Config { backend, ..Config::default() };
///     let mut instance = Instance::new(&module, &config, Box::new(std::io::sink()))?;
///     let x = Val::F64(1.5f64.to_bits());
///     assert_eq!(instance.invoke("m", "sq", &[x])?, vec![Val::F64(2.25f64.to_bits())]);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Backend {
    /// Verified IR translated to native code by Cranelift.
    #[default]
    Jit,
    /// The reference interpreter.
    Interpreter,
}

/// How an [`Instance`] is built and what it may use. Start from
/// `Config::default()` (the JIT, [`Limits::default()`]) and change what you need:
///
/// ```
/// use capjit::ir::exec::{Limits, RunError};
/// use capjit::ir::{parse_module, TrapCode};
/// use capjit::{Backend, Config, Instance};
///
/// let module = parse_module(
///     "domain spin {
///        export func forever() {
///        block0:
///          jump block1
///        block1:
///          jump block1
///        }
///      }",
/// )?;
/// let config = Config {
///     backend: Backend::Jit,
///     limits: Limits { fuel: 1000, ..Limits::default() },
///     ..Config::default()
/// };
/// let mut instance = Instance::new(&module, &config, Box::new(std::io::sink()))?;
/// match instance.invoke("spin", "forever", &[]) {
///     Err(RunError::Trap(trap)) => assert_eq!(trap.code, TrapCode::FuelExhausted),
///     other => panic!("expected a trap, got {other:?}"),
/// }
/// assert_eq!(instance.fuel("spin"), Some(0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    /// The JIT (default) or the reference interpreter.
    pub backend: Backend,
    /// Fuel, call depth, memory and region limits, the same for every domain.
    pub limits: Limits,
    /// Translator settings (used by the JIT only).
    pub translator: capjit_translator::Config,
    /// The most native stack a host call into JIT code may get, in bytes. Each call
    /// gets what the module's largest frames times the call-depth limit need (so
    /// that the depth limit, never the stack, stops a program, on both backends);
    /// a module that would need more is refused when instantiated.
    pub max_stack_size: usize,
    /// Host functions the embedder defines (see [`HostFn`]), granted only to
    /// domains that import them (`= host.NAME`, with the same signature).
    ///
    /// A host function takes and returns numbers and sees nothing of the
    /// calling domain but its linear memory, as a slice. It may fail the call
    /// (`HostFailure::Failed`: the caller's `fail` successor), make the caller
    /// trap (`HostFailure::CallerTrap`), or end the caller's activation with
    /// an exit status (`HostFailure::Exit`: [`RunError::Exit`] when the host
    /// called that domain, the `exit` code on a calling domain's `fail` edge):
    ///
    /// ```
    /// use capjit::ir::exec::RunError;
    /// use capjit::ir::{parse_module, HostCall, HostFailure, HostFn, Signature, Type, Val};
    /// use capjit::{Backend, Config, Instance};
    ///
    /// // checksum(ptr, len) -> i32: sums bytes of the caller's memory.
    /// let checksum = HostFn::new(
    ///     "checksum",
    ///     Signature { params: vec![Type::I32, Type::I32], results: vec![Type::I32] },
    ///     |call: &mut HostCall<'_>, args: &[Val]| {
    ///         let [Val::I32(ptr), Val::I32(len)] = *args else { unreachable!() };
    ///         let (start, len) = (ptr as u32 as usize, len as u32 as usize);
    ///         match call.memory().get(start..start.saturating_add(len)) {
    ///             Some(bytes) => Ok(vec![Val::I32(bytes.iter().map(|&b| b as i32).sum())]),
    ///             None => Err(HostFailure::CallerTrap(capjit::ir::TrapCode::OutOfBounds)),
    ///         }
    ///     },
    /// )?;
    /// let quit = HostFn::new(
    ///     "quit",
    ///     Signature { params: vec![Type::I32], results: vec![] },
    ///     |_: &mut HostCall<'_>, args: &[Val]| match args {
    ///         [Val::I32(status)] => Err(HostFailure::Exit(*status)),
    ///         _ => unreachable!(),
    ///     },
    /// )?;
    /// let module = parse_module(
    ///     r#"domain app {
    ///          memory 1
    ///          data 0 "\01\02\03"
    ///          import checksum = host.checksum : (i32, i32) -> i32
    ///          import quit = host.quit : (i32)
    ///          export func sum(i32) -> i32 {
    ///          block0(v0: i32):
    ///            v1 = iconst.i32 0
    ///            v2 = cap.get checksum
    ///            call_cap v2(v1, v0) -> ok(block1), fail(block1)
    ///          block1(v3: i32):
    ///            return v3
    ///          }
    ///          export func stop() {
    ///          block0:
    ///            v0 = iconst.i32 7
    ///            v1 = cap.get quit
    ///            call_cap v1(v0) -> ok(block1), fail(block2)
    ///          block1:
    ///            return
    ///          block2(v2: i32):
    ///            return
    ///          }
    ///        }"#,
    /// )?;
    /// for backend in [Backend::Jit, Backend::Interpreter] {
    ///     let config = Config { backend, host_functions: vec![checksum.clone(), quit.clone()], ..Config::default() };
    ///     let mut instance = Instance::new(&module, &config, Box::new(std::io::sink()))?;
    ///     assert_eq!(instance.invoke("app", "sum", &[Val::I32(3)])?, vec![Val::I32(6)]);
    ///     assert!(matches!(instance.invoke("app", "sum", &[Val::I32(1 << 20)]), Err(RunError::Trap(_))));
    ///     instance.restart("app")?;
    ///     assert_eq!(instance.invoke("app", "stop", &[]), Err(RunError::Exit(7)));
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub host_functions: Vec<HostFn>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            backend: Backend::Jit,
            limits: Limits::default(),
            translator: capjit_translator::Config::default(),
            max_stack_size: 4 << 30,
            host_functions: Vec::new(),
        }
    }
}

/// Why [`Instance::new`] refused a module.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("verification failed with {} error(s); first: {}", .0.len(), .0.first().map_or(String::new(), |e| e.to_string()))]
    Verify(Vec<VerifyError>),
    #[error(transparent)]
    Translate(#[from] TranslateError),
    /// Linking failed (either backend: both link with `capjit_ir::link`).
    #[error(transparent)]
    Link(#[from] LinkError),
    /// The call-depth limit times the module's largest native frame is more
    /// stack than [`Config::max_stack_size`] allows.
    #[error("{0}")]
    Stack(String),
    /// Two host functions of [`Config::host_functions`] share a name, or one
    /// has the name of a built-in host function.
    #[error("host function `{0}` is defined twice (or is a built-in)")]
    HostFunction(String),
}

impl From<InstantiateError> for EngineError {
    fn from(e: InstantiateError) -> Self {
        match e {
            InstantiateError::Translate(t) => EngineError::Translate(t),
            InstantiateError::Link(l) => EngineError::Link(l),
            stack @ InstantiateError::Stack { .. } => EngineError::Stack(stack.to_string()),
        }
    }
}

/// A linked module ready to be called, on either backend.
///
/// Every method takes names; they are resolved to indices here, once, and the
/// request goes to the backend through the one [`Executor`] interface, so both
/// backends refuse the same requests with the same messages.
pub struct Instance {
    executor: Box<dyn Executor>,
}

impl Instance {
    /// Verify `module` and instantiate it with the configured backend. Host
    /// `print` functions write to `output`.
    ///
    /// Nothing runs unless the verifier accepts the whole module; its errors come
    /// back in [`EngineError::Verify`]:
    ///
    /// ```
    /// use capjit::ir::parse_module;
    /// use capjit::{Config, EngineError, Instance};
    ///
    /// let bad = parse_module(
    ///     "domain m {
    ///        export func f(i32) -> i64 {
    ///        block0(v0: i32):
    ///          return v0
    ///        }
    ///      }",
    /// )?;
    /// match Instance::new(&bad, &Config::default(), Box::new(std::io::sink())) {
    ///     Err(EngineError::Verify(errors)) => assert_eq!(errors[0].kind.name(), "type_mismatch"),
    ///     _ => panic!("the verifier should refuse a function returning an i32 as i64"),
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(module: &Module, config: &Config, output: Box<dyn Write + Send>) -> Result<Instance, EngineError> {
        let verified = capjit_verifier::verify(module).map_err(EngineError::Verify)?;
        Self::from_verified(verified, config, output)
    }

    /// Instantiate a module the verifier already accepted (see
    /// [`capjit_verifier::verify`]), for hosts that verify once and report the
    /// errors themselves.
    pub fn from_verified(
        verified: Verified<Module>,
        config: &Config,
        output: Box<dyn Write + Send>,
    ) -> Result<Instance, EngineError> {
        let fns = &config.host_functions;
        let builtins = capjit_ir::builtins::Builtin::names();
        let clash = fns.iter().enumerate().find_map(|(i, f)| {
            let taken = builtins.contains(&f.name()) || fns[..i].iter().any(|g| g.name() == f.name());
            taken.then(|| f.name().to_string())
        });
        if let Some(name) = clash {
            return Err(EngineError::HostFunction(name));
        }
        let executor: Box<dyn Executor> = match config.backend {
            Backend::Interpreter => Box::new(capjit_ir::interp::Instance::with_host_functions(
                verified.into_inner(),
                config.limits,
                output,
                fns.clone(),
            )?),
            Backend::Jit => Box::new(JitInstance::with_host_functions(
                verified,
                &config.translator,
                config.limits,
                output,
                config.max_stack_size,
                fns.clone(),
            )?),
        };
        Ok(Instance { executor })
    }

    /// The module this instance runs (after optimisation, if the host optimised it).
    pub fn module(&self) -> &Module {
        self.executor.module()
    }

    fn domain_index(&self, name: &str) -> Result<usize, RunError> {
        self.module()
            .domains
            .iter()
            .position(|d| d.name == name)
            .ok_or_else(|| RunError::BadInvoke(format!("no domain named `{name}`")))
    }

    /// The exported function `function` of domain `d`, with arguments checked
    /// against its signature.
    fn exported_function_index(&self, d: usize, function: &str, args: &[Val]) -> Result<usize, RunError> {
        let domain = &self.module().domains[d];
        let Some(f) = domain.functions.iter().position(|f| f.name == function && f.exported) else {
            return Err(RunError::BadInvoke(format!(
                "domain `{}` exports no function `{function}`",
                domain.name
            )));
        };
        let sig = &domain.functions[f].sig;
        if args.len() != sig.params.len() || args.iter().zip(&sig.params).any(|(a, t)| !a.has_type(t)) {
            let given: Vec<String> = args.iter().map(Val::to_string).collect();
            return Err(RunError::BadInvoke(format!(
                "`{}.{function}` takes {sig}, given ({})",
                domain.name,
                given.join(", ")
            )));
        }
        Ok(f)
    }

    /// Call exported function `function` of `domain` with `args`.
    ///
    /// The arguments must match the function's signature exactly
    /// ([`RunError::BadInvoke`] otherwise). A trap in the called domain itself
    /// comes back as [`RunError::Trap`] and leaves that domain faulted; traps in
    /// domains it calls reach its `fail` successors instead.
    ///
    /// ```
    /// use capjit::ir::exec::RunError;
    /// use capjit::ir::{parse_module, TrapCode, Val};
    /// use capjit::{Config, Instance};
    ///
    /// let module = parse_module(
    ///     "domain m {
    ///        memory 1
    ///        export func get(i32) -> i64 {
    ///        block0(v0: i32):
    ///          v1 = load.i64 v0
    ///          return v1
    ///        }
    ///      }",
    /// )?;
    /// let mut instance = Instance::new(&module, &Config::default(), Box::new(std::io::sink()))?;
    /// assert_eq!(instance.invoke("m", "get", &[Val::I32(8)])?, vec![Val::I64(0)]);
    /// // Wrong argument types are refused before anything runs.
    /// assert!(matches!(instance.invoke("m", "get", &[Val::I64(8)]), Err(RunError::BadInvoke(_))));
    /// // Out of bounds: a trap, reported with where it happened.
    /// match instance.invoke("m", "get", &[Val::I32(65536)]) {
    ///     Err(RunError::Trap(trap)) => {
    ///         assert_eq!(trap.code, TrapCode::OutOfBounds);
    ///         assert_eq!((trap.domain.as_str(), trap.function.as_str()), ("m", "get"));
    ///     }
    ///     other => panic!("expected a trap, got {other:?}"),
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn invoke(&mut self, domain: &str, function: &str, args: &[Val]) -> Result<Vec<Val>, RunError> {
        let d = self.domain_index(domain)?;
        let f = self.exported_function_index(d, function, args)?;
        self.executor.invoke(d, f, args)
    }

    /// Whether `domain` is running, faulted or dead (`None`: no such domain).
    pub fn status(&self, domain: &str) -> Option<DomainStatus> {
        let d = self.domain_index(domain).ok()?;
        Some(self.executor.status(d))
    }

    /// The last trap of every faulted domain, in domain order.
    pub fn faults(&self) -> Vec<TrapInfo> {
        self.executor.faults()
    }

    /// A domain's linear memory.
    pub fn memory(&self, domain: &str) -> Option<&[u8]> {
        let d = self.domain_index(domain).ok()?;
        Some(self.executor.memory(d))
    }

    /// Fuel left in a domain.
    pub fn fuel(&self, domain: &str) -> Option<u64> {
        let d = self.domain_index(domain).ok()?;
        Some(self.executor.fuel(d))
    }

    /// Put a domain back to its image (memory, fuel), free its regions, mark it running.
    ///
    /// A faulted domain refuses every call until it is restarted; capabilities into
    /// it keep working afterwards. Domains can do the same through a
    /// `host.restart(D)` capability.
    ///
    /// ```
    /// use capjit::ir::exec::{DomainStatus, RunError};
    /// use capjit::ir::{parse_module, TrapCode, Val};
    /// use capjit::{Config, Instance};
    ///
    /// let module = parse_module(
    ///     "domain w {
    ///        memory 1
    ///        data 0 \"\\07\"
    ///        export func step(i32) -> i32 {
    ///        block0(v0: i32):
    ///          v1 = iconst.i32 0
    ///          v2 = load8u.i32 v1
    ///          store8.i32 v0, v1
    ///          v3 = udiv.i32 v2, v0        ; traps when v0 is 0
    ///          return v3
    ///        }
    ///      }",
    /// )?;
    /// let mut instance = Instance::new(&module, &Config::default(), Box::new(std::io::sink()))?;
    /// assert!(matches!(instance.invoke("w", "step", &[Val::I32(0)]), Err(RunError::Trap(_))));
    /// assert_eq!(instance.status("w"), Some(DomainStatus::Faulted));
    /// assert_eq!(instance.faults()[0].code, TrapCode::IntDivideByZero);
    /// assert_eq!(instance.memory("w").unwrap()[0], 0); // what it wrote before the trap
    /// // Refused until restarted...
    /// match instance.invoke("w", "step", &[Val::I32(1)]) {
    ///     Err(RunError::Trap(t)) => assert_eq!(t.code, TrapCode::DomainUnavailable),
    ///     other => panic!("{other:?}"),
    /// }
    /// // ...then back to its image: the data segment's 7 is there again.
    /// instance.restart("w")?;
    /// assert_eq!(instance.status("w"), Some(DomainStatus::Running));
    /// assert_eq!(instance.invoke("w", "step", &[Val::I32(1)])?, vec![Val::I32(7)]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn restart(&mut self, domain: &str) -> Result<(), RunError> {
        let d = self.domain_index(domain)?;
        match self.executor.restart(d) {
            true => Ok(()),
            false => Err(RunError::BadInvoke(format!(
                "domain `{domain}` cannot restart: its memory no longer fits the instance's budget"
            ))),
        }
    }

    /// Kill a domain: dead for good, every capability into it revoked.
    ///
    /// Callers take their `fail` successor with `cap_revoked`, even if the host
    /// restarts the domain later.
    ///
    /// ```
    /// use capjit::ir::exec::DomainStatus;
    /// use capjit::ir::{parse_module, TrapCode, Val};
    /// use capjit::{Config, Instance};
    ///
    /// let module = parse_module(
    ///     "domain svc {
    ///        export func one() -> i32 {
    ///        block0:
    ///          v0 = iconst.i32 1
    ///          return v0
    ///        }
    ///      }
    ///      domain app {
    ///        import one = svc.one : () -> i32
    ///        export func main() -> i32 {
    ///        block0:
    ///          v0 = cap.get one
    ///          call_cap v0() -> ok(block1), fail(block1)
    ///        block1(v1: i32):              ; 1, or the failure code
    ///          return v1
    ///        }
    ///      }",
    /// )?;
    /// let mut instance = Instance::new(&module, &Config::default(), Box::new(std::io::sink()))?;
    /// instance.kill("svc")?;
    /// assert_eq!(instance.status("svc"), Some(DomainStatus::Dead));
    /// let revoked = Val::I32(TrapCode::CapRevoked.code());
    /// assert_eq!(instance.invoke("app", "main", &[])?, vec![revoked]);
    /// instance.restart("svc")?;
    /// assert_eq!(instance.invoke("app", "main", &[])?, vec![revoked]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn kill(&mut self, domain: &str) -> Result<(), RunError> {
        let d = self.domain_index(domain)?;
        self.executor.kill(d);
        Ok(())
    }

    /// Revoke the capability bound to `import` in `domain`. Calls through it take
    /// their `fail` successor with `cap_revoked` from now on; nothing else changes
    /// (the target keeps running, other domains' capabilities to it keep working).
    ///
    /// ```
    /// use capjit::ir::{parse_module, TrapCode, Val};
    /// use capjit::{Config, Instance};
    ///
    /// let module = parse_module(
    ///     "domain svc {
    ///        export func one() -> i32 {
    ///        block0:
    ///          v0 = iconst.i32 1
    ///          return v0
    ///        }
    ///      }
    ///      domain app {
    ///        import one = svc.one : () -> i32
    ///        export func main() -> i32 {
    ///        block0:
    ///          v0 = cap.get one
    ///          call_cap v0() -> ok(block1), fail(block2)
    ///        block1(v1: i32):
    ///          return v1
    ///        block2(v2: i32):
    ///          v3 = iconst.i32 100
    ///          v4 = iadd.i32 v2, v3
    ///          return v4
    ///        }
    ///      }",
    /// )?;
    /// let mut instance = Instance::new(&module, &Config::default(), Box::new(std::io::sink()))?;
    /// assert_eq!(instance.invoke("app", "main", &[])?, vec![Val::I32(1)]);
    /// instance.revoke("app", "one")?;
    /// let failed = 100 + TrapCode::CapRevoked.code();
    /// assert_eq!(instance.invoke("app", "main", &[])?, vec![Val::I32(failed)]);
    /// assert_eq!(instance.invoke("svc", "one", &[])?, vec![Val::I32(1)]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn revoke(&mut self, domain: &str, import: &str) -> Result<(), RunError> {
        let d = self.domain_index(domain)?;
        let Some(i) = self.module().domains[d].imports.iter().position(|i| i.name == import) else {
            return Err(RunError::BadInvoke(format!(
                "domain `{domain}` has no import `{import}`"
            )));
        };
        self.executor.revoke(d, i);
        Ok(())
    }

    /// Grant the file at `path` to every domain that imports `host.file(name)`.
    /// Nothing else of the file system is reachable from a domain.
    ///
    /// A domain reads the file through its import, a `(buf) -> i32` capability that
    /// copies the start of the file into the buffer and returns the bytes copied;
    /// before the grant (or if the file cannot be read) the call fails with
    /// `host_error`.
    ///
    /// ```
    /// use capjit::ir::{parse_module, TrapCode, Val};
    /// use capjit::{Config, Instance};
    ///
    /// let module = parse_module(
    ///     "domain reader {
    ///        memory 1
    ///        import motd = host.file(motd) : (buf) -> i32
    ///        export func read() -> i32 {
    ///        block0:
    ///          v0 = iconst.i32 0
    ///          v1 = iconst.i32 64
    ///          v2 = buf.make v0, v1
    ///          v3 = cap.get motd
    ///          call_cap v3(v2) -> ok(block1), fail(block2)
    ///        block1(v4: i32):              ; bytes read
    ///          return v4
    ///        block2(v5: i32):
    ///          v6 = isub.i32 v0, v5
    ///          return v6
    ///        }
    ///      }",
    /// )?;
    /// let mut instance = Instance::new(&module, &Config::default(), Box::new(std::io::sink()))?;
    /// let host_error = -TrapCode::HostError.code();
    /// assert_eq!(instance.invoke("reader", "read", &[])?, vec![Val::I32(host_error)]);
    ///
    /// let path = std::env::temp_dir().join(format!("capjit-doc-{}.txt", std::process::id()));
    /// std::fs::write(&path, "hello")?;
    /// instance.grant_file("motd", path.clone());
    /// assert_eq!(instance.invoke("reader", "read", &[])?, vec![Val::I32(5)]);
    /// assert_eq!(&instance.memory("reader").unwrap()[..5], b"hello");
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn grant_file(&mut self, name: &str, path: std::path::PathBuf) {
        self.executor.grant_file(name, path);
    }

    /// Record every inter-domain call from now on (or stop); calls through host
    /// capabilities are recorded too.
    ///
    /// ```
    /// use capjit::ir::{parse_module, TrapCode, Val};
    /// use capjit::{Config, Instance};
    ///
    /// let module = parse_module(
    ///     "domain svc {
    ///        export func inv(i32) -> i32 {
    ///        block0(v0: i32):
    ///          v1 = iconst.i32 1000
    ///          v2 = udiv.i32 v1, v0
    ///          return v2
    ///        }
    ///      }
    ///      domain app {
    ///        import inv = svc.inv : (i32) -> i32
    ///        export func main(i32) -> i32 {
    ///        block0(v0: i32):
    ///          v1 = cap.get inv
    ///          call_cap v1(v0) -> ok(block1), fail(block1)
    ///        block1(v2: i32):
    ///          return v2
    ///        }
    ///      }",
    /// )?;
    /// let mut instance = Instance::new(&module, &Config::default(), Box::new(std::io::sink()))?;
    /// instance.set_trace(true);
    /// instance.invoke("app", "main", &[Val::I32(4)])?;
    /// instance.invoke("app", "main", &[Val::I32(0)])?;
    /// let trace = instance.take_trace();
    /// assert_eq!((trace[0].caller.as_str(), trace[0].import.as_str()), ("app", "inv"));
    /// assert_eq!(trace[0].outcome, Ok(vec![Val::I32(250)]));
    /// assert_eq!(trace[1].outcome, Err(TrapCode::IntDivideByZero));
    /// assert!(instance.take_trace().is_empty()); // taken
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_trace(&mut self, on: bool) {
        self.executor.set_trace(on);
    }

    /// The calls recorded since tracing was switched on.
    pub fn take_trace(&mut self) -> Vec<IdcEvent> {
        self.executor.take_trace()
    }

    /// What the JIT translated so far: with lazy translation (the default) only
    /// the exported functions and those called since; `None` for the interpreter.
    pub fn translation_stats(&self) -> Option<capjit_translator::Stats> {
        self.executor.translation_stats()
    }
}
