;; Sieve of Eratosthenes: the number of primes below n, one byte per number at
;; [0, n) of linear memory (grown to fit, then zeroed), marked from i*i in steps
;; of i. The same algorithm as benches/kernels/sieve.cir.
(module
  (memory 1 16384)
  (func (export "run") (param $n i32) (result i64)
    (local $pages i32) (local $i i32) (local $j i32) (local $count i64)
    ;; pages needed: (n + 65535) >> 16, in 64 bits
    (local.set $pages
      (i32.wrap_i64
        (i64.shr_u
          (i64.add (i64.extend_i32_u (local.get $n)) (i64.const 65535))
          (i64.const 16))))
    (if (i32.gt_u (local.get $pages) (memory.size))
      (then
        (if (i32.eq (memory.grow (i32.sub (local.get $pages) (memory.size))) (i32.const -1))
          (then (unreachable)))))
    (memory.fill (i32.const 0) (i32.const 0) (local.get $n))
    (local.set $i (i32.const 2))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (if (i32.eqz (i32.load8_u (local.get $i)))
          (then
            (local.set $count (i64.add (local.get $count) (i64.const 1)))
            ;; mark i*i, i*i + i, ... below n (i*i compared in 64 bits)
            (if (i64.lt_u
                  (i64.mul (i64.extend_i32_u (local.get $i)) (i64.extend_i32_u (local.get $i)))
                  (i64.extend_i32_u (local.get $n)))
              (then
                (local.set $j (i32.mul (local.get $i) (local.get $i)))
                (loop $mark
                  (i32.store8 (local.get $j) (i32.const 1))
                  (local.set $j (i32.add (local.get $j) (local.get $i)))
                  (br_if $mark (i32.lt_u (local.get $j) (local.get $n))))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $count)))
