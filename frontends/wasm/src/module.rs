//! Reading a validated Wasm module into plain tables: types, imports, functions,
//! table, memory, globals, exports, start, element and data segments, bodies.
//! Everything outside the frontend's scope that validation let through (imported
//! memories, tables and globals, ...) is reported here as `unsupported`.

use std::collections::HashMap;

use capjit_ir::{Const, NumType, Op, RefType, Signature, Type};
use wasmparser::{
    ConstExpr, DataKind, ElementItems, ElementKind, ExternalKind, FunctionBody, KnownCustom, MemoryType, Name,
    NameSectionReader, Operator, Parser, Payload, TableInit, TypeRef, ValType,
};

use crate::error::{WasmError, WasmErrorKind};

/// A Wasm value type the frontend translates: a number, or a nullable `funcref` or
/// `externref` (WebAssembly 2.0's reference types).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValTy {
    Num(NumType),
    Ref(RefType),
}

impl From<NumType> for ValTy {
    fn from(t: NumType) -> ValTy {
        ValTy::Num(t)
    }
}

impl ValTy {
    pub fn to_ir(self) -> Type {
        match self {
            ValTy::Num(t) => t.into(),
            ValTy::Ref(r) => r.as_type().clone(),
        }
    }

    /// The operation that makes a local's initial value: zero, or null.
    pub fn zero(self) -> Op {
        match self {
            ValTy::Num(t) => Op::Const(match t {
                NumType::I32 => Const::I32(0),
                NumType::I64 => Const::I64(0),
                NumType::F32 => Const::F32(0),
                NumType::F64 => Const::F64(0),
            }),
            ValTy::Ref(ty) => Op::RefNull { ty },
        }
    }
}

impl std::fmt::Display for ValTy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.to_ir())
    }
}

/// A Wasm function type the frontend translates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WasmSig {
    pub params: Vec<ValTy>,
    pub results: Vec<ValTy>,
}

impl WasmSig {
    pub fn to_ir(&self) -> Signature {
        Signature {
            params: self.params.iter().map(|t| t.to_ir()).collect(),
            results: self.results.iter().map(|t| t.to_ir()).collect(),
        }
    }

    pub fn has_ref(&self) -> bool {
        self.params
            .iter()
            .chain(&self.results)
            .any(|t| matches!(t, ValTy::Ref(_)))
    }
}

impl std::fmt::Display for WasmSig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |ts: &[ValTy]| ts.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(", ");
        write!(f, "({}) -> ({})", list(&self.params), list(&self.results))
    }
}

/// The type of a table or reference value, or the unsupported feature's name.
pub fn ref_type(r: wasmparser::RefType) -> Result<RefType, String> {
    match r {
        wasmparser::RefType::FUNCREF => Ok(RefType::Func),
        wasmparser::RefType::EXTERNREF => Ok(RefType::Extern),
        _ => Err(format!("typed function references or GC ({r} values)")),
    }
}

/// The IR type of a Wasm value type, or the unsupported feature's name.
pub fn val_type(t: ValType) -> Result<ValTy, String> {
    match t {
        ValType::I32 => Ok(NumType::I32.into()),
        ValType::I64 => Ok(NumType::I64.into()),
        ValType::F32 => Ok(NumType::F32.into()),
        ValType::F64 => Ok(NumType::F64.into()),
        ValType::V128 => Err("SIMD (v128 values)".into()),
        ValType::Ref(r) => ref_type(r).map(ValTy::Ref),
    }
}

/// The numeric type of an imported global's Wasm value type, or the unsupported
/// feature's name (a reference cannot come from another module).
pub fn global_type(t: ValType) -> Result<NumType, String> {
    match val_type(t)? {
        ValTy::Num(t) => Ok(t),
        ValTy::Ref(r) => Err(format!("reference types (imported {} globals)", r.as_type())),
    }
}

/// An imported function.
#[derive(Clone, Debug)]
pub struct FuncImport {
    pub module: String,
    pub field: String,
    pub ty: u32,
    pub offset: u64,
}

