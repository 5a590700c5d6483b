//! The interpreter's main loop: an explicit frame stack (no native recursion, so a
//! deep IR call chain cannot overflow the host's stack), instruction semantics,
//! inter-domain calls with copy and transfer, and trap unwinding to the nearest
//! IDC boundary.

use std::collections::HashMap;

use crate::model::*;
use crate::trap::TrapCode;

use super::arith::{self, ArithError};
use super::link::{CapTarget, Runtime};
use super::{DomainStatus, IdcEvent, RunError, TrapInfo};
use crate::exec::{CallSite, Limits, MAX_TRAP_CALLERS};
use crate::host_fn::{HostCall, HostFailure};
use crate::value::Val;

/// How a frame's results go back to whoever called it.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// Called by the host: results end the run.
    Host,
    /// Called by `call` in the frame below, whose `ip` still points at the call.
    Direct,
    /// Called by `call_cap` in the frame below (another activation, maybe another domain).
    Idc { ok: BlockId, import: u32 },
}

struct Frame {
    domain: usize,
    func: usize,
    block: usize,
    ip: usize,
    vals: HashMap<u32, Val>,
    kind: Kind,
}

enum Fault {
    Trap(TrapCode),
    Invalid(String),
}

impl From<TrapCode> for Fault {
    fn from(t: TrapCode) -> Self {
        Fault::Trap(t)
    }
}

impl From<ArithError> for Fault {
    fn from(e: ArithError) -> Self {
        match e {
            ArithError::Trap(t) => Fault::Trap(t),
            ArithError::Type(m) => Fault::Invalid(m),
        }
    }
}

enum Control {
    Continue,
    Finished(Vec<Val>),
}

type Step = Result<Control, Fault>;

fn invalid<T>(msg: impl Into<String>) -> Result<T, Fault> {
    Err(Fault::Invalid(msg.into()))
}

struct Machine<'m, 'r> {
    m: &'m Module,
    rt: &'r mut Runtime,
    frames: Vec<Frame>,
}

/// Run `domains[d].functions[f]` called by the host with `args`.
pub(super) fn run(m: &Module, rt: &mut Runtime, d: usize, f: usize, args: Vec<Val>) -> Result<Vec<Val>, RunError> {
    let dom = &m.domains[d];
    if rt.domains[d].status != DomainStatus::Running {
        return Err(RunError::Trap(TrapInfo {
            code: TrapCode::DomainUnavailable,
            domain: dom.name.clone(),
            function: dom.functions[f].name.clone(),
            block: 0,
            inst: Some(0),
            callers: Vec::new(),
        }));
    }
    rt.exit = None;
    let mut mach = Machine {
        m,
        rt,
        frames: Vec::new(),
    };
    let mut step = mach.enter_function(d, f, args, Kind::Host);
    loop {
        match step {
            Ok(Control::Continue) => step = mach.step(),
            Ok(Control::Finished(vals)) => return Ok(vals),
            Err(Fault::Trap(code)) => match mach.unwind(code) {
                Ok(next) => step = next,
                Err(e) => return Err(e),
            },
            Err(Fault::Invalid(msg)) => return Err(RunError::Invalid(mach.locate(&msg))),
        }
    }
}

fn i32_of(v: Val) -> Result<i32, Fault> {
    match v {
        Val::I32(x) => Ok(x),
        other => invalid(format!("expected an i32, found {other}")),
    }
}

/// `data.drop` or `elem.drop`: mark segment `segment` dropped (empty until restart).
fn drop_segment(dropped: &mut [bool], segment: u32, what: &str) -> Result<Vec<Val>, Fault> {
    match dropped.get_mut(segment as usize) {
        Some(flag) => {
            *flag = true;
            Ok(vec![])
        }
        None => invalid(format!("{what} segment #{segment}, which does not exist")),
    }
}

/// The byte range `[base + offset, base + offset + len)` if it lies within `size`.
fn range_in(size: usize, base: u32, offset: u32, len: u64) -> Result<std::ops::Range<usize>, TrapCode> {
    let start = base as u64 + offset as u64;
    let end = start + len;
    if end > size as u64 {
        return Err(TrapCode::OutOfBounds);
    }
    Ok(start as usize..end as usize)
}

fn read_le(bytes: &[u8]) -> u64 {
    bytes.iter().rev().fold(0u64, |acc, &b| (acc << 8) | b as u64)
}

/// The value a narrow or full-width load produces from raw little-endian bits.
fn loaded_value(access: MemAccess, raw: u64) -> Val {
    let bits = access.bytes as u32 * 8;
    let extended = if access.signed && bits < 64 {
        ((raw << (64 - bits)) as i64 >> (64 - bits)) as u64
    } else {
        raw
    };
    match access.ty {
        NumType::I32 => Val::I32(extended as u32 as i32),
        NumType::I64 => Val::I64(extended as i64),
        NumType::F32 => Val::F32(raw as u32),
        NumType::F64 => Val::F64(raw),
    }
}

