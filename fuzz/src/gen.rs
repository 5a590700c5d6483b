//! A generator of MOSTLY-well-formed modules from fuzzer bytes, so that the fuzzer
//! gets past the verifier's early checks and into types, dominance, facts and access
//! proofs.
//!
//! Its choices come from `capjit_testgen::ByteChoices` (one byte per choice among up
//! to 256 options, big-endian bytes for more, the simplest option once the input is
//! used up: every input makes a module) and its operation tables and operand reuse
//! from `capjit_testgen`, as for the differential generator. The function body is
//! built here, not with `capjit_testgen::FnBuilder`: the control-flow skeleton is
//! drawn first and blocks are filled in dominator order rather than entered as a
//! structured program goes, values carry the ranges and facts the verifier derives
//! for them, and some definitions and results are deliberately wrong.
//!
//! How it stays mostly valid:
//! - every function's control-flow skeleton (terminator kinds and targets) is drawn
//!   first; block `b` usually branches to `b + 1`, so every block is usually reachable;
//! - block parameter types follow from the skeleton (`call_cap` successors get the
//!   import's results and `i32`), dominators are computed, and blocks are filled in
//!   dominator order: an operand is picked among the values of the dominating blocks
//!   with the type the operation needs, or a constant is materialised for it;
//! - facts are usually derived the way the verifier derives them (constants,
//!   comparisons, `band`, `urem`, narrow loads ...), so many are provable, and
//!   memory addresses are often small constants, so many accesses are proven.
//!
//! How it stays interesting: a few percent of every choice is deliberately wrong
//! (an operand of the wrong type, undefined or not dominating; a target out of range
//! or the entry; a wrong result count; a false fact; a bad access width or
//! conversion; a mismatched import signature; a bad memory layout ...).

use std::ops::RangeInclusive;

use capjit_ir::*;
use capjit_testgen::ops::{
    region_transfer, CONVERSIONS, CONV_OPS, FLOAT_BINOPS, FLOAT_CCS, FLOAT_UNOPS, INT_BINOPS, INT_UNOPS,
};
use capjit_testgen::{ByteChoices, Choices, Reuse};

/// Host functions and their signatures, as the interpreter binds them.
fn host_functions() -> Vec<(&'static str, Signature)> {
    let sig = |params: Vec<Type>, results: Vec<Type>| Signature { params, results };
    vec![
        ("print_i32", sig(vec![Type::I32], vec![])),
        ("print_i64", sig(vec![Type::I64], vec![])),
        ("print_f64", sig(vec![Type::F64], vec![])),
        ("print", sig(vec![Type::Buf], vec![])),
        ("clock_ns", sig(vec![], vec![Type::I64])),
    ]
}

