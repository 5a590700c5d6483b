//! Proptest generators of structurally arbitrary `Module`s, shared by the round-trip tests
//! of the binary codec and of the text format.
//!
//! The modules are not valid programs (types and values are unrelated), but they are
//! printable as text: names are unique identifiers that are not keywords, `call`,
//! `cap.get`, `global.get`/`global.set` and table indices and branch targets are in
//! range, a global's constant has the global's type, every function has a block,
//! `Fact::Range` has `lo <= hi`, memory `initial <= maximum`, memory accesses are
//! 1/2/4/8 bytes wide within an integer type and full width for a float type,
//! `signed` only on narrow integer loads, and
//! `Type::Cap` nests at most [`MAX_CAP_DEPTH`] deep. Spans are only generated on request.
//!
//! [`kinds_in`] and [`ALL_KINDS`] let a test check that every variant gets generated;
//! when the model grows a variant, `kinds_in` stops compiling: add a generator arm too.
//!
//! Independent of the generators' shared core (`capjit_testgen`, used by the
//! differential, fuzz and bench generators) on purpose: these strategies pick no
//! operand from a scope and build no control flow (values, types and targets are
//! unrelated, the modules invalid), they must reach every variant and field value
//! the formats can hold, and proptest shrinks them. Nor could they use it: it
//! depends on `capjit-ir`, so as a dev-dependency here it would bring a second copy
//! of the IR types into these tests.

use std::collections::{BTreeSet, HashSet};

use capjit_ir::*;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::Union;

/// The deepest `Type::Cap` nesting generated.
pub const MAX_CAP_DEPTH: u32 = 2;

/// Words a name must not be: keywords, types, and the host's `restart`.
const RESERVED: &[&str] = &[
    "host", "domain", "func", "export", "import", "memory", "inbox", "data", "restart", "file", "i32", "i64", "f32",
    "f64", "cap", "region", "buf", "global", "mut", "table",
];

/// Arbitrary modules without spans, printable as text.
pub fn arb_module() -> impl Strategy<Value = Module> {
    arb_module_with(false)
}

/// Arbitrary modules; `spans` also generates source spans (which the text format drops).
pub fn arb_module_with(spans: bool) -> impl Strategy<Value = Module> {
    vec(arb_domain(spans), 0..3).prop_map(|mut domains| {
        make_unique(domains.iter_mut().map(|d| &mut d.name));
        Module { domains }
    })
}

/// What the generators of one function may refer to.
#[derive(Clone, Copy, Debug)]
struct Scope {
    spans: bool,
    functions: u32,
    imports: u32,
    globals: u32,
    blocks: u32,
}

fn arb_domain(spans: bool) -> impl Strategy<Value = Domain> {
    (
        arb_name(),
        arb_memory(),
        option::of(arb_inbox()),
        vec(arb_data_segment(), 0..3),
        vec(arb_import(spans), 0..3),
        vec(arb_global(spans), 0..3),
        0..4usize,
        arb_span(spans),
    )
        .prop_flat_map(move |(name, memory, inbox, data, imports, globals, functions, span)| {
            let scope = Scope {
                spans,
                functions: functions as u32,
                imports: imports.len() as u32,
                globals: globals.len() as u32,
                blocks: 0,
            };
            let entry = if functions == 0 {
                Just(None).boxed()
            } else {
                option::of(0..functions as u32).boxed()
            };
            let passive = vec(vec(any::<u8>(), 0..8), 0..3);
            let table =
                (arb_ref_type(), vec(entry.clone(), 0..4), option::of(0..8u32)).prop_map(|(elem, init, extra)| {
                    let maximum = init.len() as u32 + extra.unwrap_or(0);
                    Table { elem, init, maximum }
                });
            let elem = (arb_ref_type(), vec(entry, 0..4)).prop_map(|(elem, items)| ElemSegment { elem, items });
            (
                vec(arb_function(scope), functions),
                vec(table, 0..3),
                vec(elem, 0..3),
                passive,
            )
                .prop_map(move |(functions, tables, passive_elems, passive_data)| {
                    let mut domain = Domain {
                        name: name.clone(),
                        memory,
                        inbox,
                        data: data.clone(),
                        passive_data,
                        imports: imports.clone(),
                        globals: globals.clone(),
                        tables,
                        passive_elems,
                        functions,
                        span,
                    };
                    make_unique(domain.imports.iter_mut().map(|i| &mut i.name));
                    make_unique(domain.globals.iter_mut().map(|g| &mut g.name));
                    make_unique(domain.functions.iter_mut().map(|f| &mut f.name));
                    domain
                })
        })
}

