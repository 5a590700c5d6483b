//! Structured control flow: block, loop, if, br, br_if, br_table with values,
//! multi-value blocks, locals across merges, dead code, calls and recursion.

mod common;

use capjit_ir::interp::{Limits, Val};
use capjit_ir::TrapCode;
use common::*;

#[test]
fn blocks_with_values() {
    let mut w = wasm(
        r#"(module
        (func (export "block_value") (result i32)
          (block (result i32) (i32.const 7)))
        (func (export "br_value") (param i32) (result i32)
          (block $b (result i32)
            (br_if $b (i32.const 10) (local.get 0))
            (drop)
            (i32.const 20)))
        (func (export "nested") (param i32) (result i32)
          (i32.add
            (block $outer (result i32)
              (block $inner (result i32)
                (br_if $outer (i32.const 100) (i32.eq (local.get 0) (i32.const 1)))
                (drop)
                (br_if $inner (i32.const 200) (i32.eq (local.get 0) (i32.const 2)))
                (drop)
                (i32.const 300))
              (i32.const 1)
              (i32.add))
            (i32.const 1000))))"#,
    );
    assert_eq!(w.call("block_value", &[]).unwrap(), i32s(&[7]));
    assert_eq!(w.call("br_value", &i32s(&[1])).unwrap(), i32s(&[10]));
    assert_eq!(w.call("br_value", &i32s(&[0])).unwrap(), i32s(&[20]));
    assert_eq!(w.call("nested", &i32s(&[1])).unwrap(), i32s(&[1100]));
    assert_eq!(w.call("nested", &i32s(&[2])).unwrap(), i32s(&[1201]));
    assert_eq!(w.call("nested", &i32s(&[3])).unwrap(), i32s(&[1301]));
}

#[test]
fn if_else_and_locals_across_merges() {
    let mut w = wasm(
        r#"(module
        (func (export "abs") (param i32) (result i32)
          (if (result i32) (i32.lt_s (local.get 0) (i32.const 0))
            (then (i32.sub (i32.const 0) (local.get 0)))
            (else (local.get 0))))
        (func (export "set_in_arms") (param i32) (result i32) (local $x i32) (local $y i32)
          (local.set $y (i32.const 5))
          (if (local.get 0)
            (then (local.set $x (i32.const 1)))
            (else (local.set $x (i32.const 2)) (local.set $y (i32.const 6))))
          (i32.add (i32.mul (local.get $x) (i32.const 10)) (local.get $y)))
        (func (export "if_no_else") (param i32) (result i32) (local $x i32)
          (local.set $x (i32.const 3))
          (if (local.get 0) (then (local.set $x (i32.const 4))))
          (local.get $x))
        (func (export "if_params") (param i32 i32) (result i32)
          (local.get 1)
          (if (param i32) (result i32) (local.get 0)
            (then (i32.const 1) (i32.add))
            (else (i32.const 2) (i32.mul)))))"#,
    );
    assert_eq!(w.call("abs", &i32s(&[-5])).unwrap(), i32s(&[5]));
    assert_eq!(w.call("abs", &i32s(&[5])).unwrap(), i32s(&[5]));
    assert_eq!(w.call("set_in_arms", &i32s(&[1])).unwrap(), i32s(&[15]));
    assert_eq!(w.call("set_in_arms", &i32s(&[0])).unwrap(), i32s(&[26]));
    assert_eq!(w.call("if_no_else", &i32s(&[1])).unwrap(), i32s(&[4]));
    assert_eq!(w.call("if_no_else", &i32s(&[0])).unwrap(), i32s(&[3]));
    assert_eq!(w.call("if_params", &i32s(&[1, 10])).unwrap(), i32s(&[11]));
    assert_eq!(w.call("if_params", &i32s(&[0, 10])).unwrap(), i32s(&[20]));
}

