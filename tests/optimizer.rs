//! The optimiser preserves semantics: every program of `tests/programs/`,
//! `examples/`, `benches/kernels/` and `optimizer/tests/kernels/` gives the same outcome optimised and not —
//! the entry call's results or trap code, host output, every domain's final
//! memory, status and fuel (the passes keep every branch's direction, so fuel is
//! spent exactly as before) — in the interpreter and in the JIT. The optimised
//! module must verify with no fact dropped by the optimiser's own safety net.
//!
//! `optimized_kernels_prove_their_accesses` prints the `capjit verify` counts
//! before and after optimisation for the kernels (quoted in `docs/optimizer.md`)
//! and holds them to what the optimiser achieves today.

mod support;

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};

use capjit::ir::exec::{DomainStatus, RunError};
use capjit::ir::{parse_module, Module, TrapCode, Val};
use capjit::optimizer::{optimize_report, Options};
use capjit::{Backend, Config, Instance};

#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything observable after one entry call.
#[derive(Debug, PartialEq)]
struct Observed {
    result: Result<Vec<Val>, TrapCode>,
    output: Vec<u8>,
    /// Per domain: memory, fuel left, status.
    domains: Vec<(String, Vec<u8>, u64, DomainStatus)>,
}

fn observe(m: &Module, backend: Backend, header: &support::Header) -> Result<Observed, String> {
    let entry = support::resolve_entry(m, header)?;
    let sink = Sink::default();
    let config = Config {
        backend,
        limits: support::limits_for(header),
        max_stack_size: 64 << 20,
        ..Config::default()
    };
    let mut inst = Instance::new(m, &config, Box::new(sink.clone())).map_err(|e| e.to_string())?;
    let result = match inst.invoke(&entry.domain, &entry.func, &entry.args) {
        Ok(v) => Ok(v),
        Err(RunError::Trap(t)) => Err(t.code),
        Err(e) => return Err(format!("did not run: {e}")),
    };
    let domains = m
        .domains
        .iter()
        .map(|d| {
            let n = &d.name;
            (
                n.clone(),
                inst.memory(n).map(<[u8]>::to_vec).unwrap_or_default(),
                inst.fuel(n).unwrap_or(u64::MAX),
                inst.status(n).unwrap_or(DomainStatus::Dead),
            )
        })
        .collect();
    let output = sink.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
    Ok(Observed {
        result,
        output,
        domains,
    })
}

fn corpus() -> Vec<PathBuf> {
    [
        "tests/programs",
        "examples",
        "benches/kernels",
        "optimizer/tests/kernels",
    ]
    .iter()
    .flat_map(|d| support::cir_files(&support::repo_dir(d)))
    .collect()
}

fn first_difference(a: &Observed, b: &Observed) -> String {
    if a.result != b.result {
        return format!("result {:?} vs {:?}", a.result, b.result);
    }
    if a.output != b.output {
        return "host output".into();
    }
    for (x, y) in a.domains.iter().zip(&b.domains) {
        if x.1 != y.1 {
            return format!("memory of {}", x.0);
        }
        if x.2 != y.2 {
            return format!("fuel of {}: {} vs {}", x.0, x.2, y.2);
        }
        if x.3 != y.3 {
            return format!("status of {}: {:?} vs {:?}", x.0, x.3, y.3);
        }
    }
    "?".into()
}

fn check_file(path: &PathBuf) -> Result<(), String> {
    let src = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let header = support::parse_header(&src)?;
    let m = parse_module(&src).map_err(|e| e.message)?;
    let (opt, report) = optimize_report(&m, &Options::default());
    if report.facts_dropped > 0 {
        return Err(format!(
            "the optimiser wrote {} fact(s) the verifier rejects: {}",
            report.facts_dropped,
            report.dropped_messages.join("; ")
        ));
    }
    capjit::verifier::verify(&opt).map_err(|e| format!("the optimised module does not verify: {}", e[0]))?;
    for backend in [Backend::Interpreter, Backend::Jit] {
        let before = observe(&m, backend, &header)?;
        let after = observe(&opt, backend, &header)?;
        if before != after {
            return Err(format!(
                "{backend:?}: optimised differs: {}",
                first_difference(&before, &after)
            ));
        }
    }
    Ok(())
}