/// A global whose initial constant has its type (any bits, NaN payloads included).
fn arb_global(spans: bool) -> impl Strategy<Value = Global> {
    (arb_name(), arb_num_type(), any::<bool>(), any::<u64>(), arb_span(spans)).prop_map(
        |(name, ty, mutable, bits, span)| {
            let init = match ty {
                NumType::I32 => Const::I32(bits as i32),
                NumType::I64 => Const::I64(bits as i64),
                NumType::F32 => Const::F32(bits as u32),
                NumType::F64 => Const::F64(bits),
            };
            Global {
                name,
                ty,
                mutable,
                init,
                span,
            }
        },
    )
}

/// An identifier `[A-Za-z_][A-Za-z0-9_]*` that is not reserved, `vN` or `blockN`.
pub fn arb_name() -> impl Strategy<Value = String> {
    "[A-Za-z_][A-Za-z0-9_]{0,7}".prop_map(|name| if is_reserved(&name) { name + "_" } else { name })
}

fn is_reserved(name: &str) -> bool {
    let numbered = |prefix: &str| {
        name.strip_prefix(prefix)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    RESERVED.contains(&name) || numbered("v") || numbered("block")
}

/// Renames duplicates (`a`, `a` -> `a`, `a_1`) so that names resolve unambiguously.
fn make_unique<'a>(names: impl Iterator<Item = &'a mut String>) {
    let mut seen = HashSet::new();
    for (i, name) in names.enumerate() {
        while !seen.insert(name.clone()) {
            name.push_str(&format!("_{i}"));
        }
    }
}

fn arb_span(spans: bool) -> BoxedStrategy<Option<Span>> {
    if spans {
        option::of((any::<u32>(), any::<u32>()).prop_map(|(start, end)| Span { start, end })).boxed()
    } else {
        Just(None).boxed()
    }
}

fn arb_memory() -> impl Strategy<Value = Memory> {
    (any::<u32>(), any::<u32>()).prop_map(|(a, b)| Memory {
        initial: a.min(b),
        maximum: a.max(b),
    })
}

fn arb_inbox() -> impl Strategy<Value = Inbox> {
    (any::<u32>(), any::<u32>()).prop_map(|(offset, size)| Inbox { offset, size })
}

fn arb_data_segment() -> impl Strategy<Value = DataSegment> {
    (any::<u32>(), vec(any::<u8>(), 0..8)).prop_map(|(offset, bytes)| DataSegment { offset, bytes })
}

fn arb_import(spans: bool) -> impl Strategy<Value = Import> {
    (
        arb_name(),
        arb_import_source(),
        arb_signature(MAX_CAP_DEPTH),
        arb_span(spans),
    )
        .prop_map(|(name, source, sig, span)| Import {
            name,
            source,
            sig,
            span,
        })
}

fn arb_import_source() -> impl Strategy<Value = ImportSource> {
    prop_oneof![
        (arb_name(), arb_name()).prop_map(|(domain, function)| ImportSource::Export { domain, function }),
        arb_name().prop_map(|function| ImportSource::Host { function }),
        arb_name().prop_map(|domain| ImportSource::Restart { domain }),
        arb_name().prop_map(|name| ImportSource::File { name }),
    ]
}

/// A signature whose types nest `Type::Cap` at most `cap_depth` deep.
pub fn arb_signature(cap_depth: u32) -> BoxedStrategy<Signature> {
    (vec(arb_type(cap_depth), 0..3), vec(arb_type(cap_depth), 0..3))
        .prop_map(|(params, results)| Signature { params, results })
        .boxed()
}

/// A type that nests `Type::Cap` at most `cap_depth` deep.
pub fn arb_type(cap_depth: u32) -> BoxedStrategy<Type> {
    let leaf = select(vec![
        Type::I32,
        Type::I64,
        Type::F32,
        Type::F64,
        Type::Region,
        Type::Buf,
        Type::FuncRef,
        Type::ExternRef,
    ]);
    if cap_depth == 0 {
        return leaf.boxed();
    }
    let cap = arb_signature(cap_depth - 1).prop_map(|sig| Type::Cap(Box::new(sig)));
    prop_oneof![4 => leaf, 1 => cap].boxed()
}

