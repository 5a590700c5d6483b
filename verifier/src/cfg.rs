//! Control-flow graph and dominator tree of one function.
//!
//! Dominators are computed with the Lengauer–Tarjan algorithm (path compression,
//! O(E log V)), iteratively so that a hostile function cannot exhaust the native
//! stack. Dominance queries are O(1) through dominator-tree DFS intervals.

use capjit_ir::{BlockId, Function, Terminator};

const NONE: u32 = u32::MAX;

/// Successor blocks of a terminator, in order (may contain duplicates).
pub fn successors(term: &Terminator) -> Vec<BlockId> {
    match term {
        Terminator::Jump(c) => vec![c.block],
        Terminator::Brif { then, else_, .. } => vec![then.block, else_.block],
        Terminator::BrTable { default, targets, .. } => std::iter::once(default.block)
            .chain(targets.iter().map(|t| t.block))
            .collect(),
        Terminator::Return(_) | Terminator::Trap => Vec::new(),
        Terminator::CallCap { ok, fail, .. } => vec![*ok, *fail],
    }
}

/// The dominator tree of a function whose branch targets are all valid.
pub struct DomTree {
    /// Preorder number of each block in the DFS from the entry; `NONE` if unreachable.
    pre: Vec<u32>,
    /// Dominator-tree DFS entry and exit times, by block.
    enter: Vec<u32>,
    exit: Vec<u32>,
}

impl DomTree {
    /// Build the tree; branch targets must already be known to be in range.
    pub fn new(f: &Function) -> DomTree {
        let n = f.blocks.len();
        let succs: Vec<Vec<BlockId>> = f.blocks.iter().map(|b| successors(&b.term)).collect();

        // Iterative DFS from the entry: preorder numbers and DFS-tree parents.
        let mut pre = vec![NONE; n];
        let mut vertex = Vec::with_capacity(n);
        let mut parent = Vec::with_capacity(n);
        let mut stack: Vec<(u32, u32)> = vec![(0, NONE)];
        while let Some((b, from)) = stack.pop() {
            if pre[b as usize] != NONE {
                continue;
            }
            pre[b as usize] = vertex.len() as u32;
            vertex.push(b);
            parent.push(from);
            for s in succs[b as usize].iter().rev() {
                if pre[s.0 as usize] == NONE {
                    stack.push((s.0, pre[b as usize]));
                }
            }
        }
        let count = vertex.len();

        // Predecessors, as preorder numbers, of reachable blocks.
        let mut preds: Vec<Vec<u32>> = vec![Vec::new(); count];
        for (b, ss) in succs.iter().enumerate() {
            if pre[b] == NONE {
                continue;
            }
            for s in ss {
                preds[pre[s.0 as usize] as usize].push(pre[b]);
            }
        }

        let idom = lengauer_tarjan(&parent, &preds);

        // Dominator-tree DFS intervals, by block.
        let mut children: Vec<Vec<u32>> = vec![Vec::new(); count];
        for w in 1..count {
            children[idom[w] as usize].push(w as u32);
        }
        let mut enter = vec![0; n];
        let mut exit = vec![0; n];
        let mut clock = 0u32;
        let mut stack: Vec<(u32, bool)> = vec![(0, false)];
        while let Some((v, done)) = stack.pop() {
            let block = vertex[v as usize] as usize;
            if done {
                exit[block] = clock;
                clock += 1;
                continue;
            }
            enter[block] = clock;
            clock += 1;
            stack.push((v, true));
            for c in &children[v as usize] {
                stack.push((*c, false));
            }
        }
        DomTree { pre, enter, exit }
    }

    pub fn reachable(&self, b: usize) -> bool {
        self.pre[b] != NONE
    }

    /// Whether block `a` dominates block `b` (every block dominates itself).
    pub fn dominates(&self, a: usize, b: usize) -> bool {
        self.reachable(a) && self.reachable(b) && self.enter[a] <= self.enter[b] && self.exit[b] <= self.exit[a]
    }
}

