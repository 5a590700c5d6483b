//! Tests of the `.cir` text format: round trips over generated modules, canonical
//! printing, and hostile input (random text, mutated programs, huge and deep input).

mod common;

use capjit_ir::*;
use common::gen::arb_module;
use proptest::prelude::*;
use proptest::sample::Index;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Clear every source span, so that a parsed module compares equal to a generated one.
fn strip_spans(m: &mut Module) {
    for d in &mut m.domains {
        d.span = None;
        for i in &mut d.imports {
            i.span = None;
        }
        for g in &mut d.globals {
            g.span = None;
        }
        for f in &mut d.functions {
            f.span = None;
            for b in &mut f.blocks {
                b.term_span = None;
                for inst in &mut b.insts {
                    inst.span = None;
                }
            }
        }
    }
}

/// Parse and clear spans.
fn parse_plain(src: &str) -> Result<Module, ParseError> {
    parse_module(src).map(|mut m| {
        strip_spans(&mut m);
        m
    })
}

/// An error's span lies inside the input, on character boundaries, and its
/// line and column can be computed.
fn check_error(src: &str, e: &ParseError) -> Result<(), TestCaseError> {
    let (start, end) = (e.span.start as usize, e.span.end as usize);
    prop_assert!(
        start <= end && end <= src.len(),
        "span {:?} outside input of {} bytes",
        e.span,
        src.len()
    );
    prop_assert!(
        src.is_char_boundary(start) && src.is_char_boundary(end),
        "span {:?} splits a character",
        e.span
    );
    prop_assert!(!e.message.is_empty());
    let (line, col) = e.line_col(src);
    prop_assert!(line >= 1 && col >= 1);
    Ok(())
}

/// Parsing never panics; an error is well located, and whatever parses prints to text
/// that parses back to the same module and is a fixed point of printing.
fn check_any_input(src: &str) -> Result<(), TestCaseError> {
    match parse_plain(src) {
        Err(e) => check_error(src, &e),
        Ok(m) => {
            let text = print_module(&m);
            let again = parse_plain(&text);
            prop_assert_eq!(again.as_ref(), Ok(&m), "reprint of accepted input:\n{}", text);
            prop_assert_eq!(print_module(&m), text);
            Ok(())
        }
    }
}

fn err(src: &str) -> ParseError {
    match parse_module(src) {
        Ok(m) => panic!("expected an error for {src:?}, parsed {m:?}"),
        Err(e) => e,
    }
}

/// The error of `src`, checked to be located at `line:col` and to mention every one of `parts`.
fn assert_err(src: &str, line: usize, col: usize, parts: &[&str]) -> ParseError {
    let e = err(src);
    assert!(
        (e.span.start as usize) <= (e.span.end as usize) && (e.span.end as usize) <= src.len(),
        "{e:?}"
    );
    assert_eq!(e.line_col(src), (line, col), "position of {e:?} in {src:?}");
    for part in parts {
        assert!(
            e.message.contains(part),
            "message {:?} should mention {part:?}",
            e.message
        );
    }
    e
}

/// A one-function module around `body` (instructions and a terminator of `block0`).
fn func_src(body: &str) -> String {
    format!("domain d {{\n  func f() {{\n  block0:\n{body}\n  }}\n}}\n")
}

// ---------------------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_inverts_print(m in arb_module()) {
        let text = print_module(&m);
        prop_assert_eq!(parse_plain(&text), Ok(m), "text:\n{}", text);
    }

    #[test]
    fn printing_is_canonical(m in arb_module()) {
        let text = print_module(&m);
        let parsed = parse_module(&text).map_err(|e| TestCaseError::fail(format!("{e:?}\n{text}")))?;
        prop_assert_eq!(print_module(&parsed), text);
    }

    #[test]
    fn float_bits_round_trip(f32_bits in any::<u32>(), f64_bits in any::<u64>()) {
        for c in [Const::F32(f32_bits), Const::F64(f64_bits)] {
            let m = const_module(&[c]);
            prop_assert_eq!(parse_plain(&print_module(&m)), Ok(m));
        }
    }
}

fn const_module(consts: &[Const]) -> Module {
    let insts = consts
        .iter()
        .enumerate()
        .map(|(i, c)| Inst {
            results: [Def {
                value: Value(i as u32),
                fact: None,
            }]
            .into(),
            op: Op::Const(*c),
            span: None,
        })
        .collect();
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
                    insts,
                    term: Terminator::Trap,
                    term_span: None,
                }],
                span: None,
            }],
            span: None,
        }],
    }
}

