//! The fault matrix: every way a callee can fail × every place the failure can
//! happen, run through both backends (`Backend::Jit` and `Backend::Interpreter`).
//!
//! Each cell is a module generated from the templates below, with six domains:
//!
//! ```text
//! caller ──call_cap──▶ callee ──call_cap──▶ inner        caller, bystander: canary bytes
//!                        │ └──────victim──▶ leaf         sink: takes regions (transfer)
//!                        └──────sink──────▶ sink         bystander: touched by nobody
//! ```
//!
//! `caller.main(t)` calls `callee.run` and returns what it got: the callee's result
//! (always `1000`) on the `ok` edge, the trap code on the `fail` edge. The failing
//! operation of a cell runs only when the trigger `t` is non-zero.
//!
//! Kinds (the failing operation):
//! - traps: every trap code an instruction can raise: `out_of_bounds` (load,
//!   store with a huge offset, `memory.copy`, `memory.fill`, region index),
//!   `int_divide_by_zero`, `int_overflow` (`MIN / -1` and a float out of range),
//!   `bad_conversion` (NaN), `unreachable` (`trap`), `fuel_exhausted`,
//!   `call_depth_exceeded`, `region_invalid` (use after transfer), `resource_limit`,
//!   and "memory grow beyond the maximum": `memory.grow` never traps in this IR (it
//!   returns -1), so that case is a callee that checks for -1 and executes `trap`,
//!   and the expected code is `unreachable`;
//! - failed inter-domain calls, set up by the host between invokes: a revoked
//!   capability (`Instance::revoke`: `cap_revoked`), a killed target
//!   (`Instance::kill`: `cap_revoked`, as docs/ir.md says for a killed domain), and
//!   a faulted target (`domain_unavailable`). These are not traps: the domain whose
//!   call fails stores the code at `CODE_ADDR` of its memory and executes `trap`.
//!
//! Positions: directly in the callee's exported function; two direct calls deep
//! inside the callee; in the callee after its own successful IDC to `inner`; in
//! `inner`, the callee's callee (the callee stores the code it gets and turns the
//! failure into its own `trap`); in the callee after the caller transferred a
//! region to it; and, for the failed-call kinds only, at the boundary itself (the
//! caller's own capability to the callee is revoked, or the callee killed or
//! faulted).
//!
//! Every cell checks: the caller's `fail` successor gets the expected code; the
//! caller's and the bystander's memories are unchanged byte for byte; the callee
//! (and `inner`) are `Faulted` exactly as expected, with the expected trap codes in
//! `Instance::faults`, and the codes stored before a `trap` are there; after the
//! host restarts `callee`, `inner` and `leaf`, the call works again (for a trap
//! kind: `main(0)` succeeds, and `main(1)` fails the same way once more), except
//! through a revoked capability or into a killed domain, which stays failed with
//! the same code. Both backends must also agree on every result and on the full
//! `TrapInfo` (function, block, instruction) of every fault.
//!
//! Every failing cell is collected and reported in one assertion message.

use std::panic::{catch_unwind, AssertUnwindSafe};

use capjit::ir::exec::{DomainStatus, Limits, RunError, TrapInfo};
use capjit::ir::{parse_module, TrapCode, Val};
use capjit::{Backend, Config, Instance};

/// Where a domain stores a failure code before it executes `trap`.
const CODE_ADDR: u32 = 256;
/// What every callee returns on success.
const OK: i32 = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    OobLoad,
    OobStore,
    OobCopy,
    OobFill,
    OobRegion,
    DivByZero,
    DivOverflow,
    NanToInt,
    FloatOutOfRange,
    Unreachable,
    Fuel,
    CallDepth,
    RegionAfterTransfer,
    RegionTooLarge,
    GrowBeyondMax,
    /// The host revokes a capability between invokes.
    Revoked,
    /// The host kills the target domain between invokes.
    Killed,
    /// The target domain is faulted (the host made it trap) and not restarted.
    TargetFaulted,
}

