//! Random valid modules from wasm-smith, within the supported features: each
//! translates (or gets an `unsupported` or instantiation error, never `invalid`
//! and never a panic), verifies, and runs in the interpreter without an internal
//! error: every call returns or traps.

use arbitrary::Unstructured;
use capjit_ir::interp::{Instance, Limits, RunError, Val};
use capjit_ir::{NumType, Type};
use capjit_wasm::{translate, WasmErrorKind, WasmInput};
use proptest::prelude::*;
use wasm_smith::{Config, Module};

fn config() -> Config {
    Config {
        simd_enabled: false,
        relaxed_simd_enabled: false,
        reference_types_enabled: false,
        threads_enabled: false,
        tail_call_enabled: false,
        exceptions_enabled: false,
        gc_enabled: false,
        memory64_enabled: false,
        custom_page_sizes_enabled: false,
        extended_const_enabled: false,
        wide_arithmetic_enabled: false,
        compact_imports_enabled: false,
        bulk_memory_enabled: true,
        multi_value_enabled: true,
        saturating_float_to_int_enabled: true,
        sign_extension_ops_enabled: true,
        max_memories: 1,
        max_tables: 1,
        max_imports: 0,
        max_table_elements: 1000,
        max_instructions: 300,
        max_nesting_depth: 12,
        export_everything: true,
        ..Config::default()
    }
}

fn zero(t: &Type) -> Val {
    match t {
        Type::I32 => Val::zero(NumType::I32),
        Type::I64 => Val::zero(NumType::I64),
        Type::F32 => Val::zero(NumType::F32),
        _ => Val::zero(NumType::F64),
    }
}

fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    let mut u = Unstructured::new(bytes);
    let Ok(module) = Module::new(config(), &mut u) else {
        return Ok(());
    };
    let wasm = module.to_bytes();
    let t = match translate(&[WasmInput {
        name: "m".into(),
        bytes: &wasm,
    }]) {
        Ok(t) => t,
        Err(e) => {
            prop_assert!(
                matches!(
                    e.kind,
                    WasmErrorKind::Unsupported | WasmErrorKind::Instantiation | WasmErrorKind::Limit
                ),
                "{e}"
            );
            return Ok(());
        }
    };
    if let Err(errors) = capjit_verifier::verify(&t.module) {
        let msgs: Vec<String> = errors.iter().take(5).map(|e| e.to_string()).collect();
        prop_assert!(false, "verifier rejected: {msgs:?}");
    }
    let limits = Limits {
        fuel: 20_000,
        max_call_depth: 200,
        ..Limits::default()
    };
    let Ok(mut inst) = Instance::new(t.module.clone(), limits, Box::new(std::io::sink())) else {
        return Ok(()); // e.g. memory beyond the runtime's page limit
    };
    let d = &t.module.domains[0];
    let calls: Vec<(String, Vec<Val>)> = t
        .start_functions()
        .map(|(_, f)| (f.to_string(), Vec::new()))
        .chain(t.exports.iter().map(|e| {
            let f = d.functions.iter().find(|f| f.name == e.function).expect("exported");
            (e.function.clone(), f.sig.params.iter().map(zero).collect())
        }))
        .collect();
    for (f, args) in calls {
        match inst.invoke(&d.name, &f, &args) {
            Ok(_) => {}
            Err(RunError::Trap(_)) => inst.restart(&d.name).expect("restart"),
            Err(e) => prop_assert!(false, "`{f}`: {e}"),
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("CAPJIT_WASM_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(300),
        ..ProptestConfig::default()
    })]

    #[test]
        fn random_modules_translate_verify_and_run(bytes in proptest::collection::vec(any::<u8>(), 64..4096)) {
        check(&bytes)?;
    }
}
