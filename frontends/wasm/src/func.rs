//! Function bodies: Wasm's structured control flow and operand stack to SSA blocks
//! with block parameters.
//!
//! The scheme. The IR has no mutable locals, so the translator keeps the current
//! SSA value of every Wasm local and of every operand-stack slot, and threads them
//! through block parameters where control flow merges:
//! - a pre-pass records, for every `block`/`loop`/`if`, which locals are written
//!   (`local.set`/`local.tee`) anywhere inside it;
//! - a merge block (the end of a `block` or `if` that is branched to) takes the
//!   label's values plus the locals written inside the construct; a loop header
//!   takes the loop's parameters plus the locals written inside the loop. Locals
//!   not written inside keep the value they had at the construct's entry, which
//!   dominates every point of the construct and its end;
//! - a `block` whose end is only reached by falling through needs no new block;
//! - code after `br`, `br_table`, `return` or `unreachable` (dead code) is read but
//!   not translated, and blocks are created only when something branches to them,
//!   so every block is reachable from the entry; the entry block is never a target
//!   (loops get their own header block).
//!
//! Calls of imported functions become `cap.get` and `call_cap`; the failure edge
//! traps (or, for a `try:` import, produces the trap code; see the crate docs).

use capjit_ir::{
    BinOp, Block, BlockCall, BlockId, BlockParam, ConvOp, Def, FloatCC, Function, Inst, IntCC, MemAccess, NumType, Op,
    RefType, Span, Terminator, UnOp, Value,
};
use wasmparser::{BlockType, FunctionBody, MemArg, Operator, OperatorsReader};

use crate::error::{WasmError, WasmErrorKind};
use crate::module::{val_type, ParsedModule, ValTy, WasmSig};
use crate::{MAX_BLOCK_PARAMS, MAX_VALUES};

/// How a call to an imported function is made.
#[derive(Clone, Debug)]
pub struct ImportCall {
    /// Index of the capjit import in the domain.
    pub ir_import: u32,
    /// A `try:` import: the Wasm function returns a status first.
    pub try_: bool,
    /// Result types of the capability (without the status of a `try:` import).
    pub callee_results: Vec<ValTy>,
}

/// What function translation needs to know about the module.
pub struct ModuleCtx<'m, 'a> {
    pub m: &'m ParsedModule<'a>,
    /// By imported function index.
    pub imports: &'m [ImportCall],
    /// Where each of the module's globals is, by Wasm index.
    pub globals: &'m [GlobalSlot],
    /// IR function of each imported function's wrapper, where one exists (every
    /// one `ref.func` may name has one).
    pub wrappers: &'m [Option<u32>],
}

/// Where a Wasm global lives in the domain.
#[derive(Clone, Copy, Debug)]
pub enum GlobalSlot {
    /// A numeric global: IR global `global`.
    Num { global: u32, ty: NumType },
    /// A reference global: entry 0 of table `table` (the IR's globals hold numbers).
    Ref { table: u32, ty: RefType },
}

enum Kind {
    Function,
    Block,
    Loop {
        header: usize,
    },
    If {
        else_block: usize,
        params: Vec<(Value, ValTy)>,
        /// Values of the written locals at the `if`, for the else arm.
        locals: Vec<Value>,
    },
    Else,
}

struct Frame {
    kind: Kind,
    params: Vec<ValTy>,
    results: Vec<ValTy>,
    /// Operand stack height below the construct's parameters.
    height: usize,
    /// Locals written inside the construct, sorted.
    written: Vec<u32>,
    /// The merge block at the end, created when something first branches there.
    end: Option<usize>,
    /// The construct began in dead code: nothing of it is translated.
    dead: bool,
}

impl Frame {
    /// The types a branch to this frame's label carries.
    fn label_types(&self) -> &[ValTy] {
        match self.kind {
            Kind::Loop { .. } => &self.params,
            _ => &self.results,
        }
    }
}

struct Builder<'c, 'm, 'a> {
    ctx: &'c ModuleCtx<'m, 'a>,
    blocks: Vec<Block>,
    /// Whether each block has its terminator.
    done: Vec<bool>,
    cur: Option<usize>,
    next_value: u32,
    stack: Vec<(Value, ValTy)>,
    locals: Vec<Value>,
    local_types: Vec<ValTy>,
    frames: Vec<Frame>,
    /// Written locals of each construct, in the order constructs open.
    written: Vec<Vec<u32>>,
    next_construct: usize,
    results: Vec<ValTy>,
    trap_block: Option<usize>,
    return_block: Option<usize>,
    /// Offset of the operator being translated, for errors.
    at: u64,
}

/// Translate the body of defined function `def` (index among the defined ones).
pub fn translate_function(
    ctx: &ModuleCtx,
    def: usize,
    body: &FunctionBody,
    name: String,
    exported: bool,
) -> Result<Function, WasmError> {
    let m = ctx.m;
    let rd = |e: wasmparser::BinaryReaderError| WasmError::from_reader(&m.name, &e);
    let body_at = body.range().start;
    let wasm_idx = m.num_imported_funcs() + def as u32;
    let sig = m.func_sig(wasm_idx, Some(body_at))?.clone();

    let mut b = Builder::new(ctx, &sig, body_at);
    // Declared locals start at zero: one constant per type, shared.
    let mut zeros: [Option<Value>; 6] = [None; 6];
    let mut locals_reader = body.get_locals_reader().map_err(rd)?;
    for _ in 0..locals_reader.get_count() {
        let at = locals_reader.original_position();
        let (count, ty) = locals_reader.read().map_err(rd)?;
        let ty = val_type(ty).map_err(|w| WasmError::unsupported(&m.name, Some(at), w))?;
        let slot = &mut zeros[type_slot(ty)];
        let zero = match *slot {
            Some(v) => v,
            None => {
                let v = b.inst1(ty.zero());
                *slot = Some(v);
                v
            }
        };
        for _ in 0..count {
            b.locals.push(zero);
            b.local_types.push(ty);
        }
    }

    let ops = body.get_operators_reader().map_err(rd)?;
    b.written = written_sets(ops.clone()).map_err(rd)?;
    b.frames.push(Frame {
        kind: Kind::Function,
        params: Vec::new(),
        results: sig.results.clone(),
        height: 0,
        written: Vec::new(),
        end: None,
        dead: false,
    });
    let mut ops = ops;
    while !b.frames.is_empty() {
        let (op, at) = ops.read_with_offset().map_err(rd)?;
        b.at = at;
        b.op(op)?;
        if b.next_value as usize > MAX_VALUES {
            return Err(b.limit(format!(
                "function needs more than {MAX_VALUES} SSA values (the verifier's limit)"
            )));
        }
    }
    let blocks = b.finish()?;
    Ok(Function {
        name,
        exported,
        sig: sig.to_ir(),
        blocks,
        span: None,
    })
}

