//! Each pass on small programs: what it does, what it must leave alone (traps,
//! effects, foreign parameters), and that the result verifies and computes the
//! same values in the reference interpreter.

use capjit_ir::exec::{Limits, RunError};
use capjit_ir::interp::Instance;
use capjit_ir::{parse_module, print_module, Module, Op, TrapCode, Val};
use capjit_optimizer::{optimize_report, optimize_with, Options};

fn parse(src: &str) -> Module {
    parse_module(src).unwrap_or_else(|e| panic!("{}", e.message))
}

fn only(set: fn(&mut Options)) -> Options {
    let mut o = Options::none();
    set(&mut o);
    o
}

fn run(m: &Module, func: &str, args: &[Val]) -> (Result<Vec<Val>, TrapCode>, u64) {
    let mut inst = Instance::new(m.clone(), Limits::default(), Box::new(std::io::sink())).unwrap();
    let r = match inst.invoke("m", func, args) {
        Ok(v) => Ok(v),
        Err(RunError::Trap(t)) => Err(t.code),
        Err(e) => panic!("{e}"),
    };
    (r, inst.fuel("m").unwrap())
}

/// Optimise with `opts`, check it verifies with no fact dropped, and that every
/// argument list gives the same results, traps and fuel.
fn same(src: &str, opts: &Options, func: &str, argss: &[Vec<Val>]) -> Module {
    let m = parse(src);
    let (o, report) = optimize_report(&m, opts);
    assert_eq!(
        report.facts_dropped,
        0,
        "{:?}\n{}",
        report.dropped_messages,
        print_module(&o)
    );
    if let Err(e) = capjit_verifier::verify(&o) {
        panic!("does not verify: {}\n{}", e[0], print_module(&o));
    }
    for args in argss {
        assert_eq!(
            run(&m, func, args),
            run(&o, func, args),
            "{args:?}\n{}",
            print_module(&o)
        );
    }
    o
}

fn ops(m: &Module) -> Vec<&Op> {
    m.domains[0].functions[0]
        .blocks
        .iter()
        .flat_map(|b| b.insts.iter().map(|i| &i.op))
        .collect()
}

fn proven(m: &Module) -> (u64, u64) {
    capjit_optimizer::proven_counts(m).expect("verifies")
}

#[test]
fn fold_computes_with_the_interpreters_arithmetic() {
    let src = "domain m {
      export func f() -> (i32, i64, f64, i32) {
      block0:
        v0 = iconst.i32 0x7fffffff
        v1 = iconst.i32 1
        v2 = iadd.i32 v0, v1              ; wraps to MIN
        v3 = iconst.i64 -7
        v4 = iconst.i64 2
        v5 = srem.i64 v3, v4              ; -1
        v6 = fconst.f64 0
        v7 = fdiv.f64 v6, v6              ; canonical NaN
        v8 = icmp.ult.i32 v2, v1          ; MIN unsigned is large: 0
        return v2, v5, v7, v8
      }
    }";
    let o = same(src, &only(|o| o.fold = true), "f", &[vec![]]);
    assert!(
        ops(&o).iter().all(|op| matches!(op, Op::Const(_))),
        "{}",
        print_module(&o)
    );
}

#[test]
fn fold_leaves_operations_that_trap() {
    let src = "domain m {
      export func f(i32) -> i32 {
      block0(v0: i32):
        v1 = iconst.i32 0x80000000
        v2 = iconst.i32 -1
        brif v0, block1, block2
      block1:
        v3 = sdiv.i32 v1, v2              ; int_overflow
        return v3
      block2:
        v4 = iconst.i32 0
        v5 = udiv.i32 v2, v4              ; int_divide_by_zero
        return v5
      }
    }";
    let o = same(src, &Options::default(), "f", &[vec![Val::I32(1)], vec![Val::I32(0)]]);
    let divs = ops(&o).iter().filter(|op| matches!(op, Op::Binary { .. })).count();
    assert_eq!(divs, 2, "{}", print_module(&o));
    assert_eq!(run(&o, "f", &[Val::I32(1)]).0, Err(TrapCode::IntOverflow));
    assert_eq!(run(&o, "f", &[Val::I32(0)]).0, Err(TrapCode::IntDivideByZero));
}

