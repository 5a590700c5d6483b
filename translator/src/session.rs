//! TRUSTED. A translation session: one JIT module with every function of a
//! verified module declared, into which functions are translated a batch at a
//! time — all of them up front (eager), or a function and what it reaches by
//! direct calls at its first call through a table (lazy, `lazy.rs`).
//!
//! Invariant protected: a function is lowered from the verified module the
//! session was made for, with that module's signature numbers and the session's
//! settings, whenever it is translated; its code is handed out only after
//! `finalize` made it executable, and lives as long as the session.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use capjit_ir::{Module, Type};
use capjit_tcb::EntryFn;
use capjit_verifier::Verified;
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::{types, AbiParam, ExtFuncData, ExternalName, Signature, UserExternalName, UserFuncName};
use cranelift_codegen::isa::CallConv;
use cranelift_codegen::Context;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, FuncId, Linkage, Module as _, ModuleReloc};

use crate::{host_isa, lower, trampoline, Config, Stats, TranslateError};

pub(crate) struct Session {
    /// `None` only while dropping.
    jit: Option<JITModule>,
    decls: Decls,
    pub(crate) sig_ids: lower::SigIds,
    ctx: Context,
    fb_ctx: FunctionBuilderContext,
    pub(crate) stats: Stats,
    /// `(domain.function, text)` with `Config::keep_clif` / `keep_asm`.
    pub(crate) clif: Vec<(String, String)>,
    pub(crate) asm: Vec<(String, String)>,
    /// With `Config::keep_functions`: each function body in definition order.
    pub(crate) functions: Vec<cranelift_codegen::ir::Function>,
    /// The largest frame of a function / of a trampoline translated so far.
    pub(crate) max_frame: u64,
    pub(crate) max_trampoline: u64,
}

/// The fewest functions a batch is translated in parallel for.
const PARALLEL_BATCH: usize = 16;

/// What lowering a function needs to know of the session, shared by the threads
/// that lower and compile functions in parallel.
struct Decls {
    cfg: Config,
    call_conv: CallConv,
    /// By `Helper as usize`, like `Refs::helpers`.
    helper_ids: [Option<FuncId>; lower::Helper::ALL.len()],
    /// `func_ids[domain][function]`.
    func_ids: Vec<Vec<FuncId>>,
    /// By `FuncId`: its signature, and whether the session defines it (a near
    /// call) rather than imports it (a helper).
    imports: Vec<(Signature, bool)>,
    /// `ready[domain][function]`: the function is (or is being) defined in this
    /// session and will be handed out, so its callers call it directly
    /// (`mark_batch` keeps every direct callee of a translated function ready).
    ready: Vec<Vec<bool>>,
}

/// A function lowered and compiled by a worker thread, to be defined in the JIT
/// module by the session's own thread.
struct Done {
    id: FuncId,
    bytes: Vec<u8>,
    alignment: u64,
    relocs: Vec<ModuleReloc>,
    frame: u64,
    clif_instructions: usize,
    lower: Duration,
    compile: Duration,
}

fn codegen_err(function: &str, e: &dyn std::fmt::Display) -> TranslateError {
    TranslateError::Codegen {
        function: function.to_string(),
        message: e.to_string(),
    }
}

/// A helper's native signature, from its one declaration in the runtime: the
/// context pointer, its parameters, an i32 back.
fn helper_signature(call_conv: CallConv, params: &[capjit_tcb::helpers::Param]) -> Signature {
    use capjit_tcb::helpers::Param;
    let mut s = Signature::new(call_conv);
    s.params.push(AbiParam::new(types::I64));
    s.params.extend(params.iter().map(|p| {
        AbiParam::new(match p {
            Param::I32 => types::I32,
            Param::I64 => types::I64,
        })
    }));
    s.returns.push(AbiParam::new(types::I32));
    s
}

/// The native frame Cranelift laid out for the function it just compiled in `ctx`:
/// everything between the stack pointer and the frame pointer, plus the saved frame
/// pointer and return address.
fn frame_bytes(ctx: &Context) -> Option<u64> {
    let layout = ctx.compiled_code()?.buffer.frame_layout()?;
    Some(layout.frame_to_fp_offset as u64 + 16)
}

