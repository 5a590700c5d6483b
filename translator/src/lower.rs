//! TRUSTED. Lowering one verified IR function to CLIF, instruction by instruction.
//!
//! Invariants protected:
//! - no emitted instruction can fault or trap: every memory access the verifier did
//!   not prove in bounds is preceded by an explicit check, divisions are guarded,
//!   float-to-int conversions use saturating forms after explicit range checks;
//! - a failed check branches to a cold block that sets its exact site and jumps to
//!   the function's exit for its trap code, which records the trap in the domain's
//!   context and returns its code; every call site propagates a non-zero status;
//! - fuel is spent at function entry and on every branch to a block that is not
//!   after the current one (and not at all when fuel is unlimited); call depth is
//!   checked at every call, the native stack at the entry of every function that
//!   calls (a leaf's frame fits in the margin the runtime keeps below the limit);
//! - memory is reached only as `ctx.mem_base + zext(addr) + offset`; the base is
//!   loaded once per function (it never moves), the length is held in an SSA
//!   variable reloaded after every call, `call_cap` and `memory.grow` (the only
//!   operations that can change it);
//! - globals are reached only as slot `i` of `ctx.globals`, for a verified `i`;
//! - `call_indirect` enters only the code of a table entry's function of its own
//!   domain (`ctx.code[item]`), after checking the index against the table's
//!   length and the entry's signature number against the call's (`SigIds`), so
//!   the callee's native signature is the call's;
//! - with lazy translation, a `call_indirect` whose `ctx.code` entry is still null
//!   first has `capjit_translate` fill it in; a direct call is always direct (its
//!   callee is translated with or before its caller).

use std::collections::HashMap;

use capjit_ir::{
    BinOp, Block as IrBlock, BlockCall as IrBlockCall, Const, ConvOp, Domain, FloatCC as IrFloatCC, Function,
    IntCC as IrIntCC, MemAccess, NumType, Op, ResultTypes, Terminator, TrapCode, Type, UnOp, Value,
};
use capjit_tcb::ctx::*;
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::immediates::{Ieee32, Ieee64};
use cranelift_codegen::ir::{
    self, types, AbiParam, BlockArg, FuncRef, InstBuilder, JumpTableData, MemFlagsData, Signature, StackSlotData,
    StackSlotKind,
};
use cranelift_codegen::isa::CallConv;
use cranelift_frontend::{FunctionBuilder, Variable};

/// The CLIF type a value of an IR type is carried in.
pub fn clif_type(t: &Type) -> ir::Type {
    match t {
        Type::I32 | Type::Cap(_) => types::I32,
        Type::I64 | Type::Region | Type::Buf | Type::FuncRef | Type::ExternRef => types::I64,
        Type::F32 => types::F32,
        Type::F64 => types::F64,
    }
}

fn num_type(t: NumType) -> ir::Type {
    match t {
        NumType::I32 => types::I32,
        NumType::I64 => types::I64,
        NumType::F32 => types::F32,
        NumType::F64 => types::F64,
    }
}

/// Native signature of an IR function: `(ctx, params...) -> (status, results...)`.
pub fn function_signature(sig: &capjit_ir::Signature, call_conv: CallConv) -> Signature {
    let mut s = Signature::new(call_conv);
    s.params.push(AbiParam::new(types::I64));
    s.params.extend(sig.params.iter().map(|t| AbiParam::new(clif_type(t))));
    s.returns.push(AbiParam::new(types::I32));
    s.returns
        .extend(sig.results.iter().map(|t| AbiParam::new(clif_type(t))));
    s
}

/// The runtime helpers, declared once with their ABI in the runtime
/// (`capjit_tcb::helpers::Helper`).
pub use capjit_tcb::helpers::Helper;

/// The helper an operation needs, if any.
pub fn helper_of_op(op: &Op) -> Option<Helper> {
    Some(match op {
        Op::MemoryGrow { .. } => Helper::MemoryGrow,
        Op::MemoryCopy { .. } => Helper::MemoryCopy,
        Op::MemoryFill { .. } => Helper::MemoryFill,
        Op::MemoryInit { .. } => Helper::MemoryInit,
        Op::DataDrop { .. } => Helper::DataDrop,
        Op::TableCopy { .. } => Helper::TableCopy,
        Op::TableGet { .. } => Helper::TableGet,
        Op::TableSet { .. } => Helper::TableSet,
        Op::TableSize { .. } => Helper::TableSize,
        Op::TableGrow { .. } => Helper::TableGrow,
        Op::TableFill { .. } => Helper::TableFill,
        Op::TableInit { .. } => Helper::TableInit,
        Op::ElemDrop { .. } => Helper::ElemDrop,
        Op::RegionNew { .. } => Helper::RegionNew,
        Op::RegionLen { .. } => Helper::RegionLen,
        Op::RegionFree { .. } => Helper::RegionFree,
        Op::RegionLoad { .. } => Helper::RegionLoad,
        Op::RegionStore { .. } => Helper::RegionStore,
        Op::RegionRead { .. } | Op::RegionWrite { .. } => Helper::RegionCopy,
        Op::Const(_)
        | Op::Binary { .. }
        | Op::Unary { .. }
        | Op::Icmp { .. }
        | Op::Fcmp { .. }
        | Op::Select { .. }
        | Op::Convert { .. }
        | Op::Load { .. }
        | Op::Store { .. }
        | Op::MemorySize
        | Op::Call { .. }
        | Op::CallIndirect { .. }
        | Op::GlobalGet { .. }
        | Op::GlobalSet { .. }
        | Op::CapGet { .. }
        | Op::BufMake { .. }
        | Op::BufPtr { .. }
        | Op::BufLen { .. }
        | Op::RefNull { .. }
        | Op::RefIsNull { .. }
        | Op::RefFunc { .. } => return None,
    })
}

/// Numbers for the signatures of functions, from 1 (0 marks a `TableEntry` without
/// code). Two signatures get the same number exactly when they are equal, so
/// `call_indirect` compares one number.
pub struct SigIds(HashMap<capjit_ir::Signature, u64>);

impl SigIds {
    /// A number that no table entry carries (no function has that signature).
    pub const NONE: u64 = u64::MAX;

    /// Every function can reach a table (`ref.func`, `table.set`), so all are numbered.
    pub fn of_functions(m: &capjit_ir::Module) -> SigIds {
        let mut ids = HashMap::new();
        for d in &m.domains {
            for f in &d.functions {
                if !ids.contains_key(&f.sig) {
                    let next = ids.len() as u64 + 1;
                    ids.insert(f.sig.clone(), next);
                }
            }
        }
        SigIds(ids)
    }

    /// The number of `sig`, or `NONE` when no function has it (the numbers
    /// count distinct signatures, so they never reach `NONE`).
    pub fn id(&self, sig: &capjit_ir::Signature) -> u64 {
        self.0.get(sig).copied().unwrap_or(Self::NONE)
    }
}

/// Function references a function body needs: helpers and same-domain callees.
pub struct Refs<'s> {
    /// By `Helper as usize`; `Some` for every helper this function uses.
    pub helpers: [Option<FuncRef>; Helper::ALL.len()],
    /// By function index of the domain; `Some` for every function this one calls.
    pub callees: Vec<Option<FuncRef>>,
    /// The module's signature numbers, for `call_indirect`.
    pub sig_ids: &'s SigIds,
    /// Clamp every checked address and table index after its check (`Config`).
    pub spectre_guards: bool,
    /// Count fuel (`Config::fuel`).
    pub fuel: bool,
    /// Functions may still be untranslated (`Config::lazy`): `call_indirect`
    /// translates a null `ctx.code` entry first.
    pub lazy: bool,
}

impl Refs<'_> {
    fn get(&self, h: Helper) -> FuncRef {
        // `declare_refs` imports every helper the function's operations need.
        self.helpers[h as usize].expect("helper declared for this function")
    }
}

/// Where a trap is recorded: block and instruction (`None` = terminator).
#[derive(Clone, Copy)]
struct Site {
    block: u32,
    inst: Option<u32>,
}

