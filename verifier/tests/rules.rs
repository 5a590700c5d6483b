//! One accepted and one rejected program for every rule in the verifier's top doc
//! comment (`verifier/src/lib.rs`), in its order, plus the behaviour around them:
//! every error is located (domain, function, block, site) and says what was
//! expected and what was found, all errors are reported at once, dominance through
//! diamonds and loops, facts, and which memory accesses are proven in bounds.

use capjit_ir::*;
use capjit_verifier::limits::*;
use capjit_verifier::{verify, ErrorKind, Site, Verified, VerifyError};

// ---- helpers ---------------------------------------------------------------------------

#[track_caller]
fn parse(src: &str) -> Module {
    parse_module(src).unwrap_or_else(|e| panic!("parse error: {e}\n{src}"))
}

#[track_caller]
fn accept_module(m: &Module) -> Verified<Module> {
    match verify(m) {
        Ok(v) => v,
        Err(errs) => panic!(
            "expected acceptance, got:\n{}\n{}",
            errs.iter().map(|e| format!("  {e}\n")).collect::<String>(),
            print_module(m)
        ),
    }
}

#[track_caller]
fn accept(src: &str) -> Verified<Module> {
    accept_module(&parse(src))
}

#[track_caller]
fn reject_module(m: &Module) -> Vec<VerifyError> {
    match verify(m) {
        Ok(_) => panic!("expected rejection:\n{}", print_module(m)),
        Err(errs) => errs,
    }
}

#[track_caller]
fn reject(src: &str) -> Vec<VerifyError> {
    reject_module(&parse(src))
}

/// Where an error is expected: domain, function, block, site.
type At<'a> = (&'a str, Option<&'a str>, Option<u32>, Option<Site>);

const MODULE: At = ("", None, None, None);

fn dom(d: &str) -> At<'_> {
    (d, None, None, None)
}

fn func<'a>(d: &'a str, f: &'a str) -> At<'a> {
    (d, Some(f), None, None)
}

fn inst(b: u32, i: u32) -> At<'static> {
    ("d", Some("f"), Some(b), Some(Site::Inst(i)))
}

fn term(b: u32) -> At<'static> {
    ("d", Some("f"), Some(b), Some(Site::Terminator))
}

fn param(b: u32, k: u32) -> At<'static> {
    ("d", Some("f"), Some(b), Some(Site::Param(k)))
}

#[track_caller]
fn check_at(e: &VerifyError, kind: &str, at: At) {
    let l = &e.location;
    assert_eq!(e.kind.name(), kind, "kind of {e}");
    assert_eq!(
        (l.domain.as_str(), l.function.as_deref(), l.block, l.site),
        at,
        "location of {e}"
    );
}

/// Exactly one error, of this kind, here.
#[track_caller]
fn only(errs: &[VerifyError], kind: &str, at: At) -> ErrorKind {
    assert_eq!(errs.len(), 1, "expected one error, got {errs:#?}");
    check_at(&errs[0], kind, at);
    errs[0].kind.clone()
}

/// One of the errors is of this kind, here.
#[track_caller]
fn has(errs: &[VerifyError], kind: &str, at: At) {
    assert!(
        errs.iter().any(|e| {
            let l = &e.location;
            e.kind.name() == kind && (l.domain.as_str(), l.function.as_deref(), l.block, l.site) == at
        }),
        "no {kind} at {at:?} in {errs:#?}"
    );
}

#[track_caller]
fn says(kind: &ErrorKind, text: &str) {
    let msg = kind.to_string();
    assert!(msg.contains(text), "message `{msg}` does not contain `{text}`");
}

/// A one-domain, one-function module: `domain d { memory 1  export? func f ... }`.
fn fun(sig: &str, body: &str) -> String {
    format!("domain d {{\n  memory 1\n  export func f{sig} {{\n{body}\n  }}\n}}\n")
}

fn fun_mem(mem: &str, sig: &str, body: &str) -> String {
    format!("domain d {{\n  memory {mem}\n  export func f{sig} {{\n{body}\n  }}\n}}\n")
}

fn simple_domain(name: &str) -> Domain {
    Domain {
        name: name.into(),
        memory: Memory::default(),
        inbox: None,
        data: vec![],
        passive_data: vec![],
        imports: vec![],
        globals: Vec::new(),
        tables: Vec::new(),
        passive_elems: Vec::new(),
        functions: vec![],
        span: None,
    }
}

fn ret_block() -> Block {
    Block {
        params: vec![],
        insts: vec![],
        term: Terminator::Return(vec![]),
        term_span: None,
    }
}

fn unit_fn(name: &str) -> Function {
    Function {
        name: name.into(),
        exported: false,
        sig: Signature::default(),
        blocks: vec![ret_block()],
        span: None,
    }
}

fn f_mut(m: &mut Module) -> &mut Function {
    &mut m.domains[0].functions[0]
}

// ---- 1. check_limits, check_type_limits --------------------------------------------------------------------

#[test]
fn limit_on_domains() {
    let m = Module {
        domains: (0..MAX_DOMAINS).map(|i| simple_domain(&format!("d{i}"))).collect(),
    };
    accept_module(&m);
    let mut m = m;
    m.domains.push(simple_domain("one_more"));
    let k = only(&reject_module(&m), "limit_exceeded", MODULE);
    assert_eq!(
        k,
        ErrorKind::LimitExceeded {
            what: "domains",
            limit: MAX_DOMAINS as u64,
            found: MAX_DOMAINS as u64 + 1
        }
    );
    says(&k, "the limit is 10000");
}

#[test]
fn limit_on_functions_and_imports() {
    let mut d = simple_domain("big");
    // The limit check comes first and stops verification: the functions need no body.
    d.functions = (0..=MAX_FUNCTIONS)
        .map(|i| Function {
            blocks: vec![],
            ..unit_fn(&format!("f{i}"))
        })
        .collect();
    d.imports = (0..=MAX_IMPORTS)
        .map(|i| Import {
            name: format!("i{i}"),
            source: ImportSource::Host {
                function: "print_i32".into(),
            },
            sig: Signature::default(),
            span: None,
        })
        .collect();
    let errs = reject_module(&Module { domains: vec![d] });
    assert_eq!(
        errs.len(),
        2,
        "{:?}",
        errs.iter().map(|e| e.to_string()).collect::<Vec<_>>()
    );
    check_at(&errs[0], "limit_exceeded", dom("big"));
    check_at(&errs[1], "limit_exceeded", dom("big"));
    assert!(matches!(
        errs[0].kind,
        ErrorKind::LimitExceeded { what: "functions", .. }
    ));
    assert!(matches!(errs[1].kind, ErrorKind::LimitExceeded { what: "imports", .. }));
}

/// `cap<(cap<(... i32)>)>` with `depth` levels.
fn nested_cap(depth: usize) -> Type {
    let mut t = Type::I32;
    for _ in 0..depth {
        t = Type::Cap(Box::new(Signature {
            params: vec![t],
            results: vec![],
        }));
    }
    t
}

/// A domain `d` with an internal function `f` taking one parameter of type `t`.
fn takes(t: Type) -> Module {
    let mut m = parse(&fun("()", "  block0:\n    return"));
    let f = f_mut(&mut m);
    f.exported = false;
    f.sig.params = vec![t.clone()];
    f.blocks[0].params = vec![BlockParam {
        value: Value(0),
        ty: t,
        fact: None,
    }];
    m
}

#[test]
fn type_limits() {
    accept_module(&takes(nested_cap(MAX_TYPE_DEPTH)));
    let k = only(
        &reject_module(&takes(nested_cap(MAX_TYPE_DEPTH + 1))),
        "limit_exceeded",
        func("d", "f"),
    );
    says(&k, "too many levels of nested capability types: 17, the limit is 16");
    // A capability type's own signature is bounded like any other.
    let wide = |n: usize| {
        Type::Cap(Box::new(Signature {
            params: vec![Type::I32; n],
            results: vec![],
        }))
    };
    accept_module(&takes(wide(MAX_ARITY)));
    let k = only(
        &reject_module(&takes(wide(MAX_ARITY + 1))),
        "limit_exceeded",
        func("d", "f"),
    );
    says(&k, "parameters or results of a capability type: 1001");
    // So are import signatures.
    let mut m = parse("domain d { import p = host.print_i32 : (i32) }");
    m.domains[0].imports[0].sig.params = vec![Type::I32; MAX_ARITY];
    accept_module(&m);
    m.domains[0].imports[0].sig.params.push(Type::I32);
    let k = only(&reject_module(&m), "limit_exceeded", dom("d"));
    says(&k, "too many parameters of a signature: 1001, the limit is 1000");
}

// ---- 2. check_unique_names ------------------------------------------------------------------

#[test]
fn unique_names() {
    let m = parse("domain a { func f() { block0: return } func g() { block0: return } } domain b {}");
    accept_module(&m);

    let mut dup_domain = m.clone();
    dup_domain.domains[1].name = "a".into();
    let k = only(&reject_module(&dup_domain), "duplicate_name", MODULE);
    says(&k, "domain `a` is defined more than once");

    let mut dup_fn = m.clone();
    dup_fn.domains[0].functions[1].name = "f".into();
    let k = only(&reject_module(&dup_fn), "duplicate_name", dom("a"));
    says(&k, "function `f`");

    let mut dup_import = parse("domain a { import p = host.print_i32 : (i32) import q = host.print_i32 : (i32) }");
    accept_module(&dup_import);
    dup_import.domains[0].imports[1].name = "p".into();
    let k = only(&reject_module(&dup_import), "duplicate_name", dom("a"));
    says(&k, "import `p`");
}

// ---- 3. check_memory_layout -------------------------------------------------------------------

#[test]
fn memory_layout() {
    // Data and inbox may end exactly at the end of the initial memory.
    accept("domain d { memory 1 2 data 65534 \"ab\" inbox 65436 100 }");
    accept("domain d { memory 65536 }");
    accept("domain d { memory 0 }");

    let k = only(&reject("domain d { memory 2 1 }"), "bad_memory", dom("d"));
    says(&k, "initial size 2 pages exceeds maximum 1");
    let k = only(&reject("domain d { memory 1 65537 }"), "bad_memory", dom("d"));
    says(&k, "exceeds the limit of 65536");
    let k = only(
        &reject("domain d { memory 1 data 65535 \"ab\" }"),
        "bad_memory",
        dom("d"),
    );
    says(
        &k,
        "data segment [65535, 65537) lies outside the initial memory of 65536 bytes",
    );
    // Inside the maximum but not the initial memory.
    let k = only(
        &reject("domain d { memory 1 2 inbox 65437 100 }"),
        "bad_memory",
        dom("d"),
    );
    says(&k, "inbox [65437, 65537)");
}

// ---- 4. check_cap_not_crossing ----------------------------------------------------------------

#[test]
fn capabilities_do_not_cross_domains() {
    accept("domain d { import p = host.print_i32 : (i32) func g(cap<(i32)>) { block0(v0: cap<(i32)>): return } }");

    let errs = reject("domain d { export func g(cap<(i32)>) { block0(v0: cap<(i32)>): return } }");
    let k = only(&errs, "cap_crosses_domains", func("d", "g"));
    says(&k, "exported function `g` carries one");

    let errs = reject("domain d { export func g() -> cap<()> { block0: trap } }");
    only(&errs, "cap_crosses_domains", func("d", "g"));

    let errs = reject("domain d { import p = host.print_i32 : (cap<(i32)>) }");
    let k = only(&errs, "cap_crosses_domains", dom("d"));
    says(&k, "import `p`");
}

// ---- 5. check_links ---------------------------------------------------------------------------

#[test]
fn links() {
    let good = "domain a { export func f(i32) -> i64 { block0(v0: i32): v1 = uextend.i64.i32 v0 return v1 } func hidden() { block0: return } }
                domain b { import x = a.f : (i32) -> i64 import r = host.restart(a) : () }";
    accept(good);

    let k = only(
        &reject("domain b { import x = nowhere.f : (i32) }"),
        "link_missing",
        dom("b"),
    );
    says(&k, "import `x` names export `nowhere.f`, which does not exist");
    let src = "domain a { func hidden() { block0: return } } domain b { import x = a.hidden : () }";
    only(&reject(src), "link_missing", dom("b"));
    let src = "domain a { export func f(i32) { block0(v0: i32): return } } domain b { import x = a.f : (i64) }";
    let k = only(&reject(src), "link_signature_mismatch", dom("b"));
    says(&k, "expects (i64), but `export `a.f`` has (i32)");

    only(
        &reject("domain b { import r = host.restart(ghost) : () }"),
        "link_missing",
        dom("b"),
    );
    // A granted file is read through `(buf) -> i32`.
    accept("domain b { import notes = host.file(notes) : (buf) -> i32 }");
    let k = only(
        &reject("domain b { import notes = host.file(notes) : (buf) }"),
        "link_signature_mismatch",
        dom("b"),
    );
    says(
        &k,
        "import `notes` expects (buf), but `granted file `notes`` has (buf) -> i32",
    );
    let k = only(
        &reject("domain a {} domain b { import r = host.restart(a) : (i32) }"),
        "link_signature_mismatch",
        dom("b"),
    );
    says(&k, "expects (i32)");
}

