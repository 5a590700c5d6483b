//! A domain can never take the host down: hostile programs that grab all the
//! linear memory and regions they can, run by the real `capjit` binary in a child
//! process, with a real data or address-space limit (`ulimit`, i.e. setrlimit) and
//! without one. Each run must end normally (no signal, exit 0), the hostile domains
//! with -1 or a `resource_limit` trap, the other domains still working, and the
//! budgets respected exactly.

use std::process::{Command, Output};

const PROGRAM: &str = "tests/pressure/hostile_memory.cir";
/// `TrapCode::ResourceLimit`, as the hoarder's caller receives it.
const RESOURCE_LIMIT: &str = "11";

/// `capjit run OPTIONS PROGRAM` under `ulimit FLAG KIB` when given (bash's `ulimit`
/// sets the soft and hard limit of the shell, which `exec` hands to capjit).
fn run(ulimit: Option<(&str, u64)>, options: &[&str]) -> Output {
    let exe = env!("CARGO_BIN_EXE_capjit");
    let program = format!("{}/{PROGRAM}", env!("CARGO_MANIFEST_DIR"));
    let limit = ulimit.map_or(String::new(), |(flag, kib)| format!("ulimit {flag} {kib} && "));
    Command::new("bash")
        .arg("-c")
        .arg(format!("{limit}exec \"$0\" run \"${{@:2}}\" \"$1\""))
        .arg(exe)
        .arg(program)
        .args(options)
        .output()
        .expect("bash runs")
}

/// The four results, after checking the run ended normally and the victim worked.
fn results(out: &Output, what: &str) -> Vec<i64> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what}: capjit must exit normally, not by a signal\nstdout: {stdout}\nstderr: {stderr}"
    );
    let vals: Vec<i64> = stdout.lines().map(|l| l.trim().parse().expect("a number")).collect();
    assert_eq!(vals.len(), 4, "{what}: {stdout}");
    assert_eq!(
        vals[2].to_string(),
        RESOURCE_LIMIT,
        "{what}: the hoarder traps resource_limit"
    );
    assert_eq!(vals[3], 42, "{what}: the victim keeps working");
    assert!(
        stderr.contains("domain `hoarder` is faulted: trap resource_limit"),
        "{what}: {stderr}"
    );
    vals
}

#[test]
fn the_instance_budget_is_respected_exactly_on_both_backends() {
    // 512 MiB = 8,192 pages; three domains start with one page each. hog1 grows
    // to 1 + 7 * 1,024 pages, hog2 cannot grow by 1,024 any more, and no 256 MiB
    // region fits in what is left.
    for backend in [&[][..], &["--interp"][..]] {
        let args: Vec<&str> = ["--max-instance-memory", "512MiB"]
            .iter()
            .chain(backend)
            .copied()
            .collect();
        let vals = results(&run(None, &args), &format!("budget {backend:?}"));
        assert_eq!(&vals[..2], &[7169, 1], "{backend:?}");
    }
}

#[test]
fn per_domain_limits_bite_before_the_instance_budget() {
    let args = ["--max-memory", "64MiB", "--max-domain-region-bytes", "100MiB"];
    let vals = results(&run(None, &args), "per-domain limits");
    // 64 MiB is 1,024 pages: hog1 and hog2 can each add 1,023 pages only, in no
    // step of 1,024, so both stay at one page.
    assert_eq!(&vals[..2], &[1, 1]);
}

#[test]
fn a_data_limit_the_host_cannot_exceed_becomes_minus_one_and_traps() {
    // About 400 MB of data segment for the whole process: far less than the
    // default budgets (1 GiB per memory, 4 GiB per instance) allow.
    for backend in [&[][..], &["--interp"][..]] {
        let out = run(Some(("-d", 400_000)), backend);
        let vals = results(&out, &format!("ulimit -d {backend:?}"));
        assert!((1..16384).contains(&vals[0]), "hog1 stopped by the host: {vals:?}");
        assert!((1..16384).contains(&vals[1]), "hog2 stopped by the host: {vals:?}");
    }
}

#[test]
fn an_address_space_limit_is_survived_too() {
    // 2 GB of address space: not every memory can reserve its 1 GiB maximum.
    // (JIT only: the interpreter writes every page it grows, slowly.)
    let vals = results(&run(Some(("-v", 2_000_000)), &[]), "ulimit -v");
    assert!((1..16384).contains(&vals[0]) && vals[1] < 16384, "{vals:?}");
}
