//! Control-flow graph and dominator tree of one function.
//!
//! Dominators are computed with the Lengauer–Tarjan algorithm (path compression,
//! O(E log V)), iteratively so that a hostile function cannot exhaust the native
//! stack. Dominance queries are O(1) through dominator-tree DFS intervals.

use capjit_ir::Function;

const NONE: u32 = u32::MAX;

/// The dominator tree of a function whose branch targets are all valid. One is
/// kept for the whole module and rebuilt for each function, so that its tables
/// are allocated once.
#[derive(Default)]
pub struct DomTree {
    /// Preorder number of each block in the DFS from the entry; `NONE` if unreachable.
    pre: Vec<u32>,
    /// Dominator-tree DFS entry and exit times, by block.
    enter: Vec<u32>,
    exit: Vec<u32>,
    /// Reachable blocks in dominator-tree preorder: every block after its dominators.
    preorder: Vec<u32>,
    work: Work,
}

/// The working tables of one build; over preorder numbers unless they say otherwise.
#[derive(Default)]
struct Work {
    /// Successors of block `b` (by block): `succ[start[b]..start[b + 1]]`.
    start: Vec<usize>,
    succ: Vec<u32>,
    /// Block of each preorder number, and its DFS-tree parent.
    vertex: Vec<u32>,
    parent: Vec<u32>,
    stack: Vec<(u32, u32)>,
    /// Predecessors of `w`: `preds[pred_start[w]..pred_start[w + 1]]`.
    pred_start: Vec<usize>,
    preds: Vec<u32>,
    fill: Vec<usize>,
    semi: Vec<u32>,
    label: Vec<u32>,
    ancestor: Vec<u32>,
    idom: Vec<u32>,
    /// Lengauer–Tarjan's buckets as linked lists: first member, next member.
    bucket: Vec<u32>,
    next: Vec<u32>,
    path: Vec<u32>,
}

/// Clears `v` and fills it with `n` copies of `x`, keeping its allocation.
fn reset<T: Clone>(v: &mut Vec<T>, n: usize, x: T) {
    v.clear();
    v.resize(n, x);
}

impl DomTree {
    /// Build the tree of `f`; branch targets must already be known to be in range.
    pub fn build(&mut self, f: &Function) {
        let n = f.blocks.len();
        let w = &mut self.work;
        w.start.clear();
        w.succ.clear();
        for b in &f.blocks {
            w.start.push(w.succ.len());
            w.succ.extend(b.term.successors().map(|t| t.0));
        }
        w.start.push(w.succ.len());

        // Iterative DFS from the entry: preorder numbers and DFS-tree parents.
        reset(&mut self.pre, n, NONE);
        w.vertex.clear();
        w.parent.clear();
        w.stack.clear();
        w.stack.push((0, NONE));
        while let Some((b, from)) = w.stack.pop() {
            if self.pre[b as usize] != NONE {
                continue;
            }
            self.pre[b as usize] = w.vertex.len() as u32;
            w.vertex.push(b);
            w.parent.push(from);
            for s in w.succ[w.start[b as usize]..w.start[b as usize + 1]].iter().rev() {
                if self.pre[*s as usize] == NONE {
                    w.stack.push((*s, self.pre[b as usize]));
                }
            }
        }
        let count = w.vertex.len();

        // Predecessors of reachable blocks, as preorder numbers.
        reset(&mut w.pred_start, count + 1, 0);
        for (b, &p) in self.pre.iter().enumerate() {
            if p != NONE {
                for s in &w.succ[w.start[b]..w.start[b + 1]] {
                    w.pred_start[self.pre[*s as usize] as usize + 1] += 1;
                }
            }
        }
        for i in 0..count {
            w.pred_start[i + 1] += w.pred_start[i];
        }
        w.fill.clone_from(&w.pred_start);
        reset(&mut w.preds, w.pred_start[count], 0);
        for (b, &p) in self.pre.iter().enumerate() {
            if p != NONE {
                for s in &w.succ[w.start[b]..w.start[b + 1]] {
                    let to = self.pre[*s as usize] as usize;
                    w.preds[w.fill[to]] = p;
                    w.fill[to] += 1;
                }
            }
        }

        w.lengauer_tarjan();

        // Dominator-tree DFS intervals, by block. Children of `v` as linked lists
        // (reusing `bucket` and `next`), walked by an explicit stack; the lists
        // run in decreasing preorder, so children are visited in increasing
        // preorder, close to the order of the text (and of the blocks in memory).
        reset(&mut w.bucket, count, NONE);
        reset(&mut w.next, count, NONE);
        for v in 1..count {
            let p = w.idom[v] as usize;
            w.next[v] = w.bucket[p];
            w.bucket[p] = v as u32;
        }
        reset(&mut self.enter, n, 0);
        reset(&mut self.exit, n, 0);
        let mut clock = 0u32;
        self.preorder.clear();
        w.stack.clear();
        w.stack.push((0, 0));
        while let Some((v, done)) = w.stack.pop() {
            let block = w.vertex[v as usize] as usize;
            if done == 1 {
                self.exit[block] = clock;
                clock += 1;
                continue;
            }
            self.enter[block] = clock;
            self.preorder.push(block as u32);
            clock += 1;
            w.stack.push((v, 1));
            let mut c = w.bucket[v as usize];
            while c != NONE {
                w.stack.push((c, 0));
                c = w.next[c as usize];
            }
        }
    }

