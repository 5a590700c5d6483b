//! The lean lowering (`docs/translator.md`, "Lean lowering") in CLIF instruction
//! counts, which are deterministic: a checked access, a call, a leaf function
//! and the trap exits each cost what the design says, so a change that makes
//! the lowering heavier shows here. Behaviour (traps at exact sites, the same
//! results as the interpreter) is checked by the spec testsuite, the attack
//! corpus, `tests/call_depth.rs` and the differential tests.

use capjit::ir::parse_module;
use capjit::translator::{translate, Config};

const MODULE: &str = r#"
domain app {
  memory 1
  func leaf(i32) -> i32 {
  block0(v0: i32):
    v1 = load.i32 v0+4
    v2 = load.i32 v0+8
    v3 = iadd.i32 v1, v2
    store.i32 v3, v0+12
    return v3
  }
  export func caller(i32) -> i32 {
  block0(v0: i32):
    v1 = call leaf(v0)
    v2 = call leaf(v1)
    return v2
  }
}
"#;

/// Each function's CLIF text, by name.
fn clif() -> Vec<(String, String)> {
    let verified = capjit::verifier::verify(&parse_module(MODULE).unwrap()).unwrap();
    let config = Config {
        keep_clif: true,
        fuel: false,
        ..Config::default()
    };
    std::mem::take(&mut translate(&verified, &config).unwrap().clif)
}

fn text(name: &str) -> String {
    clif().into_iter().find(|(n, _)| n == name).unwrap().1
}

fn count(text: &str, op: &str) -> usize {
    text.lines()
        .filter(|l| {
            // Without the comment that names constants (`; v3 = 0`).
            let l = l.split(';').next().unwrap_or_default().trim();
            let op_at = l.split(" = ").nth(1).unwrap_or(l);
            op_at.split([' ', '.']).next() == Some(op)
        })
        .count()
}

#[test]
fn a_leaf_has_no_stack_check_and_a_caller_one() {
    assert_eq!(count(&text("app.leaf"), "get_stack_pointer"), 0);
    assert_eq!(count(&text("app.caller"), "get_stack_pointer"), 1);
}

#[test]
fn memory_base_and_length_are_loaded_once_in_a_leaf() {
    let leaf = text("app.leaf");
    // Base and length at entry; three checked accesses reload neither.
    assert_eq!(count(&leaf, "load"), 2 + 2, "{leaf}");
    assert_eq!(count(&leaf, "select_spectre_guard"), 3, "{leaf}");
}

#[test]
fn checks_share_one_exit_per_trap_code() {
    let leaf = text("app.leaf");
    // The normal return and the status exit; the three bounds checks each have
    // a cold block that only sets the site and jumps to the out-of-bounds exit.
    assert_eq!(count(&leaf, "return"), 2, "{leaf}");
    let caller = text("app.caller");
    // The normal return, the caller exit, and the status exit (depth checks).
    assert_eq!(count(&caller, "return"), 3, "{caller}");
}

#[test]
fn the_lowering_stays_lean() {
    let verified = capjit::verifier::verify(&parse_module(MODULE).unwrap()).unwrap();
    let clif = |fuel: bool| {
        let config = Config {
            fuel,
            ..Config::default()
        };
        translate(&verified, &config).unwrap().stats.clif_instructions
    };
    // Measured when the lean lowering landed: 105 without fuel, 127 with (184
    // before it, with fuel). A checked access is 12 instructions (address, end,
    // compare, branch, the cold block's site and jump, clamp, access), a call 8
    // besides its arguments.
    let (without, with) = (clif(false), clif(true));
    assert!(without <= 110, "{without} CLIF instructions without fuel");
    assert!(with <= 132, "{with} CLIF instructions with fuel");
}

/// A module whose functions are too large for the narrow site form (a block of
/// 2^15 instructions or more), so their traps and call sites take the 64-bit form.
fn wide_module() -> String {
    const N: usize = 1 << 15;
    let consts: String = (1..=N).map(|k| format!("    v{k} = iconst.i32 {k}\n")).collect();
    format!(
        r#"
domain app {{
  memory 1
  func inner(i32) -> i32 {{
  block0(v0: i32):
    v1 = load.i32 v0+0
    return v1
  }}
  export func calls(i32) -> i32 {{
  block0(v0: i32):
{consts}    v{c} = call inner(v0)
    return v{c}
  }}
  export func loads(i32) -> i32 {{
  block0(v0: i32):
{consts}    v{c} = load.i32 v0+0
    return v{c}
  }}
  export func terminator(i32) -> i32 {{
  block0(v0: i32):
{consts}    jump block1
  block1:
    trap
  }}
}}
"#,
        c = N + 1
    )
}

fn trap_at(src: &str, backend: capjit::Backend, func: &str) -> String {
    use capjit::ir::exec::RunError;
    use capjit::ir::Val;
    let module = parse_module(src).unwrap();
    let config = capjit::Config {
        backend,
        ..capjit::Config::default()
    };
    let mut instance = capjit::Instance::new(&module, &config, Box::new(std::io::sink())).unwrap();
    match instance.invoke("app", func, &[Val::I32(-4)]) {
        Err(RunError::Trap(t)) => {
            let callers: Vec<String> = t
                .callers
                .iter()
                .map(|c| format!("{}:{}:{}", c.function, c.block, c.inst))
                .collect();
            format!("{t}; callers: {}", callers.join(" "))
        }
        other => format!("{other:?}"),
    }
}

#[test]
fn large_functions_keep_exact_trap_sites() {
    let src = wide_module();
    for (func, site) in [
        ("calls", "trap out_of_bounds in app.inner block0 inst 0;"),
        ("loads", "trap out_of_bounds in app.loads block0 inst 32768;"),
        ("terminator", "trap unreachable in app.terminator block1"),
    ] {
        let jit = trap_at(&src, capjit::Backend::Jit, func);
        let interp = trap_at(&src, capjit::Backend::Interpreter, func);
        assert_eq!(jit, interp, "{func}");
        assert!(jit.contains(site), "{func}: {jit}");
    }
    let calls = trap_at(&src, capjit::Backend::Jit, "calls");
    assert!(calls.ends_with("callers: calls:0:32768"), "{calls}");
}