// ---- 6. functions have blocks; arity limits -----------------------------------------------------

#[test]
fn function_needs_a_block() {
    let mut m = parse(&fun("()", "  block0: return"));
    accept_module(&m);
    f_mut(&mut m).blocks.clear();
    only(&reject_module(&m), "empty_function", func("d", "f"));
}

#[test]
fn arity_limit() {
    let mut m = parse(&fun("()", "  block0: return"));
    let f = f_mut(&mut m);
    f.sig.params = vec![Type::I32; MAX_ARITY];
    f.blocks[0].params = (0..MAX_ARITY as u32)
        .map(|i| BlockParam {
            value: Value(i),
            ty: Type::I32,
            fact: None,
        })
        .collect();
    accept_module(&m);
    let f = f_mut(&mut m);
    f.sig.params.push(Type::I32);
    f.blocks[0].params.push(BlockParam {
        value: Value(MAX_ARITY as u32),
        ty: Type::I32,
        fact: None,
    });
    let k = only(&reject_module(&m), "limit_exceeded", func("d", "f"));
    says(&k, "too many parameters of a signature: 1001, the limit is 1000");
}

// ---- 7. check_block_targets ---------------------------------------------------------------------

#[test]
fn branch_targets_exist_and_avoid_the_entry() {
    let src = fun("()", "  block0: jump block1\n  block1: return");
    let mut m = parse(&src);
    accept_module(&m);
    f_mut(&mut m).blocks[0].term = Terminator::Jump(BlockCall {
        block: BlockId(7),
        args: vec![],
    });
    let k = only(&reject_module(&m), "unknown_block", term(0));
    assert_eq!(k, ErrorKind::UnknownBlock(7));

    let errs = reject(&fun("()", "  block0: jump block1\n  block1: jump block0"));
    only(&errs, "entry_targeted", term(1));
}

#[test]
fn br_table_target_limit() {
    let src = fun(
        "(i32)",
        "  block0(v0: i32): br_table v0, block1, [block1]\n  block1: return",
    );
    let mut m = parse(&src);
    let set = |m: &mut Module, n: usize| {
        if let Terminator::BrTable { targets, .. } = &mut f_mut(m).blocks[0].term {
            *targets = vec![
                BlockCall {
                    block: BlockId(1),
                    args: vec![]
                };
                n
            ];
        }
    };
    set(&mut m, MAX_TABLE_TARGETS);
    accept_module(&m);
    set(&mut m, MAX_TABLE_TARGETS + 1);
    let k = only(&reject_module(&m), "limit_exceeded", term(0));
    says(&k, "too many br_table targets: 65537, the limit is 65536");
}

// ---- 8. check_reachable -------------------------------------------------------------------------

#[test]
fn every_block_is_reachable() {
    accept(&fun(
        "()",
        "  block0: jump block2\n  block1: return\n  block2: jump block1",
    ));
    let errs = reject(&fun("()", "  block0: return\n  block1: jump block2\n  block2: return"));
    // block1 is unreachable; block2 is only reachable from it.
    assert_eq!(errs.len(), 2, "{errs:#?}");
    check_at(&errs[0], "unreachable_block", term(1));
    check_at(&errs[1], "unreachable_block", term(2));
    says(&errs[0].kind, "block1 is unreachable from the entry block");
}

// ---- 9. define_values ---------------------------------------------------------------------------

#[test]
fn value_numbers_are_bounded() {
    let src = fun("() -> i32", "  block0:\n    v100000 = iconst.i32 1\n    return v100000");
    let mut m = parse(&src);
    accept_module(&m);
    let f = f_mut(&mut m);
    f.blocks[0].insts[0].results[0].value = Value(MAX_VALUE_INDEX);
    f.blocks[0].term = Terminator::Return(vec![Value(MAX_VALUE_INDEX)]);
    let errs = reject_module(&m);
    has(&errs, "value_too_large", inst(0, 0));
    // Its use then names a value that was never defined.
    has(&errs, "undefined_value", term(0));
}

#[test]
fn values_are_defined_once() {
    accept(&fun("(i32)", "  block0(v0: i32):\n    v1 = iconst.i32 1\n    return"));
    let errs = reject(&fun(
        "(i32)",
        "  block0(v0: i32):\n    v1 = iconst.i32 1\n    v1 = iconst.i32 2\n    return",
    ));
    let k = only(&errs, "duplicate_definition", inst(0, 1));
    says(&k, "v1 is defined more than once");
    // A block parameter redefining an instruction's result.
    let errs = reject(&fun(
        "(i32)",
        "  block0(v0: i32):\n    v1 = iconst.i32 1\n    jump block1(v1)\n  block1(v0: i32):\n    return",
    ));
    only(&errs, "duplicate_definition", param(1, 0));
}

#[test]
fn results_match_the_operation() {
    accept(&fun(
        "()",
        "  block0:\n    v1 = iconst.i32 1\n    store.i32 v1, v1\n    return",
    ));
    let k = only(
        &reject(&fun("()", "  block0:\n    v1, v2 = iconst.i32 1\n    return")),
        "arity_mismatch",
        inst(0, 0),
    );
    says(&k, "wrong number of results: expected 1, found 2");
    let k = only(
        &reject(&fun(
            "()",
            "  block0:\n    v1 = iconst.i32 1\n    v2 = store.i32 v1, v1\n    return",
        )),
        "arity_mismatch",
        inst(0, 1),
    );
    says(&k, "expected 0, found 1");
}

// ---- 10. check_entry_params ---------------------------------------------------------------------

#[test]
fn entry_parameters_are_the_signature() {
    accept(&fun("(i32, i64)", "  block0(v0: i32, v1: i64):\n    return"));
    let k = only(
        &reject(&fun("(i32, i64)", "  block0(v0: i32):\n    return")),
        "arity_mismatch",
        param(0, 0),
    );
    says(&k, "expected 2, found 1");
    let k = only(
        &reject(&fun("(i32, i64)", "  block0(v0: i32, v1: i32):\n    return")),
        "type_mismatch",
        param(0, 1),
    );
    says(&k, "expected i64, found i32");
}

// ---- 11. check_op: dominance ----------------------------------------------------------------------

#[test]
fn undefined_values() {
    let src = fun(
        "(i32) -> i32",
        "  block0(v0: i32):\n    v1 = iadd.i32 v0, v9\n    return v1",
    );
    let errs = reject(&src);
    let k = only(&errs, "undefined_value", inst(0, 0));
    assert_eq!(k, ErrorKind::UndefinedValue(Value(9)));
    // Errors in parsed text point at the instruction's source.
    let span = errs[0].location.span.expect("a span");
    assert_eq!(&src[span.start as usize..span.end as usize], "v1 = iadd.i32 v0, v9");
}

#[test]
fn use_before_definition_in_a_block() {
    let errs = reject(&fun(
        "() -> i32",
        "  block0:\n    v2 = iadd.i32 v1, v1\n    v1 = iconst.i32 1\n    return v2",
    ));
    assert_eq!(errs.len(), 2, "{errs:#?}");
    check_at(&errs[0], "not_dominated", inst(0, 0));
    check_at(&errs[1], "not_dominated", inst(0, 0));
    assert_eq!(errs[0].kind, ErrorKind::NotDominated(Value(1)));
    // A value cannot be used by the instruction that defines it.
    let errs = reject(&fun("() -> i32", "  block0:\n    v1 = iadd.i32 v1, v1\n    return v1"));
    has(&errs, "not_dominated", inst(0, 0));
}

const DIAMOND_HEAD: &str = "  block0(v0: i32):
    v1 = iconst.i32 10
    brif v0, block1, block2
  block1:
    v2 = iadd.i32 v1, v1
    jump block3(v2)
  block2:
    v3 = iconst.i32 7
    jump block3(v3)
  block3(v4: i32):";

#[test]
fn dominance_through_a_diamond() {
    // The head's value and the join's parameter are available after the join.
    accept(&fun(
        "(i32) -> i32",
        &format!("{DIAMOND_HEAD}\n    v5 = iadd.i32 v1, v4\n    return v5"),
    ));
    // One arm's value is not.
    let errs = reject(&fun(
        "(i32) -> i32",
        &format!("{DIAMOND_HEAD}\n    v5 = iadd.i32 v2, v4\n    return v5"),
    ));
    let k = only(&errs, "not_dominated", inst(3, 0));
    says(&k, "v2 is used where its definition does not dominate the use");
    // Nor is the other arm's, in a branch argument.
    let src = fun(
        "(i32) -> i32",
        "  block0(v0: i32):
    brif v0, block1, block2
  block1:
    v2 = iconst.i32 1
    jump block3(v2)
  block2:
    jump block3(v2)
  block3(v4: i32):
    return v4",
    );
    only(&reject(&src), "not_dominated", term(2));
}

const LOOP: &str = "  block0(v0: i32):
    v1 = iconst.i32 0
    jump block1(v1)
  block1(v2: i32):
    v3 = icmp.ult.i32 v2, v0
    v4 = iconst.i32 1
    brif v3, block2, block3
  block2:
    v5 = iadd.i32 v2, v4
    jump block1(v5)
  block3:";

#[test]
fn dominance_through_a_loop() {
    // Defined in the header, used in the body (above) and after the exit.
    accept(&fun(
        "(i32) -> i32",
        &format!("{LOOP}\n    v6 = iadd.i32 v2, v4\n    return v6"),
    ));
    // Defined in the body, used after the exit: the exit is reached from the header.
    let errs = reject(&fun("(i32) -> i32", &format!("{LOOP}\n    return v5")));
    only(&errs, "not_dominated", term(3));
    // ... unless the body dominates the exit: here the loop is left from the body.
    accept(&fun(
        "(i32) -> i32",
        "  block0(v0: i32):
    v1 = iconst.i32 0
    jump block1(v1)
  block1(v2: i32):
    v4 = iconst.i32 1
    v5 = iadd.i32 v2, v4
    v3 = icmp.ult.i32 v5, v0
    brif v3, block1(v5), block2
  block2:
    return v5",
    ));
    // A back edge does not make the body's values available in the header.
    let errs = reject(&fun(
        "(i32) -> i32",
        "  block0(v0: i32):
    v1 = iconst.i32 0
    jump block1(v1)
  block1(v2: i32):
    v9 = iadd.i32 v5, v5
    v4 = iconst.i32 1
    v5 = iadd.i32 v2, v4
    v3 = icmp.ult.i32 v5, v0
    brif v3, block1(v5), block2
  block2:
    return v5",
    ));
    has(&errs, "not_dominated", inst(1, 0));
}

// ---- 11. check_op: types ------------------------------------------------------------------------

#[test]
fn operand_types() {
    accept(&fun(
        "(i64) -> i64",
        "  block0(v0: i64):\n    v1 = iadd.i64 v0, v0\n    return v1",
    ));
    let errs = reject(&fun(
        "(i64) -> i32",
        "  block0(v0: i64):\n    v1 = iadd.i32 v0, v0\n    return v1",
    ));
    assert_eq!(errs.len(), 2, "{errs:#?}");
    check_at(&errs[0], "type_mismatch", inst(0, 0));
    check_at(&errs[1], "type_mismatch", inst(0, 0));
    says(
        &errs[0].kind,
        "type mismatch in operand 1 of `iadd.i32` (v0): expected i32, found i64",
    );
    says(&errs[1].kind, "operand 2 of `iadd.i32` (v0): expected i32, found i64");
}

#[test]
fn operations_are_defined_for_their_types() {
    accept(&fun(
        "(f32) -> f32",
        "  block0(v0: f32):\n    v1 = fadd.f32 v0, v0\n    return v1",
    ));
    for (body, what) in [
        ("v1 = iadd.f32 v0, v0", "`iadd.f32` is not defined for f32"),
        ("v1 = clz.f32 v0", "`clz.f32` is not defined for f32"),
        ("v1 = icmp.eq.f32 v0, v0", "`icmp.eq.f32` is not defined for f32"),
        ("v1 = uextend.i64.f32 v0", "is not defined for f32 to i64"),
    ] {
        let src = fun("(f32)", &format!("  block0(v0: f32):\n    {body}\n    return"));
        let k = only(&reject(&src), "bad_op_type", inst(0, 0));
        says(&k, what);
    }
    let k = only(
        &reject(&fun(
            "(i32)",
            "  block0(v0: i32):\n    v1 = fadd.i32 v0, v0\n    return",
        )),
        "bad_op_type",
        inst(0, 0),
    );
    says(&k, "`fadd.i32` is not defined for i32");
    // A narrow float access cannot be written in text; build it.
    let mut m = parse(&fun("(i32)", "  block0(v0: i32):\n    v1 = load.f32 v0\n    return"));
    accept_module(&m);
    if let Op::Load { access, .. } = &mut f_mut(&mut m).blocks[0].insts[0].op {
        access.bytes = 1;
    }
    only(&reject_module(&m), "bad_op_type", inst(0, 0));
}

