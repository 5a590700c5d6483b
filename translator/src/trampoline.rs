//! TRUSTED. Entry trampolines: the one native signature the runtime calls every
//! exported function through, `(ctx, args, results) -> status` in the host's C
//! calling convention, with arguments and results as 64-bit slots.
//!
//! Invariant protected: each slot is read as the type of the parameter it feeds and
//! each result written as a zero-extended 64-bit slot (see `capjit_tcb::slots`).

use capjit_ir::Signature as IrSignature;
use cranelift_codegen::ir::{types, AbiParam, InstBuilder, MemFlagsData, Signature, UserFuncName};
use cranelift_codegen::isa::CallConv;
use cranelift_codegen::Context;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::JITModule;
use cranelift_module::{FuncId, Linkage, Module, ModuleError};

use crate::lower::{clif_type, word_of};

/// Define the trampoline of function `fi` of domain `di`, which calls `target`.
pub fn define(
    jit: &mut JITModule,
    ctx: &mut Context,
    fb_ctx: &mut FunctionBuilderContext,
    call_conv: CallConv,
    (di, fi): (usize, usize),
    sig: &IrSignature,
    target: FuncId,
) -> Result<FuncId, Box<ModuleError>> {
    let frontend_config = jit.isa().frontend_config();
    let mut tsig = Signature::new(call_conv);
    for _ in 0..3 {
        tsig.params.push(AbiParam::new(types::I64));
    }
    tsig.returns.push(AbiParam::new(types::I32));
    let id = jit
        .declare_function(&format!("t{di}_{fi}"), Linkage::Local, &tsig)
        .map_err(Box::new)?;

    ctx.clear();
    ctx.func.signature = tsig;
    ctx.func.name = UserFuncName::user(1 << 31 | di as u32, fi as u32);
    {
        let callee = jit.declare_func_in_func(target, &mut ctx.func);
        let mut b = FunctionBuilder::new(&mut ctx.func, fb_ctx);
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let p = b.block_params(entry).to_vec();
        let (vmctx, args, results) = (p[0], p[1], p[2]);
        let flags = MemFlagsData::trusted();
        let mut call_args = vec![vmctx];
        for (i, t) in sig.params.iter().enumerate() {
            call_args.push(b.ins().load(clif_type(t), flags, args, (8 * i) as i32));
        }
        let call = b.ins().call(callee, &call_args);
        let rets = b.inst_results(call).to_vec();
        for (i, r) in rets[1..].iter().enumerate() {
            let word = word_of(&mut b, *r);
            b.ins().store(flags, word, results, (8 * i) as i32);
        }
        b.ins().return_(&[rets[0]]);
        b.seal_all_blocks();
        b.finalize(frontend_config);
    }
    jit.define_function(id, ctx).map_err(Box::new)?;
    Ok(id)
}
