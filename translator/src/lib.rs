//! TRUSTED. The capjit translator: a [`Verified`] module to native code through
//! Cranelift, one IR instruction to a few CLIF instructions, without optimisation.
//!
//! Invariant protected: only verified modules are translated, and the code emitted
//! for them keeps every guarantee the verifier relies on (see `lower.rs`): no
//! instruction that can fault or trap, explicit checks for every access the
//! verifier did not prove, fuel and call-depth accounting, status propagation.
//!
//! Only x86-64 Linux hosts are supported; anything else gets
//! [`TranslateError::UnsupportedHost`].

mod instance;
mod lower;
mod trampoline;

pub use instance::{InstantiateError, JitInstance};

use std::time::{Duration, Instant};

use capjit_ir::{Module, Type};
use capjit_tcb::ctx::TableEntry;
use capjit_tcb::EntryFn;
use capjit_verifier::Verified;
use cranelift_codegen::ir::{types, AbiParam, Signature, UserFuncName};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_codegen::Context;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, FuncId, Linkage, Module as _};

pub use lower::clif_type;

/// Which register allocator Cranelift uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Regalloc {
    Backtracking,
    SinglePass,
}

/// Translation settings. The defaults are the measured choice (`docs/translator.md`).
#[derive(Clone, Debug)]
pub struct Config {
    /// Run Cranelift's own IR verifier on every function (slow; for debugging).
    pub cranelift_verifier: bool,
    pub regalloc: Regalloc,
    /// Keep the CLIF text of every function.
    pub keep_clif: bool,
    /// Keep the machine-code listing of every function.
    pub keep_asm: bool,
    /// Keep a copy of every function's CLIF as handed to Cranelift (benchmarks).
    pub keep_functions: bool,
    /// Clamp each checked memory address and table index with a conditional move
    /// after its bounds check, so that a mispredicted check reads nothing out of
    /// bounds (Spectre variant 1). On by default; turning it off is for measuring.
    pub spectre_guards: bool,
    /// Emit fuel code (a count at function entries and backward branches).
    /// `JitInstance` turns it off when the limits give unlimited fuel.
    pub fuel: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            cranelift_verifier: false,
            regalloc: Regalloc::Backtracking,
            keep_clif: false,
            keep_asm: false,
            keep_functions: false,
            spectre_guards: true,
            fuel: true,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TranslateError {
    #[error("unsupported host: capjit generates code for x86-64 Linux only ({0})")]
    UnsupportedHost(String),
    #[error("code generation failed in `{function}`: {message}")]
    Codegen { function: String, message: String },
}

/// Counts and timings of one translation.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub functions: usize,
    pub ir_instructions: usize,
    pub clif_instructions: usize,
    pub code_bytes: usize,
    pub lower: Duration,
    pub compile: Duration,
    pub link: Duration,
}

/// Native code for a module, kept alive as long as this value lives.
pub struct Compiled {
    jit: Option<JITModule>,
    /// Entry trampolines: `entries[domain][function]`, for exported functions.
    pub entries: Vec<Vec<Option<EntryFn>>>,
    /// Native code of exported functions (the inline IDC path calls it directly).
    pub exported_code: Vec<Vec<Option<*const u8>>>,
    /// Each function of each domain as a table entry: code, signature number (see
    /// `lower::SigIds`) and index; what a funcref to it puts in a table.
    pub table_entries: Vec<Vec<TableEntry>>,
    /// The largest native stack frame of any function, in bytes, as compiled.
    pub max_frame_bytes: u64,
    /// The largest frame of an entry trampoline (zero without exports).
    pub max_trampoline_bytes: u64,
    /// Whether any function has a `call_cap`, whose runtime path puts the runtime's
    /// own frames and an entry trampoline between two generated frames.
    pub has_call_cap: bool,
    pub stats: Stats,
    /// `(domain.function, text)` when asked for.
    pub clif: Vec<(String, String)>,
    pub asm: Vec<(String, String)>,
    /// With `keep_functions`: each function body in definition order (not the
    /// trampolines); its callees are `FuncId`s of the `JITModule` declarations.
    pub functions: Vec<cranelift_codegen::ir::Function>,
}

impl Drop for Compiled {
    fn drop(&mut self) {
        if let Some(jit) = self.jit.take() {
            // SAFETY: `Compiled` owns the only handles to this code (the entry
            // pointers die with it), so nothing can run it after this point.
            unsafe { jit.free_memory() };
        }
    }
}

