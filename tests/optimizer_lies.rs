//! A lying optimiser: the real optimiser's output with its facts corrupted, one
//! lie at a time, in every way an optimiser could get them wrong. The verifier must
//! reject every corrupted module, and `capjit::optimize_and_verify_with` (what
//! `capjit run --opt` uses) must fall back to the original module, which then runs
//! and gives the right answer.
//!
//! The lies (each applied to every fact site where it applies):
//! - `hi_off_by_one`: `!range(lo, hi)` becomes `!range(lo, hi - 1)`;
//! - `lo_off_by_one`: `!range(lo, hi)` becomes `!range(lo + 1, hi)`;
//! - `lt_smaller`: `!range(_, hi)` becomes `!lt(c)` with `c = iconst hi`, one too small;
//! - `lt_unrelated`: `!range(..)` becomes `!lt(p)`, `p` an unrelated entry parameter;
//! - `other_edge`: the `icmp` deciding a `brif` whose target parameter carries a
//!   fact is negated, so the fact is claimed on the edge where the opposite holds;
//! - `same_target`: both edges of such a `brif` go to the refined target, so its
//!   fact, justified on one edge, is violated on the other;
//! - `i32_wraps`: an operand of a 32-bit `iadd`/`imul`/`ishl` whose result carries a
//!   fact gets the (true) fact `!range(0, 2^32 - 1)`: the result's fact assumed
//!   the sum cannot wrap, as if computed in 64 bits;
//! - `i64_bounds_on_i32`: an i32 fact claims a bound above 2^32 - 1;
//! - `loop_redefined`: a loop header parameter keeps the range of its entry value
//!   only, after the back edge redefines it;
//! - `entry_param`: an entry parameter (and a `call_cap` result) claims a range.

mod support;

use std::collections::BTreeMap;

use capjit::ir::exec::RunError;
use capjit::ir::{parse_module, BlockCall, Const, Def, Fact, Function, Inst, Module, Op, Terminator, Type, Value};
use capjit::opt::Fallback;
use capjit::optimizer::{optimize_report, Options};
use capjit::{Backend, Config, Instance};

/// A place a fact sits: (domain, function, block, Some(param) | None + inst index).
#[derive(Clone, Copy, Debug)]
enum At {
    Param(usize, usize, usize, usize),
    Inst(usize, usize, usize, usize),
}

fn fact_sites(m: &Module) -> Vec<(At, Value, Fact)> {
    let mut out = Vec::new();
    for (d, dom) in m.domains.iter().enumerate() {
        for (f, func) in dom.functions.iter().enumerate() {
            for (b, block) in func.blocks.iter().enumerate() {
                for (k, p) in block.params.iter().enumerate() {
                    if let Some(fact) = p.fact {
                        out.push((At::Param(d, f, b, k), p.value, fact));
                    }
                }
                for (i, inst) in block.insts.iter().enumerate() {
                    if let [def] = inst.results.as_slice() {
                        if let Some(fact) = def.fact {
                            out.push((At::Inst(d, f, b, i), def.value, fact));
                        }
                    }
                }
            }
        }
    }
    out
}

fn func_mut(m: &mut Module, at: At) -> &mut Function {
    let (At::Param(d, f, ..) | At::Inst(d, f, ..)) = at;
    &mut m.domains[d].functions[f]
}

fn set_fact(m: &mut Module, at: At, fact: Option<Fact>) {
    match at {
        At::Param(d, f, b, k) => m.domains[d].functions[f].blocks[b].params[k].fact = fact,
        At::Inst(d, f, b, i) => m.domains[d].functions[f].blocks[b].insts[i].results[0].fact = fact,
    }
}

fn next_value(f: &Function) -> u32 {
    capjit::optimizer::util::next_value(f)
}

/// `iconst` of `c` at the top of the entry block; its value.
fn entry_const(f: &mut Function, ty: &Type, c: u64) -> Value {
    let v = Value(next_value(f));
    let k = match ty {
        Type::I32 => Const::I32(c as u32 as i32),
        _ => Const::I64(c as i64),
    };
    f.blocks[0].insts.insert(
        0,
        Inst {
            results: [Def { value: v, fact: None }].into(),
            op: Op::Const(k),
            span: None,
        },
    );
    v
}

fn value_type(f: &Function, v: Value) -> Option<Type> {
    for b in &f.blocks {
        for p in &b.params {
            if p.value == v {
                return Some(p.ty.clone());
            }
        }
        for i in &b.insts {
            if i.results.first().is_some_and(|d| d.value == v) {
                return match &i.op {
                    Op::Binary { ty, .. } | Op::Unary { ty, .. } => Some(Type::from(*ty)),
                    Op::Convert { to, .. } => Some(Type::from(*to)),
                    Op::Const(Const::I64(_)) => Some(Type::I64),
                    Op::Load { access, .. } => Some(Type::from(access.ty)),
                    _ => Some(Type::I32),
                };
            }
        }
    }
    None
}