/// A constant expression's value, or the global it reads (`global.get`), which
/// for an imported global is only known once modules are linked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    Const(Const),
    Global(u32),
    /// `ref.func F` (`Some`) or `ref.null` (`None`), for a reference global.
    Ref(Option<u32>),
}

/// A global of the module's index space: imported ones first.
#[derive(Clone, Debug)]
pub struct GlobalDef {
    pub ty: ValTy,
    pub mutable: bool,
    pub init: Init,
    /// For an imported global: (module, field, offset of the import).
    pub import: Option<(String, String, u64)>,
}

#[derive(Clone, Debug)]
pub struct Export {
    pub name: String,
    pub kind: ExternalKind,
    pub index: u32,
}

/// A table: its entries' type and sizes.
#[derive(Clone, Copy, Debug)]
pub struct TableDef {
    pub elem: RefType,
    pub initial: u64,
    pub maximum: Option<u64>,
}

/// Where an element segment's entries go.
#[derive(Clone, Copy, Debug)]
pub enum ElemKind {
    /// Into table `table` at a constant offset, when the module is instantiated.
    Active { table: u32, offset: Init },
    /// Nowhere until `table.init` copies them.
    Passive,
    /// Nowhere: it only declares the functions `ref.func` may name.
    Declared,
}

/// An element segment: Wasm function indices (`None` for `ref.null`).
#[derive(Clone, Debug)]
pub struct ElemSegment {
    pub kind: ElemKind,
    pub elem: RefType,
    pub items: Vec<Option<u32>>,
    pub at: u64,
}

/// An active data segment of memory 0 at a constant offset.
#[derive(Clone, Debug)]
pub struct DataSeg<'a> {
    pub offset: Init,
    pub bytes: &'a [u8],
    pub at: u64,
}

/// What the frontend needs of one module.
pub struct ParsedModule<'a> {
    pub name: String,
    /// Function types by type index; `Err` names what makes a type unsupported.
    pub types: Vec<Result<WasmSig, String>>,
    pub func_imports: Vec<FuncImport>,
    /// Type index of each defined function.
    pub funcs: Vec<u32>,
    pub tables: Vec<TableDef>,
    pub memory: Option<MemoryType>,
    pub globals: Vec<GlobalDef>,
    pub exports: Vec<Export>,
    pub start: Option<u32>,
    pub elems: Vec<ElemSegment>,
    pub data: Vec<DataSeg<'a>>,
    /// Every data segment by Wasm data index, as `memory.init` sees it after
    /// instantiation: a passive segment's bytes, an active one empty (dropped).
    pub passive: Vec<&'a [u8]>,
    /// Whether a passive segment or a data count section (which code using
    /// `memory.init` or `data.drop` needs) is present.
    pub data_ops: bool,
    pub bodies: Vec<FunctionBody<'a>>,
    /// Function names from the `name` custom section (debug names), by function index.
    pub func_names: HashMap<u32, String>,
}

impl ParsedModule<'_> {
    pub fn num_imported_funcs(&self) -> u32 {
        self.func_imports.len() as u32
    }

    /// The type index of function `idx` of the function index space.
    pub fn func_type_index(&self, idx: u32) -> Option<u32> {
        let nimp = self.num_imported_funcs();
        if idx < nimp {
            Some(self.func_imports[idx as usize].ty)
        } else {
            self.funcs.get((idx - nimp) as usize).copied()
        }
    }

    /// The signature of type `ty`, or an `unsupported` error.
    pub fn sig(&self, ty: u32, offset: Option<u64>) -> Result<&WasmSig, WasmError> {
        match self.types.get(ty as usize) {
            Some(Ok(sig)) => Ok(sig),
            Some(Err(what)) => Err(WasmError::unsupported(&self.name, offset, what)),
            None => Err(WasmError::new(
                &self.name,
                offset,
                WasmErrorKind::Invalid,
                format!("type index {ty} out of range"),
            )),
        }
    }

    pub fn func_sig(&self, idx: u32, offset: Option<u64>) -> Result<&WasmSig, WasmError> {
        match self.func_type_index(idx) {
            Some(ty) => self.sig(ty, offset),
            None => Err(WasmError::new(
                &self.name,
                offset,
                WasmErrorKind::Invalid,
                format!("function index {idx} out of range"),
            )),
        }
    }
}

