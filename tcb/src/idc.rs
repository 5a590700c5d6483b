//! TRUSTED. Inter-domain calls: the `call_cap` stub's runtime half.
//!
//! Invariants protected:
//! - a call goes only where the caller's capability entry points, and only while
//!   the capability is live and its target running;
//! - `buf` arguments are copied into the callee's inbox and `buf` results into the
//!   caller's, each range checked against the memory it is read from and written to;
//! - `region` arguments and results change owner (the old handle dies);
//! - a trap in the callee marks only the callee faulted and comes back to the
//!   caller as a failure code; the caller's memory and stack are untouched.
//!
//! Status returned to generated code: `0` success (results in the slots), `> 0`
//! the call failed with that trap code (the caller takes its `fail` edge), `< 0`
//! the caller itself trapped with the negated code (it passed a bad argument).

use capjit_ir::exec::{DomainStatus, IdcEvent};
use capjit_ir::{HostCall, Signature, TrapCode, Type, Val};

use crate::ctx::DomainCtx;
use crate::runtime::{CapTarget, Runtime};
use crate::slots;
use capjit_ir::HostFailure;

/// What the first half of a call decided.
enum Plan {
    /// Finished without entering generated code; the status to return.
    Done(i32),
    Enter {
        callee: usize,
        ctx: *mut DomainCtx,
        entry: crate::ctx::EntryFn,
    },
}

/// Whether values of these types must be marshalled (`buf` copied, `region` moved).
pub(crate) fn has_data(types: &[Type]) -> bool {
    types.iter().any(|t| matches!(t, Type::Buf | Type::Region))
}

fn read_vals(types: &[Type], slots: &[u64]) -> Vec<Val> {
    types.iter().zip(slots).map(|(t, s)| slots::from_slot(t, *s)).collect()
}

fn write_vals(vals: &[Val], slots: &mut [u64]) {
    for (slot, v) in slots.iter_mut().zip(vals) {
        *slot = slots::to_slot(*v);
    }
}

/// How many slots a call through import `import` of domain `caller` passes:
/// max(parameters, results) of its signature (none for an unknown import).
fn slot_count(rt: &Runtime, caller: usize, import: u32) -> usize {
    let imports = &rt.module.domains[caller].imports;
    imports
        .get(import as usize)
        .map_or(0, |i| i.sig.params.len().max(i.sig.results.len()))
}

fn trace(rt: &mut Runtime, caller: usize, import: u32, outcome: Result<Vec<Val>, TrapCode>) {
    if let Some(log) = rt.trace.as_mut() {
        let d = &rt.module.domains[caller];
        log.push(IdcEvent {
            caller: d.name.clone(),
            import: d
                .imports
                .get(import as usize)
                .map_or_else(String::new, |i| i.name.clone()),
            outcome,
        });
    }
}

fn fail(rt: &mut Runtime, caller: usize, import: u32, code: TrapCode) -> i32 {
    trace(rt, caller, import, Err(code));
    code.code()
}

fn range_ok(len_of_memory: usize, ptr: u32, len: u32) -> bool {
    ptr as u64 + len as u64 <= len_of_memory as u64
}

/// Where each `buf` of `vals` lands in `receiver`'s inbox (8-byte aligned, packed).
fn inbox_layout(rt: &Runtime, receiver: usize, vals: &[Val]) -> Result<Vec<u32>, TrapCode> {
    let (offset, size) = rt.module.domains[receiver].inbox.map_or((0, 0), |i| (i.offset, i.size));
    let mut pos = 0u64;
    let mut places = Vec::new();
    for v in vals {
        if let Val::Buf { len, .. } = *v {
            if pos + len as u64 > size as u64 {
                return Err(TrapCode::InboxOverflow);
            }
            places.push(offset + pos as u32);
            pos = (pos + len as u64 + 7) & !7;
        }
    }
    Ok(places)
}