#[test]
fn optimised_programs_behave_exactly_as_the_originals() {
    let files = corpus();
    assert!(files.len() > 100, "corpus not found");
    let failures: Vec<String> = files
        .iter()
        .filter_map(|f| check_file(f).err().map(|e| format!("{}: {e}", support::short(f))))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} files:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

/// Optimising twice changes nothing more than optimising once would break.
#[test]
fn optimising_an_optimised_module_keeps_it_valid() {
    for f in corpus() {
        let m = parse_module(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let once = capjit::optimizer::optimize(&m);
        let (twice, report) = optimize_report(&once, &Options::default());
        assert_eq!(report.facts_dropped, 0, "{}", support::short(&f));
        assert!(capjit::verifier::verify(&twice).is_ok(), "{}", support::short(&f));
    }
}

/// Every pass alone keeps every program valid and its outcome unchanged.
#[test]
fn each_pass_alone_preserves_semantics() {
    let alone = |set: fn(&mut Options)| {
        let mut o = Options::none();
        o.prune_facts = true;
        set(&mut o);
        o
    };
    let options = [
        alone(|o| o.fold = true),
        alone(|o| o.copy_prop = true),
        alone(|o| o.cse = true),
        alone(|o| o.dce = true),
        alone(|o| o.bounds = true),
        alone(|o| {
            o.version = true;
            o.bounds = true;
        }),
    ];
    for f in corpus() {
        let src = std::fs::read_to_string(&f).unwrap();
        let header = support::parse_header(&src).unwrap();
        let m = parse_module(&src).unwrap();
        let before = observe(&m, Backend::Interpreter, &header).unwrap();
        for o in &options {
            let (opt, report) = optimize_report(&m, o);
            assert_eq!(report.facts_dropped, 0, "{} with {o:?}", support::short(&f));
            let after = observe(&opt, Backend::Interpreter, &header)
                .unwrap_or_else(|e| panic!("{} with {o:?}: {e}", support::short(&f)));
            assert!(
                before == after,
                "{} with {o:?}: {}",
                support::short(&f),
                first_difference(&before, &after)
            );
        }
    }
}

/// (proven, checked) as `capjit verify` counts them.
fn counts(m: &Module) -> (u64, u64) {
    let v = capjit::verifier::verify(m).expect("verifies");
    (v.counts().accesses_proven, v.counts().accesses_checked)
}

/// The specialised copy of a versioned function: its bound `K` and the range of
/// its blocks (it starts at the then-target of the entry's switch and runs to the
/// end: the copy is appended after every original block).
fn specialised_copy(f: &capjit::ir::Function) -> Option<(u64, std::ops::Range<usize>)> {
    let entry = &f.blocks[0];
    let capjit::ir::Terminator::Brif { then, .. } = &entry.term else {
        return None;
    };
    let k = entry.insts.iter().find_map(|i| match i.op {
        capjit::ir::Op::Const(capjit::ir::Const::I32(k)) => Some(k as u32 as u64),
        capjit::ir::Op::Const(capjit::ir::Const::I64(k)) => Some(k as u64),
        _ => None,
    })?;
    Some((k, then.block.0 as usize..f.blocks.len()))
}

#[test]
fn optimized_kernels_prove_their_accesses() {
    // (file, entry, at least this many proven after optimisation, whether every
    // access the header's call executes is proven)
    let expected = [
        ("benches/kernels/sieve.cir", "run", 3, true),
        ("benches/kernels/matmul.cir", "run", 6, true),
        ("benches/kernels/crc32.cir", "run", 6, true),
        ("benches/kernels/quicksort.cir", "run", 2, false),
        ("examples/sieve.cir", "main", 2, false),
    ];
    for (file, func, want, all_executed_proven) in expected {
        let path = support::repo_dir(file);
        let src = std::fs::read_to_string(&path).unwrap();
        let header = support::parse_header(&src).unwrap();
        let m = parse_module(&src).unwrap();
        let before = counts(&m);
        let (opt, report) = optimize_report(&m, &Options::default());
        let after = counts(&opt);
        eprintln!(
            "{file}: before {} proven / {} checked; after {} proven / {} checked; versioned {:?}",
            before.0, before.1, after.0, after.1, report.versioned
        );
        assert!(after.0 >= want, "{file}: only {} proven", after.0);
        // The header's call runs the specialised copy, whose accesses are proven.
        let verified = capjit::verifier::verify(&opt).unwrap();
        let d = 0;
        let fi = opt.domains[d].functions.iter().position(|f| f.name == func).unwrap();
        let f = &opt.domains[d].functions[fi];
        let (k, copy) = specialised_copy(f).unwrap_or_else(|| panic!("{file}: not versioned"));
        let arg = support::resolve_entry(&m, &header).unwrap().args[0];
        let Val::I32(n) = arg else { panic!("{file}: {arg}") };
        assert!(
            (n as u32 as u64) <= k,
            "{file}: the call's argument {n} is above the bound {k}"
        );
        let (mut proven, mut total) = (0, 0);
        for b in copy {
            for (i, inst) in f.blocks[b].insts.iter().enumerate() {
                if matches!(
                    inst.op,
                    capjit::ir::Op::Load { .. }
                        | capjit::ir::Op::Store { .. }
                        | capjit::ir::Op::MemoryCopy { .. }
                        | capjit::ir::Op::MemoryFill { .. }
                ) {
                    total += 1;
                    proven += verified.access_proven(d, fi, b, i) as usize;
                }
            }
        }
        eprintln!("{file}: {func} specialised for n <= {k}; the copy's accesses: {proven} of {total} proven");
        if all_executed_proven {
            assert_eq!(proven, total, "{file}");
        }
    }
}

fn capjit_bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_capjit"))
}

