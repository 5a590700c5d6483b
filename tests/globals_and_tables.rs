//! Globals, the function table and `call_indirect` (issue 8) in every executor:
//! values of all four types (bit patterns and NaN payloads kept), reset on
//! restart, one set per domain; indirect calls with several results, each of the
//! three table traps at the right site, the call-depth limit and fuel through
//! indirect calls.
//!
//! Each property is checked in the JIT and in the interpreter, with exact trap
//! sites (function, block, instruction).

use capjit::ir::exec::{DomainStatus, Limits, RunError, TrapInfo};
use capjit::ir::{parse_module, Module, TrapCode, Val};
use capjit::{Backend, Config, Instance};

fn parse(text: &str) -> Module {
    parse_module(text).unwrap_or_else(|e| panic!("{e}"))
}

fn backends() -> Vec<Backend> {
    vec![Backend::Jit, Backend::Interpreter]
}

fn instance(m: &Module, backend: Backend, limits: Limits) -> Instance {
    let mut config = Config {
        backend,
        limits,
        ..Config::default()
    };
    config.translator.cranelift_verifier = true;
    Instance::new(m, &config, Box::new(std::io::sink())).unwrap_or_else(|e| panic!("{backend:?}: {e}"))
}

fn trap_of(r: Result<Vec<Val>, RunError>, backend: Backend) -> TrapInfo {
    match r {
        Err(RunError::Trap(t)) => t,
        other => panic!("{backend:?}: expected a trap, got {other:?}"),
    }
}

fn assert_trap(t: &TrapInfo, code: TrapCode, function: &str, block: u32, inst: Option<u32>, backend: Backend) {
    assert_eq!(
        (t.code, t.function.as_str(), t.block, t.inst),
        (code, function, block, inst),
        "{backend:?}: {t}"
    );
}

const GLOBALS: &str = "
domain g {
  global mut a : i32 = -7
  global mut b : i64 = -9223372036854775808
  global mut c : f32 = -0.0
  global mut d : f64 = 0x7ff80000deadbeef
  global k : i32 = 99

  export func get() -> (i32, i64, f32, f64, i32) {
  block0:
    v0 = global.get a
    v1 = global.get b
    v2 = global.get c
    v3 = global.get d
    v4 = global.get k
    return v0, v1, v2, v3, v4
  }

  export func set(i32, i64, f32, f64) {
  block0(v0: i32, v1: i64, v2: f32, v3: f64):
    global.set a, v0
    global.set b, v1
    global.set c, v2
    global.set d, v3
    return
  }

  ; adds to the i64 global, then traps when asked to (the domain faults)
  export func bump(i64, i32) -> i64 {
  block0(v0: i64, v1: i32):
    v2 = global.get b
    v3 = iadd.i64 v2, v0
    global.set b, v3
    brif v1, block1, block2
  block1:
    trap
  block2:
    v4 = global.get b
    return v4
  }

}
";

const F64_NAN_INIT: u64 = 0x7ff8_0000_dead_beef;

fn globals_module() -> Module {
    parse(GLOBALS)
}

fn initial_globals() -> Vec<Val> {
    vec![
        Val::I32(-7),
        Val::I64(i64::MIN),
        Val::F32(0x8000_0000),
        Val::F64(F64_NAN_INIT),
        Val::I32(99),
    ]
}

#[test]
fn globals_of_every_type_keep_their_bits() {
    let m = globals_module();
    for backend in backends() {
        let mut inst = instance(&m, backend, Limits::default());
        assert_eq!(inst.invoke("g", "get", &[]).unwrap(), initial_globals(), "{backend:?}");
        // Signalling and quiet NaNs with payloads, negative zero, all ones.
        let cases = [
            (-1i32, -1i64, 0x7fa0_0001u32, 0x7ff4_0000_0000_0001u64),
            (i32::MIN, 0x0123_4567_89ab_cdef, 0xffc0_1234, 0xfff8_0000_0000_0042),
            (0x7fff_ffff, i64::MAX, 0x8000_0000, 0x8000_0000_0000_0000),
            (0, 0, 0x0000_0001, 0x0000_0000_0000_0001),
        ];
        for (a, b, c, d) in cases {
            let args = [Val::I32(a), Val::I64(b), Val::F32(c), Val::F64(d)];
            assert_eq!(inst.invoke("g", "set", &args).unwrap(), vec![], "{backend:?}");
            let mut want = args.to_vec();
            want.push(Val::I32(99));
            assert_eq!(inst.invoke("g", "get", &[]).unwrap(), want, "{backend:?}");
        }
    }
}

