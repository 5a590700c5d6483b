//! TRUSTED. Domains and their state: memory images, capability tables, fuel,
//! status; linking, host entry, restart, kill and revocation.
//!
//! Invariants protected:
//! - each domain's `DomainCtx` describes exactly its own current memory;
//! - a capability entry only ever names what its import was linked to;
//! - each domain's globals and function table are its own, of the sizes the
//!   verified module declares (`ctx.globals`, `ctx.table`), and restarting resets
//!   the globals and the table to their initial values and undoes every `data.drop`;
//! - a faulted or dead domain is never entered; a killed domain's capabilities
//!   stay revoked (its epoch moved on); restarting frees the domain's regions.

use std::io::Write;
use std::time::Instant;

use capjit_ir::exec::{CallSite, DomainStatus, IdcEvent, Limits, RunError, TrapInfo};
use capjit_ir::host_fn::HostFn;
use capjit_ir::resources::{self, Budget, RegionTable};
use capjit_ir::{Domain, Module, TrapCode, Val, PAGE_SIZE};
use capjit_verifier::Verified;

use crate::ctx::{DomainCtx, EntryFn, NativeCap, STATUS_DEAD, STATUS_FAULTED, STATUS_RUNNING, TRAP_AT_TERMINATOR};
use crate::idc::has_data;
use crate::memory::{alloc_zeroed_lazy, LinearMemory};
use crate::shared::Shared;
use crate::slots;
use crate::tables::Tables;

pub use capjit_ir::link::{CapTarget, LinkError};

#[derive(Clone, Copy, Debug)]
pub struct CapEntry {
    pub target: CapTarget,
    /// The target's epoch when granted; killing the target moves its epoch on.
    pub epoch: u32,
    pub revoked: bool,
}

pub struct DomainState {
    /// Also holds the domain's status, epoch and activation count (`ctx.status`, ...),
    /// the single copy of each, read by generated code on the inline IDC path.
    pub(crate) ctx: Shared<DomainCtx>,
    /// Reserved for `max_pages` once; its base never moves (`memory.rs`).
    pub(crate) memory: LinearMemory,
    pub(crate) max_pages: u32,
    pub(crate) caps: Vec<CapEntry>,
    /// What generated code reads for each capability; kept in step with `caps`.
    pub(crate) native_caps: Shared<[NativeCap]>,
    pub(crate) last_trap: Option<TrapInfo>,
    /// `(function, block, inst)` of each call a trap status has passed up through
    /// so far, innermost first (`capjit_trap_caller`); taken when the domain faults.
    pub(crate) trap_callers: Vec<(u32, u32, u32)>,
    /// Entry trampolines, by function index (exported functions only).
    pub(crate) entries: Vec<Option<EntryFn>>,
    /// Native code of every function, by index, null until translated (`ctx.code`
    /// points here; never reallocated).
    pub(crate) code: Shared<[*const u8]>,
    /// One slot per global (`ctx.globals` points here; never reallocated).
    pub(crate) globals: Shared<[u64]>,
    /// The tables (`ctx.tables` points at their views).
    pub(crate) tables: Tables,
    /// Which passive data segments `data.drop` emptied, by index.
    pub(crate) dropped: Vec<bool>,
}

impl DomainState {
    /// The domain's linear memory, as generated code sees it.
    pub fn memory(&self) -> &[u8] {
        &self.memory
    }

    /// The same, to write (its size is the runtime's to change).
    pub fn memory_mut(&mut self) -> &mut [u8] {
        &mut self.memory
    }

    /// What generated code of this domain reads and writes: memory bounds, fuel,
    /// status, the helper's scratch.
    pub fn context(&self) -> &DomainCtx {
        &self.ctx
    }

    /// The context pointer generated code of this domain is entered with.
    pub fn context_ptr(&self) -> *mut DomainCtx {
        self.ctx.as_ptr()
    }

    pub fn last_trap(&self) -> Option<&TrapInfo> {
        self.last_trap.as_ref()
    }

    pub fn status(&self) -> DomainStatus {
        match self.ctx.status {
            STATUS_RUNNING => DomainStatus::Running,
            STATUS_FAULTED => DomainStatus::Faulted,
            _ => DomainStatus::Dead,
        }
    }

    pub(crate) fn set_status(&mut self, s: DomainStatus) {
        self.ctx.status = match s {
            DomainStatus::Running => STATUS_RUNNING,
            DomainStatus::Faulted => STATUS_FAULTED,
            DomainStatus::Dead => STATUS_DEAD,
        };
    }
}

