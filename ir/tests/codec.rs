//! Tests of the binary codec: round trips over generated modules, canonical encodings,
//! and hostile input (random, mutated, truncated, oversized counts, bad integers).

mod common;

use std::time::{Duration, Instant};

use capjit_ir::codec::{decode, encode, DecodeError, MAX_TYPE_DEPTH};
use capjit_ir::*;
use common::gen::{arb_module, arb_module_with, kinds_in, ALL_KINDS};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

const HEADER: [u8; 8] = [0, b'c', b'i', b'r', 3, 0, 0, 0];

/// Header, then a domains section with the given payload (shorter than 128 bytes).
fn file_with_domains_payload(payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 128);
    let mut bytes = HEADER.to_vec();
    bytes.push(1);
    bytes.push(payload.len() as u8);
    bytes.extend_from_slice(payload);
    bytes
}

/// Absolute offset of the opcode in `one_inst_file`.
const OP_OFFSET: usize = 32;

/// A file holding domain `d` with function `f` whose single block is `<op>; trap`.
fn one_inst_file(op: &[u8]) -> Vec<u8> {
    let mut payload = vec![
        1, // one domain
        1, b'd', // name
        0, 0, // memory initial, maximum
        0, // no inbox
        0, // no data
        0, // no passive data
        0, // no imports
        0, // no globals
        0, // no tables
        0, // no element segments
        1, // one function
        1, b'f', // name
        0,    // not exported
        0, 0, // no params, no results
        1, // one block
        0, // no params
        1, // one instruction
        0, // no results
    ];
    payload.extend_from_slice(op);
    payload.extend_from_slice(&[
        0, // instruction span
        5, // trap
        0, // terminator span
        0, // function span
        0, // domain span
    ]);
    file_with_domains_payload(&payload)
}

fn one_inst_module(op: Op) -> Module {
    Module {
        domains: vec![Domain {
            name: "d".into(),
            memory: Memory::default(),
            inbox: None,
            data: vec![],
            passive_data: vec![],
            imports: vec![],
            globals: Vec::new(),
            tables: Vec::new(),
            passive_elems: Vec::new(),
            functions: vec![Function {
                name: "f".into(),
                exported: false,
                sig: Signature::default(),
                blocks: vec![Block {
                    params: vec![],
                    insts: vec![Inst {
                        results: Default::default(),
                        op,
                        span: None,
                    }],
                    term: Terminator::Trap,
                    term_span: None,
                }],
                span: None,
            }],
            span: None,
        }],
    }
}

/// Deterministically drawn generated modules.
fn sample_modules(count: usize, spans: bool) -> Vec<Module> {
    let mut runner = TestRunner::deterministic();
    let strategy = arb_module_with(spans);
    (0..count)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect()
}

fn decode_err(bytes: &[u8]) -> DecodeError {
    decode(bytes).expect_err("decoding should fail")
}

// ---------------------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------------------

proptest! {
    #[test]
    fn round_trip_with_spans(m in arb_module_with(true)) {
        prop_assert_eq!(decode(&encode(&m)), Ok(m));
    }

    #[test]
    fn round_trip_text_friendly(m in arb_module()) {
        prop_assert_eq!(decode(&encode(&m)), Ok(m));
    }
}

#[test]
fn generator_covers_every_variant() {
    let mut seen = std::collections::BTreeSet::new();
    for m in sample_modules(300, false) {
        seen.extend(kinds_in(&m));
    }
    let missing: Vec<_> = ALL_KINDS.iter().filter(|k| !seen.contains(*k)).collect();
    assert!(missing.is_empty(), "never generated: {missing:?}");
}

#[test]
fn empty_module_round_trips() {
    let m = Module::default();
    assert_eq!(encode(&m), file_with_domains_payload(&[0]));
    assert_eq!(decode(&encode(&m)), Ok(m));
}

#[test]
fn extreme_constants_round_trip() {
    let consts = [
        Const::I32(i32::MIN),
        Const::I32(i32::MAX),
        Const::I32(-1),
        Const::I32(-64),
        Const::I32(63),
        Const::I32(64),
        Const::I64(i64::MIN),
        Const::I64(i64::MAX),
        Const::F32(u32::MAX),
        Const::F64(u64::MAX),
        Const::F64(f64::NAN.to_bits()),
    ];
    for c in consts {
        let m = one_inst_module(Op::Const(c));
        assert_eq!(decode(&encode(&m)), Ok(m), "{c:?}");
    }
}

#[test]
fn hand_written_file_decodes() {
    let file = one_inst_file(&[0x22]);
    assert_eq!(decode(&file), Ok(one_inst_module(Op::MemorySize)));
    assert_eq!(encode(&one_inst_module(Op::MemorySize)), file);
}

