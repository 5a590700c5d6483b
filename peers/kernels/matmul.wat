;; Matrix product C = A * B of n x n row-major f64 matrices in linear memory
;; (A at 0, B at 8n^2, C at 16n^2), i-j-k order with a dot-product accumulator.
;; A[k] = (7k+3) mod 13 - 6 and B[k] = (5k+1) mod 11 - 5 are small integers, so
;; every sum is exact. Returns h = h*31 + C[k] over C in row-major order.
;; The same algorithm as benches/kernels/matmul.cir.
(module
  (memory 1 16384)
  (func (export "run") (param $n i32) (result i64)
    (local $mat i32) (local $c i32) (local $row i32) (local $pages i32)
    (local $k i64) (local $p i32) (local $end i32) (local $h i64)
    (local $i i32) (local $j i32) (local $kk i32) (local $rowoff i32)
    (local $pa i32) (local $pb i32) (local $sum f64)
    (local.set $mat (i32.shl (i32.mul (local.get $n) (local.get $n)) (i32.const 3)))
    (local.set $c (i32.add (local.get $mat) (local.get $mat)))
    (local.set $row (i32.shl (local.get $n) (i32.const 3)))
    ;; pages needed for three matrices: (3 * 8n^2 + 65535) >> 16, in 64 bits
    (local.set $pages
      (i32.wrap_i64
        (i64.shr_u
          (i64.add
            (i64.mul (i64.extend_i32_u (local.get $mat)) (i64.const 3))
            (i64.const 65535))
          (i64.const 16))))
    (if (i32.gt_u (local.get $pages) (memory.size))
      (then
        (if (i32.eq (memory.grow (i32.sub (local.get $pages) (memory.size))) (i32.const -1))
          (then (unreachable)))))
    ;; fill A and B
    (block $filled
      (loop $fill
        (br_if $filled (i32.ge_u (local.get $p) (local.get $mat)))
        (f64.store (local.get $p)
          (f64.convert_i64_s
            (i64.sub
              (i64.rem_u (i64.add (i64.mul (local.get $k) (i64.const 7)) (i64.const 3)) (i64.const 13))
              (i64.const 6))))
        (f64.store (i32.add (local.get $p) (local.get $mat))
          (f64.convert_i64_s
            (i64.sub
              (i64.rem_u (i64.add (i64.mul (local.get $k) (i64.const 5)) (i64.const 1)) (i64.const 11))
              (i64.const 5))))
        (local.set $k (i64.add (local.get $k) (i64.const 1)))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (br $fill)))
    ;; C = A * B
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $rowoff (i32.shl (i32.mul (local.get $i) (local.get $n)) (i32.const 3)))
        (local.set $j (i32.const 0))
        (block $cols_done
          (loop $cols
            (br_if $cols_done (i32.ge_u (local.get $j) (local.get $n)))
            (local.set $pa (local.get $rowoff))
            (local.set $pb (i32.add (local.get $mat) (i32.shl (local.get $j) (i32.const 3))))
            (local.set $sum (f64.const 0))
            (local.set $kk (i32.const 0))
            (loop $dot
              (local.set $sum
                (f64.add (local.get $sum)
                  (f64.mul (f64.load (local.get $pa)) (f64.load (local.get $pb)))))
              (local.set $kk (i32.add (local.get $kk) (i32.const 1)))
              (local.set $pa (i32.add (local.get $pa) (i32.const 8)))
              (local.set $pb (i32.add (local.get $pb) (local.get $row)))
              (br_if $dot (i32.lt_u (local.get $kk) (local.get $n))))
            (f64.store
              (i32.add (i32.add (local.get $c) (local.get $rowoff)) (i32.shl (local.get $j) (i32.const 3)))
              (local.get $sum))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $cols)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows)))
    ;; checksum over C (every entry is an exact small integer)
    (local.set $p (local.get $c))
    (local.set $end (i32.add (local.get $c) (local.get $mat)))
    (block $summed
      (loop $sum_c
        (br_if $summed (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $h
          (i64.add
            (i64.mul (local.get $h) (i64.const 31))
            (i64.trunc_f64_s (f64.load (local.get $p)))))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (br $sum_c)))
    (local.get $h)))
