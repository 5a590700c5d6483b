//! The binary codec: a compact, versioned byte format for [`Module`]s (`.cirb`).
//!
//! UNTRUSTED: like the text parser, `decode` only produces a `Module` that the verifier
//! re-checks. It must still be safe on hostile input: it never panics, never
//! allocates more than a constant factor of the input size (every count is checked
//! against the bytes left before anything is read), rejects overlong or overflowing
//! LEB128 integers, and bounds recursion (`Type::Cap` nesting, [`MAX_TYPE_DEPTH`]).
//! Every encoding it accepts is canonical: `encode(&decode(b)?) == b`.
//!
//! Layout (integers are unsigned LEB128 unless noted; `i32`/`i64` constants are signed
//! LEB128; float constants are their IEEE bits as unsigned LEB128):
//!
//! ```text
//! file        = "\0cir"  version:u32-little-endian (= 3)  section*
//! section     = tag:u8  length:u32  payload:[u8; length]   tags strictly increasing
//!   tag 1     = domains: vec(domain)                       required
//! vec(T)      = count:u32  T{count}
//! string      = vec(u8), valid UTF-8
//! flag        = 0x00 | 0x01          option(T) = flag T?      span = option(start:u32 end:u32)
//! domain      = name:string  initial:u32 maximum:u32  inbox:option(offset:u32 size:u32)
//!               data:vec(offset:u32 bytes:vec(u8))  imports:vec(import)
//!               globals:vec(global)  tables:vec(reftype entries maximum:u32)
//!               elems:vec(reftype entries)  functions:vec(function)  span
//! reftype     = 0 funcref | 1 externref         entries = vec(option(function:u32))
//! import      = name:string  source  sig  span
//! global      = name:string  type:u8 (numeric)  mutable:flag  init:const  span
//! const       = 0 i32 | 1 i64 | 2 f32 | 3 f64    (the tag, then the value as in `op`)
//! source      = 0 domain:string function:string | 1 function:string | 2 domain:string
//! sig         = params:vec(type)  results:vec(type)
//! type        = 0 i32 | 1 i64 | 2 f32 | 3 f64 | 4 sig (cap) | 5 region | 6 buf | 7 funcref | 8 externref
//! function    = name:string  exported:flag  sig  blocks:vec(block)  span
//! block       = params:vec(value type fact)  insts:vec(inst)  term  span
//! fact        = 0 (none) | 1 lo:u64 hi:u64 | 2 value (lt) | 3 size:u32 (in memory)
//! inst        = results:vec(value fact)  op  span
//! op          = tag:u8 operands     (see `op_tag`; sub-operators and types are one byte each;
//!                                    table and segment numbers are u32 before the values;
//!                                    `call_indirect` is table:u32 sig index:value args:vec(value))
//! access      = type:u8  bytes:u8  signed:flag
//! term        = tag:u8 operands     (see `term_tag`)
//! block_call  = block:u32  args:vec(value)
//! ```

use crate::model::*;
use thiserror::Error;

/// The first four bytes of every encoded module.
pub const MAGIC: [u8; 4] = *b"\0cir";
/// The format version this build writes and reads. Version 2 added globals and the
/// function table to each domain (and three opcodes, and the `trap v` terminator);
/// version 3 reference types, several tables and passive element segments. Older
/// versions are refused.
pub const VERSION: u32 = 3;
/// The deepest `Type::Cap` nesting `decode` accepts (a cap whose signature holds a cap ...).
pub const MAX_TYPE_DEPTH: usize = 16;

/// Section tags, in the order they must appear.
const SECTION_DOMAINS: u8 = 1;

