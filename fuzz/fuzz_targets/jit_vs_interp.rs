//! The JIT against the reference interpreter on random valid programs: the
//! generator of `tests/support/gen_valid.rs` (the one `tests/differential.rs`
//! drives with proptest) takes every choice from the fuzzer's bytes
//! (`capjit_testgen::ByteChoices`: one byte for a choice among up to 256 options, and
//! 0, the simplest option, once the input is used up). The mapping is fixed, so a
//! mutated byte changes one choice and what follows from it, and libFuzzer grows
//! programs by growing inputs (a few KiB make a program of a few functions;
//! `seed.sh` seeds the corpus with such blobs). Any difference that is not a known,
//! reported bug (`gen_valid::KNOWN_BUGS`) is a crash, printed with the program as
//! `.cir` text (save it under `tests/differential/` to keep it).
//!
//! With `CAPJIT_FUZZ_PRINT=1` in the environment, every generated program is
//! printed to stderr first, with how many of the input's bytes it used.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/gen_valid.rs"]
mod gen_valid;

fn print_cases() -> bool {
    static PRINT: OnceLock<bool> = OnceLock::new();
    *PRINT.get_or_init(|| std::env::var_os("CAPJIT_FUZZ_PRINT").is_some())
}

fuzz_target!(|data: &[u8]| {
    let mut bytes = capjit_testgen::ByteChoices::new(data);
    let case = gen_valid::generate(&mut |n| bytes.choose(n));
    if print_cases() {
        let about = format!("{} of {} input bytes used", bytes.used(), data.len());
        eprintln!("{}", gen_valid::case_text(&case, &about));
    }
    if let Err(m) = gen_valid::check(&case) {
        if gen_valid::known_bug(&case, &m).is_none() {
            panic!(
                "the JIT and the interpreter disagree: {m}\n\n{}",
                gen_valid::case_text(&case, "found by fuzz target jit_vs_interp")
            );
        }
    }
});
