;; A service module: integer division, which traps on a zero divisor.
;; Used by calc.wat; run them together:
;;
;;   cargo run -q -- run examples/wasm/divider.wat examples/wasm/calc.wat --trace-idc
(module
  (func (export "div") (param $a i32) (param $b i32) (result i32)
    (i32.div_s (local.get $a) (local.get $b))))
