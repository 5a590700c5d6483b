;; The caller side of the call-cost loops. `callee.id` is imported: in Wasmtime
;; it is bound to a host function (`Func::wrap`) or to the export of a second
;; Wasm instance; in capjit it is the export of a second Wasm module, a separate
;; domain, so each call is an inter-domain call (IDC).
;; `peers_id` is a host function on both sides. capjit's frontend binds an import
;; of `wasi_snapshot_preview1.NAME` to the host function `wasi_NAME`, and the
;; harness defines `wasi_peers_id` itself: it is not a WASI function.
;; Each loop returns the sum of what was called (checked by the harness).
(module
  (import "callee" "id" (func $id (param i64) (result i64)))
  (import "wasi_snapshot_preview1" "peers_id" (func $host_id (param i64) (result i64)))
  (func $local_id (param $x i64) (result i64)
    (local.get $x))
  ;; n calls to the import
  (func (export "import_loop") (param $n i64) (result i64)
    (local $i i64) (local $s i64)
    (block $done
      (loop $next
        (br_if $done (i64.ge_s (local.get $i) (local.get $n)))
        (local.set $s (i64.add (local.get $s) (call $id (local.get $i))))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $next)))
    (local.get $s))
  ;; n calls to the host function
  (func (export "host_loop") (param $n i64) (result i64)
    (local $i i64) (local $s i64)
    (block $done
      (loop $next
        (br_if $done (i64.ge_s (local.get $i) (local.get $n)))
        (local.set $s (i64.add (local.get $s) (call $host_id (local.get $i))))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $next)))
    (local.get $s))
  ;; the same loop, a direct call to a function of this module
  (func (export "direct_loop") (param $n i64) (result i64)
    (local $i i64) (local $s i64)
    (block $done
      (loop $next
        (br_if $done (i64.ge_s (local.get $i) (local.get $n)))
        (local.set $s (i64.add (local.get $s) (call $local_id (local.get $i))))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $next)))
    (local.get $s))
  ;; the same loop, no call
  (func (export "empty_loop") (param $n i64) (result i64)
    (local $i i64) (local $s i64)
    (block $done
      (loop $next
        (br_if $done (i64.ge_s (local.get $i) (local.get $n)))
        (local.set $s (i64.add (local.get $s) (local.get $i)))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $next)))
    (local.get $s)))
