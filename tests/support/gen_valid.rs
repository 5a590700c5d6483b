//! A generator of random VALID capjit programs, and the differential runner that
//! checks the JIT against the reference interpreter on them.
//!
//! Used by `tests/differential.rs` (driven by proptest) and by the fuzz target
//! `fuzz/fuzz_targets/jit_vs_interp.rs` (driven by libFuzzer bytes): the generator
//! takes every decision from a choice source `FnMut(n) -> u32` that answers a
//! number below `n` (answers out of range are reduced modulo `n`). A source that
//! answers 0 everywhere yields the smallest program, so shrinking the choices
//! shrinks the program.
//!
//! The choice helpers, the operation tables and the function builder (blocks,
//! fresh values, the scope operands are picked from) are `capjit_testgen`'s,
//! shared with the fuzz generator and the benches' module; what is here is what
//! makes these programs valid and interesting to run.
//!
//! Programs are built directly as `capjit_ir::Module` values and always pass the
//! verifier (`generate` asserts it: an invalid program is a generator bug). They
//! have one or two domains (`app`, optional `svc`), functions with parameters and
//! results of every type, arithmetic of every type including the trapping
//! operations on edge values, loads and stores of every width in and out of
//! bounds (proven and checked), memory size/grow/copy/fill, loops bounded by fuel,
//! direct calls (recursion bounded by the call depth), `br_table`, `call_cap`
//! between domains and to the host (print, restart) with buffers copied into
//! inboxes and regions transferred, region operations and explicit traps, globals
//! of every type (read, written, reset by restarts) and `call_indirect` through
//! each domain's table (good entries, and sometimes out of range, empty or of
//! another signature).
#![allow(dead_code)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use capjit::{Backend, Config, Instance};
use capjit_ir::exec::{DomainStatus, IdcEvent, Limits, RunError, TrapInfo};
use capjit_ir::{
    BinOp, Const, ConvOp, DataSegment, Domain, ElemSegment, Fact, Function, Global, Import, ImportSource, Inbox, IntCC,
    MemAccess, Memory, Module, NumType, Op, RefType, RegionHandle, Signature, Table, Terminator, Type, UnOp, Val,
    Value, PAGE_SIZE,
};
use capjit_testgen::ops::{
    region_transfer, CONVERSIONS, FLOAT_BINOPS, FLOAT_CCS, FLOAT_UNOPS, INT_BINOPS, INT_UNOPS, LOADS,
    NUM_TYPES as NUMS, STORES,
};
use capjit_testgen::{edge, Choices as _, FnBuilder, FnChoices, Reuse, Scoping};

// ---- interesting constants ---------------------------------------------------

const I32S: &[i32] = &[
    0,
    1,
    -1,
    2,
    3,
    7,
    8,
    16,
    31,
    32,
    33,
    63,
    64,
    100,
    127,
    128,
    255,
    256,
    -128,
    0x7fff,
    0x8000,
    0xffff,
    0x1_0000,
    0xfff8,
    0xfffc,
    0x2_0000,
    i32::MIN,
    i32::MAX,
    i32::MIN + 1,
    i32::MAX - 1,
    -8,
    -4096,
    0x7fff_fff8,
    0x0100_0000,
    0x0100_0001,
];

const I64S: &[i64] = &[
    0,
    1,
    -1,
    2,
    3,
    8,
    31,
    32,
    33,
    63,
    64,
    65,
    255,
    0xffff,
    0x1_0000,
    u32::MAX as i64,
    1 << 32,
    (1 << 32) + 1,
    i32::MIN as i64,
    i32::MAX as i64,
    i64::MIN,
    i64::MAX,
    i64::MIN + 1,
    i64::MAX - 1,
    1 << 53,
    (1 << 53) + 1,
    i64::MAX - 1023,
    -(1 << 53) - 1,
    0x0123_4567_89ab_cdef,
];

const F32S: &[u32] = &[
    0x0000_0000, // 0.0
    0x8000_0000, // -0.0
    0x3f80_0000, // 1.0
    0xbf80_0000, // -1.0
    0x3f00_0000, // 0.5
    0xbf00_0000, // -0.5
    0x3fc0_0000, // 1.5
    0x4020_0000, // 2.5
    0xc020_0000, // -2.5
    0x4060_0000, // 3.5
    0x3eff_ffff, // 0.49999997
    0xbf66_6666, // -0.9
    0x7fc0_0000, // canonical NaN
    0xffc0_0000, // negative quiet NaN
    0x7fa0_0001, // signalling NaN with payload
    0x7fc0_0001, // quiet NaN with payload
    0xff80_0001, // negative signalling NaN
    0x7f80_0000, // inf
    0xff80_0000, // -inf
    0x0000_0001, // smallest subnormal
    0x007f_ffff, // largest subnormal
    0x8000_0001, // negative subnormal
    0x0080_0000, // MIN_POSITIVE
    0x7f7f_ffff, // MAX
    0xff7f_ffff, // MIN
    0x4f00_0000, // 2^31
    0xcf00_0000, // -2^31
    0x4eff_ffff, // largest below 2^31
    0x4f80_0000, // 2^32
    0x4f7f_ffff, // largest below 2^32
    0x5f00_0000, // 2^63
    0xdf00_0000, // -2^63
    0x5eff_ffff, // largest below 2^63
    0x5f80_0000, // 2^64
    0x5f7f_ffff, // largest below 2^64
    0x4b80_0001, // 2^24 + 2
    0x4b00_0000, // 2^23
];

const F64S: &[u64] = &[
    0x0000_0000_0000_0000, // 0.0
    0x8000_0000_0000_0000, // -0.0
    0x3ff0_0000_0000_0000, // 1.0
    0xbff0_0000_0000_0000, // -1.0
    0x3fe0_0000_0000_0000, // 0.5
    0xbfe0_0000_0000_0000, // -0.5
    0x3ff8_0000_0000_0000, // 1.5
    0x4004_0000_0000_0000, // 2.5
    0xc004_0000_0000_0000, // -2.5
    0x3fdf_ffff_ffff_ffff, // 0.49999999999999994
    0x7ff8_0000_0000_0000, // canonical NaN
    0xfff8_0000_0000_0000, // negative quiet NaN
    0x7ff0_0000_0000_0001, // signalling NaN
    0x7ff8_0000_0000_0001, // quiet NaN with payload
    0xfff0_0000_dead_beef, // negative signalling NaN with payload
    0x7ff0_0000_0000_0000, // inf
    0xfff0_0000_0000_0000, // -inf
    0x0000_0000_0000_0001, // smallest subnormal
    0x000f_ffff_ffff_ffff, // largest subnormal
    0x8000_0000_0000_0001, // negative subnormal
    0x0010_0000_0000_0000, // MIN_POSITIVE
    0x7fef_ffff_ffff_ffff, // MAX
    0xffef_ffff_ffff_ffff, // MIN
    0x41df_ffff_ffc0_0000, // 2147483647.0
    0x41df_ffff_fff9_999a, // 2147483647.9
    0x41e0_0000_0000_0000, // 2^31
    0xc1e0_0000_0000_0000, // -2^31
    0xc1e0_0000_001c_cccd, // -2147483648.9
    0xc1e0_0000_0020_0000, // -2147483649.0
    0x41ef_ffff_ffe0_0000, // 4294967295.0
    0x41ef_ffff_fffc_cccd, // 4294967295.9
    0x41f0_0000_0000_0000, // 2^32
    0xbfec_cccc_cccc_cccd, // -0.9
    0xbfef_ffff_ffff_ffff, // -0.9999999999999999
    0x43e0_0000_0000_0000, // 2^63
    0x43df_ffff_ffff_ffff, // largest below 2^63
    0xc3e0_0000_0000_0000, // -2^63
    0xc3e0_0000_0000_0001, // -9223372036854777856
    0x43f0_0000_0000_0000, // 2^64
    0x43ef_ffff_ffff_ffff, // largest below 2^64
    0x7e37_e43c_8800_759c, // 1e300
    0x01a5_6e1f_c2f8_f359, // 1e-300
    0x47ef_ffff_e000_0000, // f32::MAX
    0x47ef_ffff_f000_0000, // f32::MAX and a half ulp (demotes to inf)
    0x36a0_0000_0000_0000, // smallest f32 subnormal
    0x3690_0000_0000_0000, // half of it (demote rounds to even: 0)
    0x3698_0000_0000_0000, // three quarters of it (demote rounds up)
    0x4340_0000_0000_0001, // 2^53 + 2
];

// ---- the generated case --------------------------------------------------------

/// Limits every generated case starts from.
pub const BASE_LIMITS: Limits = Limits {
    fuel: 2000,
    max_call_depth: 64,
    max_memory_pages: 4,
    max_table_entries: 1 << 20,
    max_region_bytes: 4096,
    // Per-domain region budgets below the instance's, so both bite in some cases.
    max_domain_regions: 10,
    max_domain_region_bytes: 3 * 4096,
    max_regions: 16,
    max_instance_bytes: 2 << 20,
};

/// How many times the host calls the entry function (state carries over).
pub const INVOCATIONS: usize = 2;

/// A program and how to run it.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    pub module: Module,
    /// The entry is always the exported `main` of domain `app`.
    pub args: Vec<Val>,
    pub limits: Limits,
    /// What the host does between the invocations.
    pub between: HostAction,
}

/// A host API call between two invocations of the entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostAction {
    Nothing,
    /// Restart every faulted domain.
    RestartFaulted,
    /// Kill a domain.
    Kill(String),
    /// Revoke the capability bound to an import: (domain, import).
    Revoke(String, String),
}

impl std::fmt::Display for HostAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostAction::Nothing => write!(f, "nothing"),
            HostAction::RestartFaulted => write!(f, "restart-faulted"),
            HostAction::Kill(d) => write!(f, "kill {d}"),
            HostAction::Revoke(d, i) => write!(f, "revoke {d} {i}"),
        }
    }
}

impl std::str::FromStr for HostAction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let words: Vec<&str> = s.split_whitespace().collect();
        Ok(match words[..] {
            ["nothing"] => HostAction::Nothing,
            ["restart-faulted"] => HostAction::RestartFaulted,
            ["kill", d] => HostAction::Kill(d.into()),
            ["revoke", d, i] => HostAction::Revoke(d.into(), i.into()),
            _ => return Err(format!("bad host action `{s}`")),
        })
    }
}

pub const ENTRY_DOMAIN: &str = "app";
pub const ENTRY_FUNCTION: &str = "main";