/// `src[span]`, checked to be in range.
fn spanned(src: &str, span: Option<Span>) -> Result<&str, TestCaseError> {
    let span = span.ok_or_else(|| TestCaseError::fail("the parser left a span unset"))?;
    src.get(span.start as usize..span.end as usize)
        .ok_or_else(|| TestCaseError::fail(format!("span {span:?} outside the text")))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Every span the parser records covers exactly the text of its item.
    #[test]
    fn spans_cover_their_items(m in arb_module()) {
        let text = print_module(&m);
        let parsed = parse_module(&text).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        for d in &parsed.domains {
            let dt = spanned(&text, d.span)?;
            prop_assert!(dt.starts_with("domain ") && dt.ends_with('}'), "{:?}", dt);
            for g in &d.globals {
                let gt = spanned(&text, g.span)?;
                let head = format!("global {}{} : {} = ", if g.mutable { "mut " } else { "" }, g.name, g.ty);
                prop_assert!(gt.starts_with(&head) && !gt.ends_with(' '), "{:?}", gt);
            }
            for imp in &d.imports {
                let it = spanned(&text, imp.span)?;
                prop_assert!(it.starts_with(&format!("import {} = ", imp.name)), "{:?}", it);
                prop_assert!(it.ends_with(&format!(": {}", imp.sig)), "{:?}", it);
            }
            for f in &d.functions {
                let ft = spanned(&text, f.span)?;
                let head = format!("{}func {}{} {{", if f.exported { "export " } else { "" }, f.name, f.sig);
                prop_assert!(ft.starts_with(&head) && ft.ends_with('}'), "{:?}", ft);
                for b in &f.blocks {
                    for inst in &b.insts {
                        let mut expected = String::new();
                        print::print_inst(&mut expected, d, inst).unwrap();
                        prop_assert_eq!(spanned(&text, inst.span)?, expected.as_str());
                    }
                    let mut expected = String::new();
                    print::print_terminator(&mut expected, &b.term).unwrap();
                    prop_assert_eq!(spanned(&text, b.term_span)?, expected.as_str());
                }
            }
        }
    }
}

#[test]
fn special_floats_round_trip_exactly() {
    let f32s: Vec<u32> = [
        0.0f32,
        -0.0,
        f32::MIN_POSITIVE,
        -f32::MIN_POSITIVE,
        f32::from_bits(1),
        -f32::from_bits(1),
        f32::from_bits(0x007f_ffff),
        f32::MAX,
        f32::MIN,
        f32::EPSILON,
        f32::INFINITY,
        f32::NEG_INFINITY,
        1.0 / 3.0,
        16_777_217.0,
    ]
    .iter()
    .map(|f| f.to_bits())
    .chain([
        0x7fc0_0000,
        0xffc0_0000,
        0x7f80_0001,
        0xff80_0001,
        0x7fff_ffff,
        u32::MAX,
    ])
    .collect();
    let f64s: Vec<u64> = [
        0.0f64,
        -0.0,
        f64::MIN_POSITIVE,
        -f64::MIN_POSITIVE,
        f64::from_bits(1),
        -f64::from_bits(1),
        f64::from_bits(0x000f_ffff_ffff_ffff),
        f64::MAX,
        f64::MIN,
        f64::EPSILON,
        f64::INFINITY,
        f64::NEG_INFINITY,
        0.1,
        1e300,
        -1e-300,
    ]
    .iter()
    .map(|f| f.to_bits())
    .chain([
        0x7ff8_0000_0000_0000,
        0xfff8_0000_0000_0000,
        0x7ff0_0000_0000_0001,
        0xfff0_0000_0000_0001,
        u64::MAX,
    ])
    .collect();
    let consts: Vec<Const> = f32s
        .into_iter()
        .map(Const::F32)
        .chain(f64s.into_iter().map(Const::F64))
        .collect();
    let m = const_module(&consts);
    let text = print_module(&m);
    assert_eq!(parse_plain(&text), Ok(m), "{text}");
    assert!(text.contains("fconst.f32 -0.0"), "{text}");
    assert!(text.contains("fconst.f64 -inf"), "{text}");
    assert!(text.contains("fconst.f32 0x7fc00000"), "{text}");
    assert!(text.contains("fconst.f64 0xfff8000000000000"), "{text}");
}