fn arb_ref_type() -> impl Strategy<Value = RefType> {
    select(vec![RefType::Func, RefType::Extern])
}

fn arb_num_type() -> impl Strategy<Value = NumType> {
    select(vec![NumType::I32, NumType::I64, NumType::F32, NumType::F64])
}

fn arb_value() -> impl Strategy<Value = Value> {
    prop_oneof![0..16u32, any::<u32>()].prop_map(Value)
}

fn arb_fact() -> impl Strategy<Value = Option<Fact>> {
    option::of(prop_oneof![
        (any::<u64>(), any::<u64>()).prop_map(|(a, b)| Fact::Range {
            lo: a.min(b),
            hi: a.max(b),
        }),
        arb_value().prop_map(Fact::Lt),
        any::<u32>().prop_map(|size| Fact::InMemory { size }),
    ])
}

fn arb_function(scope: Scope) -> impl Strategy<Value = Function> {
    (
        arb_name(),
        any::<bool>(),
        arb_signature(MAX_CAP_DEPTH),
        1..4u32,
        arb_span(scope.spans),
    )
        .prop_flat_map(move |(name, exported, sig, blocks, span)| {
            let scope = Scope { blocks, ..scope };
            vec(arb_block(scope), blocks as usize).prop_map(move |blocks| Function {
                name: name.clone(),
                exported,
                sig: sig.clone(),
                blocks,
                span,
            })
        })
}

fn arb_block(scope: Scope) -> impl Strategy<Value = Block> {
    let param =
        (arb_value(), arb_type(MAX_CAP_DEPTH), arb_fact()).prop_map(|(value, ty, fact)| BlockParam { value, ty, fact });
    (
        vec(param, 0..3),
        vec(arb_inst(scope), 0..5),
        arb_terminator(scope),
        arb_span(scope.spans),
    )
        .prop_map(|(params, insts, term, term_span)| Block {
            params,
            insts,
            term,
            term_span,
        })
}

fn arb_inst(scope: Scope) -> impl Strategy<Value = Inst> {
    let def = (arb_value(), arb_fact()).prop_map(|(value, fact)| Def { value, fact });
    (vec(def, 0..3), arb_op(scope), arb_span(scope.spans)).prop_map(|(results, op, span)| Inst {
        results: results.into(),
        op,
        span,
    })
}

fn arb_const() -> impl Strategy<Value = Const> {
    prop_oneof![
        any::<i32>().prop_map(Const::I32),
        any::<i64>().prop_map(Const::I64),
        any::<u32>().prop_map(Const::F32),
        any::<u64>().prop_map(Const::F64),
    ]
}

fn arb_bin_op() -> impl Strategy<Value = BinOp> {
    use BinOp::*;
    select(vec![
        Iadd, Isub, Imul, Sdiv, Udiv, Srem, Urem, Band, Bor, Bxor, Ishl, Ushr, Sshr, Rotl, Rotr, Fadd, Fsub, Fmul,
        Fdiv, Fmin, Fmax, Fcopysign,
    ])
}

fn arb_un_op() -> impl Strategy<Value = UnOp> {
    use UnOp::*;
    select(vec![
        Clz, Ctz, Popcnt, Sext8, Sext16, Sext32, Fneg, Fabs, Fsqrt, Fceil, Ffloor, Ftrunc, Fnearest,
    ])
}

fn arb_int_cc() -> impl Strategy<Value = IntCC> {
    use IntCC::*;
    select(vec![Eq, Ne, Slt, Sle, Sgt, Sge, Ult, Ule, Ugt, Uge])
}

fn arb_float_cc() -> impl Strategy<Value = FloatCC> {
    use FloatCC::*;
    select(vec![Eq, Ne, Lt, Le, Gt, Ge])
}

fn arb_conv_op() -> impl Strategy<Value = ConvOp> {
    use ConvOp::*;
    select(vec![
        Wrap, Uextend, Sextend, FtoSint, FtoUint, FtoSintSat, FtoUintSat, SintToF, UintToF, Promote, Demote, Bitcast,
    ])
}