/// Generate a valid program from the choices of `choose` (see the module doc).
pub fn generate(choose: &mut dyn FnMut(u32) -> u32) -> Case {
    let mut c = FnChoices::new(choose);
    let case = generate_with(&mut c);
    if let Err(errors) = capjit_verifier::verify(&case.module) {
        let msgs: Vec<String> = errors.iter().take(10).map(|e| e.to_string()).collect();
        panic!(
            "generator bug: the generated program does not verify:\n{}\n\n{}",
            msgs.join("\n"),
            capjit_ir::print_module(&case.module)
        );
    }
    case
}

/// Which kind of capability an import is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ImpKind {
    Host,
    Restart,
    Export,
}

#[derive(Clone, Debug)]
struct ImpInfo {
    sig: Signature,
    kind: ImpKind,
}

#[derive(Clone, Debug)]
struct FnInfo {
    name: String,
    sig: Signature,
    exported: bool,
}

/// What a function body generator needs to know about its domain.
#[derive(Clone, Debug)]
struct DomInfo {
    name: String,
    initial_bytes: u64,
    funcs: Vec<FnInfo>,
    imports: Vec<ImpInfo>,
    /// Index of `main` (only in `app`).
    main: Option<usize>,
    globals: Vec<Global>,
    /// The function table: a function index per entry, never `main`.
    table: Vec<Option<u32>>,
    /// All the domain's tables ([`domain_tables`]) and its passive element segment.
    tables: Vec<Table>,
    elems: Vec<ElemSegment>,
}

/// Whether a signature holds numbers only (what `call_indirect` may use).
fn numeric(sig: &Signature) -> bool {
    sig.params
        .iter()
        .chain(&sig.results)
        .all(|t| matches!(t, Type::I32 | Type::I64 | Type::F32 | Type::F64))
}

/// A few globals of random types, mostly mutable, with interesting initial values.
fn random_globals(c: &mut FnChoices) -> Vec<Global> {
    (0..c.below(5))
        .map(|i| {
            let ty = c.pick(&NUMS);
            let init = interesting(c, &Type::from(ty), 15);
            Global {
                name: format!("gl{i}"),
                ty,
                mutable: !c.chance(25),
                init,
                span: None,
            }
        })
        .collect()
}

/// A function table over the functions other than `main`, some entries empty.
fn random_table(c: &mut FnChoices, funcs: &[FnInfo], main: Option<usize>) -> Vec<Option<u32>> {
    let callees: Vec<u32> = (0..funcs.len())
        .filter(|f| Some(*f) != main)
        .map(|f| f as u32)
        .collect();
    (0..c.below(7))
        .map(|_| {
            if callees.is_empty() || c.chance(15) {
                None
            } else {
                Some(c.pick(&callees))
            }
        })
        .collect()
}

fn random_num_type(c: &mut FnChoices) -> Type {
    Type::from(c.pick(&NUMS))
}

/// A parameter or result type of a function: mostly numbers, sometimes data.
fn random_value_type(c: &mut FnChoices) -> Type {
    match c.weighted(&[80, 10, 10]) {
        0 => random_num_type(c),
        1 => Type::Buf,
        _ => Type::Region,
    }
}

fn random_sig(c: &mut FnChoices, max_params: u32, max_results: u32, data: bool) -> Signature {
    // Sometimes many parameters: more than the registers that pass them.
    let max_params = if c.chance(10) { 10 } else { max_params };
    let np = c.below(max_params + 1);
    let nr = c.below(max_results + 1);
    let ty = |c: &mut FnChoices| if data { random_value_type(c) } else { random_num_type(c) };
    Signature {
        params: (0..np).map(|_| ty(c)).collect(),
        results: (0..nr).map(|_| ty(c)).collect(),
    }
}

fn random_memory(c: &mut FnChoices, limits: &Limits) -> Memory {
    let initial = c.pick(&[1, 1, 1, 2, 0]);
    let maximum = initial + c.below(4);
    let _ = limits;
    Memory { initial, maximum }
}

fn random_inbox(c: &mut FnChoices, mem: Memory) -> Option<Inbox> {
    let bytes = mem.initial as u64 * PAGE_SIZE;
    if bytes == 0 || c.chance(20) {
        return None;
    }
    let size = c.pick(&[64u32, 256, 16, 8, 0, 1024]);
    let offset = c.pick(&[1024u32, 0, 4096, (bytes - size as u64) as u32]);
    Some(Inbox { offset, size })
}

fn random_data(c: &mut FnChoices, mem: Memory) -> Vec<DataSegment> {
    let bytes = mem.initial as u64 * PAGE_SIZE;
    let n = if bytes == 0 { 0 } else { c.below(4) };
    (0..n)
        .map(|_| {
            let len = c.below(24) as u64;
            let offset = match c.below(3) {
                0 => c.below(512) as u64,
                1 => bytes - len,
                _ => c.below((bytes - len) as u32 + 1) as u64,
            };
            let data = (0..len).map(|_| c.below(256) as u8).collect();
            DataSegment {
                offset: offset as u32,
                bytes: data,
            }
        })
        .collect()
}

const HOST_IMPORTS: [(&str, NumType); 3] = [
    ("print_i32", NumType::I32),
    ("print_i64", NumType::I64),
    ("print_f64", NumType::F64),
];

fn host_imports(imports: &mut Vec<Import>) {
    for (name, t) in HOST_IMPORTS {
        imports.push(Import {
            name: name.into(),
            source: ImportSource::Host { function: name.into() },
            sig: Signature {
                params: vec![Type::from(t)],
                results: vec![],
            },
            span: None,
        });
    }
    imports.push(Import {
        name: "print".into(),
        source: ImportSource::Host {
            function: "print".into(),
        },
        sig: Signature {
            params: vec![Type::Buf],
            results: vec![],
        },
        span: None,
    });
}

fn generate_with(c: &mut FnChoices) -> Case {
    let mut limits = BASE_LIMITS;
    limits.fuel = c.pick(&[2000, 2000, 2000, 300, 40]);
    limits.max_call_depth = c.pick(&[64, 64, 64, 12, 3]);
    if c.chance(10) {
        limits.max_memory_pages = 2;
    }
    if c.chance(10) {
        limits.max_regions = 2;
    }
    if c.chance(10) {
        // Every domain's initial memory (at most 2 pages each) still fits; grows
        // and regions run into the instance's budget.
        limits.max_instance_bytes = 7 * PAGE_SIZE;
    }

    let with_svc = c.chance(75);

    // Signatures first: bodies call each other through them.
    let app_mem = random_memory(c, &limits);
    let main_sig = random_sig(c, 4, 4, false);
    let main_sig = Signature {
        params: main_sig.params,
        results: if main_sig.results.is_empty() {
            vec![Type::I32]
        } else {
            main_sig.results
        },
    };
    let mut app_funcs = vec![FnInfo {
        name: ENTRY_FUNCTION.into(),
        sig: main_sig,
        exported: true,
    }];
    for i in 1..=c.below(4) {
        app_funcs.push(FnInfo {
            name: format!("f{i}"),
            sig: random_sig(c, 4, 3, true),
            exported: with_svc && c.chance(30),
        });
    }
    let svc_mem = random_memory(c, &limits);
    let mut svc_funcs = Vec::new();
    if with_svc {
        for i in 0..=c.below(3) {
            svc_funcs.push(FnInfo {
                name: format!("g{i}"),
                sig: random_sig(c, 4, 3, true),
                exported: i == 0 || c.chance(70),
            });
        }
    }

    // Imports.
    let mut app_imports = Vec::new();
    host_imports(&mut app_imports);
    let mut app_kinds = vec![ImpKind::Host; app_imports.len()];
    for f in svc_funcs.iter().filter(|f| f.exported) {
        app_imports.push(Import {
            name: format!("svc_{}", f.name),
            source: ImportSource::Export {
                domain: "svc".into(),
                function: f.name.clone(),
            },
            sig: f.sig.clone(),
            span: None,
        });
        app_kinds.push(ImpKind::Export);
    }
    if with_svc {
        app_imports.push(Import {
            name: "restart_svc".into(),
            source: ImportSource::Restart { domain: "svc".into() },
            sig: Signature::default(),
            span: None,
        });
        app_kinds.push(ImpKind::Restart);
    }
    if c.chance(10) {
        app_imports.push(Import {
            name: "restart_app".into(),
            source: ImportSource::Restart { domain: "app".into() },
            sig: Signature::default(),
            span: None,
        });
        app_kinds.push(ImpKind::Restart);
    }
    let mut svc_imports = Vec::new();
    let mut svc_kinds = Vec::new();
    if with_svc {
        host_imports(&mut svc_imports);
        svc_kinds = vec![ImpKind::Host; svc_imports.len()];
        for f in app_funcs.iter().filter(|f| f.exported && f.name != ENTRY_FUNCTION) {
            svc_imports.push(Import {
                name: format!("app_{}", f.name),
                source: ImportSource::Export {
                    domain: "app".into(),
                    function: f.name.clone(),
                },
                sig: f.sig.clone(),
                span: None,
            });
            svc_kinds.push(ImpKind::Export);
        }
    }

    let app_globals = random_globals(c);
    let app_table = random_table(c, &app_funcs, Some(0));
    let app_refs = domain_tables(c, &app_funcs, &app_table);
    let svc_globals = random_globals(c);
    let svc_table = random_table(c, &svc_funcs, None);
    let svc_refs = domain_tables(c, &svc_funcs, &svc_table);
    let info = |name: &str,
                mem: Memory,
                funcs: &[FnInfo],
                imports: &[Import],
                kinds: &[ImpKind],
                main,
                globals: &[Global],
                table: &[Option<u32>],
                refs: &(Vec<Table>, Vec<ElemSegment>)| DomInfo {
        name: name.into(),
        initial_bytes: mem.initial as u64 * PAGE_SIZE,
        funcs: funcs.to_vec(),
        imports: imports
            .iter()
            .zip(kinds)
            .map(|(i, k)| ImpInfo {
                sig: i.sig.clone(),
                kind: *k,
            })
            .collect(),
        main,
        globals: globals.to_vec(),
        table: table.to_vec(),
        tables: refs.0.clone(),
        elems: refs.1.clone(),
    };
    let app_info = info(
        "app",
        app_mem,
        &app_funcs,
        &app_imports,
        &app_kinds,
        Some(0),
        &app_globals,
        &app_table,
        &app_refs,
    );
    let svc_info = info(
        "svc",
        svc_mem,
        &svc_funcs,
        &svc_imports,
        &svc_kinds,
        None,
        &svc_globals,
        &svc_table,
        &svc_refs,
    );

    let mut domains = Vec::new();
    let app_inbox = random_inbox(c, app_mem);
    let app_data = random_data(c, app_mem);
    let functions = (0..app_funcs.len())
        .map(|f| FnGen::new(c, &app_info, &limits, f).function())
        .collect();
    domains.push(Domain {
        name: "app".into(),
        memory: app_mem,
        inbox: app_inbox,
        data: app_data,
        passive_data: vec![],
        imports: app_imports,
        globals: app_globals,
        tables: app_info.tables.clone(),
        passive_elems: app_info.elems.clone(),
        functions,
        span: None,
    });
    if with_svc {
        let inbox = random_inbox(c, svc_mem);
        let data = random_data(c, svc_mem);
        let functions = (0..svc_funcs.len())
            .map(|f| FnGen::new(c, &svc_info, &limits, f).function())
            .collect();
        let svc = Domain {
            name: "svc".into(),
            memory: svc_mem,
            inbox,
            data,
            passive_data: vec![],
            imports: svc_imports,
            globals: svc_globals,
            tables: svc_info.tables.clone(),
            passive_elems: svc_info.elems.clone(),
            functions,
            span: None,
        };
        // Either order: domain indices must not matter.
        if c.chance(30) {
            domains.insert(0, svc);
        } else {
            domains.push(svc);
        }
    }
    let args = app_funcs[0].sig.params.iter().map(|t| random_val(c, t)).collect();
    let module = Module { domains };
    let between = match c.weighted(&[70, 15, 5, 10]) {
        0 => HostAction::Nothing,
        1 => HostAction::RestartFaulted,
        2 => HostAction::Kill(c.pick(&module.domains).name),
        _ => {
            let d = c.pick(&module.domains);
            if d.imports.is_empty() {
                HostAction::Nothing
            } else {
                HostAction::Revoke(d.name.clone(), c.pick(&d.imports).name)
            }
        }
    };
    Case {
        module,
        args,
        limits,
        between,
    }
}

