//! The IR's shape, written once: the types each operation defines, the blocks each
//! terminator can go to, how an integer condition turns around, and how the numeric
//! types sit among the value types. The verifier, the translator, the optimiser, the
//! Wasm frontend, the fuzzer and the tests all read these; none keeps its own table.
//!
//! TRUSTED (read by the verifier and the translator): a wrong answer here is a wrong
//! type or a missed edge everywhere at once, so every `match` is exhaustive and
//! nothing here checks anything; the verifier checks operands and indices.

use crate::model::{BlockCall, BlockId, Const, Domain, IntCC, NumType, Op, RefType, Signature, Terminator, Type};

/// What the result types of calls, `cap.get` and `global.get` depend on: the
/// signatures and global types a domain declares, by index; `None` for an index out
/// of range.
pub trait DomainTypes {
    fn function_sig(&self, func: u32) -> Option<&Signature>;
    fn import_sig(&self, import: u32) -> Option<&Signature>;
    fn global_type(&self, global: u32) -> Option<NumType>;
    fn table_type(&self, table: u32) -> Option<RefType>;
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

    fn table_type(&self, table: u32) -> Option<RefType> {
        self.tables.get(table as usize).map(|t| t.elem)
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
            | Op::RegionLen { .. }
            | Op::RefIsNull { .. }
            | Op::TableSize { .. }
            | Op::TableGrow { .. } => one(&Type::I32),
            Op::RefNull { ty } => one(ty.as_type()),
            Op::RefFunc { .. } => one(&Type::FuncRef),
            Op::TableGet { table, .. } => d.table_type(*table).and_then(|t| one(t.as_type())),
            Op::BufMake { .. } => one(&Type::Buf),
            Op::RegionNew { .. } => one(&Type::Region),
            Op::Store { .. }
            | Op::MemoryCopy { .. }
            | Op::MemoryFill { .. }
            | Op::MemoryInit { .. }
            | Op::DataDrop { .. }
            | Op::TableCopy { .. }
            | Op::TableSet { .. }
            | Op::TableFill { .. }
            | Op::TableInit { .. }
            | Op::ElemDrop { .. }
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
    /// Every integer condition, in declaration order.
    pub const ALL: [IntCC; 10] = [
        IntCC::Eq,
        IntCC::Ne,
        IntCC::Slt,
        IntCC::Sle,
        IntCC::Sgt,
        IntCC::Sge,
        IntCC::Ult,
        IntCC::Ule,
        IntCC::Ugt,
        IntCC::Uge,
    ];

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

impl RefType {
    /// The value type of references of this type.
    pub fn as_type(self) -> &'static Type {
        match self {
            RefType::Func => &Type::FuncRef,
            RefType::Extern => &Type::ExternRef,
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

    /// Bytes of a value of this type: 4 or 8.
    pub fn bytes(self) -> u8 {
        match self {
            NumType::I32 | NumType::F32 => 4,
            NumType::I64 | NumType::F64 => 8,
        }
    }
}

impl From<NumType> for Type {
    fn from(t: NumType) -> Type {
        t.as_type().clone()
    }
}

impl Type {
    /// The reference type this value type is, if it is one.
    pub fn ref_type(&self) -> Option<RefType> {
        match self {
            Type::FuncRef => Some(RefType::Func),
            Type::ExternRef => Some(RefType::Extern),
            _ => None,
        }
    }

    /// Bits of an integer type (32 or 64), `None` for every other type.
    pub fn int_bits(&self) -> Option<u32> {
        match self {
            Type::I32 => Some(32),
            Type::I64 => Some(64),
            Type::F32 | Type::F64 | Type::Cap(_) | Type::Region | Type::Buf | Type::FuncRef | Type::ExternRef => None,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BlockCall, Function, Global, Import, ImportSource, Memory, Value};

    /// The meaning of a condition on 64-bit operands: the reference interpreter's.
    #[cfg(feature = "tools")]
    fn holds(cc: IntCC, a: i64, b: i64) -> bool {
        use crate::value::Val;
        crate::interp::arith::icmp(cc, NumType::I64, Val::I64(a), Val::I64(b)) == Ok(Val::I32(1))
    }

    #[test]
    #[cfg(feature = "tools")]
    fn inverse_and_swap_mean_what_they_say() {
        let samples = [i64::MIN, -2, -1, 0, 1, 2, i64::MAX];
        for cc in IntCC::ALL {
            assert_eq!(cc.inverse().inverse(), cc);
            assert_eq!(cc.swap().swap(), cc);
            for a in samples {
                for b in samples {
                    assert_eq!(holds(cc.inverse(), a, b), !holds(cc, a, b), "{cc:?} {a} {b}");
                    assert_eq!(holds(cc.swap(), b, a), holds(cc, a, b), "{cc:?} {a} {b}");
                }
            }
        }
    }

    fn call(b: u32) -> BlockCall {
        BlockCall {
            block: BlockId(b),
            args: vec![],
        }
    }

    #[test]
    fn successors_in_order_and_renumbered_alike() {
        let v = Value(0);
        let cases = [
            (Terminator::Jump(call(3)), vec![3]),
            (
                Terminator::Brif {
                    cond: v,
                    then: call(1),
                    else_: call(2),
                },
                vec![1, 2],
            ),
            (
                Terminator::BrTable {
                    index: v,
                    default: call(4),
                    targets: vec![call(1), call(4), call(2)],
                },
                vec![4, 1, 4, 2],
            ),
            (
                Terminator::CallCap {
                    cap: v,
                    args: vec![],
                    ok: BlockId(5),
                    fail: BlockId(6),
                },
                vec![5, 6],
            ),
            (Terminator::Return(vec![v]), vec![]),
            (Terminator::Trap, vec![]),
            (Terminator::TrapWith(v), vec![]),
        ];
        for (mut t, want) in cases {
            assert_eq!(t.successors().map(|b| b.0).collect::<Vec<_>>(), want, "{t:?}");
            t.successors_mut().for_each(|b| b.0 += 10);
            let moved: Vec<u32> = want.iter().map(|b| b + 10).collect();
            assert_eq!(t.successors().map(|b| b.0).collect::<Vec<_>>(), moved, "{t:?}");
        }
    }

    #[test]
    fn result_types_follow_the_domain() {
        let sig = Signature {
            params: vec![Type::I32],
            results: vec![Type::I64, Type::Buf],
        };
        let d = Domain {
            name: "d".into(),
            memory: Memory::default(),
            inbox: None,
            data: vec![],
            passive_data: vec![],
            imports: vec![Import {
                name: "f".into(),
                source: ImportSource::Host { function: "f".into() },
                sig: sig.clone(),
                span: None,
            }],
            globals: vec![Global {
                name: "g".into(),
                ty: NumType::F32,
                mutable: false,
                init: Const::F32(0),
                span: None,
            }],
            tables: vec![],
            passive_elems: vec![],
            functions: vec![Function {
                name: "f".into(),
                exported: false,
                sig: sig.clone(),
                blocks: vec![],
                span: None,
            }],
            span: None,
        };
        let v = Value(0);
        let types = |op: Op| op.result_types(&d).map(|r| r.to_vec());
        assert_eq!(types(Op::Const(Const::F64(0))), Some(vec![Type::F64]));
        assert_eq!(
            types(Op::Icmp {
                cc: IntCC::Eq,
                ty: NumType::I64,
                a: v,
                b: v
            }),
            Some(vec![Type::I32])
        );
        assert_eq!(types(Op::RegionNew { len: v }), Some(vec![Type::Region]));
        assert_eq!(types(Op::RegionFree { region: v }), Some(vec![]));
        assert_eq!(types(Op::Call { func: 0, args: vec![v] }), Some(sig.results.clone()));
        assert_eq!(types(Op::Call { func: 1, args: vec![v] }), None);
        assert_eq!(types(Op::GlobalGet { global: 0 }), Some(vec![Type::F32]));
        assert_eq!(types(Op::GlobalGet { global: 1 }), None);
        assert_eq!(
            types(Op::CapGet { import: 0 }),
            Some(vec![Type::Cap(Box::new(sig.clone()))])
        );
        assert_eq!(types(Op::CapGet { import: 1 }), None);
        assert_eq!(Op::CapGet { import: 1 }.result_type_vec(&d), vec![]);
    }
}