#[test]
fn loops() {
    let mut w = wasm(
        r#"(module
        (func (export "fact") (param $n i64) (result i64) (local $acc i64)
          (local.set $acc (i64.const 1))
          (block $done
            (loop $l
              (br_if $done (i64.le_s (local.get $n) (i64.const 1)))
              (local.set $acc (i64.mul (local.get $acc) (local.get $n)))
              (local.set $n (i64.sub (local.get $n) (i64.const 1)))
              (br $l)))
          (local.get $acc))
        ;; nested loops: sum over i < n, j < i of (i * j)
        (func (export "nested") (param $n i32) (result i32) (local $i i32) (local $j i32) (local $s i32)
          (loop $outer
            (local.set $j (i32.const 0))
            (block $inner_done
              (loop $inner
                (br_if $inner_done (i32.ge_u (local.get $j) (local.get $i)))
                (local.set $s (i32.add (local.get $s) (i32.mul (local.get $i) (local.get $j))))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $inner)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br_if $outer (i32.lt_u (local.get $i) (local.get $n))))
          (local.get $s))
        ;; a loop with parameters and results (multi-value)
        (func (export "loop_params") (param $n i32) (result i32 i32)
          (i32.const 0) (i32.const 1)
          (loop $l (param i32 i32) (result i32 i32)
            ;; (a, b) -> (b, a + b), n times
            (local.set $n (i32.sub (local.get $n) (i32.const 1)))
            (call $fib_step)
            (br_if $l (i32.gt_s (local.get $n) (i32.const 0)))))
        (func $fib_step (param i32 i32) (result i32 i32)
          (local.get 1) (i32.add (local.get 0) (local.get 1)))
        ;; a loop that is left only by return
        (func (export "find_first_square_over") (param $x i32) (result i32) (local $i i32)
          (loop $l
            (if (i32.gt_u (i32.mul (local.get $i) (local.get $i)) (local.get $x))
              (then (return (local.get $i))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $l))
          (unreachable)))"#,
    );
    assert_eq!(
        w.call("fact", &i64s(&[20])).unwrap(),
        i64s(&[2_432_902_008_176_640_000])
    );
    let expect: i32 = (0..10).flat_map(|i| (0..i).map(move |j| i * j)).sum();
    assert_eq!(w.call("nested", &i32s(&[10])).unwrap(), i32s(&[expect]));
    assert_eq!(w.call("loop_params", &i32s(&[10])).unwrap(), i32s(&[55, 89]));
    assert_eq!(w.call("find_first_square_over", &i32s(&[50])).unwrap(), i32s(&[8]));
}

#[test]
fn br_table_with_values() {
    let mut w = wasm(
        r#"(module
        (func (export "switch") (param i32) (result i32)
          (block $default (result i32)
            (block $two (result i32)
              (block $one (result i32)
                (block $zero (result i32)
                  (i32.const 5)
                  (br_table $zero $one $two $default (local.get 0)))
                (i32.const 100) (i32.add) (return))
              (i32.const 200) (i32.add) (return))
            (i32.const 300) (i32.add) (return))
          (i32.const 400) (i32.add))
        (func (export "to_function") (param i32) (result i32)
          (block $b (result i32)
            (i32.const 42)
            (br_table $b $b 1 (local.get 0)))
          (drop) (i32.const 0))
        (func (export "to_loop") (param $n i32) (result i32) (local $k i32)
          (block $out
            (loop $l
              (local.set $k (i32.add (local.get $k) (i32.const 1)))
              (local.set $n (i32.sub (local.get $n) (i32.const 1)))
              (br_table $out $l (i32.ne (local.get $n) (i32.const 0)))))
          (local.get $k)))"#,
    );
    for (i, want) in [(0, 105), (1, 205), (2, 305), (3, 405), (100, 405), (-1, 405)] {
        assert_eq!(w.call("switch", &i32s(&[i])).unwrap(), i32s(&[want]), "switch {i}");
    }
    assert_eq!(w.call("to_function", &i32s(&[0])).unwrap(), i32s(&[0]));
    assert_eq!(w.call("to_function", &i32s(&[1])).unwrap(), i32s(&[0]));
    assert_eq!(w.call("to_function", &i32s(&[2])).unwrap(), i32s(&[42]));
    assert_eq!(w.call("to_function", &i32s(&[9])).unwrap(), i32s(&[42]));
    assert_eq!(w.call("to_loop", &i32s(&[7])).unwrap(), i32s(&[7]));
}