#[test]
fn float_literal_spellings() {
    let src = func_src(
        "    v0 = fconst.f32 nan\n    v1 = fconst.f64 -inf\n    v2 = fconst.f64 -2e-3\n    v3 = fconst.f32 inf\n    trap",
    );
    let m = parse_plain(&src).unwrap();
    let consts: Vec<Const> = m.domains[0].functions[0].blocks[0]
        .insts
        .iter()
        .map(|i| match i.op {
            Op::Const(c) => c,
            ref other => panic!("{other:?}"),
        })
        .collect();
    assert!(matches!(consts[0], Const::F32(b) if f32::from_bits(b).is_nan()));
    assert_eq!(consts[1], Const::F64(f64::NEG_INFINITY.to_bits()));
    assert_eq!(consts[2], Const::F64((-2e-3f64).to_bits()));
    assert_eq!(consts[3], Const::F32(f32::INFINITY.to_bits()));
}

/// Globals, the table and their instructions, in the syntax `docs/ir.md` gives.
const GLOBALS_SRC: &str = "domain d {
  memory 1
  table [f, g, -, f]
  func f(i32) -> i32 {
  block0(v0: i32):
    v1 = global.get counter
    global.set g, v1
    v2, v3 = call_indirect v0(v0, v1) : (i32, f32) -> (i32, i64)
    return v2
  }
  global counter : f32 = 1.5
  global mut g : f32 = 0x7fc00001
  global mut n : i64 = -9223372036854775808
  func g() {
  block0:
    return
  }
}
";

#[test]
fn trap_with_a_code_parses_and_prints() {
    let src = "domain d {\n  func f(i32) {\n  block0(v0: i32):\n    brif v0, block1, block2\n  block1:\n    \
               trap v0\n  block2:\n    trap\n  }\n}\n";
    let m = parse_plain(src).unwrap();
    let blocks = &m.domains[0].functions[0].blocks;
    assert_eq!(blocks[1].term, Terminator::TrapWith(Value(0)));
    // A bare `trap` before the next label or `}` takes no operand.
    assert_eq!(blocks[2].term, Terminator::Trap);
    let text = print_module(&m);
    assert!(
        text.contains("  block1:\n    trap v0\n  block2:\n    trap\n  }"),
        "{text}"
    );
    assert_eq!(parse_plain(&text), Ok(m));
    assert_err(&func_src("    trap 3"), 4, 10, &["expected"]);
}

#[test]
fn passive_data_and_its_ops_parse_and_print() {
    let src =
        "domain d {\n  memory 1\n  data 8 \"a\"\n  data passive \"\\00bc\"\n  data passive \"\"\n  func f(i32) {\n  \
               block0(v0: i32):\n    memory.init 1, v0, v0, v0\n    data.drop 0\n    return\n  }\n}\n";
    let m = parse_plain(src).unwrap();
    let d = &m.domains[0];
    assert_eq!(d.data.len(), 1);
    assert_eq!(d.passive_data, vec![b"\0bc".to_vec(), Vec::new()]);
    let insts = &d.functions[0].blocks[0].insts;
    assert_eq!(
        insts[0].op,
        Op::MemoryInit {
            segment: 1,
            dst: Value(0),
            src: Value(0),
            len: Value(0)
        }
    );
    assert_eq!(insts[1].op, Op::DataDrop { segment: 0 });
    let text = print_module(&m);
    assert!(
        text.contains("  data passive \"\\00bc\"\n  data passive \"\"\n"),
        "{text}"
    );
    assert!(text.contains("memory.init 1, v0, v0, v0\n    data.drop 0\n"), "{text}");
    assert_eq!(parse_plain(&text), Ok(m));
    assert_err(&func_src("    data.drop v0"), 4, 15, &["passive data segment index"]);
}