/// Every corrupted version of `m`, labelled by the kind of lie.
fn lies(m: &Module) -> Vec<(&'static str, String, Module)> {
    let mut out: Vec<(&'static str, String, Module)> = Vec::new();
    let sites = fact_sites(m);
    for &(at, v, fact) in &sites {
        let Fact::Range { lo, hi } = fact else { continue };
        let here = format!("{at:?} {v}");
        if hi > lo {
            let mut c = m.clone();
            set_fact(&mut c, at, Some(Fact::Range { lo, hi: hi - 1 }));
            out.push(("hi_off_by_one", here.clone(), c));
            // Lower bounds of loop parameters may be loose (then one more is no
            // lie: a loop counter from 4 is also at least 3); results' are exact.
            if matches!(at, At::Inst(..)) {
                let mut c = m.clone();
                set_fact(&mut c, at, Some(Fact::Range { lo: lo + 1, hi }));
                out.push(("lo_off_by_one", here.clone(), c));
            }
        }
        let (At::Param(d, fi, ..) | At::Inst(d, fi, ..)) = at;
        let f = &m.domains[d].functions[fi];
        let ty = value_type(f, v).unwrap_or(Type::I32);
        // lt of a constant one too small: `v < hi` fails when v reaches hi.
        if hi > 0 {
            let mut c = m.clone();
            let k = entry_const(func_mut(&mut c, at), &ty, hi);
            set_fact(&mut c, at, Some(Fact::Lt(k)));
            out.push(("lt_smaller", here.clone(), c));
        }
        // lt of an unrelated value: an entry parameter of the same width.
        if let Some(p) = f.blocks[0].params.iter().find(|p| p.ty == ty && p.value != v) {
            let mut c = m.clone();
            set_fact(&mut c, at, Some(Fact::Lt(p.value)));
            out.push(("lt_unrelated", here.clone(), c));
        }
        // i64 bounds on an i32 value.
        if ty == Type::I32 {
            let mut c = m.clone();
            set_fact(
                &mut c,
                at,
                Some(Fact::Range {
                    lo,
                    hi: u32::MAX as u64 + 1 + hi,
                }),
            );
            out.push(("i64_bounds_on_i32", here.clone(), c));
        }
        match at {
            At::Inst(d, fi, b, i) => {
                // A 32-bit operation assumed not to wrap.
                let op = &m.domains[d].functions[fi].blocks[b].insts[i].op;
                if let Op::Binary {
                    op: capjit::ir::BinOp::Iadd | capjit::ir::BinOp::Imul | capjit::ir::BinOp::Ishl,
                    ty: capjit::ir::NumType::I32,
                    a,
                    ..
                } = op
                {
                    let mut c = m.clone();
                    let f = &mut c.domains[d].functions[fi];
                    let full = Some(Fact::Range {
                        lo: 0,
                        hi: u32::MAX as u64,
                    });
                    let mut done = false;
                    for block in &mut f.blocks {
                        for p in &mut block.params {
                            if p.value == *a {
                                p.fact = full;
                                done = true;
                            }
                        }
                        for inst in &mut block.insts {
                            if let [def] = inst.results.as_mut_slice() {
                                if def.value == *a && !matches!(inst.op, Op::Const(_)) {
                                    def.fact = full;
                                    done = true;
                                }
                            }
                        }
                    }
                    // (Constant operands cannot carry a wider fact: the constant wins.)
                    if done {
                        out.push(("i32_wraps", here.clone(), c));
                    }
                }
            }
            At::Param(d, fi, b, k) => {
                let f = &m.domains[d].functions[fi];
                let mut incoming: Vec<(usize, usize)> = Vec::new(); // (pred block, call index)
                for (p, block) in f.blocks.iter().enumerate() {
                    let calls: Vec<&BlockCall> = match &block.term {
                        Terminator::Jump(c) => vec![c],
                        Terminator::Brif { then, else_, .. } => vec![then, else_],
                        Terminator::BrTable { default, targets, .. } => {
                            std::iter::once(default).chain(targets.iter()).collect()
                        }
                        _ => vec![],
                    };
                    for (ci, call) in calls.iter().enumerate() {
                        if call.block.0 as usize == b {
                            incoming.push((p, ci));
                        }
                    }
                }
                // A loop header keeps the range of its entry argument only.
                if incoming.iter().any(|(p, _)| *p >= b) {
                    if let Some((p, ci)) = incoming.iter().find(|(p, _)| *p < b) {
                        let arg = match &f.blocks[*p].term {
                            Terminator::Jump(c) => c.args.get(k).copied(),
                            Terminator::Brif { then, else_, .. } => [then, else_][*ci].args.get(k).copied(),
                            _ => None,
                        };
                        let entry_value = arg.and_then(|a| {
                            f.blocks
                                .iter()
                                .flat_map(|bb| &bb.insts)
                                .find_map(|i| match (&i.op, i.results.first()) {
                                    (Op::Const(Const::I32(x)), Some(d)) if d.value == a => Some(*x as u32 as u64),
                                    (Op::Const(Const::I64(x)), Some(d)) if d.value == a => Some(*x as u64),
                                    _ => None,
                                })
                        });
                        if let Some(e) = entry_value {
                            let mut c = m.clone();
                            set_fact(&mut c, at, Some(Fact::Range { lo: e, hi: e }));
                            out.push(("loop_redefined", here.clone(), c));
                        }
                    }
                }
                // A brif edge refines this parameter: lie about which edge.
                if let [(p, ci @ (0 | 1))] = incoming.as_slice() {
                    if let Terminator::Brif { cond, then, else_ } = &f.blocks[*p].term {
                        let icmp = f.blocks.iter().flat_map(|bb| &bb.insts).position(|i| {
                            i.results.first().is_some_and(|d| d.value == *cond) && matches!(i.op, Op::Icmp { .. })
                        });
                        if icmp.is_some() {
                            let mut c = m.clone();
                            let g = &mut c.domains[d].functions[fi];
                            for block in &mut g.blocks {
                                for inst in &mut block.insts {
                                    if inst.results.first().is_some_and(|x| x.value == *cond) {
                                        if let Op::Icmp { cc, .. } = &mut inst.op {
                                            *cc = cc.inverse();
                                        }
                                    }
                                }
                            }
                            out.push(("other_edge", here.clone(), c));
                            // Both edges into the refined target.
                            let (taken, other) = if *ci == 0 { (then, else_) } else { (else_, then) };
                            if taken.block != other.block {
                                let mut c = m.clone();
                                let g = &mut c.domains[d].functions[fi];
                                if let Terminator::Brif { then, else_, .. } = &mut g.blocks[*p].term {
                                    let t = taken.clone();
                                    *then = t.clone();
                                    *else_ = t;
                                }
                                out.push(("same_target", here.clone(), c));
                            }
                        }
                    }
                }
            }
        }
    }
    // Entry parameters and call_cap results claiming ranges.
    for (d, dom) in m.domains.iter().enumerate() {
        for (fi, f) in dom.functions.iter().enumerate() {
            if let Some(k) = f.blocks[0]
                .params
                .iter()
                .position(|p| matches!(p.ty, Type::I32 | Type::I64))
            {
                let mut c = m.clone();
                c.domains[d].functions[fi].blocks[0].params[k].fact = Some(Fact::Range { lo: 0, hi: 15 });
                out.push(("entry_param", format!("{}.{} entry", dom.name, f.name), c));
            }
            for block in &f.blocks {
                if let Terminator::CallCap { ok, .. } = &block.term {
                    let target = &f.blocks[ok.0 as usize];
                    if let Some(k) = target.params.iter().position(|p| matches!(p.ty, Type::I32 | Type::I64)) {
                        let mut c = m.clone();
                        c.domains[d].functions[fi].blocks[ok.0 as usize].params[k].fact =
                            Some(Fact::Range { lo: 0, hi: 0 });
                        out.push(("entry_param", format!("{}.{} call_cap result", dom.name, f.name), c));
                    }
                }
            }
        }
    }
    out
}

const FILES: [&str; 7] = [
    "benches/kernels/sieve.cir",
    "benches/kernels/matmul.cir",
    "benches/kernels/crc32.cir",
    "benches/kernels/quicksort.cir",
    "examples/sieve.cir",
    "examples/kv_store.cir",
    "tests/programs/mem_load_store_widths_i64.cir",
];

fn load(file: &str) -> (String, Module) {
    let src = std::fs::read_to_string(support::repo_dir(file)).unwrap();
    let m = parse_module(&src).unwrap();
    (src, m)
}

#[test]
fn the_verifier_rejects_every_lie() {
    let mut by_kind: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut accepted = Vec::new();
    for file in FILES {
        let (_, m) = load(file);
        let (opt, report) = optimize_report(&m, &Options::default());
        assert_eq!(report.facts_dropped, 0, "{file}");
        assert!(
            capjit::verifier::verify(&opt).is_ok(),
            "{file}: the honest optimiser fails"
        );
        for (kind, at, lie) in lies(&opt) {
            let e = by_kind.entry(kind).or_default();
            e.0 += 1;
            match capjit::verifier::verify(&lie) {
                Ok(_) => accepted.push(format!("{file}: {kind} at {at} was ACCEPTED")),
                Err(errors) => {
                    if errors
                        .iter()
                        .any(|e| matches!(e.kind.name(), "fact_not_proven" | "fact_malformed"))
                    {
                        e.1 += 1;
                    } else {
                        accepted.push(format!(
                            "{file}: {kind} at {at} rejected, but not for a fact: {}",
                            errors[0]
                        ));
                    }
                }
            }
        }
    }
    for (kind, (n, rejected)) in &by_kind {
        eprintln!("{kind}: {rejected} of {n} lies rejected");
    }
    for kind in [
        "hi_off_by_one",
        "lo_off_by_one",
        "lt_smaller",
        "lt_unrelated",
        "other_edge",
        "same_target",
        "i32_wraps",
        "i64_bounds_on_i32",
        "loop_redefined",
        "entry_param",
    ] {
        assert!(
            by_kind.get(kind).is_some_and(|(n, _)| *n > 0),
            "no `{kind}` lie was tried"
        );
    }
    assert!(
        accepted.is_empty(),
        "{} lies got through:\n{}",
        accepted.len(),
        accepted.join("\n")
    );
}

/// Run `m`'s entry as the file's header says; the results or the trap code.
fn run(m: &Module, header: &support::Header, backend: Backend) -> Result<Vec<capjit::ir::Val>, String> {
    let entry = support::resolve_entry(m, header)?;
    let config = Config {
        backend,
        limits: support::limits_for(header),
        ..Config::default()
    };
    let mut inst = Instance::new(m, &config, Box::new(std::io::sink())).map_err(|e| e.to_string())?;
    match inst.invoke(&entry.domain, &entry.func, &entry.args) {
        Ok(v) => Ok(v),
        Err(RunError::Trap(t)) => Err(t.code.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

#[test]
fn run_opt_falls_back_on_every_lie_and_runs_correctly() {
    for file in FILES {
        let (src, m) = load(file);
        let header = support::parse_header(&src).unwrap();
        let want = run(&m, &header, Backend::Interpreter);
        let honest = optimize_report(&m, &Options::default()).0;
        // One lie of each kind per file, through the fallback path.
        let mut seen = Vec::new();
        for (kind, at, lie) in lies(&honest) {
            if seen.contains(&kind) {
                continue;
            }
            seen.push(kind);
            let out = capjit::optimize_and_verify_with(&m, |_| (lie, Default::default()))
                .unwrap_or_else(|e| panic!("{file}: the original does not verify: {}", e[0]));
            let Some(Fallback::Rejected(errors)) = &out.fallback else {
                panic!("{file}: {kind} at {at}: no fallback")
            };
            assert!(!errors.is_empty());
            assert!(
                errors
                    .iter()
                    .any(|e| matches!(e.kind.name(), "fact_not_proven" | "fact_malformed")),
                "{file}: {kind}: {}",
                errors[0]
            );
            // The warning names the rule and the location of the first errors.
            let warnings = out.warnings(3);
            assert!(warnings[0].starts_with("warning: the optimised module failed verification"));
            assert!(
                warnings[1].contains(&format!("[{}] domain `", errors[0].kind.name())),
                "{warnings:?}"
            );
            assert_eq!(
                out.verified.module(),
                &m,
                "{file}: {kind}: the fallback is not the original"
            );
            for backend in [Backend::Jit, Backend::Interpreter] {
                let got = run(out.verified.module(), &header, backend);
                assert_eq!(got, want, "{file}: {kind} at {at} in {backend:?}");
            }
        }
    }
}

#[test]
fn an_optimiser_that_panics_falls_back_too() {
    let (_, m) = load("benches/kernels/sieve.cir");
    let out = capjit::optimize_and_verify_with(&m, |_| panic!("optimiser bug")).unwrap();
    assert!(matches!(&out.fallback, Some(Fallback::Panicked(msg)) if msg.contains("optimiser bug")));
    assert_eq!(out.verified.module(), &m);
}

#[test]
fn the_honest_optimiser_is_used_when_it_verifies() {
    for file in FILES {
        let (_, m) = load(file);
        let out = capjit::optimize_and_verify(&m).unwrap();
        assert!(out.fallback.is_none(), "{file}: {:?}", out.warnings(3));
        assert!(out.warnings(3).is_empty());
    }
}
