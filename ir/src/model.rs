//! The capjit IR data model: plain data, no behaviour.
//!
//! TRUSTED (read by the verifier): this file only defines types. It holds no
//! invariant by itself; the verifier establishes every invariant before code runs.
//! Keep it free of logic so that auditing it is reading a list of fields.

/// A whole program: several domains that call each other through capabilities.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Module {
    pub domains: Vec<Domain>,
}

/// One protection domain: its own linear memory, imports, and functions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Domain {
    pub name: String,
    pub memory: Memory,
    /// Where `buf` arguments and results of inter-domain calls are copied to.
    pub inbox: Option<Inbox>,
    pub data: Vec<DataSegment>,
    /// Passive data segments, by index: bytes `memory.init` copies from, until
    /// `data.drop` empties the segment for the domain (until it restarts).
    pub passive_data: Vec<Vec<u8>>,
    pub imports: Vec<Import>,
    /// Domain-wide variables, reset with the memory on restart.
    pub globals: Vec<Global>,
    /// The tables, by index: `call_indirect` calls through a funcref table, the
    /// `table.*` operations read and write any. Restarting the domain restores each
    /// table's declared entries and size.
    pub tables: Vec<Table>,
    /// Passive element segments, by index: entries `table.init` copies from, until
    /// `elem.drop` empties the segment for the domain (until it restarts).
    pub passive_elems: Vec<ElemSegment>,
    pub functions: Vec<Function>,
    /// Source location of the `domain` keyword, when parsed from text.
    pub span: Option<Span>,
}

/// Linear memory size in 64 KiB pages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Memory {
    pub initial: u32,
    pub maximum: u32,
}

/// What a reference value, or a table entry, refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RefType {
    /// A function of the same domain (an index into `Domain::functions`), never a pointer.
    Func,
    /// An opaque handle the host gave: a domain can hold and pass it, never forge or read it.
    Extern,
}

/// A table of references: `table [funcref|externref] ENTRIES [max N]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub elem: RefType,
    /// The entries when the domain starts or restarts (so also the initial size): a
    /// function of this domain for a funcref table, or `None` for null (an externref
    /// table starts all null).
    pub init: Vec<Option<u32>>,
    /// The most entries `table.grow` may reach; at least `init.len()`.
    pub maximum: u32,
}

/// A passive element segment: `elem [funcref|externref] ENTRIES`, entries as in [`Table::init`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElemSegment {
    pub elem: RefType,
    pub items: Vec<Option<u32>>,
}

/// Bytes of a 64 KiB page.
pub const PAGE_SIZE: u64 = 65536;

/// A window `[offset, offset + size)` of the domain's memory that receives copied bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inbox {
    pub offset: u32,
    pub size: u32,
}

/// Bytes placed in memory when the domain is (re)started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataSegment {
    pub offset: u32,
    pub bytes: Vec<u8>,
}

/// A domain-wide variable of a numeric type: `global [mut] NAME : T = CONST`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Global {
    pub name: String,
    pub ty: NumType,
    /// Whether `global.set` may write it.
    pub mutable: bool,
    /// Its value when the domain starts or restarts; of type `ty`.
    pub init: Const,
    pub span: Option<Span>,
}

/// A capability the domain needs, bound at link time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Import {
    /// The name code uses in `cap.get NAME`.
    pub name: String,
    pub source: ImportSource,
    pub sig: Signature,
    pub span: Option<Span>,
}

/// What an import is bound to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportSource {
    /// An exported function of another domain: `= domain.function`.
    Export { domain: String, function: String },
    /// A host function: `= host.name`.
    Host { function: String },
    /// The right to restart a domain from its image: `= host.restart(domain)`.
    Restart { domain: String },
    /// Read access to a file the host granted under `name`: `= host.file(name)`.
    File { name: String },
}

/// Parameter and result types of a function or capability.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Signature {
    pub params: Vec<Type>,
    pub results: Vec<Type>,
}

/// Value types.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    I32,
    I64,
    F32,
    F64,
    /// A capability to call a function of the given signature.
    Cap(Box<Signature>),
    /// A handle to a buffer outside every linear memory, owned by one domain.
    Region,
    /// A `(pointer, length)` window into the domain's own memory; passed by copy in IDC.
    Buf,
    /// A reference to a function of the same domain, or null; never crosses a domain boundary.
    FuncRef,
    /// An opaque host handle, or null.
    ExternRef,
}

/// The four numeric types, used by arithmetic, comparisons, loads and stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NumType {
    I32,
    I64,
    F32,
    F64,
}

/// An SSA value, printed `vN`; numbered per function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Value(pub u32);

/// A block within a function, printed `blockN`; the index into `Function::blocks`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockId(pub u32);

/// A byte range in the source text a module was parsed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

/// A function: signature and blocks; `blocks[0]` is the entry block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Function {
    pub name: String,
    pub exported: bool,
    pub sig: Signature,
    pub blocks: Vec<Block>,
    pub span: Option<Span>,
}

