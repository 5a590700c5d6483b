//! Helpers: translate Wasm text, verify the IR, run it in the reference interpreter.
#![allow(dead_code)]

use capjit_ir::interp::{Instance, Limits, RunError, Val};
use capjit_wasm::{translate, Translated, WasmInput};

/// Translate named modules and verify the result; panics with the errors and
/// the printed IR when the verifier rejects it.
pub fn translate_verified(inputs: &[(&str, &str)]) -> Translated {
    let inputs: Vec<WasmInput> = inputs
        .iter()
        .map(|(name, text)| WasmInput {
            name: name.to_string(),
            bytes: text.as_bytes(),
        })
        .collect();
    let t = translate(&inputs).unwrap_or_else(|e| panic!("translation failed: {e}"));
    if let Err(errors) = capjit_verifier::verify(&t.module) {
        let msgs: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        panic!(
            "verifier rejected the translation:\n{}\n\n{}",
            msgs.join("\n"),
            capjit_ir::print_module(&t.module)
        );
    }
    t
}

/// A linked instance of the translated modules, with start functions run.
pub struct Wasm {
    pub t: Translated,
    pub inst: Instance,
}

impl Wasm {
    pub fn new(inputs: &[(&str, &str)]) -> Wasm {
        Wasm::with_limits(inputs, Limits::default())
    }

    pub fn with_limits(inputs: &[(&str, &str)], limits: Limits) -> Wasm {
        let t = translate_verified(inputs);
        let mut inst = Instance::new(t.module.clone(), limits, Box::new(std::io::sink()))
            .unwrap_or_else(|e| panic!("link failed: {e}"));
        let starts: Vec<(String, String)> = t
            .start_functions()
            .map(|(d, f)| (d.to_string(), f.to_string()))
            .collect();
        for (d, f) in starts {
            inst.invoke(&d, &f, &[])
                .unwrap_or_else(|e| panic!("start function failed: {e}"));
        }
        Wasm { t, inst }
    }

    /// Call the Wasm export `name` of module `module`.
    pub fn call_in(&mut self, module: &str, name: &str, args: &[Val]) -> Result<Vec<Val>, RunError> {
        let e = self
            .t
            .export(module, name)
            .unwrap_or_else(|| panic!("no export `{name}` in `{module}`"))
            .clone();
        let r = self.inst.invoke(&e.domain, &e.function, args);
        if r.is_err() {
            // A trap faults the domain; Wasm instances stay usable, so restart it
            // (which also resets its memory and globals).
            let faulted: Vec<String> = self.inst.faults().into_iter().map(|t| t.domain).collect();
            for d in faulted {
                self.inst.restart(&d).unwrap();
            }
        }
        r
    }

    /// Call an export of the first module.
    pub fn call(&mut self, name: &str, args: &[Val]) -> Result<Vec<Val>, RunError> {
        let module = self.t.modules[0].name.clone();
        self.call_in(&module, name, args)
    }

    /// The trap code of a call that must trap.
    pub fn trap(&mut self, name: &str, args: &[Val]) -> capjit_ir::TrapCode {
        match self.call(name, args) {
            Err(RunError::Trap(info)) => info.code,
            other => panic!("`{name}` should trap, got {other:?}"),
        }
    }
}

/// A single module named `m`.
pub fn wasm(text: &str) -> Wasm {
    Wasm::new(&[("m", text)])
}

pub fn i32s(v: &[i32]) -> Vec<Val> {
    v.iter().map(|&x| Val::I32(x)).collect()
}

pub fn i64s(v: &[i64]) -> Vec<Val> {
    v.iter().map(|&x| Val::I64(x)).collect()
}

pub fn f32v(x: f32) -> Val {
    Val::F32(x.to_bits())
}

pub fn f64v(x: f64) -> Val {
    Val::F64(x.to_bits())
}
