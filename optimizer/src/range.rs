//! Unsigned range analysis with the verifier's own fact rules
//! (`capjit_verifier::rules`: `derive`, `derive_binary`, `refine`), so that a range
//! computed here and attached as `!range(lo, hi)` is a fact the verifier can check
//! with the same local rules.
//!
//! The analysis iterates those rules to a post-fixpoint over the whole function:
//! instruction results from their operands, block parameters as the join over every
//! incoming edge (refined by the edge's condition), with widening at parameters that
//! keep growing and two narrowing rounds afterwards. Whatever it gets wrong, the
//! verifier rejects, and the optimiser drops the fact (see `lib.rs`); a wrong range is
//! never a wrong program except through the rewrites that rely on it, which only use
//! ranges derived from facts of a module that verified.

use std::collections::HashMap;

use capjit_ir::{Const, Fact, Function, IntCC, Op, Terminator, Value};
pub use capjit_verifier::rules::{derive, derive_binary, max_of, Range};
use capjit_verifier::rules::{refine, EdgeCondition, Operands};

use crate::util::{block_calls, Cfg, Defs, DomainCx};

/// What the analysis needs of a range beyond the verifier's rules.
pub trait RangeExt {
    fn full(bits: u32) -> Range;
    fn point(c: u64) -> Range;
    fn join(self, o: Range) -> Range;
    fn contains(self, o: Range) -> bool;
}

impl RangeExt for Range {
    fn full(bits: u32) -> Range {
        Range {
            lo: 0,
            hi: max_of(bits),
        }
    }

    fn point(c: u64) -> Range {
        Range { lo: c, hi: c }
    }

    fn join(self, o: Range) -> Range {
        Range {
            lo: self.lo.min(o.lo),
            hi: self.hi.max(o.hi),
        }
    }

    fn contains(self, o: Range) -> bool {
        self.lo <= o.lo && o.hi <= self.hi
    }
}

/// How operands look to the verifier's rules ([`Operands`]: a range per value, the
/// constant a value is defined as, the memory's pages), and each value's width.
pub trait View: Operands {
    fn bits(&self, v: Value) -> u32;
}

/// The `icmp` deciding the edges of a `brif` terminator, as the verifier finds it.
pub fn brif_condition(f: &Function, defs: &Defs, term: &Terminator) -> Option<(IntCC, Value, Value)> {
    let Terminator::Brif { cond, .. } = term else {
        return None;
    };
    match defs.op(f, *cond)? {
        Op::Icmp { cc, a, b, .. } => Some((*cc, *a, *b)),
        _ => None,
    }
}

/// What the analysis may assume beyond the code itself.
#[derive(Clone, Debug, Default)]
pub struct Assumptions {
    /// Trust the module's own facts (only when it verified).
    pub trust_facts: bool,
    /// Ranges assumed for entry parameters (used to evaluate specialisation).
    pub entry: HashMap<Value, Range>,
}

/// The analysis result: a range for every integer value reached.
pub struct Ranges {
    r: Vec<Option<Range>>,
    bits: Vec<u32>,
    consts: Vec<Option<u64>>,
    /// Facts kept as the verifier reads them (`lt`, `mem`), by value.
    kept: HashMap<Value, Range>,
    pages: (u32, u32),
}

impl Operands for Ranges {
    fn range(&self, v: Value) -> Range {
        let bits = self.bits(v);
        if let Some(c) = self.constant(v) {
            return Range::point(c);
        }
        if let Some(k) = self.kept.get(&v) {
            return *k;
        }
        self.r.get(v.0 as usize).copied().flatten().unwrap_or(Range::full(bits))
    }
    fn constant(&self, v: Value) -> Option<u64> {
        self.consts.get(v.0 as usize).copied().flatten()
    }
    fn pages(&self) -> (u32, u32) {
        self.pages
    }
}