fn stored_bits(access: MemAccess, v: Val) -> Result<u64, Fault> {
    match (access.ty, v) {
        (NumType::I32, Val::I32(x)) => Ok(x as u32 as u64),
        (NumType::I64, Val::I64(x)) => Ok(x as u64),
        (NumType::F32, Val::F32(b)) => Ok(b as u64),
        (NumType::F64, Val::F64(b)) => Ok(b),
        (ty, v) => invalid(format!("store of a {ty} needs a {ty} value, found {v}")),
    }
}

fn write_le(dst: &mut [u8], bits: u64) {
    for (i, b) in dst.iter_mut().enumerate() {
        *b = (bits >> (8 * i)) as u8;
    }
}

fn align8(n: u64) -> u64 {
    (n + 7) & !7
}

impl Machine<'_, '_> {
    fn top(&self) -> &Frame {
        // The loop only steps while a frame exists.
        self.frames.last().expect("a frame is active while stepping")
    }

    fn top_mut(&mut self) -> &mut Frame {
        self.frames.last_mut().expect("a frame is active while stepping")
    }

    fn locate(&self, msg: &str) -> String {
        match self.frames.last() {
            Some(f) => {
                let d = &self.m.domains[f.domain];
                format!("{}.{} block{}: {msg}", d.name, d.functions[f.func].name, f.block)
            }
            None => msg.to_string(),
        }
    }

    fn get(&self, v: Value) -> Result<Val, Fault> {
        match self.top().vals.get(&v.0) {
            Some(x) => Ok(*x),
            None => invalid(format!("{v} is used but not defined")),
        }
    }

    fn get_all(&self, vs: &[Value]) -> Result<Vec<Val>, Fault> {
        vs.iter().map(|v| self.get(*v)).collect()
    }

    fn spend_fuel(&mut self, domain: usize) -> Result<(), Fault> {
        let fuel = &mut self.rt.domains[domain].fuel;
        if *fuel == Limits::UNLIMITED_FUEL {
            return Ok(());
        }
        if *fuel == 0 {
            return Err(Fault::Trap(TrapCode::FuelExhausted));
        }
        *fuel -= 1;
        Ok(())
    }

    /// Push a frame for `functions[f]` of domain `d`, spend its entry fuel, and
    /// enter its first block with `args`.
    fn enter_function(&mut self, d: usize, f: usize, args: Vec<Val>, kind: Kind) -> Step {
        let Some(func) = self.m.domains[d].functions.get(f) else {
            return invalid(format!("call to function #{f}, which does not exist"));
        };
        if args.len() != func.sig.params.len() || args.iter().zip(&func.sig.params).any(|(a, t)| !a.has_type(t)) {
            return invalid(format!("`{}` takes {}, given {args:?}", func.name, func.sig));
        }
        self.frames.push(Frame {
            domain: d,
            func: f,
            block: 0,
            ip: 0,
            vals: HashMap::new(),
            kind,
        });
        self.spend_fuel(d)?;
        self.bind_block(0, args)?;
        Ok(Control::Continue)
    }

    /// Bind `args` to the parameters of block `target` of the top frame and go there.
    fn bind_block(&mut self, target: usize, args: Vec<Val>) -> Result<(), Fault> {
        let top = self.top();
        let func = &self.m.domains[top.domain].functions[top.func];
        let Some(block) = func.blocks.get(target) else {
            return invalid(format!("branch to block{target}, which does not exist"));
        };
        if block.params.len() != args.len() || block.params.iter().zip(&args).any(|(p, a)| !a.has_type(&p.ty)) {
            return invalid(format!(
                "block{target} takes {} parameters of other types than {args:?}",
                block.params.len()
            ));
        }
        let top = self.top_mut();
        for (p, a) in block.params.iter().zip(args) {
            top.vals.insert(p.value.0, a);
        }
        top.block = target;
        top.ip = 0;
        let (d, f) = (top.domain, top.func);
        if let Some(count) = self.rt.block_counts.as_mut() {
            if let Some(n) = count
                .get_mut(d)
                .and_then(|c| c.get_mut(f))
                .and_then(|c| c.get_mut(target))
            {
                *n += 1;
            }
        }
        Ok(())
    }

    /// Branch from the current block; a branch to a block that is not after the
    /// current one spends a unit of fuel, so every loop pays.
    fn goto(&mut self, target: BlockId, args: Vec<Val>) -> Step {
        let top = self.top();
        if target.0 as usize <= top.block {
            self.spend_fuel(top.domain)?;
        }
        self.bind_block(target.0 as usize, args)?;
        Ok(Control::Continue)
    }

    fn step(&mut self) -> Step {
        let top = self.top();
        let func = &self.m.domains[top.domain].functions[top.func];
        let block = &func.blocks[top.block];
        match block.insts.get(top.ip) {
            Some(inst) => self.exec_inst(inst),
            None => self.exec_terminator(&block.term),
        }
    }

    fn define(&mut self, defs: &[Def], vals: Vec<Val>) -> Result<(), Fault> {
        if defs.len() != vals.len() {
            return invalid(format!(
                "{} results are named but {} are produced",
                defs.len(),
                vals.len()
            ));
        }
        let top = self.top_mut();
        for (d, v) in defs.iter().zip(vals) {
            top.vals.insert(d.value.0, v);
        }
        Ok(())
    }