pub struct Lower<'a, 'b> {
    pub b: &'a mut FunctionBuilder<'b>,
    pub d: &'a Domain,
    pub f: &'a Function,
    pub func_index: u32,
    pub exported_data_results: bool,
    pub refs: &'a Refs<'a>,
    /// `proven(block, inst)`: the verifier proved that memory access in bounds.
    pub proven: &'a dyn Fn(usize, usize) -> bool,
    ctx: ir::Value,
    vals: Vec<Option<ir::Value>>,
    blocks: Vec<ir::Block>,
    pending_edges: Vec<(ir::Block, usize, &'a IrBlockCall)>,
    /// By IR value: whether it is a `buf` or a `region` (which IDC must marshal).
    data: Vec<bool>,
    /// The function's one cold exit for a trap status coming back from a call:
    /// `(status, site)` of the call, noted for the trap's callers.
    caller_exit: Option<ir::Block>,
    /// The function's cold exits for its own traps, by `TrapCode::code() - 1`, each
    /// taking the site (`Lower::site`); made at first use, filled by `fill_trap_exits`.
    trap_exits: [Option<ir::Block>; TrapCode::ALL.len()],
    /// The same for a trap code known only at run time: `(code, site)`.
    status_exit: Option<ir::Block>,
    /// `ctx.mem_base`, loaded at entry when the function touches memory.
    mem_base: Option<ir::Value>,
    /// `ctx.mem_len`, loaded at entry and again after whatever can grow the memory.
    mem_len: Option<Variable>,
    /// For functions that call: the call depth at entry (every callee puts it back
    /// before returning), the depth a callee runs at, and whether a call must trap.
    depth: Option<CallDepth>,
    /// `icmp`/`fcmp` widenings to `i32`, removed again when only a `brif` or a
    /// `select` used the comparison (they take the flag itself).
    widenings: Vec<ir::Inst>,
    /// The flag each widened comparison result came from.
    flags: HashMap<ir::Value, ir::Value>,
    /// Every site of the function fits the narrow form (`Lower::site`).
    narrow_sites: bool,
}

#[derive(Clone, Copy)]
struct CallDepth {
    ptr: ir::Value,
    depth: ir::Value,
    deeper: ir::Value,
    too_deep: ir::Value,
}

/// A trap site in one word: `inst << 32 | block`, with `TRAP_AT_TERMINATOR` for a
/// terminator.
fn site_word(site: Site) -> i64 {
    ((site.inst.unwrap_or(TRAP_AT_TERMINATOR) as u64) << 32 | site.block as u64) as i64
}

/// The narrow form of a site, for functions of at most 2^16 blocks of fewer than
/// 2^15 instructions: `inst << 16 | block` in an `i32`, with `0xffff` for a
/// terminator's `inst`, so that an arithmetic shift gives back `inst` and
/// `TRAP_AT_TERMINATOR` alike.
fn narrow_site(site: Site) -> i64 {
    (site.inst.unwrap_or(0xffff) << 16 | site.block) as i32 as i64
}

fn is_data(t: &Type) -> bool {
    matches!(t, Type::Buf | Type::Region)
}

fn trusted() -> MemFlagsData {
    MemFlagsData::trusted()
}

/// Flags for linear-memory accesses: checked (or proven) in bounds, so they cannot
/// trap; alignment unknown.
fn heap() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

impl<'a, 'b> Lower<'a, 'b> {
    pub fn new(
        b: &'a mut FunctionBuilder<'b>,
        d: &'a Domain,
        f: &'a Function,
        func_index: u32,
        exported_data_results: bool,
        refs: &'a Refs<'a>,
        proven: &'a dyn Fn(usize, usize) -> bool,
    ) -> Self {
        let max_value = f
            .blocks
            .iter()
            .flat_map(|bl| {
                bl.params
                    .iter()
                    .map(|p| p.value.0)
                    .chain(bl.insts.iter().flat_map(|i| i.results.iter().map(|d| d.value.0)))
            })
            .max()
            .map_or(0, |m| m as usize + 1);
        Lower {
            b,
            d,
            f,
            func_index,
            exported_data_results,
            refs,
            proven,
            ctx: ir::Value::from_u32(0),
            vals: vec![None; max_value],
            blocks: Vec::new(),
            pending_edges: Vec::new(),
            data: vec![false; max_value],
            caller_exit: None,
            trap_exits: [None; TrapCode::ALL.len()],
            status_exit: None,
            mem_base: None,
            mem_len: None,
            depth: None,
            widenings: Vec::new(),
            flags: HashMap::new(),
            narrow_sites: f.blocks.len() <= 1 << 16 && f.blocks.iter().all(|bl| bl.insts.len() < 1 << 15),
        }
    }

    fn v(&self, v: Value) -> ir::Value {
        // Verified: every use is dominated by its definition, already lowered.
        self.vals[v.0 as usize].expect("verified: value defined before use")
    }

    fn set(&mut self, v: Value, x: ir::Value) {
        self.vals[v.0 as usize] = Some(x);
    }

    fn args(&self, vs: &[Value]) -> Vec<ir::Value> {
        vs.iter().map(|v| self.v(*v)).collect()
    }

    fn block_args(&self, vs: &[Value]) -> Vec<BlockArg> {
        vs.iter().map(|v| BlockArg::Value(self.v(*v))).collect()
    }

    /// Lower the whole function.
    pub fn lower(mut self) {
        let entry = self.b.create_block();
        self.b.append_block_params_for_function_params(entry);
        self.blocks.push(entry);
        for bl in &self.f.blocks[1..] {
            let blk = self.b.create_block();
            for p in &bl.params {
                self.b.append_block_param(blk, clif_type(&p.ty));
            }
            self.blocks.push(blk);
        }
        self.b.switch_to_block(entry);
        let params = self.b.block_params(entry).to_vec();
        self.ctx = params[0];
        for (p, x) in self.f.blocks[0].params.iter().zip(&params[1..]) {
            self.set(p.value, *x);
            self.data[p.value.0 as usize] = is_data(&p.ty);
        }
        let entry_site = Site {
            block: 0,
            inst: (!self.f.blocks[0].insts.is_empty()).then_some(0),
        };
        let ops = || self.f.blocks.iter().flat_map(|bl| &bl.insts).map(|i| &i.op);
        let calls = ops().any(|op| matches!(op, Op::Call { .. } | Op::CallIndirect { .. }));
        let idc = self
            .f
            .blocks
            .iter()
            .any(|bl| matches!(bl.term, Terminator::CallCap { .. }));
        let memory = ops().any(|op| matches!(op, Op::Load { .. } | Op::Store { .. } | Op::MemorySize));
        if calls || idc {
            self.check_stack(entry_site);
        }
        self.spend_fuel(entry_site);
        if memory {
            self.mem_base = Some(self.b.ins().load(types::I64, trusted(), self.ctx, OFF_MEM_BASE));
            let var = self.b.declare_var(types::I64);
            self.mem_len = Some(var);
            self.reload_mem_len();
        }
        if calls {
            let ptr = self.b.ins().load(types::I64, trusted(), self.ctx, OFF_DEPTH);
            let depth = self.b.ins().load(types::I32, trusted(), ptr, 0);
            let max = self.b.ins().load(types::I32, trusted(), self.ctx, OFF_MAX_DEPTH);
            let too_deep = self.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, depth, max);
            let deeper = self.b.ins().iadd_imm_u(depth, 1);
            self.depth = Some(CallDepth {
                ptr,
                depth,
                deeper,
                too_deep,
            });
        }
        for (i, bl) in self.f.blocks.iter().enumerate() {
            if i > 0 {
                self.b.switch_to_block(self.blocks[i]);
                let params = self.b.block_params(self.blocks[i]).to_vec();
                for (p, x) in bl.params.iter().zip(params) {
                    self.set(p.value, x);
                    self.data[p.value.0 as usize] = is_data(&p.ty);
                }
            }
            self.lower_block(i, bl);
        }
        self.fill_caller_exit();
        self.fill_trap_exits();
        self.b.seal_all_blocks();
        self.drop_unused_widenings();
    }

    /// `ctx.mem_len` into the length variable (after anything that can grow memory).
    fn reload_mem_len(&mut self) {
        if let Some(var) = self.mem_len {
            let len = self.b.ins().load(types::I64, trusted(), self.ctx, OFF_MEM_LEN);
            self.b.def_var(var, len);
        }
    }