/// Why a byte string is not a valid encoded module; `offset` is where the problem was found.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("at byte {offset}: bad magic (expected \"\\0cir\")")]
    BadMagic { offset: usize },
    #[error("at byte {offset}: unsupported version {version} (this build reads version {VERSION})")]
    UnsupportedVersion { offset: usize, version: u32 },
    #[error("at byte {offset}: truncated: expected {needed} more byte{}, found {available}", plural(*.needed))]
    Truncated {
        offset: usize,
        needed: usize,
        available: usize,
    },
    #[error("at byte {offset}: count {count} exceeds remaining input ({remaining} bytes)")]
    CountTooLarge {
        offset: usize,
        count: u32,
        remaining: usize,
    },
    #[error("at byte {offset}: section length {length} exceeds remaining input ({remaining} bytes)")]
    SectionTooLong {
        offset: usize,
        length: u32,
        remaining: usize,
    },
    #[error("at byte {offset}: {unused} unused byte{} at the end of section {tag}", plural(*.unused))]
    SectionNotConsumed { offset: usize, tag: u8, unused: usize },
    #[error("at byte {offset}: unknown section tag 0x{tag:02x}")]
    UnknownSection { offset: usize, tag: u8 },
    #[error("at byte {offset}: section {tag} is duplicated or out of order")]
    SectionOrder { offset: usize, tag: u8 },
    #[error("at byte {offset}: missing section {tag} ({name})")]
    MissingSection { offset: usize, tag: u8, name: &'static str },
    #[error("at byte {offset}: unknown {what} tag 0x{tag:02x}")]
    UnknownTag { offset: usize, what: &'static str, tag: u8 },
    #[error("at byte {offset}: flag byte must be 0 or 1, found 0x{byte:02x}")]
    InvalidFlag { offset: usize, byte: u8 },
    #[error("at byte {offset}: overlong LEB128 encoding")]
    OverlongLeb { offset: usize },
    #[error("at byte {offset}: LEB128 value does not fit in {ty}")]
    LebOverflow { offset: usize, ty: &'static str },
    #[error("at byte {offset}: invalid UTF-8 in string")]
    InvalidUtf8 { offset: usize },
    #[error("at byte {offset}: capability types nested deeper than {MAX_TYPE_DEPTH}")]
    TypeTooDeep { offset: usize },
}

impl DecodeError {
    /// The byte offset in the input where decoding failed.
    pub fn offset(&self) -> usize {
        match *self {
            DecodeError::BadMagic { offset }
            | DecodeError::UnsupportedVersion { offset, .. }
            | DecodeError::Truncated { offset, .. }
            | DecodeError::CountTooLarge { offset, .. }
            | DecodeError::SectionTooLong { offset, .. }
            | DecodeError::SectionNotConsumed { offset, .. }
            | DecodeError::UnknownSection { offset, .. }
            | DecodeError::SectionOrder { offset, .. }
            | DecodeError::MissingSection { offset, .. }
            | DecodeError::UnknownTag { offset, .. }
            | DecodeError::InvalidFlag { offset, .. }
            | DecodeError::OverlongLeb { offset }
            | DecodeError::LebOverflow { offset, .. }
            | DecodeError::InvalidUtf8 { offset }
            | DecodeError::TypeTooDeep { offset } => offset,
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

type Result<T> = std::result::Result<T, DecodeError>;

// ---------------------------------------------------------------------------------------
// Tags
// ---------------------------------------------------------------------------------------

/// Fieldless enums encoded as one byte. Generated by `tagged!` so that the encoder's
/// exhaustive `match` and the decoder's table come from the same list.
trait Tagged: Sized + Copy {
    /// What the tag names, for error messages ("unknown binary operator tag 0x..").
    const WHAT: &'static str;
    fn tag(self) -> u8;
    fn from_tag(tag: u8) -> Option<Self>;
}

macro_rules! tagged {
    ($ty:ident, $what:literal, { $($variant:ident = $tag:literal),+ $(,)? }) => {
        impl Tagged for $ty {
            const WHAT: &'static str = $what;
            fn tag(self) -> u8 {
                match self {
                    $($ty::$variant => $tag,)+
                }
            }
            fn from_tag(tag: u8) -> Option<Self> {
                match tag {
                    $($tag => Some($ty::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

tagged!(NumType, "numeric type", { I32 = 0, I64 = 1, F32 = 2, F64 = 3 });

tagged!(RefType, "reference type", { Func = 0, Extern = 1 });

tagged!(BinOp, "binary operator", {
    Iadd = 0, Isub = 1, Imul = 2, Sdiv = 3, Udiv = 4, Srem = 5, Urem = 6,
    Band = 7, Bor = 8, Bxor = 9, Ishl = 10, Ushr = 11, Sshr = 12, Rotl = 13, Rotr = 14,
    Fadd = 15, Fsub = 16, Fmul = 17, Fdiv = 18, Fmin = 19, Fmax = 20, Fcopysign = 21,
});

tagged!(UnOp, "unary operator", {
    Clz = 0, Ctz = 1, Popcnt = 2, Sext8 = 3, Sext16 = 4, Sext32 = 5,
    Fneg = 6, Fabs = 7, Fsqrt = 8, Fceil = 9, Ffloor = 10, Ftrunc = 11, Fnearest = 12,
});

tagged!(IntCC, "integer condition", {
    Eq = 0, Ne = 1, Slt = 2, Sle = 3, Sgt = 4, Sge = 5, Ult = 6, Ule = 7, Ugt = 8, Uge = 9,
});

tagged!(FloatCC, "float condition", { Eq = 0, Ne = 1, Lt = 2, Le = 3, Gt = 4, Ge = 5 });

tagged!(ConvOp, "conversion", {
    Wrap = 0, Uextend = 1, Sextend = 2, FtoSint = 3, FtoUint = 4, FtoSintSat = 5,
    FtoUintSat = 6, SintToF = 7, UintToF = 8, Promote = 9, Demote = 10, Bitcast = 11,
});

/// Tags of `Type`; the numeric ones agree with `NumType`'s.
mod type_tag {
    pub const I32: u8 = 0;
    pub const I64: u8 = 1;
    pub const F32: u8 = 2;
    pub const F64: u8 = 3;
    pub const CAP: u8 = 4;
    pub const REGION: u8 = 5;
    pub const BUF: u8 = 6;
    pub const FUNCREF: u8 = 7;
    pub const EXTERNREF: u8 = 8;
}

/// Tags of `Option<Fact>`: the option and the fact share one byte.
mod fact_tag {
    pub const NONE: u8 = 0;
    pub const RANGE: u8 = 1;
    pub const LT: u8 = 2;
    pub const IN_MEMORY: u8 = 3;
}

mod source_tag {
    pub const EXPORT: u8 = 0;
    pub const HOST: u8 = 1;
    pub const RESTART: u8 = 2;
    pub const FILE: u8 = 3;
}

/// Opcode tags; `Op::Const` has one tag per constant kind.
mod op_tag {
    pub const CONST_I32: u8 = 0x00;
    pub const CONST_I64: u8 = 0x01;
    pub const CONST_F32: u8 = 0x02;
    pub const CONST_F64: u8 = 0x03;
    pub const BINARY: u8 = 0x10;
    pub const UNARY: u8 = 0x11;
    pub const ICMP: u8 = 0x12;
    pub const FCMP: u8 = 0x13;
    pub const SELECT: u8 = 0x14;
    pub const CONVERT: u8 = 0x15;
    pub const LOAD: u8 = 0x20;
    pub const STORE: u8 = 0x21;
    pub const MEMORY_SIZE: u8 = 0x22;
    pub const MEMORY_GROW: u8 = 0x23;
    pub const MEMORY_COPY: u8 = 0x24;
    pub const MEMORY_FILL: u8 = 0x25;
    pub const MEMORY_INIT: u8 = 0x26;
    pub const DATA_DROP: u8 = 0x27;
    pub const TABLE_COPY: u8 = 0x28;
    pub const REF_NULL: u8 = 0x29;
    pub const REF_IS_NULL: u8 = 0x2a;
    pub const REF_FUNC: u8 = 0x2b;
    pub const TABLE_GET: u8 = 0x2c;
    pub const TABLE_SET: u8 = 0x2d;
    pub const TABLE_SIZE: u8 = 0x2e;
    pub const TABLE_GROW: u8 = 0x2f;
    pub const TABLE_FILL: u8 = 0x35;
    pub const TABLE_INIT: u8 = 0x36;
    pub const ELEM_DROP: u8 = 0x37;
    pub const CALL: u8 = 0x30;
    pub const CAP_GET: u8 = 0x31;
    pub const CALL_INDIRECT: u8 = 0x32;
    pub const GLOBAL_GET: u8 = 0x33;
    pub const GLOBAL_SET: u8 = 0x34;
    pub const BUF_MAKE: u8 = 0x40;
    pub const BUF_PTR: u8 = 0x41;
    pub const BUF_LEN: u8 = 0x42;
    pub const REGION_NEW: u8 = 0x50;
    pub const REGION_LEN: u8 = 0x51;
    pub const REGION_LOAD: u8 = 0x52;
    pub const REGION_STORE: u8 = 0x53;
    pub const REGION_READ: u8 = 0x54;
    pub const REGION_WRITE: u8 = 0x55;
    pub const REGION_FREE: u8 = 0x56;
}

mod term_tag {
    pub const JUMP: u8 = 0;
    pub const BRIF: u8 = 1;
    pub const BR_TABLE: u8 = 2;
    pub const RETURN: u8 = 3;
    pub const CALL_CAP: u8 = 4;
    pub const TRAP: u8 = 5;
    pub const TRAP_WITH: u8 = 6;
}

// ---------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------

/// Encodes a module. Every module round-trips through [`decode`], except one whose
/// `Type::Cap` nesting exceeds [`MAX_TYPE_DEPTH`], which `decode` rejects.
///
/// # Panics
///
/// If a vector, string or the domains section is longer than `u32::MAX` items or bytes.
pub fn encode(m: &Module) -> Vec<u8> {
    let mut w = Writer::default();
    w.raw(&MAGIC);
    w.raw(&VERSION.to_le_bytes());
    w.section(SECTION_DOMAINS, |w| w.vec(&m.domains, write_domain));
    w.out
}

#[derive(Default)]
struct Writer {
    out: Vec<u8>,
}

impl Writer {
    fn raw(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    fn u8(&mut self, byte: u8) {
        self.out.push(byte);
    }

    fn flag(&mut self, flag: bool) {
        self.u8(u8::from(flag));
    }

    fn tagged<T: Tagged>(&mut self, value: T) {
        self.u8(value.tag());
    }

    fn u32(&mut self, value: u32) {
        self.u64(u64::from(value));
    }

    fn u64(&mut self, mut value: u64) {
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                self.u8(byte);
                return;
            }
            self.u8(byte | 0x80);
        }
    }

    fn i64(&mut self, mut value: i64) {
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            let sign_bit_clear = byte & 0x40 == 0;
            if (value == 0 && sign_bit_clear) || (value == -1 && !sign_bit_clear) {
                self.u8(byte);
                return;
            }
            self.u8(byte | 0x80);
        }
    }

    fn len(&mut self, len: usize) {
        let len = u32::try_from(len).expect("length exceeds u32::MAX");
        self.u32(len);
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.len(bytes.len());
        self.raw(bytes);
    }

    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }

    fn value(&mut self, value: Value) {
        self.u32(value.0);
    }

    /// A vector of values, with its count.
    fn values(&mut self, values: &[Value]) {
        self.vec(values, |w, v| w.value(*v));
    }

    /// A fixed number of operands, without a count.
    fn operands(&mut self, values: &[Value]) {
        for value in values {
            self.value(*value);
        }
    }

    fn vec<T>(&mut self, items: &[T], mut write_item: impl FnMut(&mut Self, &T)) {
        self.len(items.len());
        for item in items {
            write_item(self, item);
        }
    }

    fn option<T>(&mut self, item: &Option<T>, write_item: impl FnOnce(&mut Self, &T)) {
        self.flag(item.is_some());
        if let Some(item) = item {
            write_item(self, item);
        }
    }

    fn span(&mut self, span: &Option<Span>) {
        self.option(span, |w, s| {
            w.u32(s.start);
            w.u32(s.end);
        });
    }

    /// Writes `tag`, then the payload produced by `write_payload` prefixed by its length.
    fn section(&mut self, tag: u8, write_payload: impl FnOnce(&mut Self)) {
        let mut payload = Writer::default();
        write_payload(&mut payload);
        self.u8(tag);
        self.bytes(&payload.out);
    }
}

fn write_domain(w: &mut Writer, d: &Domain) {
    w.str(&d.name);
    w.u32(d.memory.initial);
    w.u32(d.memory.maximum);
    w.option(&d.inbox, |w, inbox| {
        w.u32(inbox.offset);
        w.u32(inbox.size);
    });
    w.vec(&d.data, |w, seg| {
        w.u32(seg.offset);
        w.bytes(&seg.bytes);
    });
    w.vec(&d.passive_data, |w, bytes| w.bytes(bytes));
    w.vec(&d.imports, write_import);
    w.vec(&d.globals, |w, g| {
        w.str(&g.name);
        w.tagged(g.ty);
        w.flag(g.mutable);
        write_const(w, &g.init);
        w.span(&g.span);
    });
    w.vec(&d.tables, |w, t| {
        w.tagged(t.elem);
        write_entries(w, &t.init);
        w.u32(t.maximum);
    });
    w.vec(&d.passive_elems, |w, seg| {
        w.tagged(seg.elem);
        write_entries(w, &seg.items);
    });
    w.vec(&d.functions, write_function);
    w.span(&d.span);
}

fn write_entries(w: &mut Writer, entries: &[Option<u32>]) {
    w.vec(entries, |w, entry| w.option(entry, |w, f| w.u32(*f)));
}

fn write_import(w: &mut Writer, i: &Import) {
    w.str(&i.name);
    write_import_source(w, &i.source);
    write_signature(w, &i.sig);
    w.span(&i.span);
}

fn write_import_source(w: &mut Writer, source: &ImportSource) {
    match source {
        ImportSource::Export { domain, function } => {
            w.u8(source_tag::EXPORT);
            w.str(domain);
            w.str(function);
        }
        ImportSource::Host { function } => {
            w.u8(source_tag::HOST);
            w.str(function);
        }
        ImportSource::Restart { domain } => {
            w.u8(source_tag::RESTART);
            w.str(domain);
        }
        ImportSource::File { name } => {
            w.u8(source_tag::FILE);
            w.str(name);
        }
    }
}

fn write_signature(w: &mut Writer, sig: &Signature) {
    w.vec(&sig.params, write_type);
    w.vec(&sig.results, write_type);
}

fn write_type(w: &mut Writer, ty: &Type) {
    match ty {
        Type::I32 => w.u8(type_tag::I32),
        Type::I64 => w.u8(type_tag::I64),
        Type::F32 => w.u8(type_tag::F32),
        Type::F64 => w.u8(type_tag::F64),
        Type::Cap(sig) => {
            w.u8(type_tag::CAP);
            write_signature(w, sig);
        }
        Type::Region => w.u8(type_tag::REGION),
        Type::Buf => w.u8(type_tag::BUF),
        Type::FuncRef => w.u8(type_tag::FUNCREF),
        Type::ExternRef => w.u8(type_tag::EXTERNREF),
    }
}

fn write_fact(w: &mut Writer, fact: &Option<Fact>) {
    match fact {
        None => w.u8(fact_tag::NONE),
        Some(Fact::Range { lo, hi }) => {
            w.u8(fact_tag::RANGE);
            w.u64(*lo);
            w.u64(*hi);
        }
        Some(Fact::Lt(v)) => {
            w.u8(fact_tag::LT);
            w.value(*v);
        }
        Some(Fact::InMemory { size }) => {
            w.u8(fact_tag::IN_MEMORY);
            w.u32(*size);
        }
    }
}

fn write_function(w: &mut Writer, f: &Function) {
    w.str(&f.name);
    w.flag(f.exported);
    write_signature(w, &f.sig);
    w.vec(&f.blocks, write_block);
    w.span(&f.span);
}

fn write_block(w: &mut Writer, b: &Block) {
    w.vec(&b.params, |w, p| {
        w.value(p.value);
        write_type(w, &p.ty);
        write_fact(w, &p.fact);
    });
    w.vec(&b.insts, write_inst);
    write_terminator(w, &b.term);
    w.span(&b.term_span);
}

fn write_inst(w: &mut Writer, inst: &Inst) {
    w.vec(&inst.results, |w, def| {
        w.value(def.value);
        write_fact(w, &def.fact);
    });
    write_op(w, &inst.op);
    w.span(&inst.span);
}

fn write_access(w: &mut Writer, access: &MemAccess) {
    w.tagged(access.ty);
    w.u8(access.bytes);
    w.flag(access.signed);
}

fn write_const(w: &mut Writer, c: &Const) {
    match *c {
        Const::I32(v) => {
            w.u8(op_tag::CONST_I32);
            w.i64(i64::from(v));
        }
        Const::I64(v) => {
            w.u8(op_tag::CONST_I64);
            w.i64(v);
        }
        Const::F32(bits) => {
            w.u8(op_tag::CONST_F32);
            w.u32(bits);
        }
        Const::F64(bits) => {
            w.u8(op_tag::CONST_F64);
            w.u64(bits);
        }
    }
}

fn write_op(w: &mut Writer, op: &Op) {
    match op {
        Op::Const(c) => write_const(w, c),
        Op::Binary { op, ty, a, b } => {
            w.u8(op_tag::BINARY);
            w.tagged(*op);
            w.tagged(*ty);
            w.operands(&[*a, *b]);
        }
        Op::Unary { op, ty, a } => {
            w.u8(op_tag::UNARY);
            w.tagged(*op);
            w.tagged(*ty);
            w.value(*a);
        }
        Op::Icmp { cc, ty, a, b } => {
            w.u8(op_tag::ICMP);
            w.tagged(*cc);
            w.tagged(*ty);
            w.operands(&[*a, *b]);
        }
        Op::Fcmp { cc, ty, a, b } => {
            w.u8(op_tag::FCMP);
            w.tagged(*cc);
            w.tagged(*ty);
            w.operands(&[*a, *b]);
        }
        Op::Select { ty, cond, a, b } => {
            w.u8(op_tag::SELECT);
            write_type(w, ty);
            w.operands(&[*cond, *a, *b]);
        }
        Op::Convert { op, from, to, a } => {
            w.u8(op_tag::CONVERT);
            w.tagged(*op);
            w.tagged(*from);
            w.tagged(*to);
            w.value(*a);
        }
        Op::Load { access, addr, offset } => {
            w.u8(op_tag::LOAD);
            write_access(w, access);
            w.value(*addr);
            w.u32(*offset);
        }
        Op::Store {
            access,
            value,
            addr,
            offset,
        } => {
            w.u8(op_tag::STORE);
            write_access(w, access);
            w.operands(&[*value, *addr]);
            w.u32(*offset);
        }
        Op::MemorySize => w.u8(op_tag::MEMORY_SIZE),
        Op::MemoryGrow { delta } => {
            w.u8(op_tag::MEMORY_GROW);
            w.value(*delta);
        }
        Op::MemoryCopy { dst, src, len } => {
            w.u8(op_tag::MEMORY_COPY);
            w.operands(&[*dst, *src, *len]);
        }
        Op::MemoryFill { dst, byte, len } => {
            w.u8(op_tag::MEMORY_FILL);
            w.operands(&[*dst, *byte, *len]);
        }
        Op::MemoryInit { segment, dst, src, len } => {
            w.u8(op_tag::MEMORY_INIT);
            w.u32(*segment);
            w.operands(&[*dst, *src, *len]);
        }
        Op::DataDrop { segment } => {
            w.u8(op_tag::DATA_DROP);
            w.u32(*segment);
        }
        Op::TableCopy {
            dst_table,
            src_table,
            dst,
            src,
            len,
        } => {
            w.u8(op_tag::TABLE_COPY);
            w.u32(*dst_table);
            w.u32(*src_table);
            w.operands(&[*dst, *src, *len]);
        }
        Op::RefNull { ty } => {
            w.u8(op_tag::REF_NULL);
            w.tagged(*ty);
        }
        Op::RefIsNull { a } => {
            w.u8(op_tag::REF_IS_NULL);
            w.value(*a);
        }
        Op::RefFunc { func } => {
            w.u8(op_tag::REF_FUNC);
            w.u32(*func);
        }
        Op::TableGet { table, index } => {
            w.u8(op_tag::TABLE_GET);
            w.u32(*table);
            w.value(*index);
        }
        Op::TableSet { table, index, value } => {
            w.u8(op_tag::TABLE_SET);
            w.u32(*table);
            w.operands(&[*index, *value]);
        }
        Op::TableSize { table } => {
            w.u8(op_tag::TABLE_SIZE);
            w.u32(*table);
        }
        Op::TableGrow { table, init, delta } => {
            w.u8(op_tag::TABLE_GROW);
            w.u32(*table);
            w.operands(&[*init, *delta]);
        }
        Op::TableFill { table, dst, value, len } => {
            w.u8(op_tag::TABLE_FILL);
            w.u32(*table);
            w.operands(&[*dst, *value, *len]);
        }
        Op::TableInit {
            table,
            segment,
            dst,
            src,
            len,
        } => {
            w.u8(op_tag::TABLE_INIT);
            w.u32(*table);
            w.u32(*segment);
            w.operands(&[*dst, *src, *len]);
        }
        Op::ElemDrop { segment } => {
            w.u8(op_tag::ELEM_DROP);
            w.u32(*segment);
        }
        Op::Call { func, args } => {
            w.u8(op_tag::CALL);
            w.u32(*func);
            w.values(args);
        }
        Op::CallIndirect {
            table,
            sig,
            index,
            args,
        } => {
            w.u8(op_tag::CALL_INDIRECT);
            w.u32(*table);
            write_signature(w, sig);
            w.value(*index);
            w.values(args);
        }
        Op::GlobalGet { global } => {
            w.u8(op_tag::GLOBAL_GET);
            w.u32(*global);
        }
        Op::GlobalSet { global, value } => {
            w.u8(op_tag::GLOBAL_SET);
            w.u32(*global);
            w.value(*value);
        }
        Op::CapGet { import } => {
            w.u8(op_tag::CAP_GET);
            w.u32(*import);
        }
        Op::BufMake { ptr, len } => {
            w.u8(op_tag::BUF_MAKE);
            w.operands(&[*ptr, *len]);
        }
        Op::BufPtr { buf } => {
            w.u8(op_tag::BUF_PTR);
            w.value(*buf);
        }
        Op::BufLen { buf } => {
            w.u8(op_tag::BUF_LEN);
            w.value(*buf);
        }
        Op::RegionNew { len } => {
            w.u8(op_tag::REGION_NEW);
            w.value(*len);
        }
        Op::RegionLen { region } => {
            w.u8(op_tag::REGION_LEN);
            w.value(*region);
        }
        Op::RegionLoad { access, region, index } => {
            w.u8(op_tag::REGION_LOAD);
            write_access(w, access);
            w.operands(&[*region, *index]);
        }
        Op::RegionStore {
            access,
            value,
            region,
            index,
        } => {
            w.u8(op_tag::REGION_STORE);
            write_access(w, access);
            w.operands(&[*value, *region, *index]);
        }
        Op::RegionRead {
            region,
            index,
            addr,
            len,
        } => {
            w.u8(op_tag::REGION_READ);
            w.operands(&[*region, *index, *addr, *len]);
        }
        Op::RegionWrite {
            region,
            index,
            addr,
            len,
        } => {
            w.u8(op_tag::REGION_WRITE);
            w.operands(&[*region, *index, *addr, *len]);
        }
        Op::RegionFree { region } => {
            w.u8(op_tag::REGION_FREE);
            w.value(*region);
        }
    }
}

fn write_block_call(w: &mut Writer, call: &BlockCall) {
    w.u32(call.block.0);
    w.values(&call.args);
}

fn write_terminator(w: &mut Writer, term: &Terminator) {
    match term {
        Terminator::Jump(target) => {
            w.u8(term_tag::JUMP);
            write_block_call(w, target);
        }
        Terminator::Brif { cond, then, else_ } => {
            w.u8(term_tag::BRIF);
            w.value(*cond);
            write_block_call(w, then);
            write_block_call(w, else_);
        }
        Terminator::BrTable {
            index,
            default,
            targets,
        } => {
            w.u8(term_tag::BR_TABLE);
            w.value(*index);
            write_block_call(w, default);
            w.vec(targets, write_block_call);
        }
        Terminator::Return(values) => {
            w.u8(term_tag::RETURN);
            w.values(values);
        }
        Terminator::CallCap { cap, args, ok, fail } => {
            w.u8(term_tag::CALL_CAP);
            w.value(*cap);
            w.values(args);
            w.u32(ok.0);
            w.u32(fail.0);
        }
        Terminator::Trap => w.u8(term_tag::TRAP),
        Terminator::TrapWith(code) => {
            w.u8(term_tag::TRAP_WITH);
            w.value(*code);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------

/// Decodes a module written by [`encode`]. Never panics; see the module docs for the
/// guarantees on hostile input.
pub fn decode(bytes: &[u8]) -> Result<Module> {
    let mut r = Reader::new(bytes);
    read_header(&mut r)?;
    let mut domains = None;
    let mut last_tag = 0;
    while r.remaining() > 0 {
        let offset = r.pos;
        let tag = r.u8()?;
        if tag <= last_tag {
            return Err(DecodeError::SectionOrder { offset, tag });
        }
        last_tag = tag;
        match tag {
            SECTION_DOMAINS => domains = Some(r.section(tag, |r| r.vec(read_domain))?),
            _ => return Err(DecodeError::UnknownSection { offset, tag }),
        }
    }
    let domains = domains.ok_or(DecodeError::MissingSection {
        offset: r.pos,
        tag: SECTION_DOMAINS,
        name: "domains",
    })?;
    Ok(Module { domains })
}

fn read_header(r: &mut Reader) -> Result<()> {
    let available = r.remaining().min(MAGIC.len());
    if r.bytes[..available] != MAGIC[..available] {
        return Err(DecodeError::BadMagic { offset: 0 });
    }
    r.take(MAGIC.len())?;
    let offset = r.pos;
    let version = r.u32_le()?;
    if version != VERSION {
        return Err(DecodeError::UnsupportedVersion { offset, version });
    }
    Ok(())
}

/// A cursor over the input. `end` is the end of the current section; every offset
/// reported is absolute in the whole input.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader {
            bytes,
            pos: 0,
            end: bytes.len(),
        }
    }

    fn remaining(&self) -> usize {
        self.end - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let available = self.remaining();
        if n > available {
            return Err(DecodeError::Truncated {
                offset: self.pos,
                needed: n,
                available,
            });
        }
        let taken = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(taken)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn u32_le(&mut self) -> Result<u32> {
        let mut le = [0; 4];
        le.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(le))
    }

    fn flag(&mut self) -> Result<bool> {
        let offset = self.pos;
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            byte => Err(DecodeError::InvalidFlag { offset, byte }),
        }
    }

    fn tagged<T: Tagged>(&mut self) -> Result<T> {
        let offset = self.pos;
        let tag = self.u8()?;
        T::from_tag(tag).ok_or(DecodeError::UnknownTag {
            offset,
            what: T::WHAT,
            tag,
        })
    }

    /// Reads the bytes of one LEB128 number, at most enough for `bits` bits, and returns
    /// them with their 7-bit groups assembled (least significant first).
    fn leb_groups(&mut self, bits: u32, ty: &'static str) -> Result<(&'a [u8], u128)> {
        let start = self.pos;
        let max_len = bits.div_ceil(7) as usize;
        let mut acc = 0u128;
        for i in 0..max_len {
            let byte = self.u8()?;
            acc |= u128::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok((&self.bytes[start..self.pos], acc));
            }
        }
        Err(DecodeError::LebOverflow { offset: start, ty })
    }

    fn leb_unsigned(&mut self, bits: u32, ty: &'static str) -> Result<u64> {
        let offset = self.pos;
        let (encoded, acc) = self.leb_groups(bits, ty)?;
        if encoded.len() > 1 && encoded[encoded.len() - 1] == 0 {
            return Err(DecodeError::OverlongLeb { offset });
        }
        if acc >> bits != 0 {
            return Err(DecodeError::LebOverflow { offset, ty });
        }
        Ok(acc as u64)
    }

    fn leb_signed(&mut self, bits: u32, ty: &'static str) -> Result<i64> {
        let offset = self.pos;
        let (encoded, acc) = self.leb_groups(bits, ty)?;
        if let [.., prev, last] = *encoded {
            let prev_negative = prev & 0x40 != 0;
            if (last == 0x00 && !prev_negative) || (last == 0x7f && prev_negative) {
                return Err(DecodeError::OverlongLeb { offset });
            }
        }
        let unused = 128 - 7 * encoded.len() as u32;
        let value = ((acc << unused) as i128) >> unused;
        let limit = 1i128 << (bits - 1);
        if value < -limit || value >= limit {
            return Err(DecodeError::LebOverflow { offset, ty });
        }
        Ok(value as i64)
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(self.leb_unsigned(32, "u32")? as u32)
    }

    fn u64(&mut self) -> Result<u64> {
        self.leb_unsigned(64, "u64")
    }

    fn i32(&mut self) -> Result<i32> {
        Ok(self.leb_signed(32, "i32")? as i32)
    }

    fn i64(&mut self) -> Result<i64> {
        self.leb_signed(64, "i64")
    }

    /// Reads a count of items or bytes; each takes at least one byte, so a count larger
    /// than what is left is an error before anything is allocated.
    fn count(&mut self) -> Result<usize> {
        let offset = self.pos;
        let count = self.u32()?;
        let remaining = self.remaining();
        if count as usize > remaining {
            return Err(DecodeError::CountTooLarge {
                offset,
                count,
                remaining,
            });
        }
        Ok(count as usize)
    }

    fn bytes(&mut self) -> Result<&'a [u8]> {
        let len = self.count()?;
        self.take(len)
    }

    fn string(&mut self) -> Result<String> {
        let len = self.count()?;
        let offset = self.pos;
        let bytes = self.take(len)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_owned()),
            Err(e) => Err(DecodeError::InvalidUtf8 {
                offset: offset + e.valid_up_to(),
            }),
        }
    }

    fn value(&mut self) -> Result<Value> {
        Ok(Value(self.u32()?))
    }

    fn values(&mut self) -> Result<Vec<Value>> {
        self.vec(Reader::value)
    }

    fn block_id(&mut self) -> Result<BlockId> {
        Ok(BlockId(self.u32()?))
    }

    /// Reads a vector. Items are pushed one at a time (no preallocation from the count).
    fn vec<T>(&mut self, mut read_item: impl FnMut(&mut Self) -> Result<T>) -> Result<Vec<T>> {
        let count = self.count()?;
        let mut items = Vec::new();
        for _ in 0..count {
            items.push(read_item(self)?);
        }
        Ok(items)
    }

    fn option<T>(&mut self, read_item: impl FnOnce(&mut Self) -> Result<T>) -> Result<Option<T>> {
        if self.flag()? {
            Ok(Some(read_item(self)?))
        } else {
            Ok(None)
        }
    }

    fn span(&mut self) -> Result<Option<Span>> {
        self.option(|r| {
            Ok(Span {
                start: r.u32()?,
                end: r.u32()?,
            })
        })
    }

    /// Reads a section's length, then its payload with `read_payload`, which must
    /// consume the payload exactly.
    fn section<T>(&mut self, tag: u8, read_payload: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        let offset = self.pos;
        let length = self.u32()?;
        let remaining = self.remaining();
        if length as usize > remaining {
            return Err(DecodeError::SectionTooLong {
                offset,
                length,
                remaining,
            });
        }
        let outer_end = self.end;
        self.end = self.pos + length as usize;
        let payload = read_payload(self)?;
        if self.pos != self.end {
            return Err(DecodeError::SectionNotConsumed {
                offset: self.pos,
                tag,
                unused: self.remaining(),
            });
        }
        self.end = outer_end;
        Ok(payload)
    }
}

fn read_domain(r: &mut Reader) -> Result<Domain> {
    Ok(Domain {
        name: r.string()?,
        memory: Memory {
            initial: r.u32()?,
            maximum: r.u32()?,
        },
        inbox: r.option(|r| {
            Ok(Inbox {
                offset: r.u32()?,
                size: r.u32()?,
            })
        })?,
        data: r.vec(|r| {
            Ok(DataSegment {
                offset: r.u32()?,
                bytes: r.bytes()?.to_vec(),
            })
        })?,
        passive_data: r.vec(|r| Ok(r.bytes()?.to_vec()))?,
        imports: r.vec(read_import)?,
        globals: r.vec(|r| {
            Ok(Global {
                name: r.string()?,
                ty: r.tagged()?,
                mutable: r.flag()?,
                init: read_const(r)?,
                span: r.span()?,
            })
        })?,
        tables: r.vec(|r| {
            Ok(Table {
                elem: r.tagged()?,
                init: read_entries(r)?,
                maximum: r.u32()?,
            })
        })?,
        passive_elems: r.vec(|r| {
            Ok(ElemSegment {
                elem: r.tagged()?,
                items: read_entries(r)?,
            })
        })?,
        functions: r.vec(read_function)?,
        span: r.span()?,
    })
}

fn read_entries(r: &mut Reader) -> Result<Vec<Option<u32>>> {
    r.vec(|r| r.option(Reader::u32))
}

fn read_import(r: &mut Reader) -> Result<Import> {
    Ok(Import {
        name: r.string()?,
        source: read_import_source(r)?,
        sig: read_signature(r, 0)?,
        span: r.span()?,
    })
}

fn read_import_source(r: &mut Reader) -> Result<ImportSource> {
    let offset = r.pos;
    Ok(match r.u8()? {
        source_tag::EXPORT => ImportSource::Export {
            domain: r.string()?,
            function: r.string()?,
        },
        source_tag::HOST => ImportSource::Host { function: r.string()? },
        source_tag::RESTART => ImportSource::Restart { domain: r.string()? },
        source_tag::FILE => ImportSource::File { name: r.string()? },
        tag => return Err(unknown_tag(offset, "import source", tag)),
    })
}

fn unknown_tag(offset: usize, what: &'static str, tag: u8) -> DecodeError {
    DecodeError::UnknownTag { offset, what, tag }
}

/// `depth` is the number of `Type::Cap`s enclosing this signature.
fn read_signature(r: &mut Reader, depth: usize) -> Result<Signature> {
    Ok(Signature {
        params: r.vec(|r| read_type(r, depth))?,
        results: r.vec(|r| read_type(r, depth))?,
    })
}

fn read_type(r: &mut Reader, depth: usize) -> Result<Type> {
    let offset = r.pos;
    Ok(match r.u8()? {
        type_tag::I32 => Type::I32,
        type_tag::I64 => Type::I64,
        type_tag::F32 => Type::F32,
        type_tag::F64 => Type::F64,
        type_tag::CAP => {
            if depth >= MAX_TYPE_DEPTH {
                return Err(DecodeError::TypeTooDeep { offset });
            }
            Type::Cap(Box::new(read_signature(r, depth + 1)?))
        }
        type_tag::REGION => Type::Region,
        type_tag::BUF => Type::Buf,
        type_tag::FUNCREF => Type::FuncRef,
        type_tag::EXTERNREF => Type::ExternRef,
        tag => return Err(unknown_tag(offset, "type", tag)),
    })
}

fn read_fact(r: &mut Reader) -> Result<Option<Fact>> {
    let offset = r.pos;
    Ok(match r.u8()? {
        fact_tag::NONE => None,
        fact_tag::RANGE => Some(Fact::Range {
            lo: r.u64()?,
            hi: r.u64()?,
        }),
        fact_tag::LT => Some(Fact::Lt(r.value()?)),
        fact_tag::IN_MEMORY => Some(Fact::InMemory { size: r.u32()? }),
        tag => return Err(unknown_tag(offset, "fact", tag)),
    })
}

fn read_function(r: &mut Reader) -> Result<Function> {
    Ok(Function {
        name: r.string()?,
        exported: r.flag()?,
        sig: read_signature(r, 0)?,
        blocks: r.vec(read_block)?,
        span: r.span()?,
    })
}

fn read_block(r: &mut Reader) -> Result<Block> {
    Ok(Block {
        params: r.vec(|r| {
            Ok(BlockParam {
                value: r.value()?,
                ty: read_type(r, 0)?,
                fact: read_fact(r)?,
            })
        })?,
        insts: r.vec(read_inst)?,
        term: read_terminator(r)?,
        term_span: r.span()?,
    })
}

fn read_inst(r: &mut Reader) -> Result<Inst> {
    Ok(Inst {
        results: r
            .vec(|r| {
                Ok(Def {
                    value: r.value()?,
                    fact: read_fact(r)?,
                })
            })?
            .into(),
        op: read_op(r)?,
        span: r.span()?,
    })
}

fn read_access(r: &mut Reader) -> Result<MemAccess> {
    Ok(MemAccess {
        ty: r.tagged()?,
        bytes: r.u8()?,
        signed: r.flag()?,
    })
}

/// A constant after its tag byte, or `None` when `tag` is not a constant's.
fn read_const_after(r: &mut Reader, tag: u8) -> Result<Option<Const>> {
    Ok(Some(match tag {
        op_tag::CONST_I32 => Const::I32(r.i32()?),
        op_tag::CONST_I64 => Const::I64(r.i64()?),
        op_tag::CONST_F32 => Const::F32(r.u32()?),
        op_tag::CONST_F64 => Const::F64(r.u64()?),
        _ => return Ok(None),
    }))
}

fn read_const(r: &mut Reader) -> Result<Const> {
    let offset = r.pos;
    let tag = r.u8()?;
    read_const_after(r, tag)?.ok_or(unknown_tag(offset, "constant", tag))
}

fn read_op(r: &mut Reader) -> Result<Op> {
    let offset = r.pos;
    let tag = r.u8()?;
    if let Some(c) = read_const_after(r, tag)? {
        return Ok(Op::Const(c));
    }
    Ok(match tag {
        op_tag::BINARY => Op::Binary {
            op: r.tagged()?,
            ty: r.tagged()?,
            a: r.value()?,
            b: r.value()?,
        },
        op_tag::UNARY => Op::Unary {
            op: r.tagged()?,
            ty: r.tagged()?,
            a: r.value()?,
        },
        op_tag::ICMP => Op::Icmp {
            cc: r.tagged()?,
            ty: r.tagged()?,
            a: r.value()?,
            b: r.value()?,
        },
        op_tag::FCMP => Op::Fcmp {
            cc: r.tagged()?,
            ty: r.tagged()?,
            a: r.value()?,
            b: r.value()?,
        },
        op_tag::SELECT => Op::Select {
            ty: read_type(r, 0)?,
            cond: r.value()?,
            a: r.value()?,
            b: r.value()?,
        },
        op_tag::CONVERT => Op::Convert {
            op: r.tagged()?,
            from: r.tagged()?,
            to: r.tagged()?,
            a: r.value()?,
        },
        op_tag::LOAD => Op::Load {
            access: read_access(r)?,
            addr: r.value()?,
            offset: r.u32()?,
        },
        op_tag::STORE => Op::Store {
            access: read_access(r)?,
            value: r.value()?,
            addr: r.value()?,
            offset: r.u32()?,
        },
        op_tag::MEMORY_SIZE => Op::MemorySize,
        op_tag::MEMORY_GROW => Op::MemoryGrow { delta: r.value()? },
        op_tag::MEMORY_COPY => Op::MemoryCopy {
            dst: r.value()?,
            src: r.value()?,
            len: r.value()?,
        },
        op_tag::MEMORY_FILL => Op::MemoryFill {
            dst: r.value()?,
            byte: r.value()?,
            len: r.value()?,
        },
        op_tag::MEMORY_INIT => Op::MemoryInit {
            segment: r.u32()?,
            dst: r.value()?,
            src: r.value()?,
            len: r.value()?,
        },
        op_tag::DATA_DROP => Op::DataDrop { segment: r.u32()? },
        op_tag::TABLE_COPY => Op::TableCopy {
            dst_table: r.u32()?,
            src_table: r.u32()?,
            dst: r.value()?,
            src: r.value()?,
            len: r.value()?,
        },
        op_tag::CALL => Op::Call {
            func: r.u32()?,
            args: r.values()?,
        },
        op_tag::REF_NULL => Op::RefNull { ty: r.tagged()? },
        op_tag::REF_IS_NULL => Op::RefIsNull { a: r.value()? },
        op_tag::REF_FUNC => Op::RefFunc { func: r.u32()? },
        op_tag::TABLE_GET => Op::TableGet {
            table: r.u32()?,
            index: r.value()?,
        },
        op_tag::TABLE_SET => Op::TableSet {
            table: r.u32()?,
            index: r.value()?,
            value: r.value()?,
        },
        op_tag::TABLE_SIZE => Op::TableSize { table: r.u32()? },
        op_tag::TABLE_GROW => Op::TableGrow {
            table: r.u32()?,
            init: r.value()?,
            delta: r.value()?,
        },
        op_tag::TABLE_FILL => Op::TableFill {
            table: r.u32()?,
            dst: r.value()?,
            value: r.value()?,
            len: r.value()?,
        },
        op_tag::TABLE_INIT => Op::TableInit {
            table: r.u32()?,
            segment: r.u32()?,
            dst: r.value()?,
            src: r.value()?,
            len: r.value()?,
        },
        op_tag::ELEM_DROP => Op::ElemDrop { segment: r.u32()? },
        op_tag::CALL_INDIRECT => Op::CallIndirect {
            table: r.u32()?,
            sig: Box::new(read_signature(r, 0)?),
            index: r.value()?,
            args: r.values()?,
        },
        op_tag::GLOBAL_GET => Op::GlobalGet { global: r.u32()? },
        op_tag::GLOBAL_SET => Op::GlobalSet {
            global: r.u32()?,
            value: r.value()?,
        },
        op_tag::CAP_GET => Op::CapGet { import: r.u32()? },
        op_tag::BUF_MAKE => Op::BufMake {
            ptr: r.value()?,
            len: r.value()?,
        },
        op_tag::BUF_PTR => Op::BufPtr { buf: r.value()? },
        op_tag::BUF_LEN => Op::BufLen { buf: r.value()? },
        op_tag::REGION_NEW => Op::RegionNew { len: r.value()? },
        op_tag::REGION_LEN => Op::RegionLen { region: r.value()? },
        op_tag::REGION_LOAD => Op::RegionLoad {
            access: read_access(r)?,
            region: r.value()?,
            index: r.value()?,
        },
        op_tag::REGION_STORE => Op::RegionStore {
            access: read_access(r)?,
            value: r.value()?,
            region: r.value()?,
            index: r.value()?,
        },
        op_tag::REGION_READ => Op::RegionRead {
            region: r.value()?,
            index: r.value()?,
            addr: r.value()?,
            len: r.value()?,
        },
        op_tag::REGION_WRITE => Op::RegionWrite {
            region: r.value()?,
            index: r.value()?,
            addr: r.value()?,
            len: r.value()?,
        },
        op_tag::REGION_FREE => Op::RegionFree { region: r.value()? },
        tag => return Err(unknown_tag(offset, "opcode", tag)),
    })
}

fn read_block_call(r: &mut Reader) -> Result<BlockCall> {
    Ok(BlockCall {
        block: r.block_id()?,
        args: r.values()?,
    })
}

fn read_terminator(r: &mut Reader) -> Result<Terminator> {
    let offset = r.pos;
    Ok(match r.u8()? {
        term_tag::JUMP => Terminator::Jump(read_block_call(r)?),
        term_tag::BRIF => Terminator::Brif {
            cond: r.value()?,
            then: read_block_call(r)?,
            else_: read_block_call(r)?,
        },
        term_tag::BR_TABLE => Terminator::BrTable {
            index: r.value()?,
            default: read_block_call(r)?,
            targets: r.vec(read_block_call)?,
        },
        term_tag::RETURN => Terminator::Return(r.values()?),
        term_tag::CALL_CAP => Terminator::CallCap {
            cap: r.value()?,
            args: r.values()?,
            ok: r.block_id()?,
            fail: r.block_id()?,
        },
        term_tag::TRAP => Terminator::Trap,
        term_tag::TRAP_WITH => Terminator::TrapWith(r.value()?),
        tag => return Err(unknown_tag(offset, "terminator", tag)),
    })
}
