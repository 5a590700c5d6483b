//! Random valid Wasm modules (wasm-smith, within the frontend's features) through
//! the frontend and the verifier, then the JIT, the reference interpreter and
//! wasmi, compared call by call: results, traps, memory (see
//! `capjit_fuzz::wasm_diff`). A crash message holds the module as `.wat`;
//! `CAPJIT_FUZZ_WASM=FILE` saves the binary of the last case, and
//! `CAPJIT_FUZZ_STATS=1` prints how many modules were unsupported, ran, ...
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    capjit_fuzz::wasm_diff::fuzz_one(data);
});
