//! Verifier throughput: `capjit_verifier::verify` on generated two-domain modules of
//! about 1K, 10K, 100K and 1M instructions (see `modgen`).
//!
//! Run: `cargo bench --bench verify`. Each size is verified once and asserted to pass,
//! then timed: repetitions are batched so one sample lasts about 30 ms, and the
//! median of several samples is reported. Results are kept until the sample ends, so
//! freeing the `Verified` module is not counted. Both wall and CPU time are shown:
//! the machine may be shared, and CPU time (Linux schedstat) leaves out waiting for
//! other processes; rates and ratios are judged by CPU time when it is known. The
//! `clone` column is `Module::clone` alone, which `verify` includes (it returns an
//! owned copy); the timed call is `verify_owned_on(copy, 1)`: one thread, so that
//! CPU time is the verifier's whole cost (`verify` uses every core for modules of
//! 20,000 instructions or more: see the headline bench), given a copy made before
//! the sample.
//!
//! Targets: at least 20M instructions/s, and 10x the input in at most ~11x the time.

mod modgen;

use std::hint::black_box;
use std::time::Instant;

use capjit_ir::Module;

const SIZES: [usize; 4] = [1_000, 10_000, 100_000, 1_000_000];
const SAMPLE_SECS: f64 = 0.03;
const TARGET_PER_SEC: f64 = 20e6;
const TARGET_RATIO: f64 = 11.0;

/// CPU time this thread has run, from Linux's schedstat; `None` elsewhere. The
/// machine may be shared, so wall time alone can include time spent waiting.
fn cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    Some(stat.split_whitespace().next()?.parse::<f64>().ok()? / 1e9)
}

/// Median wall and CPU seconds per call of `f`, batched into samples of about
/// `SAMPLE_SECS`; each call's input comes from `setup`, made before the sample starts.
fn time<I, T>(first: f64, mut setup: impl FnMut() -> I, mut f: impl FnMut(I) -> T) -> (f64, Option<f64>) {
    let reps = ((SAMPLE_SECS / first).ceil() as usize).clamp(1, 5_000);
    let samples = if first > 0.1 { 5 } else { 9 };
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    for _ in 0..samples {
        let inputs: Vec<I> = (0..reps).map(|_| setup()).collect();
        let mut keep = Vec::with_capacity(reps);
        let (start, cpu_start) = (Instant::now(), cpu_secs());
        for input in inputs {
            keep.push(black_box(f(input)));
        }
        wall.push(start.elapsed().as_secs_f64() / reps as f64);
        if let (Some(a), Some(b)) = (cpu_start, cpu_secs()) {
            cpu.push((b - a) / reps as f64);
        }
        drop(keep);
    }
    (median(wall), (cpu.len() == samples).then(|| median(cpu)))
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn verify_or_explain(m: &Module) -> capjit_verifier::Verified<Module> {
    capjit_verifier::verify(m).unwrap_or_else(|errors| {
        let path = std::env::temp_dir().join("verify-bench-rejected.cir");
        let _ = std::fs::write(&path, capjit_ir::print_module(m));
        for e in errors.iter().take(10) {
            eprintln!("{e:?}");
        }
        panic!(
            "the generated module was rejected ({} errors); it is in {}",
            errors.len(),
            path.display()
        );
    })
}

fn human(secs: f64) -> String {
    match secs {
        s if s < 1e-3 => format!("{:.1} us", s * 1e6),
        s if s < 1.0 => format!("{:.2} ms", s * 1e3),
        s => format!("{s:.2} s"),
    }
}

fn main() {
    let started = Instant::now();
    println!("capjit_verifier::verify on generated modules (two domains, ~300-instruction functions)");
    println!("median of 5-9 samples of ~{:.0} ms each\n", SAMPLE_SECS * 1e3);
    println!(
        "{:>5} {:>9} {:>6} {:>15} {:>10} {:>10} {:>9} {:>9} {:>9} {:>7} {:>8}",
        "size",
        "instrs",
        "funcs",
        "proven/checked",
        "time",
        "cpu time",
        "instr/s",
        "(by cpu)",
        "clone",
        "x time",
        "x instrs"
    );
    let mut prev: Option<(f64, u64)> = None;
    let (mut misses, mut busy, mut by_cpu) = (Vec::new(), false, true);
    for size in SIZES {
        let m = modgen::module(size, 0x5eed_0000 + size as u64);
        let start = Instant::now();
        let verified = verify_or_explain(&m);
        let first = start.elapsed().as_secs_f64();
        let counts = verified.counts();
        drop(verified);
        assert_eq!(counts.instructions as usize, modgen::instruction_count(&m));
        let n = counts.instructions;

        // What is timed is the checking: `verify_owned` takes a module the caller
        // already owns (as `capjit run` does), so its copies are made before a sample.
        let (wall, cpu) = time(
            first,
            || m.clone(),
            |owned| capjit_verifier::verify_owned_on(black_box(owned), 1),
        );
        let (clone, _) = time(first, || (), |()| black_box(&m).clone());
        // CPU time, when known, is what the verifier itself costs; judge targets by it.
        let secs = cpu.unwrap_or(wall);
        by_cpu &= cpu.is_some();
        busy |= wall > 1.25 * secs;
        let funcs: usize = m.domains.iter().map(|d| d.functions.len()).sum();
        let label = match size {
            s if s >= 1_000_000 => format!("{}M", s / 1_000_000),
            s => format!("{}K", s / 1_000),
        };
        let (ratio, grow) = match prev {
            Some((t, p)) => (format!("{:.1}x", secs / t), format!("{:.1}x", n as f64 / p as f64)),
            None => ("-".into(), "-".into()),
        };
        println!(
            "{label:>5} {n:>9} {funcs:>6} {:>15} {:>10} {:>10} {:>7.1} M {:>7} M {:>9} {ratio:>7} {grow:>8}",
            format!("{}/{}", counts.accesses_proven, counts.accesses_checked),
            human(wall),
            cpu.map_or("-".into(), human),
            n as f64 / wall / 1e6,
            cpu.map_or("-".into(), |c| format!("{:.1}", n as f64 / c / 1e6)),
            human(clone),
        );
        if (n as f64 / secs) < TARGET_PER_SEC {
            misses.push(format!("{label}: {:.1}M instructions/s", n as f64 / secs / 1e6));
        }
        if let Some((t, p)) = prev {
            // Per-instruction cost, so that sizes not exactly 10x apart compare fairly.
            let scaled = (secs / t) / (n as f64 / p as f64) * 10.0;
            if scaled > TARGET_RATIO {
                misses.push(format!("{label}: 10x input took {scaled:.1}x the time"));
            }
        }
        prev = Some((secs, n));
    }
    let basis = if by_cpu { "CPU" } else { "wall" };
    println!("\n`x time` and the targets use {basis} time. `clone` is Module::clone alone (wall): `verify(&m)` adds it, `verify_owned(m)` does not.");
    if busy {
        println!("note: wall time exceeded CPU time by over 25%: the machine is busy, wall times are inflated");
    }
    println!(
        "targets: >= {:.0}M instructions/s; 10x input in <= ~{TARGET_RATIO:.0}x time",
        TARGET_PER_SEC / 1e6
    );
    if misses.is_empty() {
        println!("all targets met");
    } else {
        println!("below target: {}", misses.join("; "));
    }
    println!("bench took {:.1} s", started.elapsed().as_secs_f64());
}
