//! One interface over the two executors, the JIT ([`JitInstance`]) and the
//! reference interpreter ([`capjit_ir::interp::Instance`]).
//!
//! [`Executor`] speaks in indices: a domain is its position in the module, a
//! function or an import its position in that domain. [`crate::Instance`] turns
//! the names an embedder uses into indices (and checks arguments against the
//! signature) in one place, so both executors see the same, already checked
//! requests and report the same errors. The interpreter's own API takes names;
//! its adapter below looks the names up from the indices it is given.

use std::path::PathBuf;

use capjit_ir::exec::{DomainStatus, IdcEvent, RunError, TrapInfo};
use capjit_ir::interp;
use capjit_ir::{Module, Val};
use capjit_translator::JitInstance;

/// What [`crate::Instance`] needs from an executor. Indices come from
/// [`crate::Instance`], which resolved them against [`Executor::module`]: every
/// `domain` is a domain of the module, every `function` an exported function of
/// it, every `import` one of its imports, and `args` match the function's
/// parameter types.
pub(crate) trait Executor {
    /// The module being run (the optimised one, if the host optimised it).
    fn module(&self) -> &Module;
    /// Call exported function `function` of `domain`.
    fn invoke(&mut self, domain: usize, function: usize, args: &[Val]) -> Result<Vec<Val>, RunError>;
    /// Running, faulted or dead.
    fn status(&self, domain: usize) -> DomainStatus;
    /// The last trap of every faulted domain, in domain order.
    fn faults(&self) -> Vec<TrapInfo>;
    /// The domain's linear memory.
    fn memory(&self, domain: usize) -> &[u8];
    /// Fuel left in the domain.
    fn fuel(&self, domain: usize) -> u64;
    /// Put the domain back to its image; `false` when its memory no longer fits
    /// the instance's budget (it is then left dead).
    fn restart(&mut self, domain: usize) -> bool;
    /// Kill the domain and revoke every capability into it.
    fn kill(&mut self, domain: usize);
    /// Revoke the capability bound to the domain's import `import`.
    fn revoke(&mut self, domain: usize, import: usize);
    /// Grant the file at `path` to imports of `host.file(name)`.
    fn grant_file(&mut self, name: &str, path: PathBuf);
    /// Record inter-domain calls from now on (or stop).
    fn set_trace(&mut self, on: bool);
    /// The calls recorded since tracing was switched on.
    fn take_trace(&mut self) -> Vec<IdcEvent>;
    /// What was translated so far (the JIT only).
    fn translation_stats(&self) -> Option<capjit_translator::Stats>;
}

impl Executor for JitInstance {
    fn module(&self) -> &Module {
        JitInstance::module(self)
    }

    fn invoke(&mut self, domain: usize, function: usize, args: &[Val]) -> Result<Vec<Val>, RunError> {
        JitInstance::invoke(self, domain, function, args)
    }

    fn status(&self, domain: usize) -> DomainStatus {
        JitInstance::status(self, domain)
    }

    fn faults(&self) -> Vec<TrapInfo> {
        JitInstance::faults(self)
    }

    fn memory(&self, domain: usize) -> &[u8] {
        JitInstance::memory(self, domain)
    }

    fn fuel(&self, domain: usize) -> u64 {
        JitInstance::fuel(self, domain)
    }

    fn restart(&mut self, domain: usize) -> bool {
        JitInstance::restart(self, domain)
    }

    fn kill(&mut self, domain: usize) {
        JitInstance::kill(self, domain);
    }

    fn revoke(&mut self, domain: usize, import: usize) {
        JitInstance::revoke(self, domain, import);
    }

    fn grant_file(&mut self, name: &str, path: PathBuf) {
        JitInstance::grant_file(self, name, path);
    }

    fn set_trace(&mut self, on: bool) {
        JitInstance::set_trace(self, on);
    }

    fn take_trace(&mut self) -> Vec<IdcEvent> {
        JitInstance::take_trace(self)
    }

    fn translation_stats(&self) -> Option<capjit_translator::Stats> {
        Some(JitInstance::stats(self))
    }
}

/// The interpreter's API takes names: these give them back for indices.
fn domain_name(module: &Module, domain: usize) -> &str {
    module.domains.get(domain).map_or("", |d| d.name.as_str())
}

fn function_name(module: &Module, domain: usize, function: usize) -> &str {
    module
        .domains
        .get(domain)
        .and_then(|d| d.functions.get(function))
        .map_or("", |f| f.name.as_str())
}

fn import_name(module: &Module, domain: usize, import: usize) -> &str {
    module
        .domains
        .get(domain)
        .and_then(|d| d.imports.get(import))
        .map_or("", |i| i.name.as_str())
}

impl Executor for interp::Instance {
    fn module(&self) -> &Module {
        interp::Instance::module(self)
    }

    fn invoke(&mut self, domain: usize, function: usize, args: &[Val]) -> Result<Vec<Val>, RunError> {
        let module = interp::Instance::module(self);
        let (d, f) = (
            domain_name(module, domain).to_string(),
            function_name(module, domain, function).to_string(),
        );
        interp::Instance::invoke(self, &d, &f, args)
    }

    fn status(&self, domain: usize) -> DomainStatus {
        interp::Instance::status(self, domain_name(self.module(), domain)).unwrap_or(DomainStatus::Dead)
    }

    fn faults(&self) -> Vec<TrapInfo> {
        interp::Instance::faults(self)
    }

    fn memory(&self, domain: usize) -> &[u8] {
        interp::Instance::memory(self, domain_name(self.module(), domain)).unwrap_or_default()
    }

    fn fuel(&self, domain: usize) -> u64 {
        interp::Instance::fuel(self, domain_name(self.module(), domain)).unwrap_or(0)
    }

    fn restart(&mut self, domain: usize) -> bool {
        let d = domain_name(self.module(), domain).to_string();
        interp::Instance::restart(self, &d).is_ok()
    }

    fn kill(&mut self, domain: usize) {
        let d = domain_name(self.module(), domain).to_string();
        // Fails only for a domain the module does not have (see the trait).
        let _ = interp::Instance::kill(self, &d);
    }

    fn revoke(&mut self, domain: usize, import: usize) {
        let module = interp::Instance::module(self);
        let (d, i) = (
            domain_name(module, domain).to_string(),
            import_name(module, domain, import).to_string(),
        );
        // Fails only for a domain or import the module does not have (see the trait).
        let _ = interp::Instance::revoke(self, &d, &i);
    }

    fn grant_file(&mut self, name: &str, path: PathBuf) {
        interp::Instance::grant_file(self, name, path);
    }

    fn set_trace(&mut self, on: bool) {
        interp::Instance::set_trace(self, on);
    }

    fn take_trace(&mut self) -> Vec<IdcEvent> {
        interp::Instance::take_trace(self)
    }

    fn translation_stats(&self) -> Option<capjit_translator::Stats> {
        None
    }
}