#[test]
fn cli_opt_writes_a_verified_module_with_facts() {
    let out = std::env::temp_dir().join(format!("capjit-opt-{}.cir", std::process::id()));
    let kernel = support::repo_dir("benches/kernels/sieve.cir");
    let status = capjit_bin()
        .args(["opt", kernel.to_str().unwrap(), "-o", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let stderr = String::from_utf8_lossy(&status.stderr);
    assert!(stderr.contains("0 of 3 proven before, 3 of 6 proven after"), "{stderr}");
    let text = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    assert!(text.contains("!range("), "no facts written:\n{text}");
    let m = parse_module(&text).unwrap();
    assert_eq!(counts(&m), (3, 3));
}

#[test]
fn cli_run_opt_prints_what_run_prints() {
    for (file, args) in [
        ("benches/kernels/sieve.cir", vec!["--invoke", "sieve.run", "1000"]),
        ("benches/kernels/matmul.cir", vec!["--invoke", "matmul.run", "7"]),
        ("benches/kernels/matmul.cir", vec!["--invoke", "matmul.run", "60"]),
        ("examples/sieve.cir", vec!["100"]),
        ("examples/hello.cir", vec![]),
    ] {
        let path = support::repo_dir(file);
        let run = |opt: bool| {
            let mut c = capjit_bin();
            c.arg("run");
            if opt {
                c.arg("--opt");
            }
            c.arg(&path).args(&args);
            let o = c.output().unwrap();
            (
                o.status.code(),
                o.stdout,
                String::from_utf8_lossy(&o.stderr).into_owned(),
            )
        };
        let (plain, opt) = (run(false), run(true));
        assert_eq!(plain.0, opt.0, "{file}: exit codes");
        assert_eq!(plain.1, opt.1, "{file}: output");
        assert!(!opt.2.contains("warning"), "{file}: {}", opt.2);
    }
}

/// Correct facts the optimiser would write if the verifier had the rule that
/// proves them (`docs/optimizer.md`, "What the verifier rejects"). Each is true for
/// every input, and each is rejected today with `fact_not_proven`; when a rule is
/// added, this test fails and the optimiser can start writing the fact.
#[test]
fn correct_facts_the_verifier_cannot_prove_yet() {
    let cases = [
        // 1. Current memory size: v0 < memory bytes now, and memory never shrinks.
        (
            "a fact against the current memory size",
            "domain app {
               memory 1 16
               export func main(i32) -> i32 {
               block0(v0: i32):
                 v1 = memory.size
                 v2 = iconst.i32 16
                 v3 = ishl.i32 v1, v2
                 v4 = icmp.ult.i32 v0, v3
                 brif v4, block1(v0), block2
               block1(v5: i32 !mem(1)):
                 v6 = load8u.i32 v5
                 return v6
               block2:
                 v7 = iconst.i32 -1
                 return v7
               }
             }",
        ),
        // 2. p * p < n (no wrap: p < 2^16) bounds p itself.
        (
            "a bound through a square",
            "domain app {
               memory 1
               export func main(i32) -> i32 {
               block0(v0: i32):
                 v1 = iconst.i32 65535
                 v2 !range(0, 65535) = band.i32 v0, v1
                 v3 !range(0, 4294836225) = imul.i32 v2, v2
                 v4 = iconst.i32 1024
                 v5 = icmp.ult.i32 v3, v4
                 brif v5, block1(v2), block2
               block1(v6: i32 !range(0, 31)):
                 v7 = load8u.i32 v6
                 return v7
               block2:
                 return v4
               }
             }",
        ),
        // 3. A signed comparison of two non-negative values is the unsigned one.
        (
            "a signed comparison of non-negative values",
            "domain app {
               memory 1
               export func main(i32) -> i32 {
               block0(v0: i32):
                 v1 = iconst.i32 255
                 v2 !range(0, 255) = band.i32 v0, v1
                 v3 = iconst.i32 100
                 v4 = icmp.slt.i32 v2, v3
                 brif v4, block1(v2), block2
               block1(v5: i32 !range(0, 99)):
                 v6 = load8u.i32 v5
                 return v6
               block2:
                 return v3
               }
             }",
        ),
        // 4. A parameter of an internal function, checked at its only call.
        (
            "a fact on an internal function's parameter",
            "domain app {
               memory 1
               export func main(i32) -> i32 {
               block0(v0: i32):
                 v1 = iconst.i32 255
                 v2 !range(0, 255) = band.i32 v0, v1
                 v3 = call get(v2)
                 return v3
               }
               func get(i32) -> i32 {
               block0(v0: i32 !range(0, 255)):
                 v1 = load8u.i32 v0
                 return v1
               }
             }",
        ),
        // 5. p = 8k in a loop: p and k step together, but are separate parameters.
        (
            "a pointer stepping with the loop counter",
            "domain app {
               memory 1
               export func main() -> f64 {
               block0:
                 v0 = iconst.i32 0
                 v1 = fconst.f64 0
                 jump block1(v0, v0, v1)
               block1(v2: i32 !range(0, 127), v3: i32 !range(0, 1016), v4: f64):
                 v5 = load.f64 v3
                 v6 = fadd.f64 v4, v5
                 v7 = iconst.i32 1
                 v8 = iadd.i32 v2, v7
                 v9 = iconst.i32 8
                 v10 = iadd.i32 v3, v9
                 v11 = iconst.i32 128
                 v12 = icmp.ult.i32 v8, v11
                 brif v12, block1(v8, v10, v6), block2
               block2:
                 return v6
               }
             }",
        ),
    ];
    for (what, src) in cases {
        let m = parse_module(src).unwrap_or_else(|e| panic!("{what}: {}", e.message));
        match capjit::verifier::verify(&m) {
            Ok(_) => panic!("{what}: the verifier now proves it; update docs/optimizer.md and the optimiser"),
            Err(errors) => {
                assert!(
                    errors.iter().all(|e| e.kind.name() == "fact_not_proven"),
                    "{what}: {}",
                    errors[0]
                );
            }
        }
    }
}

/// Hostile input: every attack file that parses goes through the optimiser
/// without a panic, what verified before still verifies after, and the attacks
/// that run behave exactly as before.
#[test]
fn the_optimiser_survives_the_attack_corpus() {
    let (mut n, mut runs) = (0, 0);
    for f in support::cir_files(&support::repo_dir("tests/attacks")) {
        let Ok(m) = parse_module(&std::fs::read_to_string(&f).unwrap()) else {
            continue;
        };
        let valid = capjit::verifier::verify(&m).is_ok();
        let out = std::panic::catch_unwind(|| capjit::optimizer::optimize(&m))
            .unwrap_or_else(|_| panic!("{}: the optimiser panicked", support::short(&f)));
        if valid {
            assert!(capjit::verifier::verify(&out).is_ok(), "{}", support::short(&f));
            // Attacks that run (`trap:` / `expect:`) behave the same optimised.
            if support::parse_header(&std::fs::read_to_string(&f).unwrap()).is_ok() {
                if let Err(e) = check_file(&f) {
                    panic!("{}: {e}", support::short(&f));
                }
                runs += 1;
            }
        }
        n += 1;
    }
    assert!(n > 100 && runs > 10, "{n} files, {runs} run");
}
