//! Linking and per-domain state: binds imports to exports or host functions with
//! signature checks, lays out memory images, and restarts or kills domains.

use std::io::Write;
use std::time::Instant;

use crate::model::{Const, Domain, Module};
use crate::value::Val;

use super::{DomainStatus, IdcEvent, Limits, TrapInfo};
use crate::host_fn::HostFn;
pub use crate::link::{bind, CapTarget, LinkError};
use crate::resources::{self, alloc_zeroed_filled, Budget, RegionTable};

#[derive(Clone, Debug)]
pub struct CapEntry {
    pub target: CapTarget,
    /// The target domain's epoch when the capability was granted; a kill bumps it.
    pub epoch: u32,
    pub revoked: bool,
}

pub struct DomainState {
    pub memory: Vec<u8>,
    /// Pages this domain may grow to: its own maximum capped by the limits.
    pub max_pages: u32,
    pub status: DomainStatus,
    pub fuel: u64,
    pub caps: Vec<CapEntry>,
    /// Current values of the domain's globals, by index.
    pub globals: Vec<Val>,
    /// Which passive data segments `data.drop` emptied, by index; cleared on restart.
    pub dropped: Vec<bool>,
    /// The tables as the `table.*` operations left them; the declared ones on restart.
    pub tables: Vec<Vec<Option<u32>>>,
    /// Which passive element segments `elem.drop` emptied, by index; cleared on restart.
    pub elems_dropped: Vec<bool>,
    pub epoch: u32,
    pub last_trap: Option<TrapInfo>,
}

pub struct Runtime {
    pub domains: Vec<DomainState>,
    pub regions: RegionTable,
    /// Linear memory and region bytes of every domain, within `limits.max_instance_bytes`.
    pub budget: Budget,
    pub limits: Limits,
    pub output: Box<dyn Write>,
    pub started: Instant,
    pub trace: Option<Vec<IdcEvent>>,
    /// `[domain][function][block]`: entries into each block, while counting
    /// (`Instance::count_blocks`).
    pub block_counts: Option<Vec<Vec<Vec<u64>>>>,
    /// Files the host granted, by the name imports use.
    pub files: Vec<(String, std::path::PathBuf)>,
    /// Host functions the embedder defined (`CapTarget::Embedder` indexes them).
    pub host_fns: Vec<HostFn>,
    /// The status of the last `HostFailure::Exit`, until the run ends.
    pub exit: Option<i32>,
}

/// The memory a domain starts (and restarts) with.
fn memory_image(d: &Domain, limits: &Limits, budget: &mut Budget) -> Result<Vec<u8>, LinkError> {
    let m = d.memory;
    if m.initial > m.maximum {
        return Err(LinkError::new(
            d,
            format!(
                "memory initial size {} pages exceeds its maximum {}",
                m.initial, m.maximum
            ),
        ));
    }
    let size = resources::admit(d, limits, budget).map_err(|message| LinkError::new(d, message))?;
    let Some(mut mem) = alloc_zeroed_filled(size as usize) else {
        budget.release(size);
        return Err(LinkError::new(
            d,
            format!("the host cannot supply a memory of {size} bytes"),
        ));
    };
    for seg in &d.data {
        let end = seg.offset as u64 + seg.bytes.len() as u64;
        if end > size {
            return Err(LinkError::new(
                d,
                format!(
                    "data segment at offset {} of {} bytes does not fit the memory of {size} bytes",
                    seg.offset,
                    seg.bytes.len()
                ),
            ));
        }
        mem[seg.offset as usize..end as usize].copy_from_slice(&seg.bytes);
    }
    if let Some(inbox) = d.inbox {
        if inbox.offset as u64 + inbox.size as u64 > size {
            return Err(LinkError::new(
                d,
                format!(
                    "inbox [{}, {}) lies outside the initial memory of {size} bytes",
                    inbox.offset,
                    inbox.offset as u64 + inbox.size as u64
                ),
            ));
        }
    }
    Ok(mem)
}

/// The globals a domain starts (and restarts) with.
fn initial_globals(d: &Domain) -> Result<Vec<Val>, LinkError> {
    d.globals
        .iter()
        .map(|g| {
            let v = match g.init {
                Const::I32(x) => Val::I32(x),
                Const::I64(x) => Val::I64(x),
                Const::F32(b) => Val::F32(b),
                Const::F64(b) => Val::F64(b),
            };
            if v.has_num_type(g.ty) {
                Ok(v)
            } else {
                Err(LinkError::new(
                    d,
                    format!("global `{}` of type {} starts as {v}", g.name, g.ty),
                ))
            }
        })
        .collect()
}