/// A function that calls imported function `k` with its parameters and returns
/// what the call returns: for table entries, exports and the start function
/// that name an imported function.
pub fn import_wrapper(ctx: &ModuleCtx, k: usize, name: String, exported: bool) -> Result<Function, WasmError> {
    let m = ctx.m;
    let Some(imp) = m.func_imports.get(k) else {
        return Err(WasmError::new(
            &m.name,
            None,
            WasmErrorKind::Invalid,
            "import index out of range",
        ));
    };
    let sig = m.sig(imp.ty, Some(imp.offset))?.clone();
    let mut b = Builder::new(ctx, &sig, imp.offset);
    let args = b.locals.clone();
    let results = b.import_call(k, args)?;
    b.terminate(Terminator::Return(results));
    Ok(Function {
        name,
        exported,
        sig: sig.to_ir(),
        blocks: b.finish()?,
        span: None,
    })
}

/// A function that calls function `target` of the domain (IR index) with its
/// parameters and returns its results: a second export name, or the start function.
pub fn alias(sig: &WasmSig, target: u32, name: String, exported: bool) -> Function {
    let nparams = sig.params.len() as u32;
    let params: Vec<BlockParam> = sig
        .params
        .iter()
        .enumerate()
        .map(|(i, &t)| BlockParam {
            value: Value(i as u32),
            ty: t.to_ir(),
            fact: None,
        })
        .collect();
    let args: Vec<Value> = (0..nparams).map(Value).collect();
    let results: Vec<Value> = (0..sig.results.len() as u32).map(|i| Value(nparams + i)).collect();
    Function {
        name,
        exported,
        sig: sig.to_ir(),
        blocks: vec![Block {
            params,
            insts: vec![Inst {
                results: results.iter().map(|&value| Def { value, fact: None }).collect(),
                op: Op::Call { func: target, args },
                span: None,
            }],
            term: Terminator::Return(results),
            term_span: None,
        }],
        span: None,
    }
}

/// For every construct (`block`, `loop`, `if`, in the order they open), the sorted
/// locals written inside it, nested constructs included.
fn written_sets(mut ops: OperatorsReader) -> wasmparser::Result<Vec<Vec<u32>>> {
    let mut sets: Vec<Vec<u32>> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    while !ops.eof() {
        match ops.read()? {
            Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } => {
                sets.push(Vec::new());
                open.push(sets.len() - 1);
            }
            Operator::End => {
                if let Some(c) = open.pop() {
                    let mut set = std::mem::take(&mut sets[c]);
                    set.sort_unstable();
                    set.dedup();
                    if let Some(&p) = open.last() {
                        sets[p].extend_from_slice(&set);
                    }
                    sets[c] = set;
                }
            }
            Operator::LocalSet { local_index } | Operator::LocalTee { local_index } => {
                if let Some(&c) = open.last() {
                    sets[c].push(local_index);
                }
            }
            _ => {}
        }
    }
    Ok(sets)
}

fn type_slot(t: ValTy) -> usize {
    match t {
        ValTy::Num(NumType::I32) => 0,
        ValTy::Num(NumType::I64) => 1,
        ValTy::Num(NumType::F32) => 2,
        ValTy::Num(NumType::F64) => 3,
        ValTy::Ref(RefType::Func) => 4,
        ValTy::Ref(RefType::Extern) => 5,
    }
}

pub fn zero_const(t: NumType) -> capjit_ir::Const {
    match t {
        NumType::I32 => capjit_ir::Const::I32(0),
        NumType::I64 => capjit_ir::Const::I64(0),
        NumType::F32 => capjit_ir::Const::F32(0),
        NumType::F64 => capjit_ir::Const::F64(0),
    }
}

impl<'c, 'm, 'a> Builder<'c, 'm, 'a> {
    /// A builder positioned in a new entry block whose parameters are the
    /// signature's, which are the first locals.
    fn new(ctx: &'c ModuleCtx<'m, 'a>, sig: &WasmSig, at: u64) -> Self {
        let mut b = Builder {
            ctx,
            blocks: Vec::new(),
            done: Vec::new(),
            cur: None,
            next_value: 0,
            stack: Vec::new(),
            locals: Vec::new(),
            local_types: Vec::new(),
            frames: Vec::new(),
            written: Vec::new(),
            next_construct: 0,
            results: sig.results.clone(),
            trap_block: None,
            return_block: None,
            at,
        };
        let (entry, params) = b.new_block(&sig.params);
        b.cur = Some(entry);
        b.locals = params;
        b.local_types = sig.params.clone();
        b
    }

    fn name(&self) -> &str {
        &self.ctx.m.name
    }

    fn limit(&self, msg: String) -> WasmError {
        WasmError::new(self.name(), Some(self.at), WasmErrorKind::Limit, msg)
    }

    fn unsupported(&self, what: &str) -> WasmError {
        WasmError::unsupported(self.name(), Some(self.at), what)
    }

    fn internal(&self, what: &str) -> WasmError {
        WasmError::new(
            self.name(),
            Some(self.at),
            WasmErrorKind::Invalid,
            format!("internal error in the Wasm frontend: {what}"),
        )
    }

    fn value(&mut self) -> Value {
        let v = Value(self.next_value);
        self.next_value += 1;
        v
    }

    /// A new block with fresh parameters of these types; does not switch to it.
    fn new_block(&mut self, types: &[ValTy]) -> (usize, Vec<Value>) {
        let mut params = Vec::with_capacity(types.len());
        let mut values = Vec::with_capacity(types.len());
        for &t in types {
            let v = self.value();
            values.push(v);
            params.push(BlockParam {
                value: v,
                ty: t.to_ir(),
                fact: None,
            });
        }
        self.blocks.push(Block {
            params,
            insts: Vec::new(),
            term: Terminator::Trap,
            term_span: None,
        });
        self.done.push(false);
        (self.blocks.len() - 1, values)
    }

    fn inst(&mut self, op: Op, results: usize) -> Vec<Value> {
        let values: Vec<Value> = (0..results).map(|_| self.value()).collect();
        if let Some(c) = self.cur {
            let span = Some(self.span());
            self.blocks[c].insts.push(Inst {
                results: values.iter().map(|&value| Def { value, fact: None }).collect(),
                op,
                span,
            });
        }
        values
    }

    fn inst1(&mut self, op: Op) -> Value {
        self.inst(op, 1)[0]
    }

    /// Where the operator being translated starts in the module's binary: what a
    /// trap or an error in the IR it becomes is reported at.
    fn span(&self) -> Span {
        let at = u32::try_from(self.at).unwrap_or(u32::MAX);
        Span { start: at, end: at }
    }

    fn terminate(&mut self, term: Terminator) {
        if let Some(c) = self.cur.take() {
            self.blocks[c].term_span = Some(self.span());
            self.blocks[c].term = term;
            self.done[c] = true;
        }
    }

    fn push(&mut self, v: Value, t: impl Into<ValTy>) {
        self.stack.push((v, t.into()));
    }

    fn pop(&mut self) -> Result<(Value, ValTy), WasmError> {
        self.stack.pop().ok_or_else(|| self.internal("operand stack underflow"))
    }

    fn pop_v(&mut self) -> Result<Value, WasmError> {
        Ok(self.pop()?.0)
    }