impl View for Ranges {
    fn bits(&self, v: Value) -> u32 {
        match self.bits.get(v.0 as usize) {
            Some(&b) if b > 0 => b,
            _ => 64,
        }
    }
}

impl Ranges {
    pub fn is_int(&self, v: Value) -> bool {
        self.bits.get(v.0 as usize).is_some_and(|&b| b > 0)
    }

    /// Whether a fact other than a range is kept on `v` (it is read as the verifier reads it).
    pub fn has_kept_fact(&self, v: Value) -> bool {
        self.kept.contains_key(&v)
    }
}

/// Rounds of widening iteration before giving up (every range then becomes full).
const MAX_ROUNDS: usize = 60;
/// Updates of one block parameter before its growing bounds jump to the extremes.
const WIDEN_AFTER: u32 = 3;
/// Rounds that recompute every range from a post-fixpoint, without widening.
const NARROWING_ROUNDS: usize = 3;

/// Compute ranges for every integer value of `f`.
pub fn analyze(cx: &DomainCx, f: &Function, defs: &Defs, cfg: &Cfg, assume: &Assumptions) -> Ranges {
    let n = crate::util::next_value(f) as usize;
    let mut bits = vec![0u32; n];
    let mut consts = vec![None; n];
    for (v, t) in &defs.ty {
        if let (Some(b), Some(slot)) = (t.int_bits(), bits.get_mut(v.0 as usize)) {
            *slot = b;
        }
    }
    for block in &f.blocks {
        for inst in &block.insts {
            if let (Op::Const(c), [d]) = (&inst.op, inst.results.as_slice()) {
                let k = match c {
                    Const::I32(c) => Some(*c as u32 as u64),
                    Const::I64(c) => Some(*c as u64),
                    _ => None,
                };
                if let Some(slot) = consts.get_mut(d.value.0 as usize) {
                    *slot = k;
                }
            }
        }
    }
    let pages = (cx.memory.initial, cx.memory.maximum);
    let mut st = Ranges {
        r: vec![None; n],
        bits,
        consts,
        kept: HashMap::new(),
        pages,
    };
    // Claimed facts, when trusted: ranges bound what we compute; other facts are
    // read the way the verifier reads them.
    let mut claims: HashMap<Value, Range> = HashMap::new();
    let facts = all_facts(f);
    for (v, fact) in &facts {
        if !st.is_int(*v) || st.constant(*v).is_some() {
            continue;
        }
        let b = st.bits(*v);
        match fact {
            Fact::Range { lo, hi } if assume.trust_facts && lo <= hi => {
                claims.insert(
                    *v,
                    Range {
                        lo: *lo,
                        hi: (*hi).min(max_of(b)),
                    },
                );
            }
            Fact::Range { .. } => {}
            Fact::Lt(m) => {
                let hi_m = match facts.get(m) {
                    Some(Fact::Range { hi, .. }) if assume.trust_facts => (*hi).min(max_of(st.bits(*m))),
                    _ => st.constant(*m).unwrap_or(max_of(st.bits(*m))),
                };
                let k = if assume.trust_facts {
                    Range {
                        lo: 0,
                        hi: hi_m.saturating_sub(1).min(max_of(b)),
                    }
                } else {
                    Range::full(b)
                };
                st.kept.insert(*v, k);
            }
            Fact::InMemory { size } => {
                let k = if assume.trust_facts {
                    Range {
                        lo: 0,
                        hi: cx.max_bytes().saturating_sub(*size as u64).min(max_of(b)),
                    }
                } else {
                    Range::full(b)
                };
                st.kept.insert(*v, k);
            }
        }
    }
    let meet = |v: Value, r: Range| -> Range {
        match claims.get(&v) {
            Some(c) => {
                let m = Range {
                    lo: r.lo.max(c.lo),
                    hi: r.hi.min(c.hi),
                };
                if m.lo > m.hi {
                    r
                } else {
                    m
                }
            }
            None => r,
        }
    };
    let foreign = crate::util::foreign_param_blocks(f);
    // Entry and call_cap parameters: their type, or what is assumed.
    for (b, block) in f.blocks.iter().enumerate() {
        if foreign[b] {
            for p in &block.params {
                if st.is_int(p.value) {
                    let full = Range::full(st.bits(p.value));
                    let r = if b == 0 {
                        assume.entry.get(&p.value).copied().unwrap_or(full)
                    } else {
                        full
                    };
                    st.r[p.value.0 as usize] = Some(r);
                }
            }
        }
    }
    let edge_conds: Vec<Option<(IntCC, Value, Value)>> =
        f.blocks.iter().map(|b| brif_condition(f, defs, &b.term)).collect();
    let round = |st: &mut Ranges, narrowing: bool, updates: &mut HashMap<Value, u32>| -> bool {
        let mut changed = false;
        for &b in &cfg.rpo {
            let block = &f.blocks[b];
            if !foreign[b] {
                for (k, p) in block.params.iter().enumerate() {
                    if !st.is_int(p.value) {
                        continue;
                    }
                    let Some(joined) = incoming(f, cfg, st, &edge_conds, b, k) else {
                        continue;
                    };
                    let mut new = meet(p.value, joined);
                    let old = st.r[p.value.0 as usize];
                    if let (false, Some(o)) = (narrowing, old) {
                        new = new.join(o);
                        if new != o {
                            let u = updates.entry(p.value).or_insert(0);
                            *u += 1;
                            if *u > WIDEN_AFTER {
                                let bits = st.bits(p.value);
                                if new.hi > o.hi {
                                    new.hi = max_of(bits);
                                }
                                if new.lo < o.lo {
                                    new.lo = 0;
                                }
                                new = meet(p.value, new);
                            }
                        }
                    }
                    if old != Some(new) {
                        st.r[p.value.0 as usize] = Some(new);
                        changed = true;
                    }
                }
            }
            for inst in &block.insts {
                let [d] = inst.results.as_slice() else {
                    for d in &inst.results {
                        if st.is_int(d.value) && st.r[d.value.0 as usize].is_none() {
                            st.r[d.value.0 as usize] = Some(Range::full(st.bits(d.value)));
                            changed = true;
                        }
                    }
                    continue;
                };
                if !st.is_int(d.value) {
                    continue;
                }
                let new = meet(d.value, derive(st, &inst.op, st.bits(d.value)));
                if st.r[d.value.0 as usize] != Some(new) {
                    st.r[d.value.0 as usize] = Some(new);
                    changed = true;
                }
            }
        }
        changed
    };
    let mut rounds = 0;
    let mut widen = |st: &mut Ranges| -> bool {
        // Each widening phase counts its own updates.
        let mut updates = HashMap::new();
        while round(st, false, &mut updates) {
            rounds += 1;
            if rounds >= MAX_ROUNDS {
                return false;
            }
        }
        true
    };
    // Up to a post-fixpoint; narrow (which, where the rules are not monotone, may
    // leave one that is not); and widen again from there, which only grows ranges,
    // so it ends at a post-fixpoint: every fact it writes follows from the others.
    let mut ok = widen(&mut st);
    if ok {
        for _ in 0..NARROWING_ROUNDS {
            if !round(&mut st, true, &mut HashMap::new()) {
                break;
            }
        }
        ok = widen(&mut st);
    }
    if !ok {
        // No fixpoint: know nothing rather than something wrong.
        for (i, r) in st.r.iter_mut().enumerate() {
            if st.bits[i] > 0 {
                *r = Some(Range::full(st.bits[i]));
            }
        }
    }
    st
}