/// Native code the translator produced for a module, by domain and function.
pub struct CodeTable {
    /// Entry trampolines of exported functions.
    pub entries: Vec<Vec<Option<EntryFn>>>,
    /// Every function's native code; null for one not translated yet, which
    /// `lazy` translates on its first call. Exported functions always have code.
    pub code: Vec<Vec<*const u8>>,
    /// Every function's signature number (non-zero; equal numbers, equal
    /// signatures), which `call_indirect` compares.
    pub sigs: Vec<Vec<u64>>,
    /// Translates the functions `code` leaves null.
    pub lazy: Option<Box<dyn LazyCode>>,
}

/// Translation on first call: what fills in a null entry of [`CodeTable::code`].
///
/// # Safety
/// An implementation is part of the trusted translator: each `((d, f), code)`
/// that `translate` returns must be the native code of function `f` of domain `d`
/// of the verified module the runtime was linked with, translated with the same signature numbers, the same
/// calling convention and the same settings as the rest of the code table, whose
/// frame fits the stack margin the code table was planned with.
pub unsafe trait LazyCode {
    /// Translate function `func` of domain `domain`, and perhaps others with it:
    /// the code of each, by `(domain, function)`, that one first. An error (out of
    /// code memory, a frame too large) becomes a `resource limit` trap at the call.
    fn translate(&mut self, domain: usize, func: usize) -> Result<Vec<Translated>, String>;
}

/// A function's native code from [`LazyCode::translate`]: `((domain, function), code)`.
pub type Translated = ((usize, usize), *const u8);

pub struct Runtime {
    pub(crate) module: Module,
    pub(crate) domains: Vec<DomainState>,
    pub(crate) regions: RegionTable,
    /// Linear memory and region bytes of every domain, within `limits.max_instance_bytes`.
    pub(crate) budget: Budget,
    pub(crate) limits: Limits,
    pub(crate) depth: Shared<u32>,
    pub(crate) output: Box<dyn Write>,
    pub(crate) started: Instant,
    pub(crate) trace: Option<Vec<IdcEvent>>,
    /// Files the host granted, by the name `host.file(NAME)` imports use.
    pub(crate) files: Vec<(String, std::path::PathBuf)>,
    /// Host functions the embedder defined (`CapTarget::Embedder` indexes them).
    pub(crate) host_fns: Vec<HostFn>,
    /// The status of the last `HostFailure::Exit`, until the run ends.
    pub(crate) exit: Option<i32>,
    /// Translates functions on their first call (`capjit_translate`).
    pub(crate) lazy: Option<Box<dyn LazyCode>>,
}

fn slow_cap() -> NativeCap {
    NativeCap {
        ctx: std::ptr::null_mut(),
        func: std::ptr::null(),
        epoch: 0,
        slow: 1,
    }
}

fn pages_bytes(pages: u32) -> usize {
    pages as usize * PAGE_SIZE as usize
}

/// Lay the domain's data segments into its memory (verified to fit the initial size).
fn write_data(d: &Domain, mem: &mut LinearMemory) {
    for seg in &d.data {
        let start = seg.offset as usize;
        if let Some(dst) = mem.get_mut(start..start + seg.bytes.len()) {
            dst.copy_from_slice(&seg.bytes);
        }
    }
}

/// The memory a domain starts with, reserved for `max_pages`, once the domain is
/// admitted under the limits (which charges the memory to the instance's budget).
fn memory_image(d: &Domain, limits: &Limits, max_pages: u32, budget: &mut Budget) -> Result<LinearMemory, LinkError> {
    let len = resources::admit(d, limits, budget).map_err(|message| LinkError::new(d, message))? as usize;
    let mut mem = LinearMemory::new(len, pages_bytes(max_pages))
        .ok_or_else(|| LinkError::new(d, format!("the host cannot supply a memory of {len} bytes")))?;
    write_data(d, &mut mem);
    Ok(mem)
}

/// The values a domain's globals start and restart with.
fn globals_image(d: &Domain) -> Box<[u64]> {
    d.globals.iter().map(|g| slots::const_slot(g.init)).collect()
}

impl Runtime {
    /// Link a verified module with the entry trampolines the translator produced
    /// for it (`entries[domain][function]`, `Some` for every exported function).
    pub fn new(
        verified: &Verified<Module>,
        code: CodeTable,
        limits: Limits,
        output: Box<dyn Write>,
    ) -> Result<Shared<Runtime>, LinkError> {
        Self::with_host_functions(verified, code, limits, output, Vec::new())
    }