#[test]
fn calls_within_the_domain() {
    let src = "domain d {
  func g(i32) -> i64 { block0(v0: i32): v1 = uextend.i64.i32 v0 return v1 }
  export func f(i32) -> i64 {
  block0(v0: i32):
    v1 = call g(v0)
    return v1
  }
}";
    let mut m = parse(src);
    accept_module(&m);
    fn call_op(m: &mut Module) -> &mut Op {
        &mut m.domains[0].functions[1].blocks[0].insts[0].op
    }
    let at = ("d", Some("f"), Some(0), Some(Site::Inst(0)));
    let mut unknown = m.clone();
    *call_op(&mut unknown) = Op::Call {
        func: 9,
        args: vec![Value(0)],
    };
    let errs = reject_module(&unknown);
    has(&errs, "unknown_function", at);
    let mut arity = m.clone();
    *call_op(&mut arity) = Op::Call {
        func: 0,
        args: vec![Value(0), Value(0)],
    };
    let k = only(&reject_module(&arity), "arity_mismatch", at);
    says(&k, "wrong number of arguments of call to `g`: expected 1, found 2");
    m.domains[0].functions[0].sig.params = vec![Type::I64];
    m.domains[0].functions[0].blocks[0].params[0].ty = Type::I64;
    let errs = reject_module(&m);
    has(&errs, "type_mismatch", at);
}

#[test]
fn capabilities_only_come_from_imports() {
    let ok = "domain d {
  import p = host.print_i32 : (i32)
  export func f(i32) {
  block0(v0: i32):
    v1 = cap.get p
    v2 = cap.get p
    v3 = select.cap<(i32)> v0, v1, v2
    call_cap v3(v0) -> ok(block1), fail(block2)
  block1:
    return
  block2(v4: i32):
    return
  }
}";
    let m = parse(ok);
    accept_module(&m);
    // An unknown import.
    let mut bad = m.clone();
    f_mut(&mut bad).blocks[0].insts[0].op = Op::CapGet { import: 5 };
    has(&reject_module(&bad), "unknown_import", inst(0, 0));
    // An integer is not a capability, whatever route it takes.
    let via_param = "domain d {
  export func f(i32) {
  block0(v0: i32):
    jump block1(v0)
  block1(v1: cap<(i32)>):
    call_cap v1(v0) -> ok(block2), fail(block3)
  block2:
    return
  block3(v4: i32):
    return
  }
}";
    let k = only(&reject(via_param), "type_mismatch", term(0));
    says(&k, "expected cap<(i32)>, found i32");
    let via_select = "domain d {
  import p = host.print_i32 : (i32)
  export func f(i32) {
  block0(v0: i32):
    v1 = cap.get p
    v2 = select.cap<(i32)> v0, v1, v0
    return
  }
}";
    let k = only(&reject(via_select), "type_mismatch", inst(0, 1));
    says(&k, "expected cap<(i32)>, found i32");
    // A capability is never stored: `store` only takes numbers.
    let stored = "domain d {
  memory 1
  import p = host.print_i32 : (i32)
  export func f(i32) {
  block0(v0: i32):
    v1 = cap.get p
    store.i32 v1, v0
    return
  }
}";
    let k = only(&reject(stored), "type_mismatch", inst(0, 1));
    says(&k, "operand 1 of `store.i32` (v1): expected i32, found cap<(i32)>");
}

// ---- 12. check_terminator -----------------------------------------------------------------------

#[test]
fn branch_arguments() {
    let good = "  block0(v0: i32):\n    jump block1(v0)\n  block1(v1: i32):\n    return";
    accept(&fun("(i32)", good));
    let k = only(
        &reject(&fun(
            "(i32)",
            "  block0(v0: i32):\n    jump block1\n  block1(v1: i32):\n    return",
        )),
        "arity_mismatch",
        term(0),
    );
    says(
        &k,
        "wrong number of arguments of the branch to block1: expected 1, found 0",
    );
    let k = only(
        &reject(&fun(
            "(i32)",
            "  block0(v0: i32):\n    jump block1(v0)\n  block1(v1: i64):\n    return",
        )),
        "type_mismatch",
        term(0),
    );
    says(&k, "expected i64, found i32");
}

#[test]
fn conditions_are_i32() {
    let brif = "  block0(v0: i64):\n    brif v0, block1, block1\n  block1:\n    return";
    let k = only(&reject(&fun("(i64)", brif)), "type_mismatch", term(0));
    says(&k, "the condition of `brif` (v0): expected i32, found i64");
    accept(&fun("(i32)", &brif.replace("i64", "i32")));
    let table = "  block0(v0: i64):\n    br_table v0, block1, [block1]\n  block1:\n    return";
    let k = only(&reject(&fun("(i64)", table)), "type_mismatch", term(0));
    says(&k, "the index of `br_table` (v0): expected i32, found i64");
    accept(&fun("(i32)", &table.replace("i64", "i32")));
}

#[test]
fn passive_segments_exist_and_operands_are_i32() {
    let src = |seg: &str, len_ty: &str| {
        format!(
            "domain d {{\n  memory 1\n  data 0 \"a\"\n  data passive \"bc\"\n  export func f(i32, {len_ty}) {{\n  \
             block0(v0: i32, v1: {len_ty}):\n    memory.init {seg}, v0, v0, v1\n    data.drop {seg}\n    return\n  }}\n}}\n"
        )
    };
    accept(&src("0", "i32"));
    // Segment 1 would be the active one if indices counted both kinds: they do not.
    let errs = reject(&src("1", "i32"));
    assert_eq!(
        only(&errs[..1], "unknown_data_segment", inst(0, 0)),
        ErrorKind::UnknownDataSegment(1)
    );
    assert_eq!(
        only(&errs[1..], "unknown_data_segment", inst(0, 1)),
        ErrorKind::UnknownDataSegment(1)
    );
    let k = only(&reject(&src("0", "i64")), "type_mismatch", inst(0, 0));
    says(&k, "expected i32, found i64");
}

#[test]
fn trap_codes_are_defined_i32s() {
    let body = "  block0(v0: i64):\n    trap v0";
    let k = only(&reject(&fun("(i64)", body)), "type_mismatch", term(0));
    says(&k, "the code of `trap` (v0): expected i32, found i64");
    accept(&fun("(i32)", &body.replace("i64", "i32")));
    let k = only(
        &reject(&fun("(i32)", "  block0(v0: i32):\n    trap v7")),
        "undefined_value",
        term(0),
    );
    assert_eq!(k, ErrorKind::UndefinedValue(Value(7)));
    // Defined in a sibling block, which does not dominate the trap.
    let sibling = "  block0(v0: i32):\n    brif v0, block1, block2\n  block1:\n    v1 = iconst.i32 2\n    \
                   return\n  block2:\n    trap v1";
    let k = only(&reject(&fun("(i32)", sibling)), "not_dominated", term(2));
    says(&k, "v1 is used where its definition does not dominate the use");
    // A capability is not a code either.
    let cap = "domain d {\n  import g = host.print_i64 : (i64)\n  export func f() {\n  block0:\n    \
               v0 = cap.get g\n    trap v0\n  }\n}\n";
    let k = only(&reject(cap), "type_mismatch", term(0));
    says(&k, "the code of `trap` (v0): expected i32, found cap<(i64)>");
}

#[test]
fn returns_match_the_signature() {
    accept(&fun("(i32) -> i32", "  block0(v0: i32):\n    return v0"));
    let k = only(
        &reject(&fun("(i32) -> (i32, i32)", "  block0(v0: i32):\n    return v0")),
        "arity_mismatch",
        term(0),
    );
    says(&k, "wrong number of returned values: expected 2, found 1");
    let k = only(
        &reject(&fun("(i32) -> i64", "  block0(v0: i32):\n    return v0")),
        "type_mismatch",
        term(0),
    );
    says(&k, "expected i64, found i32");
}

fn call_cap_module(import_sig: &str, call: &str, ok_params: &str, fail_params: &str) -> String {
    format!(
        "domain d {{
  import c = host.clock_ns : {import_sig}
  export func f(i32) {{
  block0(v0: i32):
    v1 = cap.get c
    {call}
  block1{ok_params}:
    return
  block2{fail_params}:
    return
  }}
}}"
    )
}

#[test]
fn call_cap_shapes() {
    let good = call_cap_module(
        "() -> i64",
        "call_cap v1() -> ok(block1), fail(block2)",
        "(v2: i64)",
        "(v3: i32)",
    );
    accept(&good);
    let k = only(
        &reject(&call_cap_module(
            "() -> i64",
            "call_cap v0() -> ok(block1), fail(block2)",
            "(v2: i64)",
            "(v3: i32)",
        )),
        "type_mismatch",
        term(0),
    );
    says(
        &k,
        "the capability of `call_cap` (v0): expected a capability, found i32",
    );
    let k = only(
        &reject(&call_cap_module(
            "() -> i64",
            "call_cap v1(v0) -> ok(block1), fail(block2)",
            "(v2: i64)",
            "(v3: i32)",
        )),
        "arity_mismatch",
        term(0),
    );
    says(&k, "arguments of `call_cap`: expected 0, found 1");
    let k = only(
        &reject(&call_cap_module(
            "() -> i64",
            "call_cap v1() -> ok(block1), fail(block2)",
            "(v2: i32)",
            "(v3: i32)",
        )),
        "type_mismatch",
        term(0),
    );
    says(
        &k,
        "parameter 1 of the `ok` block of `call_cap` (block1): expected i64, found i32",
    );
    let k = only(
        &reject(&call_cap_module(
            "() -> i64",
            "call_cap v1() -> ok(block1), fail(block2)",
            "(v2: i64)",
            "",
        )),
        "arity_mismatch",
        term(0),
    );
    says(
        &k,
        "parameters of the `fail` block of `call_cap` (block2): expected 1, found 0",
    );
    let k = only(
        &reject(&call_cap_module(
            "() -> i64",
            "call_cap v1() -> ok(block1), fail(block2)",
            "(v2: i64)",
            "(v3: i64)",
        )),
        "type_mismatch",
        term(0),
    );
    says(&k, "expected i32, found i64");
}

// ---- messages and reporting -----------------------------------------------------------------------

#[test]
fn messages_say_expected_and_found() {
    let errs = reject(&fun(
        "(i64) -> i32",
        "  block0(v0: i64):
    v1 = iconst.i32 1
    v2 = iadd.i32 v1, v0
    jump block1(v0, v0)
  block1(v3: i32):
    return v0",
    ));
    assert!(errs.len() >= 3, "{errs:#?}");
    for e in &errs {
        let msg = e.to_string();
        assert!(
            msg.contains("expected") && msg.contains("found"),
            "`{msg}` does not say what was expected and found"
        );
        // The whole message also names the location.
        assert!(msg.starts_with("domain `d`, function `f`, block"), "{msg}");
    }
}

#[test]
fn all_errors_are_reported_at_once() {
    // Three independent errors in three blocks of one function, and one in another domain.
    let src = "domain d {
  memory 1
  export func f(i32) -> i32 {
  block0(v0: i32):
    v1 = iadd.i32 v0, v7
    brif v0, block1, block2
  block1:
    v2 = fadd.i32 v0, v0
    return v0
  block2:
    v3 = iconst.i64 1
    return v3
  }
}
domain e {
  memory 2 1
}";
    let errs = reject(src);
    assert_eq!(errs.len(), 4, "{errs:#?}");
    check_at(&errs[0], "bad_memory", dom("e"));
    check_at(&errs[1], "undefined_value", inst(0, 0));
    check_at(&errs[2], "bad_op_type", inst(1, 0));
    check_at(&errs[3], "type_mismatch", term(2));
    // The same three errors in three functions: every function is verified.
    let src = "domain d {
  func a(i32) { block0(v0: i32): v1 = iadd.i32 v0, v7 return }
  func b(i32) { block0(v0: i32): v1 = fadd.i32 v0, v0 return }
  func c(i32) -> i32 { block0(v0: i32): v3 = iconst.i64 1 return v3 }
}";
    let errs = reject(src);
    assert_eq!(errs.len(), 3, "{errs:#?}");
    check_at(
        &errs[0],
        "undefined_value",
        ("d", Some("a"), Some(0), Some(Site::Inst(0))),
    );
    check_at(&errs[1], "bad_op_type", ("d", Some("b"), Some(0), Some(Site::Inst(0))));
    check_at(
        &errs[2],
        "type_mismatch",
        ("d", Some("c"), Some(0), Some(Site::Terminator)),
    );
}

