;; A WASI command: writes a greeting and its arguments to stdout with `fd_write`,
;; then exits with `proc_exit`. WASI functions are host capabilities: the module
;; gets them because it imports them and `capjit run` grants WASI to the program;
;; files would be reachable only below a directory granted with `--dir`.
;;
;;   cargo run -q -- run examples/wasm/hello_wasi.wat            (prints "hello from wasm")
;;   cargo run -q -- run examples/wasm/hello_wasi.wat one two    (and "one", "two")
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get"
    (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get"
    (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello from wasm\n")
  (data (i32.const 32) "\n")

  ;; Write `len` bytes at `ptr` to stdout through one iovec at address 0.
  (func $print (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (if (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))
      (then (call $proc_exit (i32.const 1)))))

  ;; The length of the NUL-terminated string at `p`.
  (func $strlen (param $p i32) (result i32)
    (local $n i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (i32.load8_u (i32.add (local.get $p) (local.get $n)))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $n))

  (func (export "_start")
    (local $argc i32) (local $i i32) (local $arg i32)
    (call $print (i32.const 16) (i32.const 16))
    ;; argc at 48, buffer size at 52; pointers from 1024, strings from 2048
    (drop (call $args_sizes_get (i32.const 48) (i32.const 52)))
    (drop (call $args_get (i32.const 1024) (i32.const 2048)))
    (local.set $argc (i32.load (i32.const 48)))
    ;; argument 0 is the program's name: skip it
    (local.set $i (i32.const 1))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $argc)))
        (local.set $arg (i32.load (i32.add (i32.const 1024) (i32.mul (local.get $i) (i32.const 4)))))
        (call $print (local.get $arg) (call $strlen (local.get $arg)))
        (call $print (i32.const 32) (i32.const 1))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (call $proc_exit (i32.const 0))))
