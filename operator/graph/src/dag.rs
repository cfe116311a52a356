//! The dependency graph between resources: cycle detection with the cycle path, kro's
//! topological order (Kahn's algorithm, ties broken by position in `spec.resources`, then id)
//! and apply orders (deletion waves).

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

use thiserror::Error;

/// A cycle in the dependency graph, as kro prints it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("graph contains a cycle: {}", .path.join(" -> "))]
pub struct CycleError {
    /// The ids on the cycle, the first repeated at the end (`a -> b -> a`).
    pub path: Vec<String>,
}

/// A directed graph of resource ids; an edge `a -> b` means `a` depends on `b`.
#[derive(Debug, Clone, Default)]
pub struct Dag {
    ids: Vec<String>,
    /// `deps[i]`: indices `i` depends on (sorted, no duplicates).
    deps: Vec<BTreeSet<usize>>,
}

impl Dag {
    /// A graph with these vertices, in `spec.resources` order.
    pub fn new(ids: impl IntoIterator<Item = String>) -> Self {
        let ids: Vec<String> = ids.into_iter().collect();
        let deps = vec![BTreeSet::new(); ids.len()];
        Self { ids, deps }
    }

    /// The vertex ids in their original order.
    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    fn index(&self, id: &str) -> Option<usize> {
        self.ids.iter().position(|i| i == id)
    }