    /// Remove each widening of a comparison whose result nothing uses.
    fn drop_unused_widenings(&mut self) {
        let func = &mut *self.b.func;
        let mut used = std::collections::HashSet::new();
        for block in func.layout.blocks() {
            for inst in func.layout.block_insts(block) {
                used.extend(func.dfg.inst_values(inst).map(|v| func.dfg.resolve_aliases(v)));
            }
        }
        for &inst in &self.widenings {
            if !used.contains(&func.dfg.first_result(inst)) {
                func.layout.remove_inst(inst);
            }
        }
    }

    fn lower_block(&mut self, bi: usize, bl: &'a IrBlock) {
        for (ii, inst) in bl.insts.iter().enumerate() {
            let site = Site {
                block: bi as u32,
                inst: Some(ii as u32),
            };
            let results = self.lower_op(&inst.op, site, (self.proven)(bi, ii));
            // Verified: every index resolves, and the results have these types.
            let types = inst.op.result_types(self.d);
            for (k, (d, x)) in inst.results.iter().zip(results).enumerate() {
                self.set(d.value, x);
                self.data[d.value.0 as usize] = match types {
                    Some(ResultTypes::Types(ts)) => ts.get(k).is_some_and(is_data),
                    Some(ResultTypes::Cap(_)) | None => false,
                };
            }
        }
        self.lower_terminator(bi, &bl.term);
    }

    // ---- traps ---------------------------------------------------------------

    /// Return `status` with zero results.
    fn return_status(&mut self, status: ir::Value) {
        let mut rets = vec![status];
        for t in &self.f.sig.results {
            let ty = clif_type(t);
            let zero = match ty {
                types::F32 => self.b.ins().f32const(Ieee32::with_bits(0)),
                types::F64 => self.b.ins().f64const(Ieee64::with_bits(0)),
                _ => self.b.ins().iconst(ty, 0),
            };
            rets.push(zero);
        }
        self.b.ins().return_(&rets);
    }

    /// Note `site` (a value of `Lower::site`) as where the function stopped.
    fn record_site(&mut self, site: ir::Value) {
        let func = self.b.ins().iconst(types::I32, self.func_index as i64);
        self.b.ins().store(trusted(), func, self.ctx, OFF_TRAP_FUNC);
        self.store_site(site);
    }

    /// `site` (a value of `Lower::site`) into `trap_block` and `trap_inst`.
    fn store_site(&mut self, site: ir::Value) {
        let (block, inst) = self.site_parts(site);
        self.b.ins().store(trusted(), block, self.ctx, OFF_TRAP_BLOCK);
        self.b.ins().store(trusted(), inst, self.ctx, OFF_TRAP_INST);
    }

    /// A site's block and instruction, as `i32`s.
    fn site_parts(&mut self, site: ir::Value) -> (ir::Value, ir::Value) {
        if self.narrow_sites {
            let block = self.b.ins().band_imm_u(site, 0xffff);
            (block, self.b.ins().sshr_imm_u(site, 16))
        } else {
            let block = self.b.ins().ireduce(types::I32, site);
            let inst = self.b.ins().ushr_imm_u(site, 32);
            (block, self.b.ins().ireduce(types::I32, inst))
        }
    }

    /// A site as one constant: `narrow_site` (an `i32`, a 5-byte move) when the
    /// function allows it, which every function of the real-program suite does,
    /// else `site_word` (an `i64`, a 10-byte move).
    fn site(&mut self, site: Site) -> ir::Value {
        if self.narrow_sites {
            self.b.ins().iconst(types::I32, narrow_site(site))
        } else {
            self.b.ins().iconst(types::I64, site_word(site))
        }
    }

    fn site_type(&self) -> ir::Type {
        if self.narrow_sites {
            types::I32
        } else {
            types::I64
        }
    }

    /// The cold exit for traps with `code`, taking the site.
    fn trap_exit(&mut self, code: TrapCode) -> ir::Block {
        let k = code.code() as usize - 1;
        if let Some(exit) = self.trap_exits[k] {
            return exit;
        }
        let exit = self.b.create_block();
        self.b.set_cold_block(exit);
        self.b.append_block_param(exit, self.site_type());
        self.trap_exits[k] = Some(exit);
        exit
    }

    /// The cold exit for a trap code known at run time, taking `(code, site)`.
    fn status_exit(&mut self) -> ir::Block {
        if let Some(exit) = self.status_exit {
            return exit;
        }
        let exit = self.b.create_block();
        self.b.set_cold_block(exit);
        self.b.append_block_param(exit, types::I32);
        self.b.append_block_param(exit, self.site_type());
        self.status_exit = Some(exit);
        exit
    }

    /// Each exit adds its code and goes on to the status exit, which records code
    /// and site and returns the code.
    fn fill_trap_exits(&mut self) {
        let exits = self
            .trap_exits
            .iter()
            .enumerate()
            .filter_map(|(k, e)| Some((TrapCode::ALL[k], (*e)?)));
        for (code, exit) in exits.collect::<Vec<_>>() {
            self.b.switch_to_block(exit);
            let site = self.b.block_params(exit)[0];
            let code = self.b.ins().iconst(types::I32, code.code() as i64);
            let status_exit = self.status_exit();
            self.b
                .ins()
                .jump(status_exit, &[BlockArg::Value(code), BlockArg::Value(site)]);
        }
        if let Some(exit) = self.status_exit {
            self.b.switch_to_block(exit);
            let (code, site) = (self.b.block_params(exit)[0], self.b.block_params(exit)[1]);
            self.trap_with(code, site);
        }
    }

    /// In the current (cold) block: record the trap and return its code.
    fn trap_with(&mut self, code: ir::Value, site: ir::Value) {
        self.b.ins().store(trusted(), code, self.ctx, OFF_TRAP_CODE);
        self.record_site(site);
        self.return_status(code);
    }

    /// End the current block with a trap whose code is known at run time.
    fn emit_trap(&mut self, code: ir::Value, site: Site) {
        let site = self.site(site);
        let exit = self.status_exit();
        self.b.ins().jump(exit, &[BlockArg::Value(code), BlockArg::Value(site)]);
    }

    /// Trap with `code` when `cond` is non-zero; continue in a fresh block otherwise.
    /// The site is set in a cold block of its own on the way to the shared exit:
    /// branching to the exit with the site as an argument would put the constant
    /// on the hot path and split the edge, which measured slower to compile and
    /// larger.
    fn trap_if(&mut self, cond: ir::Value, code: TrapCode, site: Site) {
        let exit = self.trap_exit(code);
        let cold = self.b.create_block();
        self.b.set_cold_block(cold);
        let cont = self.b.create_block();
        self.b.ins().brif(cond, cold, &[], cont, &[]);
        self.b.switch_to_block(cold);
        let site = self.site(site);
        self.b.ins().jump(exit, &[BlockArg::Value(site)]);
        self.b.switch_to_block(cont);
    }

    /// Trap with the dynamic code `status` when it is non-zero.
    fn trap_on_status(&mut self, status: ir::Value, site: Site) {
        let cold = self.b.create_block();
        self.b.set_cold_block(cold);
        let cont = self.b.create_block();
        self.b.ins().brif(status, cold, &[], cont, &[]);
        self.b.switch_to_block(cold);
        self.emit_trap(status, site);
        self.b.switch_to_block(cont);
    }

    fn spend_fuel(&mut self, site: Site) {
        if !self.refs.fuel {
            return;
        }
        let fuel = self.b.ins().load(types::I64, trusted(), self.ctx, OFF_FUEL);
        let empty = self.b.ins().icmp_imm_s(IntCC::Equal, fuel, 0);
        self.trap_if(empty, TrapCode::FuelExhausted, site);
        let left = self.b.ins().iadd_imm_s(fuel, -1);
        self.b.ins().store(trusted(), left, self.ctx, OFF_FUEL);
    }

    /// The native stack must not go below the runtime's limit (which keeps room for
    /// the largest frame of the module below it).
    fn check_stack(&mut self, site: Site) {
        let sp = self.b.ins().get_stack_pointer(types::I64);
        let limit = self.b.ins().load(types::I64, trusted(), self.ctx, OFF_STACK_LIMIT);
        let low = self.b.ins().icmp(IntCC::UnsignedLessThan, sp, limit);
        self.trap_if(low, TrapCode::CallDepthExceeded, site);
    }