/// The join of the (refined) arguments on every edge into parameter `k` of block `b`;
/// `None` while no incoming edge has a known argument.
fn incoming(
    f: &Function,
    cfg: &Cfg,
    st: &Ranges,
    conds: &[Option<(IntCC, Value, Value)>],
    b: usize,
    k: usize,
) -> Option<Range> {
    let mut acc: Option<Range> = None;
    let mut seen_pred = Vec::new();
    for &p in &cfg.preds[b] {
        if seen_pred.contains(&p) || !cfg.reachable(p) {
            continue;
        }
        seen_pred.push(p);
        for (ci, call) in block_calls(&f.blocks[p].term).into_iter().enumerate() {
            if call.block.0 as usize != b {
                continue;
            }
            let Some(&arg) = call.args.get(k) else { continue };
            if st.constant(arg).is_none()
                && !st.kept.contains_key(&arg)
                && st.r.get(arg.0 as usize).copied().flatten().is_none()
            {
                continue;
            }
            let r = edge_range(st, conds[p], ci, arg);
            acc = Some(acc.map_or(r, |a| a.join(r)));
        }
    }
    acc
}

/// The range of `arg` on call `ci` (0 = then, 1 = else) of a block whose `brif`
/// condition is `cond`.
pub fn edge_range(st: &dyn View, cond: Option<(IntCC, Value, Value)>, ci: usize, arg: Value) -> Range {
    match cond {
        Some((cc, a, b)) if ci < 2 => {
            let cond = EdgeCondition {
                cc,
                a,
                b,
                taken_when_true: ci == 0,
            };
            refine(st, arg, &cond).0
        }
        _ => st.range(arg),
    }
}