/// The target ISA `translate` compiles for, with the flags `cfg` selects.
pub fn host_isa(cfg: &Config) -> Result<cranelift_codegen::isa::OwnedTargetIsa, TranslateError> {
    if !cfg!(all(target_arch = "x86_64", target_os = "linux")) {
        return Err(TranslateError::UnsupportedHost(format!(
            "this is {}-{}",
            std::env::consts::ARCH,
            std::env::consts::OS
        )));
    }
    let mut flags = settings::builder();
    let set = |flags: &mut settings::Builder, k: &str, v: &str| {
        flags
            .set(k, v)
            .map_err(|e| TranslateError::UnsupportedHost(format!("setting {k}={v}: {e}")))
    };
    set(&mut flags, "opt_level", "none")?;
    set(
        &mut flags,
        "enable_verifier",
        if cfg.cranelift_verifier { "true" } else { "false" },
    )?;
    set(&mut flags, "enable_nan_canonicalization", "true")?;
    set(&mut flags, "enable_multi_ret_implicit_sret", "true")?;
    set(
        &mut flags,
        "regalloc_algorithm",
        match cfg.regalloc {
            Regalloc::Backtracking => "backtracking",
            Regalloc::SinglePass => "single_pass",
        },
    )?;
    let isa = cranelift_native::builder().map_err(|e| TranslateError::UnsupportedHost(e.to_string()))?;
    isa.finish(settings::Flags::new(flags))
        .map_err(|e| TranslateError::UnsupportedHost(e.to_string()))
}