/// This generator's decisions on top of `capjit_testgen::Choices` (fuzzer bytes).
/// Every helper answers the "usual" (valid) choice when the input runs out.
trait Pick: Choices {
    /// True with probability `p` in 10 000, for deliberate mistakes: a module makes
    /// hundreds of choices, and most modules should still verify.
    fn rare(&mut self, p: u32) -> bool {
        self.below(10_000) >= 10_000 - p.min(10_000)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    fn index(&mut self, n: usize) -> usize {
        self.below(n as u32) as usize
    }

    /// Uniform in `range` (its start once the input runs out, or if it is empty).
    fn int_in_range<T: Int>(&mut self, range: RangeInclusive<T>) -> T {
        let (lo, hi) = (range.start().to_i128(), range.end().to_i128());
        T::from_i128(lo + self.in_range(0, (hi - lo).max(0) as u64) as i128)
    }

    fn num_type(&mut self) -> NumType {
        match self.below(100) {
            0..=44 => NumType::I32,
            45..=74 => NumType::I64,
            75..=86 => NumType::F64,
            _ => NumType::F32,
        }
    }

    fn int_type(&mut self) -> NumType {
        if self.chance(35) {
            NumType::I64
        } else {
            NumType::I32
        }
    }

    fn float_type(&mut self) -> NumType {
        if self.chance(40) {
            NumType::F32
        } else {
            NumType::F64
        }
    }
}

impl<C: Choices> Pick for C {}

/// The integer types `Pick::int_in_range` draws.
trait Int: Copy {
    fn to_i128(self) -> i128;
    fn from_i128(x: i128) -> Self;
}

macro_rules! int {
    ($($t:ty),*) => {$(
        impl Int for $t {
            fn to_i128(self) -> i128 {
                self as i128
            }
            fn from_i128(x: i128) -> Self {
                x as $t
            }
        }
    )*};
}
int!(u8, u16, u32, u64, usize, i32);

fn max_of(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

/// A value type for a signature or a block parameter; `cap` only when `caps` offers
/// signatures to choose from.
fn val_type(u: &mut ByteChoices, caps: &[Signature]) -> Type {
    match u.below(100) {
        0..=44 => Type::I32,
        45..=64 => Type::I64,
        65..=71 => Type::F32,
        72..=79 => Type::F64,
        80..=85 => Type::Buf,
        86..=90 => Type::Region,
        91..=92 => Type::FuncRef,
        93..=94 => Type::ExternRef,
        _ if !caps.is_empty() => Type::Cap(Box::new(caps[u.index(caps.len())].clone())),
        _ => Type::I32,
    }
}

fn signature(u: &mut ByteChoices, caps: &[Signature]) -> Signature {
    let np = u.int_in_range(0..=3);
    let nr = u.int_in_range(0..=2);
    let mut sig = Signature::default();
    for _ in 0..np {
        sig.params.push(val_type(u, caps));
    }
    for _ in 0..nr {
        sig.results.push(val_type(u, caps));
    }
    sig
}

/// Instruction kinds.
#[derive(Clone, Copy, Debug)]
enum OpKind {
    Const,
    IntBinary,
    FloatBinary,
    IntUnary,
    FloatUnary,
    Icmp,
    Fcmp,
    Select,
    Convert,
    Load,
    Store,
    MemorySize,
    MemoryGrow,
    MemoryCopy,
    MemoryFill,
    Call,
    CapGet,
    BufMake,
    BufPtr,
    BufLen,
    RegionNew,
    RegionLen,
    RegionLoad,
    RegionStore,
    RegionRead,
    RegionWrite,
    RegionFree,
    RefNull,
    RefIsNull,
    RefFunc,
    TableGet,
    TableSet,
    TableSize,
    TableGrow,
    TableFill,
    TableInit,
    TableCopy,
    ElemDrop,
    CallIndirect,
}

impl OpKind {
    const ALL: [OpKind; 39] = [
        OpKind::Const,
        OpKind::IntBinary,
        OpKind::FloatBinary,
        OpKind::IntUnary,
        OpKind::FloatUnary,
        OpKind::Icmp,
        OpKind::Fcmp,
        OpKind::Select,
        OpKind::Convert,
        OpKind::Load,
        OpKind::Store,
        OpKind::MemorySize,
        OpKind::MemoryGrow,
        OpKind::MemoryCopy,
        OpKind::MemoryFill,
        OpKind::Call,
        OpKind::CapGet,
        OpKind::BufMake,
        OpKind::BufPtr,
        OpKind::BufLen,
        OpKind::RegionNew,
        OpKind::RegionLen,
        OpKind::RegionLoad,
        OpKind::RegionStore,
        OpKind::RegionRead,
        OpKind::RegionWrite,
        OpKind::RegionFree,
        OpKind::RefNull,
        OpKind::RefIsNull,
        OpKind::RefFunc,
        OpKind::TableGet,
        OpKind::TableSet,
        OpKind::TableSize,
        OpKind::TableGrow,
        OpKind::TableFill,
        OpKind::TableInit,
        OpKind::TableCopy,
        OpKind::ElemDrop,
        OpKind::CallIndirect,
    ];
}

/// The most common kinds, drawn more often than the uniform `OpKind`.
const CORE_KINDS: [OpKind; 6] = [
    OpKind::Const,
    OpKind::IntBinary,
    OpKind::Icmp,
    OpKind::Load,
    OpKind::Store,
    OpKind::Call,
];

struct FuncPlan {
    name: String,
    exported: bool,
    sig: Signature,
}

struct DomPlan {
    name: String,
    memory: Memory,
    inbox: Option<Inbox>,
    data: Vec<DataSegment>,
    imports: Vec<Import>,
    funcs: Vec<FuncPlan>,
    tables: Vec<Table>,
    elems: Vec<ElemSegment>,
}

impl DomPlan {
    fn initial_bytes(&self) -> u64 {
        self.memory.initial as u64 * PAGE_SIZE
    }
}

/// For [`Op::result_types`]; the generator does not emit globals yet.
impl DomainTypes for DomPlan {
    fn function_sig(&self, func: u32) -> Option<&Signature> {
        self.funcs.get(func as usize).map(|f| &f.sig)
    }

    fn import_sig(&self, import: u32) -> Option<&Signature> {
        self.imports.get(import as usize).map(|i| &i.sig)
    }

    fn global_type(&self, _: u32) -> Option<NumType> {
        None
    }

    fn table_type(&self, table: u32) -> Option<RefType> {
        self.tables.get(table as usize).map(|t| t.elem)
    }
}

/// Generate a module from fuzzer input.
pub fn module(u: &mut ByteChoices) -> Module {
    let nd = u.int_in_range(1..=3);
    let mut plans = Vec::new();
    for di in 0..nd {
        plans.push(plan_domain(u, di));
    }
    plan_imports(u, &mut plans);
    // Non-exported functions may take capabilities of the domain's import types.
    for p in &mut plans {
        let caps: Vec<Signature> = p.imports.iter().map(|i| i.sig.clone()).collect();
        for f in p.funcs.iter_mut().filter(|f| !f.exported) {
            if !caps.is_empty() && u.chance(20) {
                let sig = caps[u.index(caps.len())].clone();
                f.sig.params.push(Type::Cap(Box::new(sig)));
            }
        }
    }
    let mut domains = Vec::new();
    for p in &plans {
        let mut functions = Vec::new();
        for fi in 0..p.funcs.len() {
            functions.push(FnGen::new(u, p, fi).function());
        }
        domains.push(Domain {
            name: p.name.clone(),
            memory: p.memory,
            inbox: p.inbox,
            data: p.data.clone(),
            passive_data: Vec::new(),
            imports: p.imports.clone(),
            globals: Vec::new(),
            tables: p.tables.clone(),
            passive_elems: p.elems.clone(),
            functions,
            span: None,
        });
    }
    Module { domains }
}

fn plan_domain(u: &mut ByteChoices, di: usize) -> DomPlan {
    let name = if di > 0 && u.rare(30) {
        "d0".to_string()
    } else {
        format!("d{di}")
    };
    let initial = u.int_in_range(0..=2);
    let mut memory = Memory {
        initial,
        maximum: initial + u.int_in_range(0..=3),
    };
    if u.rare(50) {
        // Deliberately bad: maximum below initial, or beyond the 4 GiB space.
        memory = if u.chance(50) {
            Memory {
                initial: initial + 1,
                maximum: initial,
            }
        } else {
            Memory {
                initial,
                maximum: 70_000,
            }
        };
    }
    let bytes = initial as u64 * PAGE_SIZE;
    let mut inbox = None;
    if (bytes > 0 && u.chance(30)) || u.rare(30) {
        let offset = 8 * u.int_in_range(0..=128u32);
        let size = 8 * u.int_in_range(0..=64u32);
        inbox = Some(Inbox { offset, size });
    }
    let mut data = Vec::new();
    if (bytes > 0 && u.chance(30)) || u.rare(50) {
        let offset = u.int_in_range(0..=512u32);
        let n = u.int_in_range(0..=8usize);
        let bytes = (0..n).map(|_| u.index(256) as u8).collect();
        data.push(DataSegment { offset, bytes });
    }
    let nf = u.int_in_range(1..=3);
    let mut funcs = Vec::new();
    for fi in 0..nf {
        let name = if fi > 0 && u.rare(30) {
            "f0".to_string()
        } else {
            format!("f{fi}")
        };
        let exported = if fi == 0 { !u.chance(10) } else { u.chance(50) };
        funcs.push(FuncPlan {
            name,
            exported,
            sig: signature(u, &[]),
        });
    }
    let nfuncs = funcs.len() as u32;
    // Entries name functions of the domain, rarely one past them; an externref
    // table or segment rarely holds a function (which the verifier refuses).
    let entries = |u: &mut ByteChoices, elem: RefType, n: usize| -> Vec<Option<u32>> {
        (0..n)
            .map(|_| match (elem, u.below(10)) {
                (RefType::Func, 0..=5) => Some(u.int_in_range(0..=nfuncs - 1)),
                (_, 9) if u.rare(20) => Some(nfuncs),
                _ => None,
            })
            .collect()
    };
    let ref_type = |u: &mut ByteChoices| if u.chance(70) { RefType::Func } else { RefType::Extern };
    let mut tables = Vec::new();
    for _ in 0..u.int_in_range(0..=2usize) {
        let elem = ref_type(u);
        let n = u.int_in_range(0..=6usize);
        let init = entries(u, elem, n);
        // Rarely below the initial size, which the verifier refuses.
        let maximum = if u.rare(30) {
            0
        } else {
            n as u32 + u.int_in_range(0..=8u32)
        };
        tables.push(Table { elem, init, maximum });
    }
    let mut elems = Vec::new();
    for _ in 0..u.int_in_range(0..=2usize) {
        let elem = ref_type(u);
        let n = u.int_in_range(0..=4usize);
        let items = entries(u, elem, n);
        elems.push(ElemSegment { elem, items });
    }
    DomPlan {
        name,
        memory,
        inbox,
        data,
        imports: Vec::new(),
        funcs,
        tables,
        elems,
    }
}

fn plan_imports(u: &mut ByteChoices, plans: &mut [DomPlan]) {
    let exports: Vec<(String, String, Signature)> = plans
        .iter()
        .flat_map(|p| {
            p.funcs
                .iter()
                .filter(|f| f.exported)
                .map(|f| (p.name.clone(), f.name.clone(), f.sig.clone()))
        })
        .collect();
    let domain_names: Vec<String> = plans.iter().map(|p| p.name.clone()).collect();
    let hosts = host_functions();
    for p in plans.iter_mut() {
        let ni = u.int_in_range(0..=3);
        for k in 0..ni {
            let name = if k > 0 && u.rare(30) {
                "i0".to_string()
            } else {
                format!("i{k}")
            };
            let r = u.below(100);
            let (source, mut sig) = if r < 70 && !exports.is_empty() {
                let (d, f, sig) = &exports[u.index(exports.len())];
                (
                    ImportSource::Export {
                        domain: d.clone(),
                        function: f.clone(),
                    },
                    sig.clone(),
                )
            } else if r < 88 {
                let (h, sig) = &hosts[u.index(hosts.len())];
                (
                    ImportSource::Host {
                        function: h.to_string(),
                    },
                    sig.clone(),
                )
            } else if !u.rare(300) {
                let domain = if u.rare(300) {
                    "nowhere".to_string()
                } else {
                    domain_names[u.index(domain_names.len())].clone()
                };
                (ImportSource::Restart { domain }, Signature::default())
            } else {
                let sig = signature(u, &[]);
                let source = ImportSource::Export {
                    domain: domain_names[u.index(domain_names.len())].clone(),
                    function: "missing".to_string(),
                };
                (source, sig)
            };
            if u.rare(50) {
                // Deliberately mismatched with what it names.
                sig.params.push(Type::I32);
            }
            p.imports.push(Import {
                name,
                source,
                sig,
                span: None,
            });
        }
    }
}

/// Control flow of one block before its instructions exist.
#[derive(Clone, Debug)]
enum Skel {
    Jump(u32),
    Brif(u32, u32),
    BrTable(u32, Vec<u32>),
    Return,
    CallCap { import: u32, ok: u32, fail: u32 },
    Trap,
}

impl Skel {
    fn targets(&self) -> Vec<u32> {
        match self {
            Skel::Jump(t) => vec![*t],
            Skel::Brif(a, b) => vec![*a, *b],
            Skel::BrTable(d, ts) => std::iter::once(*d).chain(ts.iter().copied()).collect(),
            Skel::CallCap { ok, fail, .. } => vec![*ok, *fail],
            Skel::Return | Skel::Trap => vec![],
        }
    }
}

/// A value the generator may use, with what the verifier can know about it.
#[derive(Clone, Debug)]
struct Known {
    v: Value,
    ty: Type,
    /// The unsigned range the verifier derives from the value's fact or constant.
    range: Option<(u64, u64)>,
    /// Its `mem(N)` fact.
    in_memory: Option<u32>,
}

impl Known {
    fn range(&self) -> (u64, u64) {
        self.range.unwrap_or((0, self.ty.int_bits().map_or(u64::MAX, max_of)))
    }
}

/// An `icmp` decided a `brif`: its operands, for `lt` facts on the `then` target.
struct BrifRecord {
    then: BlockCall,
    cc: IntCC,
    a: Value,
    b: Value,
}

/// Pending `lt(..)` fact on a block parameter, resolved once every block exists.
struct PendingLt {
    block: usize,
    param: usize,
}

/// How `operand` reuses a value of its type: most of the time, any of them.
const REUSE: Reuse = Reuse {
    make_pct: 15,
    recent_pct: 0,
    window: 1,
};

struct FnGen<'p, 'a, 'u> {
    u: &'u mut ByteChoices<'a>,
    dom: &'p DomPlan,
    func: usize,
    next_value: u32,
    skels: Vec<Skel>,
    params: Vec<Vec<BlockParam>>,
    /// Every value defined by each block, in order (parameters first).
    defs: Vec<Vec<Known>>,
    /// Values usable at the current point: those of the dominators and the block so far.
    avail: Vec<Known>,
    insts: Vec<Inst>,
    brifs: Vec<BrifRecord>,
    pending_lt: Vec<PendingLt>,
}

impl<'p, 'a, 'u> FnGen<'p, 'a, 'u> {
    fn new(u: &'u mut ByteChoices<'a>, dom: &'p DomPlan, func: usize) -> Self {
        FnGen {
            u,
            dom,
            func,
            next_value: 0,
            skels: Vec::new(),
            params: Vec::new(),
            defs: Vec::new(),
            avail: Vec::new(),
            insts: Vec::new(),
            brifs: Vec::new(),
            pending_lt: Vec::new(),
        }
    }

