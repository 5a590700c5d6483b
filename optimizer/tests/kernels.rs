//! Fixed-size kernels (`tests/kernels/*.cir`: the loops of `benches/kernels/`
//! with sizes that are constants, and a histogram indexed by masks and narrow
//! loads): the optimiser must prove at least 90% of their memory accesses (it
//! proves all of them today), and the optimised kernels must return what their
//! `; expect:` header says, like the originals.

use capjit_ir::exec::Limits;
use capjit_ir::interp::Instance;
use capjit_ir::{parse_module, print_module, Module, Val};
use capjit_optimizer::{optimize_report, proven_counts, Options};

fn header(src: &str, key: &str) -> String {
    src.lines()
        .find_map(|l| l.strip_prefix(&format!("; {key}:")))
        .unwrap_or_else(|| panic!("no `; {key}:` line"))
        .trim()
        .to_string()
}

fn run(m: &Module, invoke: &str) -> Vec<Val> {
    let (d, f) = invoke.split_once('.').unwrap();
    let mut inst = Instance::new(m.clone(), Limits::default(), Box::new(std::io::sink())).unwrap();
    inst.invoke(d, f, &[]).unwrap()
}

#[test]
fn fixed_size_kernels_are_proven_and_unchanged() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/kernels");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cir"))
        .collect();
    files.sort();
    assert!(files.len() >= 3);
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let src = std::fs::read_to_string(&path).unwrap();
        let m = parse_module(&src).unwrap();
        let invoke = header(&src, "invoke");
        let expect = header(&src, "expect");
        let (o, report) = optimize_report(&m, &Options::default());
        assert_eq!(report.facts_dropped, 0, "{name}: {:?}", report.dropped_messages);
        let (before, after) = (proven_counts(&m).unwrap(), proven_counts(&o).unwrap());
        eprintln!(
            "{name}: before {} proven / {} checked; after {} proven / {} checked",
            before.0, before.1, after.0, after.1
        );
        let fraction = after.0 as f64 / (after.0 + after.1) as f64;
        assert!(fraction >= 0.9, "{name}: {fraction}\n{}", print_module(&o));
        let shown = |v: Vec<Val>| v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(" ");
        assert_eq!(shown(run(&m, &invoke)), expect, "{name}: original");
        assert_eq!(shown(run(&o, &invoke)), expect, "{name}: optimised");
    }
}