    /// The top `n` values, in stack order, removed.
    fn pop_n(&mut self, n: usize) -> Result<Vec<Value>, WasmError> {
        if n > self.stack.len() {
            return Err(self.internal("operand stack underflow"));
        }
        let start = self.stack.len() - n;
        Ok(self.stack.drain(start..).map(|(v, _)| v).collect())
    }

    /// The top `n` values, in stack order, left in place.
    fn peek_n(&self, n: usize) -> Result<Vec<Value>, WasmError> {
        if n > self.stack.len() {
            return Err(self.internal("operand stack underflow"));
        }
        Ok(self.stack[self.stack.len() - n..].iter().map(|(v, _)| *v).collect())
    }

    fn block_type(&self, bt: BlockType) -> Result<(Vec<ValTy>, Vec<ValTy>), WasmError> {
        match bt {
            BlockType::Empty => Ok((Vec::new(), Vec::new())),
            BlockType::Type(t) => {
                let t = val_type(t).map_err(|w| self.unsupported(&w))?;
                Ok((Vec::new(), vec![t]))
            }
            BlockType::FuncType(idx) => {
                let sig = self.ctx.m.sig(idx, Some(self.at))?;
                Ok((sig.params.clone(), sig.results.clone()))
            }
        }
    }

    /// Types of the parameters of a merge block of frame `fi`: the label's values,
    /// then the written locals.
    fn merge_types(&self, fi: usize) -> Result<Vec<ValTy>, WasmError> {
        let f = &self.frames[fi];
        let mut types = f.label_types().to_vec();
        types.extend(f.written.iter().map(|&l| self.local_types[l as usize]));
        if types.len() > MAX_BLOCK_PARAMS {
            return Err(self.limit(format!(
                "a control construct merges {} values ({} locals written inside it), more than the {MAX_BLOCK_PARAMS} block parameters the IR allows",
                types.len(),
                f.written.len()
            )));
        }
        Ok(types)
    }

    /// A branch to frame `fi`'s label from the current block: the label's values
    /// (left on the stack) and the written locals. The function's label is the
    /// return block.
    fn branch_call(&mut self, fi: usize) -> Result<BlockCall, WasmError> {
        if matches!(self.frames[fi].kind, Kind::Function) {
            let n = self.results.len();
            let args = self.peek_n(n)?;
            let block = match self.return_block {
                Some(b) => b,
                None => {
                    let results = self.results.clone();
                    let (b, params) = self.new_block(&results);
                    self.blocks[b].term = Terminator::Return(params);
                    self.done[b] = true;
                    self.return_block = Some(b);
                    b
                }
            };
            return Ok(BlockCall {
                block: BlockId(block as u32),
                args,
            });
        }
        let n = self.frames[fi].label_types().len();
        let mut args = self.peek_n(n)?;
        args.extend(self.frames[fi].written.iter().map(|&l| self.locals[l as usize]));
        let block = match self.frames[fi].kind {
            Kind::Loop { header } => header,
            _ => match self.frames[fi].end {
                Some(b) => b,
                None => {
                    let types = self.merge_types(fi)?;
                    let (b, _) = self.new_block(&types);
                    self.frames[fi].end = Some(b);
                    b
                }
            },
        };
        Ok(BlockCall {
            block: BlockId(block as u32),
            args,
        })
    }

    fn frame_index(&self, depth: u32) -> Result<usize, WasmError> {
        (self.frames.len())
            .checked_sub(1 + depth as usize)
            .ok_or_else(|| self.internal("branch depth out of range"))
    }

    /// The block for trapping after a failed inter-domain call: it re-raises the
    /// callee's trap code (`trap v`).
    fn trap_block(&mut self) -> usize {
        if let Some(b) = self.trap_block {
            return b;
        }
        let (b, code) = self.new_block(&[NumType::I32.into()]);
        self.blocks[b].term = Terminator::TrapWith(code[0]);
        self.done[b] = true;
        self.trap_block = Some(b);
        b
    }

    /// Switch to the else arm of the `if` on top of the frame stack.
    fn enter_else(&mut self) -> Result<(), WasmError> {
        let fi = self.frames.len() - 1;
        if self.frames[fi].dead {
            return Ok(());
        }
        if self.cur.is_some() {
            let call = self.branch_call(fi)?;
            self.terminate(Terminator::Jump(call));
        }
        let kind = std::mem::replace(&mut self.frames[fi].kind, Kind::Else);
        let Kind::If {
            else_block,
            params,
            locals,
        } = kind
        else {
            return Err(self.internal("else without if"));
        };
        self.cur = Some(else_block);
        let height = self.frames[fi].height;
        self.stack.truncate(height);
        self.stack.extend(params);
        for (i, &l) in self.frames[fi].written.iter().enumerate() {
            self.locals[l as usize] = locals[i];
        }
        Ok(())
    }

    /// `end` of a `block`, `if` or `else`: merge the paths that reach it.
    fn end_merge(&mut self) -> Result<(), WasmError> {
        let fi = self.frames.len() - 1;
        if self.cur.is_some() {
            if self.frames[fi].end.is_none() {
                // Only the fallthrough reaches the end: carry on in this block.
                self.frames.pop();
                return Ok(());
            }
            let call = self.branch_call(fi)?;
            self.terminate(Terminator::Jump(call));
        }
        let Some(frame) = self.frames.pop() else {
            return Err(self.internal("end without a frame"));
        };
        self.stack.truncate(frame.height);
        if let Some(end) = frame.end {
            self.cur = Some(end);
            let params: Vec<Value> = self.blocks[end].params.iter().map(|p| p.value).collect();
            let n = frame.results.len();
            for (i, &t) in frame.results.iter().enumerate() {
                self.stack.push((params[i], t));
            }
            for (i, &l) in frame.written.iter().enumerate() {
                self.locals[l as usize] = params[n + i];
            }
        }
        Ok(())
    }

    fn open_construct(&mut self) -> Vec<u32> {
        let id = self.next_construct;
        self.next_construct += 1;
        self.written.get_mut(id).map(std::mem::take).unwrap_or_default()
    }

    fn push_dead_frame(&mut self, written: Vec<u32>) {
        self.frames.push(Frame {
            kind: Kind::Block,
            params: Vec::new(),
            results: Vec::new(),
            height: self.stack.len(),
            written,
            end: None,
            dead: true,
        });
    }

