//! The JIT against the reference interpreter on random valid programs: the
//! generator of `tests/support/gen_valid.rs` (the one `tests/differential.rs`
//! drives with proptest) takes its choices from the fuzzer's bytes. The first
//! eight bytes seed a generator that answers once the rest is used up, so that
//! even short inputs make whole programs. Any difference that is not a known,
//! reported bug (`gen_valid::KNOWN_BUGS`) is a crash, printed with the program
//! as `.cir` text (save it under `tests/differential/` to keep it).
#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/gen_valid.rs"]
mod gen_valid;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let mut seed: u64 = u.arbitrary().unwrap_or(0);
    let mut choose = |n: u32| {
        if !u.is_empty() {
            return u.int_in_range(0..=n.saturating_sub(1)).unwrap_or(0);
        }
        // splitmix64
        seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z % n.max(1) as u64) as u32
    };
    let case = gen_valid::generate(&mut choose);
    if let Err(m) = gen_valid::check(&case) {
        if gen_valid::known_bug(&case, &m).is_none() {
            panic!(
                "the JIT and the interpreter disagree: {m}\n\n{}",
                gen_valid::case_text(&case, "found by fuzz target jit_vs_interp")
            );
        }
    }
});