#[test]
fn multi_value() {
    let mut w = wasm(
        r#"(module
        (func $swap (param i32 i32) (result i32 i32) (local.get 1) (local.get 0))
        (func (export "swap") (param i32 i32) (result i32 i32)
          (call $swap (local.get 0) (local.get 1)))
        (func (export "block_multi") (param i32) (result i32 i64)
          (block $b (result i32 i64)
            (i32.const 1) (i64.const 2)
            (br_if $b (local.get 0))
            (drop) (drop)
            (i32.const 3) (i64.const 4)))
        (func (export "block_params") (result i32)
          (i32.const 6) (i32.const 7)
          (block (param i32 i32) (result i32) (i32.mul)))
        (func (export "divmod") (param i32 i32) (result i32 i32)
          (i32.div_u (local.get 0) (local.get 1))
          (i32.rem_u (local.get 0) (local.get 1))))"#,
    );
    assert_eq!(w.call("swap", &i32s(&[1, 2])).unwrap(), i32s(&[2, 1]));
    assert_eq!(
        w.call("block_multi", &i32s(&[1])).unwrap(),
        vec![Val::I32(1), Val::I64(2)]
    );
    assert_eq!(
        w.call("block_multi", &i32s(&[0])).unwrap(),
        vec![Val::I32(3), Val::I64(4)]
    );
    assert_eq!(w.call("block_params", &[]).unwrap(), i32s(&[42]));
    assert_eq!(w.call("divmod", &i32s(&[17, 5])).unwrap(), i32s(&[3, 2]));
}

#[test]
fn dead_code_is_not_translated() {
    let mut w = wasm(
        r#"(module
        (func (export "after_br") (result i32)
          (block $b (result i32)
            (br $b (i32.const 1))
            (i32.const 2) (drop)
            (block (loop (br 0)))
            (if (i32.const 1) (then (unreachable)) (else (nop)))
            (i32.add)))
        (func (export "after_return") (param i32) (result i32)
          (return (local.get 0))
          (loop (br 0))
          (i32.const 9))
        (func (export "both_arms_branch") (param i32) (result i32)
          (block $b (result i32)
            (if (local.get 0)
              (then (br $b (i32.const 10)))
              (else (br $b (i32.const 20))))
            ;; dead: the if's end is unreachable
            (i32.const 30)))
        (func (export "both_arms_return") (param i32) (result i32)
          (if (local.get 0) (then (return (i32.const 1))) (else (return (i32.const 2))))
          (i32.const 3))
        (func (export "after_unreachable") (result i32)
          (unreachable)
          (i32.const 1) (i32.const 2) (i32.add))
        (func (export "br_table_then_dead") (param i32) (result i32)
          (block $a (block $b (br_table $a $b (local.get 0)) (i32.const 5) (drop)) (return (i32.const 7)))
          (i32.const 8)))"#,
    );
    assert_eq!(w.call("after_br", &[]).unwrap(), i32s(&[1]));
    assert_eq!(w.call("after_return", &i32s(&[4])).unwrap(), i32s(&[4]));
    assert_eq!(w.call("both_arms_branch", &i32s(&[1])).unwrap(), i32s(&[10]));
    assert_eq!(w.call("both_arms_branch", &i32s(&[0])).unwrap(), i32s(&[20]));
    assert_eq!(w.call("both_arms_return", &i32s(&[0])).unwrap(), i32s(&[2]));
    assert_eq!(w.trap("after_unreachable", &[]), TrapCode::Unreachable);
    assert_eq!(w.call("br_table_then_dead", &i32s(&[0])).unwrap(), i32s(&[8]));
    assert_eq!(w.call("br_table_then_dead", &i32s(&[1])).unwrap(), i32s(&[7]));
}

