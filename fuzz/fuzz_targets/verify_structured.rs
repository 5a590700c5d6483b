//! Mostly-well-formed modules (see `capjit_fuzz::gen`) into the verifier: it never
//! panics and is deterministic; what it accepts runs in the reference interpreter
//! without ever being "invalid" there, and without a proven access going out of
//! bounds (see `capjit_fuzz::oracle`).
//!
//! With `CAPJIT_FUZZ_PRINT=1` in the environment, every generated module is printed
//! as text to stderr first (to read the module behind a crash artifact).
#![no_main]

use std::sync::OnceLock;

use capjit_testgen::ByteChoices;
use libfuzzer_sys::fuzz_target;

fn print_modules() -> bool {
    static PRINT: OnceLock<bool> = OnceLock::new();
    *PRINT.get_or_init(|| std::env::var_os("CAPJIT_FUZZ_PRINT").is_some())
}

fuzz_target!(|data: &[u8]| {
    let m = capjit_fuzz::gen::module(&mut ByteChoices::new(data));
    if print_modules() {
        eprintln!("{}", capjit_ir::print_module(&m));
    }
    capjit_fuzz::oracle::check(&m);
});