fn random_val(c: &mut FnChoices, t: &Type) -> Val {
    match interesting(c, t, 15) {
        Const::I32(x) => Val::I32(x),
        Const::I64(x) => Val::I64(x),
        Const::F32(b) => Val::F32(b),
        Const::F64(b) => Val::F64(b),
    }
}

/// An interesting constant of a numeric type, or random bits `fresh_pct`
/// percent of the time.
fn interesting(c: &mut FnChoices, t: &Type, fresh_pct: u32) -> Const {
    let fresh = c.chance(fresh_pct);
    match t {
        Type::I32 => Const::I32(if fresh { c.bits32() as i32 } else { c.pick(I32S) }),
        Type::I64 => Const::I64(if fresh { c.bits64() as i64 } else { c.pick(I64S) }),
        Type::F32 => Const::F32(if fresh { c.bits32() } else { c.pick(F32S) }),
        Type::F64 => Const::F64(if fresh { c.bits64() } else { c.pick(F64S) }),
        other => panic!("generator bug: no constant of type {other}"),
    }
}

// ---- function bodies -------------------------------------------------------------

/// Most nesting of structured statements.
const MAX_NEST: u32 = 3;

struct FnGen<'g, 'c> {
    c: &'g mut FnChoices<'c>,
    dom: &'g DomInfo,
    limits: &'g Limits,
    func: usize,
    sig: Signature,
    /// The body; its scope holds the values usable at the current point (defined
    /// in a dominating position), capabilities excepted.
    b: FnBuilder,
    loop_depth: u32,
    nest: u32,
    /// Statements left for this function.
    budget: u32,
    /// Percent of the choices that may trap (bad addresses, divisors, ...) that
    /// are taken: a low risk lets programs run long, a high one traps early.
    risk: u32,
    /// Regions freed or transferred away: used again only when risky.
    dead: Vec<Value>,
    /// Values stored for observation so far.
    observed: u64,
}

/// Where functions store values for the final memory comparison to see: four
/// areas (by function index) of `OBSERVE_SLOTS` 8-byte slots.
const OBSERVE_BASE: u64 = 2048;
const OBSERVE_SLOTS: u64 = 32;

/// How `val` reuses a value in scope: most of the time, often one of the latest
/// (expressions chain and results get used).
const REUSE: Reuse = Reuse {
    make_pct: 15,
    recent_pct: 50,
    window: 4,
};

impl<'g, 'c> FnGen<'g, 'c> {
    fn new(c: &'g mut FnChoices<'c>, dom: &'g DomInfo, limits: &'g Limits, func: usize) -> Self {
        let sig = dom.funcs[func].sig.clone();
        let budget = if dom.main == Some(func) {
            4 + c.below(40)
        } else {
            c.below(25)
        };
        let risk = [2, 10, 30, 60][c.weighted(&[45, 30, 15, 10])];
        FnGen {
            c,
            dom,
            limits,
            func,
            sig,
            b: FnBuilder::new(Scoping::Defined),
            loop_depth: 0,
            nest: 0,
            budget,
            risk,
            dead: Vec::new(),
            observed: 0,
        }
    }

    /// Whether to take a choice that may trap.
    fn risky(&mut self) -> bool {
        self.c.chance(self.risk)
    }

    fn is_main(&self) -> bool {
        self.dom.main == Some(self.func)
    }

    // ---- building blocks (`capjit_testgen::FnBuilder`) ------------------------------

    fn new_block(&mut self, tys: &[Type]) -> (usize, Vec<Value>) {
        self.b.block(tys)
    }

    fn switch_to(&mut self, b: usize) {
        self.b.switch_to(b);
    }

    fn terminate(&mut self, t: Terminator) {
        self.b.terminate(t);
    }

    fn emit(&mut self, op: Op, tys: &[Type]) -> Vec<Value> {
        self.b.emit(op, tys, None)
    }

    fn emit1(&mut self, op: Op, ty: Type) -> Value {
        self.emit(op, &[ty])[0]
    }

    fn emit0(&mut self, op: Op) {
        self.emit(op, &[]);
    }

    fn finish(self) -> Function {
        let info = &self.dom.funcs[self.func];
        self.b.finish(info.name.clone(), info.exported, self.sig)
    }

    // ---- values ------------------------------------------------------------------------

    /// A value of type `t`: one already usable here, or a new one.
    fn val(&mut self, t: &Type) -> Value {
        let with_dead = !self.dead.is_empty() && self.risky();
        let cands: Vec<Value> = self
            .b
            .in_scope(t)
            .filter(|v| with_dead || !self.dead.contains(v))
            .collect();
        match REUSE.pick(self.c, &cands) {
            Some(v) => v,
            None => self.make(t),
        }
    }

    fn make(&mut self, t: &Type) -> Value {
        match t {
            Type::I32 | Type::I64 | Type::F32 | Type::F64 => self.konst(t),
            Type::FuncRef if self.c.chance(75) => {
                let func = self.c.below(self.dom.funcs.len() as u32);
                self.emit1(Op::RefFunc { func }, Type::FuncRef)
            }
            Type::FuncRef => self.emit1(Op::RefNull { ty: RefType::Func }, Type::FuncRef),
            Type::ExternRef => self.emit1(Op::RefNull { ty: RefType::Extern }, Type::ExternRef),
            Type::Region => {
                let len = if self.risky() {
                    self.c.pick(&[0, 1, 8])
                } else {
                    self.c.pick(&[16, 64, 32])
                };
                let len = self.iconst(len);
                self.emit1(Op::RegionNew { len }, Type::Region)
            }
            Type::Buf => {
                let (p, n) = self.buf_range();
                let ptr = self.iconst(p as i32);
                let len = self.iconst(n as i32);
                self.emit1(Op::BufMake { ptr, len }, Type::Buf)
            }
            Type::Cap(_) => panic!("generator bug: capabilities are not made by `make`"),
        }
    }

    /// A (pointer, length) for a buffer, usually inside the initial memory.
    fn buf_range(&mut self) -> (u32, u32) {
        let mem = self.dom.initial_bytes;
        if !self.risky() {
            return (self.c.below(256), self.c.below(40));
        }
        match self.c.weighted(&[70, 10, 10, 10]) {
            0 => (self.c.below(256), self.c.below(40)),
            1 => {
                let n = self.c.below(16);
                ((mem as u32).wrapping_sub(n), n + self.c.below(2))
            }
            2 => (self.c.below(64), self.c.pick(&[0, 300, 1024, 4096, 70000])),
            _ => (self.c.bits32(), self.c.below(8)),
        }
    }

    fn iconst(&mut self, x: i32) -> Value {
        self.emit1(Op::Const(Const::I32(x)), Type::I32)
    }

    fn iconst_pick(&mut self, xs: &[i32]) -> Value {
        let x = self.c.pick(xs);
        self.iconst(x)
    }

    fn iconst_below(&mut self, n: u32) -> Value {
        let x = self.c.below(n);
        self.iconst(x as i32)
    }

    fn iconst64(&mut self, x: i64) -> Value {
        self.emit1(Op::Const(Const::I64(x)), Type::I64)
    }

    /// An interesting constant (or random bits) of a numeric type.
    fn konst(&mut self, t: &Type) -> Value {
        let k = interesting(self.c, t, 12);
        self.emit1(Op::Const(k), t.clone())
    }

    fn konst_num(&mut self, t: NumType) -> Value {
        self.konst(&Type::from(t))
    }

    fn val_num(&mut self, t: NumType) -> Value {
        self.val(&Type::from(t))
    }

    /// A condition: usually a fresh comparison.
    fn cond(&mut self) -> Value {
        match self.c.weighted(&[30, 50, 20]) {
            0 => self.val(&Type::I32),
            1 => self.icmp(),
            _ => self.fcmp(),
        }
    }

    fn icmp(&mut self) -> Value {
        let ty = self.c.pick(&[NumType::I32, NumType::I64]);
        let cc = self.c.pick(&IntCC::ALL);
        let a = self.val_num(ty);
        let b = self.val_num(ty);
        self.emit1(Op::Icmp { cc, ty, a, b }, Type::I32)
    }

    fn fcmp(&mut self) -> Value {
        let ty = self.c.pick(&[NumType::F32, NumType::F64]);
        let cc = self.c.pick(&FLOAT_CCS);
        let a = self.val_num(ty);
        let b = self.val_num(ty);
        self.emit1(Op::Fcmp { cc, ty, a, b }, Type::I32)
    }

    // ---- the function --------------------------------------------------------------------

    fn function(mut self) -> Function {
        let params = self.sig.params.clone();
        let (entry, _) = self.new_block(&params);
        self.switch_to(entry);
        let n = self.c.below(self.budget + 1);
        self.stmts(n);
        self.end_function();
        self.finish()
    }

    /// Return the function's results (rarely: trap instead).
    fn end_function(&mut self) {
        if self.c.chance(3) {
            self.terminate(Terminator::Trap);
            return;
        }
        self.return_results();
    }

    /// Return values of the function's result types.
    fn return_results(&mut self) {
        let results = self.sig.results.clone();
        let vals = self.args_for(&results);
        self.terminate(Terminator::Return(vals));
    }