    /// A call of imported function `k`: `cap.get` and `call_cap`, continuing in
    /// the `ok` successor (or, for `try:`, in a block merging both outcomes).
    fn import_call(&mut self, k: usize, args: Vec<Value>) -> Result<Vec<Value>, WasmError> {
        let Some(imp) = self.ctx.imports.get(k).cloned() else {
            return Err(self.internal("imported function index out of range"));
        };
        let cap = self.inst1(Op::CapGet { import: imp.ir_import });
        let (ok, ok_vals) = self.new_block(&imp.callee_results);
        if !imp.try_ {
            let fail = self.trap_block();
            self.terminate(Terminator::CallCap {
                cap,
                args,
                ok: BlockId(ok as u32),
                fail: BlockId(fail as u32),
            });
            self.cur = Some(ok);
            return Ok(ok_vals);
        }
        let (fail, fail_vals) = self.new_block(&[NumType::I32.into()]);
        self.terminate(Terminator::CallCap {
            cap,
            args,
            ok: BlockId(ok as u32),
            fail: BlockId(fail as u32),
        });
        let mut merge_types = vec![ValTy::from(NumType::I32)];
        merge_types.extend_from_slice(&imp.callee_results);
        let (merge, merge_vals) = self.new_block(&merge_types);
        self.cur = Some(ok);
        let status = self.inst1(Op::Const(capjit_ir::Const::I32(0)));
        let mut args = vec![status];
        args.extend(ok_vals);
        self.terminate(Terminator::Jump(BlockCall {
            block: BlockId(merge as u32),
            args,
        }));
        self.cur = Some(fail);
        let mut args = vec![fail_vals[0]];
        for &t in &imp.callee_results {
            args.push(self.inst1(t.zero()));
        }
        self.terminate(Terminator::Jump(BlockCall {
            block: BlockId(merge as u32),
            args,
        }));
        self.cur = Some(merge);
        Ok(merge_vals)
    }

    fn binary(&mut self, op: BinOp, ty: NumType) -> Result<(), WasmError> {
        let b = self.pop_v()?;
        let a = self.pop_v()?;
        let v = self.inst1(Op::Binary { op, ty, a, b });
        self.push(v, ty);
        Ok(())
    }

    fn unary(&mut self, op: UnOp, ty: NumType) -> Result<(), WasmError> {
        let a = self.pop_v()?;
        let v = self.inst1(Op::Unary { op, ty, a });
        self.push(v, ty);
        Ok(())
    }

    fn icmp(&mut self, cc: IntCC, ty: NumType) -> Result<(), WasmError> {
        let b = self.pop_v()?;
        let a = self.pop_v()?;
        let v = self.inst1(Op::Icmp { cc, ty, a, b });
        self.push(v, NumType::I32);
        Ok(())
    }

    fn eqz(&mut self, ty: NumType) -> Result<(), WasmError> {
        let a = self.pop_v()?;
        let b = self.inst1(Op::Const(zero_const(ty)));
        let v = self.inst1(Op::Icmp {
            cc: IntCC::Eq,
            ty,
            a,
            b,
        });
        self.push(v, NumType::I32);
        Ok(())
    }

    fn fcmp(&mut self, cc: FloatCC, ty: NumType) -> Result<(), WasmError> {
        let b = self.pop_v()?;
        let a = self.pop_v()?;
        let v = self.inst1(Op::Fcmp { cc, ty, a, b });
        self.push(v, NumType::I32);
        Ok(())
    }

    fn convert(&mut self, op: ConvOp, from: NumType, to: NumType) -> Result<(), WasmError> {
        let a = self.pop_v()?;
        let v = self.inst1(Op::Convert { op, from, to, a });
        self.push(v, to);
        Ok(())
    }

    fn offset(&self, memarg: &MemArg) -> Result<u32, WasmError> {
        u32::try_from(memarg.offset).map_err(|_| self.unsupported("memory64 (offset beyond 32 bits)"))
    }

    fn load(&mut self, ty: NumType, bytes: u8, signed: bool, memarg: MemArg) -> Result<(), WasmError> {
        let offset = self.offset(&memarg)?;
        let addr = self.pop_v()?;
        let v = self.inst1(Op::Load {
            access: MemAccess { ty, bytes, signed },
            addr,
            offset,
        });
        self.push(v, ty);
        Ok(())
    }

    fn store(&mut self, ty: NumType, bytes: u8, memarg: MemArg) -> Result<(), WasmError> {
        let offset = self.offset(&memarg)?;
        let value = self.pop_v()?;
        let addr = self.pop_v()?;
        self.inst(
            Op::Store {
                access: MemAccess {
                    ty,
                    bytes,
                    signed: false,
                },
                value,
                addr,
                offset,
            },
            0,
        );
        Ok(())
    }

    fn call_results(&mut self, values: Vec<Value>, types: &[ValTy]) {
        for (v, &t) in values.into_iter().zip(types) {
            self.push(v, t);
        }
    }