/// Domain `d` with `global mut g : i64 = -1` and `table [f, -] max 7`, as bytes and as a module;
/// the table names function 0, which the module does not have (the codec does not care).
fn globals_file() -> (Vec<u8>, Module) {
    let payload = [
        1, // one domain
        1, b'd', // name
        0, 0, // memory initial, maximum
        0, // no inbox
        0, // no data
        0, // no passive data
        0, // no imports
        1, // one global
        1, b'g', // name
        1,    // i64
        1,    // mutable
        1, 0x7f, // i64 constant -1
        0,    // span
        1,    // one table
        0,    // funcref
        2,    // two entries
        1, 0, // function 0
        0, // empty
        7, // maximum
        0, // no element segments
        0, // no functions
        0, // domain span
    ];
    let mut m = one_inst_module(Op::MemorySize);
    let d = &mut m.domains[0];
    d.functions.clear();
    d.globals.push(Global {
        name: "g".into(),
        ty: NumType::I64,
        mutable: true,
        init: Const::I64(-1),
        span: None,
    });
    d.tables = vec![Table {
        elem: RefType::Func,
        init: vec![Some(0), None],
        maximum: 7,
    }];
    (file_with_domains_payload(&payload), m)
}

#[test]
fn globals_table_and_their_ops_hand_written() {
    let (file, m) = globals_file();
    assert_eq!(decode(&file), Ok(m.clone()));
    assert_eq!(encode(&m), file);
    let ops: [(&[u8], Op); 3] = [
        (&[0x33, 5], Op::GlobalGet { global: 5 }),
        (
            &[0x34, 1, 2],
            Op::GlobalSet {
                global: 1,
                value: Value(2),
            },
        ),
        (
            &[0x32, 0, 1, 0, 1, 1, 3, 1, 4],
            Op::CallIndirect {
                table: 0,
                sig: Box::new(Signature {
                    params: vec![Type::I32],
                    results: vec![Type::I64],
                }),
                index: Value(3),
                args: vec![Value(4)],
            },
        ),
    ];
    for (bytes, op) in ops {
        assert_eq!(decode(&one_inst_file(bytes)), Ok(one_inst_module(op.clone())));
        assert_eq!(encode(&one_inst_module(op)), one_inst_file(bytes));
    }
}

#[test]
fn hostile_globals_and_tables() {
    let (file, _) = globals_file();
    // The global's type, its constant's tag, its flag and a table entry's flag.
    let at = |payload_offset: usize| 10 + payload_offset;
    let cases: [(usize, u8, &str); 5] = [
        (12, 7, "unknown numeric type tag 0x07"),
        (14, 0x10, "unknown constant tag 0x10"),
        (13, 2, "flag byte must be 0 or 1, found 0x02"),
        (22, 3, "flag byte must be 0 or 1, found 0x03"),
        (18, 2, "unknown reference type tag 0x02"),
    ];
    for (offset, byte, message) in cases {
        let mut bytes = file.clone();
        bytes[at(offset)] = byte;
        let err = decode_err(&bytes);
        assert_eq!(err.to_string(), format!("at byte {}: {message}", at(offset)));
    }
    // An entry count larger than the bytes left fails before allocating.
    let mut bytes = file.clone();
    bytes[at(19)] = 0x7f;
    assert!(matches!(
        decode_err(&bytes),
        DecodeError::CountTooLarge { count: 127, .. }
    ));
}

#[test]
fn version_1_files_are_refused() {
    let mut bytes = encode(&Module::default());
    bytes[4] = 1;
    assert_eq!(
        decode_err(&bytes),
        DecodeError::UnsupportedVersion { offset: 4, version: 1 }
    );
}

// ---------------------------------------------------------------------------------------
// Hostile input: properties
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Mutation {
    Flip(Index, u8),
    Insert(Index, u8),
    Delete(Index),
    Truncate(Index),
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 0..8u8).prop_map(|(at, bit)| Mutation::Flip(at, bit)),
        (any::<Index>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert(at, byte)),
        any::<Index>().prop_map(Mutation::Delete),
        any::<Index>().prop_map(Mutation::Truncate),
    ]
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    if bytes.is_empty() {
        if let Mutation::Insert(_, byte) = mutation {
            bytes.push(*byte);
        }
        return;
    }
    let len = bytes.len();
    match mutation {
        Mutation::Flip(at, bit) => bytes[at.index(len)] ^= 1 << bit,
        Mutation::Insert(at, byte) => bytes.insert(at.index(len + 1), *byte),
        Mutation::Delete(at) => {
            bytes.remove(at.index(len));
        }
        Mutation::Truncate(at) => bytes.truncate(at.index(len)),
    }
}