impl Runtime {
    pub fn new(
        m: &Module,
        limits: Limits,
        output: Box<dyn Write>,
        started: Instant,
        host_fns: Vec<HostFn>,
    ) -> Result<Runtime, LinkError> {
        let mut domains = Vec::with_capacity(m.domains.len());
        let mut budget = Budget::new(limits.max_instance_bytes);
        for (i, d) in m.domains.iter().enumerate() {
            if m.domains[..i].iter().any(|x| x.name == d.name) {
                return Err(LinkError::new(
                    d,
                    "a domain with this name is already defined".to_string(),
                ));
            }
            let memory = memory_image(d, &limits, &mut budget)?;
            let globals = initial_globals(d)?;
            let caps = d
                .imports
                .iter()
                .map(|imp| {
                    bind(m, d, imp, &host_fns).map(|target| CapEntry {
                        target,
                        epoch: 0,
                        revoked: false,
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            domains.push(DomainState {
                memory,
                max_pages: d.memory.maximum.min(limits.max_memory_pages),
                status: DomainStatus::Running,
                fuel: limits.fuel,
                caps,
                globals,
                dropped: vec![false; d.passive_data.len()],
                tables: d.tables.iter().map(|t| t.init.clone()).collect(),
                elems_dropped: vec![false; d.passive_elems.len()],
                epoch: 0,
                last_trap: None,
            });
        }
        Ok(Runtime {
            domains,
            regions: RegionTable::new(m.domains.len(), &limits, alloc_zeroed_filled),
            budget,
            limits,
            output,
            started,
            trace: None,
            block_counts: None,
            files: Vec::new(),
            host_fns,
            exit: None,
        })
    }

    /// Back to the initial image (memory and globals); capabilities into the domain
    /// keep working unless it was killed. `false` when the initial memory no longer
    /// fits the instance's budget or the host: the domain is then left dead.
    pub fn restart(&mut self, m: &Module, d: usize) -> bool {
        // Its regions go first: what they held is budget the memory may need.
        self.regions.free_all_of(d, &mut self.budget);
        let released = self.domains[d].memory.len() as u64;
        self.domains[d].memory = Vec::new();
        self.budget.release(released);
        let image = memory_image(&m.domains[d], &self.limits, &mut self.budget).ok();
        let back = image.is_some();
        let globals = initial_globals(&m.domains[d]).unwrap_or_default();
        let state = &mut self.domains[d];
        state.memory = image.unwrap_or_default();
        state.globals = globals;
        state.dropped.fill(false);
        state.elems_dropped.fill(false);
        for (table, declared) in state.tables.iter_mut().zip(&m.domains[d].tables) {
            self.budget.release_table(table.len(), declared.init.len());
            table.clone_from(&declared.init);
        }
        state.status = if back {
            DomainStatus::Running
        } else {
            DomainStatus::Dead
        };
        state.fuel = self.limits.fuel;
        state.last_trap = None;
        back
    }

    /// `memory.grow` of domain `d` by `delta` pages: the old size in pages, or -1
    /// past the domain's maximum, the instance's budget or what the host supplies.
    pub fn grow_memory(&mut self, d: usize, delta: u32) -> i32 {
        let state = &mut self.domains[d];
        let memory = &mut state.memory;
        self.budget.grow(memory.len() as u64, delta, state.max_pages, |bytes| {
            let supplied = memory.try_reserve_exact(bytes).is_ok();
            if supplied {
                memory.resize(memory.len() + bytes, 0);
            }
            supplied
        })
    }

    pub fn kill(&mut self, d: usize) {
        let state = &mut self.domains[d];
        state.status = DomainStatus::Dead;
        state.epoch = state.epoch.wrapping_add(1);
        // Entries `table.grow` added stay charged until a restart gives them back.
        self.budget.release(std::mem::take(&mut state.memory).len() as u64);
        self.regions.free_all_of(d, &mut self.budget);
    }

    /// `table.grow` of table `t` of domain `d` by `delta` entries holding `init`:
    /// the old size, or -1 past the table's maximum, the limits or the budget.
    pub fn grow_table(&mut self, m: &Module, d: usize, t: usize, init: Option<u32>, delta: u32) -> i32 {
        let max = resources::table_max(m.domains[d].tables[t].maximum, &self.limits);
        let table = &mut self.domains[d].tables[t];
        self.budget.grow_table(table.len(), delta, max, |n| {
            let supplied = table.try_reserve_exact(n).is_ok();
            if supplied {
                table.resize(table.len() + n, init);
            }
            supplied
        })
    }
}