// ---- 13. facts ----------------------------------------------------------------------------------

/// `f(i32, i64)` whose body is `insts` then `return`.
fn fact_fn(insts: &str) -> String {
    fun(
        "(i32, i64)",
        &format!("  block0(v0: i32, v1: i64):\n{insts}\n    return"),
    )
}

#[track_caller]
fn fact_ok(insts: &str) {
    accept(&fact_fn(insts));
}

/// The fact on the last instruction of `insts` is rejected (and nothing else).
#[track_caller]
fn fact_bad(insts: &str, kind: &str, why: &str) -> ErrorKind {
    let errs = reject(&fact_fn(insts));
    let last = insts.lines().count() as u32 - 1;
    let k = only(&errs, kind, inst(0, last));
    says(&k, why);
    k
}

#[test]
fn facts_apply_to_integers() {
    fact_ok("    v2 !range(1, 1) = iconst.i32 1");
    fact_bad(
        "    v2 !range(0, 1) = fconst.f32 1.0",
        "fact_on_wrong_type",
        "fact !range(0, 1) on v2, which is f32: facts apply to integers only",
    );
}

#[test]
fn facts_are_well_formed() {
    fact_ok("    v2 !range(0, 4294967295) = iconst.i32 1");
    fact_bad(
        "    v2 !range(5, 1) = iconst.i32 1",
        "fact_malformed",
        "lower bound 5 is above upper bound 1",
    );
    fact_bad(
        "    v2 !range(0, 4294967296) = iconst.i32 1",
        "fact_malformed",
        "upper bound 4294967296 does not fit a 32-bit value",
    );
    fact_bad(
        "    v2 = fconst.f64 1.0\n    v3 !lt(v2) = iconst.i32 1",
        "fact_malformed",
        "v2 is not an integer",
    );
    // An i64 takes a 64-bit range.
    fact_ok("    v2 !range(0, 18446744073709551615) = iconst.i64 -1");
}

#[test]
fn constant_facts() {
    fact_ok("    v2 !range(7, 7) = iconst.i32 7");
    fact_ok("    v2 !range(4294967295, 4294967295) = iconst.i32 -1");
    fact_bad(
        "    v2 !range(0, 6) = iconst.i32 7",
        "fact_not_proven",
        "fact !range(0, 6) on v2 does not follow: the operands only give [7, 7]",
    );
    fact_bad("    v2 !range(8, 9) = iconst.i32 7", "fact_not_proven", "[7, 7]");
}

#[test]
fn arithmetic_facts() {
    let cases_ok = [
        // band with a mask.
        "    v2 = iconst.i32 4095\n    v3 !range(0, 4095) = band.i32 v0, v2",
        // iadd and isub of ranges.
        "    v2 = iconst.i32 4095\n    v3 !range(0, 4095) = band.i32 v0, v2\n    v4 = iconst.i32 10\n    v5 !range(10, 4105) = iadd.i32 v3, v4",
        "    v2 !range(100, 200) = iconst.i32 150\n    v3 = iconst.i32 100\n    v4 !range(0, 100) = isub.i32 v2, v3",
        "    v2 = iconst.i32 15\n    v3 !range(0, 15) = band.i32 v0, v2\n    v4 !range(0, 225) = imul.i32 v3, v3",
        // bor/bxor round up to a power of two.
        "    v2 = iconst.i32 5\n    v3 !range(0, 5) = band.i32 v0, v2\n    v4 !range(0, 7) = bor.i32 v3, v2",
        // Shifts by constants.
        "    v2 = iconst.i32 20\n    v3 !range(0, 4095) = ushr.i32 v0, v2",
        "    v2 = iconst.i32 4095\n    v3 !range(0, 4095) = band.i32 v0, v2\n    v4 = iconst.i32 3\n    v5 !range(0, 32760) = ishl.i32 v3, v4",
        // The shift amount is taken modulo the width: 35 is 3.
        "    v2 = iconst.i32 35\n    v3 !range(0, 536870911) = ushr.i32 v0, v2",
        // udiv, urem.
        "    v2 = iconst.i32 16\n    v3 !range(0, 268435455) = udiv.i32 v0, v2",
        "    v2 = iconst.i32 10\n    v3 !range(0, 9) = urem.i32 v0, v2",
        "    v2 = iconst.i32 10\n    v3 !lt(v2) = urem.i32 v0, v2",
        // A urem by any value is less than it.
        "    v3 !lt(v0) = urem.i32 v0, v0",
        // Comparisons, clz, select, extensions, memory.size.
        "    v2 !range(0, 1) = icmp.ult.i32 v0, v0",
        "    v2 !range(0, 32) = clz.i32 v0",
        "    v2 !range(0, 64) = popcnt.i64 v1",
        "    v2 = iconst.i32 3\n    v3 = iconst.i32 9\n    v4 !range(3, 9) = select.i32 v0, v2, v3",
        "    v2 = iconst.i32 4095\n    v3 !range(0, 4095) = band.i32 v0, v2\n    v4 !range(0, 4095) = uextend.i64.i32 v3\n    v5 !range(0, 4095) = sextend.i64.i32 v3\n    v6 !range(0, 4095) = wrap.i32.i64 v4",
        "    v2 !range(1, 1) = memory.size",
        // Narrow unsigned loads.
        "    v2 = iconst.i32 0\n    v3 !range(0, 255) = load8u.i32 v2\n    v4 !range(0, 65535) = load16u.i64 v2\n    v5 !range(0, 4294967295) = load32u.i64 v2",
        // ... from regions too.
        "    v2 = region.new v0\n    v3 !range(0, 255) = region.load8u.i32 v2, v0\n    v4 !range(0, 65535) = region.load16u.i64 v2, v0",
    ];
    for body in cases_ok {
        fact_ok(body);
    }
    let cases_bad = [
        (
            "    v2 = iconst.i32 4095\n    v3 !range(0, 4094) = band.i32 v0, v2",
            "[0, 4095]",
        ),
        // An iadd that may wrap gives nothing.
        (
            "    v2 = iconst.i32 1\n    v3 !range(1, 4294967295) = iadd.i32 v0, v2",
            "[0, 4294967295]",
        ),
        // isub that may go below zero gives nothing.
        (
            "    v2 = iconst.i32 1\n    v3 !range(0, 4294967294) = isub.i32 v0, v2",
            "[0, 4294967295]",
        ),
        (
            "    v2 = iconst.i32 20\n    v3 !range(0, 4094) = ushr.i32 v0, v2",
            "[0, 4095]",
        ),
        // A shift by a non-constant gives nothing.
        ("    v3 !range(0, 2147483647) = ishl.i32 v0, v0", "[0, 4294967295]"),
        (
            "    v2 = iconst.i32 10\n    v3 !range(0, 8) = urem.i32 v0, v2",
            "[0, 9]",
        ),
        ("    v2 !range(0, 0) = icmp.ult.i32 v0, v0", "[0, 1]"),
        // Signed narrow loads and sign extension of large values give nothing.
        (
            "    v2 = iconst.i32 0\n    v3 !range(0, 255) = load8s.i32 v2",
            "[0, 4294967295]",
        ),
        (
            "    v2 = region.new v0\n    v3 !range(0, 255) = region.load8s.i32 v2, v0",
            "[0, 4294967295]",
        ),
        (
            "    v2 !range(0, 4294967295) = sextend.i64.i32 v0",
            "[0, 18446744073709551615]",
        ),
        // A wrap of a wide value gives nothing.
        ("    v2 !range(0, 4294967294) = wrap.i32.i64 v1", "[0, 4294967295]"),
        ("    v2 !range(2, 2) = memory.size", "[1, 1]"),
    ];
    for (body, why) in cases_bad {
        let k = fact_bad(body, "fact_not_proven", why);
        says(&k, "does not follow");
    }
    // A wrap of an i64 known to fit keeps its range; one that does not fit gives nothing.
    fact_ok("    v2 !range(0, 4294967295) = uextend.i64.i32 v0\n    v3 !range(0, 4294967295) = wrap.i32.i64 v2");
}

#[test]
fn memory_size_facts_follow_the_memory() {
    accept(&fun_mem(
        "1 4",
        "()",
        "  block0:\n    v1 !range(1, 4) = memory.size\n    return",
    ));
    let errs = reject(&fun_mem(
        "1 4",
        "()",
        "  block0:\n    v1 !range(1, 3) = memory.size\n    return",
    ));
    only(&errs, "fact_not_proven", inst(0, 0));
}

#[test]
fn lt_facts() {
    // Below a value known to be larger.
    fact_ok("    v2 !range(100, 200) = iconst.i32 100\n    v3 = iconst.i32 99\n    v4 !lt(v2) = iconst.i32 99");
    fact_ok("    v2 !range(100, 200) = iconst.i32 100\n    v3 = iconst.i32 63\n    v4 !lt(v2) = band.i32 v0, v3");
    fact_bad(
        "    v2 !range(100, 200) = iconst.i32 100\n    v4 !lt(v2) = iconst.i32 100",
        "fact_not_proven",
        "v4 may reach 100 but v2 may be as low as 100",
    );
    // `lt` needs its bound defined before, on every path.
    let errs = reject(&fact_fn("    v4 !lt(v5) = iconst.i32 1\n    v5 = iconst.i32 10"));
    let k = only(&errs, "fact_not_proven", inst(0, 0));
    says(&k, "v5 is not defined before v4 on every path");
    fact_bad(
        "    v4 !lt(v4) = iconst.i32 1",
        "fact_not_proven",
        "v4 is not defined before v4",
    );
    // An `lt` fact bounds the value for later rules: v4 < v2 <= 200.
    fact_ok(
        "    v2 !range(100, 200) = iconst.i32 100\n    v3 = iconst.i32 10\n    v4 !lt(v2) = urem.i32 v0, v3\n    v5 !range(0, 398) = iadd.i32 v4, v4",
    );
    // ... but only by the bound's own range, not further `lt` facts.
    let errs = reject(&fact_fn(
        "    v2 = iconst.i32 10\n    v3 !lt(v2) = urem.i32 v0, v2\n    v4 !lt(v3) = urem.i32 v0, v3\n    v5 !range(0, 8) = iadd.i32 v4, v4",
    ));
    only(&errs, "fact_not_proven", inst(0, 3));
}

#[test]
fn facts_on_values_from_outside_must_be_trivial() {
    accept(&fun(
        "(i32, i64)",
        "  block0(v0: i32 !range(0, 4294967295), v1: i64 !range(0, 18446744073709551615)):\n    return",
    ));
    let k = only(
        &reject(&fun("(i32)", "  block0(v0: i32 !range(0, 100)):\n    return")),
        "fact_not_proven",
        param(0, 0),
    );
    says(&k, "the value comes from outside this function, so nothing proves it");
    let errs = reject(&fun("(i32)", "  block0(v0: i32 !mem(0)):\n    return"));
    only(&errs, "fact_not_proven", param(0, 0));
    // Results of `call_cap` come from another domain.
    accept(&call_cap_module(
        "() -> i64",
        "call_cap v1() -> ok(block1), fail(block2)",
        "(v2: i64 !range(0, 18446744073709551615))",
        "(v3: i32)",
    ));
    let errs = reject(&call_cap_module(
        "() -> i64",
        "call_cap v1() -> ok(block1), fail(block2)",
        "(v2: i64 !range(0, 100))",
        "(v3: i32)",
    ));
    only(&errs, "fact_not_proven", param(1, 0));
    let errs = reject(&call_cap_module(
        "() -> i64",
        "call_cap v1() -> ok(block1), fail(block2)",
        "(v2: i64)",
        "(v3: i32 !range(1, 14))",
    ));
    only(&errs, "fact_not_proven", param(2, 0));
    // A direct call's results are only known by their type.
    let src = "domain d {
  func g() -> i32 { block0: v0 = iconst.i32 1 return v0 }
  export func f() {
  block0:
    v1 !range(1, 1) = call g()
    return
  }
}";
    has(
        &reject(src),
        "fact_not_proven",
        ("d", Some("f"), Some(0), Some(Site::Inst(0))),
    );
}