    fn exec_inst(&mut self, inst: &Inst) -> Step {
        let d = self.top().domain;
        let callee = match &inst.op {
            Op::Call { func, args } => Some((*func as usize, args)),
            Op::CallIndirect {
                table,
                sig,
                index,
                args,
            } => Some((self.table_entry(d, *table, sig, *index)?, args)),
            _ => None,
        };
        if let Some((func, args)) = callee {
            let args = self.get_all(args)?;
            if self.frames.len() >= self.rt.limits.max_call_depth as usize {
                return Err(Fault::Trap(TrapCode::CallDepthExceeded));
            }
            return self.enter_function(d, func, args, Kind::Direct);
        }
        let vals = self.eval(&inst.op)?;
        self.define(&inst.results, vals)?;
        self.top_mut().ip += 1;
        Ok(Control::Continue)
    }

    /// The function `call_indirect` reaches through entry `index` of table `table` of
    /// domain `d`, checked in this order: the entry exists, is not null, has
    /// signature `sig`.
    fn table_entry(&self, d: usize, table: u32, sig: &Signature, index: Value) -> Result<usize, Fault> {
        let index = i32_of(self.get(index)?)? as u32 as usize;
        let dom = &self.m.domains[d];
        let entry = self.table(table)?.get(index).ok_or(TrapCode::TableOutOfBounds)?;
        let func = entry.ok_or(TrapCode::IndirectCallNull)? as usize;
        match dom.functions.get(func) {
            Some(f) if f.sig == *sig => Ok(func),
            Some(_) => Err(Fault::Trap(TrapCode::IndirectCallType)),
            None => invalid(format!(
                "table entry {index} names function #{func}, which does not exist"
            )),
        }
    }

    /// Table `t` of the running domain.
    fn table(&self, t: u32) -> Result<&Vec<Option<u32>>, Fault> {
        match self.rt.domains[self.top().domain].tables.get(t as usize) {
            Some(table) => Ok(table),
            None => invalid(format!("table #{t} does not exist")),
        }
    }

    /// The entry a reference operand holds.
    fn entry_of(&self, v: Value) -> Result<Option<u32>, Fault> {
        match self.get(v)?.ref_entry() {
            Some(entry) => Ok(entry),
            None => invalid(format!("{v} is not a reference")),
        }
    }

    /// The type of table `t` of the running domain.
    fn table_type(&self, t: u32) -> Result<RefType, Fault> {
        match self.m.domains[self.top().domain].tables.get(t as usize) {
            Some(table) => Ok(table.elem),
            None => invalid(format!("table #{t} does not exist")),
        }
    }

    fn memory(&self) -> &Vec<u8> {
        &self.rt.domains[self.top().domain].memory
    }

    fn memory_mut(&mut self) -> &mut Vec<u8> {
        let d = self.top().domain;
        &mut self.rt.domains[d].memory
    }