#[test]
fn globals_persist_between_calls_and_restart_resets_them() {
    let m = globals_module();
    for backend in backends() {
        let mut inst = instance(&m, backend, Limits::default());
        let bump =
            |inst: &mut Instance, by: i64, fail: bool| inst.invoke("g", "bump", &[Val::I64(by), Val::I32(fail as i32)]);
        assert_eq!(bump(&mut inst, 5, false).unwrap(), vec![Val::I64(i64::MIN + 5)]);
        assert_eq!(bump(&mut inst, 6, false).unwrap(), vec![Val::I64(i64::MIN + 11)]);
        let args = [Val::I32(1), Val::I64(2), Val::F32(3), Val::F64(4)];
        inst.invoke("g", "set", &args).unwrap();
        // Restarting a running domain resets its globals too.
        inst.restart("g").unwrap();
        assert_eq!(inst.invoke("g", "get", &[]).unwrap(), initial_globals(), "{backend:?}");
        // A fault after a write: after the restart the write is gone.
        inst.invoke("g", "set", &args).unwrap();
        let t = trap_of(bump(&mut inst, 1, true), backend);
        assert_trap(&t, TrapCode::Unreachable, "bump", 1, None, backend);
        assert_eq!(inst.status("g"), Some(DomainStatus::Faulted));
        inst.restart("g").unwrap();
        assert_eq!(inst.invoke("g", "get", &[]).unwrap(), initial_globals(), "{backend:?}");
        assert_eq!(bump(&mut inst, 1, false).unwrap(), vec![Val::I64(i64::MIN + 1)]);
    }
}

const DISPATCH: &str = "
domain t {
  table [twice, quot, -, twice, narrow, take_buf]

  ; calls table entry v0 with (v1, v2): two results
  export func dispatch(i32, i32, f32) -> (i32, f64) {
  block0(v0: i32, v1: i32, v2: f32):
    v3 = iconst.i32 1000
    v4, v5 = call_indirect v0(v1, v2) : (i32, f32) -> (i32, f64)
    v6 = iadd.i32 v4, v3
    return v6, v5
  }

  ; calls table entry v0 with a signature no table function has
  export func other(i32) -> i64 {
  block0(v0: i32):
    v1 = iconst.i64 7
    v2 = call_indirect v0(v1) : (i64) -> i64
    return v2
  }

  func twice(i32, f32) -> (i32, f64) {
  block0(v0: i32, v1: f32):
    v2 = iconst.i32 2
    v3 = imul.i32 v0, v2
    v4 = fpromote.f64.f32 v1
    v5 = fadd.f64 v4, v4
    return v3, v5
  }

  ; traps in the callee when v0 is 0
  export func quot(i32, f32) -> (i32, f64) {
  block0(v0: i32, v1: f32):
    v2 = iconst.i32 100
    v3 = sdiv.i32 v2, v0
    v4 = fpromote.f64.f32 v1
    v5 = fneg.f64 v4
    return v3, v5
  }

  func narrow(i32) -> i32 {
  block0(v0: i32):
    return v0
  }

  func take_buf(buf) -> i32 {
  block0(v0: buf):
    v1 = buf.len v0
    return v1
  }

}
";

fn dispatch_module() -> Module {
    parse(DISPATCH)
}

fn f32v(x: f32) -> Val {
    Val::F32(x.to_bits())
}

fn f64v(x: f64) -> Val {
    Val::F64(x.to_bits())
}

