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
        stack_size: 64 << 20,
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

#[test]
fn optimized_kernels_prove_their_accesses() {
    // (file, at least this many proven after optimisation)
    let expected = [
        ("benches/kernels/sieve.cir", 3),
        ("benches/kernels/matmul.cir", 6),
        ("benches/kernels/crc32.cir", 6),
        ("benches/kernels/quicksort.cir", 2),
        ("examples/sieve.cir", 2),
    ];
    for (file, want) in expected {
        let path = support::repo_dir(file);
        let m = parse_module(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let before = counts(&m);
        let (opt, report) = optimize_report(&m, &Options::default());
        let after = counts(&opt);
        eprintln!(
            "{file}: before {} proven / {} checked; after {} proven / {} checked; versioned {:?}",
            before.0, before.1, after.0, after.1, report.versioned
        );
        assert!(after.0 >= want, "{file}: only {} proven", after.0);
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
