//! One call-depth rule for both executors: the depth limit, never the size of the
//! native stack, stops a program, whatever its frames hold. Recursion with many
//! live values per frame, with many parameters, directly and through `call_cap`
//! (inline and runtime paths), must stop at exactly the same depth, with the same
//! trap location and the same calls unwound, on the JIT and in the reference interpreter.

use capjit::ir::exec::{Limits, RunError};
use capjit::ir::{parse_module, Val};
use capjit::{Backend, Config, EngineError, Instance};

/// `rec(n)`: `live` values computed from `n` stay live across the recursive call,
/// so each native frame holds them all; the result is the depth reached.
fn direct(live: usize) -> String {
    let mut f = String::from(
        "domain app {\n  export func main(i64) -> i64 {\n  block0(v0: i64):\n    v1 = call rec(v0)\n    return v1\n  }\n",
    );
    f.push_str("  func rec(i64) -> i64 {\n  block0(v0: i64):\n");
    for i in 1..=live {
        f.push_str(&format!(
            "    v{} = iconst.i64 {i}\n    v{} = iadd.i64 v0, v{}\n",
            2 * i,
            2 * i + 1,
            2 * i
        ));
    }
    let one = 2 * live + 2;
    f.push_str(&format!(
        "    v{one} = iconst.i64 1\n    v{} = iadd.i64 v0, v{one}\n",
        one + 1
    ));
    f.push_str(&format!("    v{} = call rec(v{})\n", one + 2, one + 1));
    let mut acc = one + 2;
    for i in 1..=live {
        f.push_str(&format!("    v{} = iadd.i64 v{acc}, v{}\n", one + 2 + i, 2 * i + 1));
        acc = one + 2 + i;
    }
    f.push_str(&format!("    return v{acc}\n  }}\n}}\n"));
    f
}

/// `rec(p0, ..)` with `params` i64 parameters passed on, one incremented.
fn many_params(params: usize) -> String {
    let list = |prefix: &str| (0..params).map(|i| format!("{prefix}{i}")).collect::<Vec<_>>();
    let types = vec!["i64"; params].join(", ");
    let mut f = String::from("domain app {\n  export func main() -> i64 {\n  block0:\n");
    for i in 0..params {
        f.push_str(&format!("    v{i} = iconst.i64 {i}\n"));
    }
    f.push_str(&format!(
        "    v{params} = call rec({})\n    return v{params}\n  }}\n",
        list("v").join(", ")
    ));
    let decl: Vec<String> = (0..params).map(|i| format!("v{i}: i64")).collect();
    f.push_str(&format!(
        "  func rec({types}) -> i64 {{\n  block0({}):\n",
        decl.join(", ")
    ));
    let (one, next, r) = (params, params + 1, params + 2);
    let mut args = list("v");
    args[0] = format!("v{next}");
    f.push_str(&format!(
        "    v{one} = iconst.i64 1\n    v{next} = iadd.i64 v0, v{one}\n    v{r} = call rec({})\n    v{} = iadd.i64 v{r}, v{}\n    return v{}\n  }}\n}}\n",
        args.join(", "),
        r + 1,
        params - 1,
        r + 1
    ));
    f
}

/// Domains `a` and `b` call each other through `call_cap`, `live` values live
/// across each call; the deepest caller's failure edge returns the depth reached.
fn ping_pong(live: usize) -> String {
    let half = |me: &str, other: &str| {
        let mut f = format!("domain {me} {{\n  import next = {other}.rec : (i64) -> i64\n  export func rec(i64) -> i64 {{\n  block0(v0: i64):\n");
        for i in 1..=live {
            f.push_str(&format!(
                "    v{} = iconst.i64 {i}\n    v{} = imul.i64 v0, v{}\n",
                2 * i,
                2 * i + 1,
                2 * i
            ));
        }
        let one = 2 * live + 2;
        f.push_str(&format!(
            "    v{one} = iconst.i64 1\n    v{} = iadd.i64 v0, v{one}\n    v{} = cap.get next\n    call_cap v{}(v{}) -> ok(block1), fail(block2)\n",
            one + 1,
            one + 2,
            one + 2,
            one + 1
        ));
        // The values stay live across the call: added to the result, then taken off.
        f.push_str(&format!("  block1(v{}: i64):\n", one + 3));
        let mut acc = one + 3;
        for (k, op) in ["iadd", "isub"].iter().enumerate() {
            for i in 1..=live {
                let next = one + 3 + k * live + i;
                f.push_str(&format!("    v{next} = {op}.i64 v{acc}, v{}\n", 2 * i + 1));
                acc = next;
            }
        }
        f.push_str(&format!(
            "    return v{acc}\n  block2(v{}: i32):\n    return v0\n  }}\n}}\n",
            one + 4 + 2 * live
        ));
        f
    };
    format!("{}{}", half("a", "b"), half("b", "a"))
}

