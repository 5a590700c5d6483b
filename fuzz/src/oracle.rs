//! What `verify_structured` asserts about a generated module.
//!
//! - `verify` never panics and is deterministic (two runs, same outcome);
//! - the binary codec round-trips the module, and a verified module also
//!   round-trips through its text form;
//! - a verified module never looks malformed to the reference interpreter
//!   (`RunError::Invalid` would be a verifier hole), its exported functions return
//!   values of their signature's types, and no access the verifier proved in bounds
//!   ever traps with `out_of_bounds`.

use capjit_ir::interp::{Instance, Limits, RunError, TrapInfo};
use capjit_ir::{codec, parse_module, print_module, Module, TrapCode, Type, Val};
use capjit_verifier::{verify, Verified, VerifyError};

use crate::strip_spans;

/// Small limits: a generated loop or recursion ends quickly, memory and regions stay small.
pub fn limits() -> Limits {
    Limits {
        fuel: 3_000,
        max_call_depth: 32,
        max_memory_pages: 8,
        max_table_entries: 1 << 16,
        max_region_bytes: 1 << 16,
        max_domain_regions: 24,
        max_domain_region_bytes: 1 << 17,
        max_regions: 32,
        max_instance_bytes: 4 << 20,
    }
}

/// Invocations per module at most.
const MAX_INVOKES: usize = 4;

/// Every check on one module. Returns whether it verified.
pub fn check(m: &Module) -> bool {
    let first = verify(m);
    let second = verify(m);
    assert!(
        same_outcome(m, &first, &second),
        "verify is not deterministic on\n{}",
        print_module(m)
    );

    let bytes = codec::encode(m);
    match codec::decode(&bytes) {
        Ok(back) => assert_eq!(&back, m, "decode(encode(m)) != m"),
        Err(e) => panic!("decode(encode(m)) fails: {e}"),
    }

    let Ok(verified) = first else {
        return false;
    };

    let text = print_module(m);
    match parse_module(&text) {
        Ok(mut back) => {
            strip_spans(&mut back);
            assert_eq!(&back, m, "parse(print(m)) != m for\n{text}");
        }
        Err(e) => panic!("the printed form of a verified module does not parse: {e:?}\n{text}"),
    }

    run(&verified);
    true
}

/// Same errors, or same counts and the same access proofs everywhere.
fn same_outcome(m: &Module, a: &VerifyResult, b: &VerifyResult) -> bool {
    match (a, b) {
        (Err(x), Err(y)) => x == y,
        (Ok(x), Ok(y)) => {
            x.counts() == y.counts()
                && m.domains.iter().enumerate().all(|(d, dom)| {
                    dom.functions.iter().enumerate().all(|(f, func)| {
                        func.blocks.iter().enumerate().all(|(b, block)| {
                            (0..block.insts.len()).all(|i| x.access_proven(d, f, b, i) == y.access_proven(d, f, b, i))
                        })
                    })
                })
        }
        _ => false,
    }
}

type VerifyResult = Result<Verified<Module>, Vec<VerifyError>>;

/// Default arguments for a host call, if every parameter has one.
fn default_args(params: &[Type]) -> Option<Vec<Val>> {
    params
        .iter()
        .map(|t| match t {
            Type::I32 => Some(Val::I32(0)),
            Type::I64 => Some(Val::I64(0)),
            Type::F32 => Some(Val::F32(0)),
            Type::F64 => Some(Val::F64(0)),
            Type::Buf => Some(Val::Buf { ptr: 0, len: 0 }),
            Type::FuncRef => Some(Val::FuncRef(None)),
            Type::ExternRef => Some(Val::ExternRef(Some(7))),
            Type::Region | Type::Cap(_) => None,
        })
        .collect()
}

/// Run exported functions of a verified module in the interpreter.
pub fn run(verified: &Verified<Module>) {
    let m = verified.module();
    let Ok(mut inst) = Instance::new(m.clone(), limits(), Box::new(std::io::sink())) else {
        // Host imports are bound (and may be refused) only at link time.
        return;
    };
    let mut invokes = 0;
    for d in &m.domains {
        for f in d.functions.iter().filter(|f| f.exported) {
            if invokes == MAX_INVOKES {
                return;
            }
            let Some(args) = default_args(&f.sig.params) else {
                continue;
            };
            invokes += 1;
            let result = inst.invoke(&d.name, &f.name, &args);
            let mut traps: Vec<TrapInfo> = inst.faults();
            match &result {
                Err(RunError::Invalid(msg)) => panic!(
                    "VERIFIER HOLE: the interpreter finds a verified program invalid: {msg}\n\
                     while running {}.{}\n{}",
                    d.name,
                    f.name,
                    print_module(m)
                ),
                Err(RunError::Trap(t)) => traps.push(t.clone()),
                Ok(vals) => {
                    let typed = vals.len() == f.sig.results.len()
                        && vals.iter().zip(&f.sig.results).all(|(v, t)| v.has_type(t));
                    assert!(
                        typed,
                        "{}.{} returned {vals:?}, its signature is {}\n{}",
                        d.name,
                        f.name,
                        f.sig,
                        print_module(m)
                    );
                }
                Err(_) => {}
            }
            for t in &traps {
                check_trap(verified, t);
            }
            for d in &m.domains {
                // Restart faulted domains so later invocations run code again.
                let _ = inst.restart(&d.name);
            }
        }
    }
}

/// A trap at a memory access the verifier proved in bounds is a verifier hole.
fn check_trap(verified: &Verified<Module>, t: &TrapInfo) {
    if t.code != TrapCode::OutOfBounds {
        return;
    }
    let Some(i) = t.inst else { return };
    let m = verified.module();
    let Some(d) = m.domains.iter().position(|d| d.name == t.domain) else {
        return;
    };
    let Some(f) = m.domains[d].functions.iter().position(|f| f.name == t.function) else {
        return;
    };
    assert!(
        !verified.access_proven(d, f, t.block as usize, i as usize),
        "VERIFIER HOLE: an access proven in bounds trapped: {t}\n{}",
        print_module(m)
    );
}
