//! Building one function body: blocks with parameters, fresh values, instructions
//! appended to the current block, terminators, and the scope of typed values an
//! operand may be picked from.
//!
//! Blocks are numbered as they are created and laid out in the order they are
//! entered ([`FnBuilder::switch_to`]); [`FnBuilder::finish`] renumbers branch
//! targets to that layout. A structured generator enters an arm, restores the
//! scope to a [`Mark`] taken before it when the arm is done, and so only ever
//! offers values defined in a dominating position.

use capjit_ir::{
    Block, BlockCall, BlockId, BlockParam, Def, Fact, Function, Inst, Op, Signature, Terminator, Type, Value,
};

use crate::choice::Choices;

/// Which values enter the scope by themselves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scoping {
    /// Instruction results and the parameters of the block entered, capabilities
    /// excepted (a generator fetches those with `cap.get` where it uses them).
    Defined,
    /// Only what the generator offers ([`FnBuilder::offer`]).
    Offered,
}

/// A block under construction; targets are creation numbers until `finish`.
struct Pending {
    params: Vec<BlockParam>,
    insts: Vec<Inst>,
    term: Option<Terminator>,
}

/// The length of the scope, to drop what an arm or a loop body defined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark(usize);

pub struct FnBuilder {
    scoping: Scoping,
    next_value: u32,
    blocks: Vec<Pending>,
    layout: Vec<usize>,
    cur: usize,
    /// Values usable at the current point, in definition order.
    scope: Vec<(Value, Type)>,
    /// Instructions and terminators so far.
    len: usize,
}

/// An edge to `block` (a creation number) with `args`.
pub fn edge(block: usize, args: Vec<Value>) -> BlockCall {
    BlockCall {
        block: BlockId(block as u32),
        args,
    }
}

impl FnBuilder {
    pub fn new(scoping: Scoping) -> Self {
        FnBuilder {
            scoping,
            next_value: 0,
            blocks: Vec::new(),
            layout: Vec::new(),
            cur: 0,
            scope: Vec::new(),
            len: 0,
        }
    }

    pub fn fresh(&mut self) -> Value {
        let v = Value(self.next_value);
        self.next_value += 1;
        v
    }

    /// A new block with parameters of these types and facts; it is not entered.
    pub fn block_with_facts(&mut self, params: &[(Type, Option<Fact>)]) -> (usize, Vec<Value>) {
        let params: Vec<BlockParam> = params
            .iter()
            .map(|(ty, fact)| BlockParam {
                value: self.fresh(),
                ty: ty.clone(),
                fact: *fact,
            })
            .collect();
        let values = params.iter().map(|p| p.value).collect();
        self.blocks.push(Pending {
            params,
            insts: Vec::new(),
            term: None,
        });
        (self.blocks.len() - 1, values)
    }

    /// A new block with parameters of these types (no facts); it is not entered.
    pub fn block(&mut self, tys: &[Type]) -> (usize, Vec<Value>) {
        let params: Vec<(Type, Option<Fact>)> = tys.iter().map(|t| (t.clone(), None)).collect();
        self.block_with_facts(&params)
    }

    /// Continue in block `b`, laid out after every block entered so far (the
    /// current one must be terminated); with [`Scoping::Defined`] its parameters
    /// become usable.
    pub fn switch_to(&mut self, b: usize) {
        assert!(
            self.layout.is_empty() || self.blocks[self.cur].term.is_some(),
            "generator bug: a block left without terminator"
        );
        assert!(!self.layout.contains(&b), "generator bug: a block entered twice");
        self.layout.push(b);
        self.cur = b;
        if self.scoping == Scoping::Defined {
            for p in &self.blocks[b].params {
                if !matches!(p.ty, Type::Cap(_)) {
                    self.scope.push((p.value, p.ty.clone()));
                }
            }
        }
    }

    pub fn terminate(&mut self, t: Terminator) {
        let slot = &mut self.blocks[self.cur].term;
        assert!(slot.is_none(), "generator bug: a block terminated twice");
        *slot = Some(t);
        self.len += 1;
    }

    /// End the current block with `call_cap cap(args)`: new blocks `ok`, taking
    /// the callee's `results`, and `fail`, taking the trap code (neither is
    /// entered). Returns `(ok, its parameters, fail, the code)`.
    pub fn call_cap(&mut self, cap: Value, args: Vec<Value>, results: &[Type]) -> (usize, Vec<Value>, usize, Value) {
        let (ok, params) = self.block(results);
        let (fail, code) = self.block(&[Type::I32]);
        self.terminate(Terminator::CallCap {
            cap,
            args,
            ok: BlockId(ok as u32),
            fail: BlockId(fail as u32),
        });
        (ok, params, fail, code[0])
    }

    /// Append `op` with a fresh result of each type in `tys` (each with `fact`);
    /// with [`Scoping::Defined`] the results become usable.
    pub fn emit(&mut self, op: Op, tys: &[Type], fact: Option<Fact>) -> Vec<Value> {
        let values: Vec<Value> = tys.iter().map(|_| self.fresh()).collect();
        self.push(op, values.iter().map(|&value| Def { value, fact }).collect());
        if self.scoping == Scoping::Defined {
            for (v, t) in values.iter().zip(tys) {
                if !matches!(t, Type::Cap(_)) {
                    self.scope.push((*v, t.clone()));
                }
            }
        }
        values
    }

