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
        self.ids.iter().position(|known| known == id)
    }

    /// Adds `from -> to` for each `to` (unknown ids are ignored; the builder reports them).
    pub fn add_dependencies<'a>(&mut self, from: &str, to: impl IntoIterator<Item = &'a str>) {
        let Some(from_ix) = self.index(from) else {
            return;
        };
        for to_id in to {
            if let Some(to_ix) = self.index(to_id) {
                self.deps[from_ix].insert(to_ix);
            }
        }
    }

    /// The ids `id` depends on, in original order.
    pub fn dependencies(&self, id: &str) -> Vec<String> {
        self.index(id)
            .map(|i| {
                self.deps[i]
                    .iter()
                    .map(|dep| self.ids[*dep].clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The first cycle found by a depth-first search from each vertex in original order.
    pub fn find_cycle(&self) -> Option<CycleError> {
        // 0 = unvisited, 1 = on stack, 2 = done
        let mut state = vec![0u8; self.ids.len()];
        let mut stack: Vec<usize> = Vec::new();
        for start in 0..self.ids.len() {
            if state[start] == 0
                && let Some(cycle) = self.dfs(start, &mut state, &mut stack)
            {
                return Some(cycle);
            }
        }
        None
    }

    fn dfs(&self, vertex: usize, state: &mut [u8], stack: &mut Vec<usize>) -> Option<CycleError> {
        state[vertex] = 1;
        stack.push(vertex);
        for &dep in &self.deps[vertex] {
            if state[dep] == 1 {
                let pos = stack
                    .iter()
                    .position(|&on_stack| on_stack == dep)
                    .unwrap_or(0);
                let mut path: Vec<String> =
                    stack[pos..].iter().map(|&i| self.ids[i].clone()).collect();
                path.push(self.ids[dep].clone());
                return Some(CycleError { path });
            }
            if state[dep] == 0
                && let Some(cycle) = self.dfs(dep, state, stack)
            {
                return Some(cycle);
            }
        }
        stack.pop();
        state[vertex] = 2;
        None
    }

    /// kro's order: dependencies first; among ready vertices the smallest
    /// (position in `spec.resources`, id) comes first.
    pub fn topological_order(&self) -> Result<Vec<String>, CycleError> {
        if let Some(cycle) = self.find_cycle() {
            return Err(cycle);
        }
        let count = self.ids.len();
        let mut indegree: Vec<usize> = self.deps.iter().map(BTreeSet::len).collect();
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); count];
        for (vertex, ds) in self.deps.iter().enumerate() {
            for &dep in ds {
                dependents[dep].push(vertex);
            }
        }
        let mut heap = BinaryHeap::new();
        for (vertex, deg) in indegree.iter().enumerate() {
            if *deg == 0 {
                heap.push(Reverse((vertex, self.ids[vertex].clone())));
            }
        }
        let mut out = Vec::with_capacity(count);
        while let Some(Reverse((vertex, id))) = heap.pop() {
            out.push(id);
            for &dependent in &dependents[vertex] {
                indegree[dependent] -= 1;
                if indegree[dependent] == 0 {
                    heap.push(Reverse((dependent, self.ids[dependent].clone())));
                }
            }
        }
        Ok(out)
    }

    /// Apply order (deletion wave) of each id: vertices nothing depends on get the highest
    /// number, roots get 1, as kro's `ApplyOrders`. Requires an acyclic graph.
    pub fn apply_orders(&self) -> Result<Vec<(String, u32)>, CycleError> {
        if let Some(cycle) = self.find_cycle() {
            return Err(cycle);
        }
        let count = self.ids.len();
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); count];
        for (vertex, ds) in self.deps.iter().enumerate() {
            for &dep in ds {
                dependents[dep].push(vertex);
            }
        }
        // Layers peeled from the leaves (no dependents) upward.
        let mut remaining: Vec<usize> = dependents.iter().map(Vec::len).collect();
        let mut layer_of = vec![0usize; count];
        let mut current: Vec<usize> = (0..count)
            .filter(|&vertex| remaining[vertex] == 0)
            .collect();
        let mut layers = 0usize;
        while !current.is_empty() {
            let mut next = Vec::new();
            for &vertex in &current {
                layer_of[vertex] = layers;
                for &dep in &self.deps[vertex] {
                    remaining[dep] -= 1;
                    if remaining[dep] == 0 {
                        next.push(dep);
                    }
                }
            }
            layers += 1;
            current = next;
        }
        Ok((0..count)
            .map(|vertex| {
                let order = u32::try_from(layers - layer_of[vertex]).unwrap_or(u32::MAX);
                (self.ids[vertex].clone(), order)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dag(ids: &[&str], edges: &[(&str, &str)]) -> Dag {
        let mut graph = Dag::new(ids.iter().map(|id| id.to_string()));
        for (from, to) in edges {
            graph.add_dependencies(from, [*to]);
        }
        graph
    }

    #[test]
    fn order_keeps_spec_order_for_ties() {
        let graph = dag(&["c", "a", "b"], &[]);
        assert_eq!(graph.topological_order().unwrap(), vec!["c", "a", "b"]);
        let graph = dag(
            &["svc", "deploy", "cm"],
            &[("deploy", "cm"), ("svc", "deploy")],
        );
        assert_eq!(
            graph.topological_order().unwrap(),
            vec!["cm", "deploy", "svc"]
        );
        let graph = dag(&["a", "b", "c", "d"], &[("a", "d"), ("b", "d")]);
        assert_eq!(graph.topological_order().unwrap(), vec!["c", "d", "a", "b"]);
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
            let graph = dag(&ids, &edges);
            let err = graph.topological_order().unwrap_err();
            assert_eq!(err.to_string(), format!("graph contains a cycle: {want}"));
        }
    }

    #[test]
    fn apply_orders_leaves_highest() {
        let graph = dag(
            &["cm", "deploy", "svc"],
            &[("deploy", "cm"), ("svc", "deploy")],
        );
        assert_eq!(
            graph.apply_orders().unwrap(),
            vec![("cm".into(), 1), ("deploy".into(), 2), ("svc".into(), 3)]
        );
        let graph = dag(&["a", "b"], &[]);
        assert_eq!(
            graph.apply_orders().unwrap(),
            vec![("a".into(), 1), ("b".into(), 1)]
        );
    }
}