    /// Evaluate a non-call, non-terminator operation.
    fn eval(&mut self, op: &Op) -> Result<Vec<Val>, Fault> {
        let one = |v: Val| Ok(vec![v]);
        match op {
            Op::GlobalGet { global } => match self.rt.domains[self.top().domain].globals.get(*global as usize) {
                Some(v) => one(*v),
                None => invalid(format!("global #{global} does not exist")),
            },
            Op::GlobalSet { global, value } => {
                let v = self.get(*value)?;
                let d = self.top().domain;
                match (
                    self.m.domains[d].globals.get(*global as usize),
                    self.rt.domains[d].globals.get_mut(*global as usize),
                ) {
                    (Some(g), Some(slot)) if g.mutable && v.has_num_type(g.ty) => {
                        *slot = v;
                        Ok(vec![])
                    }
                    _ => invalid(format!(
                        "global.set of {v} to global #{global}, which is not a mutable global of that type"
                    )),
                }
            }
            Op::Const(c) => one(match *c {
                Const::I32(x) => Val::I32(x),
                Const::I64(x) => Val::I64(x),
                Const::F32(b) => Val::F32(b),
                Const::F64(b) => Val::F64(b),
            }),
            Op::Binary { op, ty, a, b } => one(arith::binary(*op, *ty, self.get(*a)?, self.get(*b)?)?),
            Op::Unary { op, ty, a } => one(arith::unary(*op, *ty, self.get(*a)?)?),
            Op::Icmp { cc, ty, a, b } => one(arith::icmp(*cc, *ty, self.get(*a)?, self.get(*b)?)?),
            Op::Fcmp { cc, ty, a, b } => one(arith::fcmp(*cc, *ty, self.get(*a)?, self.get(*b)?)?),
            Op::Convert { op, from, to, a } => one(arith::convert(*op, *from, *to, self.get(*a)?)?),
            Op::Select { ty, cond, a, b } => {
                let c = i32_of(self.get(*cond)?)?;
                let (x, y) = (self.get(*a)?, self.get(*b)?);
                if !x.has_type(ty) || !y.has_type(ty) {
                    return invalid(format!("select.{ty} applied to {x} and {y}"));
                }
                one(if c != 0 { x } else { y })
            }
            Op::Load { access, addr, offset } => {
                let base = i32_of(self.get(*addr)?)? as u32;
                let r = range_in(self.memory().len(), base, *offset, access.bytes as u64)?;
                one(loaded_value(*access, read_le(&self.memory()[r])))
            }
            Op::Store {
                access,
                value,
                addr,
                offset,
            } => {
                let bits = stored_bits(*access, self.get(*value)?)?;
                let base = i32_of(self.get(*addr)?)? as u32;
                let r = range_in(self.memory().len(), base, *offset, access.bytes as u64)?;
                write_le(&mut self.memory_mut()[r], bits);
                Ok(vec![])
            }
            Op::MemorySize => one(Val::I32((self.memory().len() as u64 / PAGE_SIZE) as i32)),
            Op::MemoryGrow { delta } => {
                let delta = i32_of(self.get(*delta)?)? as u32;
                let d = self.top().domain;
                one(Val::I32(self.rt.grow_memory(d, delta)))
            }
            Op::MemoryCopy { dst, src, len } => {
                let dst = i32_of(self.get(*dst)?)? as u32;
                let src = i32_of(self.get(*src)?)? as u32;
                let len = i32_of(self.get(*len)?)? as u32 as u64;
                let size = self.memory().len();
                let s = range_in(size, src, 0, len)?;
                let d = range_in(size, dst, 0, len)?;
                self.memory_mut().copy_within(s, d.start);
                Ok(vec![])
            }
            Op::MemoryFill { dst, byte, len } => {
                let dst = i32_of(self.get(*dst)?)? as u32;
                let byte = i32_of(self.get(*byte)?)? as u8;
                let len = i32_of(self.get(*len)?)? as u32 as u64;
                let r = range_in(self.memory().len(), dst, 0, len)?;
                self.memory_mut()[r].fill(byte);
                Ok(vec![])
            }
            Op::MemoryInit { segment, dst, src, len } => {
                let dst = i32_of(self.get(*dst)?)? as u32;
                let src = i32_of(self.get(*src)?)? as u32;
                let len = i32_of(self.get(*len)?)? as u32 as u64;
                let d = self.top().domain;
                let (Some(bytes), Some(&dropped)) = (
                    self.m.domains[d].passive_data.get(*segment as usize),
                    self.rt.domains[d].dropped.get(*segment as usize),
                ) else {
                    return invalid(format!(
                        "memory.init of passive segment #{segment}, which does not exist"
                    ));
                };
                let seg_len = if dropped { 0 } else { bytes.len() };
                let s = range_in(seg_len, src, 0, len)?;
                let r = range_in(self.memory().len(), dst, 0, len)?;
                let m = self.m;
                self.memory_mut()[r].copy_from_slice(&m.domains[d].passive_data[*segment as usize][s]);
                Ok(vec![])
            }
            Op::DataDrop { segment } => {
                let d = self.top().domain;
                drop_segment(&mut self.rt.domains[d].dropped, *segment, "data.drop of passive")
            }
            Op::TableCopy {
                dst_table,
                src_table,
                dst,
                src,
                len,
            } => {
                let dst = i32_of(self.get(*dst)?)? as u32;
                let src = i32_of(self.get(*src)?)? as u32;
                let len = i32_of(self.get(*len)?)? as u32 as u64;
                let from = self.table(*src_table)?;
                let to_len = self.table(*dst_table)?.len();
                let (Ok(s), Ok(t)) = (range_in(from.len(), src, 0, len), range_in(to_len, dst, 0, len)) else {
                    return Err(Fault::Trap(TrapCode::TableOutOfBounds));
                };
                let d = self.top().domain;
                let tables = &mut self.rt.domains[d].tables;
                if dst_table == src_table {
                    tables[*dst_table as usize].copy_within(s, t.start);
                } else {
                    let entries = tables[*src_table as usize][s].to_vec();
                    tables[*dst_table as usize][t].copy_from_slice(&entries);
                }
                Ok(vec![])
            }
            Op::RefNull { ty } => one(Val::reference(*ty, None)),
            Op::RefIsNull { a } => one(Val::I32(self.entry_of(*a)?.is_none() as i32)),
            Op::RefFunc { func } => one(Val::FuncRef(Some(*func))),
            Op::TableGet { table, index } => {
                let index = i32_of(self.get(*index)?)? as u32 as usize;
                let entry = *self.table(*table)?.get(index).ok_or(TrapCode::TableOutOfBounds)?;
                one(Val::reference(self.table_type(*table)?, entry))
            }
            Op::TableSet { table, index, value } => {
                let index = i32_of(self.get(*index)?)? as u32 as usize;
                let entry = self.entry_of(*value)?;
                self.table(*table)?.get(index).ok_or(TrapCode::TableOutOfBounds)?;
                let d = self.top().domain;
                self.rt.domains[d].tables[*table as usize][index] = entry;
                Ok(vec![])
            }
            Op::TableSize { table } => one(Val::I32(self.table(*table)?.len() as u32 as i32)),
            Op::TableGrow { table, init, delta } => {
                let init = self.entry_of(*init)?;
                let delta = i32_of(self.get(*delta)?)? as u32;
                self.table(*table)?;
                let d = self.top().domain;
                one(Val::I32(self.rt.grow_table(self.m, d, *table as usize, init, delta)))
            }
            Op::TableFill { table, dst, value, len } => {
                let dst = i32_of(self.get(*dst)?)? as u32;
                let entry = self.entry_of(*value)?;
                let len = i32_of(self.get(*len)?)? as u32 as u64;
                let r = range_in(self.table(*table)?.len(), dst, 0, len).map_err(|_| TrapCode::TableOutOfBounds)?;
                let d = self.top().domain;
                self.rt.domains[d].tables[*table as usize][r].fill(entry);
                Ok(vec![])
            }
            Op::TableInit {
                table,
                segment,
                dst,
                src,
                len,
            } => {
                let dst = i32_of(self.get(*dst)?)? as u32;
                let src = i32_of(self.get(*src)?)? as u32;
                let len = i32_of(self.get(*len)?)? as u32 as u64;
                let d = self.top().domain;
                let m = self.m;
                let (Some(seg), Some(&dropped)) = (
                    m.domains[d].passive_elems.get(*segment as usize),
                    self.rt.domains[d].elems_dropped.get(*segment as usize),
                ) else {
                    return invalid(format!(
                        "table.init of element segment #{segment}, which does not exist"
                    ));
                };
                let items: &[Option<u32>] = if dropped { &[] } else { &seg.items };
                let to_len = self.table(*table)?.len();
                let (Ok(s), Ok(t)) = (range_in(items.len(), src, 0, len), range_in(to_len, dst, 0, len)) else {
                    return Err(Fault::Trap(TrapCode::TableOutOfBounds));
                };
                self.rt.domains[d].tables[*table as usize][t].copy_from_slice(&items[s]);
                Ok(vec![])
            }
            Op::ElemDrop { segment } => {
                let d = self.top().domain;
                drop_segment(&mut self.rt.domains[d].elems_dropped, *segment, "elem.drop of element")
            }
            Op::Call { .. } | Op::CallIndirect { .. } => invalid("calls are handled by exec_inst"),
            Op::CapGet { import } => {
                let d = self.top().domain;
                if *import as usize >= self.rt.domains[d].caps.len() {
                    return invalid(format!("cap.get of import #{import}, which does not exist"));
                }
                one(Val::Cap(*import))
            }
            Op::BufMake { ptr, len } => {
                let ptr = i32_of(self.get(*ptr)?)? as u32;
                let len = i32_of(self.get(*len)?)? as u32;
                one(Val::Buf { ptr, len })
            }
            Op::BufPtr { buf } | Op::BufLen { buf } => match self.get(*buf)? {
                Val::Buf { ptr, len } => one(Val::I32(if matches!(op, Op::BufPtr { .. }) { ptr } else { len } as i32)),
                other => invalid(format!("expected a buf, found {other}")),
            },
            Op::RegionNew { len } => {
                let len = i32_of(self.get(*len)?)? as u32;
                let d = self.top().domain;
                let rt = &mut *self.rt;
                one(Val::Region(rt.regions.create(d, len, &mut rt.budget)?))
            }
            Op::RegionLen { region } => {
                let h = self.region(*region)?;
                let d = self.top().domain;
                one(Val::I32(self.rt.regions.bytes(h, d)?.len() as i32))
            }
            Op::RegionFree { region } => {
                let h = self.region(*region)?;
                let d = self.top().domain;
                let rt = &mut *self.rt;
                rt.regions.free(h, d, &mut rt.budget)?;
                Ok(vec![])
            }
            Op::RegionLoad { access, region, index } => {
                let h = self.region(*region)?;
                let index = i32_of(self.get(*index)?)? as u32;
                let d = self.top().domain;
                let bytes = self.rt.regions.bytes(h, d)?;
                let r = range_in(bytes.len(), index, 0, access.bytes as u64)?;
                one(loaded_value(*access, read_le(&bytes[r])))
            }
            Op::RegionStore {
                access,
                value,
                region,
                index,
            } => {
                let bits = stored_bits(*access, self.get(*value)?)?;
                let h = self.region(*region)?;
                let index = i32_of(self.get(*index)?)? as u32;
                let d = self.top().domain;
                let bytes = self.rt.regions.bytes_mut(h, d)?;
                let r = range_in(bytes.len(), index, 0, access.bytes as u64)?;
                write_le(&mut bytes[r], bits);
                Ok(vec![])
            }
            Op::RegionRead {
                region,
                index,
                addr,
                len,
            } => {
                let (h, index, addr, len) = self.region_copy_operands(*region, *index, *addr, *len)?;
                let d = self.top().domain;
                let rt = &mut *self.rt;
                let bytes = rt.regions.bytes(h, d)?;
                let src = range_in(bytes.len(), index, 0, len)?;
                let mem = &mut rt.domains[d].memory;
                let dst = range_in(mem.len(), addr, 0, len)?;
                mem[dst].copy_from_slice(&bytes[src]);
                Ok(vec![])
            }
            Op::RegionWrite {
                region,
                index,
                addr,
                len,
            } => {
                let (h, index, addr, len) = self.region_copy_operands(*region, *index, *addr, *len)?;
                let d = self.top().domain;
                let rt = &mut *self.rt;
                // The handle first, as `region.read` and the runtime do.
                rt.regions.check(h, d)?;
                let mem = &rt.domains[d].memory;
                let src = range_in(mem.len(), addr, 0, len)?;
                let bytes = rt.regions.bytes_mut(h, d)?;
                let dst = range_in(bytes.len(), index, 0, len)?;
                bytes[dst].copy_from_slice(&mem[src]);
                Ok(vec![])
            }
        }
    }