#[test]
fn fold_decides_constant_branches_and_keeps_fuel() {
    // The loop's backward branch must stay backward after block2 disappears.
    let src = "domain m {
      export func f(i32) -> i32 {
      block0(v0: i32):
        v1 = iconst.i32 1
        brif v1, block1(v0), block2
      block2:
        trap
      block1(v2: i32):
        v3 = iconst.i32 1
        v4 = isub.i32 v2, v3
        brif v4, block1(v4), block3
      block3:
        return v4
      }
    }";
    let o = same(
        src,
        &only(|o| o.fold = true),
        "f",
        &[vec![Val::I32(5)], vec![Val::I32(1)]],
    );
    assert_eq!(o.domains[0].functions[0].blocks.len(), 3, "{}", print_module(&o));
}

#[test]
fn copy_propagation_forwards_selects_and_parameters() {
    let src = "domain m {
      export func f(i32, i32) -> i32 {
      block0(v0: i32, v1: i32):
        v2 = iconst.i32 1
        v3 = select.i32 v2, v0, v1
        brif v1, block1(v3), block2(v3)
      block1(v4: i32):
        jump block3(v4, v4)
      block2(v5: i32):
        jump block3(v5, v3)
      block3(v6: i32, v7: i32):          ; v7 is always v3 (= v0)
        v8 = iadd.i32 v6, v7
        return v8
      }
    }";
    let o = same(
        src,
        &only(|o| o.copy_prop = true),
        "f",
        &[vec![Val::I32(3), Val::I32(0)], vec![Val::I32(4), Val::I32(9)]],
    );
    let text = print_module(&o);
    assert!(!text.contains("select"), "{text}");
    assert!(text.contains("iadd.i32 v0, v0"), "{text}");
}

#[test]
fn dce_removes_dead_pure_code_and_keeps_traps_and_effects() {
    let src = "domain m {
      memory 1
      export func f(i32) -> i32 {
      block0(v0: i32):
        v1 = iconst.i32 3
        v2 = imul.i32 v0, v1              ; dead: goes
        v3 = udiv.i32 v1, v0              ; dead, but may trap: stays
        v4 = load.i32 v0                  ; dead, but may trap: stays
        store.i32 v1, v1                  ; effect: stays
        v5 = iconst.i32 0
        jump block1(v5, v2)
      block1(v6: i32, v7: i32):           ; v7 only feeds itself: dead
        v8 = iadd.i32 v7, v6
        v9 = iconst.i32 1
        v10 = iadd.i32 v6, v9
        v11 = icmp.ult.i32 v10, v1
        brif v11, block1(v10, v8), block2
      block2:
        return v6
      }
    }";
    let o = same(
        src,
        &only(|o| o.dce = true),
        "f",
        &[vec![Val::I32(0)], vec![Val::I32(4)], vec![Val::I32(70000)]],
    );
    let text = print_module(&o);
    assert!(!text.contains("imul"), "{text}");
    assert!(
        text.contains("udiv") && text.contains("load.i32") && text.contains("store.i32"),
        "{text}"
    );
    assert!(text.contains("block1(v6: i32):"), "{text}");
}

#[test]
fn cse_merges_pure_operations_only() {
    let src = "domain m {
      memory 1
      export func f(i32, i32) -> i32 {
      block0(v0: i32, v1: i32):
        v2 = iadd.i32 v0, v1
        v3 = load.i32 v0
        store.i32 v2, v0
        v4 = iadd.i32 v1, v0              ; same as v2
        v5 = load.i32 v0                  ; not v3: memory changed
        v6 = udiv.i32 v4, v1
        brif v1, block1, block2
      block1:
        v7 = udiv.i32 v2, v1              ; same as v6, which dominates
        v8 = iadd.i32 v7, v5
        v9 = iadd.i32 v8, v3
        return v9
      block2:
        return v6
      }
    }";
    let o = same(
        src,
        &only(|o| o.cse = true),
        "f",
        &[vec![Val::I32(8), Val::I32(2)], vec![Val::I32(8), Val::I32(0)]],
    );
    let count = |f: fn(&Op) -> bool| ops(&o).into_iter().filter(|op| f(op)).count();
    assert_eq!(count(|op| matches!(op, Op::Load { .. })), 2);
    assert_eq!(
        count(|op| matches!(
            op,
            Op::Binary {
                op: capjit_ir::BinOp::Udiv,
                ..
            }
        )),
        1
    );
}