#[test]
fn block_parameter_facts_follow_every_edge() {
    let diamond = |then_c: &str, else_c: &str, fact: &str| {
        fun(
            "(i32)",
            &format!(
                "  block0(v0: i32):
    brif v0, block1, block2
  block1:
    v1 = iconst.i32 {then_c}
    jump block3(v1)
  block2:
    v2 = iconst.i32 {else_c}
    jump block3(v2)
  block3(v3: i32 {fact}):
    return"
            ),
        )
    };
    accept(&diamond("3", "9", "!range(3, 9)"));
    accept(&diamond("3", "9", "!mem(65527)"));
    // The edge that breaks the fact is named, at its source block's terminator.
    let errs = reject(&diamond("3", "10", "!range(3, 9)"));
    let k = only(&errs, "fact_not_proven", term(2));
    says(
        &k,
        "fact !range(3, 9) on v3 does not follow: on the edge from block2: the argument v2 is only known to lie in [10, 10]",
    );
    let errs = reject(&diamond("2", "9", "!range(3, 9)"));
    only(&errs, "fact_not_proven", term(1));
    let errs = reject(&diamond("3", "9", "!mem(65528)"));
    only(&errs, "fact_not_proven", term(2));
    // br_table edges each carry their argument (and do not refine the index).
    let table = |fact: &str| {
        fun(
            "(i32)",
            &format!(
                "  block0(v0: i32):
    v1 = iconst.i32 1
    v2 = iconst.i32 2
    br_table v0, block1(v1), [block1(v2), block1(v0)]
  block1(v3: i32 {fact}):
    return"
            ),
        )
    };
    accept(&table("!range(0, 4294967295)"));
    let errs = reject(&table("!range(1, 2)"));
    only(&errs, "fact_not_proven", term(0));
}

/// A loop over `i` from 0 while `i ult n`, where `n` is `v0 & 1023` (so `i + 1`
/// never wraps), loading a byte at `i`.
fn counted_loop(cmp: &str, then_else: &str, body_fact: &str) -> String {
    fun(
        "(i32) -> i32",
        &format!(
            "  block0(v0: i32):
    v1 = iconst.i32 1023
    v2 !range(0, 1023) = band.i32 v0, v1
    v3 = iconst.i32 0
    jump block1(v3)
  block1(v4: i32 !range(0, 1023)):
    v5 = {cmp}
    brif v5, {then_else}
  block2(v6: i32 {body_fact}):
    v7 = load8u.i32 v6
    v8 = iconst.i32 1
    v9 !range(1, 1023) = iadd.i32 v6, v8
    jump block1(v9)
  block3:
    return v4"
        ),
    )
}

#[test]
fn loop_induction_facts_from_the_branch_condition() {
    // The body is entered on the `then` edge of `v4 ult v2`: v6 < v2 <= 1023.
    for fact in ["!lt(v2)", "!range(0, 1022)"] {
        let v = accept(&counted_loop("icmp.ult.i32 v4, v2", "block2(v4), block3", fact));
        assert!(v.access_proven(0, 0, 2, 0), "with {fact}, the load at v6 is in bounds");
    }
    // The same with the comparison written the other way round (`v2 ugt v4`).
    accept(&counted_loop("icmp.ugt.i32 v2, v4", "block2(v4), block3", "!lt(v2)"));
    // On the `else` edge of `v4 uge v2` the same holds.
    accept(&counted_loop("icmp.uge.i32 v4, v2", "block3, block2(v4)", "!lt(v2)"));
    // On the `else` edge of `v4 ult v2` it does not: there v4 >= v2.
    for fact in ["!lt(v2)", "!range(0, 1022)"] {
        let errs = reject(&counted_loop("icmp.ult.i32 v4, v2", "block3, block2(v4)", fact));
        let k = only(&errs, "fact_not_proven", term(1));
        says(&k, "on the edge from block1");
    }
    // Signed comparisons do not refine (not checked yet).
    let errs = reject(&counted_loop("icmp.slt.i32 v4, v2", "block2(v4), block3", "!lt(v2)"));
    has(&errs, "fact_not_proven", term(1));
    // `ule` gives a range but not `lt`.
    accept(
        &counted_loop("icmp.ule.i32 v4, v2", "block2(v4), block3", "!range(0, 1023)")
            .replace("!range(1, 1023)", "!range(1, 1024)")
            .replace("v4: i32 !range(0, 1023)", "v4: i32 !range(0, 1024)"),
    );
    let errs = reject(&counted_loop("icmp.ule.i32 v4, v2", "block2(v4), block3", "!lt(v2)"));
    has(&errs, "fact_not_proven", term(1));
    // Without the body's fact, `v6 + 1` is not known: its own fact fails, and the
    // load is not proven.
    let errs = reject(&counted_loop("icmp.ult.i32 v4, v2", "block2(v4), block3", ""));
    only(&errs, "fact_not_proven", inst(2, 2));
    let unproven = counted_loop("icmp.ult.i32 v4, v2", "block2(v4), block3", "").replace(" !range(1, 1023)", "");
    let unproven = unproven.replace("v4: i32 !range(0, 1023)", "v4: i32");
    let v = accept(&unproven);
    assert!(!v.access_proven(0, 0, 2, 0));
}

/// The `icmp` that decides the edge may sit in a block that dominates the `brif`.
fn split_loop(then_else: &str) -> String {
    fun(
        "(i32) -> i32",
        &format!(
            "  block0(v0: i32):
    v1 = iconst.i32 1023
    v2 !range(0, 1023) = band.i32 v0, v1
    v3 = iconst.i32 0
    jump block1(v3)
  block1(v4: i32 !range(0, 1023)):
    v5 = icmp.ult.i32 v4, v2
    jump block2
  block2:
    v10 = iconst.i32 7
    brif v5, {then_else}
  block3(v6: i32 !lt(v2)):
    v7 = load8u.i32 v6
    v8 = iconst.i32 1
    v9 !range(1, 1023) = iadd.i32 v6, v8
    jump block1(v9)
  block4:
    return v4"
        ),
    )
}

#[test]
fn edge_condition_from_a_dominating_block() {
    let v = accept(&split_loop("block3(v4), block4"));
    assert!(v.access_proven(0, 0, 3, 0));
    let errs = reject(&split_loop("block4, block3(v4)"));
    only(&errs, "fact_not_proven", term(2));
    // A condition that is not an `icmp` refines nothing.
    let src = split_loop("block3(v4), block4").replace(
        "v5 = icmp.ult.i32 v4, v2",
        "v11 = icmp.ult.i32 v4, v2\n    v5 = bor.i32 v11, v11",
    );
    only(&reject(&src), "fact_not_proven", term(2));
}

#[test]
fn lt_bound_must_be_defined_before_the_block() {
    // The bound is the header's own parameter: it changes on the way in.
    let src = fun(
        "(i32) -> i32",
        "  block0(v0: i32):
    v3 = iconst.i32 0
    jump block1(v3, v0)
  block1(v4: i32, v10: i32):
    v5 = icmp.ult.i32 v4, v10
    brif v5, block2(v4, v10), block3
  block2(v6: i32 !lt(v10), v11: i32 !lt(v11)):
    v8 = iconst.i32 1
    v9 = iadd.i32 v6, v8
    jump block1(v9, v11)
  block3:
    return v4",
    );
    let errs = reject(&src);
    // v6 !lt(v10) holds (v10 is defined in block1, which dominates block2);
    // v11 !lt(v11) names the block's own parameter.
    let k = only(&errs, "fact_not_proven", term(1));
    says(&k, "v11 is not defined before the block on every path");
}

#[test]
fn mem_facts() {
    // A constant address with room for 8 bytes.
    fact_ok("    v2 !mem(8) = iconst.i32 65528");
    fact_bad(
        "    v2 !mem(9) = iconst.i32 65528",
        "fact_not_proven",
        "v2 may reach 65528 and nothing shows v2 + 9 within memory",
    );
    // Carried through an iadd: v4 + 8 = v2 + 8 + 8 <= memory. With a maximum above the
    // initial size, v2's range alone (v2 <= 2 * 65536 - 16) does not show it.
    let via_iadd = |a: &str, b: &str, n: u32| {
        fun_mem(
            "1 2",
            "()",
            &format!(
                "  block0:\n    v2 !mem(16) = iconst.i32 65520\n    v3 = iconst.i32 8\n    v4 !mem({n}) = iadd.i32 {a}, {b}\n    return"
            ),
        )
    };
    accept(&via_iadd("v2", "v3", 8));
    accept(&via_iadd("v3", "v2", 8));
    let k = only(&reject(&via_iadd("v2", "v3", 9)), "fact_not_proven", inst(0, 2));
    says(&k, "v4 may reach 131064 and nothing shows v4 + 9 within memory");
    // A masked index.
    fact_ok("    v2 = iconst.i32 4095\n    v3 !mem(61441) = band.i32 v0, v2");
    fact_bad(
        "    v2 = iconst.i32 4095\n    v3 !mem(61442) = band.i32 v0, v2",
        "fact_not_proven",
        "v3 may reach 4095",
    );
    // Inherited across an edge.
    accept(&fun(
        "()",
        "  block0:
    v1 !mem(16) = iconst.i32 65520
    jump block1(v1)
  block1(v2: i32 !mem(12)):
    v3 = load.i64 v2+4
    return",
    ));
}

// ---- 14. memory accesses ---------------------------------------------------------------------------

/// Accept `f(i32)` with body `insts` and return which of block0's instructions are
/// proven accesses.
#[track_caller]
fn proven(mem: &str, insts: &str) -> Vec<bool> {
    let src = fun_mem(mem, "(i32)", &format!("  block0(v0: i32):\n{insts}\n    return"));
    let v = accept(&src);
    let n = v.module().domains[0].functions[0].blocks[0].insts.len();
    (0..n).map(|i| v.access_proven(0, 0, 0, i)).collect()
}

#[test]
fn constant_addresses() {
    let p = proven(
        "1",
        "    v1 = iconst.i32 0
    v2 = load.i64 v1
    v3 = iconst.i32 65528
    v4 = load.i64 v3
    v5 = load.i64 v3+1
    v6 = iconst.i32 65535
    v7 = load8u.i32 v6
    v8 = load16u.i32 v6
    v9 = load8u.i32 v1+65535
    v10 = load8u.i32 v1+65536
    store.i32 v1, v1+65532
    store.i32 v1, v1+65533",
    );
    assert_eq!(
        p,
        [false, true, false, true, false, false, true, false, true, false, true, false],
        "const 0; [0,8) yes; const; [65528, 65536) yes; one past no; const; last byte yes; \
         one past no; last byte by offset yes; one past by offset no; store yes; store no"
    );
    // An unproven access still verifies: it is checked at run time.
}

#[test]
fn accesses_into_grown_memory_are_not_proven() {
    let p = proven(
        "1 4",
        "    v1 = iconst.i32 1
    v2 = memory.grow v1
    v3 = iconst.i32 65536
    v4 = load8u.i32 v3
    v5 = iconst.i32 0
    v6 = load8u.i32 v5",
    );
    assert_eq!(p, [false, false, false, false, false, true]);
    // Not even with a range fact: ranges are checked against the initial memory.
    let p = proven(
        "1 4",
        "    v3 !range(65536, 65536) = iconst.i32 65536\n    v4 = load8u.i32 v3",
    );
    assert_eq!(p, [false, false]);
}

#[test]
fn masked_and_scaled_index() {
    let masked = |fact1: &str, fact2: &str, access: &str| {
        format!(
            "    v1 = iconst.i32 4095
    v2 {fact1} = band.i32 v0, v1
    v3 = iconst.i32 3
    v4 {fact2} = ishl.i32 v2, v3
    {access}"
        )
    };
    // [0, 4095] << 3 = [0, 32760]; an 8-byte load ends at 32768 <= 65536.
    let p = proven("1", &masked("!range(0, 4095)", "!range(0, 32760)", "v5 = load.i64 v4"));
    assert_eq!(p, [false, false, false, false, true]);
    // With an offset that reaches the very end, still proven; one more byte is not.
    let p = proven(
        "1",
        &masked("!range(0, 4095)", "!range(0, 32760)", "v5 = load.i64 v4+32768"),
    );
    assert!(p[4]);
    let p = proven(
        "1",
        &masked("!range(0, 4095)", "!range(0, 32760)", "v5 = load.i64 v4+32769"),
    );
    assert!(!p[4]);
    // Facts are not inferred: without the address's fact, nothing is proven.
    let p = proven("1", &masked("!range(0, 4095)", "", "v5 = load.i64 v4"));
    assert!(!p[4]);
    let p = proven("1", &masked("", "", "v5 = load.i64 v4"));
    assert!(!p[4]);
    // And the second fact needs the first.
    let errs = reject(&fun_mem(
        "1",
        "(i32)",
        &format!(
            "  block0(v0: i32):\n{}\n    return",
            masked("", "!range(0, 32760)", "v5 = load.i64 v4")
        ),
    ));
    only(&errs, "fact_not_proven", inst(0, 3));
}

#[test]
fn mem_facts_prove_accesses() {
    let p = proven(
        "1",
        "    v1 !mem(16) = iconst.i32 65520
    v2 = iconst.i32 8
    v3 !mem(8) = iadd.i32 v1, v2
    v4 = load.i64 v3
    v5 = load.i64 v3+1
    v6 = load.i64 v1+8
    v7 = load.i64 v1+9",
    );
    assert_eq!(p, [false, false, false, true, false, true, false]);
}