/// A 1/2/4/8-byte access within an integer type, full width for a float type;
/// `signed` only for narrow integer loads.
fn arb_access(load: bool) -> impl Strategy<Value = MemAccess> {
    (arb_num_type(), select(vec![1u8, 2, 4, 8]), any::<bool>()).prop_map(move |(ty, bytes, signed)| {
        let bytes = if ty.is_int() { bytes.min(ty.bytes()) } else { ty.bytes() };
        let narrow_int_load = load && ty.is_int() && bytes < ty.bytes();
        MemAccess {
            ty,
            bytes,
            signed: signed && narrow_int_load,
        }
    })
}

fn arb_op(scope: Scope) -> impl Strategy<Value = Op> {
    let v = arb_value;
    let mut ops = vec![
        arb_const().prop_map(Op::Const).boxed(),
        (arb_bin_op(), arb_num_type(), v(), v())
            .prop_map(|(op, ty, a, b)| Op::Binary { op, ty, a, b })
            .boxed(),
        (arb_un_op(), arb_num_type(), v())
            .prop_map(|(op, ty, a)| Op::Unary { op, ty, a })
            .boxed(),
        (arb_int_cc(), arb_num_type(), v(), v())
            .prop_map(|(cc, ty, a, b)| Op::Icmp { cc, ty, a, b })
            .boxed(),
        (arb_float_cc(), arb_num_type(), v(), v())
            .prop_map(|(cc, ty, a, b)| Op::Fcmp { cc, ty, a, b })
            .boxed(),
        (arb_type(MAX_CAP_DEPTH), v(), v(), v())
            .prop_map(|(ty, cond, a, b)| Op::Select { ty, cond, a, b })
            .boxed(),
        (arb_conv_op(), arb_num_type(), arb_num_type(), v())
            .prop_map(|(op, from, to, a)| Op::Convert { op, from, to, a })
            .boxed(),
        (arb_access(true), v(), any::<u32>())
            .prop_map(|(access, addr, offset)| Op::Load { access, addr, offset })
            .boxed(),
        (arb_access(false), v(), v(), any::<u32>())
            .prop_map(|(access, value, addr, offset)| Op::Store {
                access,
                value,
                addr,
                offset,
            })
            .boxed(),
        Just(Op::MemorySize).boxed(),
        v().prop_map(|delta| Op::MemoryGrow { delta }).boxed(),
        (v(), v(), v())
            .prop_map(|(dst, src, len)| Op::MemoryCopy { dst, src, len })
            .boxed(),
        (v(), v(), v())
            .prop_map(|(dst, byte, len)| Op::MemoryFill { dst, byte, len })
            .boxed(),
        (any::<u32>(), v(), v(), v())
            .prop_map(|(segment, dst, src, len)| Op::MemoryInit { segment, dst, src, len })
            .boxed(),
        any::<u32>().prop_map(|segment| Op::DataDrop { segment }).boxed(),
        (0..3u32, 0..3u32, v(), v(), v())
            .prop_map(|(dst_table, src_table, dst, src, len)| Op::TableCopy {
                dst_table,
                src_table,
                dst,
                src,
                len,
            })
            .boxed(),
        arb_ref_type().prop_map(|ty| Op::RefNull { ty }).boxed(),
        v().prop_map(|a| Op::RefIsNull { a }).boxed(),
        (any::<u32>(), v())
            .prop_map(|(table, index)| Op::TableGet { table, index })
            .boxed(),
        (any::<u32>(), v(), v())
            .prop_map(|(table, index, value)| Op::TableSet { table, index, value })
            .boxed(),
        any::<u32>().prop_map(|table| Op::TableSize { table }).boxed(),
        (any::<u32>(), v(), v())
            .prop_map(|(table, init, delta)| Op::TableGrow { table, init, delta })
            .boxed(),
        (any::<u32>(), v(), v(), v())
            .prop_map(|(table, dst, value, len)| Op::TableFill { table, dst, value, len })
            .boxed(),
        (any::<u32>(), any::<u32>(), v(), v(), v())
            .prop_map(|(table, segment, dst, src, len)| Op::TableInit {
                table,
                segment,
                dst,
                src,
                len,
            })
            .boxed(),
        any::<u32>().prop_map(|segment| Op::ElemDrop { segment }).boxed(),
        (v(), v()).prop_map(|(ptr, len)| Op::BufMake { ptr, len }).boxed(),
        v().prop_map(|buf| Op::BufPtr { buf }).boxed(),
        v().prop_map(|buf| Op::BufLen { buf }).boxed(),
        v().prop_map(|len| Op::RegionNew { len }).boxed(),
        v().prop_map(|region| Op::RegionLen { region }).boxed(),
        (arb_access(true), v(), v())
            .prop_map(|(access, region, index)| Op::RegionLoad { access, region, index })
            .boxed(),
        (arb_access(false), v(), v(), v())
            .prop_map(|(access, value, region, index)| Op::RegionStore {
                access,
                value,
                region,
                index,
            })
            .boxed(),
        (v(), v(), v(), v())
            .prop_map(|(region, index, addr, len)| Op::RegionRead {
                region,
                index,
                addr,
                len,
            })
            .boxed(),
        (v(), v(), v(), v())
            .prop_map(|(region, index, addr, len)| Op::RegionWrite {
                region,
                index,
                addr,
                len,
            })
            .boxed(),
        v().prop_map(|region| Op::RegionFree { region }).boxed(),
        (0..3u32, arb_signature(MAX_CAP_DEPTH), v(), vec(v(), 0..3))
            .prop_map(|(table, sig, index, args)| Op::CallIndirect {
                table,
                sig: Box::new(sig),
                index,
                args,
            })
            .boxed(),
    ];
    if scope.globals > 0 {
        ops.push((0..scope.globals).prop_map(|global| Op::GlobalGet { global }).boxed());
        ops.push(
            (0..scope.globals, v())
                .prop_map(|(global, value)| Op::GlobalSet { global, value })
                .boxed(),
        );
    }
    if scope.functions > 0 {
        ops.push(
            (0..scope.functions, vec(v(), 0..3))
                .prop_map(|(func, args)| Op::Call { func, args })
                .boxed(),
        );
        ops.push((0..scope.functions).prop_map(|func| Op::RefFunc { func }).boxed());
    }
    if scope.imports > 0 {
        ops.push((0..scope.imports).prop_map(|import| Op::CapGet { import }).boxed());
    }
    Union::new(ops)
}