    fn region(&self, v: Value) -> Result<super::RegionHandle, Fault> {
        match self.get(v)? {
            Val::Region(h) => Ok(h),
            other => invalid(format!("expected a region, found {other}")),
        }
    }

    fn region_copy_operands(
        &self,
        region: Value,
        index: Value,
        addr: Value,
        len: Value,
    ) -> Result<(super::RegionHandle, u32, u32, u64), Fault> {
        let h = self.region(region)?;
        let index = i32_of(self.get(index)?)? as u32;
        let addr = i32_of(self.get(addr)?)? as u32;
        let len = i32_of(self.get(len)?)? as u32 as u64;
        Ok((h, index, addr, len))
    }

    fn exec_terminator(&mut self, term: &Terminator) -> Step {
        match term {
            Terminator::Jump(c) => {
                let args = self.get_all(&c.args)?;
                self.goto(c.block, args)
            }
            Terminator::Brif { cond, then, else_ } => {
                let target = if i32_of(self.get(*cond)?)? != 0 { then } else { else_ };
                let args = self.get_all(&target.args)?;
                self.goto(target.block, args)
            }
            Terminator::BrTable {
                index,
                default,
                targets,
            } => {
                let i = i32_of(self.get(*index)?)? as u32 as usize;
                let target = targets.get(i).unwrap_or(default);
                let args = self.get_all(&target.args)?;
                self.goto(target.block, args)
            }
            Terminator::Trap => Err(Fault::Trap(TrapCode::Unreachable)),
            Terminator::TrapWith(code) => {
                let code = TrapCode::from_code(i32_of(self.get(*code)?)?);
                Err(Fault::Trap(code.unwrap_or(TrapCode::Unreachable)))
            }
            Terminator::Return(vals) => {
                let vals = self.get_all(vals)?;
                self.do_return(vals)
            }
            Terminator::CallCap { cap, args, ok, .. } => {
                let import = match self.get(*cap)? {
                    Val::Cap(i) => i,
                    other => return invalid(format!("call_cap needs a cap, found {other}")),
                };
                let args = self.get_all(args)?;
                self.call_cap(import, args, *ok)
            }
        }
    }

