//! Ordering declared stages, and naming a cycle by its path `a -> b -> a`.

use std::collections::HashMap;

use petgraph::algo::toposort;
use petgraph::graph::DiGraph;

/// Topological order of `(name, upstream names)`, in declaration order where
/// free; or the first cycle found, as names with the first repeated last.
/// Unknown upstream names are ignored here (reported elsewhere).
pub fn base_order(stages: &[(&str, Vec<String>)]) -> Result<Vec<usize>, Vec<String>> {
    let mut g = DiGraph::<usize, ()>::new();
    let nodes: Vec<_> = (0..stages.len()).map(|i| g.add_node(i)).collect();
    let idx: HashMap<&str, usize> = stages
        .iter()
        .enumerate()
        .map(|(i, (n, _))| (*n, i))
        .collect();
    for (i, (_, ups)) in stages.iter().enumerate() {
        for u in ups {
            if let Some(&j) = idx.get(u.as_str()) {
                g.add_edge(nodes[j], nodes[i], ());
            }
        }
    }
    if let Err(c) = toposort(&g, None) {
        return Err(cycle_through(stages, &idx, g[c.node_id()]));
    }
    // Kahn's algorithm taking the earliest-declared ready stage first, so the
    // order (and every listing) follows the file where the graph allows.
    let mut indegree: Vec<usize> = nodes
        .iter()
        .map(|&n| {
            g.neighbors_directed(n, petgraph::Direction::Incoming)
                .count()
        })
        .collect();
    let mut ready: std::collections::BinaryHeap<std::cmp::Reverse<usize>> = (0..stages.len())
        .filter(|&i| indegree[i] == 0)
        .map(std::cmp::Reverse)
        .collect();
    let mut order = Vec::with_capacity(stages.len());
    while let Some(std::cmp::Reverse(i)) = ready.pop() {
        order.push(i);
        for m in g.neighbors_directed(nodes[i], petgraph::Direction::Outgoing) {
            let j = g[m];
            indegree[j] -= 1;
            if indegree[j] == 0 {
                ready.push(std::cmp::Reverse(j));
            }
        }
    }
    Ok(order)
}

/// A cycle through `start`, following upstream edges (consumer -> producer
/// reads as "a needs b").
fn cycle_through(
    stages: &[(&str, Vec<String>)],
    idx: &HashMap<&str, usize>,
    start: usize,
) -> Vec<String> {
    // Depth-first search for a path from `start` back to itself.
    let mut stack = vec![(start, 0usize)];
    let mut on_path = vec![start];
    let mut seen = vec![false; stages.len()];
    while let Some((node, next)) = stack.pop() {
        let ups: Vec<usize> = stages[node]
            .1
            .iter()
            .filter_map(|u| idx.get(u.as_str()).copied())
            .collect();
        if next < ups.len() {
            stack.push((node, next + 1));
            let up = ups[next];
            if up == start {
                let mut names: Vec<String> =
                    on_path.iter().map(|&i| stages[i].0.to_string()).collect();
                names.push(stages[start].0.to_string());
                return names;
            }
            if !seen[up] {
                seen[up] = true;
                stack.push((up, 0));
                on_path.push(up);
            }
        } else {
            on_path.pop();
        }
    }
    vec![stages[start].0.to_string(), stages[start].0.to_string()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[(&'static str, &[&str])]) -> Vec<(&'static str, Vec<String>)> {
        v.iter()
            .map(|(n, u)| (*n, u.iter().map(|x| x.to_string()).collect()))
            .collect()
    }

    #[test]
    fn orders_producers_first() {
        let st = s(&[("b", &["a"]), ("a", &[]), ("c", &["a", "b"])]);
        let order = base_order(&st).unwrap();
        assert_eq!(order, vec![1, 0, 2]);
        let pos = |n: &str| order.iter().position(|&i| st[i].0 == n).unwrap();
        assert!(pos("a") < pos("b") && pos("b") < pos("c"));
    }

    #[test]
    fn a_cycle_is_reported_as_its_path() {
        let st = s(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"]), ("d", &[])]);
        let cyc = base_order(&st).unwrap_err();
        assert_eq!(cyc.len(), 4);
        assert_eq!(cyc.first(), cyc.last());
        let joined = cyc.join(" -> ");
        assert!(
            ["a -> b -> c -> a", "b -> c -> a -> b", "c -> a -> b -> c"].contains(&joined.as_str()),
            "{joined}"
        );
    }

    #[test]
    fn self_reference_is_a_cycle() {
        let st = s(&[("a", &["a"])]);
        assert_eq!(base_order(&st).unwrap_err(), vec!["a", "a"]);
    }
}