impl Session {
    /// Declare the helpers and every function of `m`.
    pub(crate) fn new(m: &Module, cfg: &Config) -> Result<Session, TranslateError> {
        let isa = host_isa(cfg)?;
        let call_conv = isa.default_call_conv();
        let mut builder = JITBuilder::with_isa(isa, default_libcall_names());
        for h in lower::Helper::ALL {
            builder.symbol(h.name(), h.address());
        }
        let mut jit = JITModule::new(builder);
        let mut helper_ids = [None; lower::Helper::ALL.len()];
        let mut imports = Vec::new();
        for h in lower::Helper::ALL {
            let sig = helper_signature(call_conv, h.params());
            let id = jit
                .declare_function(h.name(), Linkage::Import, &sig)
                .map_err(|e| codegen_err(h.name(), &e))?;
            helper_ids[h as usize] = Some(id);
            imports.push((id, sig, false));
        }
        let mut func_ids = Vec::with_capacity(m.domains.len());
        for (di, d) in m.domains.iter().enumerate() {
            let mut ids = Vec::with_capacity(d.functions.len());
            for (fi, f) in d.functions.iter().enumerate() {
                let sig = lower::function_signature(&f.sig, call_conv);
                let id = jit
                    .declare_function(&format!("f{di}_{fi}"), Linkage::Local, &sig)
                    .map_err(|e| codegen_err(&f.name, &e))?;
                ids.push(id);
                imports.push((id, sig, true));
            }
            func_ids.push(ids);
        }
        // Declared in order, so `FuncId`s count from 0.
        imports.sort_by_key(|(id, _, _)| id.as_u32());
        Ok(Session {
            jit: Some(jit),
            decls: Decls {
                cfg: cfg.clone(),
                call_conv,
                helper_ids,
                imports: imports.into_iter().map(|(_, sig, local)| (sig, local)).collect(),
                ready: func_ids.iter().map(|ids| vec![false; ids.len()]).collect(),
                func_ids,
            },
            sig_ids: lower::SigIds::of_functions(m),
            ctx: Context::new(),
            fb_ctx: FunctionBuilderContext::new(),
            stats: Stats::default(),
            clif: Vec::new(),
            asm: Vec::new(),
            functions: Vec::new(),
            max_frame: 0,
            max_trampoline: 0,
        })
    }

    /// The next batch to define: `roots` and every function they reach by direct
    /// calls, except those translated already; all marked ready, so that the
    /// batch calls every function directly. A translated function's direct
    /// callees are therefore always translated too.
    pub(crate) fn mark_batch(&mut self, m: &Module, roots: &[(usize, usize)]) -> Vec<(usize, usize)> {
        let ready = &mut self.decls.ready;
        let mut batch: Vec<(usize, usize)> = Vec::new();
        for &(di, fi) in roots {
            if !ready[di][fi] {
                ready[di][fi] = true;
                batch.push((di, fi));
            }
        }
        let mut next = 0;
        while let Some(&(di, fi)) = batch.get(next) {
            next += 1;
            for inst in m.domains[di].functions[fi].blocks.iter().flat_map(|b| &b.insts) {
                if let capjit_ir::Op::Call { func, .. } = inst.op {
                    if !ready[di][func as usize] {
                        ready[di][func as usize] = true;
                        batch.push((di, func as usize));
                    }
                }
            }
        }
        batch
    }

    /// A batch refused after `mark_batch`: its functions are not handed out, so
    /// nothing translated later may call them directly.
    pub(crate) fn unmark(&mut self, batch: &[(usize, usize)]) {
        for &(di, fi) in batch {
            self.decls.ready[di][fi] = false;
        }
    }

    /// The threads `define_all` should use (`Config::threads`, 0: one per core).
    pub(crate) fn threads(&self) -> usize {
        match self.decls.cfg.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }

    /// Whether every function is translated.
    pub(crate) fn all_ready(&self) -> bool {
        self.decls.ready.iter().flatten().all(|r| *r)
    }

    /// Whether function `fi` of domain `di` is translated (or in the batch).
    pub(crate) fn is_ready(&self, di: usize, fi: usize) -> bool {
        self.decls.ready[di][fi]
    }