#[test]
fn globals_and_table_parse_and_print() {
    let m = parse_plain(GLOBALS_SRC).unwrap();
    let d = &m.domains[0];
    let names: Vec<(&str, NumType, bool, Const)> = d
        .globals
        .iter()
        .map(|g| (g.name.as_str(), g.ty, g.mutable, g.init))
        .collect();
    assert_eq!(
        names,
        [
            ("counter", NumType::F32, false, Const::F32(1.5f32.to_bits())),
            ("g", NumType::F32, true, Const::F32(0x7fc0_0001)),
            ("n", NumType::I64, true, Const::I64(i64::MIN)),
        ]
    );
    // `table` names `g`, defined after it; `-` is an empty entry.
    assert_eq!(d.tables[0].init, [Some(0), Some(1), None, Some(0)]);
    assert_eq!(d.tables[0].elem, RefType::Func);
    let ops: Vec<&Op> = d.functions[0].blocks[0].insts.iter().map(|i| &i.op).collect();
    assert_eq!(ops[0], &Op::GlobalGet { global: 0 });
    assert_eq!(
        ops[1],
        &Op::GlobalSet {
            global: 1,
            value: Value(1)
        }
    );
    assert_eq!(
        ops[2],
        &Op::CallIndirect {
            table: 0,
            sig: Box::new(Signature {
                params: vec![Type::I32, Type::F32],
                results: vec![Type::I32, Type::I64],
            }),
            index: Value(0),
            args: vec![Value(0), Value(1)],
        }
    );
    let text = print_module(&m);
    assert!(text.contains("  global counter : f32 = 1.5\n"), "{text}");
    assert!(text.contains("  global mut g : f32 = 0x7fc00001\n"), "{text}");
    assert!(text.contains("  table [f, g, -, f]\n"), "{text}");
    assert!(
        text.contains("    v1 = global.get counter\n    global.set g, v1\n"),
        "{text}"
    );
    assert!(
        text.contains("v2, v3 = call_indirect v0(v0, v1) : (i32, f32) -> (i32, i64)"),
        "{text}"
    );
    assert_eq!(parse_plain(&text), Ok(m));
    // A table of no entries is still a table.
    let m = parse_plain("domain d {\n  table []\n}\n").unwrap();
    assert_eq!(m.domains[0].tables.len(), 1);
    assert!(m.domains[0].tables[0].init.is_empty());
    assert_eq!(print_module(&m), "domain d {\n  memory 0\n  table []\n}\n");
}

#[test]
fn globals_and_table_errors_are_located() {
    let dom = |items: &str| format!("domain d {{\n{items}\n}}\n");
    let with_fn =
        |body: &str| format!("domain d {{\n  global mut g : i32 = 0\n  func f() {{\n  block0:\n{body}\n  }}\n}}\n");
    assert_err(
        &with_fn("    v0 = global.get h\n    trap"),
        5,
        21,
        &["no global named `h` in domain `d`"],
    );
    assert_err(
        &with_fn("    global.set nope, v0\n    trap"),
        5,
        16,
        &["no global named `nope`"],
    );
    assert_err(
        &with_fn("    global.set g v0\n    trap"),
        5,
        18,
        &["expected `,`", "found `v0`"],
    );
    assert_err(
        &with_fn("    v1 = call_indirect v0(v0) (i32)\n    trap"),
        5,
        31,
        &["expected `:`", "found `(`"],
    );
    assert_err(
        &with_fn("    v1 = call_indirect(v0)\n    trap"),
        5,
        23,
        &["expected a value", "found `(`"],
    );
    assert_err(
        &dom("  table [f, nope]\n  func f() { block0: return }"),
        2,
        13,
        &["no function named `nope` in domain `d` (table entry 1)"],
    );
    assert_err(
        &dom("  table externref 1 max\n  func f() { block0: return }"),
        3,
        3,
        &["expected the maximum number of entries"],
    );
    assert_err(
        &dom("  table externref 2000000"),
        2,
        19,
        &["2000000 null entries: at most 1048576 may be written this way"],
    );
    assert_err(&dom("  elem anyref [f]"), 2, 8, &["expected `[`"]);
    assert_err(
        &dom("  table [, f]"),
        2,
        10,
        &["expected a function name or `-`", "found `,`"],
    );
    assert_err(
        &dom("  table [-f]"),
        2,
        10,
        &["expected a function name or `-`", "found number `-f`"],
    );
    assert_err(&dom("  table [-"), 3, 1, &["expected `,`", "found `}`"]);
    assert_err(
        &dom("  global g : i32 = 1.5"),
        2,
        20,
        &["expected an i32", "found malformed number `1.5`"],
    );
    assert_err(
        &dom("  global g : i32 = 4294967296"),
        2,
        20,
        &["an i32 `4294967296` is out of range"],
    );
    assert_err(
        &dom("  global g : f64 = pi"),
        2,
        20,
        &["expected a float literal", "found `pi`"],
    );
    assert_err(&dom("  global g : i64 = 1.0e3"), 2, 20, &["expected an i64"]);
    assert_err(
        &dom("  global g : region = 0"),
        2,
        14,
        &["a global's type is `i32`, `i64`, `f32` or `f64`", "found `region`"],
    );
    assert_err(&dom("  global g : i32 0"), 2, 18, &["expected `=`", "found number `0`"]);
    assert_err(
        &dom("  global mut : i32 = 0"),
        2,
        14,
        &["expected a global name", "found `:`"],
    );
    assert_err(
        &dom("  global g : i32 = 0\n  global g : i64 = 0"),
        3,
        3,
        &["global `g` is declared twice"],
    );
}