/// Copy bufs from `from` into `to`'s inbox places and move regions; every range was
/// checked before.
fn move_values(rt: &mut Runtime, from: usize, to: usize, vals: &mut [Val], places: &[u32]) -> Result<(), TrapCode> {
    let mut places = places.iter();
    for v in vals.iter_mut() {
        match *v {
            Val::Buf { ptr, len } => {
                let dst = *places.next().ok_or(TrapCode::InboxOverflow)?;
                let (p, l, d) = (ptr as usize, len as usize, dst as usize);
                if from == to {
                    rt.domains[to].memory.copy_within(p..p + l, d);
                } else {
                    let (a, b) = two_mut(&mut rt.domains, from, to);
                    b.memory[d..d + l].copy_from_slice(&a.memory[p..p + l]);
                }
                *v = Val::Buf { ptr: dst, len };
            }
            Val::Region(h) => *v = Val::Region(rt.regions.transfer(h, from, to)?),
            _ => {}
        }
    }
    Ok(())
}

fn two_mut<T>(v: &mut [T], a: usize, b: usize) -> (&mut T, &mut T) {
    if a < b {
        let (x, y) = v.split_at_mut(b);
        (&mut x[a], &mut y[0])
    } else {
        let (x, y) = v.split_at_mut(a);
        (&mut y[0], &mut x[b])
    }
}

/// The caller's own arguments must be valid: a buffer outside its memory or a
/// region it does not own (or passes twice) makes the caller trap.
fn check_outgoing(rt: &Runtime, caller: usize, args: &[Val]) -> Result<(), TrapCode> {
    let mut seen: Vec<u32> = Vec::new();
    for a in args {
        match *a {
            Val::Buf { ptr, len } if !range_ok(rt.domains[caller].memory.len(), ptr, len) => {
                return Err(TrapCode::OutOfBounds)
            }
            Val::Region(h) => {
                rt.regions.check(h, caller)?;
                if seen.contains(&h.slot) {
                    return Err(TrapCode::RegionInvalid);
                }
                seen.push(h.slot);
            }
            _ => {}
        }
    }
    Ok(())
}

/// The status for a host call's outcome: results into the slots (at most as many
/// as the import's signature has), the failure code, or the caller's own trap; an
/// exit traps the caller with `exit` and keeps the status for `invoke`.
fn host_outcome(
    rt: &mut Runtime,
    caller: usize,
    import: u32,
    outcome: Result<Vec<Val>, HostFailure>,
    slots: &mut [u64],
) -> i32 {
    match outcome {
        Ok(vals) => {
            write_vals(&vals, slots);
            trace(rt, caller, import, Ok(vals));
            0
        }
        Err(HostFailure::CallerTrap(code)) => -code.code(),
        Err(HostFailure::Failed(code)) => fail(rt, caller, import, code),
        Err(HostFailure::Exit(n)) => {
            rt.exit = Some(n);
            -TrapCode::Exit.code()
        }
    }
}

