mod common;
use common::*;

#[test]
fn add() {
    let mut w = wasm(r#"(module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))"#);
    assert_eq!(w.call("add", &i32s(&[2, 3])).unwrap(), i32s(&[5]));
}

#[test]
fn loop_sum() {
    let mut w = wasm(
        r#"(module (func (export "sum") (param $n i32) (result i32) (local $acc i32)
        (block $done
          (loop $l
            (br_if $done (i32.eqz (local.get $n)))
            (local.set $acc (i32.add (local.get $acc) (local.get $n)))
            (local.set $n (i32.sub (local.get $n) (i32.const 1)))
            (br $l)))
        (local.get $acc)))"#,
    );
    assert_eq!(w.call("sum", &i32s(&[10])).unwrap(), i32s(&[55]));
    println!("{}", capjit_ir::print_module(&w.t.module));
}
