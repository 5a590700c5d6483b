//! The reference interpreter: the exact semantics every other executor must match.
//!
//! Untrusted and written for clarity, not speed. It runs a whole module: every
//! domain gets its own memory, capability table, fuel and state, and calls between
//! domains go through `call_cap` with copy and transfer semantics (see `docs/ir.md`).
//! It never panics on a malformed module: what the verifier would reject surfaces
//! here as [`RunError::Invalid`].

pub mod arith;
mod exec;
mod host;
mod link;
mod regions;
mod value;

use std::io::Write;
use std::time::Instant;

use crate::model::{Module, PAGE_SIZE};
use crate::trap::TrapCode;

pub use link::LinkError;
pub use regions::RegionTable;
pub use value::{RegionHandle, Val};

/// Per-domain resource limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Fuel units each domain starts with; one unit is spent at every function
    /// entry and at every branch to a block that is not after the current one.
    pub fuel: u64,
    /// Deepest nesting of calls (direct and inter-domain) in one run.
    pub max_call_depth: u32,
    /// Memory pages any domain may have, whatever its own maximum says.
    pub max_memory_pages: u32,
    /// Bytes one region may hold.
    pub max_region_bytes: u32,
    /// Regions alive at once, across all domains.
    pub max_regions: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: 1_000_000_000,
            max_call_depth: 4096,
            max_memory_pages: 16384,
            max_region_bytes: 256 << 20,
            max_regions: 65536,
        }
    }
}

/// Lifecycle of a domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DomainStatus {
    Running,
    /// Trapped; calls into it fail until the host or a restart capability restarts it.
    Faulted,
    /// Killed by the host; every capability into it was revoked.
    Dead,
}

/// Where a trap happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrapInfo {
    pub code: TrapCode,
    pub domain: String,
    pub function: String,
    pub block: u32,
    /// Instruction index in the block; `None` for the terminator.
    pub inst: Option<u32>,
}

impl std::fmt::Display for TrapInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "trap {} in {}.{} block{}",
            self.code, self.domain, self.function, self.block
        )?;
        match self.inst {
            Some(i) => write!(f, " inst {i}"),
            None => write!(f, " terminator"),
        }
    }
}

/// Why a host-level call did not return values.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    /// The entry domain trapped (traps inside callees reach their caller's
    /// failure successor instead).
    #[error("{0}")]
    Trap(TrapInfo),
    /// The module is malformed in a way the verifier would have rejected.
    #[error("invalid program: {0}")]
    Invalid(String),
    /// The host asked for something that does not exist or does not fit.
    #[error("{0}")]
    BadInvoke(String),
    /// Writing program output failed.
    #[error("output error: {0}")]
    Output(String),
}

/// One record of an inter-domain call, for `--trace-idc`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdcEvent {
    pub caller: String,
    pub import: String,
    pub outcome: Result<Vec<Val>, TrapCode>,
}

/// A linked, running module.
pub struct Instance {
    module: Module,
    rt: link::Runtime,
}

impl Instance {
    /// Link every import to its export or host function and lay out each domain's
    /// memory image. Output of host `print` functions goes to `output`.
    pub fn new(module: Module, limits: Limits, output: Box<dyn Write>) -> Result<Instance, LinkError> {
        let rt = link::Runtime::new(&module, limits, output, Instant::now())?;
        Ok(Instance { module, rt })
    }

    pub fn module(&self) -> &Module {
        &self.module
    }

    fn domain_index(&self, name: &str) -> Result<usize, RunError> {
        self.module
            .domains
            .iter()
            .position(|d| d.name == name)
            .ok_or_else(|| RunError::BadInvoke(format!("no domain named `{name}`")))
    }

    /// Call an exported function as the host.
    pub fn invoke(&mut self, domain: &str, function: &str, args: &[Val]) -> Result<Vec<Val>, RunError> {
        let d = self.domain_index(domain)?;
        let dom = &self.module.domains[d];
        let Some(f) = dom.functions.iter().position(|f| f.name == function && f.exported) else {
            return Err(RunError::BadInvoke(format!(
                "domain `{domain}` exports no function `{function}`"
            )));
        };
        let sig = &dom.functions[f].sig;
        if args.len() != sig.params.len() || args.iter().zip(&sig.params).any(|(a, t)| !a.has_type(t)) {
            let got: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            return Err(RunError::BadInvoke(format!(
                "`{domain}.{function}` takes {sig}, given ({})",
                got.join(", ")
            )));
        }
        exec::run(&self.module, &mut self.rt, d, f, args.to_vec())
    }

    pub fn status(&self, domain: &str) -> Option<DomainStatus> {
        let d = self.module.domains.iter().position(|d| d.name == domain)?;
        Some(self.rt.domains[d].status)
    }

    /// The last trap of each domain that is currently faulted, in domain order.
    pub fn faults(&self) -> Vec<TrapInfo> {
        self.rt
            .domains
            .iter()
            .filter(|d| d.status == DomainStatus::Faulted)
            .filter_map(|d| d.last_trap.clone())
            .collect()
    }

    /// A domain's linear memory.
    pub fn memory(&self, domain: &str) -> Option<&[u8]> {
        let d = self.module.domains.iter().position(|d| d.name == domain)?;
        Some(&self.rt.domains[d].memory)
    }

    /// Put a domain back to its initial image (memory, fuel, regions freed) and running.
    pub fn restart(&mut self, domain: &str) -> Result<(), RunError> {
        let d = self.domain_index(domain)?;
        self.rt.restart(&self.module, d);
        Ok(())
    }

    /// Kill a domain: it becomes dead, its regions are freed and every capability
    /// into it is revoked for good (a later restart does not revive them).
    pub fn kill(&mut self, domain: &str) -> Result<(), RunError> {
        let d = self.domain_index(domain)?;
        self.rt.kill(d);
        Ok(())
    }

    /// Revoke the capability bound to `import` in `domain`.
    pub fn revoke(&mut self, domain: &str, import: &str) -> Result<(), RunError> {
        let d = self.domain_index(domain)?;
        let Some(i) = self.module.domains[d].imports.iter().position(|i| i.name == import) else {
            return Err(RunError::BadInvoke(format!(
                "domain `{domain}` has no import `{import}`"
            )));
        };
        self.rt.domains[d].caps[i].revoked = true;
        Ok(())
    }

    /// Record every inter-domain call from now on.
    pub fn set_trace(&mut self, on: bool) {
        self.rt.trace = on.then(Vec::new);
    }

    /// The calls recorded since tracing was switched on, oldest first.
    pub fn take_trace(&mut self) -> Vec<IdcEvent> {
        self.rt.trace.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Fuel left in a domain.
    pub fn fuel(&self, domain: &str) -> Option<u64> {
        let d = self.module.domains.iter().position(|d| d.name == domain)?;
        Some(self.rt.domains[d].fuel)
    }
}

/// Bytes of `pages` pages, saturating.
pub(crate) fn pages_to_bytes(pages: u32) -> u64 {
    pages as u64 * PAGE_SIZE
}