    /// Lower and compile function `fi` of domain `di` of `v` (the module the
    /// session was made for); returns its frame size. Its code exists after the
    /// next `finalize`.
    pub(crate) fn define(&mut self, v: &Verified<Module>, di: usize, fi: usize) -> Result<u64, TranslateError> {
        let m = v.module();
        let (d, f) = (&m.domains[di], &m.domains[di].functions[fi]);
        let name = format!("{}.{}", d.name, f.name);
        self.count(f);
        let jit = self.jit.as_mut().expect("the JIT module lives as long as the session");
        let started = Instant::now();
        self.ctx.set_disasm(self.decls.cfg.keep_asm);
        let clif_instructions = lower_function(
            &self.decls,
            &self.sig_ids,
            jit.isa().frontend_config(),
            v,
            (di, fi),
            &mut self.ctx,
            &mut self.fb_ctx,
        );
        self.stats.lower += started.elapsed();
        self.stats.clif_instructions += clif_instructions;
        if self.decls.cfg.keep_clif {
            self.clif.push((name.clone(), self.ctx.func.display().to_string()));
        }
        if self.decls.cfg.keep_functions {
            self.functions.push(self.ctx.func.clone());
        }

        let started = Instant::now();
        jit.define_function(self.decls.func_ids[di][fi], &mut self.ctx)
            .map_err(|e| codegen_err(&name, &format!("{e:?}")))?;
        self.stats.compile += started.elapsed();
        let frame = frame_bytes(&self.ctx).ok_or_else(|| codegen_err(&name, &"no frame layout"))?;
        self.max_frame = self.max_frame.max(frame);
        if let Some(code) = self.ctx.compiled_code() {
            self.stats.code_bytes += code.code_info().total_size as usize;
            if self.decls.cfg.keep_asm {
                self.asm.push((name, code.vcode.clone().unwrap_or_default()));
            }
        }
        Ok(frame)
    }

    fn count(&mut self, f: &capjit_ir::Function) {
        self.stats.functions += 1;
        self.stats.ir_instructions += f.blocks.iter().map(|b| b.insts.len() + 1).sum::<usize>();
    }

