;; Reference types: event handlers kept in a growable table of funcrefs, and a
;; host handle (externref) kept in a global.
;;
;; `on(event)` registers handler number `event % 3` for the next event slot
;; (`table.grow` with a `ref.func`), `fire(slot, x)` calls the handler in a slot
;; through `call_indirect` (a slot never registered traps: table_out_of_bounds);
;; `main` registers three handlers and fires them.
;;
;;   cargo run -q -- run examples/wasm/handlers.wat            (prints 60 and 3)
;;   cargo run -q -- run --invoke fire examples/wasm/handlers.wat 5 1   (traps)
(module
  (type $handler (func (param i32) (result i32)))
  (table $slots 0 16 funcref)
  (table $kinds 3 funcref)
  (elem (table $kinds) (i32.const 0) func $double $square $negate)
  (global $last (mut funcref) (ref.null func))
  (func $double (type $handler) (i32.add (local.get 0) (local.get 0)))
  (func $square (type $handler) (i32.mul (local.get 0) (local.get 0)))
  (func $negate (type $handler) (i32.sub (i32.const 0) (local.get 0)))
  ;; Appends handler `kind % 3` to the slots; returns its slot, or -1 when full.
  (func $on (export "on") (param $kind i32) (result i32)
    (local $h funcref)
    (local.set $h (table.get $kinds (i32.rem_u (local.get $kind) (i32.const 3))))
    (global.set $last (local.get $h))
    (table.grow $slots (local.get $h) (i32.const 1)))
  (func $fire (export "fire") (param $slot i32) (param $x i32) (result i32)
    (call_indirect $slots (type $handler) (local.get $x) (local.get $slot)))
  ;; double(5) + square(5) + negate(-25) = 10 + 25 + 25; three slots in use.
  (func (export "main") (result i32 i32)
    (drop (call $on (i32.const 0)))
    (drop (call $on (i32.const 1)))
    (drop (call $on (i32.const 5)))
    (i32.add
      (i32.add (call $fire (i32.const 0) (i32.const 5)) (call $fire (i32.const 1) (i32.const 5)))
      (call $fire (i32.const 2) (i32.const -25)))
    (table.size $slots)))