    fn stmts(&mut self, n: u32) {
        for _ in 0..n {
            if self.budget == 0 {
                return;
            }
            self.budget -= 1;
            self.stmt();
        }
    }

    fn nested_count(&mut self) -> u32 {
        self.c.below(4).min(self.budget)
    }

    fn stmt(&mut self) {
        let nest = self.nest < MAX_NEST;
        let w = |ok: bool, w: u32| if ok { w } else { 0 };
        let callees = !self.callees().is_empty();
        let caps = !self.cap_imports().is_empty();
        let mem = self.dom.initial_bytes >= 8;
        match self.c.weighted(&[
            60,
            w(nest, 6),
            w(nest, 5),
            w(nest, 3),
            w(callees, 5),
            w(caps, 14),
            2,
            w(mem, 3),
            w(!self.dom.table.is_empty(), 4),
            3,
        ]) {
            0 => self.inst(),
            1 => self.diamond(),
            2 => self.looped(),
            3 => self.table(),
            4 => self.direct_call(),
            5 => self.call_cap(),
            6 => self.early_exit(),
            7 => self.guarded_access(),
            8 => self.indirect_call(),
            _ => self.refs(),
        }
    }

    /// A statement on tables 1 and 2 ([`domain_tables`]) and the element segment:
    /// every `table.*` operation, `ref.*` and a typed `select` of funcrefs; what
    /// it reads (`ref.is_null`, sizes, `table.grow`'s answer) is observed. Indices
    /// are below the declared size (tables never shrink below it), or when risky
    /// anything.
    fn refs(&mut self) {
        let declared = self.dom.tables[1].init.len() as i32;
        let segment = self.dom.elems[0].items.len() as i32;
        let index = |g: &mut Self, n: i32| {
            if g.risky() {
                g.iconst_pick(&[n, n + 4, -1, i32::MIN])
            } else {
                g.iconst_below(n.max(1) as u32)
            }
        };
        match self.c.below(8) {
            0 => {
                let r = self.val(&Type::FuncRef);
                let r = if self.c.chance(30) {
                    let cond = self.val(&Type::I32);
                    let other = self.val(&Type::FuncRef);
                    let op = Op::Select {
                        ty: Type::FuncRef,
                        cond,
                        a: r,
                        b: other,
                    };
                    self.emit1(op, Type::FuncRef)
                } else {
                    r
                };
                let i = index(self, declared);
                self.emit0(Op::TableSet {
                    table: 1,
                    index: i,
                    value: r,
                });
            }
            1 | 2 => {
                let (table, ty, n) = if self.c.chance(60) {
                    (1, Type::FuncRef, declared)
                } else {
                    (2, Type::ExternRef, 2)
                };
                if self.c.chance(30) {
                    let i = index(self, n);
                    let value = self.val(&ty);
                    self.emit0(Op::TableSet { table, index: i, value });
                }
                let i = index(self, n);
                let r = self.emit1(Op::TableGet { table, index: i }, ty);
                let null = self.emit1(Op::RefIsNull { a: r }, Type::I32);
                self.observe(null);
            }
            3 => {
                let table = self.c.pick(&[1, 2]);
                let ty = if table == 1 { Type::FuncRef } else { Type::ExternRef };
                let init = self.val(&ty);
                let delta = if self.risky() {
                    self.iconst_pick(&[-1, 5, 1 << 30])
                } else {
                    self.iconst_below(3)
                };
                let old = self.emit1(Op::TableGrow { table, init, delta }, Type::I32);
                self.observe(old);
                let size = self.emit1(Op::TableSize { table }, Type::I32);
                self.observe(size);
            }
            4 => {
                let dst = index(self, declared);
                let value = self.val(&Type::FuncRef);
                let len = self.iconst_below(3);
                self.emit0(Op::TableFill {
                    table: 1,
                    dst,
                    value,
                    len,
                });
            }
            5 => {
                // From the call table or within table 1; never into the call table.
                let (src_table, n) = if self.c.chance(50) {
                    (0, self.dom.table.len() as i32)
                } else {
                    (1, declared)
                };
                let dst = index(self, declared);
                let src = index(self, n);
                let len = self.iconst_below(3);
                self.emit0(Op::TableCopy {
                    dst_table: 1,
                    src_table,
                    dst,
                    src,
                    len,
                });
            }
            6 => {
                let dst = index(self, declared);
                let src = index(self, segment);
                let len = self.iconst_below(3);
                self.emit0(Op::TableInit {
                    table: 1,
                    segment: 0,
                    dst,
                    src,
                    len,
                });
            }
            _ => self.emit0(Op::ElemDrop { segment: 0 }),
        }
    }

    // ---- straight-line instructions ---------------------------------------------------------

    /// A straight-line instruction; its result is often stored where the final
    /// memory comparison sees it.
    fn inst(&mut self) {
        let before = self.b.values();
        self.inst_inner();
        if let Some(v) = self.b.last_result().filter(|v| v.0 >= before) {
            if self.c.chance(60) {
                self.observe(v);
            }
        }
    }

    /// Store `v` (if it is a number) into this function's observation area: a
    /// ring of slots at constant, proven addresses.
    fn observe(&mut self, v: Value) {
        let (ty, bytes) = match self.b.type_in_scope(v) {
            Some(Type::I32) => (NumType::I32, 4),
            Some(Type::I64) => (NumType::I64, 8),
            Some(Type::F32) => (NumType::F32, 4),
            Some(Type::F64) => (NumType::F64, 8),
            _ => return,
        };
        if self.dom.initial_bytes < OBSERVE_BASE + 4 * OBSERVE_SLOTS * 8 {
            return;
        }
        let slot = (self.func as u64 % 4) * OBSERVE_SLOTS + self.observed % OBSERVE_SLOTS;
        self.observed += 1;
        let at = OBSERVE_BASE + slot * 8;
        let addr = self.b.emit_hidden(Op::Const(Const::I32(at as i32)), None);
        let access = MemAccess {
            ty,
            bytes,
            signed: false,
        };
        self.emit0(Op::Store {
            access,
            value: v,
            addr,
            offset: 0,
        });
    }

    fn inst_inner(&mut self) {
        let globals = !self.dom.globals.is_empty();
        match self.c.weighted(&[
            4,
            14,
            8,
            4,
            4,
            4,
            3,
            3,
            9,
            6,
            6,
            3,
            3,
            2,
            2,
            if globals { 5 } else { 0 },
        ]) {
            0 => {
                let t = random_num_type(self.c);
                self.konst(&t);
            }
            1 => self.int_binary(),
            2 => self.float_binary(),
            3 => {
                let ty = self.c.pick(&[NumType::I32, NumType::I64]);
                let mut op = self.c.pick(&INT_UNOPS);
                if op == UnOp::Sext32 && ty == NumType::I32 {
                    op = UnOp::Sext16;
                }
                let a = self.val_num(ty);
                self.emit1(Op::Unary { op, ty, a }, Type::from(ty));
            }
            4 => {
                let ty = self.c.pick(&[NumType::F32, NumType::F64]);
                let op = self.c.pick(&FLOAT_UNOPS);
                let a = self.val_num(ty);
                self.emit1(Op::Unary { op, ty, a }, Type::from(ty));
            }
            5 => {
                self.icmp();
            }
            6 => {
                self.fcmp();
            }
            7 => self.select(),
            8 => self.convert(),
            9 => self.load(),
            10 => self.store(),
            11 => self.memory_op(),
            12 => self.region_op(),
            13 => self.buf_op(),
            14 => {
                self.emit1(Op::MemorySize, Type::I32);
            }
            _ => self.global_op(),
        }
    }

    /// `global.get`, or `global.set` of a mutable global.
    fn global_op(&mut self) {
        let g = self.c.below(self.dom.globals.len() as u32);
        let (ty, mutable) = (self.dom.globals[g as usize].ty, self.dom.globals[g as usize].mutable);
        if mutable && self.c.chance(50) {
            let value = self.val_num(ty);
            self.emit0(Op::GlobalSet { global: g, value });
        } else {
            self.emit1(Op::GlobalGet { global: g }, Type::from(ty));
        }
    }

    fn int_binary(&mut self) {
        let ty = self.c.pick(&[NumType::I32, NumType::I64]);
        let op = self.c.pick(&INT_BINOPS);
        let is_div = matches!(op, BinOp::Sdiv | BinOp::Udiv | BinOp::Srem | BinOp::Urem);
        let min = |ty| match ty {
            NumType::I32 => Op::Const(Const::I32(i32::MIN)),
            _ => Op::Const(Const::I64(i64::MIN)),
        };
        let risky = is_div && self.risky();
        let a = if risky && self.c.chance(40) {
            self.emit1(min(ty), Type::from(ty))
        } else {
            self.val_num(ty)
        };
        let b = if !is_div {
            self.val_num(ty)
        } else if risky || self.c.chance(50) {
            let x = if risky {
                self.c.pick(&[-1i64, 0, 1])
            } else {
                self.c.pick(&[1i64, 2, -2, 7, 16, 3])
            };
            match ty {
                NumType::I32 => self.iconst(x as i32),
                _ => self.iconst64(x),
            }
        } else {
            // Any value made odd: never zero.
            let x = self.val_num(ty);
            let one = match ty {
                NumType::I32 => self.iconst(1),
                _ => self.iconst64(1),
            };
            self.emit1(
                Op::Binary {
                    op: BinOp::Bor,
                    ty,
                    a: x,
                    b: one,
                },
                Type::from(ty),
            )
        };
        self.emit1(Op::Binary { op, ty, a, b }, Type::from(ty));
    }

    fn float_binary(&mut self) {
        let ty = self.c.pick(&[NumType::F32, NumType::F64]);
        let op = self.c.pick(&FLOAT_BINOPS);
        let a = self.val_num(ty);
        let b = self.val_num(ty);
        self.emit1(Op::Binary { op, ty, a, b }, Type::from(ty));
    }

    fn select(&mut self) {
        let ty = match self.c.weighted(&[85, 5, 5, 5]) {
            0 => random_num_type(self.c),
            1 => Type::Buf,
            2 => Type::Region,
            _ => {
                // A capability: both operands from imports of the same signature.
                let caps = self.cap_imports();
                if caps.is_empty() {
                    Type::I32
                } else {
                    let i = self.c.pick(&caps);
                    let sig = self.dom.imports[i].sig.clone();
                    let same: Vec<usize> = caps
                        .iter()
                        .copied()
                        .filter(|j| self.dom.imports[*j].sig == sig)
                        .collect();
                    let j = self.c.pick(&same);
                    let ty = Type::Cap(Box::new(sig));
                    let a = self.emit1(Op::CapGet { import: i as u32 }, ty.clone());
                    let b = self.emit1(Op::CapGet { import: j as u32 }, ty.clone());
                    let cond = self.cond();
                    self.emit1(
                        Op::Select {
                            ty: ty.clone(),
                            cond,
                            a,
                            b,
                        },
                        ty,
                    );
                    return;
                }
            }
        };
        let cond = self.cond();
        let a = self.val(&ty);
        let b = self.val(&ty);
        self.emit1(
            Op::Select {
                ty: ty.clone(),
                cond,
                a,
                b,
            },
            ty,
        );
    }