#[test]
fn bounds_facts_from_masks_and_shifts() {
    let src = "domain m {
      memory 1
      export func f(i32) -> i32 {
      block0(v0: i32):
        v1 = iconst.i32 4095
        v2 = band.i32 v0, v1
        v3 = iconst.i32 2
        v4 = ishl.i32 v2, v3
        v5 = load.i32 v4+40000            ; [40000, 56384): in the first page
        v6 = iconst.i32 20
        v7 = ushr.i32 v0, v6              ; < 4096
        v8 = load8u.i32 v7
        v9 = iadd.i32 v5, v8
        return v9
      }
    }";
    let m = parse(src);
    assert_eq!(proven(&m), (0, 2));
    let o = same(
        src,
        &only(|o| o.bounds = true),
        "f",
        &[vec![Val::I32(-1)], vec![Val::I32(77)]],
    );
    assert_eq!(proven(&o), (2, 0), "{}", print_module(&o));
}

#[test]
fn bounds_loop_guarded_by_ult_gets_a_body_parameter() {
    let src = "domain m {
      memory 1
      export func f() -> i32 {
      block0:
        v0 = iconst.i32 0
        v1 = iconst.i32 16384
        jump block1(v0, v0)
      block1(v2: i32, v3: i32):           ; i, sum
        v4 = icmp.ult.i32 v2, v1
        brif v4, block2, block3
      block2:
        v5 = iconst.i32 2
        v6 = ishl.i32 v2, v5
        v7 = load.i32 v6
        v8 = iadd.i32 v3, v7
        v9 = iconst.i32 1
        v10 = iadd.i32 v2, v9
        jump block1(v10, v8)
      block3:
        return v3
      }
    }";
    let o = same(src, &only(|o| o.bounds = true), "f", &[vec![]]);
    assert_eq!(proven(&o), (1, 0), "{}", print_module(&o));
    assert!(print_module(&o).contains("!range(0, 16383)"), "{}", print_module(&o));
}

#[test]
fn bounds_rewrites_derived_induction_variables() {
    // p = base + 8k, stepped separately: the verifier cannot bound p, but can
    // bound base + k * 8.
    let src = "domain m {
      memory 1
      export func f() -> f64 {
      block0:
        v0 = iconst.i32 0
        v1 = iconst.i32 1024
        v2 = fconst.f64 0
        jump block1(v0, v1, v2)
      block1(v3: i32, v4: i32, v5: f64):  ; k, p, sum
        v6 = load.f64 v4
        v7 = fadd.f64 v5, v6
        v8 = iconst.i32 1
        v9 = iadd.i32 v3, v8
        v10 = iconst.i32 8
        v11 = iadd.i32 v4, v10
        v12 = iconst.i32 100
        v13 = icmp.ult.i32 v9, v12
        brif v13, block1(v9, v11, v7), block2
      block2:
        return v7
      }
    }";
    let o = same(src, &Options::default(), "f", &[vec![]]);
    assert_eq!(proven(&o), (1, 0), "{}", print_module(&o));
}