/// Read the sections of a module that passed validation.
pub fn parse<'a>(name: &str, bytes: &'a [u8]) -> Result<ParsedModule<'a>, WasmError> {
    let rd = |e: wasmparser::BinaryReaderError| WasmError::from_reader(name, &e);
    let unsupported = |at: u64, what: String| WasmError::unsupported(name, Some(at), what);
    let mut m = ParsedModule {
        name: name.to_string(),
        types: Vec::new(),
        func_imports: Vec::new(),
        funcs: Vec::new(),
        tables: Vec::new(),
        memory: None,
        globals: Vec::new(),
        exports: Vec::new(),
        start: None,
        elems: Vec::new(),
        data: Vec::new(),
        passive: Vec::new(),
        data_ops: false,
        bodies: Vec::new(),
        func_names: HashMap::new(),
    };
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(rd)? {
            Payload::Version { encoding, range, .. } if encoding != wasmparser::Encoding::Module => {
                return Err(unsupported(range.start, "components (only core modules)".into()));
            }
            Payload::TypeSection(reader) => {
                for group in reader {
                    for sub in group.map_err(rd)?.into_types() {
                        let ty = match sub.composite_type.inner {
                            wasmparser::CompositeInnerType::Func(f) => func_sig(&f),
                            _ => Err("GC (struct, array or continuation types)".to_string()),
                        };
                        m.types.push(ty);
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for imp in reader.into_imports_with_offsets() {
                    let (at, imp) = imp.map_err(rd)?;
                    let what = match imp.ty {
                        TypeRef::Func(ty) | TypeRef::FuncExact(ty) => {
                            m.func_imports.push(FuncImport {
                                module: imp.module.to_string(),
                                field: imp.name.to_string(),
                                ty,
                                offset: at,
                            });
                            continue;
                        }
                        TypeRef::Global(g) if !g.mutable => {
                            let ty = global_type(g.content_type).map_err(|w| unsupported(at, w))?;
                            let ty = ValTy::Num(ty);
                            m.globals.push(GlobalDef {
                                ty,
                                mutable: false,
                                init: Init::Global(m.globals.len() as u32),
                                import: Some((imp.module.to_string(), imp.name.to_string(), at)),
                            });
                            continue;
                        }
                        TypeRef::Table(_) => "imported table",
                        TypeRef::Memory(_) => "imported memory",
                        TypeRef::Global(_) => "imported mutable global",
                        TypeRef::Tag(_) => "imported exception tag",
                    };
                    return Err(unsupported(at, format!("{what} (`{}`.`{}`)", imp.module, imp.name)));
                }
            }
            Payload::FunctionSection(reader) => {
                for ty in reader {
                    m.funcs.push(ty.map_err(rd)?);
                }
            }
            Payload::TableSection(reader) => {
                let at = reader.range().start;
                for table in reader {
                    let table = table.map_err(rd)?;
                    if table.ty.table64 {
                        return Err(unsupported(at, "memory64 (64-bit tables)".into()));
                    }
                    if let TableInit::Expr(_) = table.init {
                        return Err(unsupported(
                            at,
                            "typed function references (table initialiser expressions)".into(),
                        ));
                    }
                    m.tables.push(TableDef {
                        elem: ref_type(table.ty.element_type).map_err(|w| unsupported(at, w))?,
                        initial: table.ty.initial,
                        maximum: table.ty.maximum,
                    });
                }
            }
            Payload::MemorySection(reader) => {
                let at = reader.range().start;
                for mem in reader {
                    let mem = mem.map_err(rd)?;
                    if m.memory.is_some() {
                        return Err(unsupported(at, "multiple memories".into()));
                    }
                    if mem.memory64 {
                        return Err(unsupported(at, "memory64".into()));
                    }
                    if mem.shared {
                        return Err(unsupported(at, "threads (shared memory)".into()));
                    }
                    if mem.page_size_log2.is_some_and(|p| p != 16) {
                        return Err(unsupported(at, "custom page sizes".into()));
                    }
                    m.memory = Some(mem);
                }
            }
            Payload::TagSection(reader) => {
                return Err(unsupported(reader.range().start, "exceptions (tags)".into()));
            }
            Payload::GlobalSection(reader) => {
                for g in reader.into_iter_with_offsets() {
                    let (at, g) = g.map_err(rd)?;
                    let ty = val_type(g.ty.content_type).map_err(|w| unsupported(at, w))?;
                    let init = match (ty, const_expr(&m, &g.init_expr, at)?) {
                        (ValTy::Num(_), ConstVal::Num(c)) => Init::Const(c),
                        (ValTy::Num(_), ConstVal::Global(g)) => Init::Global(g),
                        (ValTy::Ref(_), ConstVal::Func(f)) => Init::Ref(f),
                        (ValTy::Ref(r), ConstVal::Global(_)) => {
                            let what = format!("reference types ({} globals read from imported globals)", r.as_type());
                            return Err(unsupported(at, what));
                        }
                        _ => {
                            return Err(WasmError::new(
                                &m.name,
                                Some(at),
                                WasmErrorKind::Invalid,
                                "global initialiser of another type",
                            ))
                        }
                    };
                    m.globals.push(GlobalDef {
                        ty,
                        mutable: g.ty.mutable,
                        init,
                        import: None,
                    });
                }
            }
            Payload::ExportSection(reader) => {
                for e in reader {
                    let e = e.map_err(rd)?;
                    m.exports.push(Export {
                        name: e.name.to_string(),
                        kind: e.kind,
                        index: e.index,
                    });
                }
            }
            Payload::StartSection { func, .. } => m.start = Some(func),
            Payload::ElementSection(reader) => {
                for elem in reader {
                    let elem = elem.map_err(rd)?;
                    let at = elem.range.start;
                    let kind = match elem.kind {
                        ElementKind::Active {
                            table_index,
                            offset_expr,
                        } => ElemKind::Active {
                            table: table_index.unwrap_or(0),
                            offset: const_offset(&m, &offset_expr, at)?,
                        },
                        ElementKind::Passive => ElemKind::Passive,
                        ElementKind::Declared => ElemKind::Declared,
                    };
                    let mut items = Vec::new();
                    let elem_type = match elem.items {
                        ElementItems::Functions(funcs) => {
                            for f in funcs {
                                items.push(Some(f.map_err(rd)?));
                            }
                            RefType::Func
                        }
                        ElementItems::Expressions(ty, exprs) => {
                            for e in exprs {
                                let e = e.map_err(rd)?;
                                match const_expr(&m, &e, at)? {
                                    ConstVal::Func(f) => items.push(f),
                                    ConstVal::Num(_) | ConstVal::Global(_) => {
                                        return Err(unsupported(
                                            at,
                                            "reference types (element expressions reading globals)".into(),
                                        ));
                                    }
                                }
                            }
                            ref_type(ty).map_err(|w| unsupported(at, w))?
                        }
                    };
                    m.elems.push(ElemSegment {
                        kind,
                        elem: elem_type,
                        items,
                        at,
                    });
                }
            }
            Payload::DataSection(reader) => {
                for data in reader {
                    let data = data.map_err(rd)?;
                    let at = data.range.start;
                    match data.kind {
                        DataKind::Active {
                            memory_index,
                            offset_expr,
                        } => {
                            if memory_index != 0 {
                                return Err(unsupported(at, "multiple memories".into()));
                            }
                            let offset = const_offset(&m, &offset_expr, at)?;
                            m.data.push(DataSeg {
                                offset,
                                bytes: data.data,
                                at,
                            });
                            m.passive.push(&[]);
                        }
                        DataKind::Passive => {
                            m.passive.push(data.data);
                            m.data_ops = true;
                        }
                    }
                }
            }
            Payload::DataCountSection { .. } => m.data_ops = true,
            Payload::CodeSectionEntry(body) => m.bodies.push(body),
            Payload::CustomSection(reader) => {
                if let KnownCustom::Name(names) = reader.as_known() {
                    read_function_names(names, &mut m.func_names);
                }
            }
            _ => {}
        }
    }
    Ok(m)
}