    // ---- memory --------------------------------------------------------------

    /// The native address of `[addr + offset, addr + offset + len)`, checked unless
    /// proven, as a value and an immediate offset for the access.
    fn heap_addr(&mut self, addr: ir::Value, offset: u32, len: u32, proven: bool, site: Site) -> (ir::Value, i32) {
        // Set at entry: the function has a memory access.
        let (base, var) = (
            self.mem_base.expect("memory loaded"),
            self.mem_len.expect("memory loaded"),
        );
        let addr = self.b.ins().uextend(types::I64, addr);
        if let (true, Ok(offset)) = (proven, i32::try_from(offset)) {
            // No check, no clamp: the access itself adds the offset.
            return (self.b.ins().iadd(base, addr), offset);
        }
        let ea = if offset != 0 {
            self.b.ins().iadd_imm_u(addr, offset as i64)
        } else {
            addr
        };
        let p = self.b.ins().iadd(base, ea);
        if proven {
            return (p, 0);
        }
        let mem_len = self.b.use_var(var);
        // From `addr`, not `ea`: one constant, which Cranelift folds into one `lea`.
        let end = self.b.ins().iadd_imm_u(addr, offset as i64 + len as i64);
        let out = self.b.ins().icmp(IntCC::UnsignedGreaterThan, end, mem_len);
        self.trap_if(out, TrapCode::OutOfBounds, site);
        (self.spectre_clamp(out, base, p), 0)
    }

    /// With Spectre guards on: `x`, or `safe` when `out` (the failed check) holds,
    /// chosen by a conditional move the CPU does not speculate past, so a
    /// mispredicted check reads at the start of the same memory or table, never
    /// out of bounds.
    fn spectre_clamp(&mut self, out: ir::Value, safe: ir::Value, x: ir::Value) -> ir::Value {
        if !self.refs.spectre_guards {
            return x;
        }
        self.b.ins().select_spectre_guard(out, safe, x)
    }

    fn load(&mut self, a: MemAccess, (p, off): (ir::Value, i32)) -> ir::Value {
        let ty = num_type(a.ty);
        let ins = self.b.ins();
        match (a.bytes, a.signed, a.ty) {
            (1, false, _) => ins.uload8(ty, heap(), p, off),
            (1, true, _) => ins.sload8(ty, heap(), p, off),
            (2, false, _) => ins.uload16(ty, heap(), p, off),
            (2, true, _) => ins.sload16(ty, heap(), p, off),
            (4, false, NumType::I64) => ins.uload32(heap(), p, off),
            (4, true, NumType::I64) => ins.sload32(heap(), p, off),
            _ => ins.load(ty, heap(), p, off),
        }
    }

    fn store(&mut self, a: MemAccess, v: ir::Value, (p, off): (ir::Value, i32)) {
        let ins = self.b.ins();
        match (a.bytes, a.ty) {
            (1, _) => ins.istore8(heap(), v, p, off),
            (2, _) => ins.istore16(heap(), v, p, off),
            (4, NumType::I64) => ins.istore32(heap(), v, p, off),
            _ => ins.store(heap(), v, p, off),
        };
    }

    /// A comparison's flag as the IR's `i32`. A `brif` or `select` on the result
    /// uses the flag instead (`flag_or`), and the widening goes when nothing else
    /// uses it.
    fn widen(&mut self, flag: ir::Value) -> ir::Value {
        let wide = self.b.ins().uextend(types::I32, flag);
        let inst = self.b.func.dfg.value_def(wide).unwrap_inst();
        self.widenings.push(inst);
        self.flags.insert(wide, flag);
        wide
    }

    /// A condition: the comparison's flag if it came from one, else the value.
    fn flag_or(&self, cond: Value) -> ir::Value {
        let c = self.v(cond);
        self.flags.get(&c).copied().unwrap_or(c)
    }

    /// A helper's result from `ctx.scratch[0]`.
    fn scratch(&mut self) -> ir::Value {
        self.b.ins().load(types::I64, trusted(), self.ctx, OFF_SCRATCH)
    }

    /// Call a status-returning helper and trap on a non-zero status.
    fn helper(&mut self, f: FuncRef, args: &[ir::Value], site: Site) {
        let mut all = vec![self.ctx];
        all.extend_from_slice(args);
        let call = self.b.ins().call(f, &all);
        let status = self.b.inst_results(call)[0];
        self.trap_on_status(status, site);
    }

    /// A table operation's status-returning helper, called with the table and
    /// segment `numbers`, then the `operands`; no results (`table.get`'s is in scratch).
    fn table_helper(&mut self, op: &Op, numbers: &[u32], operands: &[Value], site: Site) -> Vec<ir::Value> {
        let mut args: Vec<ir::Value> = numbers
            .iter()
            .map(|n| self.b.ins().iconst(types::I32, *n as i64))
            .collect();
        args.extend(self.args(operands));
        // Every table operation but `call_indirect` has a helper.
        let f = self.refs.get(helper_of_op(op).expect("table operations have helpers"));
        self.helper(f, &args, site);
        vec![]
    }

    /// A 64-bit slot holding the bits of `v` (zero-extended).
    fn word_of(&mut self, v: ir::Value) -> ir::Value {
        word_of(self.b, v)
    }

    /// The value of CLIF type `ty` held in the low bits of a 64-bit word.
    fn value_of_word(&mut self, ty: ir::Type, w: ir::Value) -> ir::Value {
        match ty {
            types::I32 => self.b.ins().ireduce(types::I32, w),
            types::F32 => {
                let i = self.b.ins().ireduce(types::I32, w);
                self.b.ins().bitcast(types::F32, MemFlagsData::new(), i)
            }
            types::F64 => self.b.ins().bitcast(types::F64, MemFlagsData::new(), w),
            _ => w,
        }
    }

    // ---- operations ----------------------------------------------------------