    fn convert(&mut self) {
        let (op, from, to) = self.c.pick(CONVERSIONS);
        let traps = matches!(op, ConvOp::FtoSint | ConvOp::FtoUint);
        let a = if traps && !self.risky() {
            // Values every trapping conversion takes.
            match from {
                NumType::F32 => {
                    let x = self.c.pick(&[0.0f32, -0.0, 1.5, 0.5, 2.5, 100.75, 65535.9, -0.9]);
                    self.emit1(Op::Const(Const::F32(x.to_bits())), Type::F32)
                }
                _ => {
                    let x = self.c.pick(&[0.0f64, -0.0, 1.5, 0.5, 2.5, 100.75, 2147483647.9, -0.9]);
                    self.emit1(Op::Const(Const::F64(x.to_bits())), Type::F64)
                }
            }
        } else if self.c.chance(40) {
            self.konst_num(from)
        } else {
            self.val_num(from)
        };
        self.emit1(Op::Convert { op, from, to, a }, Type::from(to));
    }

    /// An address and offset for an access of `bytes` bytes: proven in bounds,
    /// near the end, far out, or whatever a value holds.
    fn address(&mut self, bytes: u8) -> (Value, u32) {
        let mem = self.dom.initial_bytes;
        let n = bytes as u64;
        let small_offset = |c: &mut FnChoices| c.pick(&[0u32, 0, 0, 1, 3, 4, 8, 15]);
        let safe = mem >= 4096 + 16 && !self.risky();
        let weights = if safe {
            // Only the modes that stay in bounds.
            [40, 0, 0, 0, 30, 0, 0, 30]
        } else {
            [25, 15, 6, 20, 10, 8, 8, 8]
        };
        match self.c.weighted(&weights) {
            // A constant proven in bounds of the initial memory.
            0 if mem >= n + 16 => {
                let off = small_offset(self.c);
                let room = mem - n - off as u64;
                let a = if self.c.chance(50) {
                    self.c.below(256.min(room as u32 + 1))
                } else {
                    self.c.below(room as u32 + 1)
                };
                (self.iconst(a as i32), off)
            }
            // Around the end of the initial memory.
            1 => {
                let k = self.c.below(17);
                let off = self.c.pick(&[0u32, 0, 1, 2, 4]);
                let a = (mem as u32).wrapping_sub(k);
                (self.iconst(a as i32), off)
            }
            // Far out.
            2 => {
                let a = self
                    .c
                    .pick(&[u32::MAX, u32::MAX - 3, 0x8000_0000, 0xffff_fff8, 0x1_0000]);
                let off = self.c.pick(&[0u32, 1, 8, u32::MAX, 0x8000_0000]);
                (self.iconst(a as i32), off)
            }
            // Masked, with a fact that proves it in bounds.
            4 if mem >= 4096 + 16 => {
                let x = self.val(&Type::I32);
                let k = self.c.pick(&[255u32, 1023, 4095, 7, 0]);
                let kc = self.iconst(k as i32);
                let off = small_offset(self.c);
                let fact = Fact::Range { lo: 0, hi: k as u64 };
                let v = self.b.emit(
                    Op::Binary {
                        op: BinOp::Band,
                        ty: NumType::I32,
                        a: x,
                        b: kc,
                    },
                    &[Type::I32],
                    Some(fact),
                )[0];
                (v, off)
            }
            // A value with an offset near the end of memory.
            5 => {
                let a = self.val(&Type::I32);
                let off = (mem as u32).saturating_sub(self.c.below(16));
                (a, off)
            }
            // Relative to the current size (grown or not).
            6 => {
                let pages = self.emit1(Op::MemorySize, Type::I32);
                let sixteen = self.iconst(16);
                let size = self.emit1(
                    Op::Binary {
                        op: BinOp::Ishl,
                        ty: NumType::I32,
                        a: pages,
                        b: sixteen,
                    },
                    Type::I32,
                );
                let k = self.c.below(12) as i32;
                let kc = self.iconst(k);
                let a = self.emit1(
                    Op::Binary {
                        op: BinOp::Isub,
                        ty: NumType::I32,
                        a: size,
                        b: kc,
                    },
                    Type::I32,
                );
                (a, 0)
            }
            // Small values computed by the program.
            7 => {
                let x = self.val(&Type::I32);
                let m = if safe {
                    self.iconst_pick(&[0xff, 0xfff])
                } else {
                    self.iconst_pick(&[0xff, 0xfff, 0xffff, 0x1ffff])
                };
                let a = self.emit1(
                    Op::Binary {
                        op: BinOp::Band,
                        ty: NumType::I32,
                        a: x,
                        b: m,
                    },
                    Type::I32,
                );
                (a, small_offset(self.c))
            }
            // Whatever an i32 value holds.
            _ => {
                let a = self.val(&Type::I32);
                let off = match self.c.below(4) {
                    0 | 1 => 0,
                    2 => self.c.below(64),
                    _ => self.c.bits32(),
                };
                (a, off)
            }
        }
    }

    fn load(&mut self) {
        let (ty, bytes, signed) = self.c.pick(LOADS);
        let (addr, offset) = self.address(bytes);
        let access = MemAccess { ty, bytes, signed };
        self.emit1(Op::Load { access, addr, offset }, Type::from(ty));
    }

    fn store(&mut self) {
        let (ty, bytes) = self.c.pick(STORES);
        let value = self.val_num(ty);
        let (addr, offset) = self.address(bytes);
        let access = MemAccess {
            ty,
            bytes,
            signed: false,
        };
        self.emit0(Op::Store {
            access,
            value,
            addr,
            offset,
        });
    }

    /// An i32 that is a position in memory: small, near the end, or anything.
    fn mem_pos(&mut self) -> Value {
        let mem = self.dom.initial_bytes as u32;
        if !self.risky() {
            return self.iconst_below(512);
        }
        match self.c.weighted(&[50, 20, 15, 15]) {
            0 => self.iconst_below(512),
            1 => {
                let k = self.c.below(64);
                self.iconst(mem.wrapping_sub(k) as i32)
            }
            2 => self.iconst_pick(&[-1, i32::MIN, 0x1_0000, 0x2_0000, 0x3_0000]),
            _ => self.val(&Type::I32),
        }
    }

    /// An i32 that is a length: small, a page, or anything.
    fn length(&mut self) -> Value {
        if !self.risky() {
            return self.iconst_below(64);
        }
        match self.c.weighted(&[50, 20, 15, 15]) {
            0 => self.iconst_below(64),
            1 => self.iconst_pick(&[0, 1, 8, 4096, 0x1_0000]),
            2 => self.iconst_pick(&[-1, i32::MIN, 0x1_0001, 0x2_0000]),
            _ => self.val(&Type::I32),
        }
    }

    fn memory_op(&mut self) {
        match self.c.below(4) {
            0 => {
                self.emit1(Op::MemorySize, Type::I32);
            }
            1 => {
                let delta = match self.c.below(3) {
                    0 => self.iconst_pick(&[0, 1, 1, 2, 3]),
                    1 => self.iconst_pick(&[-1, 0x1_0000, 4, i32::MIN]),
                    _ => self.val(&Type::I32),
                };
                self.emit1(Op::MemoryGrow { delta }, Type::I32);
            }
            2 => {
                let dst = self.mem_pos();
                let src = self.mem_pos();
                let len = self.length();
                self.emit0(Op::MemoryCopy { dst, src, len });
            }
            _ => {
                let dst = self.mem_pos();
                let byte = self.val(&Type::I32);
                let len = self.length();
                self.emit0(Op::MemoryFill { dst, byte, len });
            }
        }
    }

    /// An index into a region: small, around its end, or anything.
    fn region_index(&mut self) -> Value {
        if !self.risky() {
            return self.iconst_below(8);
        }
        match self.c.weighted(&[60, 20, 20]) {
            0 => self.iconst_below(16),
            1 => self.iconst_pick(&[-1, 4096, 4095, 64, 63, 60]),
            _ => self.val(&Type::I32),
        }
    }

    fn region_op(&mut self) {
        let max = self.limits.max_region_bytes as i32;
        match self.c.below(8) {
            0 => {
                let risky = self.risky();
                let len = match if risky { self.c.below(3) } else { 0 } {
                    0 if !risky => self.iconst_pick(&[16, 32, 64]),
                    0 => self.iconst_pick(&[8, 0, 1, 16, 64]),
                    1 => self.iconst_pick(&[max, max + 1, -1]),
                    _ => self.val(&Type::I32),
                };
                self.emit1(Op::RegionNew { len }, Type::Region);
            }
            1 => {
                let region = self.val(&Type::Region);
                self.emit1(Op::RegionLen { region }, Type::I32);
            }
            2 => {
                let (ty, bytes, signed) = self.c.pick(LOADS);
                let region = self.val(&Type::Region);
                let index = self.region_index();
                let access = MemAccess { ty, bytes, signed };
                self.emit1(Op::RegionLoad { access, region, index }, Type::from(ty));
            }
            3 | 4 => {
                let (ty, bytes) = self.c.pick(STORES);
                let value = self.val_num(ty);
                let region = self.val(&Type::Region);
                let index = self.region_index();
                let access = MemAccess {
                    ty,
                    bytes,
                    signed: false,
                };
                self.emit0(Op::RegionStore {
                    access,
                    value,
                    region,
                    index,
                });
            }
            5 | 6 => {
                let region = self.val(&Type::Region);
                let index = self.region_index();
                let addr = self.mem_pos();
                let len = if self.risky() {
                    self.length()
                } else {
                    self.iconst_below(9)
                };
                let read = self.c.chance(50);
                self.emit0(region_transfer(read, region, index, addr, len));
            }
            _ => {
                let region = self.val(&Type::Region);
                self.emit0(Op::RegionFree { region });
                self.dead.push(region);
            }
        }
    }

    fn buf_op(&mut self) {
        match self.c.below(3) {
            0 => {
                let ptr = self.mem_pos();
                let len = self.length();
                self.emit1(Op::BufMake { ptr, len }, Type::Buf);
            }
            1 => {
                let buf = self.val(&Type::Buf);
                self.emit1(Op::BufPtr { buf }, Type::I32);
            }
            _ => {
                let buf = self.val(&Type::Buf);
                self.emit1(Op::BufLen { buf }, Type::I32);
            }
        }
    }