/// Function names of a `name` section. A malformed name section does not make a
/// module invalid: whatever reads before the first error is kept.
fn read_function_names(reader: NameSectionReader, out: &mut HashMap<u32, String>) {
    for name in reader.into_iter().map_while(Result::ok) {
        let Name::Function(map) = name else {
            continue;
        };
        for naming in map.into_iter().map_while(Result::ok) {
            out.entry(naming.index).or_insert_with(|| naming.name.to_string());
        }
    }
}

fn func_sig(f: &wasmparser::FuncType) -> Result<WasmSig, String> {
    Ok(WasmSig {
        params: f.params().iter().map(|t| val_type(*t)).collect::<Result<_, _>>()?,
        results: f.results().iter().map(|t| val_type(*t)).collect::<Result<_, _>>()?,
    })
}

/// The value of a constant expression.
pub enum ConstVal {
    Num(Const),
    /// `global.get G`.
    Global(u32),
    /// `ref.func F` (`Some`) or `ref.null func` (`None`).
    Func(Option<u32>),
}

/// Read a constant expression: one constant, `global.get` (evaluated once
/// imports are linked), `ref.func` or `ref.null`.
fn const_expr(m: &ParsedModule, e: &ConstExpr, at: u64) -> Result<ConstVal, WasmError> {
    let name = m.name.as_str();
    let mut ops = e.get_operators_reader();
    let mut value = None;
    loop {
        let (op, off) = ops.read_with_offset().map_err(|e| WasmError::from_reader(name, &e))?;
        let v = match op {
            Operator::End => break,
            Operator::I32Const { value } => ConstVal::Num(Const::I32(value)),
            Operator::I64Const { value } => ConstVal::Num(Const::I64(value)),
            Operator::F32Const { value } => ConstVal::Num(Const::F32(value.bits())),
            Operator::F64Const { value } => ConstVal::Num(Const::F64(value.bits())),
            Operator::RefNull { .. } => ConstVal::Func(None),
            Operator::RefFunc { function_index } => ConstVal::Func(Some(function_index)),
            Operator::GlobalGet { global_index } => {
                if global_index as usize >= m.globals.len() {
                    return Err(WasmError::new(
                        name,
                        Some(off),
                        WasmErrorKind::Invalid,
                        format!("unknown global {global_index} in a constant expression"),
                    ));
                }
                ConstVal::Global(global_index)
            }
            _ => return Err(WasmError::unsupported(name, Some(off), "extended constant expressions")),
        };
        if value.replace(v).is_some() {
            return Err(WasmError::unsupported(name, Some(off), "extended constant expressions"));
        }
    }
    value.ok_or_else(|| WasmError::new(name, Some(at), WasmErrorKind::Invalid, "empty constant expression"))
}

/// A segment offset: an i32 constant expression.
fn const_offset(m: &ParsedModule, e: &ConstExpr, at: u64) -> Result<Init, WasmError> {
    match const_expr(m, e, at)? {
        ConstVal::Num(c @ Const::I32(_)) => Ok(Init::Const(c)),
        ConstVal::Global(g) => Ok(Init::Global(g)),
        _ => Err(WasmError::new(
            &m.name,
            Some(at),
            WasmErrorKind::Invalid,
            "segment offset is not an i32",
        )),
    }
}