fn run(src: &str, backend: Backend, depth: u32, entry: (&str, &str), args: &[Val], trace: bool) -> String {
    let module = parse_module(src).expect("the generated module parses");
    let config = Config {
        backend,
        limits: Limits {
            max_call_depth: depth,
            fuel: u64::MAX,
            ..Limits::default()
        },
        ..Config::default()
    };
    let mut instance = Instance::new(&module, &config, Box::new(std::io::sink())).expect("instantiates");
    instance.set_trace(trace);
    match instance.invoke(entry.0, entry.1, args) {
        Ok(vals) => format!("{vals:?}"),
        Err(RunError::Trap(t)) => {
            let callers: Vec<String> = t
                .callers
                .iter()
                .map(|c| format!("{}:{}:{}", c.function, c.block, c.inst))
                .collect();
            format!("{t}; {} callers: {}", callers.len(), callers.join(" "))
        }
        Err(e) => format!("error: {e}"),
    }
}

fn same_on_both(src: &str, depth: u32, entry: (&str, &str), args: &[Val], trace: bool) -> String {
    let jit = run(src, Backend::Jit, depth, entry, args, trace);
    let interp = run(src, Backend::Interpreter, depth, entry, args, trace);
    assert_eq!(
        jit, interp,
        "JIT and interpreter stop differently (depth limit {depth})"
    );
    jit
}

#[test]
fn direct_recursion_with_large_frames_stops_at_the_depth_limit() {
    // 1,500 live i64 values: frames of about 12 KiB, 48 MiB for 4,096 levels.
    let out = same_on_both(&direct(1500), 4096, ("app", "main"), &[Val::I64(0)], false);
    assert!(
        out.starts_with("trap call_depth_exceeded in app.rec block0 inst"),
        "{out}"
    );
    let out = same_on_both(&direct(0), 100_000, ("app", "main"), &[Val::I64(0)], false);
    assert!(out.starts_with("trap call_depth_exceeded in app.rec"), "{out}");
    // The innermost 64 calls it unwound, each the recursive call (inst 2).
    let recursive = vec!["rec:0:2"; 64].join(" ");
    assert!(out.ends_with(&format!("; 64 callers: {recursive}")), "{out}");
    let out = same_on_both(&direct(0), 5, ("app", "main"), &[Val::I64(0)], false);
    assert!(out.ends_with("; 4 callers: rec:0:2 rec:0:2 rec:0:2 main:0:0"), "{out}");
}

#[test]
fn many_parameters_stop_at_the_depth_limit() {
    let out = same_on_both(&many_params(300), 20_000, ("app", "main"), &[], false);
    assert!(out.starts_with("trap call_depth_exceeded in app.rec"), "{out}");
}

#[test]
fn inter_domain_recursion_reports_the_same_depth() {
    // The callee's failure edge at the limit returns the depth reached: 1 for the
    // host's call into `a`, then one per `call_cap`.
    for trace in [false, true] {
        let out = same_on_both(&ping_pong(200), 3000, ("a", "rec"), &[Val::I64(1)], trace);
        assert_eq!(out, "[I64(3000)]", "tracing {trace}");
    }
}

#[test]
fn a_depth_the_stack_cannot_hold_is_refused_before_running() {
    let module = parse_module(&direct(200)).unwrap();
    let config = Config {
        limits: Limits {
            max_call_depth: 4_000_000,
            ..Limits::default()
        },
        max_stack_size: 64 << 20,
        ..Config::default()
    };
    match Instance::new(&module, &config, Box::new(std::io::sink())) {
        Err(e @ EngineError::Stack(_)) => {
            assert!(e.to_string().contains("call depth of 4000000"), "{e}")
        }
        Err(e) => panic!("expected a stack error, got {e}"),
        Ok(_) => panic!("expected a stack error, got an instance"),
    }
}