    /// Append `op` with one fresh result that does not enter the scope.
    pub fn emit_hidden(&mut self, op: Op, fact: Option<Fact>) -> Value {
        let value = self.fresh();
        self.push(op, vec![Def { value, fact }]);
        value
    }

    fn push(&mut self, op: Op, results: Vec<Def>) {
        self.blocks[self.cur].insts.push(Inst {
            results: results.into(),
            op,
            span: None,
        });
        self.len += 1;
    }

    /// Make `v` of type `ty` usable from here on.
    pub fn offer(&mut self, v: Value, ty: Type) {
        self.scope.push((v, ty));
    }

    pub fn mark(&self) -> Mark {
        Mark(self.scope.len())
    }

    /// Forget what entered the scope since `mark`.
    pub fn restore(&mut self, mark: Mark) {
        self.scope.truncate(mark.0);
    }

    /// The values of type `ty` in scope, in definition order.
    pub fn in_scope(&self, ty: &Type) -> impl Iterator<Item = Value> + '_ {
        let ty = ty.clone();
        self.scope.iter().filter(move |(_, t)| *t == ty).map(|(v, _)| *v)
    }

    /// The latest `n` values of type `ty` in scope, in definition order (without
    /// walking the whole scope).
    pub fn latest(&self, ty: &Type, n: usize) -> Vec<Value> {
        let mut out: Vec<Value> = self
            .scope
            .iter()
            .rev()
            .filter(|(_, t)| t == ty)
            .take(n)
            .map(|(v, _)| *v)
            .collect();
        out.reverse();
        out
    }

    /// The type of `v` if it is in scope.
    pub fn type_in_scope(&self, v: Value) -> Option<&Type> {
        self.scope.iter().rev().find(|(x, _)| *x == v).map(|(_, t)| t)
    }

    /// The first result of the last instruction of the current block.
    pub fn last_result(&self) -> Option<Value> {
        let inst = self.blocks[self.cur].insts.last()?;
        inst.results.first().map(|d| d.value)
    }

    /// Values defined so far (a fresh one is numbered this).
    pub fn values(&self) -> u32 {
        self.next_value
    }

    /// Instructions and terminators emitted so far.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The function, its blocks in layout order. Every block must have been
    /// entered and terminated.
    pub fn finish(self, name: String, exported: bool, sig: Signature) -> Function {
        let mut pos = vec![u32::MAX; self.blocks.len()];
        for (i, b) in self.layout.iter().enumerate() {
            pos[*b] = i as u32;
        }
        assert!(
            pos.iter().all(|p| *p != u32::MAX),
            "generator bug: a block was never entered"
        );
        let mut blocks: Vec<Option<Pending>> = self.blocks.into_iter().map(Some).collect();
        let mut out = Vec::with_capacity(blocks.len());
        for b in &self.layout {
            let pb = blocks[*b].take().expect("each block is laid out once");
            let mut term = pb.term.expect("generator bug: a block without terminator");
            term.successors_mut().for_each(|t| t.0 = pos[t.0 as usize]);
            out.push(Block {
                params: pb.params,
                insts: pb.insts,
                term,
                term_span: None,
            });
        }
        Function {
            name,
            exported,
            sig,
            blocks: out,
            span: None,
        }
    }
}

/// How an operand is picked among the candidates of its type in scope.
#[derive(Clone, Copy, Debug)]
pub struct Reuse {
    /// Percent of the time none is picked (the caller makes a new value).
    pub make_pct: u32,
    /// Percent of the picks among the latest `window` (expressions chain and
    /// results get used), the others among all.
    pub recent_pct: u32,
    pub window: u32,
}