    /// `define` for each of `functions`, lowered and compiled on `threads`
    /// threads (the listings `Config` may ask to keep need one thread).
    /// Returns the largest frame of the batch.
    pub(crate) fn define_all(
        &mut self,
        v: &Verified<Module>,
        functions: &[(usize, usize)],
        threads: usize,
    ) -> Result<u64, TranslateError> {
        let cfg = &self.decls.cfg;
        // Starting threads for a few functions costs more (time, and memory each
        // thread's allocator keeps) than it saves.
        let threads = if functions.len() < PARALLEL_BATCH { 1 } else { threads };
        if threads <= 1 || cfg.keep_clif || cfg.keep_asm || cfg.keep_functions {
            let mut largest = 0;
            for &(di, fi) in functions {
                largest = largest.max(self.define(v, di, fi)?);
            }
            return Ok(largest);
        }
        let m = v.module();
        // Largest first, so that no thread is left with a big one at the end.
        let mut order = functions.to_vec();
        order.sort_by_key(|&(di, fi)| {
            std::cmp::Reverse(
                m.domains[di].functions[fi]
                    .blocks
                    .iter()
                    .map(|b| b.insts.len())
                    .sum::<usize>(),
            )
        });
        let jit = self.jit.as_ref().expect("the JIT module lives as long as the session");
        let (isa, decls, sig_ids) = (jit.isa(), &self.decls, &self.sig_ids);
        let next = AtomicUsize::new(0);
        let work = || -> Result<Vec<Done>, TranslateError> {
            let (mut ctx, mut fb_ctx, mut done) = (Context::new(), FunctionBuilderContext::new(), Vec::new());
            while let Some(&(di, fi)) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                let name = || format!("{}.{}", m.domains[di].name, m.domains[di].functions[fi].name);
                let started = Instant::now();
                let clif_instructions = lower_function(
                    decls,
                    sig_ids,
                    isa.frontend_config(),
                    v,
                    (di, fi),
                    &mut ctx,
                    &mut fb_ctx,
                );
                let lower = started.elapsed();
                let started = Instant::now();
                ctx.compile(isa, &mut ControlPlane::default())
                    .map_err(|e| codegen_err(&name(), &format!("{:?}", e.inner)))?;
                let frame = frame_bytes(&ctx).ok_or_else(|| codegen_err(&name(), &"no frame layout"))?;
                let code = ctx.compiled_code().ok_or_else(|| codegen_err(&name(), &"no code"))?;
                let id = decls.func_ids[di][fi];
                done.push(Done {
                    id,
                    bytes: code.code_buffer().to_vec(),
                    alignment: code.buffer.alignment as u64,
                    relocs: code
                        .buffer
                        .relocs()
                        .iter()
                        .map(|r| ModuleReloc::from_mach_reloc(r, &ctx.func, id))
                        .collect(),
                    frame,
                    clif_instructions,
                    lower,
                    compile: started.elapsed(),
                });
            }
            Ok(done)
        };
        let results: Vec<_> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads).map(|_| s.spawn(work)).collect();
            workers
                .into_iter()
                .map(|w| w.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
                .collect()
        });
        for &(di, fi) in functions {
            self.count(&m.domains[di].functions[fi]);
        }
        let jit = self.jit.as_mut().expect("the JIT module lives as long as the session");
        let mut largest = 0;
        for done in results {
            for f in done? {
                largest = largest.max(f.frame);
                jit.define_function_bytes(f.id, f.alignment, &f.bytes, &f.relocs)
                    .map_err(|e| codegen_err(&format!("function {}", f.id), &format!("{e:?}")))?;
                self.stats.clif_instructions += f.clif_instructions;
                self.stats.code_bytes += f.bytes.len();
                self.stats.lower += f.lower;
                self.stats.compile += f.compile;
                self.max_frame = self.max_frame.max(f.frame);
            }
        }
        Ok(largest)
    }

    /// Define the entry trampoline of exported function `fi` of domain `di`.
    pub(crate) fn define_trampoline(&mut self, m: &Module, di: usize, fi: usize) -> Result<FuncId, TranslateError> {
        let f = &m.domains[di].functions[fi];
        let name = format!("{}.{}", m.domains[di].name, f.name);
        let started = Instant::now();
        let jit = self.jit.as_mut().expect("the JIT module lives as long as the session");
        let id = trampoline::define(
            jit,
            &mut self.ctx,
            &mut self.fb_ctx,
            self.decls.call_conv,
            (di, fi),
            &f.sig,
            self.decls.func_ids[di][fi],
        )
        .map_err(|e| codegen_err(&name, &e))?;
        self.stats.compile += started.elapsed();
        let frame = frame_bytes(&self.ctx).ok_or_else(|| codegen_err(&name, &"no frame layout"))?;
        self.max_trampoline = self.max_trampoline.max(frame);
        Ok(id)
    }

    /// Make everything defined so far executable.
    pub(crate) fn finalize(&mut self) -> Result<(), TranslateError> {
        let started = Instant::now();
        let jit = self.jit.as_mut().expect("the JIT module lives as long as the session");
        jit.finalize_definitions()
            .map_err(|e| codegen_err("<link>", &format!("{e:?}")))?;
        self.stats.link += started.elapsed();
        Ok(())
    }

    /// The code of function `fi` of domain `di`, defined and finalized.
    pub(crate) fn code(&self, di: usize, fi: usize) -> *const u8 {
        let jit = self.jit.as_ref().expect("the JIT module lives as long as the session");
        jit.get_finalized_function(self.decls.func_ids[di][fi])
    }

    /// The trampoline `id` (from `define_trampoline`), finalized.
    pub(crate) fn entry(&self, id: FuncId) -> EntryFn {
        let jit = self.jit.as_ref().expect("the JIT module lives as long as the session");
        let ptr = jit.get_finalized_function(id);
        // SAFETY: `id` is a trampoline defined by `trampoline::define` with exactly
        // the `EntryFn` signature (ctx, args, results) -> u32 in the host's default
        // (C) calling convention, and finalized.
        unsafe { std::mem::transmute::<*const u8, EntryFn>(ptr) }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(jit) = self.jit.take() {
            // SAFETY: whoever holds code of this session holds the session too (a
            // `Compiled`, or the runtime through `lazy.rs`) and drops the session
            // last, so nothing can run the code after this point.
            unsafe { jit.free_memory() };
        }
    }
}