    fn lower_op(&mut self, op: &Op, site: Site, proven: bool) -> Vec<ir::Value> {
        let one = |x: ir::Value| vec![x];
        match op {
            Op::GlobalGet { global } => {
                // Verified: the global exists.
                let ty = num_type(self.d.globals[*global as usize].ty);
                let (p, offset) = self.global_addr(*global);
                one(self.b.ins().load(ty, trusted(), p, offset))
            }
            Op::GlobalSet { global, value } => {
                // Verified: the global exists, is mutable, and `value` has its type.
                let x = self.v(*value);
                let (p, offset) = self.global_addr(*global);
                self.b.ins().store(trusted(), x, p, offset);
                vec![]
            }
            Op::CallIndirect {
                table,
                sig,
                index,
                args,
            } => self.indirect_call(*table, sig, *index, args, site),
            Op::Const(c) => one(match *c {
                Const::I32(x) => self.b.ins().iconst(types::I32, x as i64),
                Const::I64(x) => self.b.ins().iconst(types::I64, x),
                Const::F32(bits) => self.b.ins().f32const(Ieee32::with_bits(bits)),
                Const::F64(bits) => self.b.ins().f64const(Ieee64::with_bits(bits)),
            }),
            Op::Binary { op, ty, a, b } => {
                let (x, y) = (self.v(*a), self.v(*b));
                one(self.binary(*op, *ty, x, y, site))
            }
            Op::Unary { op, ty, a } => {
                let x = self.v(*a);
                one(self.unary(*op, *ty, x))
            }
            Op::Icmp { cc, a, b, .. } => {
                let (x, y) = (self.v(*a), self.v(*b));
                let c = self.b.ins().icmp(int_cc(*cc), x, y);
                one(self.widen(c))
            }
            Op::Fcmp { cc, a, b, .. } => {
                let (x, y) = (self.v(*a), self.v(*b));
                let c = self.b.ins().fcmp(float_cc(*cc), x, y);
                one(self.widen(c))
            }
            Op::Select { cond, a, b, .. } => {
                let (c, x, y) = (self.flag_or(*cond), self.v(*a), self.v(*b));
                one(self.b.ins().select(c, x, y))
            }
            Op::Convert { op, from, to, a } => {
                let x = self.v(*a);
                one(self.convert(*op, *from, *to, x, site))
            }
            Op::Load { access, addr, offset } => {
                let p = self.heap_addr(self.v(*addr), *offset, access.bytes as u32, proven, site);
                one(self.load(*access, p))
            }
            Op::Store {
                access,
                value,
                addr,
                offset,
            } => {
                let p = self.heap_addr(self.v(*addr), *offset, access.bytes as u32, proven, site);
                self.store(*access, self.v(*value), p);
                vec![]
            }
            Op::MemorySize => {
                // Set at entry: the function uses memory.
                let len = self.b.use_var(self.mem_len.expect("memory loaded"));
                let pages = self.b.ins().ushr_imm_u(len, 16);
                one(self.b.ins().ireduce(types::I32, pages))
            }
            Op::MemoryGrow { delta } => {
                let args = [self.ctx, self.v(*delta)];
                let call = self.b.ins().call(self.refs.get(Helper::MemoryGrow), &args);
                let result = self.b.inst_results(call)[0];
                self.reload_mem_len();
                one(result)
            }
            Op::MemoryCopy { dst, src, len } => {
                let args = self.args(&[*dst, *src, *len]);
                self.helper(self.refs.get(Helper::MemoryCopy), &args, site);
                vec![]
            }
            Op::MemoryFill { dst, byte, len } => {
                let args = self.args(&[*dst, *byte, *len]);
                self.helper(self.refs.get(Helper::MemoryFill), &args, site);
                vec![]
            }
            Op::MemoryInit { segment, dst, src, len } => {
                let seg = self.b.ins().iconst(types::I32, *segment as i64);
                let mut args = vec![seg];
                args.extend(self.args(&[*dst, *src, *len]));
                self.helper(self.refs.get(Helper::MemoryInit), &args, site);
                vec![]
            }
            Op::DataDrop { segment } => {
                let seg = self.b.ins().iconst(types::I32, *segment as i64);
                self.helper(self.refs.get(Helper::DataDrop), &[seg], site);
                vec![]
            }
            // REF_NULL is all ones: -1 as i64.
            Op::RefNull { .. } => one(self.b.ins().iconst(types::I64, REF_NULL as i64)),
            Op::RefIsNull { a } => {
                let a = self.v(*a);
                let null = self.b.ins().icmp_imm_s(IntCC::Equal, a, -1);
                one(self.b.ins().uextend(types::I32, null))
            }
            Op::RefFunc { func } => one(self.b.ins().iconst(types::I64, *func as i64)),
            Op::TableSize { table } | Op::TableGrow { table, .. } => {
                // The two helpers that return their result and never trap.
                let mut args = vec![self.ctx, self.b.ins().iconst(types::I32, *table as i64)];
                if let Op::TableGrow { init, delta, .. } = op {
                    args.extend(self.args(&[*init, *delta]));
                }
                let call = self
                    .b
                    .ins()
                    .call(self.refs.get(helper_of_op(op).expect("a helper")), &args);
                one(self.b.inst_results(call)[0])
            }
            Op::TableGet { table, index } => {
                self.table_helper(op, &[*table], &[*index], site);
                one(self.scratch())
            }
            Op::TableSet { table, index, value } => self.table_helper(op, &[*table], &[*index, *value], site),
            Op::TableFill { table, dst, value, len } => self.table_helper(op, &[*table], &[*dst, *value, *len], site),
            Op::TableInit {
                table,
                segment,
                dst,
                src,
                len,
            } => self.table_helper(op, &[*table, *segment], &[*dst, *src, *len], site),
            Op::TableCopy {
                dst_table,
                src_table,
                dst,
                src,
                len,
            } => self.table_helper(op, &[*dst_table, *src_table], &[*dst, *src, *len], site),
            Op::ElemDrop { segment } => self.table_helper(op, &[*segment], &[], site),
            Op::Call { func, args } => self.direct_call(*func as usize, args, site),
            Op::CapGet { import } => one(self.b.ins().iconst(types::I32, *import as i64)),
            Op::BufMake { ptr, len } => {
                let (ptr, len) = (self.v(*ptr), self.v(*len));
                let p = self.b.ins().uextend(types::I64, ptr);
                let l = self.b.ins().uextend(types::I64, len);
                let hi = self.b.ins().ishl_imm_u(l, 32);
                one(self.b.ins().bor(p, hi))
            }
            Op::BufPtr { buf } => {
                let w = self.v(*buf);
                one(self.b.ins().ireduce(types::I32, w))
            }
            Op::BufLen { buf } => {
                let w = self.v(*buf);
                let hi = self.b.ins().ushr_imm_u(w, 32);
                one(self.b.ins().ireduce(types::I32, hi))
            }
            Op::RegionNew { len } => {
                self.helper(self.refs.get(Helper::RegionNew), &[self.v(*len)], site);
                one(self.scratch())
            }
            Op::RegionLen { region } => {
                self.helper(self.refs.get(Helper::RegionLen), &[self.v(*region)], site);
                let w = self.scratch();
                one(self.b.ins().ireduce(types::I32, w))
            }
            Op::RegionFree { region } => {
                self.helper(self.refs.get(Helper::RegionFree), &[self.v(*region)], site);
                vec![]
            }
            Op::RegionLoad { access, region, index } => {
                let bytes = self.b.ins().iconst(types::I32, access.bytes as i64);
                let signed = self.b.ins().iconst(types::I32, access.signed as i64);
                self.helper(
                    self.refs.get(Helper::RegionLoad),
                    &[self.v(*region), self.v(*index), bytes, signed],
                    site,
                );
                let w = self.scratch();
                one(self.value_of_word(num_type(access.ty), w))
            }
            Op::RegionStore {
                access,
                value,
                region,
                index,
            } => {
                let bytes = self.b.ins().iconst(types::I32, access.bytes as i64);
                let bits = self.word_of(self.v(*value));
                self.helper(
                    self.refs.get(Helper::RegionStore),
                    &[self.v(*region), self.v(*index), bytes, bits],
                    site,
                );
                vec![]
            }
            Op::RegionRead {
                region,
                index,
                addr,
                len,
            }
            | Op::RegionWrite {
                region,
                index,
                addr,
                len,
            } => {
                let to_memory = self
                    .b
                    .ins()
                    .iconst(types::I32, matches!(op, Op::RegionRead { .. }) as i64);
                let mut args = self.args(&[*region, *index, *addr, *len]);
                args.push(to_memory);
                self.helper(self.refs.get(Helper::RegionCopy), &args, site);
                vec![]
            }
        }
    }

    fn binary(&mut self, op: BinOp, ty: NumType, x: ir::Value, y: ir::Value, site: Site) -> ir::Value {
        let t = num_type(ty);
        match op {
            BinOp::Iadd => self.b.ins().iadd(x, y),
            BinOp::Isub => self.b.ins().isub(x, y),
            BinOp::Imul => self.b.ins().imul(x, y),
            BinOp::Band => self.b.ins().band(x, y),
            BinOp::Bor => self.b.ins().bor(x, y),
            BinOp::Bxor => self.b.ins().bxor(x, y),
            BinOp::Ishl => self.b.ins().ishl(x, y),
            BinOp::Ushr => self.b.ins().ushr(x, y),
            BinOp::Sshr => self.b.ins().sshr(x, y),
            BinOp::Rotl => self.b.ins().rotl(x, y),
            BinOp::Rotr => self.b.ins().rotr(x, y),
            BinOp::Sdiv | BinOp::Udiv | BinOp::Srem | BinOp::Urem => {
                let zero = self.b.ins().icmp_imm_s(IntCC::Equal, y, 0);
                self.trap_if(zero, TrapCode::IntDivideByZero, site);
                let min = if t == types::I32 { i32::MIN as i64 } else { i64::MIN };
                match op {
                    BinOp::Sdiv => {
                        let is_min = self.b.ins().icmp_imm_s(IntCC::Equal, x, min);
                        let is_neg1 = self.b.ins().icmp_imm_s(IntCC::Equal, y, -1);
                        let overflow = self.b.ins().band(is_min, is_neg1);
                        self.trap_if(overflow, TrapCode::IntOverflow, site);
                        self.b.ins().sdiv(x, y)
                    }
                    BinOp::Srem => {
                        // x % -1 is 0 for every x; divide by 1 instead so MIN % -1 cannot fault.
                        let is_neg1 = self.b.ins().icmp_imm_s(IntCC::Equal, y, -1);
                        let one = self.b.ins().iconst(t, 1);
                        let safe = self.b.ins().select(is_neg1, one, y);
                        self.b.ins().srem(x, safe)
                    }
                    BinOp::Udiv => self.b.ins().udiv(x, y),
                    _ => self.b.ins().urem(x, y),
                }
            }
            BinOp::Fadd => self.b.ins().fadd(x, y),
            BinOp::Fsub => self.b.ins().fsub(x, y),
            BinOp::Fmul => self.b.ins().fmul(x, y),
            BinOp::Fdiv => self.b.ins().fdiv(x, y),
            BinOp::Fmin => self.b.ins().fmin(x, y),
            BinOp::Fmax => self.b.ins().fmax(x, y),
            BinOp::Fcopysign => self.b.ins().fcopysign(x, y),
        }
    }