#[test]
fn call_indirect_calls_the_entry_with_several_results() {
    let m = dispatch_module();
    for backend in backends() {
        let mut inst = instance(&m, backend, Limits::default());
        let mut call = |i: i32, x: i32, y: f32| inst.invoke("t", "dispatch", &[Val::I32(i), Val::I32(x), f32v(y)]);
        assert_eq!(
            call(0, 21, 1.25).unwrap(),
            vec![Val::I32(1042), f64v(2.5)],
            "{backend:?}"
        );
        assert_eq!(
            call(1, 7, 0.5).unwrap(),
            vec![Val::I32(1014), f64v(-0.5)],
            "{backend:?}"
        );
        assert_eq!(
            call(3, -4, -3.0).unwrap(),
            vec![Val::I32(992), f64v(-6.0)],
            "{backend:?}"
        );
    }
}

#[test]
fn call_indirect_traps_at_the_call_site() {
    let m = dispatch_module();
    for backend in backends() {
        let cases = [
            ("dispatch", 6, TrapCode::TableOutOfBounds),
            ("dispatch", -1, TrapCode::TableOutOfBounds),
            ("dispatch", i32::MIN, TrapCode::TableOutOfBounds),
            ("dispatch", 2, TrapCode::IndirectCallNull),
            ("dispatch", 4, TrapCode::IndirectCallType),
            ("dispatch", 5, TrapCode::IndirectCallType),
            ("other", 0, TrapCode::IndirectCallType),
            ("other", 2, TrapCode::IndirectCallNull),
            ("other", 4, TrapCode::IndirectCallType),
            ("other", 99, TrapCode::TableOutOfBounds),
        ];
        let mut inst = instance(&m, backend, Limits::default());
        for (func, index, code) in cases {
            let args = if func == "dispatch" {
                vec![Val::I32(index), Val::I32(1), f32v(1.0)]
            } else {
                vec![Val::I32(index)]
            };
            let t = trap_of(inst.invoke("t", func, &args), backend);
            assert_trap(&t, code, func, 0, Some(1), backend);
            assert_eq!(t.domain, "t");
            assert_eq!(inst.status("t"), Some(DomainStatus::Faulted));
            inst.restart("t").unwrap();
        }
        // A trap inside the callee names the callee.
        let t = trap_of(
            inst.invoke("t", "dispatch", &[Val::I32(1), Val::I32(0), f32v(1.0)]),
            backend,
        );
        assert_trap(&t, TrapCode::IntDivideByZero, "quot", 0, Some(1), backend);
    }
}

/// `rec(n)` recurses `n` deep through the table, or directly.
const RECURSION: &str = "
domain r {
  table [rec, forever]

  export func rec(i32) -> i32 {
  block0(v0: i32):
    v1 = iconst.i32 0
    v2 = icmp.eq.i32 v0, v1
    brif v2, block1, block2
  block1:
    return v1
  block2:
    v3 = iconst.i32 1
    v4 = isub.i32 v0, v3
    v5 = call_indirect v1(v4) : (i32) -> i32
    v6 = iadd.i32 v5, v3
    return v6
  }

  export func direct(i32) -> i32 {
  block0(v0: i32):
    v1 = iconst.i32 0
    v2 = icmp.eq.i32 v0, v1
    brif v2, block1, block2
  block1:
    return v1
  block2:
    v3 = iconst.i32 1
    v4 = isub.i32 v0, v3
    v5 = call direct(v4)
    v6 = iadd.i32 v5, v3
    return v6
  }

  ; never stops: only the depth limit (or the stack) ends it
  export func forever(i64) -> i64 {
  block0(v0: i64):
    v1 = iconst.i32 1
    v2 = iconst.i64 1
    v3 = iadd.i64 v0, v2
    v4 = call_indirect v1(v3) : (i64) -> i64
    return v4
  }

}
";