    /// Adds `from -> to` for each `to` (unknown ids are ignored; the builder reports them).
    pub fn add_dependencies<'a>(&mut self, from: &str, to: impl IntoIterator<Item = &'a str>) {
        let Some(f) = self.index(from) else { return };
        for t in to {
            if let Some(t) = self.index(t) {
                self.deps[f].insert(t);
            }
        }
    }

    /// The ids `id` depends on, in original order.
    pub fn dependencies(&self, id: &str) -> Vec<String> {
        self.index(id)
            .map(|i| self.deps[i].iter().map(|d| self.ids[*d].clone()).collect())
            .unwrap_or_default()
    }

    /// The first cycle found by a depth-first search from each vertex in original order.
    pub fn find_cycle(&self) -> Option<CycleError> {
        // 0 = unvisited, 1 = on stack, 2 = done
        let mut state = vec![0u8; self.ids.len()];
        let mut stack: Vec<usize> = Vec::new();
        for start in 0..self.ids.len() {
            if state[start] == 0
                && let Some(c) = self.dfs(start, &mut state, &mut stack)
            {
                return Some(c);
            }
        }
        None
    }

    fn dfs(&self, v: usize, state: &mut [u8], stack: &mut Vec<usize>) -> Option<CycleError> {
        state[v] = 1;
        stack.push(v);
        for &d in &self.deps[v] {
            if state[d] == 1 {
                let pos = stack.iter().position(|&s| s == d).unwrap_or(0);
                let mut path: Vec<String> =
                    stack[pos..].iter().map(|&i| self.ids[i].clone()).collect();
                path.push(self.ids[d].clone());
                return Some(CycleError { path });
            }
            if state[d] == 0
                && let Some(c) = self.dfs(d, state, stack)
            {
                return Some(c);
            }
        }
        stack.pop();
        state[v] = 2;
        None
    }

    /// kro's order: dependencies first; among ready vertices the smallest
    /// (position in `spec.resources`, id) comes first.
    pub fn topological_order(&self) -> Result<Vec<String>, CycleError> {
        if let Some(c) = self.find_cycle() {
            return Err(c);
        }
        let n = self.ids.len();
        let mut indegree: Vec<usize> = self.deps.iter().map(BTreeSet::len).collect();
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (v, ds) in self.deps.iter().enumerate() {
            for &d in ds {
                dependents[d].push(v);
            }
        }
        let mut heap = BinaryHeap::new();
        for (v, deg) in indegree.iter().enumerate() {
            if *deg == 0 {
                heap.push(Reverse((v, self.ids[v].clone())));
            }
        }
        let mut out = Vec::with_capacity(n);
        while let Some(Reverse((v, id))) = heap.pop() {
            out.push(id);
            for &w in &dependents[v] {
                indegree[w] -= 1;
                if indegree[w] == 0 {
                    heap.push(Reverse((w, self.ids[w].clone())));
                }
            }
        }
        Ok(out)
    }

    /// Apply order (deletion wave) of each id: vertices nothing depends on get the highest
    /// number, roots get 1, as kro's `ApplyOrders`. Requires an acyclic graph.
    pub fn apply_orders(&self) -> Result<Vec<(String, u32)>, CycleError> {
        if let Some(c) = self.find_cycle() {
            return Err(c);
        }
        let n = self.ids.len();
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (v, ds) in self.deps.iter().enumerate() {
            for &d in ds {
                dependents[d].push(v);
            }
        }
        // Layers peeled from the leaves (no dependents) upward.
        let mut remaining: Vec<usize> = dependents.iter().map(Vec::len).collect();
        let mut layer_of = vec![0usize; n];
        let mut current: Vec<usize> = (0..n).filter(|&v| remaining[v] == 0).collect();
        let mut layers = 0usize;
        while !current.is_empty() {
            let mut next = Vec::new();
            for &v in &current {
                layer_of[v] = layers;
                for &d in &self.deps[v] {
                    remaining[d] -= 1;
                    if remaining[d] == 0 {
                        next.push(d);
                    }
                }
            }
            layers += 1;
            current = next;
        }
        Ok((0..n)
            .map(|v| {
                let order = u32::try_from(layers - layer_of[v]).unwrap_or(u32::MAX);
                (self.ids[v].clone(), order)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dag(ids: &[&str], edges: &[(&str, &str)]) -> Dag {
        let mut d = Dag::new(ids.iter().map(|s| s.to_string()));
        for (a, b) in edges {
            d.add_dependencies(a, [*b]);
        }
        d
    }

    #[test]
    fn order_keeps_spec_order_for_ties() {
        let d = dag(&["c", "a", "b"], &[]);
        assert_eq!(d.topological_order().unwrap(), vec!["c", "a", "b"]);
        let d = dag(
            &["svc", "deploy", "cm"],
            &[("deploy", "cm"), ("svc", "deploy")],
        );
        assert_eq!(d.topological_order().unwrap(), vec!["cm", "deploy", "svc"]);
        let d = dag(&["a", "b", "c", "d"], &[("a", "d"), ("b", "d")]);
        assert_eq!(d.topological_order().unwrap(), vec!["c", "d", "a", "b"]);
    }

    #[test]
    fn cycles_print_their_path() {
        type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);
        let cases: Vec<Case> = vec![
            (vec!["a", "b"], vec![("a", "b"), ("b", "a")], "a -> b -> a"),
            (vec!["a"], vec![("a", "a")], "a -> a"),
            (
                vec!["x", "a", "b", "c"],
                vec![("x", "a"), ("a", "b"), ("b", "c"), ("c", "a")],
                "a -> b -> c -> a",
            ),
        ];
        for (ids, edges, want) in cases {
            let d = dag(&ids, &edges);
            let err = d.topological_order().unwrap_err();
            assert_eq!(err.to_string(), format!("graph contains a cycle: {want}"));
        }
    }

    #[test]
    fn apply_orders_leaves_highest() {
        let d = dag(
            &["cm", "deploy", "svc"],
            &[("deploy", "cm"), ("svc", "deploy")],
        );
        assert_eq!(
            d.apply_orders().unwrap(),
            vec![("cm".into(), 1), ("deploy".into(), 2), ("svc".into(), 3)]
        );
        let d = dag(&["a", "b"], &[]);
        assert_eq!(
            d.apply_orders().unwrap(),
            vec![("a".into(), 1), ("b".into(), 1)]
        );
    }
}