    fn unary(&mut self, op: UnOp, ty: NumType, x: ir::Value) -> ir::Value {
        let t = num_type(ty);
        match op {
            UnOp::Clz => self.b.ins().clz(x),
            UnOp::Ctz => self.b.ins().ctz(x),
            UnOp::Popcnt => self.b.ins().popcnt(x),
            UnOp::Sext8 | UnOp::Sext16 | UnOp::Sext32 => {
                let narrow = match op {
                    UnOp::Sext8 => types::I8,
                    UnOp::Sext16 => types::I16,
                    _ => types::I32,
                };
                let r = self.b.ins().ireduce(narrow, x);
                self.b.ins().sextend(t, r)
            }
            UnOp::Fneg => self.b.ins().fneg(x),
            UnOp::Fabs => self.b.ins().fabs(x),
            UnOp::Fsqrt => self.b.ins().sqrt(x),
            UnOp::Fceil => self.b.ins().ceil(x),
            UnOp::Ffloor => self.b.ins().floor(x),
            UnOp::Ftrunc => self.b.ins().trunc(x),
            UnOp::Fnearest => self.b.ins().nearest(x),
        }
    }

    fn convert(&mut self, op: ConvOp, from: NumType, to: NumType, x: ir::Value, site: Site) -> ir::Value {
        let t = num_type(to);
        match op {
            ConvOp::Wrap => self.b.ins().ireduce(types::I32, x),
            ConvOp::Uextend => self.b.ins().uextend(types::I64, x),
            ConvOp::Sextend => self.b.ins().sextend(types::I64, x),
            ConvOp::FtoSint | ConvOp::FtoUint => {
                // NaN is `bad_conversion`; a value whose truncation does not fit is
                // `int_overflow`. Bounds are exclusive and exact in f64.
                let wide = if from == NumType::F32 {
                    self.b.ins().fpromote(types::F64, x)
                } else {
                    x
                };
                let nan = self.b.ins().fcmp(FloatCC::Unordered, wide, wide);
                self.trap_if(nan, TrapCode::BadConversion, site);
                let (lo, hi) = match (op, to) {
                    (ConvOp::FtoSint, NumType::I32) => (-2147483649.0, 2147483648.0),
                    (ConvOp::FtoSint, _) => (-9223372036854777856.0, 9223372036854775808.0),
                    (_, NumType::I32) => (-1.0, 4294967296.0),
                    _ => (-1.0, 18446744073709551616.0),
                };
                let lo = self.b.ins().f64const(lo);
                let hi = self.b.ins().f64const(hi);
                let below = self.b.ins().fcmp(FloatCC::LessThanOrEqual, wide, lo);
                let above = self.b.ins().fcmp(FloatCC::GreaterThanOrEqual, wide, hi);
                let out = self.b.ins().bor(below, above);
                self.trap_if(out, TrapCode::IntOverflow, site);
                if op == ConvOp::FtoSint {
                    self.b.ins().fcvt_to_sint_sat(t, x)
                } else {
                    self.b.ins().fcvt_to_uint_sat(t, x)
                }
            }
            ConvOp::FtoSintSat => self.b.ins().fcvt_to_sint_sat(t, x),
            ConvOp::FtoUintSat => self.b.ins().fcvt_to_uint_sat(t, x),
            ConvOp::SintToF => self.b.ins().fcvt_from_sint(t, x),
            ConvOp::UintToF => self.b.ins().fcvt_from_uint(t, x),
            ConvOp::Promote => self.b.ins().fpromote(types::F64, x),
            ConvOp::Demote => self.b.ins().fdemote(types::F32, x),
            ConvOp::Bitcast => self.b.ins().bitcast(t, MemFlagsData::new(), x),
        }
    }

    /// `call`: depth check, the call, status propagation.
    fn direct_call(&mut self, func: usize, args: &[Value], site: Site) -> Vec<ir::Value> {
        let mut all = vec![self.ctx];
        all.extend(self.args(args));
        // Verified: the callee exists; `declare_refs` imported every callee (all
        // are translated with or before their callers).
        let callee = self.refs.callees[func].expect("verified: callee declared");
        self.counted_call(site, |b| b.ins().call(callee, &all))
    }

    /// The native code of function `index` (an `i64`: a table entry's function of
    /// this domain) from `ctx.code`; with lazy translation, a null entry is
    /// translated first.
    fn code_of(&mut self, index: ir::Value, site: Site) -> ir::Value {
        let codes = self.b.ins().load(types::I64, trusted(), self.ctx, OFF_CODE);
        let offset = self.b.ins().imul_imm_u(index, 8);
        let slot = self.b.ins().iadd(codes, offset);
        let code = self.b.ins().load(types::I64, trusted(), slot, 0);
        if !self.refs.lazy {
            return code;
        }
        let cold = self.b.create_block();
        self.b.set_cold_block(cold);
        let cont = self.b.create_block();
        let code_param = self.b.append_block_param(cont, types::I64);
        self.b.ins().brif(code, cont, &[BlockArg::Value(code)], cold, &[]);
        self.b.switch_to_block(cold);
        let func = self.b.ins().ireduce(types::I32, index);
        self.helper(self.refs.get(Helper::Translate), &[func], site);
        let translated = self.b.ins().load(types::I64, trusted(), slot, 0);
        self.b.ins().jump(cont, &[BlockArg::Value(translated)]);
        self.b.switch_to_block(cont);
        code_param
    }