/// Every fact of a function, by value.
pub fn all_facts(f: &Function) -> HashMap<Value, Fact> {
    let mut out = HashMap::new();
    for b in &f.blocks {
        for p in &b.params {
            if let Some(fact) = p.fact {
                out.insert(p.value, fact);
            }
        }
        for i in &b.insts {
            for d in &i.results {
                if let Some(fact) = d.fact {
                    out.insert(d.value, fact);
                }
            }
        }
    }
    out
}

/// Whether an access of `len_hi` bytes at `addr + offset` is in the initial memory
/// for every value `addr` may hold, as the verifier decides it.
pub fn access_proven(
    cx: &DomainCx,
    st: &dyn View,
    mem_fact: Option<u32>,
    addr: Value,
    offset: u64,
    len_hi: u64,
) -> bool {
    if let Some(size) = mem_fact {
        if size as u64 >= offset.saturating_add(len_hi) {
            return true;
        }
    }
    let r = st.range(addr);
    r.hi as u128 + offset as u128 + len_hi as u128 <= cx.initial_bytes() as u128
}

/// Count memory accesses of `f` proven in bounds by the ranges (and the kept `mem`
/// facts), the way the verifier counts them.
pub fn count_proven(cx: &DomainCx, f: &Function, st: &Ranges) -> (usize, usize) {
    let facts = all_facts(f);
    let mem = |v: Value| match facts.get(&v) {
        Some(Fact::InMemory { size }) => Some(*size),
        _ => None,
    };
    let (mut proven, mut total) = (0, 0);
    for b in &f.blocks {
        for inst in &b.insts {
            let ok = match &inst.op {
                Op::Load { access, addr, offset }
                | Op::Store {
                    access, addr, offset, ..
                } => Some(access_proven(
                    cx,
                    st,
                    mem(*addr),
                    *addr,
                    *offset as u64,
                    access.bytes as u64,
                )),
                Op::MemoryCopy { dst, src, len } => {
                    let n = st.range(*len).hi;
                    Some(access_proven(cx, st, mem(*dst), *dst, 0, n) && access_proven(cx, st, mem(*src), *src, 0, n))
                }
                Op::MemoryFill { dst, len, .. } => {
                    let n = st.range(*len).hi;
                    Some(access_proven(cx, st, mem(*dst), *dst, 0, n))
                }
                _ => None,
            };
            if let Some(ok) = ok {
                total += 1;
                proven += ok as usize;
            }
        }
    }
    (proven, total)
}