#[test]
fn call_indirect_counts_towards_the_call_depth_limit() {
    let m = parse(RECURSION);
    for backend in backends() {
        let limits = Limits {
            max_call_depth: 100,
            ..Limits::default()
        };
        let mut inst = instance(&m, backend, limits);
        // The host call is depth 1: 99 nested calls fit, the 100th does not,
        // exactly as with direct calls.
        for f in ["rec", "direct"] {
            assert_eq!(inst.invoke("r", f, &[Val::I32(99)]).unwrap(), vec![Val::I32(99)]);
            let t = trap_of(inst.invoke("r", f, &[Val::I32(100)]), backend);
            assert_trap(&t, TrapCode::CallDepthExceeded, f, 2, Some(2), backend);
            inst.restart("r").unwrap();
        }
        let t = trap_of(inst.invoke("r", "forever", &[Val::I64(0)]), backend);
        assert_trap(&t, TrapCode::CallDepthExceeded, "forever", 0, Some(3), backend);

        // Unbounded recursion with the default limit ends in a trap too.
        let mut inst = instance(&m, backend, Limits::default());
        let t = trap_of(inst.invoke("r", "forever", &[Val::I64(0)]), backend);
        assert_eq!(t.code, TrapCode::CallDepthExceeded, "{backend:?}");
    }
}

/// `main(n)` calls `inc` and `dbl` alternately through the table, `n` times.
const LOOP: &str = "
domain f {
  table [inc, dbl]

  export func main(i32) -> i32 {
  block0(v0: i32):
    v1 = iconst.i32 0
    jump block1(v1, v1)
  block1(v2: i32, v3: i32):
    v4 = icmp.eq.i32 v2, v0
    brif v4, block2(v3), block3
  block2(v5: i32):
    return v5
  block3:
    v6 = iconst.i32 1
    v7 = band.i32 v2, v6
    v8 = call_indirect v7(v3) : (i32) -> i32
    v9 = iadd.i32 v2, v6
    jump block1(v9, v8)
  }

  func inc(i32) -> i32 {
  block0(v0: i32):
    v1 = iconst.i32 1
    v2 = iadd.i32 v0, v1
    return v2
  }

  func dbl(i32) -> i32 {
  block0(v0: i32):
    v1 = iadd.i32 v0, v0
    return v1
  }

}
";

#[test]
fn call_indirect_spends_fuel_at_the_callee_entry() {
    let m = parse(LOOP);
    // main's entry, then per iteration one callee entry and one back edge.
    let n = 10;
    let need = 1 + 2 * n as u64;
    // ((0+1)*2+1)*2... five times: 62.
    let want = (0..n).fold(0i32, |acc, i| if i % 2 == 0 { acc + 1 } else { acc * 2 });
    for backend in backends() {
        let limits = |fuel| Limits {
            fuel,
            ..Limits::default()
        };
        let mut inst = instance(&m, backend, limits(need));
        assert_eq!(inst.invoke("f", "main", &[Val::I32(n)]).unwrap(), vec![Val::I32(want)]);
        assert_eq!(inst.fuel("f"), Some(0), "{backend:?}");

        // One short: the last back edge has no fuel.
        let mut inst = instance(&m, backend, limits(need - 1));
        let t = trap_of(inst.invoke("f", "main", &[Val::I32(n)]), backend);
        assert_trap(&t, TrapCode::FuelExhausted, "main", 3, None, backend);
        // Two short: the last callee's entry has none.
        let mut inst = instance(&m, backend, limits(need - 2));
        let t = trap_of(inst.invoke("f", "main", &[Val::I32(n)]), backend);
        assert_trap(&t, TrapCode::FuelExhausted, "dbl", 0, Some(0), backend);
    }
}

/// Two domains with their own globals and tables; `a` calls `b` through a capability.
const TWO_DOMAINS: &str = "
domain a {
  global mut x : i32 = 1
  table [plus_one]
  import b_bump = b.bump : (i32) -> i32
  export func main() -> (i32, i32, i32) {
  block0:
    v0 = iconst.i32 100
    global.set x, v0
    v1 = cap.get b_bump
    v2 = iconst.i32 0
    call_cap v1(v2) -> ok(block1), fail(block2)
  block1(v3: i32):
    v4 = global.get x
    v5 = call_indirect v2(v4) : (i32) -> i32
    return v3, v4, v5
  block2(v6: i32):
    return v6, v6, v6
  }

  func plus_one(i32) -> i32 {
  block0(v0: i32):
    v1 = iconst.i32 1
    v2 = iadd.i32 v0, v1
    return v2
  }

}

