//! Arbitrary bytes into the binary decoder: it never panics, and whatever it
//! accepts is the canonical encoding of what it decoded: `encode(decode(b)) == b`.
#![no_main]

use capjit_ir::codec::{decode, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = decode(data) {
        assert!(encode(&m) == data, "decode accepted a non-canonical encoding: {m:?}");
    }
});