#[test]
fn version_specialises_for_a_small_parameter() {
    let src = "domain m {
      memory 1 4
      export func f(i32) -> i32 {
      block0(v0: i32):
        v1 = iconst.i32 0
        jump block1(v1, v1)
      block1(v2: i32, v3: i32):
        v4 = icmp.ult.i32 v2, v0
        brif v4, block2, block3
      block2:
        v5 = load8u.i32 v2
        v6 = iadd.i32 v3, v5
        v7 = iconst.i32 1
        v8 = iadd.i32 v2, v7
        jump block1(v8, v6)
      block3:
        return v3
      }
    }";
    let args: Vec<Vec<Val>> = [0, 1, 100, 65536, 65537].iter().map(|n| vec![Val::I32(*n)]).collect();
    let m = parse(src);
    let (o, report) = optimize_report(&m, &Options::default());
    assert_eq!(report.versioned, vec!["m.f".to_string()]);
    assert!(capjit_optimizer::version::is_versioned(&o.domains[0].functions[0]));
    assert_eq!(proven(&o), (1, 1), "{}", print_module(&o));
    for a in &args {
        assert_eq!(run(&m, "f", a), run(&o, "f", a), "{a:?}");
    }
    // n = 65537 reads past the first page: the original copy's check traps.
    assert_eq!(run(&o, "f", &[Val::I32(65537)]).0, Err(TrapCode::OutOfBounds));
    // Optimising again does not copy the function again.
    let (again, report) = optimize_report(&o, &Options::default());
    assert!(report.versioned.is_empty());
    assert_eq!(proven(&again), (1, 1));
}

#[test]
fn an_unverifiable_module_is_optimised_without_trusting_its_facts() {
    // The claim on v2 is false; the optimiser must not build on it: it writes
    // what the operands give instead.
    let src = "domain m {
      memory 1
      export func f(i32) -> i32 {
      block0(v0: i32):
        v1 = iconst.i32 65535
        v2 !range(0, 10) = band.i32 v0, v1
        v3 = load8u.i32 v2+65530
        return v3
      }
    }";
    let m = parse(src);
    assert!(capjit_verifier::verify(&m).is_err());
    let (o, report) = optimize_report(&m, &Options::default());
    assert_eq!(report.facts_dropped, 0);
    assert_eq!(proven(&o), (0, 1), "{}", print_module(&o));
    assert!(
        print_module(&o).contains("v2 !range(0, 65535) = band.i32"),
        "{}",
        print_module(&o)
    );
}

#[test]
fn no_pass_means_no_change() {
    let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../benches/kernels/matmul.cir")).unwrap();
    let m = parse(&src);
    assert_eq!(optimize_with(&m, &Options::none()), m);
}

/// Many loops in a row (a deep dominator tree, many rewrites): every loop body's
/// load is proven in the specialised copy, and the results do not change.
#[test]
fn many_loops_in_one_function() {
    let mut src = String::from(
        "domain m {\n  memory 1 4\n  export func f(i32) -> i32 {\n  block0(v0: i32):\n    v1 = iconst.i32 0\n    v2 = iconst.i32 1\n    jump block1(v1, v1)\n",
    );
    let (mut v, mut b) = (3, 1);
    let loops = 60;
    for i in 0..loops {
        let (iv, acc, c, ld, sum, next, out) = (v, v + 1, v + 2, v + 3, v + 4, v + 5, v + 6);
        v += 7;
        src += &format!(
            "  block{b}(v{iv}: i32, v{acc}: i32):\n    v{c} = icmp.ult.i32 v{iv}, v0\n    brif v{c}, block{}, block{}(v{acc})\n",
            b + 1,
            b + 2
        );
        src += &format!(
            "  block{}:\n    v{ld} = load8u.i32 v{iv}+{i}\n    v{sum} = iadd.i32 v{acc}, v{ld}\n    v{next} = iadd.i32 v{iv}, v2\n    jump block{b}(v{next}, v{sum})\n",
            b + 1
        );
        src += &format!("  block{}(v{out}: i32):\n    jump block{}(v1, v{out})\n", b + 2, b + 3);
        b += 3;
    }
    src += &format!(
        "  block{b}(v{v}: i32, v{}: i32):\n    return v{}\n  }}\n}}\n",
        v + 1,
        v + 1
    );
    let args: Vec<Vec<Val>> = [0, 5, 300, 70000].iter().map(|n| vec![Val::I32(*n)]).collect();
    let o = same(&src, &Options::default(), "f", &args);
    assert_eq!(proven(&o), (loops, loops), "{}", print_module(&o));
}
