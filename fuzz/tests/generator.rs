//! The structured generator stays useful: on random input most modules get deep
//! into the verifier, a good share verifies, and the oracle holds on all of them.
//! `cargo test --release -- --nocapture` (in fuzz/) prints the error kinds seen.

use std::collections::BTreeMap;

use capjit_fuzz::{gen, oracle};
use capjit_testgen::ByteChoices;

/// A small deterministic byte source (xorshift), so the test needs no dependency.
fn bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn a_good_share_of_generated_modules_verifies() {
    let total = 2000;
    let mut verified = 0;
    let (mut proven, mut checked) = (0, 0);
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for seed in 0..total {
        let data = bytes(seed, 4096);
        let m = gen::module(&mut ByteChoices::new(&data));
        let t = std::time::Instant::now();
        let ok = oracle::check(&m);
        let dt = t.elapsed();
        if std::env::var_os("SLOW").is_some() && dt.as_millis() > 5 {
            println!("slow: {dt:?}\n{}", capjit_ir::print_module(&m));
        }
        if ok {
            verified += 1;
            let counts = capjit_verifier::verify(&m).expect("verified").counts();
            proven += counts.accesses_proven;
            checked += counts.accesses_checked;
        } else if let Err(errors) = capjit_verifier::verify(&m) {
            let first = format!("{:?}", errors[0].kind);
            let name: String = first.chars().take_while(|c| c.is_alphanumeric()).collect();
            let n = kinds.entry(name).or_default();
            *n += 1;
            if std::env::var_os("SHOW").is_some() && *n <= 8 {
                println!("{}", errors[0]);
            }
        }
    }
    println!("verified {verified} of {total} ({proven} accesses proven in bounds, {checked} checked)");
    println!("first error kinds of the others: {kinds:#?}");
    assert!(verified * 5 >= total, "only {verified} of {total} modules verify");
    assert!(
        proven * 10 >= checked,
        "only {proven} of {} accesses proven",
        proven + checked
    );
}