    fn plan(&self) -> &'p FuncPlan {
        &self.dom.funcs[self.func]
    }

    fn fresh(&mut self) -> Value {
        if self.next_value > 0 && self.u.rare(5) {
            // Deliberately defined twice.
            return Value(self.u.int_in_range(0..=self.next_value - 1));
        }
        let v = Value(self.next_value);
        self.next_value += 1;
        v
    }

    fn function(mut self) -> Function {
        let n = self.u.int_in_range(1..=6usize);
        for b in 0..n {
            let s = self.skeleton(b, n);
            self.skels.push(s);
        }
        // Keep (nearly) every block reachable: an unreachable block is rejected
        // before anything interesting is checked in it.
        for b in 1..n {
            if reachable(&self.skels)[b] || self.u.rare(100) {
                continue;
            }
            let prev = &mut self.skels[b - 1];
            match prev {
                Skel::Jump(t) | Skel::Brif(t, _) | Skel::BrTable(t, _) | Skel::CallCap { ok: t, .. } => *t = b as u32,
                Skel::Return | Skel::Trap => *prev = Skel::Jump(b as u32),
            }
        }
        self.block_params(n);
        let doms = dominators(&self.skels);
        // Fill blocks in dominator order: a block's dominators are complete before it.
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&b| (doms[b].count_ones(), b));
        self.defs = vec![Vec::new(); n];
        let mut blocks: Vec<Option<Block>> = vec![None; n];
        for &b in &order {
            let mut chain: Vec<usize> = (0..n).filter(|&d| d != b && doms[b] & (1 << d) != 0).collect();
            chain.sort_by_key(|&d| doms[d].count_ones());
            self.avail = chain.iter().flat_map(|&d| self.defs[d].iter().cloned()).collect();
            blocks[b] = Some(self.block(b));
        }
        let mut blocks: Vec<Block> = blocks
            .into_iter()
            .map(|b| b.expect("every block is generated"))
            .collect();
        self.resolve_lt(&mut blocks, &doms);
        let plan = self.plan();
        Function {
            name: plan.name.clone(),
            exported: plan.exported,
            sig: plan.sig.clone(),
            blocks,
            span: None,
        }
    }

    /// A branch target: usually the next block, else any non-entry block, rarely
    /// the entry or one past the end.
    fn target(&mut self, b: usize, n: usize, first: bool) -> u32 {
        if b + 1 < n && self.u.chance(if first { 95 } else { 50 }) {
            return b as u32 + 1;
        }
        if self.u.rare(15) {
            return if self.u.chance(50) { 0 } else { n as u32 };
        }
        if n == 1 {
            return 0;
        }
        self.u.int_in_range(1..=n as u32 - 1)
    }

    fn skeleton(&mut self, b: usize, n: usize) -> Skel {
        let imports = self.dom.imports.len();
        let r = self.u.below(100);
        let branchy = b + 1 < n || (n > 1 && self.u.chance(30)) || self.u.rare(50);
        if !branchy {
            return if r < 90 { Skel::Return } else { Skel::Trap };
        }
        match r {
            0..=34 => Skel::Jump(self.target(b, n, true)),
            35..=64 => Skel::Brif(self.target(b, n, true), self.target(b, n, false)),
            65..=74 => {
                let default = self.target(b, n, true);
                let k = self.u.int_in_range(0..=3);
                let mut ts = Vec::new();
                for _ in 0..k {
                    ts.push(self.target(b, n, false));
                }
                Skel::BrTable(default, ts)
            }
            75..=91 if imports > 0 || self.u.rare(100) => {
                let import = if imports == 0 { 0 } else { self.u.index(imports) as u32 };
                let ok = self.target(b, n, true);
                let mut fail = self.target(b, n, false);
                if fail == ok && n > 2 && !self.u.rare(500) {
                    // The fail block takes an i32; the ok block the results: keep them apart.
                    fail = self.u.int_in_range(1..=n as u32 - 2);
                    if fail >= ok {
                        fail += 1;
                    }
                }
                Skel::CallCap { import, ok, fail }
            }
            92..=96 if b + 1 < n => Skel::Jump(self.target(b, n, true)),
            92..=96 => Skel::Return,
            97..=99 => Skel::Trap,
            _ => Skel::Jump(self.target(b, n, true)),
        }
    }

    /// Parameter types: the entry's are the signature's; `call_cap` successors get
    /// the import's results and the trap code; others are drawn.
    fn block_params(&mut self, n: usize) {
        let mut types: Vec<Option<Vec<Type>>> = vec![None; n];
        types[0] = Some(self.plan().sig.params.clone());
        for s in self.skels.clone() {
            if let Skel::CallCap { import, ok, fail } = s {
                let results = self.dom.imports.get(import as usize).map(|i| i.sig.results.clone());
                if let (Some(slot), Some(results)) = (types.get_mut(ok as usize), results) {
                    if slot.is_none() {
                        *slot = Some(results);
                    }
                }
                if let Some(slot) = types.get_mut(fail as usize) {
                    if slot.is_none() {
                        *slot = Some(vec![Type::I32]);
                    }
                }
            }
        }
        // Parameters of the entry and of `call_cap` successors come from outside.
        let foreign: Vec<bool> = types.iter().map(|t| t.is_some()).collect();
        let caps: Vec<Signature> = self.dom.imports.iter().map(|i| i.sig.clone()).collect();
        for (b, slot) in types.into_iter().enumerate() {
            let tys = match slot {
                Some(t) => t,
                None => {
                    let k = self.u.int_in_range(0..=2);
                    let mut t = Vec::new();
                    for _ in 0..k {
                        t.push(val_type(self.u, &caps));
                    }
                    t
                }
            };
            let mut ps = Vec::new();
            for (i, ty) in tys.into_iter().enumerate() {
                let value = self.fresh();
                let fact = self.param_fact(b, foreign[b], i, &ty);
                ps.push(BlockParam { value, ty, fact });
            }
            self.params.push(ps);
        }
    }

    /// A fact for a block parameter: on entry and `call_cap` successors (`foreign`)
    /// only the trivial one is provable; elsewhere a bound an edge may establish.
    fn param_fact(&mut self, b: usize, foreign: bool, i: usize, ty: &Type) -> Option<Fact> {
        let Some(bits) = ty.int_bits() else {
            return if self.u.rare(10) {
                Some(Fact::Range { lo: 0, hi: 1 })
            } else {
                None
            };
        };
        if !self.u.chance(if foreign { 5 } else { 25 }) {
            return None;
        }
        if foreign && !self.u.chance(5) {
            return Some(Fact::Range {
                lo: 0,
                hi: max_of(bits),
            });
        }
        let initial = self.dom.initial_bytes();
        Some(match self.u.int_in_range(0u8..=9) {
            0..=3 => Fact::Range {
                lo: 0,
                hi: self
                    .u
                    .pick(&[1, 15, 255, 4095, initial.saturating_sub(8), max_of(bits)]),
            },
            4..=5 if initial >= 16 => Fact::InMemory {
                size: self.u.pick(&[1, 4, 8, 16]),
            },
            6..=8 => {
                self.pending_lt.push(PendingLt { block: b, param: i });
                return None;
            }
            _ if self.u.chance(10) => {
                let lo = self.u.bits64() & max_of(bits);
                let hi = lo.saturating_add(self.u.index(1 << 16) as u64).min(max_of(bits));
                Fact::Range { lo, hi }
            }
            _ => Fact::Range {
                lo: 0,
                hi: max_of(bits),
            },
        })
    }

    fn known_param(&self, p: &BlockParam) -> Known {
        let bits = p.ty.int_bits();
        let (range, in_memory) = match (p.fact, bits) {
            (Some(Fact::Range { lo, hi }), Some(bits)) if lo <= hi && hi <= max_of(bits) => (Some((lo, hi)), None),
            (Some(Fact::InMemory { size }), Some(bits)) => (
                Some((
                    0,
                    (self.dom.memory.maximum as u64 * PAGE_SIZE)
                        .saturating_sub(size as u64)
                        .min(max_of(bits)),
                )),
                Some(size),
            ),
            _ => (None, None),
        };
        Known {
            v: p.value,
            ty: p.ty.clone(),
            range,
            in_memory,
        }
    }

    fn block(&mut self, b: usize) -> Block {
        let params = self.params[b].clone();
        for p in &params {
            let k = self.known_param(p);
            self.avail.push(k);
        }
        self.insts = Vec::new();
        let n = if self.u.chance(10) {
            self.u.int_in_range(0..=24)
        } else {
            self.u.int_in_range(0..=8)
        };
        for _ in 0..n {
            self.inst();
        }
        let term = self.terminator(b);
        // Everything defined here is visible to the blocks this one dominates.
        let own: Vec<Known> = params
            .iter()
            .map(|p| self.known_param(p))
            .chain(self.insts.iter().flat_map(|i| {
                i.results
                    .iter()
                    .filter_map(|d| self.avail.iter().rev().find(|k| k.v == d.value).cloned())
            }))
            .collect();
        self.defs[b] = own;
        Block {
            params,
            insts: std::mem::take(&mut self.insts),
            term,
            term_span: None,
        }
    }

    // --- operands ------------------------------------------------------------------

    /// A value of type `ty` available here; sometimes deliberately not.
    fn operand(&mut self, ty: &Type) -> Value {
        if self.u.rare(30) {
            return self.wrong_operand();
        }
        let cands: Vec<Value> = self.avail.iter().filter(|k| &k.ty == ty).map(|k| k.v).collect();
        match REUSE.pick(self.u, &cands) {
            Some(v) => v,
            None => self.materialize(ty),
        }
    }

    fn num_operand(&mut self, t: NumType) -> Value {
        self.operand(t.as_type())
    }

    fn wrong_operand(&mut self) -> Value {
        let r = self.u.int_in_range(0u8..=9);
        if r < 5 && !self.avail.is_empty() {
            let i = self.u.index(self.avail.len());
            return self.avail[i].v;
        }
        if r < 8 && self.next_value > 0 {
            // Defined somewhere in the function, maybe not on every path.
            return Value(self.u.int_in_range(0..=self.next_value - 1));
        }
        Value(self.next_value + 100 + self.u.int_in_range(0..=50))
    }

    /// Define a value of type `ty` with an instruction.
    fn materialize(&mut self, ty: &Type) -> Value {
        let op = match ty {
            Type::I32 => Op::Const(Const::I32(self.int_const(32) as u32 as i32)),
            Type::I64 => Op::Const(Const::I64(self.int_const(64) as i64)),
            Type::F32 => Op::Const(Const::F32(self.float_bits(32) as u32)),
            Type::F64 => Op::Const(Const::F64(self.float_bits(64))),
            Type::Buf => {
                let ptr = self.operand(&Type::I32);
                let len = self.operand(&Type::I32);
                Op::BufMake { ptr, len }
            }
            Type::Region => {
                let len = self.operand(&Type::I32);
                Op::RegionNew { len }
            }
            Type::FuncRef => {
                let nf = self.dom.funcs.len();
                if self.u.chance(50) {
                    Op::RefFunc {
                        func: self.u.index(nf) as u32,
                    }
                } else {
                    Op::RefNull { ty: RefType::Func }
                }
            }
            Type::ExternRef => Op::RefNull { ty: RefType::Extern },
            Type::Cap(sig) => {
                let found: Vec<usize> = (0..self.dom.imports.len())
                    .filter(|&i| self.dom.imports[i].sig == **sig)
                    .collect();
                if found.is_empty() {
                    return self.wrong_operand();
                }
                Op::CapGet {
                    import: found[self.u.index(found.len())] as u32,
                }
            }
        };
        let defs = self.emit(op);
        match defs.first() {
            Some(v) => *v,
            None => self.wrong_operand(),
        }
    }

    /// An integer constant: small, address-like, a mask, or anything.
    fn int_const(&mut self, bits: u32) -> u64 {
        let initial = self.dom.initial_bytes();
        let v = match self.u.below(100) {
            0..=54 => self.u.int_in_range(0..=16u64),
            55..=69 => self.u.int_in_range(0..=initial + 16),
            70..=79 => max_of(self.u.int_in_range(0..=bits)),
            80..=84 => u64::MAX, // -1
            _ => self.u.bits64(),
        };
        v & max_of(bits)
    }

    fn float_bits(&mut self, bits: u32) -> u64 {
        let f = match self.u.int_in_range(0u8..=9) {
            0..=4 => self.u.int_in_range(-4i32..=16) as f64,
            5 => f64::NAN,
            6 => f64::INFINITY,
            7 => -0.0,
            _ => {
                let raw = self.u.bits64();
                return raw & max_of(bits);
            }
        };
        if bits == 32 {
            (f as f32).to_bits() as u64
        } else {
            f.to_bits()
        }
    }

    // --- instructions --------------------------------------------------------------

    /// What the verifier can derive about the single result of `op` (a mirror of
    /// its rules for the common operations, not necessarily exact).
    fn derive(&self, op: &Op, bits: u32) -> Option<(u64, u64)> {
        let r = |v: Value| {
            self.avail
                .iter()
                .rev()
                .find(|k| k.v == v)
                .map(|k| k.range())
                .unwrap_or((0, max_of(bits)))
        };
        let konst = |v: Value| {
            let (lo, hi) = r(v);
            (lo == hi).then_some(lo)
        };
        match op {
            Op::Const(Const::I32(c)) => Some((*c as u32 as u64, *c as u32 as u64)),
            Op::Const(Const::I64(c)) => Some((*c as u64, *c as u64)),
            Op::Icmp { .. } | Op::Fcmp { .. } => Some((0, 1)),
            Op::Unary {
                op: UnOp::Clz | UnOp::Ctz | UnOp::Popcnt,
                ..
            } => Some((0, bits as u64)),
            Op::Binary { op, a, b, .. } => {
                let ((alo, ahi), (blo, bhi)) = (r(*a), r(*b));
                match op {
                    BinOp::Band => Some((0, ahi.min(bhi))),
                    BinOp::Urem => Some((0, ahi.min(bhi.saturating_sub(1)))),
                    BinOp::Iadd => {
                        let hi = ahi as u128 + bhi as u128;
                        // Lazily: `alo + blo` may overflow when `hi` does not fit.
                        (hi <= max_of(bits) as u128).then(|| (alo + blo, hi as u64))
                    }
                    BinOp::Ushr => konst(*b).map(|k| {
                        let k = (k % bits as u64) as u32;
                        (alo >> k, ahi >> k)
                    }),
                    _ => None,
                }
            }
            Op::Convert {
                op: ConvOp::Uextend, a, ..
            } => Some(r(*a)),
            Op::Load { access, .. } | Op::RegionLoad { access, .. } if !access.signed && access.bytes < 8 => {
                Some((0, max_of(access.bytes as u32 * 8).min(max_of(bits))))
            }
            Op::MemorySize => Some((self.dom.memory.initial as u64, self.dom.memory.maximum as u64)),
            Op::Select { a, b, .. } => {
                let ((alo, ahi), (blo, bhi)) = (r(*a), r(*b));
                Some((alo.min(blo), ahi.max(bhi)))
            }
            _ => None,
        }
    }

    /// A fact for the result of `op` of type `ty`: usually what the verifier can
    /// prove (or weaker), rarely a false one.
    fn result_fact(&mut self, op: &Op, ty: &Type) -> Option<Fact> {
        let bits = ty.int_bits()?;
        if !self.u.chance(30) {
            return None;
        }
        if self.u.rare(100) {
            let lo = self.u.int_in_range(0..=16u64);
            let hi = lo.saturating_add(self.u.int_in_range(0..=300u64));
            return Some(Fact::Range { lo, hi });
        }
        let (lo, hi) = match self.derive(op, bits) {
            Some(r) => r,
            None if self.u.chance(30) => {
                return Some(Fact::Range {
                    lo: 0,
                    hi: max_of(bits),
                })
            }
            None => (0, max_of(bits)),
        };
        let initial = self.dom.initial_bytes();
        match self.u.below(100) {
            0..=54 => Some(Fact::Range { lo, hi }),
            55..=64 => {
                let lo = lo.saturating_sub(self.u.int_in_range(0..=3));
                let hi = hi.saturating_add(self.u.int_in_range(0..=3)).min(max_of(bits));
                Some(Fact::Range { lo, hi })
            }
            65..=79 if hi <= initial => {
                let room = (initial - hi).min(u32::MAX as u64) as u32;
                let size = room.saturating_sub(self.u.int_in_range(0..=2));
                Some(Fact::InMemory { size })
            }
            _ => match op {
                Op::Binary { op: BinOp::Urem, b, .. } => Some(Fact::Lt(*b)),
                _ => {
                    // A bound whose least value is above everything this one may be.
                    let above: Vec<Value> = self
                        .avail
                        .iter()
                        .filter(|k| k.ty.int_bits().is_some() && k.range.is_some_and(|(l, _)| l > hi))
                        .map(|k| k.v)
                        .collect();
                    if above.is_empty() {
                        None
                    } else {
                        Some(Fact::Lt(above[self.u.index(above.len())]))
                    }
                }
            },
        }
    }

    /// Append an instruction with fresh results (and maybe facts); returns them.
    fn emit(&mut self, op: Op) -> Vec<Value> {
        let mut tys = op.result_type_vec(self.dom);
        if self.u.rare(5) {
            // Deliberately the wrong number of results.
            if tys.is_empty() || self.u.chance(50) {
                tys.push(Type::I32);
            } else {
                tys.pop();
            }
        }
        let mut results = Vec::new();
        let mut known = Vec::new();
        for ty in tys {
            let value = self.fresh();
            let fact = self.result_fact(&op, &ty);
            let bits = ty.int_bits();
            let range = match (fact, bits) {
                (Some(Fact::Range { lo, hi }), Some(b)) if lo <= hi && hi <= max_of(b) => Some((lo, hi)),
                (None, Some(b)) => match op {
                    Op::Const(_) => self.derive(&op, b),
                    _ => None,
                },
                _ => None,
            };
            let in_memory = match fact {
                Some(Fact::InMemory { size }) => Some(size),
                _ => None,
            };
            results.push(Def { value, fact });
            known.push(Known {
                v: value,
                ty,
                range,
                in_memory,
            });
        }
        let values = results.iter().map(|d| d.value).collect();
        self.insts.push(Inst {
            results: results.into(),
            op,
            span: None,
        });
        self.avail.extend(known);
        values
    }

    /// A store's access shape: a store never sign-extends (the verifier rejects the
    /// flag), so it is clear but in the rare invalid shapes.
    fn store_access(&mut self) -> MemAccess {
        let mut access = self.access();
        if !self.u.rare(10) {
            access.signed = false;
        }
        access
    }

    /// A memory access shape: valid for its type almost always.
    fn access(&mut self) -> MemAccess {
        let ty = self.u.num_type();
        if self.u.rare(10) {
            return MemAccess {
                ty,
                bytes: self.u.pick(&[0u8, 1, 2, 3, 4, 8, 16]),
                signed: self.u.chance(50),
            };
        }
        let widths: &[u8] = match ty {
            NumType::I32 => &[4, 1, 2],
            NumType::I64 => &[8, 1, 2, 4],
            NumType::F32 => &[4],
            NumType::F64 => &[8],
        };
        let bytes = self.u.pick(widths);
        let full = matches!(
            (ty, bytes),
            (NumType::I32 | NumType::F32, 4) | (NumType::I64 | NumType::F64, 8)
        );
        let signed = !full && self.u.chance(50);
        MemAccess { ty, bytes, signed }
    }

    /// An address: often a fresh in-range constant so that accesses get proven.
    fn address(&mut self) -> Value {
        let initial = self.dom.initial_bytes();
        if initial > 0 && self.u.chance(35) {
            let c = self.u.int_in_range(0..=initial + 8);
            let v = self.emit(Op::Const(Const::I32(c as u32 as i32)));
            if let Some(v) = v.first() {
                return *v;
            }
        }
        if self.u.chance(30) {
            // Prefer one the verifier knows something about.
            let cands: Vec<Value> = self
                .avail
                .iter()
                .filter(|k| k.ty == Type::I32 && (k.range.is_some() || k.in_memory.is_some()))
                .map(|k| k.v)
                .collect();
            if !cands.is_empty() {
                return cands[self.u.index(cands.len())];
            }
        }
        self.operand(&Type::I32)
    }

    fn offset(&mut self) -> u32 {
        match self.u.int_in_range(0u8..=9) {
            0..=6 => self.u.int_in_range(0..=16),
            7..=8 => self.u.int_in_range(0..=70_000),
            _ => self.u.bits32(),
        }
    }

    /// With a small probability, a type the operation is not defined on.
    fn maybe_wrong(&mut self, t: NumType) -> NumType {
        if self.u.rare(10) {
            self.u.num_type()
        } else {
            t
        }
    }

    fn inst(&mut self) {
        let kind = if self.u.chance(40) {
            self.u.pick(&CORE_KINDS)
        } else {
            self.u.pick(&OpKind::ALL)
        };
        let op = match kind {
            OpKind::Const => {
                let t = self.u.num_type();
                self.materialize(t.as_type());
                return;
            }
            OpKind::IntBinary => {
                let ty = self.u.int_type();
                let ty = self.maybe_wrong(ty);
                let op = self.u.pick(&INT_BINOPS);
                let a = self.num_operand(ty);
                let b = self.num_operand(ty);
                Op::Binary { op, ty, a, b }
            }
            OpKind::FloatBinary => {
                let ty = self.u.float_type();
                let ty = self.maybe_wrong(ty);
                let op = self.u.pick(&FLOAT_BINOPS);
                let a = self.num_operand(ty);
                let b = self.num_operand(ty);
                Op::Binary { op, ty, a, b }
            }
            OpKind::IntUnary => {
                let mut ty = self.u.int_type();
                let op = self.u.pick(&INT_UNOPS);
                if op == UnOp::Sext32 && !self.u.rare(100) {
                    ty = NumType::I64;
                }
                let ty = self.maybe_wrong(ty);
                let a = self.num_operand(ty);
                Op::Unary { op, ty, a }
            }
            OpKind::FloatUnary => {
                let ty = self.u.float_type();
                let ty = self.maybe_wrong(ty);
                let op = self.u.pick(&FLOAT_UNOPS);
                let a = self.num_operand(ty);
                Op::Unary { op, ty, a }
            }
            OpKind::Icmp => {
                let ty = self.u.int_type();
                let ty = self.maybe_wrong(ty);
                let cc = self.u.pick(&IntCC::ALL);
                let a = self.num_operand(ty);
                let b = self.num_operand(ty);
                Op::Icmp { cc, ty, a, b }
            }
            OpKind::Fcmp => {
                let ty = self.u.float_type();
                let ty = self.maybe_wrong(ty);
                let cc = self.u.pick(&FLOAT_CCS);
                let a = self.num_operand(ty);
                let b = self.num_operand(ty);
                Op::Fcmp { cc, ty, a, b }
            }
            OpKind::Select => {
                let caps: Vec<Signature> = self.dom.imports.iter().map(|i| i.sig.clone()).collect();
                let ty = val_type(self.u, &caps);
                let cond = self.operand(&Type::I32);
                let a = self.operand(&ty);
                let b = self.operand(&ty);
                Op::Select { ty, cond, a, b }
            }
            OpKind::Convert => {
                let (op, from, to) = if self.u.rare(30) {
                    (self.u.pick(&CONV_OPS), self.u.num_type(), self.u.num_type())
                } else {
                    self.u.pick(CONVERSIONS)
                };
                let a = self.num_operand(from);
                Op::Convert { op, from, to, a }
            }
            OpKind::Load => {
                let access = self.access();
                let addr = self.address();
                let offset = self.offset();
                Op::Load { access, addr, offset }
            }
            OpKind::Store => {
                let access = self.store_access();
                let value = self.num_operand(access.ty);
                let addr = self.address();
                let offset = self.offset();
                Op::Store {
                    access,
                    value,
                    addr,
                    offset,
                }
            }
            OpKind::MemorySize => Op::MemorySize,
            OpKind::MemoryGrow => Op::MemoryGrow {
                delta: self.operand(&Type::I32),
            },
            OpKind::MemoryCopy => {
                let dst = self.address();
                let src = self.address();
                let len = self.operand(&Type::I32);
                Op::MemoryCopy { dst, src, len }
            }
            OpKind::MemoryFill => {
                let dst = self.address();
                let byte = self.operand(&Type::I32);
                let len = self.operand(&Type::I32);
                Op::MemoryFill { dst, byte, len }
            }
            OpKind::Call => {
                let nf = self.dom.funcs.len();
                let func = if self.u.rare(30) { nf } else { self.u.index(nf) };
                let params = self
                    .dom
                    .funcs
                    .get(func)
                    .map(|f| f.sig.params.clone())
                    .unwrap_or_default();
                let mut args = Vec::new();
                for p in &params {
                    args.push(self.operand(p));
                }
                self.mangle_args(&mut args);
                Op::Call {
                    func: func as u32,
                    args,
                }
            }
            OpKind::CapGet => {
                let ni = self.dom.imports.len();
                if ni == 0 && !self.u.chance(10) {
                    return;
                }
                let import = if ni == 0 || self.u.rare(30) {
                    ni
                } else {
                    self.u.index(ni)
                };
                Op::CapGet { import: import as u32 }
            }
            OpKind::BufMake => {
                let ptr = self.address();
                let len = self.operand(&Type::I32);
                Op::BufMake { ptr, len }
            }
            OpKind::BufPtr => Op::BufPtr {
                buf: self.operand(&Type::Buf),
            },
            OpKind::BufLen => Op::BufLen {
                buf: self.operand(&Type::Buf),
            },
            OpKind::RegionNew => Op::RegionNew {
                len: self.operand(&Type::I32),
            },
            OpKind::RegionLen => Op::RegionLen {
                region: self.operand(&Type::Region),
            },
            OpKind::RegionFree => Op::RegionFree {
                region: self.operand(&Type::Region),
            },
            OpKind::RegionLoad => {
                let access = self.access();
                let region = self.operand(&Type::Region);
                let index = self.operand(&Type::I32);
                Op::RegionLoad { access, region, index }
            }
            OpKind::RegionStore => {
                let access = self.store_access();
                let value = self.num_operand(access.ty);
                let region = self.operand(&Type::Region);
                let index = self.operand(&Type::I32);
                Op::RegionStore {
                    access,
                    value,
                    region,
                    index,
                }
            }
            OpKind::RegionRead | OpKind::RegionWrite => {
                let region = self.operand(&Type::Region);
                let index = self.operand(&Type::I32);
                let addr = self.address();
                let len = self.operand(&Type::I32);
                region_transfer(matches!(kind, OpKind::RegionRead), region, index, addr, len)
            }
            OpKind::RefNull => {
                let ty = if self.u.chance(50) {
                    Type::FuncRef
                } else {
                    Type::ExternRef
                };
                self.materialize(&ty);
                return;
            }
            OpKind::RefIsNull => {
                let ty = if self.u.chance(50) {
                    Type::FuncRef
                } else {
                    Type::ExternRef
                };
                Op::RefIsNull { a: self.operand(&ty) }
            }
            OpKind::RefFunc => {
                let nf = self.dom.funcs.len();
                let func = if self.u.rare(30) { nf } else { self.u.index(nf) };
                Op::RefFunc { func: func as u32 }
            }
            OpKind::TableGet => {
                let (table, _) = self.table();
                Op::TableGet {
                    table,
                    index: self.table_index(table),
                }
            }
            OpKind::TableSet | OpKind::TableFill | OpKind::TableGrow => {
                let (table, elem) = self.table();
                let value = self.operand(elem.as_type());
                let at = self.table_index(table);
                match kind {
                    OpKind::TableSet => Op::TableSet {
                        table,
                        index: at,
                        value,
                    },
                    OpKind::TableFill => Op::TableFill {
                        table,
                        dst: at,
                        value,
                        len: self.operand(&Type::I32),
                    },
                    _ => Op::TableGrow {
                        table,
                        init: value,
                        delta: self.operand(&Type::I32),
                    },
                }
            }
            OpKind::TableSize => Op::TableSize { table: self.table().0 },
            OpKind::TableInit => {
                let (table, _) = self.table();
                let ne = self.dom.elems.len();
                let segment = if ne == 0 || self.u.rare(30) {
                    ne
                } else {
                    self.u.index(ne)
                } as u32;
                let dst = self.table_index(table);
                let src = self.operand(&Type::I32);
                let len = self.operand(&Type::I32);
                Op::TableInit {
                    table,
                    segment,
                    dst,
                    src,
                    len,
                }
            }
            OpKind::TableCopy => {
                let (dst_table, _) = self.table();
                let (src_table, _) = self.table();
                let dst = self.table_index(dst_table);
                let src = self.table_index(src_table);
                let len = self.operand(&Type::I32);
                Op::TableCopy {
                    dst_table,
                    src_table,
                    dst,
                    src,
                    len,
                }
            }
            OpKind::ElemDrop => {
                let ne = self.dom.elems.len();
                let segment = if ne == 0 || self.u.rare(30) {
                    ne
                } else {
                    self.u.index(ne)
                } as u32;
                Op::ElemDrop { segment }
            }
            OpKind::CallIndirect => {
                let (table, _) = self.table();
                let index = self.table_index(table);
                // Usually the signature of a function of the domain, so that some
                // calls reach one.
                let sig = if self.u.chance(80) {
                    self.dom.funcs[self.u.index(self.dom.funcs.len())].sig.clone()
                } else {
                    signature(self.u, &[])
                };
                let mut args = Vec::new();
                for p in &sig.params {
                    args.push(self.operand(p));
                }
                self.mangle_args(&mut args);
                Op::CallIndirect {
                    table,
                    sig: Box::new(sig),
                    index,
                    args,
                }
            }
        };
        self.emit(op);
    }

    /// A table of the domain and its type; rarely one past them (funcref).
    fn table(&mut self) -> (u32, RefType) {
        let n = self.dom.tables.len();
        if n == 0 || self.u.rare(30) {
            return (n as u32, RefType::Func);
        }
        let t = self.u.index(n);
        (t as u32, self.dom.tables[t].elem)
    }

    /// An index into table `table`: usually within its initial size, sometimes just
    /// past it, sometimes anything.
    fn table_index(&mut self, table: u32) -> Value {
        let n = self.dom.tables.get(table as usize).map_or(0, |t| t.init.len()) as i32;
        let i = match self.u.below(10) {
            0..=6 if n > 0 => self.u.int_in_range(0..=n - 1),
            7..=8 => n,
            _ => return self.operand(&Type::I32),
        };
        match self.emit(Op::Const(Const::I32(i))).first() {
            Some(&v) => v,
            None => self.operand(&Type::I32),
        }
    }

    /// Rarely, one argument too many or too few.
    fn mangle_args(&mut self, args: &mut Vec<Value>) {
        if self.u.rare(10) {
            if args.is_empty() || self.u.chance(50) {
                let v = self.operand(&Type::I32);
                args.push(v);
            } else {
                args.pop();
            }
        }
    }

    // --- terminators ---------------------------------------------------------------

    /// Arguments for the parameters of block `t`, preferring values that satisfy
    /// the parameter's fact.
    fn edge(&mut self, t: u32) -> BlockCall {
        let params = self.params.get(t as usize).cloned().unwrap_or_default();
        let initial = self.dom.initial_bytes();
        let mut args = Vec::new();
        for p in &params {
            let fitting: Vec<Value> = match p.fact {
                Some(Fact::Range { lo, hi }) => self
                    .avail
                    .iter()
                    .filter(|k| k.ty == p.ty && k.range.is_some_and(|(l, h)| lo <= l && h <= hi))
                    .map(|k| k.v)
                    .collect(),
                Some(Fact::InMemory { size }) => self
                    .avail
                    .iter()
                    .filter(|k| {
                        k.ty == p.ty
                            && (k.in_memory.is_some_and(|m| m >= size)
                                || k.range
                                    .is_some_and(|(_, h)| h as u128 + size as u128 <= initial as u128))
                    })
                    .map(|k| k.v)
                    .collect(),
                _ => Vec::new(),
            };
            let v = match p.fact {
                Some(_) if !fitting.is_empty() && !self.u.rare(300) => fitting[self.u.index(fitting.len())],
                Some(fact) if !self.u.rare(300) => self.fitting_const(&p.ty, fact),
                _ => self.operand(&p.ty),
            };
            args.push(v);
        }
        self.mangle_args(&mut args);
        BlockCall {
            block: BlockId(t),
            args,
        }
    }

    /// A constant the verifier sees satisfies `fact` (when one exists).
    fn fitting_const(&mut self, ty: &Type, fact: Fact) -> Value {
        let c = match fact {
            Fact::Range { lo, hi } => self.u.int_in_range(lo..=hi),
            Fact::InMemory { size } => self
                .u
                .int_in_range(0..=self.dom.initial_bytes().saturating_sub(size as u64)),
            Fact::Lt(_) => 0,
        };
        let op = match ty {
            Type::I32 => Op::Const(Const::I32(c as u32 as i32)),
            Type::I64 => Op::Const(Const::I64(c as i64)),
            _ => return self.operand(ty),
        };
        match self.emit(op).first() {
            Some(v) => *v,
            None => self.operand(ty),
        }
    }

    fn terminator(&mut self, b: usize) -> Terminator {
        match self.skels[b].clone() {
            Skel::Jump(t) => Terminator::Jump(self.edge(t)),
            Skel::Brif(t, e) => {
                let mut icmp = None;
                let cond = if self.u.chance(55) {
                    // A fresh comparison, so the edges can refine a bound.
                    let ty = self.u.int_type();
                    let cc = if self.u.chance(50) {
                        IntCC::Ult
                    } else {
                        self.u.pick(&IntCC::ALL)
                    };
                    let a = self.num_operand(ty);
                    let bv = self.num_operand(ty);
                    let (a, bv) = if self.u.chance(20) { (bv, a) } else { (a, bv) };
                    icmp = Some((cc, a, bv));
                    let op = Op::Icmp { cc, ty, a, b: bv };
                    match self.emit(op).first() {
                        Some(v) => *v,
                        None => self.operand(&Type::I32),
                    }
                } else {
                    self.operand(&Type::I32)
                };
                let mut then = self.edge(t);
                // Pass the compared value along, so a bound on it can be proven.
                if let Some((_, a, _)) = icmp {
                    let tys: Vec<Type> = self
                        .params
                        .get(t as usize)
                        .map(|ps| ps.iter().map(|p| p.ty.clone()).collect())
                        .unwrap_or_default();
                    let a_ty = self.avail.iter().rev().find(|k| k.v == a).map(|k| k.ty.clone());
                    for (i, ty) in tys.iter().enumerate() {
                        if Some(ty) == a_ty.as_ref() && i < then.args.len() && self.u.chance(60) {
                            then.args[i] = a;
                        }
                    }
                }
                if let Some((cc, a, bv)) = icmp {
                    self.brifs.push(BrifRecord {
                        then: then.clone(),
                        cc,
                        a,
                        b: bv,
                    });
                }
                let else_ = self.edge(e);
                Terminator::Brif { cond, then, else_ }
            }
            Skel::BrTable(d, ts) => {
                let index = self.operand(&Type::I32);
                let default = self.edge(d);
                let mut targets = Vec::new();
                for t in ts {
                    targets.push(self.edge(t));
                }
                Terminator::BrTable {
                    index,
                    default,
                    targets,
                }
            }
            Skel::Return => {
                let results = self.plan().sig.results.clone();
                let mut vals = Vec::new();
                for r in &results {
                    vals.push(self.operand(r));
                }
                self.mangle_args(&mut vals);
                Terminator::Return(vals)
            }
            Skel::CallCap { import, ok, fail } => {
                let sig = self.dom.imports.get(import as usize).map(|i| i.sig.clone());
                let cap = match &sig {
                    Some(sig) => self.operand(&Type::Cap(Box::new(sig.clone()))),
                    None => self.wrong_operand(),
                };
                let mut args = Vec::new();
                for p in sig.map(|s| s.params).unwrap_or_default() {
                    args.push(self.operand(&p));
                }
                self.mangle_args(&mut args);
                Terminator::CallCap {
                    cap,
                    args,
                    ok: BlockId(ok),
                    fail: BlockId(fail),
                }
            }
            Skel::Trap => Terminator::Trap,
        }
    }

    /// Give the parameters that asked for an `lt` fact a bound: the other operand of
    /// a comparison that decides an edge into the block with this argument, if any;
    /// else any integer of a dominating block.
    fn resolve_lt(&mut self, blocks: &mut [Block], doms: &[u32]) {
        for p in std::mem::take(&mut self.pending_lt) {
            // `brif (icmp.ult x, n), blockT(x)` proves `x < n` in blockT.
            let from_brif = self.brifs.iter().find_map(|r| {
                let into = r.then.block.0 as usize == p.block;
                let arg = r.then.args.get(p.param);
                match r.cc {
                    IntCC::Ult if into && arg == Some(&r.a) && r.a != r.b => Some(r.b),
                    IntCC::Ugt if into && arg == Some(&r.b) && r.a != r.b => Some(r.a),
                    _ => None,
                }
            });
            let bound = match from_brif {
                Some(b) => Some(b),
                None if !self.u.chance(20) => None,
                None => {
                    let cands: Vec<Value> = (0..blocks.len())
                        .filter(|&d| d != p.block && doms[p.block] & (1 << d) != 0)
                        .flat_map(|d| self.defs[d].iter())
                        .filter(|k| k.ty.int_bits().is_some())
                        .map(|k| k.v)
                        .collect();
                    if cands.is_empty() {
                        None
                    } else {
                        Some(cands[self.u.index(cands.len())])
                    }
                }
            };
            if let Some(n) = bound {
                blocks[p.block].params[p.param].fact = Some(Fact::Lt(n));
            }
        }
    }
}

