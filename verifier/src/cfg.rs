//! Control-flow graph and dominator tree of one function.
//!
//! Dominators are computed with the Lengauer–Tarjan algorithm (path compression,
//! O(E log V)), iteratively so that a hostile function cannot exhaust the native
//! stack. Dominance queries are O(1) through dominator-tree DFS intervals.

use capjit_ir::Function;

const NONE: u32 = u32::MAX;

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
        // Successors as one flat list: `succ[start[b]..start[b + 1]]`.
        let mut start = Vec::with_capacity(n + 1);
        let mut succ: Vec<u32> = Vec::with_capacity(2 * n);
        for b in &f.blocks {
            start.push(succ.len());
            succ.extend(b.term.successors().map(|t| t.0));
        }
        start.push(succ.len());

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
            for s in succ[start[b as usize]..start[b as usize + 1]].iter().rev() {
                if pre[*s as usize] == NONE {
                    stack.push((*s, pre[b as usize]));
                }
            }
        }
        let count = vertex.len();

        // Predecessors of reachable blocks, as preorder numbers, flat like `succ`.
        let mut pred_count = vec![0usize; count + 1];
        for (b, &p) in pre.iter().enumerate() {
            if p != NONE {
                for s in &succ[start[b]..start[b + 1]] {
                    pred_count[pre[*s as usize] as usize + 1] += 1;
                }
            }
        }
        for i in 0..count {
            pred_count[i + 1] += pred_count[i];
        }
        let mut fill = pred_count.clone();
        let mut preds = vec![0u32; pred_count[count]];
        for (b, &p) in pre.iter().enumerate() {
            if p != NONE {
                for s in &succ[start[b]..start[b + 1]] {
                    let w = pre[*s as usize] as usize;
                    preds[fill[w]] = p;
                    fill[w] += 1;
                }
            }
        }

        let idom = lengauer_tarjan(&parent, &preds, &pred_count);

        // Dominator-tree DFS intervals, by block: children in flat lists too.
        let mut child_count = vec![0usize; count + 1];
        for &p in idom.iter().skip(1) {
            child_count[p as usize + 1] += 1;
        }
        for i in 0..count {
            child_count[i + 1] += child_count[i];
        }
        let mut fill = child_count.clone();
        let mut children = vec![0u32; count.saturating_sub(1)];
        for (w, &p) in idom.iter().enumerate().skip(1) {
            children[fill[p as usize]] = w as u32;
            fill[p as usize] += 1;
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
            for c in &children[child_count[v as usize]..child_count[v as usize + 1]] {
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

/// Immediate dominators over preorder numbers (vertex 0 is the root); the
/// predecessors of `w` are `preds[pred_start[w]..pred_start[w + 1]]`.
fn lengauer_tarjan(parent: &[u32], preds: &[u32], pred_start: &[usize]) -> Vec<u32> {
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
        for &v in &preds[pred_start[w]..pred_start[w + 1]] {
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
        // Small graphs, then larger ones, whose deeper DFS trees exercise the path
        // compression of `eval` (a wrong label there survived the small ones).
        for round in 0..400 {
            let (nodes, edges) = if round < 300 { (12, 3) } else { (48, 4) };
            let n = 1 + (next() % nodes) as usize;
            let succ: Vec<Vec<usize>> = (0..n)
                .map(|_| (0..next() % edges).map(|_| (next() % n as u64) as usize).collect())
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