    fn do_return(&mut self, vals: Vec<Val>) -> Step {
        let top = self.top();
        let sig = &self.m.domains[top.domain].functions[top.func].sig;
        if vals.len() != sig.results.len() || vals.iter().zip(&sig.results).any(|(v, t)| !v.has_type(t)) {
            return invalid(format!("return of {vals:?} from a function returning {sig}"));
        }
        match top.kind {
            Kind::Host => {
                self.frames.pop();
                Ok(Control::Finished(vals))
            }
            Kind::Direct => {
                self.frames.pop();
                let caller = self.top();
                let block = &self.m.domains[caller.domain].functions[caller.func].blocks[caller.block];
                let Some(inst) = block.insts.get(caller.ip) else {
                    return invalid("direct return to a frame that is not at a call");
                };
                self.define(&inst.results, vals)?;
                self.top_mut().ip += 1;
                Ok(Control::Continue)
            }
            Kind::Idc { ok, import, .. } => {
                let callee = top.domain;
                let caller = self.frames[self.frames.len() - 2].domain;
                match self.marshal_results(callee, caller, vals) {
                    Ok(vals) => {
                        self.frames.pop();
                        self.trace(import, Ok(vals.clone()));
                        self.goto(ok, vals)
                    }
                    // Bad results are the callee's fault: it traps at its return.
                    Err(Marshal::CalleeTrap(code)) => Err(Fault::Trap(code)),
                    Err(Marshal::CallFails(code)) => {
                        self.frames.pop();
                        self.fail_call(import, code)
                    }
                    Err(Marshal::Invalid(msg)) => invalid(msg),
                }
            }
        }
    }

