//! Arbitrary bytes into the text parser: it never panics, and whatever it accepts
//! prints to text that parses back to the same module (spans aside), and printing
//! is canonical (printing the re-parsed module gives the same text).
#![no_main]

use capjit_fuzz::strip_spans;
use capjit_ir::{parse_module, print_module};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(mut m) = parse_module(src) else {
        return;
    };
    strip_spans(&mut m);
    let text = print_module(&m);
    let mut again = match parse_module(&text) {
        Ok(again) => again,
        Err(e) => panic!("the printed module does not parse: {e:?}\n--- input\n{src}\n--- printed\n{text}"),
    };
    strip_spans(&mut again);
    assert_eq!(m, again, "print/parse round trip differs\n--- printed\n{text}");
    assert_eq!(print_module(&again), text, "printing is not canonical");
});