    /// `call_indirect`: the entry of (funcref) table `table` must exist, have code
    /// and carry the call's signature; then the same as `call` to the entry's code.
    fn indirect_call(
        &mut self,
        table: u32,
        sig: &capjit_ir::Signature,
        index: Value,
        args: &[Value],
        site: Site,
    ) -> Vec<ir::Value> {
        let idx = self.v(index);
        let idx = self.b.ins().uextend(types::I64, idx);
        // Verified: the table exists, so its view is inside `ctx.tables`.
        let views = self.b.ins().load(types::I64, trusted(), self.ctx, OFF_TABLES);
        let view = table as i32 * TABLE_VIEW_SIZE;
        let len = self.b.ins().load(types::I64, trusted(), views, view + OFF_VIEW_LEN);
        let out = self.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, idx, len);
        self.trap_if(out, TrapCode::TableOutOfBounds, site);
        let offset = self.b.ins().imul_imm_u(idx, TABLE_ENTRY_SIZE);
        let zero = self.b.ins().iconst(types::I64, 0);
        let offset = self.spectre_clamp(out, zero, offset);
        let base = self.b.ins().load(types::I64, trusted(), views, view + OFF_VIEW_BASE);
        let entry = self.b.ins().iadd(base, offset);
        let have = self.b.ins().load(types::I64, trusted(), entry, OFF_ENTRY_SIG);
        let empty = self.b.ins().icmp_imm_u(IntCC::Equal, have, 0);
        self.trap_if(empty, TrapCode::IndirectCallNull, site);
        let want = self.refs.sig_ids.id(sig);
        let wrong = self.b.ins().icmp_imm_u(IntCC::NotEqual, have, want as i64);
        self.trap_if(wrong, TrapCode::IndirectCallType, site);
        let item = self.b.ins().load(types::I64, trusted(), entry, OFF_ENTRY_ITEM);
        let code = self.code_of(item, site);
        let sig_ref = self
            .b
            .import_signature(function_signature(sig, self.b.func.signature.call_conv));
        let mut all = vec![self.ctx];
        all.extend(self.args(args));
        self.counted_call(site, |b| b.ins().call_indirect(sig_ref, code, &all))
    }

    /// A call within the domain (`call`, `call_indirect`): the depth check and
    /// count around it, and a non-zero status passed up. Returns the callee's results.
    fn counted_call(&mut self, site: Site, call: impl FnOnce(&mut FunctionBuilder) -> ir::Inst) -> Vec<ir::Value> {
        // Set at entry: the function calls.
        let d = self.depth.expect("call depth loaded");
        self.trap_if(d.too_deep, TrapCode::CallDepthExceeded, site);
        self.b.ins().store(trusted(), d.deeper, d.ptr, 0);
        let call = call(self.b);
        let results = self.b.inst_results(call).to_vec();
        self.b.ins().store(trusted(), d.depth, d.ptr, 0);
        self.reload_mem_len();
        // A non-zero status: the callee recorded its trap; note this call and pass
        // the status up.
        let exit = self.caller_exit();
        let cont = self.b.create_block();
        let at = self.site(site);
        let args = [results[0], at].map(BlockArg::Value);
        self.b.ins().brif(results[0], exit, &args, cont, &[]);
        self.b.switch_to_block(cont);
        results[1..].to_vec()
    }

    /// The cold block calls jump to with a non-zero status, `(status, site)`: one
    /// per function, made at its first call and filled by
    /// `fill_caller_exit` once the body is done.
    fn caller_exit(&mut self) -> ir::Block {
        if let Some(exit) = self.caller_exit {
            return exit;
        }
        let exit = self.b.create_block();
        self.b.set_cold_block(exit);
        self.b.append_block_param(exit, types::I32);
        self.b.append_block_param(exit, self.site_type());
        self.caller_exit = Some(exit);
        exit
    }

    /// The caller exit tells the runtime where the call was (`capjit_trap_caller`)
    /// and returns the status.
    fn fill_caller_exit(&mut self) {
        let Some(exit) = self.caller_exit else { return };
        self.b.switch_to_block(exit);
        let params = self.b.block_params(exit).to_vec();
        let func = self.b.ins().iconst(types::I32, self.func_index as i64);
        let (block, inst) = self.site_parts(params[1]);
        let args = [self.ctx, func, block, inst];
        self.b.ins().call(self.refs.get(Helper::TrapCaller), &args);
        self.return_status(params[0]);
    }

    /// The address of global `global`'s slot.
    fn global_addr(&mut self, global: u32) -> (ir::Value, i32) {
        let base = self.b.ins().load(types::I64, trusted(), self.ctx, OFF_GLOBALS);
        match i32::try_from(8 * global as u64) {
            Ok(offset) => (base, offset),
            Err(_) => (self.b.ins().iadd_imm_u(base, 8 * global as i64), 0),
        }
    }

    // ---- control flow --------------------------------------------------------

    /// A jump along an IR edge from block `from`, spending fuel when it goes back.
    fn jump_edge(&mut self, from: usize, target: usize, args: Vec<BlockArg>) {
        if target <= from {
            self.spend_fuel(Site {
                block: from as u32,
                inst: None,
            });
        }
        self.b.ins().jump(self.blocks[target], &args);
    }

    /// A fresh block that will take the edge `from -> call` (used where a branch
    /// needs a block without arguments, or fuel on one side only). It is filled by
    /// `fill_edge_blocks` once the current block is terminated.
    fn edge_block(&mut self, from: usize, call: &'a IrBlockCall) -> ir::Block {
        let blk = self.b.create_block();
        self.pending_edges.push((blk, from, call));
        blk
    }

    fn fill_edge_blocks(&mut self) {
        for (blk, from, call) in std::mem::take(&mut self.pending_edges) {
            self.b.switch_to_block(blk);
            let args = self.block_args(&call.args);
            self.jump_edge(from, call.block.0 as usize, args);
        }
    }

    fn lower_terminator(&mut self, bi: usize, term: &'a Terminator) {
        let site = Site {
            block: bi as u32,
            inst: None,
        };
        match term {
            Terminator::Jump(c) => {
                let args = self.block_args(&c.args);
                self.jump_edge(bi, c.block.0 as usize, args);
            }
            Terminator::Brif { cond, then, else_ } => {
                let c = self.flag_or(*cond);
                let (t, ta) = self.direct_or_edge(bi, then);
                let (e, ea) = self.direct_or_edge(bi, else_);
                self.b.ins().brif(c, t, &ta, e, &ea);
            }
            Terminator::BrTable {
                index,
                default,
                targets,
            } => {
                let idx = self.v(*index);
                let def = self.edge_block(bi, default);
                let entries: Vec<ir::Block> = targets.iter().map(|t| self.edge_block(bi, t)).collect();
                let pool = &mut self.b.func.dfg.value_lists;
                let def_call = ir::BlockCall::new(def, [], pool);
                let calls: Vec<ir::BlockCall> = entries.iter().map(|b| ir::BlockCall::new(*b, [], pool)).collect();
                let jt = self.b.create_jump_table(JumpTableData::new(def_call, &calls));
                self.b.ins().br_table(idx, jt);
            }
            Terminator::Return(vals) => {
                if self.exported_data_results {
                    // Where a bad `buf` or `region` result would be blamed.
                    let site = self.site(site);
                    self.record_site(site);
                }
                let mut rets = vec![self.b.ins().iconst(types::I32, 0)];
                rets.extend(self.args(vals));
                self.b.ins().return_(&rets);
            }
            Terminator::Trap => {
                let site = self.site(site);
                let exit = self.trap_exit(TrapCode::Unreachable);
                self.b.ins().jump(exit, &[BlockArg::Value(site)]);
            }
            Terminator::TrapWith(code) => {
                // A trap code is 1..=18; anything else (0 would read as success) traps
                // with `unreachable`.
                let c = self.v(*code);
                let k = self.b.ins().iadd_imm_u(c, -1);
                let valid = self
                    .b
                    .ins()
                    .icmp_imm_u(IntCC::UnsignedLessThan, k, TrapCode::ALL.len() as i64);
                let unreachable = self.b.ins().iconst(types::I32, TrapCode::Unreachable.code() as i64);
                let code = self.b.ins().select(valid, c, unreachable);
                self.emit_trap(code, site);
            }
            Terminator::CallCap { cap, args, ok, fail } => {
                self.call_cap(bi, *cap, args, ok.0 as usize, fail.0 as usize)
            }
        }
        self.fill_edge_blocks();
    }

    /// Branch straight to the target when no fuel is due, else through an edge block.
    fn direct_or_edge(&mut self, from: usize, call: &'a IrBlockCall) -> (ir::Block, Vec<BlockArg>) {
        let target = call.block.0 as usize;
        if target > from || !self.refs.fuel {
            (self.blocks[target], self.block_args(&call.args))
        } else {
            (self.edge_block(from, call), Vec::new())
        }
    }

    /// `call_cap`. Capabilities whose signature carries numbers only take an inline
    /// path when the runtime marks them fast (`NativeCap::slow == 0`): check the
    /// target's epoch and status and the call depth, switch to the callee's context
    /// and call its code directly. Everything else (host capabilities, `buf` and
    /// `region` marshalling, revoked or unavailable targets, tracing) goes through
    /// the runtime's `capjit_call_cap`, which also reports every failure.
    fn call_cap(&mut self, bi: usize, cap: Value, args: &[Value], ok: usize, fail: usize) {
        let numbers_only =
            !args.iter().any(|a| self.data[a.0 as usize]) && !self.f.blocks[ok].params.iter().any(|p| is_data(&p.ty));
        let slow = self.b.create_block();
        if numbers_only {
            self.inline_call_cap(bi, cap, args, ok, fail, slow);
        } else {
            self.b.ins().jump(slow, &[]);
        }
        self.b.switch_to_block(slow);
        self.runtime_call_cap(bi, cap, args, ok, fail);
    }

    fn inline_call_cap(&mut self, bi: usize, cap: Value, args: &[Value], ok: usize, fail: usize, slow: ir::Block) {
        let cap_index = self.v(cap);
        let idx = self.b.ins().uextend(types::I64, cap_index);
        let offset = self.b.ins().imul_imm_u(idx, NATIVE_CAP_SIZE);
        let table = self.b.ins().load(types::I64, trusted(), self.ctx, OFF_CAPS);
        let entry = self.b.ins().iadd(table, offset);
        let is_slow = self.b.ins().load(types::I32, trusted(), entry, OFF_CAP_SLOW);
        let live = self.b.create_block();
        self.b.ins().brif(is_slow, slow, &[], live, &[]);

        self.b.switch_to_block(live);
        let callee = self.b.ins().load(types::I64, trusted(), entry, OFF_CAP_CTX);
        let granted = self.b.ins().load(types::I32, trusted(), entry, OFF_CAP_EPOCH);
        let epoch = self.b.ins().load(types::I32, trusted(), callee, OFF_EPOCH);
        let status = self.b.ins().load(types::I32, trusted(), callee, OFF_STATUS);
        let depth_ptr = self.b.ins().load(types::I64, trusted(), self.ctx, OFF_DEPTH);
        let depth = self.b.ins().load(types::I32, trusted(), depth_ptr, 0);
        let max = self.b.ins().load(types::I32, trusted(), self.ctx, OFF_MAX_DEPTH);
        let stale = self.b.ins().icmp(IntCC::NotEqual, granted, epoch);
        let down = self.b.ins().icmp_imm_u(IntCC::NotEqual, status, STATUS_RUNNING as i64);
        let deep = self.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, depth, max);
        let refuse = self.b.ins().bor(stale, down);
        let refuse = self.b.ins().bor(refuse, deep);
        let enter = self.b.create_block();
        self.b.ins().brif(refuse, slow, &[], enter, &[]);

        self.b.switch_to_block(enter);
        let deeper = self.b.ins().iadd_imm_u(depth, 1);
        self.b.ins().store(trusted(), deeper, depth_ptr, 0);
        let active = self.b.ins().load(types::I32, trusted(), callee, OFF_ACTIVE);
        let more = self.b.ins().iadd_imm_u(active, 1);
        self.b.ins().store(trusted(), more, callee, OFF_ACTIVE);
        let code = self.b.ins().load(types::I64, trusted(), entry, OFF_CAP_FUNC);
        let mut sig = ir::Signature::new(self.b.func.signature.call_conv);
        sig.params.push(AbiParam::new(types::I64));
        let mut call_args = vec![callee];
        for a in args {
            let x = self.v(*a);
            sig.params.push(AbiParam::new(self.b.func.dfg.value_type(x)));
            call_args.push(x);
        }
        sig.returns.push(AbiParam::new(types::I32));
        for p in &self.f.blocks[ok].params {
            sig.returns.push(AbiParam::new(clif_type(&p.ty)));
        }
        let sig_ref = self.b.import_signature(sig);
        let call = self.b.ins().call_indirect(sig_ref, code, &call_args);
        let rets = self.b.inst_results(call).to_vec();
        self.b.ins().store(trusted(), active, callee, OFF_ACTIVE);
        self.b.ins().store(trusted(), depth, depth_ptr, 0);

        let ok_blk = self.b.create_block();
        let faulted = self.b.create_block();
        self.b.ins().brif(rets[0], faulted, &[], ok_blk, &[]);

        self.b.switch_to_block(ok_blk);
        self.reload_mem_len();
        let results = rets[1..].iter().map(|r| BlockArg::Value(*r)).collect();
        self.jump_edge(bi, ok, results);

        // The callee trapped: the runtime faults it; the caller takes `fail`.
        self.b.switch_to_block(faulted);
        let fault_args = [self.ctx, self.v(cap), rets[0]];
        let call = self.b.ins().call(self.refs.get(Helper::IdcFault), &fault_args);
        let code = self.b.inst_results(call)[0];
        self.reload_mem_len();
        self.jump_edge(bi, fail, vec![BlockArg::Value(code)]);
    }

    /// `call_cap` through the runtime: arguments into a slot array, the IDC helper,
    /// then the `ok` edge with the results, the `fail` edge with the code, or a
    /// trap of the caller itself (a bad argument).
    fn runtime_call_cap(&mut self, bi: usize, cap: Value, args: &[Value], ok: usize, fail: usize) {
        let site = Site {
            block: bi as u32,
            inst: None,
        };
        let ok_types: Vec<ir::Type> = self.f.blocks[ok].params.iter().map(|p| clif_type(&p.ty)).collect();
        let n = args.len().max(ok_types.len()).max(1);
        let slot = self
            .b
            .create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, (8 * n) as u32, 3));
        for (i, a) in args.iter().enumerate() {
            let bits = self.word_of(self.v(*a));
            self.b.ins().stack_store(types::I64, bits, slot, (8 * i) as i32);
        }
        let slots = self.b.ins().stack_addr(types::I64, slot, 0);
        let helper_args = [self.ctx, self.v(cap), slots];
        let call = self.b.ins().call(self.refs.get(Helper::CallCap), &helper_args);
        let status = self.b.inst_results(call)[0];

        let ok_blk = self.b.create_block();
        let not_ok = self.b.create_block();
        self.b.ins().brif(status, not_ok, &[], ok_blk, &[]);

        self.b.switch_to_block(ok_blk);
        self.reload_mem_len();
        let mut results = Vec::with_capacity(ok_types.len());
        for (i, ty) in ok_types.iter().enumerate() {
            let w = self.b.ins().stack_load(types::I64, types::I64, slot, (8 * i) as i32);
            results.push(BlockArg::Value(self.value_of_word(*ty, w)));
        }
        self.jump_edge(bi, ok, results);

        self.b.switch_to_block(not_ok);
        let fail_blk = self.b.create_block();
        let caller_trap = self.b.create_block();
        self.b.set_cold_block(caller_trap);
        let positive = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThan, status, 0);
        self.b.ins().brif(positive, fail_blk, &[], caller_trap, &[]);

        self.b.switch_to_block(fail_blk);
        self.reload_mem_len();
        self.jump_edge(bi, fail, vec![BlockArg::Value(status)]);

        self.b.switch_to_block(caller_trap);
        let code = self.b.ins().ineg(status);
        self.emit_trap(code, site);
    }
}