/// Whatever decodes must be the canonical encoding of what it decodes to.
fn assert_canonical_if_accepted(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(m) = decode(bytes) {
        prop_assert_eq!(encode(&m), bytes);
    }
    Ok(())
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        assert_canonical_if_accepted(&bytes)?;
    }

    #[test]
    fn random_section_payload_never_panics(
        payload in proptest::collection::vec(any::<u8>(), 0..127),
    ) {
        assert_canonical_if_accepted(&file_with_domains_payload(&payload))?;
    }

    #[test]
    fn mutated_encodings_never_panic(
        m in arb_module_with(true),
        mutations in proptest::collection::vec(arb_mutation(), 1..6),
    ) {
        let mut bytes = encode(&m);
        for mutation in &mutations {
            apply(&mut bytes, mutation);
        }
        assert_canonical_if_accepted(&bytes)?;
    }
}

// ---------------------------------------------------------------------------------------
// Hostile input: specific cases
// ---------------------------------------------------------------------------------------

#[test]
fn empty_input_is_truncated() {
    let err = decode_err(&[]);
    assert_eq!(err.to_string(), "at byte 0: truncated: expected 4 more bytes, found 0");
}

#[test]
fn bad_magic() {
    for bytes in [&b"\0cix\x01\0\0\0"[..], b"CIR", b"\x7fELF"] {
        assert!(matches!(decode_err(bytes), DecodeError::BadMagic { .. }));
    }
    assert_eq!(
        decode_err(b"wasm").to_string(),
        "at byte 0: bad magic (expected \"\\0cir\")"
    );
}

#[test]
fn wrong_version() {
    let mut bytes = encode(&Module::default());
    bytes[4] = 7;
    let err = decode_err(&bytes);
    assert_eq!(err, DecodeError::UnsupportedVersion { offset: 4, version: 7 });
    assert_eq!(
        err.to_string(),
        "at byte 4: unsupported version 7 (this build reads version 3)"
    );
}

#[test]
fn every_proper_prefix_is_rejected() {
    for m in sample_modules(8, true) {
        let bytes = encode(&m);
        for len in 0..bytes.len() {
            let err = decode_err(&bytes[..len]);
            assert!(err.offset() <= len, "{err} for prefix of {len} bytes");
        }
    }
}

