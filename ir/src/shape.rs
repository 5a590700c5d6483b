//! The IR's shape, written once: the types each operation defines, the blocks each
//! terminator can go to, how an integer condition turns around, and how the numeric
//! types sit among the value types. The verifier, the translator, the optimiser, the
//! frontends' tests and the fuzzer all read these; none keeps its own table.
//!
//! TRUSTED (read by the verifier and the translator): a wrong answer here is a wrong
//! type or a missed edge everywhere at once, so every `match` is exhaustive and
//! nothing here checks anything; the verifier checks operands and indices.

use crate::model::{BlockCall, BlockId, Const, Domain, IntCC, NumType, Op, Signature, Terminator, Type};

/// What the result types of calls, `cap.get` and `global.get` depend on: the
/// signatures and global types a domain declares, by index; `None` for an index out
/// of range.
pub trait DomainTypes {
    fn function_sig(&self, func: u32) -> Option<&Signature>;
    fn import_sig(&self, import: u32) -> Option<&Signature>;
    fn global_type(&self, global: u32) -> Option<NumType>;
}

impl DomainTypes for Domain {
    fn function_sig(&self, func: u32) -> Option<&Signature> {
        self.functions.get(func as usize).map(|f| &f.sig)
    }

    fn import_sig(&self, import: u32) -> Option<&Signature> {
        self.imports.get(import as usize).map(|i| &i.sig)
    }

    fn global_type(&self, global: u32) -> Option<NumType> {
        self.globals.get(global as usize).map(|g| g.ty)
    }
}

/// The result types of an operation, borrowed from the operation or the domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResultTypes<'a> {
    /// These types, in order (none for operations without results).
    Types(&'a [Type]),
    /// One capability of this signature (`cap.get` of an import).
    Cap(&'a Signature),
}

impl ResultTypes<'_> {
    pub fn len(&self) -> usize {
        match self {
            ResultTypes::Types(ts) => ts.len(),
            ResultTypes::Cap(_) => 1,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn to_vec(&self) -> Vec<Type> {
        match self {
            ResultTypes::Types(ts) => ts.to_vec(),
            ResultTypes::Cap(sig) => vec![Type::Cap(Box::new((*sig).clone()))],
        }
    }
}

impl Op {
    /// The types of the values this operation defines, in order; `None` when they
    /// depend on a function, import or global index that is out of range.
    pub fn result_types<'a>(&'a self, d: &'a (impl DomainTypes + ?Sized)) -> Option<ResultTypes<'a>> {
        let one = |t: &'a Type| Some(ResultTypes::Types(std::slice::from_ref(t)));
        match self {
            Op::Const(c) => one(c.num_type().as_type()),
            Op::Binary { ty, .. } | Op::Unary { ty, .. } => one(ty.as_type()),
            Op::Convert { to, .. } => one(to.as_type()),
            Op::Load { access, .. } | Op::RegionLoad { access, .. } => one(access.ty.as_type()),
            Op::Select { ty, .. } => one(ty),
            Op::Icmp { .. }
            | Op::Fcmp { .. }
            | Op::MemorySize
            | Op::MemoryGrow { .. }
            | Op::BufPtr { .. }
            | Op::BufLen { .. }
            | Op::RegionLen { .. } => one(&Type::I32),
            Op::BufMake { .. } => one(&Type::Buf),
            Op::RegionNew { .. } => one(&Type::Region),
            Op::Store { .. }
            | Op::MemoryCopy { .. }
            | Op::MemoryFill { .. }
            | Op::MemoryInit { .. }
            | Op::DataDrop { .. }
            | Op::TableCopy { .. }
            | Op::GlobalSet { .. }
            | Op::RegionStore { .. }
            | Op::RegionRead { .. }
            | Op::RegionWrite { .. }
            | Op::RegionFree { .. } => Some(ResultTypes::Types(&[])),
            Op::Call { func, .. } => d.function_sig(*func).map(|s| ResultTypes::Types(&s.results)),
            Op::CallIndirect { sig, .. } => Some(ResultTypes::Types(&sig.results)),
            Op::GlobalGet { global } => d.global_type(*global).and_then(|t| one(t.as_type())),
            Op::CapGet { import } => d.import_sig(*import).map(ResultTypes::Cap),
        }
    }

    /// [`Op::result_types`] as owned types, none when an index is out of range.
    pub fn result_type_vec(&self, d: &(impl DomainTypes + ?Sized)) -> Vec<Type> {
        self.result_types(d).map(|r| r.to_vec()).unwrap_or_default()
    }
}

impl Terminator {
    /// The blocks this terminator may go to, in order, duplicates included (`call_cap`:
    /// `ok`, then `fail`).
    pub fn successors(&self) -> impl Iterator<Item = BlockId> + '_ {
        let (first, rest): ([Option<BlockId>; 2], &[BlockCall]) = match self {
            Terminator::Jump(c) => ([Some(c.block), None], &[]),
            Terminator::Brif { then, else_, .. } => ([Some(then.block), Some(else_.block)], &[]),
            Terminator::BrTable { default, targets, .. } => ([Some(default.block), None], targets),
            Terminator::CallCap { ok, fail, .. } => ([Some(*ok), Some(*fail)], &[]),
            Terminator::Return(_) | Terminator::Trap | Terminator::TrapWith(_) => ([None, None], &[]),
        };
        first.into_iter().flatten().chain(rest.iter().map(|c| c.block))
    }

    /// The successor references themselves, in the order of [`Terminator::successors`],
    /// to renumber blocks.
    pub fn successors_mut(&mut self) -> impl Iterator<Item = &mut BlockId> + '_ {
        let (first, rest): ([Option<&mut BlockId>; 2], &mut [BlockCall]) = match self {
            Terminator::Jump(c) => ([Some(&mut c.block), None], &mut []),
            Terminator::Brif { then, else_, .. } => ([Some(&mut then.block), Some(&mut else_.block)], &mut []),
            Terminator::BrTable { default, targets, .. } => ([Some(&mut default.block), None], targets),
            Terminator::CallCap { ok, fail, .. } => ([Some(ok), Some(fail)], &mut []),
            Terminator::Return(_) | Terminator::Trap | Terminator::TrapWith(_) => ([None, None], &mut []),
        };
        first.into_iter().flatten().chain(rest.iter_mut().map(|c| &mut c.block))
    }
}

