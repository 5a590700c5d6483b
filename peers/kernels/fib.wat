;; Doubly recursive Fibonacci: fib(n) = n below 2, else fib(n-1) + fib(n-2).
;; The same algorithm as benches/kernels/fib.cir; run(n) returns fib(n).
(module
  (func $fib (param $n i64) (result i64)
    (if (result i64) (i64.lt_s (local.get $n) (i64.const 2))
      (then (local.get $n))
      (else
        (i64.add
          (call $fib (i64.sub (local.get $n) (i64.const 1)))
          (call $fib (i64.sub (local.get $n) (i64.const 2)))))))
  (func (export "run") (param $n i64) (result i64)
    (call $fib (local.get $n))))