const KINDS: [Kind; 18] = [
    Kind::OobLoad,
    Kind::OobStore,
    Kind::OobCopy,
    Kind::OobFill,
    Kind::OobRegion,
    Kind::DivByZero,
    Kind::DivOverflow,
    Kind::NanToInt,
    Kind::FloatOutOfRange,
    Kind::Unreachable,
    Kind::Fuel,
    Kind::CallDepth,
    Kind::RegionAfterTransfer,
    Kind::RegionTooLarge,
    Kind::GrowBeyondMax,
    Kind::Revoked,
    Kind::Killed,
    Kind::TargetFaulted,
];

impl Kind {
    /// The code the domain running the failing operation traps with.
    fn op_trap(self) -> TrapCode {
        match self {
            Kind::OobLoad | Kind::OobStore | Kind::OobCopy | Kind::OobFill | Kind::OobRegion => TrapCode::OutOfBounds,
            Kind::DivByZero => TrapCode::IntDivideByZero,
            Kind::DivOverflow | Kind::FloatOutOfRange => TrapCode::IntOverflow,
            Kind::NanToInt => TrapCode::BadConversion,
            Kind::Fuel => TrapCode::FuelExhausted,
            Kind::CallDepth => TrapCode::CallDepthExceeded,
            Kind::RegionAfterTransfer => TrapCode::RegionInvalid,
            Kind::RegionTooLarge => TrapCode::ResourceLimit,
            // `memory.grow` gives -1, the domain checks it and executes `trap`.
            Kind::GrowBeyondMax => TrapCode::Unreachable,
            Kind::Unreachable => TrapCode::Unreachable,
            // The call fails; the domain stores the code and executes `trap`.
            Kind::Revoked | Kind::Killed | Kind::TargetFaulted => TrapCode::Unreachable,
        }
    }

    /// For the failed-call kinds: the code the failing `call_cap` gets.
    fn call_failure(self) -> Option<TrapCode> {
        match self {
            Kind::Revoked | Kind::Killed => Some(TrapCode::CapRevoked),
            Kind::TargetFaulted => Some(TrapCode::DomainUnavailable),
            _ => None,
        }
    }

    /// Whether the call works again once everything is restarted.
    fn recovers(self) -> bool {
        !matches!(self, Kind::Revoked | Kind::Killed)
    }