#[test]
fn bulk_memory_accesses() {
    let p = proven(
        "1",
        "    v1 = iconst.i32 255
    v2 !range(0, 255) = band.i32 v0, v1
    v3 = iconst.i32 65280
    v4 = iconst.i32 65282
    memory.fill v3, v0, v2
    memory.fill v4, v0, v2
    memory.copy v3, v1, v2
    memory.copy v3, v4, v2
    memory.copy v3, v1, v0",
    );
    assert_eq!(p, [false, false, false, false, true, false, true, false, false]);
}

#[test]
fn counts() {
    let v = accept(&fun(
        "(i32)",
        "  block0(v0: i32):
    v1 = iconst.i32 0
    v2 = load.i32 v1
    v3 = load.i32 v0
    store.i32 v2, v1
    brif v0, block1, block2
  block1:
    v4 = load.i32 v0+4
    jump block2
  block2:
    return",
    ));
    let c = v.counts();
    // Instructions count terminators too: 4 + 1 in block0, 1 + 1 in block1, 1 in block2.
    assert_eq!(c.instructions, 8);
    assert_eq!(c.accesses_proven, 2);
    assert_eq!(c.accesses_checked, 2);
    // Positions that are not accesses, or do not exist, answer false.
    assert!(!v.access_proven(0, 0, 0, 0));
    assert!(v.access_proven(0, 0, 0, 1));
    assert!(!v.access_proven(0, 0, 0, 2));
    assert!(v.access_proven(0, 0, 0, 3));
    assert!(!v.access_proven(0, 0, 1, 0));
    assert!(!v.access_proven(0, 0, 0, 99));
    assert!(!v.access_proven(0, 0, 9, 0));
    assert!(!v.access_proven(0, 9, 0, 0));
    assert!(!v.access_proven(9, 0, 0, 0));
}

// ---- globals and the function table (rules 1, 2, 3b, 6, 9, 11) --------------------------------

/// `d` with globals `g` (mutable i64) and `k` (immutable f32), the table
/// `[f, h, -]`, and `f(i32) -> i64` whose `block0` is `body`.
fn globals_src(body: &str) -> String {
    format!(
        "domain d {{
  memory 1
  global mut g : i64 = 7
  global k : f32 = 1.5
  table [f, h, -]
  export func f(i32) -> i64 {{
  block0(v0: i32):
{body}
  }}
  func h(i32) -> i64 {{ block0(v0: i32): v1 = uextend.i64.i32 v0 return v1 }}
}}"
    )
}

const GLOBALS_OK: &str = "    v1 = global.get g
    global.set g, v1
    v2 = global.get k
    v3 = call_indirect v0(v0) : (i32) -> i64
    return v3";

#[test]
fn globals_and_table_in_the_domain() {
    let m = parse(&globals_src(GLOBALS_OK));
    accept_module(&m);

    let mut dup = m.clone();
    dup.domains[0].globals[1].name = "g".into();
    let k = only(&reject_module(&dup), "duplicate_name", dom("d"));
    says(&k, "global `g` is defined more than once");

    let mut init = m.clone();
    init.domains[0].globals[0].init = Const::F64(0);
    let k = only(&reject_module(&init), "type_mismatch", dom("d"));
    says(
        &k,
        "type mismatch in the initial value of global `g`: expected i64, found f64",
    );

    let mut entry = m.clone();
    entry.domains[0].tables[0].init[2] = Some(2);
    let k = only(&reject_module(&entry), "bad_table_entry", dom("d"));
    says(
        &k,
        "table #0 entry 2 names function #2, which does not exist in this domain",
    );
    entry.domains[0].tables[0].init[0] = Some(u32::MAX);
    assert_eq!(reject_module(&entry).len(), 2);
}

#[test]
fn limits_on_globals_and_table_entries() {
    let global = |i: usize| Global {
        name: format!("g{i}"),
        ty: NumType::I32,
        mutable: false,
        init: Const::I32(0),
        span: None,
    };
    let mut d = simple_domain("d");
    d.functions = vec![unit_fn("f")];
    d.globals = (0..MAX_GLOBALS).map(global).collect();
    d.tables = vec![Table {
        elem: RefType::Func,
        init: vec![Some(0); MAX_TABLE_ENTRIES],
        maximum: u32::MAX,
    }];
    let mut m = Module { domains: vec![d] };
    accept_module(&m);
    m.domains[0].globals.push(global(MAX_GLOBALS));
    let k = only(&reject_module(&m), "limit_exceeded", dom("d"));
    says(&k, "too many globals: 65537, the limit is 65536");
    m.domains[0].globals.pop();
    m.domains[0].tables[0].init.push(None);
    let k = only(&reject_module(&m), "limit_exceeded", dom("d"));
    says(
        &k,
        "too many table and element segment entries: 1048577, the limit is 1048576",
    );
}

#[test]
fn global_get_and_set() {
    // The index must exist; the result has the global's type.
    let m = parse(&globals_src(GLOBALS_OK));
    let mut unknown = m.clone();
    f_mut(&mut unknown).blocks[0].insts[2].op = Op::GlobalGet { global: 2 };
    let k = only(&reject_module(&unknown), "unknown_global", inst(0, 2));
    says(&k, "global #2 does not exist in this domain");
    let mut unknown = m.clone();
    f_mut(&mut unknown).blocks[0].insts[1].op = Op::GlobalSet {
        global: u32::MAX,
        value: Value(1),
    };
    let k = only(&reject_module(&unknown), "unknown_global", inst(0, 1));
    says(&k, "global #4294967295");
    let errs = reject(&globals_src("    v1 = global.get k\n    return v1"));
    let k = only(&errs, "type_mismatch", term(0));
    says(&k, "expected i64, found f32");
    let errs = reject(&globals_src("    v1, v2 = global.get g\n    return v1"));
    only(&errs, "arity_mismatch", inst(0, 0));
    // A global's value is not known: a fact on it must be trivial.
    let errs = reject(&globals_src("    v1 !range(0, 7) = global.get g\n    return v1"));
    only(&errs, "fact_not_proven", inst(0, 0));

    // Only a mutable global is set, and with a value of its type.
    let errs = reject(&globals_src(
        "    v1 = fconst.f32 2.0\n    global.set k, v1\n    v2 = iconst.i64 0\n    return v2",
    ));
    let k = only(&errs, "immutable_global", inst(0, 1));
    says(&k, "global `k` is immutable");
    let errs = reject(&globals_src(
        "    global.set g, v0\n    v1 = iconst.i64 0\n    return v1",
    ));
    let k = only(&errs, "type_mismatch", inst(0, 0));
    says(&k, "operand 1 of `global.set` (v0): expected i64, found i32");
    let errs = reject(&globals_src(
        "    global.set g, v9\n    v1 = iconst.i64 0\n    return v1",
    ));
    only(&errs, "undefined_value", inst(0, 0));
    let errs = reject(&globals_src("    v1 = global.set g, v0\n    return v1"));
    has(&errs, "arity_mismatch", inst(0, 0));
}

#[test]
fn call_indirect_shapes() {
    let errs = reject(&globals_src(
        "    v1 = iconst.i64 0\n    v2 = call_indirect v1(v0) : (i32) -> i64\n    return v2",
    ));
    let k = only(&errs, "type_mismatch", inst(0, 1));
    says(&k, "operand 1 of `call_indirect` (v1): expected i32, found i64");
    let errs = reject(&globals_src(
        "    v1 = call_indirect v0(v0, v0) : (i32) -> i64\n    return v1",
    ));
    let k = only(&errs, "arity_mismatch", inst(0, 0));
    says(&k, "wrong number of arguments of `call_indirect`: expected 1, found 2");
    let errs = reject(&globals_src(
        "    v1 = iconst.i64 0\n    v2 = call_indirect v0(v1) : (i32) -> i64\n    return v2",
    ));
    let k = only(&errs, "type_mismatch", inst(0, 1));
    says(&k, "arguments of `call_indirect`, position 1");
    // The results are the signature's, whatever the table holds.
    let errs = reject(&globals_src(
        "    v1 = call_indirect v0(v0) : (i32) -> i32\n    return v1",
    ));
    only(&errs, "type_mismatch", term(0));
    let errs = reject(&globals_src(
        "    v1, v2 = call_indirect v0(v0) : (i32) -> i64\n    return v1",
    ));
    only(&errs, "arity_mismatch", inst(0, 0));
    accept(&globals_src(
        "    v1, v2 = call_indirect v0(v0) : (i32) -> (i64, f64)\n    call_indirect v0() : ()\n    return v1",
    ));

    // Only numbers and references cross an indirect call: no capability, region or buffer.
    for (sig, arg) in [
        ("(region) -> i64", "    v9 = region.new v0\n"),
        ("(buf) -> i64", "    v9 = buf.make v0, v0\n"),
        ("(i32) -> cap<()>", ""),
        ("(i32) -> (i64, region)", ""),
    ] {
        let arg_v = if arg.is_empty() { "v0" } else { "v9" };
        let src = globals_src(&format!(
            "{arg}    v1 = call_indirect v0({arg_v}) : {sig}\n    v2 = iconst.i64 0\n    return v2"
        ));
        let errs = match verify(&parse(&src)) {
            Ok(_) => panic!("accepted call_indirect with {sig}"),
            Err(errs) => errs,
        };
        let at = inst(0, if arg.is_empty() { 0 } else { 1 });
        let kind = errs
            .iter()
            .find(|e| e.kind.name() == "bad_op_type")
            .unwrap_or_else(|| panic!("{sig}: {errs:#?}"));
        check_at(kind, "bad_op_type", at);
        says(&kind.kind, "`call_indirect` is not defined for ");
        says(&kind.kind, "in its signature (only numbers and references)");
    }

    // Its signature is bounded like every other, before anything else looks at it.
    let mut m = parse(&globals_src(GLOBALS_OK));
    let Op::CallIndirect { sig, .. } = &mut f_mut(&mut m).blocks[0].insts[3].op else {
        panic!("not call_indirect")
    };
    sig.results = vec![Type::I64; MAX_ARITY + 1];
    let k = only(&reject_module(&m), "limit_exceeded", inst(0, 3));
    says(&k, "too many results of a signature: 1001");
    let mut m = parse(&globals_src(GLOBALS_OK));
    let Op::CallIndirect { sig, .. } = &mut f_mut(&mut m).blocks[0].insts[3].op else {
        panic!("not call_indirect")
    };
    sig.params = vec![nested_cap(MAX_TYPE_DEPTH + 1)];
    let k = only(&reject_module(&m), "limit_exceeded", inst(0, 3));
    says(&k, "levels of nested capability types");
}

// ---- regressions -----------------------------------------------------------------------------------

/// `mem(n)` through an `iadd`: `m >= size + range_of(add).hi` was computed in u64, so
/// a full-range i64 addend overflowed it (found by `soundness.rs`, fixed in 4d68f4c).
/// With overflow checks the verifier panicked; without them (release builds) the sum
/// wrapped, the fact was accepted, and a `wrap` of the value got a range that proved
/// an access which then trapped out of bounds.
#[test]
fn mem_fact_on_i64_iadd_does_not_overflow() {
    let src = "domain d {
  memory 1
  export func f(i64) -> i32 {
  block0(v0: i64):
    v1 !mem(8) = iconst.i64 0
    v2 !mem(1) = iadd.i64 v1, v0
    v3 !range(0, 65535) = wrap.i32.i64 v2
    v4 = load8u.i32 v3
    return v4
  }
}";
    let m = parse(src);
    let result = std::panic::catch_unwind(|| verify(&m)).expect("the verifier must not panic");
    let errs = result.expect_err("v2 may be anything: !mem(1) does not follow");
    let k = only(&errs, "fact_not_proven", inst(0, 1));
    says(&k, "nothing shows v2 + 1 within memory");
}

/// A malformed range on an operand is reported and then tells nothing: the rules
/// must not compute with `lo > hi` (here `hi - lo` of an `isub` would underflow).
#[test]
fn malformed_operand_facts_are_reported_not_used() {
    let src =
        fact_fn("    v2 !range(10, 5) = iconst.i32 7\n    v3 = iconst.i32 7\n    v4 !range(0, 0) = isub.i32 v2, v3");
    let m = parse(&src);
    let result = std::panic::catch_unwind(|| verify(&m)).expect("the verifier must not panic");
    let errs = result.expect_err("a malformed fact");
    // v2 is then only known as the constant 7, so v4 = 7 - 7 = 0 follows.
    only(&errs, "fact_malformed", inst(0, 0));
    let src = fact_fn("    v2 !range(0, 4294967296) = iconst.i32 7\n    v3 !range(7, 7) = iadd.i32 v2, v2");
    let errs = reject(&src);
    assert_eq!(errs.len(), 2, "{errs:#?}");
    check_at(&errs[0], "fact_malformed", inst(0, 0));
    check_at(&errs[1], "fact_not_proven", inst(0, 1));
}