/// A helper's native signature, from its one declaration in the runtime: the
/// context pointer, its parameters, an i32 back.
fn helper_signature(call_conv: cranelift_codegen::isa::CallConv, params: &[capjit_tcb::helpers::Param]) -> Signature {
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

/// Translate every function of a verified module.
pub fn translate(v: &Verified<Module>, cfg: &Config) -> Result<Compiled, TranslateError> {
    let isa = host_isa(cfg)?;
    let call_conv = isa.default_call_conv();
    let mut builder = JITBuilder::with_isa(isa, default_libcall_names());
    for h in lower::Helper::ALL {
        builder.symbol(h.name(), h.address());
    }
    let mut jit = JITModule::new(builder);
    let frontend_config = jit.isa().frontend_config();
    let m = v.module();
    let codegen_err = |function: &str, e: &dyn std::fmt::Display| TranslateError::Codegen {
        function: function.to_string(),
        message: e.to_string(),
    };

    // Declarations: helpers, every function, every export's trampoline.
    // By `Helper as usize`, like `Refs::helpers`.
    let mut helper_ids = [None; lower::Helper::ALL.len()];
    for h in lower::Helper::ALL {
        let id = jit
            .declare_function(h.name(), Linkage::Import, &helper_signature(call_conv, h.params()))
            .map_err(|e| codegen_err(h.name(), &e))?;
        helper_ids[h as usize] = Some(id);
    }
    let mut func_ids: Vec<Vec<FuncId>> = Vec::new();
    for (di, d) in m.domains.iter().enumerate() {
        let mut ids = Vec::new();
        for (fi, f) in d.functions.iter().enumerate() {
            let sig = lower::function_signature(&f.sig, call_conv);
            let id = jit
                .declare_function(&format!("f{di}_{fi}"), Linkage::Local, &sig)
                .map_err(|e| codegen_err(&f.name, &e))?;
            ids.push(id);
        }
        func_ids.push(ids);
    }

    let mut stats = Stats::default();
    let mut clif = Vec::new();
    let mut asm = Vec::new();
    let mut functions = Vec::new();
    let mut max_frame = 0u64;
    let mut max_trampoline = 0u64;
    let mut ctx = Context::new();
    let mut fb_ctx = FunctionBuilderContext::new();
    let mut trampolines: Vec<Vec<Option<FuncId>>> = Vec::new();
    let sig_ids = lower::SigIds::of_functions(m);

    for (di, d) in m.domains.iter().enumerate() {
        let mut domain_tramps = Vec::new();
        for (fi, f) in d.functions.iter().enumerate() {
            let name = format!("{}.{}", d.name, f.name);
            stats.functions += 1;
            stats.ir_instructions += f.blocks.iter().map(|b| b.insts.len() + 1).sum::<usize>();

            let started = Instant::now();
            ctx.clear();
            ctx.set_disasm(cfg.keep_asm);
            ctx.func.signature = lower::function_signature(&f.sig, call_conv);
            ctx.func.name = UserFuncName::user(di as u32, fi as u32);
            {
                let refs = declare_refs(&mut jit, &mut ctx.func, &helper_ids, &func_ids[di], f, &sig_ids, cfg);
                let mut b = FunctionBuilder::new(&mut ctx.func, &mut fb_ctx);
                let proven = |bi: usize, ii: usize| v.access_proven(di, fi, bi, ii);
                let data_results = f.exported && f.sig.results.iter().any(|t| matches!(t, Type::Buf | Type::Region));
                lower::Lower::new(&mut b, d, f, fi as u32, data_results, &refs, &proven).lower();
                b.finalize(frontend_config);
            }
            stats.lower += started.elapsed();
            stats.clif_instructions += ctx
                .func
                .layout
                .blocks()
                .map(|b| ctx.func.layout.block_insts(b).count())
                .sum::<usize>();
            if cfg.keep_clif {
                clif.push((name.clone(), ctx.func.display().to_string()));
            }
            if cfg.keep_functions {
                functions.push(ctx.func.clone());
            }

            let started = Instant::now();
            jit.define_function(func_ids[di][fi], &mut ctx)
                .map_err(|e| codegen_err(&name, &format!("{e:?}")))?;
            stats.compile += started.elapsed();
            max_frame = max_frame.max(frame_bytes(&ctx).ok_or_else(|| codegen_err(&name, &"no frame layout"))?);
            if let Some(code) = ctx.compiled_code() {
                stats.code_bytes += code.code_info().total_size as usize;
                if cfg.keep_asm {
                    asm.push((name.clone(), code.vcode.clone().unwrap_or_default()));
                }
            }

            let tramp = if f.exported {
                let started = Instant::now();
                let id = trampoline::define(
                    &mut jit,
                    &mut ctx,
                    &mut fb_ctx,
                    call_conv,
                    (di, fi),
                    &f.sig,
                    func_ids[di][fi],
                )
                .map_err(|e| codegen_err(&name, &e))?;
                stats.compile += started.elapsed();
                max_trampoline =
                    max_trampoline.max(frame_bytes(&ctx).ok_or_else(|| codegen_err(&name, &"no frame layout"))?);
                Some(id)
            } else {
                None
            };
            domain_tramps.push(tramp);
        }
        trampolines.push(domain_tramps);
    }

    let started = Instant::now();
    jit.finalize_definitions()
        .map_err(|e| codegen_err("<link>", &format!("{e:?}")))?;
    let entries = trampolines
        .iter()
        .map(|ds| {
            ds.iter()
                .map(|t| {
                    t.map(|id| {
                        let ptr = jit.get_finalized_function(id);
                        // SAFETY: `id` is a trampoline defined by `trampoline::define`
                        // with exactly the `EntryFn` signature (ctx, args, results) -> u32
                        // in the host's default (C) calling convention.
                        unsafe { std::mem::transmute::<*const u8, EntryFn>(ptr) }
                    })
                })
                .collect()
        })
        .collect();
    let exported_code = m
        .domains
        .iter()
        .enumerate()
        .map(|(di, d)| {
            d.functions
                .iter()
                .enumerate()
                .map(|(fi, f)| f.exported.then(|| jit.get_finalized_function(func_ids[di][fi])))
                .collect()
        })
        .collect();
    let table_entries = m
        .domains
        .iter()
        .enumerate()
        .map(|(di, d)| {
            d.functions
                .iter()
                .enumerate()
                .map(|(fi, f)| TableEntry {
                    code: jit.get_finalized_function(func_ids[di][fi]),
                    sig: sig_ids.id(&f.sig),
                    item: fi as u64,
                })
                .collect()
        })
        .collect();
    stats.link = started.elapsed();
    Ok(Compiled {
        jit: Some(jit),
        entries,
        exported_code,
        table_entries,
        max_frame_bytes: max_frame,
        max_trampoline_bytes: max_trampoline,
        has_call_cap: m
            .domains
            .iter()
            .flat_map(|d| &d.functions)
            .flat_map(|f| &f.blocks)
            .any(|b| matches!(b.term, capjit_ir::Terminator::CallCap { .. })),
        stats,
        clif,
        asm,
        functions,
    })
}

/// Import the helpers and the functions `f` uses into the CLIF function.
fn declare_refs<'s>(
    jit: &mut JITModule,
    func: &mut cranelift_codegen::ir::Function,
    helper_ids: &[Option<FuncId>],
    domain_funcs: &[FuncId],
    f: &capjit_ir::Function,
    sig_ids: &'s lower::SigIds,
    cfg: &Config,
) -> lower::Refs<'s> {
    let mut callees = vec![None; domain_funcs.len()];
    let mut helpers = [None; lower::Helper::ALL.len()];
    let mut need = |h: lower::Helper, jit: &mut JITModule, func: &mut cranelift_codegen::ir::Function| {
        if let (None, Some(id)) = (helpers[h as usize], helper_ids[h as usize]) {
            helpers[h as usize] = Some(jit.declare_func_in_func(id, func));
        }
    };
    for b in &f.blocks {
        for inst in &b.insts {
            if let capjit_ir::Op::Call { func: callee, .. } = inst.op {
                if let Some(slot) = callees.get_mut(callee as usize) {
                    if slot.is_none() {
                        *slot = Some(jit.declare_func_in_func(domain_funcs[callee as usize], func));
                    }
                }
            }
            if let Some(h) = lower::helper_of_op(&inst.op) {
                need(h, jit, func);
            }
            if matches!(inst.op, capjit_ir::Op::Call { .. } | capjit_ir::Op::CallIndirect { .. }) {
                need(lower::Helper::TrapCaller, jit, func);
            }
        }
        if matches!(b.term, capjit_ir::Terminator::CallCap { .. }) {
            need(lower::Helper::CallCap, jit, func);
            need(lower::Helper::IdcFault, jit, func);
        }
    }
    lower::Refs {
        helpers,
        callees,
        sig_ids,
        spectre_guards: cfg.spectre_guards,
        fuel: cfg.fuel,
    }
}