    /// The failing operation as a block `block60` (and more), reached when the
    /// trigger `t` is non-zero; it jumps to `cont` if it does not fail. Also the
    /// helper functions it needs in its domain.
    fn op(self, t: &str, cont: &str) -> (String, String) {
        let (body, helpers) = match self {
            Kind::OobLoad => (
                "  v100 = iconst.i32 65533
  v101 = iadd.i32 v100, $T             ; 65534: two bytes in, two out
  v102 = load.i32 v101
  jump $CONT",
                "",
            ),
            Kind::OobStore => (
                "  v100 = iconst.i32 -4                 ; 0xfffffffc + 8 does not wrap to 4
  store.i32 $T, v100+8
  jump $CONT",
                "",
            ),
            Kind::OobCopy => (
                "  v100 = iconst.i32 0
  v101 = iconst.i32 65000
  v102 = iconst.i32 1000
  memory.copy v100, v101, v102         ; the source runs past the end
  jump $CONT",
                "",
            ),
            Kind::OobFill => (
                "  v100 = iconst.i32 65535
  v101 = iconst.i32 171
  v102 = iadd.i32 $T, $T
  memory.fill v100, v101, v102         ; [65535, 65537)
  jump $CONT",
                "",
            ),
            Kind::OobRegion => (
                "  v100 = iconst.i32 8
  v101 = region.new v100
  v102 = iconst.i32 4
  v103 = region.load.i64 v101, v102    ; [4, 12) of 8 bytes
  jump $CONT",
                "",
            ),
            Kind::DivByZero => (
                "  v100 = isub.i32 $T, $T
  v101 = sdiv.i32 $T, v100
  jump $CONT",
                "",
            ),
            Kind::DivOverflow => (
                "  v100 = iconst.i32 0x80000000
  v101 = iconst.i32 0
  v102 = isub.i32 v101, $T             ; -1
  v103 = sdiv.i32 v100, v102
  jump $CONT",
                "",
            ),
            Kind::NanToInt => (
                "  v100 = fcvt_from_sint.f64.i32 $T
  v101 = fsub.f64 v100, v100
  v102 = fdiv.f64 v101, v101           ; 0 / 0: NaN
  v103 = fcvt_to_sint.i32.f64 v102
  jump $CONT",
                "",
            ),
            Kind::FloatOutOfRange => (
                "  v100 = fcvt_from_sint.f64.i32 $T
  v101 = fconst.f64 3e9
  v102 = fmul.f64 v100, v101
  v103 = fcvt_to_sint.i32.f64 v102     ; 3e9 does not fit an i32
  jump $CONT",
                "",
            ),
            Kind::Unreachable => ("  trap", ""),
            Kind::Fuel => (
                "  jump block61
block61:
  jump block61                         ; forever, one unit of fuel per turn",
                "",
            ),
            Kind::CallDepth => (
                "  v100 = call deep_rec($T)
  jump $CONT",
                "
  func deep_rec(i32) -> i32 {
  block0(v0: i32):
    v1 = call deep_rec(v0)
    return v1
  }",
            ),
            Kind::RegionAfterTransfer => (
                "  v100 = iconst.i32 8
  v101 = region.new v100
  v102 = cap.get sink
  call_cap v102(v101) -> ok(block61), fail(block62)
block61:
  v103 = region.len v101               ; given away to `sink`
  jump $CONT
block62(v104: i32):
  trap",
                "",
            ),
            Kind::RegionTooLarge => (
                "  v100 = iconst.i32 -1
  v101 = region.new v100               ; 4 GiB
  jump $CONT",
                "",
            ),
            Kind::GrowBeyondMax => (
                "  v100 = memory.grow $T                ; `memory 1`: the maximum is 1 page
  v101 = iconst.i32 -1
  v102 = icmp.eq.i32 v100, v101
  brif v102, block61, $CONT
block61:
  trap                                 ; grow beyond the maximum, made a trap here",
                "",
            ),
            Kind::Revoked | Kind::Killed | Kind::TargetFaulted => (
                "  v100 = cap.get victim
  call_cap v100($T) -> ok(block61), fail(block62)
block61(v101: i32):
  jump $CONT
block62(v102: i32):
  v103 = iconst.i32 $CODE_ADDR
  store.i32 v102, v103
  trap",
                "",
            ),
        };
        let body = format!("block60:\n{body}\n")
            .replace("$T", t)
            .replace("$CONT", cont)
            .replace("$CODE_ADDR", &CODE_ADDR.to_string());
        (body, helpers.to_string())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Position {
    /// The caller's own capability to the callee (failed-call kinds only).
    Boundary,
    /// In the callee's exported function.
    Direct,
    /// Two direct calls deep inside the callee.
    Deep,
    /// In the callee, after its own successful IDC to `inner`.
    AfterIdc,
    /// In `inner`; the callee turns the failure into its own trap.
    InCallee2,
    /// In the callee, after the caller transferred a region to it.
    AfterRegion,
}

const POSITIONS: [Position; 6] = [
    Position::Boundary,
    Position::Direct,
    Position::Deep,
    Position::AfterIdc,
    Position::InCallee2,
    Position::AfterRegion,
];

/// A function `NAME(i32) -> i32` returning `OK`, or failing first when given `op`.
fn guarded_function(header: &str, op: Option<&(String, String)>) -> String {
    let mut f = format!(
        "  {header} {{
  block0(v0: i32):
    brif v0, {first}, block1
  block1:
    v1 = iconst.i32 {OK}
    return v1
",
        first = if op.is_some() { "block60" } else { "block1" }
    );
    if let Some((body, _)) = op {
        f.push_str(body);
    }
    f.push_str("  }\n");
    if let Some((_, helpers)) = op {
        f.push_str(helpers);
        f.push('\n');
    }
    f
}

/// The module of one cell.
fn module_text(kind: Kind, pos: Position) -> String {
    let (run_sig, call_args, region_setup) = if pos == Position::AfterRegion {
        (
            "(region, i32) -> i32",
            "v5, v0",
            "    v2 = iconst.i32 16
    v5 = region.new v2
    v3 = iconst.i64 42
    v4 = iconst.i32 0
    region.store.i64 v3, v5, v4
",
        )
    } else {
        ("(i32) -> i32", "v0", "")
    };
    let callee_run = match pos {
        Position::Boundary => guarded_function("export func run(i32) -> i32", None),
        Position::Direct => guarded_function("export func run(i32) -> i32", Some(&kind.op("v0", "block1"))),
        Position::Deep => format!(
            "  export func run(i32) -> i32 {{
  block0(v0: i32):
    v1 = call f1(v0)
    return v1
  }}
  func f1(i32) -> i32 {{
  block0(v0: i32):
    v1 = call f2(v0)
    return v1
  }}
{}",
            guarded_function("func f2(i32) -> i32", Some(&kind.op("v0", "block1")))
        ),
        Position::AfterIdc => {
            let (op, helpers) = kind.op("v0", "block3");
            format!(
                "  export func run(i32) -> i32 {{
  block0(v0: i32):
    v1 = cap.get inner
    v2 = iconst.i32 0
    call_cap v1(v2) -> ok(block1), fail(block2)
  block1(v3: i32):
    brif v0, block60, block3
  block2(v4: i32):
    v5 = iconst.i32 {CODE_ADDR}
    store.i32 v4, v5
    trap
  block3:
    return v3
{op}  }}
{helpers}
"
            )
        }
        Position::InCallee2 => format!(
            "  export func run(i32) -> i32 {{
  block0(v0: i32):
    v1 = cap.get inner
    call_cap v1(v0) -> ok(block1), fail(block2)
  block1(v2: i32):
    return v2
  block2(v3: i32):                     ; inner failed: store its code, trap ourselves
    v4 = iconst.i32 {CODE_ADDR}
    store.i32 v3, v4
    trap
  }}
