;; A client module calling divider.wat through an inter-domain call (IDC).
;;
;; The import module name `try:divider` asks the frontend for capjit's failure
;; edge: the import gets an extra leading i32 result, 0 when the call returned and
;; the trap code when the callee trapped (2 = int_divide_by_zero). A plain
;; `(import "divider" "div" ...)` would trap here too, as WebAssembly does.
;;
;; main divides 100 by 5, then by 0: the callee traps and is marked faulted, the
;; caller survives and sees the code; the next call finds the callee unavailable
;; (code 9) until someone restarts it. Results: 20, 2, 9.
;;
;;   cargo run -q -- run examples/wasm/divider.wat examples/wasm/calc.wat --trace-idc
(module
  (import "try:divider" "div" (func $div (param i32 i32) (result i32 i32)))
  (func (export "main") (result i32 i32 i32)
    (local $status i32) (local $quotient i32) (local $first i32) (local $second i32)
    ;; 100 / 5: status 0, quotient 20
    (call $div (i32.const 100) (i32.const 5))
    (local.set $quotient)
    (local.set $status)
    (if (local.get $status) (then (unreachable)))
    ;; 100 / 0: the callee traps; we get its trap code
    (call $div (i32.const 100) (i32.const 0))
    (drop)
    (local.set $first)
    ;; the callee is now faulted: domain_unavailable
    (call $div (i32.const 7) (i32.const 7))
    (drop)
    (local.set $second)
    (local.get $quotient) (local.get $first) (local.get $second)))