    /// Translate one operator.
    fn op(&mut self, op: Operator) -> Result<(), WasmError> {
        use NumType::{F32, F64, I32, I64};
        // Dead code: only the nesting of constructs matters.
        if self.cur.is_none()
            && !matches!(
                op,
                Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } | Operator::Else | Operator::End
            )
        {
            return Ok(());
        }
        match op {
            Operator::Nop => {}
            Operator::Unreachable => self.terminate(Terminator::Trap),
            Operator::Block { blockty } => {
                let written = self.open_construct();
                if self.cur.is_none() {
                    self.push_dead_frame(written);
                    return Ok(());
                }
                let (params, results) = self.block_type(blockty)?;
                let height = self
                    .stack
                    .len()
                    .checked_sub(params.len())
                    .ok_or_else(|| self.internal("operand stack underflow"))?;
                self.frames.push(Frame {
                    kind: Kind::Block,
                    params,
                    results,
                    height,
                    written,
                    end: None,
                    dead: false,
                });
            }
            Operator::Loop { blockty } => {
                let written = self.open_construct();
                if self.cur.is_none() {
                    self.push_dead_frame(written);
                    return Ok(());
                }
                let (params, results) = self.block_type(blockty)?;
                let mut args = self.pop_n(params.len())?;
                args.extend(written.iter().map(|&l| self.locals[l as usize]));
                let height = self.stack.len();
                self.frames.push(Frame {
                    kind: Kind::Loop { header: 0 },
                    params,
                    results,
                    height,
                    written,
                    end: None,
                    dead: false,
                });
                let fi = self.frames.len() - 1;
                let types = self.merge_types(fi)?;
                let (header, hvals) = self.new_block(&types);
                self.frames[fi].kind = Kind::Loop { header };
                self.terminate(Terminator::Jump(BlockCall {
                    block: BlockId(header as u32),
                    args,
                }));
                self.cur = Some(header);
                let np = self.frames[fi].params.len();
                let params = self.frames[fi].params.clone();
                for (&v, t) in hvals.iter().zip(params) {
                    self.push(v, t);
                }
                for i in 0..self.frames[fi].written.len() {
                    let l = self.frames[fi].written[i] as usize;
                    self.locals[l] = hvals[np + i];
                }
            }
            Operator::If { blockty } => {
                let written = self.open_construct();
                if self.cur.is_none() {
                    self.push_dead_frame(written);
                    return Ok(());
                }
                let (params, results) = self.block_type(blockty)?;
                let cond = self.pop_v()?;
                let height = self
                    .stack
                    .len()
                    .checked_sub(params.len())
                    .ok_or_else(|| self.internal("operand stack underflow"))?;
                let saved_params = self.stack[height..].to_vec();
                let saved_locals = written.iter().map(|&l| self.locals[l as usize]).collect();
                let (then_block, _) = self.new_block(&[]);
                let (else_block, _) = self.new_block(&[]);
                self.terminate(Terminator::Brif {
                    cond,
                    then: BlockCall {
                        block: BlockId(then_block as u32),
                        args: Vec::new(),
                    },
                    else_: BlockCall {
                        block: BlockId(else_block as u32),
                        args: Vec::new(),
                    },
                });
                self.cur = Some(then_block);
                self.frames.push(Frame {
                    kind: Kind::If {
                        else_block,
                        params: saved_params,
                        locals: saved_locals,
                    },
                    params,
                    results,
                    height,
                    written,
                    end: None,
                    dead: false,
                });
            }
            Operator::Else => self.enter_else()?,
            Operator::End => {
                let Some(frame) = self.frames.last() else {
                    return Err(self.internal("end without a frame"));
                };
                if frame.dead {
                    let frame = self.frames.pop().expect("checked above");
                    self.stack.truncate(frame.height);
                    return Ok(());
                }
                match frame.kind {
                    Kind::Function => {
                        if self.cur.is_some() {
                            let vals = self.pop_n(self.results.len())?;
                            self.terminate(Terminator::Return(vals));
                        }
                        self.frames.pop();
                    }
                    Kind::Loop { .. } => {
                        let frame = self.frames.pop().expect("checked above");
                        if self.cur.is_none() {
                            self.stack.truncate(frame.height);
                        }
                    }
                    Kind::If { .. } => {
                        // No else arm: it passes the parameters through.
                        self.enter_else()?;
                        self.end_merge()?;
                    }
                    Kind::Block | Kind::Else => self.end_merge()?,
                }
            }
            Operator::Br { relative_depth } => {
                let fi = self.frame_index(relative_depth)?;
                if matches!(self.frames[fi].kind, Kind::Function) {
                    let vals = self.peek_n(self.results.len())?;
                    self.terminate(Terminator::Return(vals));
                } else {
                    let call = self.branch_call(fi)?;
                    self.terminate(Terminator::Jump(call));
                }
            }
            Operator::BrIf { relative_depth } => {
                let cond = self.pop_v()?;
                let fi = self.frame_index(relative_depth)?;
                let then = self.branch_call(fi)?;
                let (cont, _) = self.new_block(&[]);
                self.terminate(Terminator::Brif {
                    cond,
                    then,
                    else_: BlockCall {
                        block: BlockId(cont as u32),
                        args: Vec::new(),
                    },
                });
                self.cur = Some(cont);
            }
            Operator::BrTable { targets } => {
                let index = self.pop_v()?;
                let rd = |e: wasmparser::BinaryReaderError| WasmError::from_reader(&self.ctx.m.name, &e);
                if targets.len() as usize > crate::MAX_BR_TABLE_TARGETS {
                    return Err(self.limit(format!(
                        "a br_table with {} targets, more than the verifier's limit of {}",
                        targets.len(),
                        crate::MAX_BR_TABLE_TARGETS
                    )));
                }
                let depths: Vec<u32> = targets.targets().collect::<Result<_, _>>().map_err(rd)?;
                let mut calls = Vec::with_capacity(depths.len());
                let mut total_args = 0usize;
                for d in depths {
                    let fi = self.frame_index(d)?;
                    let call = self.branch_call(fi)?;
                    total_args += call.args.len();
                    if total_args > crate::MAX_BR_TABLE_ARGS {
                        return Err(self.limit(format!(
                            "a br_table passes more than {} branch arguments over its targets",
                            crate::MAX_BR_TABLE_ARGS
                        )));
                    }
                    calls.push(call);
                }
                let fi = self.frame_index(targets.default())?;
                let default = self.branch_call(fi)?;
                self.terminate(Terminator::BrTable {
                    index,
                    default,
                    targets: calls,
                });
            }
            Operator::Return => {
                let vals = self.peek_n(self.results.len())?;
                self.terminate(Terminator::Return(vals));
            }
            Operator::Call { function_index } => {
                let m = self.ctx.m;
                let sig = m.func_sig(function_index, Some(self.at))?.clone();
                let args = self.pop_n(sig.params.len())?;
                let nimp = m.num_imported_funcs();
                let results = if function_index < nimp {
                    self.import_call(function_index as usize, args)?
                } else {
                    self.inst(
                        Op::Call {
                            func: function_index - nimp,
                            args,
                        },
                        sig.results.len(),
                    )
                };
                self.call_results(results, &sig.results);
            }
            Operator::CallIndirect {
                type_index,
                table_index,
            } => {
                let sig = self.ctx.m.sig(type_index, Some(self.at))?.clone();
                let index = self.pop_v()?;
                let args = self.pop_n(sig.params.len())?;
                let results = self.inst(
                    Op::CallIndirect {
                        table: table_index,
                        sig: Box::new(sig.to_ir()),
                        index,
                        args,
                    },
                    sig.results.len(),
                );
                self.call_results(results, &sig.results);
            }
            Operator::Drop => {
                self.pop()?;
            }
            Operator::Select => self.select()?,
            Operator::TypedSelect { ty } => {
                val_type(ty).map_err(|w| self.unsupported(&w))?;
                self.select()?;
            }
            Operator::LocalGet { local_index } => {
                let i = local_index as usize;
                match (self.locals.get(i), self.local_types.get(i)) {
                    (Some(&v), Some(&t)) => self.push(v, t),
                    _ => return Err(self.internal("local index out of range")),
                }
            }
            Operator::LocalSet { local_index } => {
                let v = self.pop_v()?;
                self.set_local(local_index, v)?;
            }
            Operator::LocalTee { local_index } => {
                let v = self.peek_n(1)?[0];
                self.set_local(local_index, v)?;
            }
            Operator::GlobalGet { global_index } => match self.global(global_index)? {
                GlobalSlot::Num { global, ty } => {
                    let v = self.inst1(Op::GlobalGet { global });
                    self.push(v, ty);
                }
                GlobalSlot::Ref { table, ty } => {
                    let index = self.inst1(Op::Const(capjit_ir::Const::I32(0)));
                    let v = self.inst1(Op::TableGet { table, index });
                    self.push(v, ValTy::Ref(ty));
                }
            },
            Operator::GlobalSet { global_index } => {
                let value = self.pop_v()?;
                let op = match self.global(global_index)? {
                    GlobalSlot::Num { global, .. } => Op::GlobalSet { global, value },
                    GlobalSlot::Ref { table, .. } => {
                        let index = self.inst1(Op::Const(capjit_ir::Const::I32(0)));
                        Op::TableSet { table, index, value }
                    }
                };
                self.inst(op, 0);
            }
            Operator::I32Load { memarg } => self.load(I32, 4, false, memarg)?,
            Operator::I64Load { memarg } => self.load(I64, 8, false, memarg)?,
            Operator::F32Load { memarg } => self.load(F32, 4, false, memarg)?,
            Operator::F64Load { memarg } => self.load(F64, 8, false, memarg)?,
            Operator::I32Load8S { memarg } => self.load(I32, 1, true, memarg)?,
            Operator::I32Load8U { memarg } => self.load(I32, 1, false, memarg)?,
            Operator::I32Load16S { memarg } => self.load(I32, 2, true, memarg)?,
            Operator::I32Load16U { memarg } => self.load(I32, 2, false, memarg)?,
            Operator::I64Load8S { memarg } => self.load(I64, 1, true, memarg)?,
            Operator::I64Load8U { memarg } => self.load(I64, 1, false, memarg)?,
            Operator::I64Load16S { memarg } => self.load(I64, 2, true, memarg)?,
            Operator::I64Load16U { memarg } => self.load(I64, 2, false, memarg)?,
            Operator::I64Load32S { memarg } => self.load(I64, 4, true, memarg)?,
            Operator::I64Load32U { memarg } => self.load(I64, 4, false, memarg)?,
            Operator::I32Store { memarg } => self.store(I32, 4, memarg)?,
            Operator::I64Store { memarg } => self.store(I64, 8, memarg)?,
            Operator::F32Store { memarg } => self.store(F32, 4, memarg)?,
            Operator::F64Store { memarg } => self.store(F64, 8, memarg)?,
            Operator::I32Store8 { memarg } => self.store(I32, 1, memarg)?,
            Operator::I32Store16 { memarg } => self.store(I32, 2, memarg)?,
            Operator::I64Store8 { memarg } => self.store(I64, 1, memarg)?,
            Operator::I64Store16 { memarg } => self.store(I64, 2, memarg)?,
            Operator::I64Store32 { memarg } => self.store(I64, 4, memarg)?,
            Operator::MemorySize { .. } => {
                let v = self.inst1(Op::MemorySize);
                self.push(v, I32);
            }
            Operator::MemoryGrow { .. } => {
                let delta = self.pop_v()?;
                let v = self.inst1(Op::MemoryGrow { delta });
                self.push(v, I32);
            }
            Operator::MemoryCopy { .. } => {
                let len = self.pop_v()?;
                let src = self.pop_v()?;
                let dst = self.pop_v()?;
                self.inst(Op::MemoryCopy { dst, src, len }, 0);
            }
            Operator::MemoryFill { .. } => {
                let len = self.pop_v()?;
                let byte = self.pop_v()?;
                let dst = self.pop_v()?;
                self.inst(Op::MemoryFill { dst, byte, len }, 0);
            }
            Operator::MemoryInit { data_index, .. } => {
                let len = self.pop_v()?;
                let src = self.pop_v()?;
                let dst = self.pop_v()?;
                let segment = data_index;
                self.inst(Op::MemoryInit { segment, dst, src, len }, 0);
            }
            Operator::DataDrop { data_index } => {
                self.inst(Op::DataDrop { segment: data_index }, 0);
            }
            Operator::ElemDrop { elem_index } => {
                self.inst(Op::ElemDrop { segment: elem_index }, 0);
            }
            Operator::TableInit { elem_index, table } => {
                let [dst, src, len] = self.pop3()?;
                let segment = elem_index;
                self.inst(
                    Op::TableInit {
                        table,
                        segment,
                        dst,
                        src,
                        len,
                    },
                    0,
                );
            }
            Operator::TableCopy { dst_table, src_table } => {
                let [dst, src, len] = self.pop3()?;
                let op = Op::TableCopy {
                    dst_table,
                    src_table,
                    dst,
                    src,
                    len,
                };
                self.inst(op, 0);
            }
            Operator::TableGet { table } => {
                let index = self.pop_v()?;
                let v = self.inst1(Op::TableGet { table, index });
                self.push(v, self.table_type(table)?);
            }
            Operator::TableSet { table } => {
                let value = self.pop_v()?;
                let index = self.pop_v()?;
                self.inst(Op::TableSet { table, index, value }, 0);
            }
            Operator::TableSize { table } => {
                let v = self.inst1(Op::TableSize { table });
                self.push(v, I32);
            }
            Operator::TableGrow { table } => {
                let delta = self.pop_v()?;
                let init = self.pop_v()?;
                let v = self.inst1(Op::TableGrow { table, init, delta });
                self.push(v, I32);
            }
            Operator::TableFill { table } => {
                let [dst, value, len] = self.pop3()?;
                self.inst(Op::TableFill { table, dst, value, len }, 0);
            }
            Operator::RefNull { hty } => {
                let ty = match hty {
                    wasmparser::HeapType::FUNC => RefType::Func,
                    wasmparser::HeapType::EXTERN => RefType::Extern,
                    _ => return Err(self.unsupported(&format!("typed function references or GC (ref.null {hty:?})"))),
                };
                let v = self.inst1(Op::RefNull { ty });
                self.push(v, ValTy::Ref(ty));
            }
            Operator::RefIsNull => {
                let a = self.pop_v()?;
                let v = self.inst1(Op::RefIsNull { a });
                self.push(v, I32);
            }
            Operator::RefFunc { function_index } => {
                let nimp = self.ctx.m.num_imported_funcs();
                let func = match function_index.checked_sub(nimp) {
                    Some(def) => def,
                    None => match self.ctx.wrappers.get(function_index as usize).copied().flatten() {
                        Some(w) => w,
                        None => return Err(self.internal("ref.func of an imported function without a wrapper")),
                    },
                };
                let v = self.inst1(Op::RefFunc { func });
                self.push(v, ValTy::Ref(RefType::Func));
            }
            Operator::I32Const { value } => {
                let v = self.inst1(Op::Const(capjit_ir::Const::I32(value)));
                self.push(v, I32);
            }
            Operator::I64Const { value } => {
                let v = self.inst1(Op::Const(capjit_ir::Const::I64(value)));
                self.push(v, I64);
            }
            Operator::F32Const { value } => {
                let v = self.inst1(Op::Const(capjit_ir::Const::F32(value.bits())));
                self.push(v, F32);
            }
            Operator::F64Const { value } => {
                let v = self.inst1(Op::Const(capjit_ir::Const::F64(value.bits())));
                self.push(v, F64);
            }
            Operator::I32Eqz => self.eqz(I32)?,
            Operator::I64Eqz => self.eqz(I64)?,
            op => {
                if let Some((cc, ty)) = int_compare(&op) {
                    self.icmp(cc, ty)?;
                } else if let Some((cc, ty)) = float_compare(&op) {
                    self.fcmp(cc, ty)?;
                } else if let Some((bop, ty)) = binary(&op) {
                    self.binary(bop, ty)?;
                } else if let Some((uop, ty)) = unary(&op) {
                    self.unary(uop, ty)?;
                } else if let Some((cop, from, to)) = conversion(&op) {
                    self.convert(cop, from, to)?;
                } else {
                    return Err(self.unsupported(&unsupported_operator(&op)));
                }
            }
        }
        Ok(())
    }

    fn global(&self, index: u32) -> Result<GlobalSlot, WasmError> {
        match self.ctx.globals.get(index as usize) {
            Some(&slot) => Ok(slot),
            None => Err(self.internal("global index out of range")),
        }
    }

    /// The top three values, in stack order, removed.
    fn pop3(&mut self) -> Result<[Value; 3], WasmError> {
        let v = self.pop_n(3)?;
        Ok([v[0], v[1], v[2]])
    }

    /// The value type of table `table`'s entries.
    fn table_type(&self, table: u32) -> Result<ValTy, WasmError> {
        match self.ctx.m.tables.get(table as usize) {
            Some(t) => Ok(ValTy::Ref(t.elem)),
            None => Err(self.internal("table index out of range")),
        }
    }

    fn select(&mut self) -> Result<(), WasmError> {
        let cond = self.pop_v()?;
        let (b, _) = self.pop()?;
        let (a, ty) = self.pop()?;
        let v = self.inst1(Op::Select {
            ty: ty.to_ir(),
            cond,
            a,
            b,
        });
        self.push(v, ty);
        Ok(())
    }

    fn set_local(&mut self, index: u32, v: Value) -> Result<(), WasmError> {
        match self.locals.get_mut(index as usize) {
            Some(slot) => {
                *slot = v;
                Ok(())
            }
            None => Err(self.internal("local index out of range")),
        }
    }

    /// The finished blocks in reverse postorder from the entry: blocks unreachable
    /// from the entry are dropped, and every branch goes to a later block except
    /// loop back edges, so fuel (spent on branches to a block that is not later)
    /// is spent on loops only.
    fn finish(mut self) -> Result<Vec<Block>, WasmError> {
        let n = self.blocks.len();
        if n > crate::MAX_BLOCKS {
            return Err(self.limit(format!(
                "function needs {n} blocks, more than the verifier's limit of {}",
                crate::MAX_BLOCKS
            )));
        }
        let succs: Vec<Vec<u32>> = self
            .blocks
            .iter()
            .map(|b| b.term.successors().map(|s| s.0).collect())
            .collect();
        let mut visited = vec![false; n];
        let mut postorder = Vec::with_capacity(n);
        let mut stack: Vec<(usize, usize)> = vec![(0, 0)];
        visited[0] = true;
        while let Some(top) = stack.last_mut() {
            let (b, next) = *top;
            match succs[b].get(next) {
                Some(&s) => {
                    top.1 += 1;
                    let s = s as usize;
                    if s < n && !visited[s] {
                        visited[s] = true;
                        stack.push((s, 0));
                    }
                }
                None => {
                    postorder.push(b);
                    stack.pop();
                }
            }
        }
        if let Some(open) = (0..n).find(|&b| visited[b] && !self.done[b]) {
            return Err(self.internal(&format!("block {open} has no terminator")));
        }
        let mut new_index = vec![u32::MAX; n];
        for (i, &b) in postorder.iter().rev().enumerate() {
            new_index[b] = i as u32;
        }
        let mut blocks: Vec<Option<Block>> = std::mem::take(&mut self.blocks).into_iter().map(Some).collect();
        let mut out = Vec::with_capacity(postorder.len());
        for &b in postorder.iter().rev() {
            let Some(mut block) = blocks[b].take() else {
                return Err(self.internal("block visited twice"));
            };
            block.term.successors_mut().for_each(|t| t.0 = new_index[t.0 as usize]);
            out.push(block);
        }
        Ok(out)
    }
}

