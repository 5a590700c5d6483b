;; The callee of the call-cost loops: returns its argument.
(module
  (func (export "id") (param $x i64) (result i64)
    (local.get $x)))