    /// Copy `buf` results into the caller's inbox and move regions to the caller;
    /// all checks happen before anything moves.
    fn marshal_results(&mut self, callee: usize, caller: usize, vals: Vec<Val>) -> Result<Vec<Val>, Marshal> {
        let mut seen = Vec::new();
        for v in &vals {
            match *v {
                Val::Buf { ptr, len } => {
                    range_in(self.rt.domains[callee].memory.len(), ptr, 0, len as u64).map_err(Marshal::CalleeTrap)?;
                }
                Val::Region(h) => {
                    self.rt.regions.check(h, callee).map_err(Marshal::CalleeTrap)?;
                    // A region handed back twice is the callee's fault, like one it does not own.
                    if seen.contains(&h.slot) {
                        return Err(Marshal::CalleeTrap(TrapCode::RegionInvalid));
                    }
                    seen.push(h.slot);
                }
                Val::Cap(_) => return Err(Marshal::Invalid("a capability cannot leave its domain".into())),
                _ => {}
            }
        }
        let places = self.inbox_layout(caller, &vals).map_err(Marshal::CallFails)?;
        self.move_values(callee, caller, vals, &places)
            .map_err(Marshal::CallFails)
    }

    /// Where each `buf` of `vals` lands in `receiver`'s inbox.
    fn inbox_layout(&self, receiver: usize, vals: &[Val]) -> Result<Vec<u32>, TrapCode> {
        let inbox = self.m.domains[receiver].inbox;
        let mut pos = 0u64;
        let mut places = Vec::new();
        for v in vals {
            if let Val::Buf { len, .. } = *v {
                let (offset, size) = inbox.map_or((0, 0), |i| (i.offset, i.size));
                if pos + len as u64 > size as u64 {
                    return Err(TrapCode::InboxOverflow);
                }
                places.push(offset + pos as u32);
                pos = align8(pos + len as u64);
            }
        }
        Ok(places)
    }

    /// Copy bufs from `from`'s memory into `to`'s inbox places and transfer regions.
    fn move_values(&mut self, from: usize, to: usize, vals: Vec<Val>, places: &[u32]) -> Result<Vec<Val>, TrapCode> {
        let mut places = places.iter();
        let mut out = Vec::with_capacity(vals.len());
        for v in vals {
            out.push(match v {
                Val::Buf { ptr, len } => {
                    let dst = *places.next().unwrap_or(&0);
                    let src_range = range_in(self.rt.domains[from].memory.len(), ptr, 0, len as u64)?;
                    let bytes = self.rt.domains[from].memory[src_range].to_vec();
                    let mem = &mut self.rt.domains[to].memory;
                    let dst_range = range_in(mem.len(), dst, 0, len as u64)?;
                    mem[dst_range].copy_from_slice(&bytes);
                    Val::Buf { ptr: dst, len }
                }
                Val::Region(h) => Val::Region(self.rt.regions.transfer(h, from, to)?),
                other => other,
            });
        }
        Ok(out)
    }

    fn trace(&mut self, import: u32, outcome: Result<Vec<Val>, TrapCode>) {
        if let Some(log) = self.rt.trace.as_mut() {
            let caller = self.frames.last().map_or(0, |f| f.domain);
            let d = &self.m.domains[caller];
            log.push(IdcEvent {
                caller: d.name.clone(),
                import: d
                    .imports
                    .get(import as usize)
                    .map_or_else(|| format!("#{import}"), |i| i.name.clone()),
                outcome,
            });
        }
    }

    /// The current frame's `call_cap` failed with `code`: go to its failure successor.
    fn fail_call(&mut self, import: u32, code: TrapCode) -> Step {
        self.trace(import, Err(code));
        let top = self.top();
        let block = &self.m.domains[top.domain].functions[top.func].blocks[top.block];
        let Terminator::CallCap { fail, .. } = block.term else {
            return invalid("failure delivered to a block that does not end in call_cap");
        };
        self.goto(fail, vec![Val::I32(code.code())])
    }