"
        ),
        Position::AfterRegion => {
            let (op, helpers) = kind.op("v1", "block3");
            format!(
                "  export func run(region, i32) -> i32 {{
  block0(v0: region, v1: i32):
    v2 = iconst.i32 0
    v3 = region.load.i64 v0, v2
    v4 = iconst.i64 42
    v5 = icmp.eq.i64 v3, v4
    brif v5, block1, block2
  block1:                              ; the region arrived intact
    brif v1, block60, block3
  block2:
    trap
  block3:
    region.free v0
    v6 = iconst.i32 {OK}
    return v6
{op}  }}
{helpers}
"
            )
        }
    };
    let inner_run = if pos == Position::InCallee2 {
        guarded_function("export func run(i32) -> i32", Some(&kind.op("v0", "block1")))
    } else {
        guarded_function("export func run(i32) -> i32", None)
    };
    format!(
        "; fault matrix cell: {kind:?} at {pos:?}
domain caller {{
  memory 1
  data 0 \"caller canary: nobody may write here\"
  data 65520 \"\\de\\ad\\be\\ef caller end!\"
  import callee = callee.run : {run_sig}
  export func main(i32) -> i32 {{
  block0(v0: i32):
{region_setup}    v1 = cap.get callee
    call_cap v1({call_args}) -> ok(block1), fail(block2)
  block1(v6: i32):
    return v6
  block2(v7: i32):
    return v7
  }}
}}

domain bystander {{
  memory 1
  data 16 \"bystander canary\"
  data 65530 \"\\01\\02\\03\\04\\05\\06\"
  export func peek() -> i32 {{
  block0:
    v0 = iconst.i32 16
    v1 = load8u.i32 v0
    return v1
  }}
}}

domain callee {{
  memory 1
  import inner = inner.run : (i32) -> i32
  import victim = leaf.work : (i32) -> i32
  import sink = sink.take : (region)
{callee_run}
  export func boom() {{
  block0:
    trap
  }}
}}

domain inner {{
  memory 1
  import victim = leaf.work : (i32) -> i32
  import sink = sink.take : (region)
{inner_run}}}

domain sink {{
  export func take(region) {{
  block0(v0: region):
    region.free v0
    return
  }}
}}

domain leaf {{
  memory 1
  export func work(i32) -> i32 {{
  block0(v0: i32):
    v1 = iconst.i32 7
    return v1
  }}
  export func boom() {{
  block0:
    trap
  }}
}}
"
    )
}