// ---------------------------------------------------------------------------------------
// Hostile input: properties
// ---------------------------------------------------------------------------------------

/// Words and punctuation of the grammar, to build inputs that get past the first token.
const TOKENS: &[&str] = &[
    "domain",
    "{",
    "}",
    "memory",
    "inbox",
    "data",
    "import",
    "export",
    "func",
    "host.f",
    "host.restart",
    "d.f",
    "=",
    ":",
    "(",
    ")",
    "->",
    "<",
    ">",
    ",",
    "!",
    "+",
    "[",
    "]",
    "i32",
    "i64",
    "f32",
    "f64",
    "cap",
    "region",
    "buf",
    "block0",
    "block1",
    "v0",
    "v1",
    "iconst.i32",
    "fconst.f64",
    "iadd.i64",
    "load8u.i32",
    "store.i64",
    "region.load.i32",
    "select.cap",
    "call",
    "cap.get",
    "global",
    "mut",
    "table",
    "-",
    "global.get",
    "global.set",
    "call_indirect",
    "jump",
    "brif",
    "br_table",
    "return",
    "trap",
    "call_cap",
    "ok",
    "fail",
    "range",
    "lt",
    "mem",
    "0",
    "-1",
    "0x10",
    "1e-3",
    "inf",
    "nan",
    "\"a\\n\"",
    "\"",
    "\\",
    ";",
    "\n",
    "99999999999999999999999",
    "é",
];

fn arb_token_soup() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(TOKENS), 0..64).prop_map(|t| t.join(" "))
}

#[derive(Clone, Debug)]
enum Mutation {
    /// Delete `len` chars at a position.
    Delete(Index, usize),
    /// Insert text at a position.
    Insert(Index, String),
    /// Repeat `len` chars at a position right after themselves.
    Duplicate(Index, usize),
    /// Swap two ranges of `len` chars.
    Swap(Index, Index, usize),
}

fn arb_insert_text() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(TOKENS).prop_map(String::from),
        "[ -~\n]{1,6}",
        any::<char>().prop_map(String::from),
    ]
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 1..16usize).prop_map(|(at, len)| Mutation::Delete(at, len)),
        (any::<Index>(), arb_insert_text()).prop_map(|(at, s)| Mutation::Insert(at, s)),
        (any::<Index>(), 1..32usize).prop_map(|(at, len)| Mutation::Duplicate(at, len)),
        (any::<Index>(), any::<Index>(), 1..16usize).prop_map(|(a, b, len)| Mutation::Swap(a, b, len)),
    ]
}