// ---- found by mutation testing (tcb/mutants, docs/verifier-mutants.md) -----------------------

/// A module over one count limit stops verification there: only the limit is
/// reported, not the function without blocks that a further pass would find.
#[test]
fn a_count_limit_stops_verification() {
    let over = |what: &str, d: &mut Domain| match what {
        "functions" => d
            .functions
            .extend((0..MAX_FUNCTIONS).map(|i| unit_fn(&format!("f{i}")))),
        "imports" => d.imports = (0..=MAX_IMPORTS).map(host_import).collect(),
        "globals" => d.globals = (0..=MAX_GLOBALS).map(i32_global).collect(),
        "table and element segment entries" => {
            d.tables = vec![Table {
                elem: RefType::Extern,
                init: vec![None; MAX_TABLE_ENTRIES + 1],
                maximum: u32::MAX,
            }]
        }
        "tables" => {
            d.tables = vec![
                Table {
                    elem: RefType::Func,
                    init: vec![],
                    maximum: 0
                };
                MAX_TABLES + 1
            ]
        }
        "passive element segments" => {
            d.passive_elems = vec![
                ElemSegment {
                    elem: RefType::Func,
                    items: vec![]
                };
                MAX_PASSIVE_ELEMS + 1
            ]
        }
        "passive data segments" => d.passive_data = vec![vec![]; MAX_PASSIVE_DATA + 1],
        "blocks" => d.functions.push(Function {
            blocks: vec![ret_block(); MAX_BLOCKS + 1],
            ..unit_fn("big")
        }),
        _ => unreachable!(),
    };
    for what in [
        "functions",
        "imports",
        "globals",
        "tables",
        "table and element segment entries",
        "passive element segments",
        "passive data segments",
        "blocks",
    ] {
        let mut d = simple_domain("d");
        d.functions = vec![Function {
            blocks: vec![],
            ..unit_fn("empty")
        }];
        over(what, &mut d);
        let errs = reject_module(&Module { domains: vec![d] });
        assert_eq!(
            errs.len(),
            1,
            "{what}: {:?}",
            errs.iter().take(3).map(|e| e.to_string()).collect::<Vec<_>>()
        );
        assert!(
            matches!(&errs[0].kind, ErrorKind::LimitExceeded { what: w, .. } if *w == what),
            "{what}: {}",
            errs[0]
        );
    }
}

fn host_import(i: usize) -> Import {
    Import {
        name: format!("i{i}"),
        source: ImportSource::Host {
            function: "print_i32".into(),
        },
        sig: Signature::default(),
        span: None,
    }
}

fn i32_global(i: usize) -> Global {
    Global {
        name: format!("g{i}"),
        ty: NumType::I32,
        mutable: false,
        init: Const::I32(0),
        span: None,
    }
}

/// Likewise an import signature over `MAX_ARITY`: the duplicate function name
/// behind it is not reported.
#[test]
fn an_import_arity_limit_stops_verification() {
    for results in [false, true] {
        let mut m = parse(
            "domain d { import p = host.print_i32 : (i32) func f() { block0: return } func g() { block0: return } }",
        );
        m.domains[0].functions[1].name = "f".into();
        let sig = &mut m.domains[0].imports[0].sig;
        if results {
            sig.results = vec![Type::I32; MAX_ARITY + 1];
        } else {
            sig.params = vec![Type::I32; MAX_ARITY + 1];
        }
        only(&reject_module(&m), "limit_exceeded", dom("d"));
    }
}

/// Data segments, active and passive, hold at most `MAX_DATA_BYTES` in one domain.
/// (Zeroed vectors: the pages are never touched.)
#[test]
fn limit_on_data_bytes() {
    let mut d = simple_domain("d");
    d.passive_data = vec![vec![0u8; MAX_DATA_BYTES - 1], vec![0u8; 1]];
    let m = Module { domains: vec![d] };
    let mut m = capjit_verifier::verify_owned(m)
        .unwrap_or_else(|e| panic!("{e:?}"))
        .into_inner();
    m.domains[0].passive_data.push(vec![0u8; 1]);
    let errs = match capjit_verifier::verify_owned(m) {
        Ok(_) => panic!("expected rejection"),
        Err(errs) => errs,
    };
    let k = only(&errs, "bad_memory", dom("d"));
    says(&k, "1073741825 bytes of data segments exceed the limit of 1073741824");
}

/// Errors about a global or an import point at its declaration, not its domain.
#[test]
fn global_and_link_errors_point_at_the_declaration() {
    let src = "domain d {\n  global g : i64 = 7\n  import x = nowhere.f : (i32)\n}";
    let m = parse(src);
    let (g_span, x_span) = (m.domains[0].globals[0].span, m.domains[0].imports[0].span);
    assert!(g_span.is_some() && x_span.is_some() && g_span != m.domains[0].span);
    let mut bad = m.clone();
    bad.domains[0].globals[0].init = Const::F64(0);
    let errs = reject_module(&bad);
    assert_eq!(errs.len(), 2, "{errs:?}");
    check_at(&errs[0], "type_mismatch", dom("d"));
    assert_eq!(errs[0].location.span, g_span);
    check_at(&errs[1], "link_missing", dom("d"));
    assert_eq!(errs[1].location.span, x_span);
}

/// A sum that reaches exactly the largest value of its type keeps its lower bound.
#[test]
fn iadd_up_to_the_top_of_the_type_keeps_its_range() {
    fact_ok(
        "    v2 = iconst.i32 -1\n    v3 !range(0, 4294967294) = urem.i32 v0, v2\n    v4 = iconst.i32 1\n    v5 !range(1, 4294967295) = iadd.i32 v3, v4",
    );
    fact_ok(
        "    v2 = iconst.i64 -1\n    v3 !range(0, 18446744073709551614) = urem.i64 v1, v2\n    v4 = iconst.i64 1\n    v5 !range(1, 18446744073709551615) = iadd.i64 v3, v4",
    );
}

/// Sign extension keeps a range only below 2^31: `0x80000000` extends to
/// `0xffffffff80000000`.
#[test]
fn sextend_of_the_sign_bit_gives_nothing() {
    fact_ok("    v2 = iconst.i32 2147483647\n    v3 !range(2147483647, 2147483647) = sextend.i64.i32 v2");
    fact_bad(
        "    v2 = iconst.i32 -2147483648\n    v3 !range(2147483648, 2147483648) = sextend.i64.i32 v2",
        "fact_not_proven",
        "[0, 18446744073709551615]",
    );
}

/// A shift right by a constant moves both bounds.
#[test]
fn ushr_keeps_the_lower_bound() {
    let shifted = |claim: &str| {
        format!("    v2 = iconst.i32 255\n    v3 !range(0, 255) = band.i32 v0, v2\n    v4 = iconst.i32 256\n    v5 !range(256, 511) = iadd.i32 v3, v4\n    v6 = iconst.i32 4\n    v7 {claim} = ushr.i32 v5, v6")
    };
    fact_ok(&shifted("!range(16, 31)"));
    fact_bad(&shifted("!range(17, 31)"), "fact_not_proven", "[16, 31]");
}

/// `f(i32, i32)`: block0 computes `insts`, then jumps to block1 with `arg`;
/// block1's parameter claims `fact`.
fn edge_fn(insts: &str, arg: &str, fact: &str) -> String {
    fun(
        "(i32, i32)",
        &format!("  block0(v0: i32, v1: i32):\n{insts}\n    jump block1({arg})\n  block1(v9: i32 {fact}):\n    return"),
    )
}

#[test]
fn lt_facts_on_block_parameters() {
    // The argument's own `lt` fact carries over.
    accept(&edge_fn("    v2 !lt(v0) = urem.i32 v1, v0", "v2", "!lt(v0)"));
    // So does a range below the bound's lower bound (3 < 10)...
    accept(&edge_fn(
        "    v2 = iconst.i32 3\n    v3 = iconst.i32 10",
        "v2",
        "!lt(v3)",
    ));
    // ... but not one that may reach it.
    let errs = reject(&edge_fn(
        "    v2 = iconst.i32 10\n    v3 = iconst.i32 10",
        "v2",
        "!lt(v3)",
    ));
    let k = only(&errs, "fact_not_proven", term(0));
    says(&k, "nothing on this edge shows v2 < v3");
}

#[test]
fn eq_conditions_refine_their_edge() {
    let src = |then_else: &str| {
        fun(
            "(i32)",
            &format!(
                "  block0(v0: i32):
    v1 = iconst.i32 5
    v2 = icmp.eq.i32 v0, v1
    brif v2, {then_else}
  block1(v3: i32 !range(5, 5)):
    return
  block2:
    return"
            ),
        )
    };
    accept(&src("block1(v0), block2"));
    only(&reject(&src("block2, block1(v0)")), "fact_not_proven", term(0));
}

/// Errors without a span of their own (block parameters) point at their function.
#[test]
fn parameter_errors_point_at_the_function() {
    let src = fun("(i32)", "  block0(v0: i64):\n    return");
    let m = parse(&src);
    let errs = reject_module(&m);
    only(&errs, "type_mismatch", param(0, 0));
    assert!(m.domains[0].functions[0].span.is_some());
    assert_eq!(errs[0].location.span, m.domains[0].functions[0].span);
}

/// Every conversion against every pair of number types: exactly these are defined.
#[test]
fn conversions_are_defined_for_exactly_their_types() {
    let types = ["i32", "i64", "f32", "f64"];
    let (ints, floats) = (["i32", "i64"], ["f32", "f64"]);
    let mut legal: Vec<(&str, &str, &str)> = vec![
        ("wrap", "i32", "i64"),
        ("uextend", "i64", "i32"),
        ("sextend", "i64", "i32"),
        ("fpromote", "f64", "f32"),
        ("fdemote", "f32", "f64"),
        ("bitcast", "f32", "i32"),
        ("bitcast", "i32", "f32"),
        ("bitcast", "f64", "i64"),
        ("bitcast", "i64", "f64"),
    ];
    for op in ["fcvt_to_sint", "fcvt_to_uint", "fcvt_to_sint_sat", "fcvt_to_uint_sat"] {
        for to in ints {
            legal.extend(floats.iter().map(|&from| (op, to, from)));
        }
    }
    for op in ["fcvt_from_sint", "fcvt_from_uint"] {
        for to in floats {
            legal.extend(ints.iter().map(|&from| (op, to, from)));
        }
    }
    let ops = [
        "wrap",
        "uextend",
        "sextend",
        "fcvt_to_sint",
        "fcvt_to_uint",
        "fcvt_to_sint_sat",
        "fcvt_to_uint_sat",
        "fcvt_from_sint",
        "fcvt_from_uint",
        "fpromote",
        "fdemote",
        "bitcast",
    ];
    for op in ops {
        for to in types {
            for from in types {
                let src = fun(
                    &format!("({from})"),
                    &format!("  block0(v0: {from}):\n    v1 = {op}.{to}.{from} v0\n    return"),
                );
                if legal.contains(&(op, to, from)) {
                    accept(&src);
                } else {
                    let k = only(&reject(&src), "bad_op_type", inst(0, 0));
                    says(&k, &format!("is not defined for {from} to {to}"));
                }
            }
        }
    }
}

/// The type of a `select` is bounded like every other type.
#[test]
fn type_limits_cover_select() {
    let select = |t: Type| {
        let mut m = takes(Type::I32);
        f_mut(&mut m).blocks[0].insts.push(Inst {
            results: [Def {
                value: Value(1),
                fact: None,
            }]
            .into(),
            op: Op::Select {
                ty: t,
                cond: Value(0),
                a: Value(0),
                b: Value(0),
            },
            span: None,
        });
        m
    };
    // Within the limit, the select is checked as usual: its operands are i32.
    has(
        &reject_module(&select(nested_cap(MAX_TYPE_DEPTH))),
        "type_mismatch",
        inst(0, 0),
    );
    let k = only(
        &reject_module(&select(nested_cap(MAX_TYPE_DEPTH + 1))),
        "limit_exceeded",
        inst(0, 0),
    );
    says(&k, "too many levels of nested capability types: 17");
}

/// Errors about a domain, or an import's signature, point at their declaration.
#[test]
fn domain_errors_point_at_the_domain() {
    let mut m = parse("domain d {\n  func f() { block0: return }\n  func g() { block0: return }\n}");
    m.domains[0].functions[1].name = "f".into();
    let errs = reject_module(&m);
    only(&errs, "duplicate_name", dom("d"));
    assert!(m.domains[0].span.is_some());
    assert_eq!(errs[0].location.span, m.domains[0].span);

    let mut m = parse("domain d {\n  import p = host.print_i32 : (i32)\n}");
    m.domains[0].imports[0].sig.params = vec![Type::I32; MAX_ARITY + 1];
    let errs = reject_module(&m);
    only(&errs, "limit_exceeded", dom("d"));
    assert!(m.domains[0].imports[0].span.is_some());
    assert_eq!(errs[0].location.span, m.domains[0].imports[0].span);
}