#[test]
fn huge_domain_count_fails_fast() {
    let started = Instant::now();
    let bytes = file_with_domains_payload(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    let err = decode_err(&bytes);
    assert_eq!(
        err,
        DecodeError::CountTooLarge {
            offset: 10,
            count: u32::MAX,
            remaining: 0
        }
    );
    assert_eq!(
        err.to_string(),
        "at byte 10: count 4294967295 exceeds remaining input (0 bytes)"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn huge_nested_counts_fail_fast() {
    // A domain whose data segment claims 4 GiB of bytes.
    let payload = [1, 0, 0, 0, 0, 1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f];
    let err = decode_err(&file_with_domains_payload(&payload));
    assert!(
        matches!(err, DecodeError::CountTooLarge { count: u32::MAX, .. }),
        "{err}"
    );
}

#[test]
fn section_longer_than_input() {
    let mut bytes = HEADER.to_vec();
    bytes.extend_from_slice(&[1, 0xff, 0xff, 0xff, 0xff, 0x0f, 0]);
    let err = decode_err(&bytes);
    assert!(matches!(err, DecodeError::SectionTooLong { offset: 9, .. }), "{err}");
}

#[test]
fn garbage_opcode_tag() {
    let err = decode_err(&one_inst_file(&[0x9f]));
    assert_eq!(err.to_string(), format!("at byte {OP_OFFSET}: unknown opcode tag 0x9f"));
}

#[test]
fn garbage_sub_tags() {
    let cases: [(&[u8], usize, &str); 3] = [
        (&[0x10, 0xee, 0, 0, 0], 1, "unknown binary operator tag 0xee"),
        (&[0x10, 0, 9, 0, 0], 2, "unknown numeric type tag 0x09"),
        (&[0x14, 0x42, 0, 0, 0], 1, "unknown type tag 0x42"),
    ];
    for (op, at, message) in cases {
        let err = decode_err(&one_inst_file(op));
        assert_eq!(err.to_string(), format!("at byte {}: {message}", OP_OFFSET + at));
    }
}

#[test]
fn invalid_flag_byte() {
    // `exported` is at payload offset 15, absolute 25.
    let mut bytes = one_inst_file(&[0x22]);
    bytes[25] = 2;
    assert_eq!(decode_err(&bytes), DecodeError::InvalidFlag { offset: 25, byte: 2 });
}

#[test]
fn invalid_utf8_name() {
    let err = decode_err(&file_with_domains_payload(&[1, 2, b'a', 0xff]));
    assert_eq!(err, DecodeError::InvalidUtf8 { offset: 13 });
}

#[test]
fn trailing_bytes_are_rejected() {
    for extra in [0u8, 1, 2, 0xff] {
        let mut bytes = encode(&Module::default());
        let offset = bytes.len();
        bytes.push(extra);
        let err = decode_err(&bytes);
        assert_eq!(err.offset(), offset, "{err}");
    }
}

#[test]
fn unknown_section_tag() {
    let mut bytes = encode(&Module::default());
    bytes.extend_from_slice(&[0x02, 0x00]);
    assert_eq!(decode_err(&bytes).to_string(), "at byte 11: unknown section tag 0x02");
}

#[test]
fn missing_domains_section() {
    assert!(matches!(
        decode_err(&HEADER),
        DecodeError::MissingSection { offset: 8, .. }
    ));
}

#[test]
fn unused_bytes_in_section() {
    let err = decode_err(&file_with_domains_payload(&[0, 0]));
    assert_eq!(err.to_string(), "at byte 11: 1 unused byte at the end of section 1");
}

#[test]
fn overlong_leb128_is_rejected() {
    let err = decode_err(&file_with_domains_payload(&[0x80, 0x00]));
    assert_eq!(err, DecodeError::OverlongLeb { offset: 10 });
    // i32 -1 as two bytes, and 0 as two bytes.
    for op in [&[0x00, 0xff, 0x7f][..], &[0x00, 0x80, 0x00]] {
        let err = decode_err(&one_inst_file(op));
        assert_eq!(err, DecodeError::OverlongLeb { offset: OP_OFFSET + 1 });
    }
}

#[test]
fn overflowing_leb128_is_rejected() {
    // A u32 with bit 32 set, and one with six bytes.
    for payload in [
        &[0xff, 0xff, 0xff, 0xff, 0x1f][..],
        &[0x80, 0x80, 0x80, 0x80, 0x80, 0x00],
    ] {
        let err = decode_err(&file_with_domains_payload(payload));
        assert!(
            matches!(err, DecodeError::LebOverflow { offset: 10, ty: "u32" }),
            "{err}"
        );
    }
    // i32 2^31, i64 2^63.
    let i32_too_big = [0x00, 0x80, 0x80, 0x80, 0x80, 0x08];
    let i64_too_big = [0x01, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01];
    for op in [&i32_too_big[..], &i64_too_big] {
        let err = decode_err(&one_inst_file(op));
        assert!(matches!(err, DecodeError::LebOverflow { .. }), "{err}");
    }
}

#[test]
fn largest_leb128_values_decode() {
    let i32_min = [0x00, 0x80, 0x80, 0x80, 0x80, 0x78];
    let i64_min = [0x01, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f];
    let f64_bits_max = [0x03, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    let cases = [
        (&i32_min[..], Const::I32(i32::MIN)),
        (&i64_min, Const::I64(i64::MIN)),
        (&f64_bits_max, Const::F64(u64::MAX)),
    ];
    for (op, c) in cases {
        assert_eq!(decode(&one_inst_file(op)), Ok(one_inst_module(Op::Const(c))));
    }
}

/// A module with one import whose signature takes a cap nested `depth` deep.
fn nested_cap_module(depth: usize) -> Module {
    let mut ty = Type::I32;
    for _ in 0..depth {
        ty = Type::Cap(Box::new(Signature {
            params: vec![ty],
            results: Default::default(),
        }));
    }
    let mut m = one_inst_module(Op::MemorySize);
    m.domains[0].imports.push(Import {
        name: "i".into(),
        source: ImportSource::Host { function: "h".into() },
        sig: Signature {
            params: vec![ty],
            results: Default::default(),
        },
        span: None,
    });
    m
}

#[test]
fn type_nesting_is_bounded() {
    let deepest = nested_cap_module(MAX_TYPE_DEPTH);
    assert_eq!(decode(&encode(&deepest)), Ok(deepest));
    let too_deep = encode(&nested_cap_module(MAX_TYPE_DEPTH + 1));
    assert!(matches!(decode_err(&too_deep), DecodeError::TypeTooDeep { .. }));
}

#[test]
fn deeply_nested_hostile_types_fail_fast() {
    // An import whose signature opens 100 000 caps: rejected at depth 17, no stack overflow.
    let mut bytes = HEADER.to_vec();
    let mut payload = vec![1, 1, b'd', 0, 0, 0, 0, 1, 1, b'i', 1, 1, b'h', 1];
    for _ in 0..100_000 {
        payload.extend_from_slice(&[4, 1]);
    }
    bytes.push(1);
    let mut len = payload.len() as u32;
    while len >= 0x80 {
        bytes.push((len as u8) | 0x80);
        len >>= 7;
    }
    bytes.push(len as u8);
    bytes.extend_from_slice(&payload);
    assert!(matches!(decode_err(&bytes), DecodeError::TypeTooDeep { .. }));
}
