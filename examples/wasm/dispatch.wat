;; The source of dispatch.wasm (a binary WebAssembly module; tests/wasm_examples.rs
;; checks that the binary is this text, encoded).
;;
;; A calculator that dispatches through a function table (`call_indirect`) and
;; counts its calls in a mutable global. `apply(op, a, b)`: op 0 adds, 1 subtracts,
;; 2 multiplies, 3 is an empty slot (traps: indirect_call_null), anything past the
;; table traps with table_out_of_bounds.
;;
;;   cargo run -q -- run examples/wasm/dispatch.wasm --invoke apply 2 6 7   (prints 42)
;;   cargo run -q -- run examples/wasm/dispatch.wasm --invoke demo          (prints 42 and 3)
(module
  (type $binop (func (param i64 i64) (result i64)))
  (global $calls (mut i32) (i32.const 0))
  (table 5 funcref)
  (elem (i32.const 0) $add $sub $mul)
  (elem (i32.const 4) $add)
  (func $add (type $binop) (i64.add (local.get 0) (local.get 1)))
  (func $sub (type $binop) (i64.sub (local.get 0) (local.get 1)))
  (func $mul (type $binop) (i64.mul (local.get 0) (local.get 1)))
  (func $apply (export "apply") (param $op i32) (param $a i64) (param $b i64) (result i64)
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (call_indirect (type $binop) (local.get $a) (local.get $b) (local.get $op)))
  (func (export "demo") (result i64 i32)
    (call $apply (i32.const 2)
      (call $apply (i32.const 0) (i64.const 1) (i64.const 5))
      (call $apply (i32.const 1) (i64.const 10) (i64.const 3)))
    (global.get $calls)))