/// Apply a mutation to text, working on whole characters so that the result stays valid UTF-8.
fn mutate(text: &str, mutation: &Mutation) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let n = chars.len();
    match mutation {
        Mutation::Insert(at, s) => {
            let at = at.index(n + 1);
            chars.splice(at..at, s.chars());
        }
        _ if n == 0 => {}
        Mutation::Delete(at, len) => {
            let at = at.index(n);
            chars.drain(at..(at + len).min(n));
        }
        Mutation::Duplicate(at, len) => {
            let at = at.index(n);
            let piece: Vec<char> = chars[at..(at + len).min(n)].to_vec();
            let end = at + piece.len();
            chars.splice(end..end, piece);
        }
        Mutation::Swap(a, b, len) => {
            let (a, b) = (a.index(n), b.index(n));
            let (a, b) = (a.min(b), a.max(b));
            // Two non-overlapping ranges [a, a+l) and [b, b+l).
            let l = (*len).min(b - a).min(n - b);
            for i in 0..l {
                chars.swap(a + i, b + i);
            }
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn random_grammar_ascii_never_panics(src in "[a-z0-9_.(){}\\[\\]<>,:=!+\\-;\" \\\\\n\t]{0,200}") {
        check_any_input(&src)?;
    }

    #[test]
    fn random_unicode_never_panics(src in any::<String>()) {
        check_any_input(&src)?;
    }

    #[test]
    fn random_token_soup_never_panics(src in arb_token_soup()) {
        check_any_input(&src)?;
    }

    #[test]
    fn mutated_programs_never_panic(
        m in arb_module(),
        mutations in proptest::collection::vec(arb_mutation(), 1..5),
    ) {
        let mut text = print_module(&m);
        for mutation in &mutations {
            text = mutate(&text, mutation);
        }
        check_any_input(&text)?;
    }

    #[test]
    fn every_prefix_of_a_program_is_handled(m in arb_module(), cut in any::<Index>()) {
        let text = print_module(&m);
        let mut at = cut.index(text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        check_any_input(&text[..at])?;
    }
}

// ---------------------------------------------------------------------------------------
// Hostile input: specific cases
// ---------------------------------------------------------------------------------------

#[test]
fn empty_input_is_an_empty_module() {
    assert_eq!(parse_module(""), Ok(Module::default()));
    assert_eq!(parse_module("  \n\t; only a comment\n\r\n"), Ok(Module::default()));
    assert_eq!(print_module(&Module::default()), "");
}

/// Labels name blocks in any order: labels in order (`block0`, `block1`, ...) and
/// the ones after the first out of order resolve alike, and a label defined twice is
/// an error on either side of that point.
#[test]
fn block_labels_in_any_order() {
    let src =
        func_src("    jump block1\n  block1:\n    jump block7\n  block7:\n    jump block2\n  block2:\n    jump block7");
    let m = parse_module(&src).unwrap();
    let targets: Vec<u32> = m.domains[0].functions[0]
        .blocks
        .iter()
        .map(|b| match &b.term {
            Terminator::Jump(call) => call.block.0,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(targets, [1, 2, 3, 2]);
    let in_order = func_src("    jump block1\n  block1:\n    trap\n  block1:\n    trap");
    assert_err(&in_order, 7, 3, &["block1 is defined twice"]);
    let after = func_src("    jump block1\n  block1:\n    trap\n  block5:\n    trap\n  block0:\n    trap");
    assert_err(&after, 9, 3, &["block0 is defined twice"]);
    let after = func_src("    jump block9\n  block9:\n    trap\n  block9:\n    trap");
    assert_err(&after, 7, 3, &["block9 is defined twice"]);
    assert_err(
        &func_src("    jump block1\n  block2:\n    jump block1"),
        4,
        10,
        &["unknown block `block1`"],
    );
    assert_err(
        &func_src("    jump block1\n  block1:\n    jump block2"),
        6,
        10,
        &["unknown block `block2`"],
    );
}

#[test]
fn messages_name_expected_and_found() {
    assert_err(
        "domain d {\n  memory x\n}",
        2,
        10,
        &["expected initial page count", "found `x`"],
    );
    assert_err("domain d\n{\n  func f( {\n", 3, 11, &["expected a type", "found `{`"]);
    assert_err("garbage", 1, 1, &["expected `domain`", "found `garbage`"]);
    assert_err("domain 3 {}", 1, 8, &["expected a domain name", "found number `3`"]);
    assert_err("domain d {", 1, 11, &["expected `memory`", "found end of input"]);
    assert_err(
        "domain d {\n  bogus\n}",
        2,
        3,
        &["expected `memory`", "`}`", "found `bogus`"],
    );
    assert_err(
        "domain d {\n  import a = nodot : ()\n}",
        2,
        14,
        &["expected `domain.function`", "found `nodot`"],
    );
    assert_err(
        &func_src("    v0 = iconst.i32 1\n    v1 = iadd.i32 v0 v0\n    trap"),
        5,
        22,
        &["expected `,`", "found `v0`"],
    );
    assert_err(
        &func_src("    v0 = frobnicate.i32 v1\n    trap"),
        4,
        10,
        &["unknown instruction `frobnicate.i32`"],
    );
    assert_err(&func_src("    jump block7"), 4, 10, &["unknown block `block7`"]);
    assert_err(
        &func_src("    v0 = call nowhere()\n    trap"),
        4,
        15,
        &["no function named `nowhere`"],
    );
    assert_err(
        &func_src("    v0 = iadd v1, v2\n    trap"),
        4,
        10,
        &["expected a type suffix"],
    );
    assert_err(
        &func_src("    call_cap v0() ok(block0), fail(block0)"),
        4,
        19,
        &["expected `->`", "found `ok`"],
    );
    assert_err(
        &func_src("    v0 = load.i32 v1+\n    trap"),
        5,
        5,
        &["expected an offset", "found `trap`"],
    );
    assert_err(
        &func_src("    v0 !bogus(1) = iconst.i32 0\n    trap"),
        4,
        9,
        &["unknown fact `bogus`", "expected `range`"],
    );
}

#[test]
fn line_and_column_count_characters() {
    // Columns count characters, not bytes: the `é` in the comment is one column.
    let src = "; é\ndomain d { memory 1 } ; ü\n   ?";
    assert_err(src, 3, 4, &["unexpected character '?'"]);
    let e = err("domain d {}\r\n\r\n  @");
    assert_eq!(e.line_col("domain d {}\r\n\r\n  @"), (3, 3));
}

#[test]
fn non_ascii_outside_strings_is_rejected() {
    let src = "domain dé {}";
    let e = assert_err(src, 1, 9, &["unexpected character 'é'", "outside strings"]);
    assert_eq!(&src[e.span.start as usize..e.span.end as usize], "é");
    // Inside a string it is data.
    let m = parse_plain("domain d { data 0 \"é\" }").unwrap();
    assert_eq!(m.domains[0].data[0].bytes, "é".as_bytes());
    // Any non-ASCII char, including a 4-byte one, is reported whole.
    let src = "domain d {\n  🦀\n}";
    let e = assert_err(src, 2, 3, &["unexpected character '🦀'"]);
    assert_eq!(&src[e.span.start as usize..e.span.end as usize], "🦀");
}

#[test]
fn unterminated_string() {
    let src = "domain d {\n  data 0 \"abc\n}\n";
    let e = assert_err(
        src,
        2,
        10,
        &["unterminated string", "expected a closing", "found end of input"],
    );
    assert!(e.span.end as usize <= src.len());
    // An escaped quote does not terminate it; a trailing backslash does not run past the end.
    assert_err("domain d { data 0 \"ab\\\"", 1, 19, &["unterminated string"]);
    assert_err("domain d { data 0 \"ab\\", 1, 19, &["unterminated string"]);
}

#[test]
fn bad_escapes() {
    assert_err("domain d { data 0 \"a\\q\" }", 1, 21, &["bad escape"]);
    assert_err("domain d { data 0 \"a\\4\" }", 1, 21, &["bad escape"]);
    // Only two hex digits, no sign.
    assert_err("domain d { data 0 \"a\\+f\" }", 1, 21, &["bad escape"]);
    // The span of a bad escape before a multi-byte char stays on character boundaries.
    let src = "domain d { data 0 \"\\é\" }";
    let e = assert_err(src, 1, 20, &["bad escape"]);
    assert!(src.is_char_boundary(e.span.end as usize), "{e:?}");
    let m = parse_plain("domain d { data 0 \"\\n\\t\\r\\\\\\\"\\00\\ff\\7F\" }").unwrap();
    assert_eq!(m.domains[0].data[0].bytes, b"\n\t\r\\\"\x00\xff\x7f");
}

#[test]
fn huge_integer_literals_are_range_errors() {
    let cases = [
        ("domain d { memory 4294967296 }", 19, "initial page count"),
        (
            "domain d { memory 99999999999999999999999999999999 }",
            19,
            "initial page count",
        ),
        ("domain d { memory 0x1_0000_0000 }", 19, "initial page count"),
        ("domain d { memory -1 }", 19, "initial page count"),
        ("domain d { inbox 0 18446744073709551616 }", 20, "inbox size"),
    ];
    for (src, col, what) in cases {
        assert_err(src, 1, col, &[what, "out of range"]);
    }
    let cases = [
        ("    v0 = iconst.i32 4294967296\n    trap", "an i32"),
        ("    v0 = iconst.i32 -2147483649\n    trap", "an i32"),
        ("    v0 = iconst.i64 18446744073709551616\n    trap", "an i64"),
        ("    v0 = iconst.i64 -9223372036854775809\n    trap", "an i64"),
        (
            "    v0 = iconst.i64 -99999999999999999999999999999999999999999\n    trap",
            "an i64",
        ),
        ("    v0 = iconst.i64 0x1_0000_0000_0000_0000\n    trap", "an i64"),
        (
            "    v0 !range(0, 18446744073709551616) = iconst.i32 0\n    trap",
            "range upper bound",
        ),
        ("    v0 = load.i32 v1+4294967296\n    trap", "an offset"),
    ];
    for (body, what) in cases {
        let e = err(&func_src(body));
        assert!(
            e.message.contains(what) && e.message.contains("out of range"),
            "{body}: {e:?}"
        );
    }
    // The extremes themselves are fine.
    let m = parse_plain(&func_src(
        "    v0 = iconst.i32 4294967295\n    v1 = iconst.i32 -2147483648\n    \
         v2 = iconst.i64 18446744073709551615\n    v3 = iconst.i64 -9223372036854775808\n    trap",
    ))
    .unwrap();
    let ops: Vec<&Op> = m.domains[0].functions[0].blocks[0]
        .insts
        .iter()
        .map(|i| &i.op)
        .collect();
    assert_eq!(ops[0], &Op::Const(Const::I32(-1)));
    assert_eq!(ops[1], &Op::Const(Const::I32(i32::MIN)));
    assert_eq!(ops[2], &Op::Const(Const::I64(-1)));
    assert_eq!(ops[3], &Op::Const(Const::I64(i64::MIN)));
}

#[test]
fn malformed_numbers() {
    assert_err("domain d { memory 12abc }", 1, 19, &["malformed number `12abc`"]);
    assert_err("domain d { memory 0x }", 1, 19, &["malformed number `0x`"]);
    assert_err(
        &func_src("    v0 = fconst.f64 1.2.3\n    trap"),
        4,
        21,
        &["malformed float literal `1.2.3`"],
    );
    assert_err(
        &func_src("    v0 = fconst.f32 0x100000000\n    trap"),
        4,
        21,
        &["malformed float literal"],
    );
}

/// `import x = host.f : (cap<(cap<(...)>)>)` with `depth` nested capability types.
fn nested_cap_src(depth: usize) -> String {
    format!(
        "domain d {{\n  import x = host.f : ({}i32{})\n}}\n",
        "cap<(".repeat(depth),
        ")>".repeat(depth)
    )
}

#[test]
fn deep_type_nesting_is_bounded() {
    let m = parse_plain(&nested_cap_src(16)).unwrap();
    let mut depth = 0;
    let mut ty = &m.domains[0].imports[0].sig.params[0];
    while let Type::Cap(sig) = ty {
        depth += 1;
        ty = &sig.params[0];
    }
    assert_eq!(depth, 16);
    assert_eq!(parse_plain(&print_module(&m)), Ok(m));
    for depth in [17, 100, 1_000_000] {
        let src = nested_cap_src(depth);
        let e = err(&src);
        assert!(e.message.contains("nested deeper than 16"), "{e:?}");
        // Reported at the 17th `cap`.
        let at = "domain d {\n  import x = host.f : (".len() + 16 * "cap<(".len();
        assert_eq!(e.span.start as usize, at);
        assert_eq!(&src[at..e.span.end as usize], "cap");
    }
    // The same bound holds in `select.cap<...>`, which counts as one level.
    let select = |depth: usize| {
        let ty = format!("{}i32{}", "cap<(".repeat(depth), ")>".repeat(depth));
        func_src(&format!("    v0 = select.cap<({ty})> v1, v2, v3\n    trap"))
    };
    assert!(parse_module(&select(15)).is_ok());
    assert!(err(&select(16)).message.contains("nested deeper than 16"));
    // Unclosed nesting without a bound on the count of opening tokens.
    let e = err(&"cap<(".repeat(1_000_000));
    assert!(e.message.contains("expected `domain`"), "{e:?}");
    let e = err(&format!("domain d {{ import x = host.f : {}", "(".repeat(1_000_000)));
    assert!(e.message.contains("expected a type"), "{e:?}");
}

const HUGE: usize = 100 << 20;

#[test]
fn huge_single_line_of_keywords_fails_fast() {
    let src = "domain ".repeat(HUGE / 7);
    let e = err(&src);
    assert_eq!(e.line_col(&src), (1, 15));
    assert!(e.message.contains("expected `{`"), "{e:?}");
}

#[test]
fn huge_single_word_gives_a_short_message() {
    let src = "x".repeat(HUGE);
    let e = err(&src);
    assert_eq!((e.span.start, e.span.end), (0, HUGE as u32));
    assert!(e.message.len() < 200, "message of {} bytes", e.message.len());
    assert!(e.message.contains("expected `domain`"), "{}", e.message);
    // The same holds for a huge number, string and garbage line.
    let number = "9".repeat(HUGE);
    let e = err(&format!("domain d {{ memory {number} }}"));
    assert!(
        e.message.len() < 200 && e.message.contains("out of range"),
        "{}",
        &e.message[..200.min(e.message.len())]
    );
    let e = err(&format!("domain d {{ memory 1 data 0 \"{}", "a".repeat(HUGE)));
    assert!(e.message.contains("unterminated string"), "{e:?}");
    let e = err(&format!("domain d {{ memory 1 data 0 {} }}", "\"a\"".repeat(HUGE / 3)));
    assert!(e.message.len() < 200, "message of {} bytes", e.message.len());
    let e = err(&"@#$%".repeat(HUGE / 4));
    assert!(e.message.contains("unexpected character '@'"), "{e:?}");
}

#[test]
fn huge_valid_line_parses() {
    // Many data segments on one line: work and memory stay proportional to the input.
    let count = 1 << 20;
    let src = format!("domain d {{ {} }}", "data 0 \"ab\" ".repeat(count));
    let m = parse_plain(&src).unwrap();
    assert_eq!(m.domains[0].data.len(), count);
}