fn plan(rt: &mut Runtime, caller: usize, import: u32, slots: &mut [u64]) -> Plan {
    let Some(entry) = rt.domains[caller].caps.get(import as usize).copied() else {
        return Plan::Done(-TrapCode::HostError.code());
    };
    if entry.revoked {
        return Plan::Done(fail(rt, caller, import, TrapCode::CapRevoked));
    }
    let sig: &Signature = &rt.module.domains[caller].imports[import as usize].sig;
    match entry.target {
        CapTarget::Host(h) => {
            let args = read_vals(&sig.params, slots);
            let memory = &rt.domains[caller].memory;
            let outcome = h.call(memory, &mut *rt.output, rt.started, &args);
            Plan::Done(host_outcome(rt, caller, import, outcome, slots))
        }
        CapTarget::Embedder(i) => {
            let args = read_vals(&sig.params, slots);
            let n_results = sig.results.len();
            let outcome = match rt.host_fns.get(i) {
                // The closure sees the caller's memory as a slice, nothing else.
                Some(f) => f.call(&mut HostCall::new(&mut rt.domains[caller].memory), &args),
                None => Err(HostFailure::Failed(TrapCode::HostError)),
            };
            // `HostFn::call` checked the results against the signature; the slots
            // hold exactly that many, so check the count again where it matters.
            let outcome = outcome.and_then(|vals| {
                if vals.len() == n_results {
                    Ok(vals)
                } else {
                    Err(HostFailure::Failed(TrapCode::HostError))
                }
            });
            Plan::Done(host_outcome(rt, caller, import, outcome, slots))
        }
        CapTarget::File => {
            let capjit_ir::ImportSource::File { name } = &rt.module.domains[caller].imports[import as usize].source
            else {
                return Plan::Done(-TrapCode::HostError.code());
            };
            let (ptr, len) = match read_vals(&sig.params, slots).first() {
                Some(Val::Buf { ptr, len }) => (*ptr, *len),
                _ => return Plan::Done(-TrapCode::HostError.code()),
            };
            let memory = &mut rt.domains[caller].memory;
            let outcome = capjit_ir::builtins::read_granted_file(&rt.files, name, memory, ptr, len);
            Plan::Done(host_outcome(rt, caller, import, outcome, slots))
        }
        CapTarget::Restart { domain } => {
            if rt.domains[domain].ctx.active > 0 {
                return Plan::Done(fail(rt, caller, import, TrapCode::DomainBusy));
            }
            if !rt.restart(domain) {
                return Plan::Done(fail(rt, caller, import, TrapCode::ResourceLimit));
            }
            trace(rt, caller, import, Ok(vec![]));
            Plan::Done(0)
        }
        CapTarget::Func { domain, func } => {
            let target = &rt.domains[domain];
            if target.ctx.epoch != entry.epoch {
                return Plan::Done(fail(rt, caller, import, TrapCode::CapRevoked));
            }
            if target.status() != DomainStatus::Running {
                return Plan::Done(fail(rt, caller, import, TrapCode::DomainUnavailable));
            }
            if *rt.depth >= rt.limits.max_call_depth {
                return Plan::Done(fail(rt, caller, import, TrapCode::CallDepthExceeded));
            }
            let Some(callee_entry) = target.entries.get(func).copied().flatten() else {
                return Plan::Done(fail(rt, caller, import, TrapCode::HostError));
            };
            if has_data(&sig.params) {
                let mut args = read_vals(&sig.params, slots);
                if let Err(code) = check_outgoing(rt, caller, &args) {
                    return Plan::Done(-code.code());
                }
                let places = match inbox_layout(rt, domain, &args) {
                    Ok(p) => p,
                    Err(code) => return Plan::Done(fail(rt, caller, import, code)),
                };
                if let Err(code) = move_values(rt, caller, domain, &mut args, &places) {
                    return Plan::Done(fail(rt, caller, import, code));
                }
                write_vals(&args, slots);
            }
            *rt.depth += 1;
            rt.domains[domain].ctx.active += 1;
            Plan::Enter {
                callee: domain,
                ctx: rt.domains[domain].ctx.as_ptr(),
                entry: callee_entry,
            }
        }
    }
}

/// Results of a successful callee: copy bufs into the caller's inbox and move
/// regions to the caller. Bad results are the callee's fault.
fn deliver(rt: &mut Runtime, caller: usize, callee: usize, import: u32, slots: &mut [u64]) -> i32 {
    let sig = &rt.module.domains[caller].imports[import as usize].sig;
    if rt.trace.is_none() && !has_data(&sig.results) {
        // Numbers only: the results are already in the slots.
        return 0;
    }
    let results = sig.results.clone();
    let mut vals = read_vals(&results, slots);
    if has_data(&results) {
        let callee_mem = rt.domains[callee].memory.len();
        let mut seen: Vec<u32> = Vec::new();
        for v in &vals {
            let bad = match *v {
                Val::Buf { ptr, len } => (!range_ok(callee_mem, ptr, len)).then_some(TrapCode::OutOfBounds),
                // A region handed back twice is the callee's fault, like one it does not own.
                Val::Region(h) if seen.contains(&h.slot) => Some(TrapCode::RegionInvalid),
                Val::Region(h) => {
                    seen.push(h.slot);
                    rt.regions.check(h, callee).err()
                }
                _ => None,
            };
            if let Some(code) = bad {
                rt.fault(callee, code.code() as u32);
                return fail(rt, caller, import, code);
            }
        }
        let places = match inbox_layout(rt, caller, &vals) {
            Ok(p) => p,
            Err(code) => return fail(rt, caller, import, code),
        };
        if let Err(code) = move_values(rt, callee, caller, &mut vals, &places) {
            return fail(rt, caller, import, code);
        }
        write_vals(&vals, slots);
    }
    trace(rt, caller, import, Ok(vals));
    0
}