fn arb_block_id(scope: Scope) -> impl Strategy<Value = BlockId> {
    (0..scope.blocks).prop_map(BlockId)
}

fn arb_block_call(scope: Scope) -> impl Strategy<Value = BlockCall> {
    (arb_block_id(scope), vec(arb_value(), 0..3)).prop_map(|(block, args)| BlockCall { block, args })
}

fn arb_terminator(scope: Scope) -> impl Strategy<Value = Terminator> {
    let call = move || arb_block_call(scope);
    prop_oneof![
        call().prop_map(Terminator::Jump),
        (arb_value(), call(), call()).prop_map(|(cond, then, else_)| Terminator::Brif { cond, then, else_ }),
        (arb_value(), call(), vec(call(), 0..3)).prop_map(|(index, default, targets)| {
            Terminator::BrTable {
                index,
                default,
                targets,
            }
        }),
        vec(arb_value(), 0..3).prop_map(Terminator::Return),
        (
            arb_value(),
            vec(arb_value(), 0..3),
            arb_block_id(scope),
            arb_block_id(scope)
        )
            .prop_map(|(cap, args, ok, fail)| Terminator::CallCap { cap, args, ok, fail }),
        Just(Terminator::Trap),
        arb_value().prop_map(Terminator::TrapWith),
    ]
}

// ---------------------------------------------------------------------------------------
// Coverage: which variants a module contains
// ---------------------------------------------------------------------------------------