/// Immediate dominators over preorder numbers (vertex 0 is the root).
fn lengauer_tarjan(parent: &[u32], preds: &[Vec<u32>]) -> Vec<u32> {
    let n = parent.len();
    let mut semi: Vec<u32> = (0..n as u32).collect();
    let mut label: Vec<u32> = (0..n as u32).collect();
    let mut ancestor = vec![NONE; n];
    let mut idom = vec![0u32; n];
    let mut bucket: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut path = Vec::new();

    let eval = |v: u32, ancestor: &mut Vec<u32>, label: &mut Vec<u32>, semi: &Vec<u32>, path: &mut Vec<u32>| {
        if ancestor[v as usize] == NONE {
            return v;
        }
        // Compress the ancestor path of v, root side first.
        path.clear();
        let mut x = v;
        while ancestor[ancestor[x as usize] as usize] != NONE {
            path.push(x);
            x = ancestor[x as usize];
        }
        for &x in path.iter().rev() {
            let a = ancestor[x as usize] as usize;
            if semi[label[a] as usize] < semi[label[x as usize] as usize] {
                label[x as usize] = label[a];
            }
            ancestor[x as usize] = ancestor[a];
        }
        label[v as usize]
    };

    for w in (1..n).rev() {
        for &v in &preds[w] {
            let u = eval(v, &mut ancestor, &mut label, &semi, &mut path);
            if semi[u as usize] < semi[w] {
                semi[w] = semi[u as usize];
            }
        }
        bucket[semi[w] as usize].push(w as u32);
        let p = parent[w];
        ancestor[w] = p;
        for v in std::mem::take(&mut bucket[p as usize]) {
            let u = eval(v, &mut ancestor, &mut label, &semi, &mut path);
            idom[v as usize] = if semi[u as usize] < semi[v as usize] { u } else { p };
        }
    }
    for w in 1..n {
        if idom[w] != semi[w] {
            idom[w] = idom[idom[w] as usize];
        }
    }
    idom
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brute-force dominance: a dominates b iff b is unreachable when a is removed.
    fn brute(succ: &[Vec<usize>], a: usize, b: usize) -> bool {
        if a == b {
            return true;
        }
        let mut seen = vec![false; succ.len()];
        let mut stack = vec![0usize];
        while let Some(x) = stack.pop() {
            if x == a || seen[x] {
                continue;
            }
            seen[x] = true;
            stack.extend(&succ[x]);
        }
        a == 0 || !seen[b]
    }

    #[test]
    fn matches_brute_force_on_pseudo_random_graphs() {
        let mut seed = 0x2545f4914f6cdd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..300 {
            let n = 1 + (next() % 12) as usize;
            let succ: Vec<Vec<usize>> = (0..n)
                .map(|_| (0..next() % 3).map(|_| (next() % n as u64) as usize).collect())
                .collect();
            let f = graph_function(&succ);
            let tree = DomTree::new(&f);
            let mut seen = vec![false; n];
            let mut stack = vec![0usize];
            while let Some(x) = stack.pop() {
                if !seen[x] {
                    seen[x] = true;
                    stack.extend(&succ[x]);
                }
            }
            for a in 0..n {
                for b in 0..n {
                    if seen[a] && seen[b] {
                        assert_eq!(tree.dominates(a, b), brute(&succ, a, b), "{succ:?} {a} {b}");
                    }
                }
            }
        }
    }

    fn graph_function(succ: &[Vec<usize>]) -> Function {
        use capjit_ir::*;
        let call = |b: usize| BlockCall {
            block: BlockId(b as u32),
            args: vec![],
        };
        let blocks = succ
            .iter()
            .map(|s| Block {
                params: vec![],
                insts: vec![],
                term: match s.as_slice() {
                    [] => Terminator::Trap,
                    [a] => Terminator::Jump(call(*a)),
                    [a, rest @ ..] => Terminator::BrTable {
                        index: Value(0),
                        default: call(*a),
                        targets: rest.iter().map(|b| call(*b)).collect(),
                    },
                },
                term_span: None,
            })
            .collect();
        Function {
            name: "f".into(),
            exported: false,
            sig: Signature::default(),
            blocks,
            span: None,
        }
    }
}