fn int_compare(op: &Operator) -> Option<(IntCC, NumType)> {
    use NumType::{I32, I64};
    Some(match op {
        Operator::I32Eq => (IntCC::Eq, I32),
        Operator::I32Ne => (IntCC::Ne, I32),
        Operator::I32LtS => (IntCC::Slt, I32),
        Operator::I32LtU => (IntCC::Ult, I32),
        Operator::I32GtS => (IntCC::Sgt, I32),
        Operator::I32GtU => (IntCC::Ugt, I32),
        Operator::I32LeS => (IntCC::Sle, I32),
        Operator::I32LeU => (IntCC::Ule, I32),
        Operator::I32GeS => (IntCC::Sge, I32),
        Operator::I32GeU => (IntCC::Uge, I32),
        Operator::I64Eq => (IntCC::Eq, I64),
        Operator::I64Ne => (IntCC::Ne, I64),
        Operator::I64LtS => (IntCC::Slt, I64),
        Operator::I64LtU => (IntCC::Ult, I64),
        Operator::I64GtS => (IntCC::Sgt, I64),
        Operator::I64GtU => (IntCC::Ugt, I64),
        Operator::I64LeS => (IntCC::Sle, I64),
        Operator::I64LeU => (IntCC::Ule, I64),
        Operator::I64GeS => (IntCC::Sge, I64),
        Operator::I64GeU => (IntCC::Uge, I64),
        _ => return None,
    })
}

