;; Table-driven CRC-32 (IEEE, reflected, polynomial 0xEDB88320) of n bytes in
;; linear memory. The bytes at [1024, 1024+n) come from x = x*1103515245 + 12345
;; (32 bits, x starts at 1; each byte is x >> 16); the 256-entry table at
;; [0, 1024) is built first, bit by bit without branches. Returns the CRC
;; zero-extended. The same algorithm as benches/kernels/crc32.cir.
(module
  (memory 1 16384)
  (func (export "run") (param $n i32) (result i64)
    (local $pages i32) (local $p i32) (local $end i32) (local $x i32)
    (local $i i32) (local $c i32) (local $round i32) (local $crc i32)
    ;; pages needed: (n + 1024 + 65535) >> 16, in 64 bits
    (local.set $pages
      (i32.wrap_i64
        (i64.shr_u
          (i64.add (i64.extend_i32_u (local.get $n)) (i64.const 66559))
          (i64.const 16))))
    (if (i32.gt_u (local.get $pages) (memory.size))
      (then
        (if (i32.eq (memory.grow (i32.sub (local.get $pages) (memory.size))) (i32.const -1))
          (then (unreachable)))))
    ;; the input bytes
    (local.set $p (i32.const 1024))
    (local.set $end (i32.add (i32.const 1024) (local.get $n)))
    (local.set $x (i32.const 1))
    (block $generated
      (loop $gen
        (br_if $generated (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 1103515245)) (i32.const 12345)))
        (i32.store8 (local.get $p) (i32.shr_u (local.get $x) (i32.const 16)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $gen)))
    ;; the table
    (block $tabled
      (loop $entry
        (br_if $tabled (i32.ge_u (local.get $i) (i32.const 256)))
        (local.set $c (local.get $i))
        (local.set $round (i32.const 0))
        (loop $bit
          (local.set $c
            (i32.xor
              (i32.shr_u (local.get $c) (i32.const 1))
              (i32.and
                (i32.const 0xEDB88320)
                (i32.sub (i32.const 0) (i32.and (local.get $c) (i32.const 1))))))
          (local.set $round (i32.add (local.get $round) (i32.const 1)))
          (br_if $bit (i32.lt_u (local.get $round) (i32.const 8))))
        (i32.store (i32.shl (local.get $i) (i32.const 2)) (local.get $c))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $entry)))
    ;; the CRC
    (local.set $crc (i32.const -1))
    (local.set $p (i32.const 1024))
    (block $crced
      (loop $byte
        (br_if $crced (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $crc
          (i32.xor
            (i32.load
              (i32.shl
                (i32.and (i32.xor (local.get $crc) (i32.load8_u (local.get $p))) (i32.const 255))
                (i32.const 2)))
            (i32.shr_u (local.get $crc) (i32.const 8))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $byte)))
    (i64.extend_i32_u (i32.xor (local.get $crc) (i32.const -1)))))