    // ---- control flow -------------------------------------------------------------------------

    /// Some values to pass along an edge: types for a join block.
    fn join_types(&mut self) -> Vec<Type> {
        // Usually a few; sometimes many (register pressure at the join).
        let n = if self.c.chance(8) {
            4 + self.c.below(9)
        } else {
            self.c.below(3)
        };
        (0..n)
            .map(|_| match self.c.weighted(&[90, 5, 5]) {
                0 => random_num_type(self.c),
                1 => Type::Buf,
                _ => Type::Region,
            })
            .collect()
    }

    fn args_for(&mut self, tys: &[Type]) -> Vec<Value> {
        tys.iter().map(|t| self.val(t)).collect()
    }

    /// Statements of a nested region; the pool is restored afterwards by the caller.
    fn nested(&mut self) {
        self.nest += 1;
        let n = self.nested_count();
        self.stmts(n);
        self.nest -= 1;
    }

    /// `if c { .. } else { .. }` with a join block taking values from both arms
    /// (sometimes without else: the false edge goes straight to the join).
    fn diamond(&mut self) {
        let c = self.cond();
        let join_tys = self.join_types();
        let then_tys = self.join_types();
        let then_args = self.args_for(&then_tys);
        let (then_b, _) = self.new_block(&then_tys);
        let (join, _) = self.new_block(&join_tys);
        if self.c.chance(10) {
            // Both edges to the join, with different arguments.
            let a = self.args_for(&join_tys);
            let b = self.args_for(&join_tys);
            self.terminate(Terminator::Brif {
                cond: c,
                then: edge(join, a),
                else_: edge(join, b),
            });
            // The unused `then` block still needs a place: reach it from the join.
            self.switch_to(join);
            let (after, _) = self.new_block(&[]);
            self.terminate(Terminator::Brif {
                cond: c,
                then: edge(then_b, then_args),
                else_: edge(after, vec![]),
            });
            let mark = self.b.mark();
            self.switch_to(then_b);
            self.terminate(Terminator::Jump(edge(after, vec![])));
            self.b.restore(mark);
            self.switch_to(after);
            return;
        }
        let with_else = self.c.chance(70);
        let else_call = if with_else {
            let (else_b, _) = self.new_block(&[]);
            edge(else_b, vec![])
        } else {
            let args = self.args_for(&join_tys);
            edge(join, args)
        };
        let swap = self.c.chance(20);
        let then_call = edge(then_b, then_args);
        let (then, else_) = if swap {
            (else_call.clone(), then_call)
        } else {
            (then_call, else_call.clone())
        };
        self.terminate(Terminator::Brif { cond: c, then, else_ });
        let arms: Vec<usize> = if with_else {
            vec![then_b, else_call.block.0 as usize]
        } else {
            vec![then_b]
        };
        // Lay out the arms in the order the branch names them.
        let arms: Vec<usize> = if swap { arms.into_iter().rev().collect() } else { arms };
        self.arms_to_join(arms, join, &join_tys);
    }

    /// Fill each arm in turn with nested statements and jump to `join` with
    /// values of `join_tys`; then continue in `join`. What an arm defines is not
    /// used after it.
    fn arms_to_join(&mut self, arms: Vec<usize>, join: usize, join_tys: &[Type]) {
        let mark = self.b.mark();
        for arm in arms {
            self.switch_to(arm);
            self.nested();
            let args = self.args_for(join_tys);
            self.terminate(Terminator::Jump(edge(join, args)));
            self.b.restore(mark);
        }
        self.switch_to(join);
    }

    /// A loop with a counter in a block parameter and a backward branch; the
    /// limit is often small, sometimes any value (then fuel ends it).
    fn looped(&mut self) {
        let acc_ty = random_num_type(self.c);
        let init = if self.c.chance(60) {
            self.iconst(0)
        } else {
            self.val(&Type::I32)
        };
        let limit = if !self.risky() || self.c.chance(50) {
            self.iconst_below(6)
        } else {
            self.val(&Type::I32)
        };
        let acc0 = self.val(&acc_ty);
        let (header, hp) = self.new_block(&[Type::I32, acc_ty.clone()]);
        let (ctr, acc) = (hp[0], hp[1]);
        let (exit, exit_params) = self.new_block(std::slice::from_ref(&acc_ty));
        self.terminate(Terminator::Jump(edge(header, vec![init, acc0])));
        let cc = self.c.pick(&[IntCC::Slt, IntCC::Ult, IntCC::Ne, IntCC::Sle]);
        self.switch_to(header);
        let mark = self.b.mark();
        self.loop_depth += 1;
        self.nest += 1;
        match self.c.below(3) {
            // while: test in the header, body after it, jump back.
            0 => {
                let c = self.emit1(
                    Op::Icmp {
                        cc,
                        ty: NumType::I32,
                        a: ctr,
                        b: limit,
                    },
                    Type::I32,
                );
                let (body, _) = self.new_block(&[]);
                self.terminate(Terminator::Brif {
                    cond: c,
                    then: edge(body, vec![]),
                    else_: edge(exit, vec![acc]),
                });
                let mark_body = self.b.mark();
                self.switch_to(body);
                let n = self.nested_count();
                self.stmts(n);
                let next = self.increment(ctr);
                let acc2 = self.val(&acc_ty);
                self.terminate(Terminator::Jump(edge(header, vec![next, acc2])));
                self.b.restore(mark_body);
            }
            // do-while with brif or br_table back to the header.
            k => {
                let n = self.nested_count();
                self.stmts(n);
                let next = self.increment(ctr);
                let acc2 = self.val(&acc_ty);
                let back = edge(header, vec![next, acc2]);
                let out = edge(exit, vec![acc2]);
                let c = self.emit1(
                    Op::Icmp {
                        cc,
                        ty: NumType::I32,
                        a: next,
                        b: limit,
                    },
                    Type::I32,
                );
                if k == 1 {
                    self.terminate(Terminator::Brif {
                        cond: c,
                        then: back,
                        else_: out,
                    });
                } else {
                    // c == 1 continues (target 1), anything else leaves.
                    self.terminate(Terminator::BrTable {
                        index: c,
                        default: out.clone(),
                        targets: vec![out, back],
                    });
                }
            }
        }
        self.b.restore(mark);
        self.loop_depth -= 1;
        self.nest -= 1;
        self.switch_to(exit);
        if self.c.chance(60) {
            self.observe(exit_params[0]);
        }
    }

    fn increment(&mut self, v: Value) -> Value {
        let one = self.iconst(1);
        self.emit1(
            Op::Binary {
                op: BinOp::Iadd,
                ty: NumType::I32,
                a: v,
                b: one,
            },
            Type::I32,
        )
    }

    /// `br_table` over a few case blocks (and the join itself).
    fn table(&mut self) {
        let index = match self.c.weighted(&[40, 30, 30]) {
            0 => self.iconst_pick(&[0, 1, 2, 3, 4, -1, 100]),
            1 => {
                let x = self.val(&Type::I32);
                let n = self.iconst_pick(&[3, 4, 5]);
                self.emit1(
                    Op::Binary {
                        op: BinOp::Urem,
                        ty: NumType::I32,
                        a: x,
                        b: n,
                    },
                    Type::I32,
                )
            }
            _ => self.val(&Type::I32),
        };
        let join_tys = self.join_types();
        let (join, _) = self.new_block(&join_tys);
        let ncases = self.c.below(4) as usize;
        let cases: Vec<usize> = (0..ncases).map(|_| self.new_block(&[]).0).collect();
        // Every case block is a target at least once; the rest are random.
        let mut entries: Vec<Option<usize>> = cases.iter().map(|b| Some(*b)).collect();
        for _ in 0..self.c.below(4) {
            let e = if cases.is_empty() || self.c.chance(30) {
                None
            } else {
                Some(self.c.pick(&cases))
            };
            let at = self.c.below(entries.len() as u32 + 1) as usize;
            entries.insert(at, e);
        }
        let default_entry = if entries.is_empty() || self.c.chance(50) {
            None
        } else {
            let k = self.c.below(entries.len() as u32) as usize;
            entries.remove(k)
        };
        let target = |g: &mut Self, e: Option<usize>| match e {
            Some(b) => edge(b, vec![]),
            None => {
                let args = g.args_for(&join_tys);
                edge(join, args)
            }
        };
        let default = target(self, default_entry);
        let targets = entries.into_iter().map(|e| target(self, e)).collect();
        self.terminate(Terminator::BrTable {
            index,
            default,
            targets,
        });
        self.arms_to_join(cases, join, &join_tys);
    }

    /// Functions of this domain a call may go to: never `main`; later ones
    /// mostly, the current or earlier ones (recursion) sometimes.
    fn callees(&self) -> Vec<usize> {
        (0..self.dom.funcs.len())
            .filter(|f| Some(*f) != self.dom.main)
            .collect()
    }

    fn direct_call(&mut self) {
        let all = self.callees();
        let later: Vec<usize> = all.iter().copied().filter(|f| *f > self.func).collect();
        let f = if !later.is_empty() && !self.c.chance(15) {
            self.c.pick(&later)
        } else {
            self.c.pick(&all)
        };
        let sig = self.dom.funcs[f].sig.clone();
        let args = self.args_for(&sig.params);
        let op = Op::Call { func: f as u32, args };
        let guard = f <= self.func && self.nest < MAX_NEST && self.c.chance(60);
        self.call_op(op, &sig.results, guard);
    }

    /// Emit a call and observe its results: all of them behind a condition when
    /// `guard` (the call may recurse), else some.
    fn call_op(&mut self, op: Op, results: &[Type], guard: bool) {
        if !guard {
            for r in self.emit(op, results) {
                if self.c.chance(60) {
                    self.observe(r);
                }
            }
            return;
        }
        let c = self.cond();
        let (then_b, _) = self.new_block(&[]);
        let (join, _) = self.new_block(&[]);
        self.terminate(Terminator::Brif {
            cond: c,
            then: edge(then_b, vec![]),
            else_: edge(join, vec![]),
        });
        let mark = self.b.mark();
        self.switch_to(then_b);
        for r in self.emit(op, results) {
            self.observe(r);
        }
        self.terminate(Terminator::Jump(edge(join, vec![])));
        self.b.restore(mark);
        self.switch_to(join);
    }