/// Every variant name `kinds_in` can report.
pub const ALL_KINDS: &[&str] = &[
    "ImportSource::Export",
    "ImportSource::Host",
    "ImportSource::Restart",
    "ImportSource::File",
    "Type::I32",
    "Type::I64",
    "Type::F32",
    "Type::F64",
    "Type::Cap",
    "Type::Region",
    "Type::Buf",
    "Type::FuncRef",
    "Type::ExternRef",
    "Fact::Range",
    "Fact::Lt",
    "Fact::InMemory",
    "Const::I32",
    "Const::I64",
    "Const::F32",
    "Const::F64",
    "Op::Binary",
    "Op::Unary",
    "Op::Icmp",
    "Op::Fcmp",
    "Op::Select",
    "Op::Convert",
    "Op::Load",
    "Op::Store",
    "Op::MemorySize",
    "Op::MemoryGrow",
    "Op::MemoryCopy",
    "Op::MemoryFill",
    "Op::MemoryInit",
    "Op::DataDrop",
    "Op::TableCopy",
    "Op::RefNull",
    "Op::RefIsNull",
    "Op::RefFunc",
    "Op::TableGet",
    "Op::TableSet",
    "Op::TableSize",
    "Op::TableGrow",
    "Op::TableFill",
    "Op::TableInit",
    "Op::ElemDrop",
    "Op::Call",
    "Op::CallIndirect",
    "Op::GlobalGet",
    "Op::GlobalSet",
    "Op::CapGet",
    "Op::BufMake",
    "Op::BufPtr",
    "Op::BufLen",
    "Op::RegionNew",
    "Op::RegionLen",
    "Op::RegionLoad",
    "Op::RegionStore",
    "Op::RegionRead",
    "Op::RegionWrite",
    "Op::RegionFree",
    "Terminator::Jump",
    "Terminator::Brif",
    "Terminator::BrTable",
    "Terminator::Return",
    "Terminator::CallCap",
    "Terminator::Trap",
    "Terminator::TrapWith",
    "Global::I32",
    "Global::I64",
    "Global::F32",
    "Global::F64",
    "Global::mut",
    "Table::function",
    "Table::empty",
    "Table::funcref",
    "Table::externref",
    "Elem::funcref",
    "Elem::externref",
];

/// The names of the enum variants (of `ALL_KINDS`) that occur in `m`.
pub fn kinds_in(m: &Module) -> BTreeSet<&'static str> {
    let mut kinds = BTreeSet::new();
    for d in &m.domains {
        for i in &d.imports {
            kinds.insert(import_source_kind(&i.source));
            signature_kinds(&i.sig, &mut kinds);
        }
        for g in &d.globals {
            kinds.insert(match g.ty {
                NumType::I32 => "Global::I32",
                NumType::I64 => "Global::I64",
                NumType::F32 => "Global::F32",
                NumType::F64 => "Global::F64",
            });
            if g.mutable {
                kinds.insert("Global::mut");
            }
        }
        for t in &d.tables {
            kinds.insert(if t.elem == RefType::Func {
                "Table::funcref"
            } else {
                "Table::externref"
            });
        }
        for s in &d.passive_elems {
            kinds.insert(if s.elem == RefType::Func {
                "Elem::funcref"
            } else {
                "Elem::externref"
            });
        }
        let entries = d.tables.iter().flat_map(|t| &t.init);
        for entry in entries.chain(d.passive_elems.iter().flat_map(|s| &s.items)) {
            kinds.insert(if entry.is_some() {
                "Table::function"
            } else {
                "Table::empty"
            });
        }
        for f in &d.functions {
            signature_kinds(&f.sig, &mut kinds);
            for b in &f.blocks {
                block_kinds(b, &mut kinds);
            }
        }
    }
    kinds
}

fn block_kinds(b: &Block, kinds: &mut BTreeSet<&'static str>) {
    for p in &b.params {
        type_kinds(&p.ty, kinds);
        kinds.extend(p.fact.as_ref().map(fact_kind));
    }
    for inst in &b.insts {
        kinds.extend(inst.results.iter().filter_map(|d| d.fact.as_ref().map(fact_kind)));
        kinds.insert(op_kind(&inst.op));
        match &inst.op {
            Op::Select { ty, .. } => type_kinds(ty, kinds),
            Op::CallIndirect { sig, .. } => signature_kinds(sig, kinds),
            _ => {}
        }
    }
    kinds.insert(terminator_kind(&b.term));
}

fn signature_kinds(sig: &Signature, kinds: &mut BTreeSet<&'static str>) {
    for ty in sig.params.iter().chain(&sig.results) {
        type_kinds(ty, kinds);
    }
}