/// Lower function `fi` of domain `di` of `v` into `ctx.func`; returns its number
/// of CLIF instructions.
fn lower_function(
    decls: &Decls,
    sig_ids: &lower::SigIds,
    frontend_config: cranelift_codegen::isa::TargetFrontendConfig,
    v: &Verified<Module>,
    (di, fi): (usize, usize),
    ctx: &mut Context,
    fb_ctx: &mut FunctionBuilderContext,
) -> usize {
    let (d, f) = (&v.module().domains[di], &v.module().domains[di].functions[fi]);
    ctx.clear();
    ctx.func.signature = lower::function_signature(&f.sig, decls.call_conv);
    ctx.func.name = UserFuncName::user(di as u32, fi as u32);
    {
        let refs = declare_refs(decls, di, &mut ctx.func, f, sig_ids);
        let mut b = FunctionBuilder::new(&mut ctx.func, fb_ctx);
        let proven = |bi: usize, ii: usize| v.access_proven(di, fi, bi, ii);
        let data_results = f.exported && f.sig.results.iter().any(|t| matches!(t, Type::Buf | Type::Region));
        lower::Lower::new(&mut b, d, f, fi as u32, data_results, &refs, &proven).lower();
        b.finalize(frontend_config);
    }
    let layout = &ctx.func.layout;
    layout.blocks().map(|b| layout.block_insts(b).count()).sum()
}

/// Import function `id` of the session into `func`, as `Module::declare_func_in_func`
/// does: by its `FuncId`, with its signature, near when the session defines it.
fn import(decls: &Decls, func: &mut cranelift_codegen::ir::Function, id: FuncId) -> cranelift_codegen::ir::FuncRef {
    let (sig, colocated) = &decls.imports[id.as_u32() as usize];
    let signature = func.import_signature(sig.clone());
    let name = func.declare_imported_user_function(UserExternalName {
        namespace: 0,
        index: id.as_u32(),
    });
    func.import_function(ExtFuncData {
        name: ExternalName::user(name),
        signature,
        colocated: *colocated,
        patchable: false,
    })
}

/// Import the helpers and the functions `f` (of domain `di`) uses into the CLIF
/// function: of the callees, those `ready` (the rest are called through `ctx.code`).
fn declare_refs<'s>(
    decls: &Decls,
    di: usize,
    func: &mut cranelift_codegen::ir::Function,
    f: &capjit_ir::Function,
    sig_ids: &'s lower::SigIds,
) -> lower::Refs<'s> {
    let (domain_funcs, ready, cfg) = (&decls.func_ids[di], &decls.ready[di], &decls.cfg);
    let mut callees = vec![None; domain_funcs.len()];
    let mut helpers = [None; lower::Helper::ALL.len()];
    let mut need = |h: lower::Helper, func: &mut cranelift_codegen::ir::Function| {
        if let (None, Some(id)) = (helpers[h as usize], decls.helper_ids[h as usize]) {
            helpers[h as usize] = Some(import(decls, func, id));
        }
    };
    for b in &f.blocks {
        for inst in &b.insts {
            if let capjit_ir::Op::Call { func: callee, .. } = inst.op {
                let callee = callee as usize;
                if let (Some(slot @ None), Some(true)) = (callees.get_mut(callee), ready.get(callee)) {
                    *slot = Some(import(decls, func, domain_funcs[callee]));
                }
            }
            if let Some(h) = lower::helper_of_op(&inst.op) {
                need(h, func);
            }
            if matches!(inst.op, capjit_ir::Op::Call { .. } | capjit_ir::Op::CallIndirect { .. }) {
                need(lower::Helper::TrapCaller, func);
            }
            if cfg.lazy && matches!(inst.op, capjit_ir::Op::CallIndirect { .. }) {
                need(lower::Helper::Translate, func);
            }
        }
        if matches!(b.term, capjit_ir::Terminator::CallCap { .. }) {
            need(lower::Helper::CallCap, func);
            need(lower::Helper::IdcFault, func);
        }
    }
    lower::Refs {
        helpers,
        callees,
        sig_ids,
        spectre_guards: cfg.spectre_guards,
        fuel: cfg.fuel,
        lazy: cfg.lazy,
    }
}