/// Dominator sets as bit masks (at most 32 blocks); an unreachable block (or one
/// reached only through out-of-range targets) dominates only itself.
fn successors(skels: &[Skel]) -> Vec<Vec<usize>> {
    let n = skels.len();
    skels
        .iter()
        .map(|s| s.targets().into_iter().map(|t| t as usize).filter(|&t| t < n).collect())
        .collect()
}

fn reachable(skels: &[Skel]) -> Vec<bool> {
    let succ = successors(skels);
    let mut reachable = vec![false; skels.len()];
    let mut stack = vec![0];
    reachable[0] = true;
    while let Some(b) = stack.pop() {
        for &s in &succ[b] {
            if !reachable[s] {
                reachable[s] = true;
                stack.push(s);
            }
        }
    }
    reachable
}

fn dominators(skels: &[Skel]) -> Vec<u32> {
    let n = skels.len();
    let succ = successors(skels);
    let reachable = reachable(skels);
    let all: u32 = if n >= 32 { u32::MAX } else { (1 << n) - 1 };
    let mut dom: Vec<u32> = (0..n)
        .map(|b| if b == 0 || !reachable[b] { 1 << b } else { all })
        .collect();
    loop {
        let mut changed = false;
        for b in 1..n {
            if !reachable[b] {
                continue;
            }
            let mut meet = all;
            for p in 0..n {
                if reachable[p] && succ[p].contains(&b) {
                    meet &= dom[p];
                }
            }
            let new = meet | (1 << b);
            if new != dom[b] {
                dom[b] = new;
                changed = true;
            }
        }
        if !changed {
            return dom;
        }
    }
}