    /// `call_indirect`: usually a constant index of an entry whose function takes
    /// numbers only, with that function's signature; when risky, any index (out
    /// of range, empty, a value at hand) or another signature.
    fn indirect_call(&mut self) {
        let table = self.dom.table.clone();
        let good: Vec<usize> = (0..table.len())
            .filter(|i| table[*i].is_some_and(|f| numeric(&self.dom.funcs[f as usize].sig)))
            .collect();
        let sig_of = |g: &Self, i: usize| g.dom.funcs[table[i].expect("a good entry") as usize].sig.clone();
        let (index, sig, target) = if !good.is_empty() && !self.risky() {
            let i = self.c.pick(&good);
            (self.iconst(i as i32), sig_of(self, i), table[i])
        } else {
            let index = match self.c.weighted(&[40, 30, 30]) {
                0 => self.iconst_below(table.len() as u32 + 2),
                1 => self.iconst_pick(&[-1, i32::MIN, table.len() as i32]),
                _ => self.val(&Type::I32),
            };
            let sig = if !good.is_empty() && self.c.chance(50) {
                let i = self.c.pick(&good);
                sig_of(self, i)
            } else {
                random_sig(self.c, 3, 2, false)
            };
            (index, sig, None)
        };
        let args = self.args_for(&sig.params);
        let op = Op::CallIndirect {
            table: 0,
            sig: Box::new(sig.clone()),
            index,
            args,
        };
        // Perhaps recursion: then sometimes behind a condition.
        let recursive = target.is_none_or(|f| f as usize <= self.func);
        let guard = recursive && self.nest < MAX_NEST && self.c.chance(60);
        self.call_op(op, &sig.results, guard);
    }

    /// Imports a `call_cap` may use here: restarts only from `main` outside loops
    /// (so that restarting cannot refill fuel without bound).
    fn cap_imports(&self) -> Vec<usize> {
        let restart_ok = self.is_main() && self.loop_depth == 0;
        self.dom
            .imports
            .iter()
            .enumerate()
            .filter(|(_, i)| i.kind != ImpKind::Restart || restart_ok)
            .map(|(k, _)| k)
            .collect()
    }

    fn call_cap(&mut self) {
        let imports = self.cap_imports();
        let i = self.c.pick(&imports);
        let sig = self.dom.imports[i].sig.clone();
        let cap = self.emit1(Op::CapGet { import: i as u32 }, Type::Cap(Box::new(sig.clone())));
        let args = self.args_for(&sig.params);
        // Regions passed along are the callee's from now on.
        for (a, t) in args.iter().zip(&sig.params) {
            if *t == Type::Region {
                self.dead.push(*a);
            }
        }
        let (ok, results, fail, code) = self.b.call_cap(cap, args, &sig.results);
        let mut join_tys = vec![Type::I32];
        join_tys.extend(self.join_types());
        let (join, _) = self.new_block(&join_tys);
        let mark = self.b.mark();
        // ok: results usable, then on to the join.
        self.switch_to(ok);
        for r in results {
            if self.c.chance(60) {
                self.observe(r);
            }
        }
        if self.c.chance(30) {
            self.nested();
        }
        let args = self.args_for(&join_tys);
        self.terminate(Terminator::Jump(edge(join, args)));
        self.b.restore(mark);
        // fail: the code goes to the join, or the caller gives up: traps, re-raises
        // the code (sometimes another i32, perhaps not a trap code) or returns.
        self.switch_to(fail);
        let give_up = if self.risky() { 10 } else { 2 };
        match self.c.weighted(&[80, give_up, give_up, give_up]) {
            0 => {
                let mut args = vec![code];
                args.extend(self.args_for(&join_tys[1..]));
                self.terminate(Terminator::Jump(edge(join, args)));
            }
            1 => self.terminate(Terminator::Trap),
            2 => {
                let v = if self.c.chance(75) {
                    code
                } else {
                    self.val_num(NumType::I32)
                };
                self.terminate(Terminator::TrapWith(v));
            }
            _ => {
                self.return_results();
            }
        }
        self.b.restore(mark);
        self.switch_to(join);
    }

    /// `brif c, exit, cont` where exit traps or returns.
    fn early_exit(&mut self) {
        let c = self.cond();
        let (exit, _) = self.new_block(&[]);
        let (cont, _) = self.new_block(&[]);
        let swap = self.c.chance(50);
        let (then, else_) = if swap { (cont, exit) } else { (exit, cont) };
        self.terminate(Terminator::Brif {
            cond: c,
            then: edge(then, vec![]),
            else_: edge(else_, vec![]),
        });
        let mark = self.b.mark();
        self.switch_to(exit);
        if self.c.chance(50) {
            self.terminate(Terminator::Trap);
        } else {
            self.return_results();
        }
        self.b.restore(mark);
        self.switch_to(cont);
    }

    /// `if x < K { access at x }`: the guarded block's parameter carries a fact
    /// that the verifier proves from the comparison, so the access is unchecked.
    fn guarded_access(&mut self) {
        let mem = self.dom.initial_bytes;
        let store = self.c.chance(50);
        let (ty, bytes, signed) = if store {
            let (t, b) = self.c.pick(STORES);
            (t, b, false)
        } else {
            self.c.pick(LOADS)
        };
        let off = self.c.pick(&[0u32, 0, 4, 16]);
        let room = mem - bytes as u64 - off as u64; // mem >= 8 + 16 is checked by the caller
        let k = match self.c.below(3) {
            0 => 1 + self.c.below(256),
            1 => room as u32 + 1,
            _ => 1 + self.c.below(room as u32 + 1),
        };
        // Not a constant: the verifier rejects a fact on an edge a constant can
        // never take. `band x, -1` keeps the value and forgets that it is constant.
        let v = self.val(&Type::I32);
        let all = self.iconst(-1);
        let x = self.emit1(
            Op::Binary {
                op: BinOp::Band,
                ty: NumType::I32,
                a: v,
                b: all,
            },
            Type::I32,
        );
        let kc = self.iconst(k as i32);
        let c = self.emit1(
            Op::Icmp {
                cc: IntCC::Ult,
                ty: NumType::I32,
                a: x,
                b: kc,
            },
            Type::I32,
        );
        let fact = if self.c.chance(50) {
            Fact::Range {
                lo: 0,
                hi: k as u64 - 1,
            }
        } else {
            Fact::Lt(kc)
        };
        let (g, gp) = self.b.block_with_facts(&[(Type::I32, Some(fact))]);
        let p = gp[0];
        let join_ty = Type::from(ty);
        let (join, _) = self.new_block(std::slice::from_ref(&join_ty));
        let other = self.val(&join_ty);
        self.terminate(Terminator::Brif {
            cond: c,
            then: edge(g, vec![x]),
            else_: edge(join, vec![other]),
        });
        let mark = self.b.mark();
        self.switch_to(g);
        let access = MemAccess { ty, bytes, signed };
        let out = if store {
            let value = self.val(&join_ty);
            self.emit0(Op::Store {
                access,
                value,
                addr: p,
                offset: off,
            });
            value
        } else {
            self.emit1(
                Op::Load {
                    access,
                    addr: p,
                    offset: off,
                },
                join_ty.clone(),
            )
        };
        self.terminate(Terminator::Jump(edge(join, vec![out])));
        self.b.restore(mark);
        self.switch_to(join);
    }
}

// ---- running a case both ways ------------------------------------------------------

/// Host output, shared with the instance.
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

/// Everything observable after running a case.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// One per invocation of the entry.
    pub calls: Vec<Result<Vec<Val>, RunError>>,
    pub output: Vec<u8>,
    /// Per domain, in module order: (name, memory, fuel, status).
    pub domains: Vec<(String, Vec<u8>, u64, DomainStatus)>,
    pub faults: Vec<TrapInfo>,
    /// Inter-domain calls, region handles blanked (their numbering is the
    /// executor's business).
    pub trace: Vec<IdcEvent>,
}

fn blank_regions(mut e: IdcEvent) -> IdcEvent {
    if let Ok(vals) = &mut e.outcome {
        for v in vals {
            if let Val::Region(_) = v {
                *v = Val::Region(RegionHandle { slot: 0, generation: 0 });
            }
        }
    }
    e
}

fn host_action(inst: &mut Instance, case: &Case) -> Result<(), RunError> {
    match &case.between {
        HostAction::Nothing => Ok(()),
        HostAction::RestartFaulted => {
            for d in &case.module.domains {
                if inst.status(&d.name) == Some(DomainStatus::Faulted) {
                    inst.restart(&d.name)?;
                }
            }
            Ok(())
        }
        HostAction::Kill(d) => inst.kill(d),
        HostAction::Revoke(d, i) => inst.revoke(d, i),
    }
}

/// Run a case on one backend (the JIT translating each function on its first call).
pub fn run(case: &Case, backend: Backend) -> Result<Outcome, String> {
    run_with(case, backend, true)
}

/// Run a case on one backend; with the JIT, `lazy` picks translation on first call
/// or everything up front.
pub fn run_with(case: &Case, backend: Backend, lazy: bool) -> Result<Outcome, String> {
    let sink = Sink::default();
    let config = Config {
        backend,
        limits: case.limits,
        max_stack_size: 16 << 20,
        translator: capjit::translator::Config {
            lazy,
            ..Default::default()
        },
        ..Config::default()
    };
    let mut inst = Instance::new(&case.module, &config, Box::new(sink.clone()))
        .map_err(|e| format!("{backend:?}: cannot instantiate: {e}"))?;
    inst.set_trace(true);
    let mut calls = Vec::new();
    for i in 0..INVOCATIONS {
        if i == 1 {
            host_action(&mut inst, case).map_err(|e| format!("{backend:?}: host action {}: {e}", case.between))?;
        }
        calls.push(inst.invoke(ENTRY_DOMAIN, ENTRY_FUNCTION, &case.args));
    }
    let domains = case
        .module
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
    Ok(Outcome {
        calls,
        output,
        domains,
        faults: inst.faults(),
        trace: inst.take_trace().into_iter().map(blank_regions).collect(),
    })
}

/// How the two executors disagree on a case.
#[derive(Clone, Debug)]
pub struct Mismatch {
    /// Both outcomes, or `None` when a case could not even run (instantiation
    /// failed, or the interpreter rejected a verified program).
    pub outcomes: Option<Box<(Outcome, Outcome)>>,
    /// A short classification (the first difference), for grouping and minimising.
    pub kind: String,
    /// Every difference, readable.
    pub text: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}]\n{}", self.kind, self.text)
    }
}

fn broken(text: String) -> Mismatch {
    Mismatch {
        outcomes: None,
        kind: "broken".into(),
        text,
    }
}

/// Run a case through the interpreter and the JIT, translating lazily and eagerly;
/// `Err` says how they differ.
pub fn check(case: &Case) -> Result<Outcome, Mismatch> {
    let interp = run(case, Backend::Interpreter).map_err(broken)?;
    let lazy = run_with(case, Backend::Jit, true).map_err(broken)?;
    let eager = run_with(case, Backend::Jit, false).map_err(broken)?;
    for (i, c) in interp.calls.iter().enumerate() {
        if let Err(e @ (RunError::Invalid(_) | RunError::BadInvoke(_) | RunError::Output(_))) = c {
            return Err(broken(format!(
                "the interpreter rejects a verified program (call {i}): {e}"
            )));
        }
    }
    for (jit, how) in [(lazy, "lazily"), (eager, "eagerly")] {
        if let Some((kind, text)) = describe_difference(&interp, &jit) {
            return Err(Mismatch {
                outcomes: Some(Box::new((interp, jit))),
                kind,
                text: format!("(JIT translating {how})\n{text}"),
            });
        }
    }
    Ok(interp)
}