    /// Reachable blocks, each after every block that dominates it.
    pub fn preorder(&self) -> &[u32] {
        &self.preorder
    }

    pub fn reachable(&self, b: usize) -> bool {
        self.pre[b] != NONE
    }

    /// Whether block `a` dominates block `b` (every block dominates itself).
    pub fn dominates(&self, a: usize, b: usize) -> bool {
        self.reachable(a) && self.reachable(b) && self.enter[a] <= self.enter[b] && self.exit[b] <= self.exit[a]
    }
}

impl Work {
    /// Immediate dominators (`idom`) over preorder numbers (vertex 0 is the root),
    /// from `parent` and the predecessor lists.
    fn lengauer_tarjan(&mut self) {
        let n = self.parent.len();
        self.semi.clear();
        self.semi.extend(0..n as u32);
        self.label.clone_from(&self.semi);
        reset(&mut self.ancestor, n, NONE);
        reset(&mut self.idom, n, 0);
        reset(&mut self.bucket, n, NONE);
        reset(&mut self.next, n, NONE);

        for w in (1..n).rev() {
            for k in self.pred_start[w]..self.pred_start[w + 1] {
                let u = self.eval(self.preds[k]);
                if self.semi[u as usize] < self.semi[w] {
                    self.semi[w] = self.semi[u as usize];
                }
            }
            let s = self.semi[w] as usize;
            self.next[w] = self.bucket[s];
            self.bucket[s] = w as u32;
            let p = self.parent[w];
            self.ancestor[w] = p;
            let mut v = std::mem::replace(&mut self.bucket[p as usize], NONE);
            while v != NONE {
                let u = self.eval(v);
                self.idom[v as usize] = if self.semi[u as usize] < self.semi[v as usize] {
                    u
                } else {
                    p
                };
                v = self.next[v as usize];
            }
        }
        for w in 1..n {
            if self.idom[w] != self.semi[w] {
                self.idom[w] = self.idom[self.idom[w] as usize];
            }
        }
    }

    /// The vertex of least semidominator on `v`'s ancestor path, compressing it.
    fn eval(&mut self, v: u32) -> u32 {
        if self.ancestor[v as usize] == NONE {
            return v;
        }
        // Compress the ancestor path of v, root side first.
        self.path.clear();
        let mut x = v;
        while self.ancestor[self.ancestor[x as usize] as usize] != NONE {
            self.path.push(x);
            x = self.ancestor[x as usize];
        }
        for i in (0..self.path.len()).rev() {
            let x = self.path[i];
            let a = self.ancestor[x as usize] as usize;
            if self.semi[self.label[a] as usize] < self.semi[self.label[x as usize] as usize] {
                self.label[x as usize] = self.label[a];
            }
            self.ancestor[x as usize] = self.ancestor[a];
        }
        self.label[v as usize]
    }
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
        // Small graphs, then larger ones, whose deeper DFS trees exercise the path
        // compression of `eval` (a wrong label there survived the small ones).
        for round in 0..400 {
            let (nodes, edges) = if round < 300 { (12, 3) } else { (48, 4) };
            let n = 1 + (next() % nodes) as usize;
            let succ: Vec<Vec<usize>> = (0..n)
                .map(|_| (0..next() % edges).map(|_| (next() % n as u64) as usize).collect())
                .collect();
            let f = graph_function(&succ);
            let mut tree = DomTree::default();
            tree.build(&f);
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