#[test]
fn calls_and_recursion() {
    let src = r#"(module
        (func $fib (export "fib") (param i32) (result i32)
          (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
            (then (local.get 0))
            (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                           (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
        (func $even (export "even") (param i32) (result i32)
          (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 1))
            (else (call $odd (i32.sub (local.get 0) (i32.const 1))))))
        (func $odd (param i32) (result i32)
          (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
            (else (call $even (i32.sub (local.get 0) (i32.const 1))))))
        (func $forever (export "forever") (call $forever)))"#;
    let mut w = wasm(src);
    assert_eq!(w.call("fib", &i32s(&[15])).unwrap(), i32s(&[610]));
    assert_eq!(w.call("even", &i32s(&[10])).unwrap(), i32s(&[1]));
    assert_eq!(w.call("even", &i32s(&[7])).unwrap(), i32s(&[0]));
    assert_eq!(w.trap("forever", &[]), TrapCode::CallDepthExceeded);
    // Unexported functions are named after their debug names (`name` section).
    let names: Vec<&str> = w.t.module.domains[0]
        .functions
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(names, ["fib", "even", "odd", "forever"]);
    // Fuel: an endless loop is stopped.
    let mut w = Wasm::with_limits(
        &[("m", r#"(module (func (export "spin") (loop (br 0))))"#)],
        Limits {
            fuel: 10_000,
            ..Limits::default()
        },
    );
    assert_eq!(w.trap("spin", &[]), TrapCode::FuelExhausted);
}

#[test]
fn many_locals_only_written_ones_are_threaded() {
    // 300 locals, a loop that writes two of them: the loop header takes two
    // parameters (plus none for the loop's label), not 300.
    let mut src = String::from("(module (func (export \"f\") (param $n i32) (result i32)");
    for i in 0..300 {
        src.push_str(&format!(" (local $l{i} i32)"));
    }
    src.push_str(
        " (local.set $l7 (i32.const 7))
          (loop $l
            (local.set $l1 (i32.add (local.get $l1) (local.get $l7)))
            (local.set $n (i32.sub (local.get $n) (i32.const 1)))
            (br_if $l (local.get $n)))
          (local.get $l1)))",
    );
    let mut w = wasm(&src);
    assert_eq!(w.call("f", &i32s(&[6])).unwrap(), i32s(&[42]));
    let f = &w.t.module.domains[0].functions[0];
    assert!(
        f.blocks.iter().all(|b| b.params.len() <= 2),
        "{:?}",
        capjit_ir::print_module(&w.t.module)
    );
}

/// (from, to) of every branch that does not go to a later block.
fn backward_edges(f: &capjit_ir::Function) -> Vec<(usize, u32)> {
    use capjit_ir::Terminator::*;
    let mut out = Vec::new();
    for (i, b) in f.blocks.iter().enumerate() {
        let targets: Vec<u32> = match &b.term {
            Jump(c) => vec![c.block.0],
            Brif { then, else_, .. } => vec![then.block.0, else_.block.0],
            BrTable { default, targets, .. } => targets.iter().chain([default]).map(|c| c.block.0).collect(),
            CallCap { ok, fail, .. } => vec![ok.0, fail.0],
            _ => vec![],
        };
        out.extend(targets.into_iter().filter(|&t| t as usize <= i).map(|t| (i, t)));
    }
    out
}

#[test]
fn only_loop_back_edges_go_backward() {
    // Fuel is spent on branches to a block that is not later: only loops should.
    let w = wasm(
        r#"(module
        (func (export "merges") (param i32) (result i32) (local i32)
          (block $a
            (block $b
              (br_if $a (local.get 0))
              (local.set 1 (i32.const 1))
              (br_if $b (i32.eqz (local.get 0)))
              (local.set 1 (i32.const 2)))
            (if (local.get 0) (then (local.set 1 (i32.const 3))) (else (local.set 1 (i32.const 4))))
            (br_table $a $a (local.get 1)))
          (local.get 1))
        (func (export "one_loop") (param i32) (result i32)
          (block $out
            (loop $l
              (br_if $out (i32.eqz (local.get 0)))
              (block $skip (br_if $skip (i32.and (local.get 0) (i32.const 1))) (nop))
              (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
              (br $l)))
          (local.get 0)))"#,
    );
    let fs = &w.t.module.domains[0].functions;
    assert_eq!(backward_edges(&fs[0]), vec![]);
    let back = backward_edges(&fs[1]);
    assert_eq!(back.len(), 1, "{back:?}");
}
