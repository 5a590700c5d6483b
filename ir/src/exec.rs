//! Plain data shared by every executor (the reference interpreter and the JIT
//! runtime): limits, domain states, trap reports, run errors, IDC trace events.

use crate::trap::TrapCode;
use crate::value::Val;

/// Resource limits: what one domain, and the whole instance, may make the host
/// hold. Exceeding one is the guilty domain's problem only: `memory.grow` returns
/// -1, `region.new` traps `resource_limit`, a call traps `call_depth_exceeded`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Fuel units each domain starts with; one unit is spent at every function
    /// entry and at every branch to a block that is not after the current one.
    /// [`Limits::UNLIMITED_FUEL`] is no limit: fuel is then not counted at all.
    pub fuel: u64,
    /// Deepest nesting of calls (direct and inter-domain) in one run. The only
    /// stack limit a program can observe: both executors stop at the same depth,
    /// whatever the size of its frames (`docs/ir.md`, "Call depth").
    pub max_call_depth: u32,
    /// Memory pages any domain may have, whatever its own maximum says.
    pub max_memory_pages: u32,
    /// Function table entries any domain may declare (checked when linking).
    pub max_table_entries: u32,
    /// Bytes one region may hold.
    pub max_region_bytes: u32,
    /// Regions one domain may hold at once (only creation is refused when over:
    /// regions handed to it by transfer always arrive).
    pub max_domain_regions: u32,
    /// Region bytes one domain may hold at once (likewise).
    pub max_domain_region_bytes: u64,
    /// Regions alive at once, across all domains.
    pub max_regions: u32,
    /// Bytes the whole instance may hold for its domains: every linear memory
    /// plus every live region.
    pub max_instance_bytes: u64,
}

impl Limits {
    /// Fuel that is not counted: the JIT emits no fuel code, the interpreter
    /// spends none, and a domain's fuel stays at this value.
    pub const UNLIMITED_FUEL: u64 = u64::MAX;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: 1_000_000_000,
            max_call_depth: 4096,
            max_memory_pages: 16384,
            max_table_entries: 1 << 20,
            max_region_bytes: 256 << 20,
            max_domain_regions: 16384,
            max_domain_region_bytes: 1 << 30,
            max_regions: 65536,
            max_instance_bytes: 4 << 30,
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
    /// The calls the trap unwound, innermost first: each a `call` or
    /// `call_indirect` of the same domain activation, at most [`MAX_TRAP_CALLERS`]
    /// (the outermost are left out). Not part of the `Display` form.
    pub callers: Vec<CallSite>,
}

/// Callers a trap records; deeper ones are left out, so that a trap at the call
/// depth limit costs the host no more than this.
pub const MAX_TRAP_CALLERS: usize = 64;

/// A call instruction a trap unwound through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallSite {
    pub function: String,
    pub block: u32,
    pub inst: u32,
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
    /// A host function of the entry domain ended the run with this exit status
    /// (e.g. WASI `proc_exit`); the domain is left faulted with code `exit`.
    #[error("exited with status {0}")]
    Exit(i32),
}

/// One record of an inter-domain call, for `--trace-idc`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdcEvent {
    pub caller: String,
    pub import: String,
    pub outcome: Result<Vec<Val>, TrapCode>,
}