/// Limits inside a function (its blocks, its types) point at the function.
#[test]
fn function_limits_point_at_the_function() {
    let m = parse(&fun("(i32)", "  block0(v0: i32):\n    return"));
    let span = m.domains[0].functions[0].span;
    assert!(span.is_some() && span != m.domains[0].span);

    let mut big = m.clone();
    let f = f_mut(&mut big);
    f.blocks.extend(vec![ret_block(); MAX_BLOCKS]);
    let errs = reject_module(&big);
    let k = only(&errs, "limit_exceeded", func("d", "f"));
    says(&k, "too many blocks: 1000001, the limit is 1000000");
    assert_eq!(errs[0].location.span, span);

    let mut deep = m;
    let f = f_mut(&mut deep);
    f.sig.params[0] = nested_cap(MAX_TYPE_DEPTH + 1);
    f.blocks[0].params[0].ty = nested_cap(MAX_TYPE_DEPTH + 1);
    let errs = reject_module(&deep);
    only(&errs, "limit_exceeded", func("d", "f"));
    assert_eq!(errs[0].location.span, span);
}

/// A capability crossing a boundary is reported at the export or import that carries it.
#[test]
fn cap_crossing_errors_point_at_the_declaration() {
    let src = "domain d {\n  import p = host.f : (cap<()>)\n  export func f(cap<()>) {\n  block0(v0: cap<()>):\n    return\n  }\n}";
    let m = parse(src);
    let errs = reject_module(&m);
    assert_eq!(errs.len(), 2, "{errs:?}");
    check_at(&errs[0], "cap_crosses_domains", func("d", "f"));
    assert_eq!(errs[0].location.span, m.domains[0].functions[0].span);
    check_at(&errs[1], "cap_crosses_domains", dom("d"));
    assert_eq!(errs[1].location.span, m.domains[0].imports[0].span);
    assert!(errs
        .iter()
        .all(|e| e.location.span.is_some() && e.location.span != m.domains[0].span));
}

/// A reference in an import is reported at that import; an exported function may
/// take and return references (only the host calls it with them).
#[test]
fn ref_crossing_errors_point_at_the_import() {
    let src = "domain d {\n  import p = host.f : (i32) -> externref\n  import q = host.g : (funcref)\n  export func f(funcref) -> externref {\n  block0(v0: funcref):\n    v1 = ref.null externref\n    return v1\n  }\n}";
    let m = parse(src);
    let errs: Vec<_> = reject_module(&m)
        .into_iter()
        .filter(|e| e.kind.name() == "ref_crosses_domains")
        .collect();
    assert_eq!(errs.len(), 2, "{errs:?}");
    for (e, import) in errs.iter().zip(&m.domains[0].imports) {
        check_at(e, "ref_crosses_domains", dom("d"));
        assert!(import.span.is_some());
        assert_eq!(e.location.span, import.span);
        says(&e.kind, &format!("import `{}` carries one", import.name));
    }
}

/// `lt(n)` reads the lower bound of a non-constant `n` from its range fact.
#[test]
fn lt_bound_from_a_range_fact() {
    let body = |k: u32| {
        format!("    v2 = iconst.i32 255\n    v3 !range(0, 255) = band.i32 v0, v2\n    v4 = iconst.i32 100\n    v5 !range(100, 355) = iadd.i32 v3, v4\n    v6 !lt(v5) = iconst.i32 {k}")
    };
    fact_ok(&body(99));
    fact_bad(
        &body(100),
        "fact_not_proven",
        "v6 may reach 100 but v5 may be as low as 100",
    );
}

/// A narrow load gives exactly its width's range: no less.
#[test]
fn narrow_loads_give_their_whole_width() {
    for (load, max) in [
        ("load8u.i32", 255u64),
        ("load16u.i64", 65535),
        ("load32u.i64", 4294967295),
    ] {
        fact_ok(&format!("    v2 = iconst.i32 0\n    v3 !range(0, {max}) = {load} v2"));
        fact_bad(
            &format!("    v2 = iconst.i32 0\n    v3 !range(0, {}) = {load} v2", max - 1),
            "fact_not_proven",
            &format!("[0, {max}]"),
        );
    }
}

/// A product's lower bound is the product of the lower bounds.
#[test]
fn imul_keeps_the_lower_bound() {
    let body = |claim: &str| {
        format!("    v2 = iconst.i32 1\n    v3 !range(0, 1) = band.i32 v0, v2\n    v4 = iconst.i32 3\n    v5 !range(3, 4) = iadd.i32 v3, v4\n    v6 {claim} = imul.i32 v5, v5")
    };
    fact_ok(&body("!range(9, 16)"));
    fact_bad(&body("!range(10, 16)"), "fact_not_proven", "[9, 16]");
}

/// `bor` and `bxor` round the larger upper bound up to a power of two minus one, no less.
#[test]
fn bor_and_bxor_bounds_are_tight() {
    for op in ["bor", "bxor"] {
        let body = |claim: &str| {
            format!("    v2 = iconst.i32 5\n    v3 !range(0, 5) = band.i32 v0, v2\n    v4 {claim} = {op}.i32 v3, v2")
        };
        fact_ok(&body("!range(0, 7)"));
        fact_bad(&body("!range(0, 6)"), "fact_not_proven", "[0, 7]");
    }
}

/// `udiv` of [100, 163] by [2, 4] lies in [100 / 4, 163 / 2].
#[test]
fn udiv_bounds() {
    let body = |claim: &str| {
        format!("    v2 = iconst.i32 63\n    v3 !range(0, 63) = band.i32 v0, v2\n    v4 = iconst.i32 100\n    v5 !range(100, 163) = iadd.i32 v3, v4\n    v6 = iconst.i32 2\n    v7 !range(0, 2) = band.i32 v0, v6\n    v8 !range(2, 4) = iadd.i32 v7, v6\n    v9 {claim} = udiv.i32 v5, v8")
    };
    fact_ok(&body("!range(25, 81)"));
    fact_bad(&body("!range(26, 81)"), "fact_not_proven", "[25, 81]");
    fact_bad(&body("!range(25, 80)"), "fact_not_proven", "[25, 81]");
}

/// Each unsigned comparison (and `eq`) refines its `then` edge to exactly this range.
#[test]
fn each_comparison_refines_its_edge() {
    let src = |cc: &str, fact: &str| {
        fun(
            "(i32)",
            &format!(
                "  block0(v0: i32):
    v1 = iconst.i32 5
    v2 = icmp.{cc}.i32 v0, v1
    brif v2, block1(v0), block2
  block1(v3: i32 {fact}):
    return
  block2:
    return"
            ),
        )
    };
    let max = u32::MAX;
    for (cc, lo, hi) in [
        ("ult", 0, 4),
        ("ule", 0, 5),
        ("ugt", 6, max),
        ("uge", 5, max),
        ("eq", 5, 5),
    ] {
        accept(&src(cc, &format!("!range({lo}, {hi})")));
        if lo > 0 && lo < hi {
            only(
                &reject(&src(cc, &format!("!range({}, {hi})", lo + 1))),
                "fact_not_proven",
                term(0),
            );
        }
        if hi < max && lo < hi {
            only(
                &reject(&src(cc, &format!("!range({lo}, {})", hi - 1))),
                "fact_not_proven",
                term(0),
            );
        }
    }
}

/// An unknown callee, import or global is reported once: its results are not
/// also counted against nothing.
#[test]
fn unknown_names_are_reported_once() {
    let src = "domain d {
  import p = host.print_i32 : (i32)
  global g : i32 = 0
  func h() -> i32 { block0: v0 = iconst.i32 1 return v0 }
  export func f() {
  block0:
    v1 = call h()
    v2 = cap.get p
    v3 = global.get g
    return
  }
}";
    let m = parse(src);
    accept_module(&m);
    // Exactly one past the end of each list (2 functions, 1 import, 1 global), then far past it.
    let ops = |k: u32| {
        [
            Op::Call {
                func: 2 + k,
                args: vec![],
            },
            Op::CapGet { import: 1 + k },
            Op::GlobalGet { global: 1 + k },
        ]
    };
    for k in [0, 8] {
        for (i, (op, kind)) in ops(k)
            .into_iter()
            .zip(["unknown_function", "unknown_import", "unknown_global"])
            .enumerate()
        {
            let mut bad = m.clone();
            bad.domains[0].functions[1].blocks[0].insts[i].op = op;
            only(
                &reject_module(&bad),
                kind,
                ("d", Some("f"), Some(0), Some(Site::Inst(i as u32))),
            );
        }
    }
}

/// A bad branch target is reported at the terminator's own source.
#[test]
fn branch_target_errors_point_at_the_terminator() {
    let src = fun("()", "  block0:\n    jump block1\n  block1:\n    return");
    let mut m = parse(&src);
    let term_span = m.domains[0].functions[0].blocks[0].term_span;
    assert!(term_span.is_some() && term_span != m.domains[0].functions[0].span);
    f_mut(&mut m).blocks[0].term = Terminator::Jump(BlockCall {
        block: BlockId(7),
        args: vec![],
    });
    let errs = reject_module(&m);
    only(&errs, "unknown_block", term(0));
    assert_eq!(errs[0].location.span, term_span);
}

/// Stores never sign-extend, to memory or to a region, whatever their width.
#[test]
fn signed_stores_are_rejected() {
    let src = fun(
        "(i32)",
        "  block0(v0: i32):\n    store8.i32 v0, v0\n    v1 = region.new v0\n    region.store8.i32 v0, v1, v0\n    return",
    );
    let m = parse(&src);
    accept_module(&m);
    for i in [0, 2] {
        let mut bad = m.clone();
        match &mut f_mut(&mut bad).blocks[0].insts[i].op {
            Op::Store { access, .. } | Op::RegionStore { access, .. } => access.signed = true,
            op => panic!("{op:?}"),
        }
        only(&reject_module(&bad), "bad_op_type", inst(0, i as u32));
    }
}

/// Type errors name the operand by its position, for every operation with several.
#[test]
fn operands_are_numbered_in_messages() {
    let src = "domain d {
  memory 1
  data passive \"ab\"
  table [f]
  export func f(i32, i64) {
  block0(v0: i32, v9: i64):
    v1 = region.new v0
    memory.copy v0, v0, v0
    memory.fill v0, v0, v0
    memory.init 0, v0, v0, v0
    table.copy v0, v0, v0
    region.read v1, v0, v0, v0
    region.write v1, v0, v0, v0
    return
  }
}";
    let m = parse(src);
    accept_module(&m);
    for i in 1..=6 {
        let first = if i >= 5 { 2 } else { 1 };
        for k in first..=3 + first - 1 {
            let mut bad = m.clone();
            let op = &mut f_mut(&mut bad).blocks[0].insts[i].op;
            let slot = match op {
                Op::MemoryCopy { dst, src, len } | Op::MemoryFill { dst, byte: src, len } => [dst, src, len],
                Op::MemoryInit { dst, src, len, .. } | Op::TableCopy { dst, src, len, .. } => [dst, src, len],
                Op::RegionRead { index, addr, len, .. } | Op::RegionWrite { index, addr, len, .. } => {
                    [index, addr, len]
                }
                op => panic!("{op:?}"),
            };
            *slot[k - first] = Value(9);
            let k_msg = only(&reject_module(&bad), "type_mismatch", inst(0, i as u32));
            says(&k_msg, &format!("operand {k} of"));
            says(&k_msg, "expected i32, found i64");
        }
    }
}

/// A use of a value defined only in an unreachable block is `not_dominated` (the
/// value exists; no path defines it first), not `undefined_value`: the single walk
/// defines unreachable blocks' values before it classifies early uses.
#[test]
fn a_value_of_an_unreachable_block_is_defined_but_never_dominates() {
    let src = fun(
        "() -> i32",
        "  block0:\n    return v5\n  block1:\n    v5 = iconst.i32 1\n    return v5",
    );
    let errs = reject(&src);
    has(&errs, "unreachable_block", term(1));
    has(&errs, "not_dominated", term(0));
    assert!(!errs.iter().any(|e| e.kind.name() == "undefined_value"), "{errs:#?}");
}

/// An instruction naming more results than its operation has: the extra names are
/// not defined (a `cap.get` defines one capability, not two).
#[test]
fn extra_results_are_not_defined() {
    let src = "domain d {
  import p = host.print_i32 : (i32)
  export func f(i32) {
  block0(v0: i32):
    v1, v2 = cap.get p
    call_cap v2(v0) -> ok(block1), fail(block2)
  block1:
    return
  block2(v4: i32):
    return
  }
}";
    let errs = reject(src);
    has(&errs, "arity_mismatch", inst(0, 0));
    has(&errs, "undefined_value", term(0));
}
