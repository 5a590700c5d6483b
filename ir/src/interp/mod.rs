//! The reference interpreter: the exact semantics every other executor must match.
//!
//! Untrusted and written for clarity, not speed. It runs a whole module: every
//! domain gets its own memory, capability table, fuel and state, and calls between
//! domains go through `call_cap` with copy and transfer semantics (see `docs/ir.md`).
//! It never panics on a malformed module: what the verifier would reject surfaces
//! here as [`RunError::Invalid`].

pub mod arith;
mod exec;
mod link;

use std::io::Write;
use std::time::Instant;

use crate::host_fn::HostFn;
use crate::model::Module;

pub use crate::exec::{DomainStatus, IdcEvent, Limits, RunError, TrapInfo};
pub use crate::resources::RegionTable;
pub use crate::value::{RegionHandle, Val};
pub use link::LinkError;

/// A linked, running module.
pub struct Instance {
    module: Module,
    rt: link::Runtime,
}

impl Instance {
    /// Link every import to its export or host function and lay out each domain's
    /// memory image. Output of host `print` functions goes to `output`.
    pub fn new(module: Module, limits: Limits, output: Box<dyn Write>) -> Result<Instance, LinkError> {
        Self::with_host_functions(module, limits, output, Vec::new())
    }

    /// [`Instance::new`], with host functions the embedder defines, linked to
    /// imports `= host.NAME` after the built-in ones (see [`HostFn`]).
    pub fn with_host_functions(
        module: Module,
        limits: Limits,
        output: Box<dyn Write>,
        host_fns: Vec<HostFn>,
    ) -> Result<Instance, LinkError> {
        let rt = link::Runtime::new(&module, limits, output, Instant::now(), host_fns)?;
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
        let functions = dom.functions.len();
        if args.len() != sig.params.len() || args.iter().zip(&sig.params).any(|(a, t)| !a.fits(t, functions)) {
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
        if self.rt.restart(&self.module, d) {
            Ok(())
        } else {
            Err(RunError::BadInvoke(format!(
                "domain `{domain}` cannot restart: its memory no longer fits the instance's budget"
            )))
        }
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

    /// Grant the file at `path` to every domain that imports `host.file(name)`.
    pub fn grant_file(&mut self, name: &str, path: std::path::PathBuf) {
        self.rt.files.retain(|(n, _)| n != name);
        self.rt.files.push((name.to_string(), path));
    }

    /// Record every inter-domain call from now on.
    pub fn set_trace(&mut self, on: bool) {
        self.rt.trace = on.then(Vec::new);
    }

    /// The calls recorded since tracing was switched on, oldest first.
    pub fn take_trace(&mut self) -> Vec<IdcEvent> {
        self.rt.trace.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Count every entry into every block from now on (`true`: counts start at
    /// zero), or stop counting and drop the counts (`false`, the default). A block
    /// is entered when its function is called and on every branch to it; a call
    /// returning into the middle of a block is not an entry. Benches multiply the
    /// counts by per-block instruction counts (dynamic profiles); off, it costs
    /// one test per block entry.
    ///
    /// ```
    /// use capjit_ir::interp::{Instance, Limits, Val};
    /// use capjit_ir::parse_module;
    ///
    /// let m = parse_module(
    ///     "domain d {
    ///        export func count(i32) -> i32 {
    ///        block0(v0: i32):
    ///          v1 = iconst.i32 0
    ///          jump block1(v1)
    ///        block1(v2: i32):
    ///          v3 = iconst.i32 1
    ///          v4 = iadd.i32 v2, v3
    ///          v5 = icmp.ult.i32 v4, v0
    ///          brif v5, block1(v4), block2
    ///        block2:
    ///          return v4
    ///        }
    ///      }",
    /// )?;
    /// let mut i = Instance::new(m, Limits::default(), Box::new(std::io::sink()))?;
    /// assert!(i.block_counts().is_none());
    /// i.count_blocks(true);
    /// i.invoke("d", "count", &[Val::I32(5)])?;
    /// assert_eq!(i.block_counts().unwrap()[0][0], [1, 5, 1]);
    /// i.count_blocks(false);
    /// assert!(i.block_counts().is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn count_blocks(&mut self, on: bool) {
        self.rt.block_counts = on.then(|| {
            self.module
                .domains
                .iter()
                .map(|d| d.functions.iter().map(|f| vec![0; f.blocks.len()]).collect())
                .collect()
        });
    }

    /// `counts[domain][function][block]`: entries into each block since
    /// [`count_blocks`](Self::count_blocks)`(true)`; `None` when not counting.
    pub fn block_counts(&self) -> Option<&[Vec<Vec<u64>>]> {
        self.rt.block_counts.as_deref()
    }

    /// Fuel left in a domain.
    pub fn fuel(&self, domain: &str) -> Option<u64> {
        let d = self.module.domains.iter().position(|d| d.name == domain)?;
        Some(self.rt.domains[d].fuel)
    }
}