impl IntCC {
    /// The condition that holds exactly when this one does not (`slt` -> `sge`).
    pub fn inverse(self) -> IntCC {
        match self {
            IntCC::Eq => IntCC::Ne,
            IntCC::Ne => IntCC::Eq,
            IntCC::Slt => IntCC::Sge,
            IntCC::Sge => IntCC::Slt,
            IntCC::Sle => IntCC::Sgt,
            IntCC::Sgt => IntCC::Sle,
            IntCC::Ult => IntCC::Uge,
            IntCC::Uge => IntCC::Ult,
            IntCC::Ule => IntCC::Ugt,
            IntCC::Ugt => IntCC::Ule,
        }
    }

    /// The condition on swapped operands: `a cc b` iff `b cc.swap() a` (`slt` -> `sgt`).
    pub fn swap(self) -> IntCC {
        match self {
            IntCC::Eq => IntCC::Eq,
            IntCC::Ne => IntCC::Ne,
            IntCC::Slt => IntCC::Sgt,
            IntCC::Sgt => IntCC::Slt,
            IntCC::Sle => IntCC::Sge,
            IntCC::Sge => IntCC::Sle,
            IntCC::Ult => IntCC::Ugt,
            IntCC::Ugt => IntCC::Ult,
            IntCC::Ule => IntCC::Uge,
            IntCC::Uge => IntCC::Ule,
        }
    }
}

impl NumType {
    /// The value type of this numeric type.
    pub fn as_type(self) -> &'static Type {
        match self {
            NumType::I32 => &Type::I32,
            NumType::I64 => &Type::I64,
            NumType::F32 => &Type::F32,
            NumType::F64 => &Type::F64,
        }
    }

    pub fn is_int(self) -> bool {
        matches!(self, NumType::I32 | NumType::I64)
    }
}

impl From<NumType> for Type {
    fn from(t: NumType) -> Type {
        t.as_type().clone()
    }
}

impl Type {
    /// Bits of an integer type (32 or 64), `None` for every other type.
    pub fn int_bits(&self) -> Option<u32> {
        match self {
            Type::I32 => Some(32),
            Type::I64 => Some(64),
            Type::F32 | Type::F64 | Type::Cap(_) | Type::Region | Type::Buf => None,
        }
    }
}

impl Const {
    /// The type of a constant.
    pub fn num_type(&self) -> NumType {
        match self {
            Const::I32(_) => NumType::I32,
            Const::I64(_) => NumType::I64,
            Const::F32(_) => NumType::F32,
            Const::F64(_) => NumType::F64,
        }
    }
}