    fn call_cap(&mut self, import: u32, args: Vec<Val>, ok: BlockId) -> Step {
        let caller = self.top().domain;
        let dom = &self.m.domains[caller];
        let (Some(entry), Some(imp)) = (
            self.rt.domains[caller].caps.get(import as usize).cloned(),
            dom.imports.get(import as usize),
        ) else {
            return invalid(format!("call_cap through import #{import}, which does not exist"));
        };
        if args.len() != imp.sig.params.len() || args.iter().zip(&imp.sig.params).any(|(a, t)| !a.has_type(t)) {
            return invalid(format!("call_cap `{}` takes {}, given {args:?}", imp.name, imp.sig));
        }
        if entry.revoked {
            return self.fail_call(import, TrapCode::CapRevoked);
        }
        match entry.target {
            CapTarget::Host(h) => {
                let rt = &mut *self.rt;
                let outcome = h.call(&rt.domains[caller].memory, &mut *rt.output, rt.started, &args);
                self.host_outcome(import, ok, outcome)
            }
            CapTarget::Embedder(i) => {
                let rt = &mut *self.rt;
                let Some(f) = rt.host_fns.get(i) else {
                    return invalid(format!("embedder host function #{i} does not exist"));
                };
                let outcome = f.call(&mut HostCall::new(&mut rt.domains[caller].memory), &args);
                self.host_outcome(import, ok, outcome)
            }
            CapTarget::File => {
                let ImportSource::File { name } = &imp.source else {
                    return invalid("file capability bound to another kind of import");
                };
                let Some(Val::Buf { ptr, len }) = args.first().copied() else {
                    return invalid("a file capability takes one buf");
                };
                let rt = &mut *self.rt;
                let outcome =
                    crate::builtins::read_granted_file(&rt.files, name, &mut rt.domains[caller].memory, ptr, len);
                self.host_outcome(import, ok, outcome)
            }
            CapTarget::Restart { domain } => {
                if self.frames.iter().any(|f| f.domain == domain) {
                    return self.fail_call(import, TrapCode::DomainBusy);
                }
                if !self.rt.restart(self.m, domain) {
                    return self.fail_call(import, TrapCode::ResourceLimit);
                }
                self.trace(import, Ok(vec![]));
                self.goto(ok, vec![])
            }
            CapTarget::Func { domain, func } => {
                let target = &self.rt.domains[domain];
                if target.epoch != entry.epoch {
                    return self.fail_call(import, TrapCode::CapRevoked);
                }
                if target.status != DomainStatus::Running {
                    return self.fail_call(import, TrapCode::DomainUnavailable);
                }
                if self.frames.len() >= self.rt.limits.max_call_depth as usize {
                    return self.fail_call(import, TrapCode::CallDepthExceeded);
                }
                // The caller's own arguments must be valid: a bad buffer or a region
                // it does not own is the caller's fault, so the caller traps.
                self.check_outgoing(caller, &args)?;
                let places = match self.inbox_layout(domain, &args) {
                    Ok(p) => p,
                    Err(code) => return self.fail_call(import, code),
                };
                let args = self.move_values(caller, domain, args, &places)?;
                self.enter_function(domain, func, args, Kind::Idc { ok, import })
            }
        }
    }

    /// Where a host call leaves the calling frame: at `ok` with the results, at
    /// its failure successor, trapped, or ending its activation with an exit status.
    fn host_outcome(&mut self, import: u32, ok: BlockId, outcome: Result<Vec<Val>, HostFailure>) -> Step {
        match outcome {
            Ok(vals) => {
                self.trace(import, Ok(vals.clone()));
                self.goto(ok, vals)
            }
            Err(HostFailure::CallerTrap(code)) => Err(Fault::Trap(code)),
            Err(HostFailure::Failed(code)) => self.fail_call(import, code),
            Err(HostFailure::Exit(status)) => {
                self.rt.exit = Some(status);
                Err(Fault::Trap(TrapCode::Exit))
            }
        }
    }

    fn check_outgoing(&self, caller: usize, args: &[Val]) -> Result<(), Fault> {
        let mut seen = Vec::new();
        for a in args {
            match *a {
                Val::Buf { ptr, len } => {
                    range_in(self.rt.domains[caller].memory.len(), ptr, 0, len as u64)?;
                }
                Val::Region(h) => {
                    self.rt.regions.check(h, caller)?;
                    if seen.contains(&h.slot) {
                        return Err(Fault::Trap(TrapCode::RegionInvalid));
                    }
                    seen.push(h.slot);
                }
                Val::Cap(_) => return invalid("a capability cannot leave its domain"),
                _ => {}
            }
        }
        Ok(())
    }

    /// A trap in the top frame: unwind that domain's frames to the nearest IDC
    /// boundary, mark the domain faulted, and resume its caller at the failure
    /// successor (or end the run if the host called it).
    fn unwind(&mut self, code: TrapCode) -> Result<Step, RunError> {
        let top = self.top();
        let d = top.domain;
        let dom = &self.m.domains[d];
        let block = &dom.functions[top.func].blocks[top.block];
        // A frame called by `call` sits on its caller, whose `ip` is the call.
        let direct = self
            .frames
            .iter()
            .rev()
            .take_while(|f| matches!(f.kind, Kind::Direct))
            .count();
        let callers = self.frames.iter().rev().skip(1).take(direct.min(MAX_TRAP_CALLERS));
        let info = TrapInfo {
            code,
            domain: dom.name.clone(),
            function: dom.functions[top.func].name.clone(),
            block: top.block as u32,
            inst: (top.ip < block.insts.len()).then_some(top.ip as u32),
            callers: callers
                .map(|f| CallSite {
                    function: dom.functions[f.func].name.clone(),
                    block: f.block as u32,
                    inst: f.ip as u32,
                })
                .collect(),
        };
        let state = &mut self.rt.domains[d];
        if state.status == DomainStatus::Running {
            state.status = DomainStatus::Faulted;
        }
        state.last_trap = Some(info.clone());
        while let Some(frame) = self.frames.pop() {
            match frame.kind {
                Kind::Direct => continue,
                Kind::Host => break,
                Kind::Idc { import, .. } => return Ok(self.fail_call(import, code)),
            }
        }
        // Reaching the host: an exit (`HostFailure::Exit`) ends the run with its status.
        match self.rt.exit.take() {
            Some(status) if code == TrapCode::Exit => Err(RunError::Exit(status)),
            _ => Err(RunError::Trap(info)),
        }
    }
}

enum Marshal {
    CalleeTrap(TrapCode),
    CallFails(TrapCode),
    Invalid(String),
}