domain b {
  global mut x : i32 = 2
  table [times_ten]

  ; the global plus the table entry applied to v0
  export func bump(i32) -> i32 {
  block0(v0: i32):
    v1 = global.get x
    v2 = iconst.i32 1
    v3 = iadd.i32 v1, v2
    global.set x, v3
    v4 = call_indirect v0(v3) : (i32) -> i32
    return v4
  }

  func times_ten(i32) -> i32 {
  block0(v0: i32):
    v1 = iconst.i32 10
    v2 = imul.i32 v0, v1
    return v2
  }

}
";

#[test]
fn each_domain_has_its_own_globals_and_table() {
    let m = parse(TWO_DOMAINS);
    for backend in backends() {
        let mut inst = instance(&m, backend, Limits::default());
        // b: x 2 -> 3, times_ten(3); a: x = 100, plus_one(100).
        let want = vec![Val::I32(30), Val::I32(100), Val::I32(101)];
        assert_eq!(inst.invoke("a", "main", &[]).unwrap(), want, "{backend:?}");
        let want = vec![Val::I32(40), Val::I32(100), Val::I32(101)];
        assert_eq!(inst.invoke("a", "main", &[]).unwrap(), want, "{backend:?}");
        // Restarting b resets b's global only.
        inst.restart("b").unwrap();
        let want = vec![Val::I32(30), Val::I32(100), Val::I32(101)];
        assert_eq!(inst.invoke("a", "main", &[]).unwrap(), want, "{backend:?}");
    }
}

const LARGEST: &str = "
domain big {
  global mut last : i32 = 0
  table [one]

  ; entry v0 of the table plus the last global, which it then doubles
  export func main(i32) -> i32 {
  block0(v0: i32):
    v1 = call_indirect v0() : () -> i32
    v2 = global.get last
    v3 = iadd.i32 v1, v2
    v4 = iadd.i32 v2, v2
    global.set last, v4
    return v3
  }

  func one() -> i32 {
  block0:
    v0 = iconst.i32 1
    return v0
  }
}
";

#[test]
fn the_largest_table_and_the_most_globals() {
    let mut m = parse(LARGEST);
    let d = &mut m.domains[0];
    // 65,536 globals: the last one's slot is far from the first.
    let template = d.globals[0].clone();
    d.globals = (0..65_536u32)
        .map(|i| capjit::ir::Global {
            name: if i == 65_535 { "last".into() } else { format!("g{i}") },
            ty: capjit::ir::NumType::I32,
            init: capjit::ir::Const::I32(i as i32),
            ..template.clone()
        })
        .collect();
    let last = 65_535u32;
    for b in &mut d.functions[0].blocks {
        for inst in &mut b.insts {
            match &mut inst.op {
                capjit::ir::Op::GlobalGet { global } | capjit::ir::Op::GlobalSet { global, .. } => *global = last,
                _ => {}
            }
        }
    }
    // 2^20 entries, every other one empty.
    d.tables[0].init = (0..1u32 << 20).map(|i| (i % 2 == 1).then_some(1)).collect();
    d.tables[0].maximum = 1 << 20;
    for backend in backends() {
        let mut inst = instance(&m, backend, Limits::default());
        let top = (1 << 20) - 1;
        assert_eq!(
            inst.invoke("big", "main", &[Val::I32(top)]).unwrap(),
            vec![Val::I32(65_536)]
        );
        assert_eq!(
            inst.invoke("big", "main", &[Val::I32(1)]).unwrap(),
            vec![Val::I32(131_071)]
        );
        let t = trap_of(inst.invoke("big", "main", &[Val::I32(top + 1)]), backend);
        assert_trap(&t, TrapCode::TableOutOfBounds, "main", 0, Some(0), backend);
        inst.restart("big").unwrap();
        let t = trap_of(inst.invoke("big", "main", &[Val::I32(top - 1)]), backend);
        assert_trap(&t, TrapCode::IndirectCallNull, "main", 0, Some(0), backend);
        inst.restart("big").unwrap();
        assert_eq!(
            inst.invoke("big", "main", &[Val::I32(3)]).unwrap(),
            vec![Val::I32(65_536)]
        );
    }
}