fn float_compare(op: &Operator) -> Option<(FloatCC, NumType)> {
    use NumType::{F32, F64};
    Some(match op {
        Operator::F32Eq => (FloatCC::Eq, F32),
        Operator::F32Ne => (FloatCC::Ne, F32),
        Operator::F32Lt => (FloatCC::Lt, F32),
        Operator::F32Gt => (FloatCC::Gt, F32),
        Operator::F32Le => (FloatCC::Le, F32),
        Operator::F32Ge => (FloatCC::Ge, F32),
        Operator::F64Eq => (FloatCC::Eq, F64),
        Operator::F64Ne => (FloatCC::Ne, F64),
        Operator::F64Lt => (FloatCC::Lt, F64),
        Operator::F64Gt => (FloatCC::Gt, F64),
        Operator::F64Le => (FloatCC::Le, F64),
        Operator::F64Ge => (FloatCC::Ge, F64),
        _ => return None,
    })
}

fn binary(op: &Operator) -> Option<(BinOp, NumType)> {
    use NumType::{F32, F64, I32, I64};
    Some(match op {
        Operator::I32Add => (BinOp::Iadd, I32),
        Operator::I32Sub => (BinOp::Isub, I32),
        Operator::I32Mul => (BinOp::Imul, I32),
        Operator::I32DivS => (BinOp::Sdiv, I32),
        Operator::I32DivU => (BinOp::Udiv, I32),
        Operator::I32RemS => (BinOp::Srem, I32),
        Operator::I32RemU => (BinOp::Urem, I32),
        Operator::I32And => (BinOp::Band, I32),
        Operator::I32Or => (BinOp::Bor, I32),
        Operator::I32Xor => (BinOp::Bxor, I32),
        Operator::I32Shl => (BinOp::Ishl, I32),
        Operator::I32ShrS => (BinOp::Sshr, I32),
        Operator::I32ShrU => (BinOp::Ushr, I32),
        Operator::I32Rotl => (BinOp::Rotl, I32),
        Operator::I32Rotr => (BinOp::Rotr, I32),
        Operator::I64Add => (BinOp::Iadd, I64),
        Operator::I64Sub => (BinOp::Isub, I64),
        Operator::I64Mul => (BinOp::Imul, I64),
        Operator::I64DivS => (BinOp::Sdiv, I64),
        Operator::I64DivU => (BinOp::Udiv, I64),
        Operator::I64RemS => (BinOp::Srem, I64),
        Operator::I64RemU => (BinOp::Urem, I64),
        Operator::I64And => (BinOp::Band, I64),
        Operator::I64Or => (BinOp::Bor, I64),
        Operator::I64Xor => (BinOp::Bxor, I64),
        Operator::I64Shl => (BinOp::Ishl, I64),
        Operator::I64ShrS => (BinOp::Sshr, I64),
        Operator::I64ShrU => (BinOp::Ushr, I64),
        Operator::I64Rotl => (BinOp::Rotl, I64),
        Operator::I64Rotr => (BinOp::Rotr, I64),
        Operator::F32Add => (BinOp::Fadd, F32),
        Operator::F32Sub => (BinOp::Fsub, F32),
        Operator::F32Mul => (BinOp::Fmul, F32),
        Operator::F32Div => (BinOp::Fdiv, F32),
        Operator::F32Min => (BinOp::Fmin, F32),
        Operator::F32Max => (BinOp::Fmax, F32),
        Operator::F32Copysign => (BinOp::Fcopysign, F32),
        Operator::F64Add => (BinOp::Fadd, F64),
        Operator::F64Sub => (BinOp::Fsub, F64),
        Operator::F64Mul => (BinOp::Fmul, F64),
        Operator::F64Div => (BinOp::Fdiv, F64),
        Operator::F64Min => (BinOp::Fmin, F64),
        Operator::F64Max => (BinOp::Fmax, F64),
        Operator::F64Copysign => (BinOp::Fcopysign, F64),
        _ => return None,
    })
}