/// Called by generated code for `call_cap`: `slots` holds the arguments and
/// receives the results.
///
/// # Safety
/// `ctx` must be a live domain context of a runtime, and `slots` must point to at
/// least max(parameters, results) slots of the import's signature.
pub unsafe extern "C" fn capjit_call_cap(ctx: *mut DomainCtx, import: u32, slots_ptr: *mut u64) -> i32 {
    // SAFETY: generated code only passes the context it was entered with, whose
    // runtime pointer was set at instantiation and outlives every run.
    let (rt_ptr, caller) = unsafe { ((*ctx).runtime as *mut Runtime, (*ctx).domain as usize) };
    // SAFETY: no other reference into the runtime is live while generated code runs
    // (the host entry and this helper drop theirs before calling generated code).
    let rt = unsafe { &mut *rt_ptr };
    let count = slot_count(rt, caller, import);
    // SAFETY: per the contract, `slots_ptr` points to `count` slots, which nothing
    // else reads or writes until this call returns (the callee gets them below,
    // through a pointer derived from this slice, while the slice is not used).
    let slots = unsafe { std::slice::from_raw_parts_mut(slots_ptr, count) };
    let (callee, callee_ctx, entry) = match plan(rt, caller, import, slots) {
        Plan::Done(status) => return status,
        Plan::Enter { callee, ctx, entry } => (callee, ctx, entry),
    };
    let slots_ptr = slots.as_mut_ptr();
    // SAFETY: `entry` is the trampoline of an exported function of the callee, the
    // context is the callee's, and the slots were sized by the translator for this
    // signature.
    let status = unsafe { entry(callee_ctx, slots_ptr, slots_ptr) };
    // SAFETY: the callee returned; exclusive access again.
    let rt = unsafe { &mut *rt_ptr };
    *rt.depth -= 1;
    rt.domains[callee].ctx.active -= 1;
    if status != 0 {
        rt.fault(callee, status);
        let code = TrapCode::from_code(status as i32).unwrap_or(TrapCode::HostError);
        return fail(rt, caller, import, code);
    }
    deliver(rt, caller, callee, import, slots)
}

/// Called by generated code when a callee entered on the inline IDC path returned a
/// non-zero status: fault the callee and hand back the code for the `fail` edge.
///
/// # Safety
/// `ctx` must be the caller's live context and `import` one of its imports whose
/// capability targets a domain's function.
pub unsafe extern "C" fn capjit_idc_fault(ctx: *mut DomainCtx, import: u32, status: u32) -> i32 {
    // SAFETY: as in `capjit_call_cap`.
    let (rt_ptr, caller) = unsafe { ((*ctx).runtime as *mut Runtime, (*ctx).domain as usize) };
    // SAFETY: the callee has returned; no other reference into the runtime is live.
    let rt = unsafe { &mut *rt_ptr };
    let code = TrapCode::from_code(status as i32).unwrap_or(TrapCode::HostError);
    if let Some(CapTarget::Func { domain, .. }) = rt.domains[caller].caps.get(import as usize).map(|c| c.target) {
        rt.fault(domain, status);
    }
    fail(rt, caller, import, code)
}