/// A 64-bit slot holding the bits of `v`, zero-extended (see `capjit_tcb::slots`).
pub fn word_of(b: &mut FunctionBuilder, v: ir::Value) -> ir::Value {
    match b.func.dfg.value_type(v) {
        types::I32 => b.ins().uextend(types::I64, v),
        types::F32 => {
            let i = b.ins().bitcast(types::I32, MemFlagsData::new(), v);
            b.ins().uextend(types::I64, i)
        }
        types::F64 => b.ins().bitcast(types::I64, MemFlagsData::new(), v),
        _ => v,
    }
}

fn int_cc(cc: IrIntCC) -> IntCC {
    match cc {
        IrIntCC::Eq => IntCC::Equal,
        IrIntCC::Ne => IntCC::NotEqual,
        IrIntCC::Slt => IntCC::SignedLessThan,
        IrIntCC::Sle => IntCC::SignedLessThanOrEqual,
        IrIntCC::Sgt => IntCC::SignedGreaterThan,
        IrIntCC::Sge => IntCC::SignedGreaterThanOrEqual,
        IrIntCC::Ult => IntCC::UnsignedLessThan,
        IrIntCC::Ule => IntCC::UnsignedLessThanOrEqual,
        IrIntCC::Ugt => IntCC::UnsignedGreaterThan,
        IrIntCC::Uge => IntCC::UnsignedGreaterThanOrEqual,
    }
}

fn float_cc(cc: IrFloatCC) -> FloatCC {
    match cc {
        IrFloatCC::Eq => FloatCC::Equal,
        IrFloatCC::Ne => FloatCC::NotEqual,
        IrFloatCC::Lt => FloatCC::LessThan,
        IrFloatCC::Le => FloatCC::LessThanOrEqual,
        IrFloatCC::Gt => FloatCC::GreaterThan,
        IrFloatCC::Ge => FloatCC::GreaterThanOrEqual,
    }
}