/// Every trap an outcome reports: the entry's and the faulted domains' last ones.
pub fn traps(o: &Outcome) -> Vec<&TrapInfo> {
    o.calls
        .iter()
        .filter_map(|c| match c {
            Err(RunError::Trap(t)) => Some(t),
            _ => None,
        })
        .chain(&o.faults)
        .collect()
}

/// The instruction a trap report points at (`None` for a terminator).
pub fn op_at<'m>(m: &'m Module, t: &TrapInfo) -> Option<&'m Op> {
    let d = m.domains.iter().find(|d| d.name == t.domain)?;
    let f = d.functions.iter().find(|f| f.name == t.function)?;
    let b = f.blocks.get(t.block as usize)?;
    Some(&b.insts.get(t.inst? as usize)?.op)
}

/// Mismatches already reported and not fixed yet: a predicate over (case,
/// interpreter outcome, JIT outcome) that recognises the bug, and its name.
/// Differential runs tolerate (and count) them so that CI stays green; each has
/// an ignored regression test in `tests/differential.rs`. Remove an entry when
/// its bug is fixed.
pub type KnownBug = (&'static str, fn(&Case, &Outcome, &Outcome) -> bool);

pub const KNOWN_BUGS: &[KnownBug] = &[
    // Example of an entry (region.write's order of checks, fixed in 6d71b1d):
    // ("interpreter: region.write checks memory before the owner", |case, interp, jit| {
    //     traps(interp).iter().zip(traps(jit)).any(|(a, b)| {
    //         a.code == TrapCode::OutOfBounds
    //             && b.code == TrapCode::RegionInvalid
    //             && matches!(op_at(&case.module, a), Some(Op::RegionWrite { .. }))
    //     })
    // }),
];

/// The known bug that explains a mismatch, if any.
pub fn known_bug(case: &Case, m: &Mismatch) -> Option<&'static str> {
    let (interp, jit) = m.outcomes.as_deref()?;
    KNOWN_BUGS
        .iter()
        .find(|(_, p)| p(case, interp, jit))
        .map(|(name, _)| *name)
}

fn show_call(c: &Result<Vec<Val>, RunError>) -> String {
    match c {
        Ok(vals) => {
            let v: Vec<String> = vals.iter().map(|v| format!("{v} [{}]", val_text(v))).collect();
            format!("values ({})", v.join(", "))
        }
        Err(RunError::Trap(t)) => format!("{t}"),
        Err(e) => format!("error: {e:?}"),
    }
}

fn call_kind(c: &Result<Vec<Val>, RunError>) -> String {
    match c {
        Ok(_) => "values".into(),
        Err(RunError::Trap(t)) => t.code.to_string(),
        Err(_) => "error".into(),
    }
}

/// What differs between the interpreter's outcome `a` and the JIT's `b`: a
/// short kind (the first difference) and the full description.
pub fn describe_difference(a: &Outcome, b: &Outcome) -> Option<(String, String)> {
    let mut kinds = Vec::new();
    let mut out = Vec::new();
    for (i, (x, y)) in a.calls.iter().zip(&b.calls).enumerate() {
        if x != y {
            kinds.push(format!("call: {} vs {}", call_kind(x), call_kind(y)));
            out.push(format!(
                "call {i}:\n  interpreter: {}\n  jit:         {}",
                show_call(x),
                show_call(y)
            ));
        }
    }
    if a.output != b.output {
        kinds.push("output".into());
        out.push(format!(
            "output:\n  interpreter: {:?}\n  jit:         {:?}",
            String::from_utf8_lossy(&a.output),
            String::from_utf8_lossy(&b.output)
        ));
    }
    for ((n, ma, fa, sa), (_, mb, fb, sb)) in a.domains.iter().zip(&b.domains) {
        if ma != mb {
            kinds.push("memory".into());
            let first = ma.iter().zip(mb.iter()).position(|(p, q)| p != q);
            out.push(format!(
                "memory of {n}: interpreter {} bytes, jit {} bytes; first difference at {first:?}{}",
                ma.len(),
                mb.len(),
                first.map_or(String::new(), |k| format!(
                    " (interpreter {:#04x}, jit {:#04x})",
                    ma[k], mb[k]
                ))
            ));
        }
        if fa != fb {
            kinds.push("fuel".into());
            out.push(format!("fuel left in {n}: interpreter {fa}, jit {fb}"));
        }
        if sa != sb {
            kinds.push("status".into());
            out.push(format!("status of {n}: interpreter {sa:?}, jit {sb:?}"));
        }
    }
    if a.faults != b.faults {
        let codes = |o: &Outcome| {
            o.faults
                .iter()
                .map(|t| t.code.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        kinds.push(format!("faults: {} vs {}", codes(a), codes(b)));
        out.push(format!(
            "faults:\n  interpreter: {:?}\n  jit:         {:?}",
            a.faults.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
            b.faults.iter().map(|t| t.to_string()).collect::<Vec<_>>()
        ));
    }
    if a.trace != b.trace {
        kinds.push("trace".into());
        let k = a.trace.iter().zip(&b.trace).position(|(x, y)| x != y);
        out.push(format!(
            "inter-domain call trace ({} vs {} events); first difference at {k:?}:\n  interpreter: {:?}\n  jit:         {:?}",
            a.trace.len(),
            b.trace.len(),
            k.and_then(|k| a.trace.get(k)).or(a.trace.get(b.trace.len())),
            k.and_then(|k| b.trace.get(k)).or(b.trace.get(a.trace.len())),
        ));
    }
    (!out.is_empty()).then(|| (kinds.swap_remove(0), out.join("\n")))
}

// ---- cases as text ------------------------------------------------------------------------

/// A value as a regression header writes it: integers in decimal, floats as raw bits.
pub fn val_text(v: &Val) -> String {
    match v {
        Val::I32(x) => format!("i32:{x}"),
        Val::I64(x) => format!("i64:{x}"),
        Val::F32(b) => format!("f32:{b:#010x}"),
        Val::F64(b) => format!("f64:{b:#018x}"),
        other => format!("{other}"),
    }
}

fn parse_val(s: &str) -> Result<Val, String> {
    let (ty, x) = s.split_once(':').ok_or_else(|| format!("bad value `{s}`"))?;
    let hex = |x: &str| u64::from_str_radix(x.trim_start_matches("0x"), 16).map_err(|e| format!("`{s}`: {e}"));
    Ok(match ty {
        "i32" => Val::I32(x.parse().map_err(|e| format!("`{s}`: {e}"))?),
        "i64" => Val::I64(x.parse().map_err(|e| format!("`{s}`: {e}"))?),
        "f32" => Val::F32(hex(x)? as u32),
        "f64" => Val::F64(hex(x)?),
        _ => return Err(format!("bad value type in `{s}`")),
    })
}

/// The case as a `.cir` file: a header with the arguments and limits, then the module.
pub fn case_text(case: &Case, description: &str) -> String {
    let l = case.limits;
    let args: Vec<String> = case.args.iter().map(val_text).collect();
    format!(
        "; {description}\n; args: {}\n; between: {}\n; limits: fuel={} depth={} pages={} region_bytes={} regions={} domain_regions={} domain_region_bytes={} instance_bytes={}\n\n{}",
        args.join(" "),
        case.between,
        l.fuel,
        l.max_call_depth,
        l.max_memory_pages,
        l.max_region_bytes,
        l.max_regions,
        l.max_domain_regions,
        l.max_domain_region_bytes,
        l.max_instance_bytes,
        capjit_ir::print_module(&case.module)
    )
}

/// Read a file written by [`case_text`] (missing header lines keep the defaults).
pub fn parse_case(text: &str) -> Result<Case, String> {
    let module = capjit_ir::parse_module(text).map_err(|e| e.to_string())?;
    let mut args = Vec::new();
    let mut limits = BASE_LIMITS;
    let mut between = HostAction::Nothing;
    for line in text.lines().take_while(|l| l.starts_with(';') || l.trim().is_empty()) {
        let line = line.trim_start_matches(';').trim();
        if let Some(rest) = line.strip_prefix("args:") {
            args = rest.split_whitespace().map(parse_val).collect::<Result<_, _>>()?;
        } else if let Some(rest) = line.strip_prefix("between:") {
            between = rest.trim().parse()?;
        } else if let Some(rest) = line.strip_prefix("limits:") {
            for kv in rest.split_whitespace() {
                let (k, v) = kv.split_once('=').ok_or_else(|| format!("bad limit `{kv}`"))?;
                let n: u64 = v.parse().map_err(|e| format!("`{kv}`: {e}"))?;
                match k {
                    "fuel" => limits.fuel = n,
                    "depth" => limits.max_call_depth = n as u32,
                    "pages" => limits.max_memory_pages = n as u32,
                    "region_bytes" => limits.max_region_bytes = n as u32,
                    "regions" => limits.max_regions = n as u32,
                    "domain_regions" => limits.max_domain_regions = n as u32,
                    "domain_region_bytes" => limits.max_domain_region_bytes = n,
                    "instance_bytes" => limits.max_instance_bytes = n,
                    _ => return Err(format!("unknown limit `{k}`")),
                }
            }
        }
    }
    Ok(Case {
        module,
        args,
        limits,
        between,
    })
}

/// A domain's tables: 0 is `call_indirect`'s (`table`, never changed at run time,
/// so the generator knows its entries); 1, a funcref table, and 2, an externref
/// table, are what the reference statements change (`FnGen::refs`), each with
/// room to grow; and one passive element segment for `table.init` into table 1.
fn domain_tables(c: &mut FnChoices, funcs: &[FnInfo], table: &[Option<u32>]) -> (Vec<Table>, Vec<ElemSegment>) {
    let scratch = random_table(c, funcs, None);
    let items = random_table(c, funcs, None);
    let tables = vec![
        Table {
            elem: RefType::Func,
            init: table.to_vec(),
            maximum: table.len() as u32,
        },
        Table {
            elem: RefType::Func,
            maximum: scratch.len() as u32 + 4,
            init: scratch,
        },
        Table {
            elem: RefType::Extern,
            init: vec![None; 2],
            maximum: 4,
        },
    ];
    (
        tables,
        vec![ElemSegment {
            elem: RefType::Func,
            items,
        }],
    )
}