    /// [`Runtime::new`], with host functions the embedder defines, linked to
    /// imports `= host.NAME` after the built-in ones.
    pub fn with_host_functions(
        verified: &Verified<Module>,
        code: CodeTable,
        limits: Limits,
        output: Box<dyn Write>,
        host_fns: Vec<HostFn>,
    ) -> Result<Shared<Runtime>, LinkError> {
        let m = verified.module().clone();
        let depth = Shared::new(0u32);
        let depth_ptr = depth.as_ptr();
        let mut domains = Vec::with_capacity(m.domains.len());
        let mut budget = Budget::new(limits.max_instance_bytes);
        for (i, d) in m.domains.iter().enumerate() {
            let max_pages = d.memory.maximum.min(limits.max_memory_pages);
            let mut memory = memory_image(d, &limits, max_pages, &mut budget)?;
            let caps = d
                .imports
                .iter()
                .map(|imp| {
                    capjit_ir::link::bind(&m, d, imp, &host_fns).map(|target| CapEntry {
                        target,
                        epoch: 0,
                        revoked: false,
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let ctx = Shared::new(DomainCtx {
                mem_base: memory.base(),
                mem_len: memory.len() as u64,
                fuel: limits.fuel,
                depth: depth_ptr,
                max_depth: limits.max_call_depth,
                trap_code: 0,
                trap_func: 0,
                trap_block: 0,
                trap_inst: 0,
                stack_limit: 0,
                scratch: [0; 2],
                runtime: std::ptr::null_mut(),
                domain: i as u32,
                status: STATUS_RUNNING,
                epoch: 0,
                active: 0,
                caps: std::ptr::null(),
                globals: std::ptr::null_mut(),
                tables: std::ptr::null(),
                code: std::ptr::null(),
            });
            let sigs: Box<[u64]> = code.sigs.get(i).cloned().unwrap_or_default().into();
            let native: Box<[*const u8]> = code.code.get(i).cloned().unwrap_or_default().into();
            if sigs.len() != d.functions.len() || native.len() != d.functions.len() || sigs.contains(&0) {
                return Err(LinkError::new(
                    d,
                    format!(
                        "{} functions, but the code has {} with signature numbers and {} code entries",
                        d.functions.len(),
                        sigs.len(),
                        native.len()
                    ),
                ));
            }
            domains.push(DomainState {
                ctx,
                memory,
                max_pages,
                native_caps: Shared::from_box(vec![slow_cap(); caps.len()].into_boxed_slice()),
                caps,
                last_trap: None,
                trap_callers: Vec::new(),
                entries: code.entries.get(i).cloned().unwrap_or_default(),
                code: Shared::from_box(native),
                globals: Shared::from_box(globals_image(d)),
                tables: Tables::new(d, sigs, &limits),
                dropped: vec![false; d.passive_data.len()],
            });
        }
        let mut rt = Shared::new(Runtime {
            regions: RegionTable::new(m.domains.len(), &limits, alloc_zeroed_lazy),
            budget,
            module: m,
            domains,
            limits,
            depth,
            output,
            started: Instant::now(),
            trace: None,
            files: Vec::new(),
            host_fns,
            exit: None,
            lazy: code.lazy,
        });
        let rt_ptr = rt.as_ptr();
        for d in &mut rt.domains {
            d.ctx.runtime = rt_ptr.cast();
            d.ctx.caps = d.native_caps.as_ptr().cast();
            d.ctx.globals = d.globals.as_ptr().cast();
            d.ctx.tables = d.tables.views_ptr();
            d.ctx.code = d.code.as_ptr().cast();
        }
        rt.refresh_caps();
        Ok(rt)
    }

    /// Recompute what generated code sees of every capability. A capability takes
    /// the inline path only when it is live, targets an exported function with
    /// numbers-only parameters and results, and tracing is off.
    pub(crate) fn refresh_caps(&mut self) {
        let tracing = self.trace.is_some();
        // Generated code writes through these (fuel, activations, trap records), so
        // they are taken from unique borrows.
        let ctxs: Vec<*mut DomainCtx> = self.domains.iter().map(|d| d.ctx.as_ptr()).collect();
        let mut tables = Vec::with_capacity(self.domains.len());
        for (d, state) in self.domains.iter().enumerate() {
            let table: Vec<NativeCap> = state
                .caps
                .iter()
                .enumerate()
                .map(|(i, cap)| {
                    let sig = &self.module.domains[d].imports[i].sig;
                    let numbers_only = !has_data(&sig.params) && !has_data(&sig.results);
                    match cap.target {
                        CapTarget::Func { domain, func } if numbers_only && !cap.revoked && !tracing => {
                            let target = &self.domains[domain];
                            match target.code.get(func).copied().filter(|c| !c.is_null()) {
                                Some(code) => NativeCap {
                                    ctx: ctxs[domain],
                                    func: code,
                                    epoch: cap.epoch,
                                    slow: 0,
                                },
                                None => slow_cap(),
                            }
                        }
                        _ => slow_cap(),
                    }
                })
                .collect();
            tables.push(table);
        }
        for (state, table) in self.domains.iter_mut().zip(tables) {
            state.native_caps.copy_from_slice(&table);
        }
    }

    /// Revoke capability `import` of domain `d` (for good).
    pub fn revoke(&mut self, d: usize, import: usize) {
        if let Some(cap) = self.domains[d].caps.get_mut(import) {
            cap.revoked = true;
        }
        self.refresh_caps();
    }

    /// Record every inter-domain call (`Some`), or stop (`None`).
    pub fn set_trace(&mut self, on: bool) {
        self.trace = on.then(Vec::new);
        self.refresh_caps();
    }

    /// Point the domain's context at its current memory (after grow or restart).
    pub(crate) fn sync_memory(&mut self, d: usize) {
        let state = &mut self.domains[d];
        state.ctx.mem_base = state.memory.base();
        state.ctx.mem_len = state.memory.len() as u64;
    }

    /// The trap the domain's generated code recorded in its context.
    pub(crate) fn recorded_trap(&self, d: usize, code: u32) -> TrapInfo {
        let ctx = &self.domains[d].ctx;
        let dom = &self.module.domains[d];
        let name = |f: u32| {
            dom.functions
                .get(f as usize)
                .map_or_else(|| format!("#{f}"), |f| f.name.clone())
        };
        TrapInfo {
            code: TrapCode::from_code(code as i32).unwrap_or(TrapCode::HostError),
            domain: dom.name.clone(),
            function: name(ctx.trap_func),
            block: ctx.trap_block,
            inst: (ctx.trap_inst != TRAP_AT_TERMINATOR).then_some(ctx.trap_inst),
            callers: self.domains[d]
                .trap_callers
                .iter()
                .map(|&(function, block, inst)| CallSite {
                    function: name(function),
                    block,
                    inst,
                })
                .collect(),
        }
    }

    /// Mark a domain faulted with the trap its code recorded.
    pub(crate) fn fault(&mut self, d: usize, code: u32) -> TrapInfo {
        let info = self.recorded_trap(d, code);
        let state = &mut self.domains[d];
        state.trap_callers.clear();
        if state.status() == DomainStatus::Running {
            state.set_status(DomainStatus::Faulted);
        }
        state.last_trap = Some(info.clone());
        info
    }

    /// Put domain `d` back to its initial image and running. `false` when its
    /// initial memory no longer fits the instance's budget or the host: it is then
    /// left dead, with nothing allocated.
    pub fn restart(&mut self, d: usize) -> bool {
        // Its regions go first: what they held is budget the memory may need.
        self.regions.free_all_of(d, &mut self.budget);
        let dom = &self.module.domains[d];
        let globals = globals_image(dom);
        let state = &mut self.domains[d];
        let initial = pages_bytes(dom.memory.initial);
        self.budget.release(state.memory.len() as u64);
        let back = self.budget.try_charge(initial as u64)
            && (state.memory.reset(initial) || {
                self.budget.release(initial as u64);
                false
            });
        if back {
            write_data(dom, &mut state.memory);
        } else {
            state.memory.reset(0);
        }
        // In place: `ctx.globals` keeps pointing at the same slots.
        state.globals.copy_from_slice(&globals);
        state.dropped.fill(false);
        state.tables.restart(&mut self.budget);
        state.set_status(if back {
            DomainStatus::Running
        } else {
            DomainStatus::Dead
        });
        state.ctx.fuel = self.limits.fuel;
        state.last_trap = None;
        self.sync_memory(d);
        back
    }

    pub fn kill(&mut self, d: usize) {
        let state = &mut self.domains[d];
        state.set_status(DomainStatus::Dead);
        state.ctx.epoch = state.ctx.epoch.wrapping_add(1);
        self.budget.release(state.memory.len() as u64);
        state.memory.reset(0);
        self.regions.free_all_of(d, &mut self.budget);
        self.sync_memory(d);
    }

    /// `memory.grow` of domain `d` by `delta` pages: the old size in pages, or -1
    /// past the domain's maximum, the instance's budget or what the host supplies.
    pub(crate) fn grow_memory(&mut self, d: usize, delta: u32) -> i32 {
        let state = &mut self.domains[d];
        let len = state.memory.len();
        let old = self.budget.grow(len as u64, delta, state.max_pages, |bytes| {
            state.memory.grow_to(len + bytes)
        });
        self.sync_memory(d);
        old
    }

    pub fn domain_index(&self, name: &str) -> Option<usize> {
        self.module.domains.iter().position(|d| d.name == name)
    }

    /// The module this runtime linked.
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// Every domain's state, in module order.
    pub fn domains(&self) -> &[DomainState] {
        &self.domains
    }

    pub fn domain_mut(&mut self, d: usize) -> &mut DomainState {
        &mut self.domains[d]
    }

    /// Linear memory and region bytes the instance holds now.
    pub fn budget_used(&self) -> u64 {
        self.budget.used()
    }

    /// Grant the file at `path` to imports `= host.file(NAME)` named `name`.
    pub fn grant_file(&mut self, name: &str, path: std::path::PathBuf) {
        self.files.retain(|(n, _)| n != name);
        self.files.push((name.to_string(), path));
    }

    /// The inter-domain calls recorded since the last take (tracing on).
    pub fn take_trace(&mut self) -> Vec<IdcEvent> {
        self.trace.as_mut().map(std::mem::take).unwrap_or_default()
    }
}

/// Call exported function `f` of domain `d` as the host. `stack_limit` is the
/// lowest native stack address generated code may start a function at.
///
/// # Safety
/// `rt` must point to a live runtime that nothing else accesses during the call,
/// and the native stack must have room down to `stack_limit` plus the margin the
/// translator reported for this module.
pub unsafe fn invoke(
    rt: *mut Runtime,
    d: usize,
    f: usize,
    args: &[Val],
    stack_limit: u64,
) -> Result<Vec<Val>, RunError> {
    let (entry, ctx, results_ty) = {
        // SAFETY: the caller guarantees exclusive access to a live runtime.
        let r = unsafe { &mut *rt };
        let dom = &r.module.domains[d];
        let func = &dom.functions[f];
        if r.domains[d].status() != DomainStatus::Running {
            return Err(RunError::Trap(TrapInfo {
                code: TrapCode::DomainUnavailable,
                domain: dom.name.clone(),
                function: func.name.clone(),
                block: 0,
                inst: Some(0),
                callers: Vec::new(),
            }));
        }
        let functions = dom.functions.len();
        if args.len() != func.sig.params.len() || args.iter().zip(&func.sig.params).any(|(a, t)| !a.fits(t, functions))
        {
            return Err(RunError::BadInvoke(format!(
                "`{}.{}` takes {}",
                dom.name, func.name, func.sig
            )));
        }
        let Some(entry) = r.domains[d].entries.get(f).copied().flatten() else {
            return Err(RunError::BadInvoke(format!(
                "`{}.{}` is not exported",
                dom.name, func.name
            )));
        };
        for state in &mut r.domains {
            state.ctx.stack_limit = stack_limit;
        }
        *r.depth = 1;
        r.exit = None;
        r.domains[d].ctx.active += 1;
        let ctx = r.domains[d].ctx.as_ptr();
        (entry, ctx, func.sig.results.clone())
    };
    let mut slots = vec![0u64; args.len().max(results_ty.len()).max(1)];
    for (s, a) in slots.iter_mut().zip(args) {
        *s = slots::to_slot(*a);
    }
    // SAFETY: `entry` is the translator's trampoline for this exported function of
    // this verified module; `ctx` is the domain's live context; `slots` holds at
    // least as many slots as the function has parameters and results.
    let status = unsafe { entry(ctx, slots.as_ptr(), slots.as_mut_ptr()) };
    // SAFETY: the generated code has returned; exclusive access again.
    let r = unsafe { &mut *rt };
    r.domains[d].ctx.active -= 1;
    *r.depth = 0;
    if status != 0 {
        let info = r.fault(d, status);
        // A host function's `HostFailure::Exit` ends the run with its status.
        return Err(match r.exit.take() {
            Some(n) if info.code == TrapCode::Exit => RunError::Exit(n),
            _ => RunError::Trap(info),
        });
    }
    Ok(results_ty
        .iter()
        .zip(&slots)
        .map(|(t, s)| slots::from_slot(t, *s))
        .collect())
}