/// What a cell must show after the failing call.
struct Expect {
    /// What `caller.main(1)` returns: the code its `fail` successor got.
    caller_code: i32,
    /// Status of callee, inner and leaf.
    status: [DomainStatus; 3],
    /// `(domain, code)` of every faulted domain, in domain order.
    faults: Vec<(&'static str, TrapCode)>,
    /// Codes stored at `CODE_ADDR` before a `trap`.
    stored: Vec<(&'static str, i32)>,
}

const WATCHED: [&str; 3] = ["callee", "inner", "leaf"];

fn expect(kind: Kind, pos: Position) -> Expect {
    use DomainStatus::*;
    let op = kind.op_trap();
    let mut status = [Running; 3];
    let mut faulted: Vec<(usize, TrapCode)> = Vec::new();
    let mut stored = Vec::new();
    // Where the host's setup lands: the callee at the boundary, else the leaf.
    let target = if pos == Position::Boundary { 0 } else { 2 };
    match kind {
        Kind::Killed => status[target] = Dead,
        Kind::TargetFaulted => {
            status[target] = Faulted;
            faulted.push((target, TrapCode::Unreachable));
        }
        _ => {}
    }
    let caller_code = match pos {
        Position::Boundary => kind
            .call_failure()
            .expect("only failed-call kinds at the boundary")
            .code(),
        Position::InCallee2 => {
            status[1] = Faulted;
            faulted.push((1, op));
            if let Some(c) = kind.call_failure() {
                stored.push(("inner", c.code()));
            }
            status[0] = Faulted;
            faulted.push((0, TrapCode::Unreachable));
            stored.push(("callee", op.code()));
            TrapCode::Unreachable.code()
        }
        _ => {
            status[0] = Faulted;
            faulted.push((0, op));
            if let Some(c) = kind.call_failure() {
                stored.push(("callee", c.code()));
            }
            op.code()
        }
    };
    faulted.sort_by_key(|(d, _)| *d);
    Expect {
        caller_code,
        status,
        faults: faulted.into_iter().map(|(d, c)| (WATCHED[d], c)).collect(),
        stored,
    }
}

/// Everything one backend showed in a cell, compared between the backends.
#[derive(Debug, PartialEq)]
struct Observed {
    results: Vec<Result<Vec<Val>, RunError>>,
    faults: Vec<TrapInfo>,
}

fn limits() -> Limits {
    Limits {
        fuel: 20_000,
        max_call_depth: 64,
        ..Limits::default()
    }
}

/// Run one cell on one backend; push what went wrong to `errors`.
fn run_cell(kind: Kind, pos: Position, backend: Backend, errors: &mut Vec<String>) -> Option<Observed> {
    let text = module_text(kind, pos);
    let module = match parse_module(&text) {
        Ok(m) => m,
        Err(e) => {
            errors.push(format!("parse error: {e}\n{text}"));
            return None;
        }
    };
    let config = Config {
        backend,
        limits: limits(),
        ..Config::default()
    };
    let mut inst = match Instance::new(&module, &config, Box::new(std::io::sink())) {
        Ok(i) => i,
        Err(e) => {
            errors.push(format!("cannot instantiate: {e}\n{text}"));
            return None;
        }
    };
    let mut obs = Observed {
        results: Vec::new(),
        faults: Vec::new(),
    };
    call(&mut inst, &mut obs, 0, OK, "benign call before the failure", errors);
    if kind.call_failure().is_some() {
        call(&mut inst, &mut obs, 1, OK, "the call before the host's setup", errors);
    }
    let snapshot = |inst: &Instance, d: &str| inst.memory(d).map(<[u8]>::to_vec).unwrap_or_default();
    let caller_before = snapshot(&inst, "caller");
    let bystander_before = snapshot(&inst, "bystander");

    // The host's setup.
    let target = if pos == Position::Boundary { "callee" } else { "leaf" };
    match kind {
        Kind::Revoked => {
            let (d, import) = match pos {
                Position::Boundary => ("caller", "callee"),
                Position::InCallee2 => ("inner", "victim"),
                _ => ("callee", "victim"),
            };
            if let Err(e) = inst.revoke(d, import) {
                errors.push(format!("revoke {d}.{import}: {e}"));
            }
        }
        Kind::Killed => {
            if let Err(e) = inst.kill(target) {
                errors.push(format!("kill {target}: {e}"));
            }
        }
        Kind::TargetFaulted => match inst.invoke(target, "boom", &[]) {
            Err(RunError::Trap(info)) if info.code == TrapCode::Unreachable && info.domain == target => {}
            other => errors.push(format!("{target}.boom() should trap with unreachable, gave {other:?}")),
        },
        _ => {}
    }

    let exp = expect(kind, pos);
    call(&mut inst, &mut obs, 1, exp.caller_code, "the failing call", errors);
    check_canaries(
        &inst,
        &caller_before,
        &bystander_before,
        "after the failing call",
        errors,
    );
    for (d, want) in WATCHED.iter().zip(exp.status) {
        let got = inst.status(d);
        if got != Some(want) {
            errors.push(format!("status of {d}: {got:?}, expected {want:?}"));
        }
    }
    let faults = inst.faults();
    let got: Vec<(&str, TrapCode)> = faults.iter().map(|f| (f.domain.as_str(), f.code)).collect();
    if got != exp.faults {
        errors.push(format!("faults: {got:?}, expected {:?} ({faults:?})", exp.faults));
    }
    obs.faults = faults;
    for (d, want) in &exp.stored {
        let got = inst
            .memory(d)
            .and_then(|m| m.get(CODE_ADDR as usize..CODE_ADDR as usize + 4))
            .map(|b| i32::from_le_bytes(b.try_into().unwrap_or_default()));
        if got != Some(*want) {
            errors.push(format!("code stored by {d}: {got:?}, expected {want}"));
        }
    }

    for d in WATCHED {
        if let Err(e) = inst.restart(d) {
            errors.push(format!("restart {d}: {e}"));
        }
    }
    if kind.recovers() {
        if kind.call_failure().is_some() {
            call(&mut inst, &mut obs, 1, OK, "the same call after restart", errors);
        } else {
            call(&mut inst, &mut obs, 0, OK, "benign call after restart", errors);
            call(
                &mut inst,
                &mut obs,
                1,
                exp.caller_code,
                "the failing call again after restart",
                errors,
            );
        }
    } else {
        // A revoked capability, or one into a killed domain, stays failed for good.
        call(
            &mut inst,
            &mut obs,
            1,
            exp.caller_code,
            "the same call after restart (stays failed)",
            errors,
        );
        if pos == Position::Boundary {
            call(
                &mut inst,
                &mut obs,
                0,
                exp.caller_code,
                "a benign call after restart (stays failed)",
                errors,
            );
        }
    }
    check_canaries(&inst, &caller_before, &bystander_before, "at the end", errors);
    Some(obs)
}

/// `caller.main(t)` must return `want`.
fn call(inst: &mut Instance, obs: &mut Observed, t: i32, want: i32, what: &str, errors: &mut Vec<String>) {
    let r = inst.invoke("caller", "main", &[Val::I32(t)]);
    if r != Ok(vec![Val::I32(want)]) {
        errors.push(format!("{what}: main({t}) gave {r:?}, expected i32:{want}"));
    }
    obs.results.push(r);
}

fn check_canaries(inst: &Instance, caller: &[u8], bystander: &[u8], when: &str, errors: &mut Vec<String>) {
    for (d, before) in [("caller", caller), ("bystander", bystander)] {
        let now = inst.memory(d).unwrap_or_default();
        if now != before {
            let first = now.iter().zip(before).position(|(a, b)| a != b);
            errors.push(format!(
                "{when}: memory of {d} changed (length {} -> {}, first difference at {first:?})",
                before.len(),
                now.len()
            ));
        }
    }
}

/// Every cell of the matrix: the failed-call kinds also at the boundary.
fn cells() -> Vec<(Kind, Position)> {
    let mut cells = Vec::new();
    for kind in KINDS {
        for pos in POSITIONS {
            if pos == Position::Boundary && kind.call_failure().is_none() {
                continue;
            }
            cells.push((kind, pos));
        }
    }
    cells
}

#[test]
fn fault_matrix() {
    let cells = cells();
    let mut failures = Vec::new();
    for &(kind, pos) in &cells {
        let mut observed = Vec::new();
        for backend in [Backend::Jit, Backend::Interpreter] {
            let mut errors = Vec::new();
            let run = catch_unwind(AssertUnwindSafe(|| run_cell(kind, pos, backend, &mut errors)));
            match run {
                Ok(obs) => observed.push(obs),
                Err(panic) => {
                    let msg = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    errors.push(format!("panicked: {msg}"));
                    observed.push(None);
                }
            }
            for e in errors {
                failures.push(format!("{kind:?} at {pos:?} [{backend:?}]: {e}"));
            }
        }
        if let [Some(jit), Some(interp)] = &observed[..] {
            if jit != interp {
                failures.push(format!(
                    "{kind:?} at {pos:?}: the backends disagree\n  jit:    {jit:?}\n  interp: {interp:?}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} problem(s) in the fault matrix ({} cells × 2 backends):\n{}",
        failures.len(),
        cells.len(),
        failures.join("\n")
    );
}

/// The matrix covers every trap code an instruction can raise, and every
/// position for every kind.
#[test]
fn matrix_covers_every_trap_kind() {
    let cells = cells();
    assert_eq!(cells.len(), 15 * 5 + 3 * 6);
    let mut codes: Vec<TrapCode> = KINDS.iter().map(|k| k.op_trap()).collect();
    codes.extend(KINDS.iter().filter_map(|k| k.call_failure()));
    // Every trap code but those covered by their own tests: a new code must get a
    // cell here or a reason to be left out.
    let elsewhere = |c: &TrapCode| {
        use TrapCode::*;
        matches!(
            c,
            InboxOverflow | DomainBusy | HostError | TableOutOfBounds | IndirectCallNull | IndirectCallType | Exit
        )
    };
    for want in TrapCode::ALL.into_iter().filter(|c| !elsewhere(c)) {
        assert!(codes.contains(&want), "no cell for {want}");
    }
    // Every generated module parses; an unknown block or value would show here
    // before the matrix itself runs.
    for (kind, pos) in cells {
        let text = module_text(kind, pos);
        if let Err(e) = parse_module(&text) {
            panic!("{kind:?} at {pos:?}: {e}\n{text}");
        }
    }
}