/// A basic block: typed parameters, straight-line instructions, one terminator.
/// A block's id is its index in `Function::blocks`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub params: Vec<BlockParam>,
    pub insts: Vec<Inst>,
    pub term: Terminator,
    pub term_span: Option<Span>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockParam {
    pub value: Value,
    pub ty: Type,
    pub fact: Option<Fact>,
}

/// A claim about a value, checked by the verifier and never trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fact {
    /// The value, read as unsigned, lies in `[lo, hi]`.
    Range { lo: u64, hi: u64 },
    /// The value, read as unsigned, is less than the given value.
    Lt(Value),
    /// `value + size` does not exceed the memory's current size in bytes.
    InMemory { size: u32 },
}

/// A result value with an optional fact about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Def {
    pub value: Value,
    pub fact: Option<Fact>,
}

/// The values an instruction defines: kept inline when there is at most one (almost
/// always), so that walking a function does not chase a pointer per instruction.
pub type Defs = smallvec::SmallVec<[Def; 1]>;

/// A non-terminator instruction with the values it defines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inst {
    pub results: Defs,
    pub op: Op,
    pub span: Option<Span>,
}

/// A constant's bits; float constants are stored as their IEEE bit pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Const {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    Iadd,
    Isub,
    Imul,
    Sdiv,
    Udiv,
    Srem,
    Urem,
    Band,
    Bor,
    Bxor,
    Ishl,
    Ushr,
    Sshr,
    Rotl,
    Rotr,
    Fadd,
    Fsub,
    Fmul,
    Fdiv,
    Fmin,
    Fmax,
    Fcopysign,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnOp {
    Clz,
    Ctz,
    Popcnt,
    /// Sign-extend the low 8 bits within the same type.
    Sext8,
    Sext16,
    /// Sign-extend the low 32 bits of an i64.
    Sext32,
    Fneg,
    Fabs,
    Fsqrt,
    Fceil,
    Ffloor,
    Ftrunc,
    Fnearest,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IntCC {
    Eq,
    Ne,
    Slt,
    Sle,
    Sgt,
    Sge,
    Ult,
    Ule,
    Ugt,
    Uge,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FloatCC {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// Conversions between numeric types. The result type is implied by the operation
/// for fixed conversions and given by `Op::Convert::to` otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConvOp {
    /// i64 -> i32, keep the low bits.
    Wrap,
    /// i32 -> i64, zero-extend.
    Uextend,
    /// i32 -> i64, sign-extend.
    Sextend,
    /// float -> int, trap on NaN or out of range.
    FtoSint,
    FtoUint,
    /// float -> int, saturating (NaN gives 0).
    FtoSintSat,
    FtoUintSat,
    /// int -> float.
    SintToF,
    UintToF,
    /// f32 -> f64.
    Promote,
    /// f64 -> f32.
    Demote,
    /// Same width, reinterpret bits (i32 <-> f32, i64 <-> f64).
    Bitcast,
}

/// Width of a memory access in bytes, and whether a narrow load sign-extends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MemAccess {
    /// The type loaded into / stored from.
    pub ty: NumType,
    /// Bytes accessed: 1, 2, 4 or 8 (at most the type's width).
    pub bytes: u8,
    /// For narrow integer loads: sign-extend instead of zero-extend.
    pub signed: bool,
}

/// An operation without control flow (or with control flow that returns, like `call`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Const(Const),
    Binary {
        op: BinOp,
        ty: NumType,
        a: Value,
        b: Value,
    },
    Unary {
        op: UnOp,
        ty: NumType,
        a: Value,
    },
    Icmp {
        cc: IntCC,
        ty: NumType,
        a: Value,
        b: Value,
    },
    Fcmp {
        cc: FloatCC,
        ty: NumType,
        a: Value,
        b: Value,
    },
    /// `cond != 0 ? a : b`; `cond` is i32.
    Select {
        ty: Type,
        cond: Value,
        a: Value,
        b: Value,
    },
    Convert {
        op: ConvOp,
        from: NumType,
        to: NumType,
        a: Value,
    },
    /// Load from linear memory at `zext(addr) + offset`; `addr` is i32.
    Load {
        access: MemAccess,
        addr: Value,
        offset: u32,
    },
    Store {
        access: MemAccess,
        value: Value,
        addr: Value,
        offset: u32,
    },
    /// Current memory size in pages (i32).
    MemorySize,
    /// Grow by `delta` pages (i32); the old size in pages, or -1 if not possible.
    MemoryGrow {
        delta: Value,
    },
    MemoryCopy {
        dst: Value,
        src: Value,
        len: Value,
    },
    MemoryFill {
        dst: Value,
        byte: Value,
        len: Value,
    },
    /// Copy `len` bytes of passive segment `segment` from offset `src` to memory at
    /// `dst` (all i32); `out_of_bounds` if either range is out (nothing is copied).
    MemoryInit {
        segment: u32,
        dst: Value,
        src: Value,
        len: Value,
    },
    /// Empty passive segment `segment` for this domain until it restarts; no result.
    DataDrop {
        segment: u32,
    },
    /// Copy `len` entries from table `src_table` at `src` to table `dst_table` at
    /// `dst` (all i32; the ranges may overlap; the tables hold the same type);
    /// `table_out_of_bounds` if either range is out (nothing is copied).
    TableCopy {
        dst_table: u32,
        src_table: u32,
        dst: Value,
        src: Value,
        len: Value,
    },
    /// The null reference of a type.
    RefNull {
        ty: RefType,
    },
    /// 1 if the reference `a` (either type) is null, else 0.
    RefIsNull {
        a: Value,
    },
    /// A reference to function `func` of this domain.
    RefFunc {
        func: u32,
    },
    /// Entry `index` (i32) of table `table`; `table_out_of_bounds` past its size.
    TableGet {
        table: u32,
        index: Value,
    },
    /// Write `value` (of the table's type) to entry `index`; `table_out_of_bounds` past its size.
    TableSet {
        table: u32,
        index: Value,
        value: Value,
    },
    /// The current number of entries of table `table` (i32).
    TableSize {
        table: u32,
    },
    /// Add `delta` (i32) entries holding `init` to table `table`; the old size, or -1
    /// when the table would pass its maximum or the instance's limits (nothing changes).
    TableGrow {
        table: u32,
        init: Value,
        delta: Value,
    },
    /// Set `len` entries from `dst` to `value` (both i32 but `value`);
    /// `table_out_of_bounds` if the range is out (nothing changes).
    TableFill {
        table: u32,
        dst: Value,
        value: Value,
        len: Value,
    },
    /// Copy `len` entries of passive element segment `segment` from `src` to table
    /// `table` at `dst`; `table_out_of_bounds` if either range is out (nothing is copied).
    TableInit {
        table: u32,
        segment: u32,
        dst: Value,
        src: Value,
        len: Value,
    },
    /// Empty passive element segment `segment` for this domain until it restarts.
    ElemDrop {
        segment: u32,
    },
    /// Direct call to a function of the same domain, by index.
    Call {
        func: u32,
        args: Vec<Value>,
    },
    /// Call the function in entry `index` (i32) of funcref table `table`. Traps with
    /// `table_out_of_bounds` if there is no such entry, `indirect_call_null` if it is
    /// null, and `indirect_call_type` if the function's signature is not `sig`.
    CallIndirect {
        table: u32,
        /// Boxed so that `Op` stays small (every instruction pays for the largest variant).
        sig: Box<Signature>,
        index: Value,
        args: Vec<Value>,
    },
    /// The value of global number `global`.
    GlobalGet {
        global: u32,
    },
    /// Write global number `global` (which must be mutable); no result.
    GlobalSet {
        global: u32,
        value: Value,
    },
    /// The capability bound to import number `import`.
    CapGet {
        import: u32,
    },
    /// A `buf` from a pointer and a length (both i32) into the domain's memory.
    BufMake {
        ptr: Value,
        len: Value,
    },
    BufPtr {
        buf: Value,
    },
    BufLen {
        buf: Value,
    },
    /// A new zeroed region of `len` (i32) bytes, owned by this domain.
    RegionNew {
        len: Value,
    },
    RegionLen {
        region: Value,
    },
    RegionLoad {
        access: MemAccess,
        region: Value,
        index: Value,
    },
    RegionStore {
        access: MemAccess,
        value: Value,
        region: Value,
        index: Value,
    },
    /// Copy `len` bytes from the region at `index` into memory at `addr`.
    RegionRead {
        region: Value,
        index: Value,
        addr: Value,
        len: Value,
    },
    /// Copy `len` bytes from memory at `addr` into the region at `index`.
    RegionWrite {
        region: Value,
        index: Value,
        addr: Value,
        len: Value,
    },
    RegionFree {
        region: Value,
    },
}

/// A branch target with the arguments passed to its parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockCall {
    pub block: BlockId,
    pub args: Vec<Value>,
}

/// The last instruction of a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Terminator {
    Jump(BlockCall),
    /// To `then` if `cond` (i32) is non-zero, else to `else_`.
    Brif {
        cond: Value,
        then: BlockCall,
        else_: BlockCall,
    },
    /// To `targets[index]` if in range, else to `default`; `index` is i32.
    BrTable {
        index: Value,
        default: BlockCall,
        targets: Vec<BlockCall>,
    },
    Return(Vec<Value>),
    /// Inter-domain call through capability `cap`. `ok` receives the results as its
    /// parameters; `fail` receives the trap code (i32).
    CallCap {
        cap: Value,
        args: Vec<Value>,
        ok: BlockId,
        fail: BlockId,
    },
    /// Trap with `unreachable`.
    Trap,
    /// `trap v`: trap with the code in `v` (i32), typically a `call_cap` failure
    /// successor's parameter, to re-raise the callee's trap. A code that is not a
    /// [`crate::TrapCode`] (1 to 18) traps with `unreachable` instead.
    TrapWith(Value),
}
