//! Verifying on several threads gives the same answer as on one: the same errors in
//! the same order, the same access proofs and counts. The module is large enough
//! (over 100,000 instructions; 20,000 are enough) for the verifier to split it.

use capjit_ir::parse_module;
use capjit_verifier::{verify_owned_on, VerifyError};

/// `funcs` functions of `len` instructions each (loads, adds and stores, half of
/// the loads proven by a fact); with `bad_every`, every so many functions use an
/// undefined value and two of another type.
fn module(funcs: usize, len: usize, bad_every: Option<usize>) -> String {
    let mut text = String::from("domain d {\n  memory 1\n");
    for f in 0..funcs {
        text.push_str(&format!("  export func f{f}(i32) -> i32 {{\n  block0(v0: i32):\n"));
        text.push_str("    v1 !range(16, 16) = iconst.i32 16\n");
        for i in 0..len {
            let v = 2 + 2 * i;
            text.push_str(&format!("    v{v} = load.i32 v1+{}\n", (i % 8) * 4));
            text.push_str(&format!("    v{} = iadd.i32 v{v}, v0\n", v + 1));
        }
        let last = 1 + 2 * len;
        if bad_every.is_some_and(|n| f % n == 0) {
            text.push_str(&format!("    v{} = iadd.i32 v{last}, v999999\n", last + 1));
            text.push_str(&format!("    v{} = iadd.i64 v{last}, v0\n", last + 2));
        }
        text.push_str(&format!("    return v{last}\n  }}\n"));
    }
    text.push_str("}\n");
    text
}

fn outcome(text: &str, threads: usize) -> Result<(Vec<Vec<bool>>, capjit_verifier::Counts), Vec<VerifyError>> {
    let m = parse_module(text).expect("parses");
    let v = verify_owned_on(m, threads)?;
    let proofs = (0..v.module().domains[0].functions.len())
        .map(|f| (0..64).map(|i| v.access_proven(0, f, 0, i)).collect())
        .collect();
    Ok((proofs, v.counts()))
}

#[test]
fn threads_do_not_change_the_answer() {
    let accepted = module(300, 200, None);
    let one = outcome(&accepted, 1).expect("verifies");
    assert!(one.1.instructions > 100_000, "{} instructions", one.1.instructions);
    assert!(one.1.accesses_proven > 0);
    for threads in [2, 3, 8] {
        assert_eq!(outcome(&accepted, threads).expect("verifies"), one, "{threads} threads");
    }
    let rejected = module(300, 200, Some(7));
    let one = outcome(&rejected, 1).expect_err("rejected");
    assert_eq!(one.len(), 3 * 300usize.div_ceil(7));
    for threads in [2, 3, 8] {
        assert_eq!(
            outcome(&rejected, threads).expect_err("rejected"),
            one,
            "{threads} threads"
        );
    }
}