fn unary(op: &Operator) -> Option<(UnOp, NumType)> {
    use NumType::{F32, F64, I32, I64};
    Some(match op {
        Operator::I32Clz => (UnOp::Clz, I32),
        Operator::I32Ctz => (UnOp::Ctz, I32),
        Operator::I32Popcnt => (UnOp::Popcnt, I32),
        Operator::I64Clz => (UnOp::Clz, I64),
        Operator::I64Ctz => (UnOp::Ctz, I64),
        Operator::I64Popcnt => (UnOp::Popcnt, I64),
        Operator::I32Extend8S => (UnOp::Sext8, I32),
        Operator::I32Extend16S => (UnOp::Sext16, I32),
        Operator::I64Extend8S => (UnOp::Sext8, I64),
        Operator::I64Extend16S => (UnOp::Sext16, I64),
        Operator::I64Extend32S => (UnOp::Sext32, I64),
        Operator::F32Abs => (UnOp::Fabs, F32),
        Operator::F32Neg => (UnOp::Fneg, F32),
        Operator::F32Ceil => (UnOp::Fceil, F32),
        Operator::F32Floor => (UnOp::Ffloor, F32),
        Operator::F32Trunc => (UnOp::Ftrunc, F32),
        Operator::F32Nearest => (UnOp::Fnearest, F32),
        Operator::F32Sqrt => (UnOp::Fsqrt, F32),
        Operator::F64Abs => (UnOp::Fabs, F64),
        Operator::F64Neg => (UnOp::Fneg, F64),
        Operator::F64Ceil => (UnOp::Fceil, F64),
        Operator::F64Floor => (UnOp::Ffloor, F64),
        Operator::F64Trunc => (UnOp::Ftrunc, F64),
        Operator::F64Nearest => (UnOp::Fnearest, F64),
        Operator::F64Sqrt => (UnOp::Fsqrt, F64),
        _ => return None,
    })
}

fn conversion(op: &Operator) -> Option<(ConvOp, NumType, NumType)> {
    use NumType::{F32, F64, I32, I64};
    Some(match op {
        Operator::I32WrapI64 => (ConvOp::Wrap, I64, I32),
        Operator::I64ExtendI32S => (ConvOp::Sextend, I32, I64),
        Operator::I64ExtendI32U => (ConvOp::Uextend, I32, I64),
        Operator::I32TruncF32S => (ConvOp::FtoSint, F32, I32),
        Operator::I32TruncF32U => (ConvOp::FtoUint, F32, I32),
        Operator::I32TruncF64S => (ConvOp::FtoSint, F64, I32),
        Operator::I32TruncF64U => (ConvOp::FtoUint, F64, I32),
        Operator::I64TruncF32S => (ConvOp::FtoSint, F32, I64),
        Operator::I64TruncF32U => (ConvOp::FtoUint, F32, I64),
        Operator::I64TruncF64S => (ConvOp::FtoSint, F64, I64),
        Operator::I64TruncF64U => (ConvOp::FtoUint, F64, I64),
        Operator::I32TruncSatF32S => (ConvOp::FtoSintSat, F32, I32),
        Operator::I32TruncSatF32U => (ConvOp::FtoUintSat, F32, I32),
        Operator::I32TruncSatF64S => (ConvOp::FtoSintSat, F64, I32),
        Operator::I32TruncSatF64U => (ConvOp::FtoUintSat, F64, I32),
        Operator::I64TruncSatF32S => (ConvOp::FtoSintSat, F32, I64),
        Operator::I64TruncSatF32U => (ConvOp::FtoUintSat, F32, I64),
        Operator::I64TruncSatF64S => (ConvOp::FtoSintSat, F64, I64),
        Operator::I64TruncSatF64U => (ConvOp::FtoUintSat, F64, I64),
        Operator::F32ConvertI32S => (ConvOp::SintToF, I32, F32),
        Operator::F32ConvertI32U => (ConvOp::UintToF, I32, F32),
        Operator::F32ConvertI64S => (ConvOp::SintToF, I64, F32),
        Operator::F32ConvertI64U => (ConvOp::UintToF, I64, F32),
        Operator::F64ConvertI32S => (ConvOp::SintToF, I32, F64),
        Operator::F64ConvertI32U => (ConvOp::UintToF, I32, F64),
        Operator::F64ConvertI64S => (ConvOp::SintToF, I64, F64),
        Operator::F64ConvertI64U => (ConvOp::UintToF, I64, F64),
        Operator::F32DemoteF64 => (ConvOp::Demote, F64, F32),
        Operator::F64PromoteF32 => (ConvOp::Promote, F32, F64),
        Operator::I32ReinterpretF32 => (ConvOp::Bitcast, F32, I32),
        Operator::I64ReinterpretF64 => (ConvOp::Bitcast, F64, I64),
        Operator::F32ReinterpretI32 => (ConvOp::Bitcast, I32, F32),
        Operator::F64ReinterpretI64 => (ConvOp::Bitcast, I64, F64),
        _ => return None,
    })
}

/// The feature an operator outside the frontend's scope belongs to.
fn unsupported_operator(op: &Operator) -> String {
    let name = format!("{op:?}");
    let name = name.split([' ', '{', '(']).next().unwrap_or("").to_string();
    let feature = match op {
        Operator::ReturnCall { .. } | Operator::ReturnCallIndirect { .. } => "tail calls",
        _ if name.starts_with("V128") || name.starts_with("I8x16") || name.contains("x4") || name.contains("x2") => {
            "SIMD"
        }
        _ if name.contains("Atomic") => "threads",
        _ => "operator",
    };
    format!("{feature} (`{name}`)")
}