impl Reuse {
    /// One of `cands` (in definition order), or `None`: there are none, or the
    /// caller is to make a new value.
    pub fn pick<C: Choices + ?Sized>(&self, c: &mut C, cands: &[Value]) -> Option<Value> {
        let n = cands.len() as u32;
        if n == 0 || (self.make_pct > 0 && c.chance(self.make_pct)) {
            return None;
        }
        let recent = match self.recent_pct {
            0 => false,
            100.. => true,
            p => c.chance(p),
        };
        let k = if recent {
            n - 1 - c.below(n.min(self.window))
        } else {
            c.below(n)
        };
        Some(cands[k as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::choice::FnChoices;
    use capjit_ir::{Const, NumType};

    fn i32c(x: i32) -> Op {
        Op::Const(Const::I32(x))
    }

    #[test]
    fn blocks_are_laid_out_as_entered_and_targets_follow() {
        let mut b = FnBuilder::new(Scoping::Defined);
        let (entry, _) = b.block(&[]);
        b.switch_to(entry);
        let x = b.emit(i32c(1), &[Type::I32], None)[0];
        let (join, jp) = b.block(&[Type::I32]);
        let (arm, _) = b.block(&[]);
        b.terminate(Terminator::Brif {
            cond: x,
            then: edge(arm, vec![]),
            else_: edge(join, vec![x]),
        });
        let mark = b.mark();
        b.switch_to(arm);
        let y = b.emit(i32c(2), &[Type::I32], None)[0];
        assert_eq!(b.in_scope(&Type::I32).collect::<Vec<_>>(), [x, y]);
        assert_eq!(b.latest(&Type::I32, 1), [y]);
        assert_eq!(b.latest(&Type::I32, 5), [x, y]);
        b.terminate(Terminator::Jump(edge(join, vec![y])));
        b.restore(mark);
        b.switch_to(join);
        assert_eq!(b.in_scope(&Type::I32).collect::<Vec<_>>(), [x, jp[0]]);
        assert_eq!(b.type_in_scope(y), None, "the arm's value is gone");
        b.terminate(Terminator::Return(vec![jp[0]]));
        assert_eq!(b.len(), 5);
        let sig = Signature {
            params: vec![],
            results: vec![Type::I32],
        };
        let f = b.finish("f".into(), true, sig);
        // Created entry, join, arm; entered entry, arm, join.
        assert!(matches!(&f.blocks[0].term, Terminator::Brif { then, else_, .. }
            if then.block == BlockId(1) && else_.block == BlockId(2)));
        assert!(matches!(&f.blocks[1].term, Terminator::Jump(t) if t.block == BlockId(2)));
        assert_eq!(f.blocks[2].params[0].value, jp[0]);
    }

    #[test]
    fn offered_scoping_keeps_only_what_is_offered() {
        let mut b = FnBuilder::new(Scoping::Offered);
        let (entry, params) = b.block(&[Type::I64]);
        b.switch_to(entry);
        assert_eq!(b.in_scope(&Type::I64).count(), 0);
        b.offer(params[0], Type::I64);
        let h = b.emit_hidden(i32c(3), None);
        b.emit(
            Op::Convert {
                op: capjit_ir::ConvOp::Uextend,
                from: NumType::I32,
                to: NumType::I64,
                a: h,
            },
            &[Type::I64],
            None,
        );
        assert_eq!(b.in_scope(&Type::I64).collect::<Vec<_>>(), [params[0]]);
        assert_eq!(b.last_result(), Some(Value(2)));
        assert_eq!(b.values(), 3);
    }

    #[test]
    fn call_cap_ends_the_block_with_ok_and_fail_successors() {
        let mut b = FnBuilder::new(Scoping::Defined);
        let (entry, _) = b.block(&[]);
        b.switch_to(entry);
        let cap = b.emit_hidden(Op::CapGet { import: 0 }, None);
        let (ok, results, fail, code) = b.call_cap(cap, vec![], &[Type::I64, Type::F32]);
        b.switch_to(fail);
        assert_eq!(b.type_in_scope(code), Some(&Type::I32));
        b.terminate(Terminator::TrapWith(code));
        b.switch_to(ok);
        assert_eq!(b.in_scope(&Type::F32).collect::<Vec<_>>(), [results[1]]);
        b.terminate(Terminator::Trap);
        let f = b.finish("f".into(), false, Signature::default());
        let Terminator::CallCap { ok, fail, .. } = &f.blocks[0].term else {
            panic!("{:?}", f.blocks[0].term);
        };
        // Entered fail before ok: the layout follows.
        assert_eq!((ok.0, fail.0), (2, 1));
        assert_eq!(f.blocks[2].params.len(), 2);
    }

    #[test]
    #[should_panic(expected = "without terminator")]
    fn leaving_an_open_block_is_a_generator_bug() {
        let mut b = FnBuilder::new(Scoping::Defined);
        let (e, _) = b.block(&[]);
        let (next, _) = b.block(&[]);
        b.switch_to(e);
        b.switch_to(next);
    }

    #[test]
    fn reuse_picks_only_candidates_recent_ones_when_asked() {
        let cands: Vec<Value> = (10..20).map(Value).collect();
        let recent = Reuse {
            make_pct: 0,
            recent_pct: 100,
            window: 3,
        };
        let mut answers = [0u32, 1, 2, 7].into_iter().cycle();
        let mut f = |_| answers.next().unwrap_or(0);
        let mut c = FnChoices::new(&mut f);
        let picked: Vec<Value> = (0..4).map(|_| recent.pick(&mut c, &cands).unwrap()).collect();
        assert_eq!(picked, [Value(19), Value(18), Value(17), Value(18)]);
        assert_eq!(recent.pick(&mut c, &[]), None);
        let mut zero = |_| 0;
        let mut z = FnChoices::new(&mut zero);
        let any = Reuse {
            make_pct: 15,
            recent_pct: 0,
            window: 1,
        };
        assert_eq!(any.pick(&mut z, &cands), Some(Value(10)), "0 reuses the oldest");
        let mut top = |_| 99;
        let mut t = FnChoices::new(&mut top);
        assert_eq!(any.pick(&mut t, &cands), None, "the top answers make a value");
    }
}