fn type_kinds(ty: &Type, kinds: &mut BTreeSet<&'static str>) {
    let kind = match ty {
        Type::I32 => "Type::I32",
        Type::I64 => "Type::I64",
        Type::F32 => "Type::F32",
        Type::F64 => "Type::F64",
        Type::Cap(sig) => {
            signature_kinds(sig, kinds);
            "Type::Cap"
        }
        Type::Region => "Type::Region",
        Type::Buf => "Type::Buf",
        Type::FuncRef => "Type::FuncRef",
        Type::ExternRef => "Type::ExternRef",
    };
    kinds.insert(kind);
}

fn import_source_kind(source: &ImportSource) -> &'static str {
    match source {
        ImportSource::Export { .. } => "ImportSource::Export",
        ImportSource::Host { .. } => "ImportSource::Host",
        ImportSource::Restart { .. } => "ImportSource::Restart",
        ImportSource::File { .. } => "ImportSource::File",
    }
}

fn fact_kind(fact: &Fact) -> &'static str {
    match fact {
        Fact::Range { .. } => "Fact::Range",
        Fact::Lt(_) => "Fact::Lt",
        Fact::InMemory { .. } => "Fact::InMemory",
    }
}

fn op_kind(op: &Op) -> &'static str {
    match op {
        Op::Const(Const::I32(_)) => "Const::I32",
        Op::Const(Const::I64(_)) => "Const::I64",
        Op::Const(Const::F32(_)) => "Const::F32",
        Op::Const(Const::F64(_)) => "Const::F64",
        Op::Binary { .. } => "Op::Binary",
        Op::Unary { .. } => "Op::Unary",
        Op::Icmp { .. } => "Op::Icmp",
        Op::Fcmp { .. } => "Op::Fcmp",
        Op::Select { .. } => "Op::Select",
        Op::Convert { .. } => "Op::Convert",
        Op::Load { .. } => "Op::Load",
        Op::Store { .. } => "Op::Store",
        Op::MemorySize => "Op::MemorySize",
        Op::MemoryGrow { .. } => "Op::MemoryGrow",
        Op::MemoryCopy { .. } => "Op::MemoryCopy",
        Op::MemoryFill { .. } => "Op::MemoryFill",
        Op::MemoryInit { .. } => "Op::MemoryInit",
        Op::DataDrop { .. } => "Op::DataDrop",
        Op::TableCopy { .. } => "Op::TableCopy",
        Op::RefNull { .. } => "Op::RefNull",
        Op::RefIsNull { .. } => "Op::RefIsNull",
        Op::RefFunc { .. } => "Op::RefFunc",
        Op::TableGet { .. } => "Op::TableGet",
        Op::TableSet { .. } => "Op::TableSet",
        Op::TableSize { .. } => "Op::TableSize",
        Op::TableGrow { .. } => "Op::TableGrow",
        Op::TableFill { .. } => "Op::TableFill",
        Op::TableInit { .. } => "Op::TableInit",
        Op::ElemDrop { .. } => "Op::ElemDrop",
        Op::Call { .. } => "Op::Call",
        Op::CallIndirect { .. } => "Op::CallIndirect",
        Op::GlobalGet { .. } => "Op::GlobalGet",
        Op::GlobalSet { .. } => "Op::GlobalSet",
        Op::CapGet { .. } => "Op::CapGet",
        Op::BufMake { .. } => "Op::BufMake",
        Op::BufPtr { .. } => "Op::BufPtr",
        Op::BufLen { .. } => "Op::BufLen",
        Op::RegionNew { .. } => "Op::RegionNew",
        Op::RegionLen { .. } => "Op::RegionLen",
        Op::RegionLoad { .. } => "Op::RegionLoad",
        Op::RegionStore { .. } => "Op::RegionStore",
        Op::RegionRead { .. } => "Op::RegionRead",
        Op::RegionWrite { .. } => "Op::RegionWrite",
        Op::RegionFree { .. } => "Op::RegionFree",
    }
}

fn terminator_kind(term: &Terminator) -> &'static str {
    match term {
        Terminator::Jump(_) => "Terminator::Jump",
        Terminator::Brif { .. } => "Terminator::Brif",
        Terminator::BrTable { .. } => "Terminator::BrTable",
        Terminator::Return(_) => "Terminator::Return",
        Terminator::CallCap { .. } => "Terminator::CallCap",
        Terminator::Trap => "Terminator::Trap",
        Terminator::TrapWith(_) => "Terminator::TrapWith",
    }
}
