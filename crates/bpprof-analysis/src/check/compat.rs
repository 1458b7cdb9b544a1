//! The compatibility gate of `bpprof check`: recordings are compared only when they ran the same
//! job graph (tasks, parallelism, edges); different hosts, CPU counts or builds are only warned
//! about.

use bpprof_format::RecordingMeta;

use crate::graph::JobGraph;

/// The job graph of one recording, in comparable form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Shape {
    /// Task names and parallelism, in graph order.
    tasks: Vec<(String, u32)>,
    /// Edges as (upstream, downstream) task names, sorted.
    edges: Vec<(String, String)>,
}

impl Shape {
    pub(crate) fn of(graph: &JobGraph) -> Shape {
        let mut edges: Vec<(String, String)> = graph
            .edges
            .iter()
            .map(|e| {
                (
                    graph.tasks[e.from].name.clone(),
                    graph.tasks[e.to].name.clone(),
                )
            })
            .collect();
        edges.sort();
        Shape {
            tasks: graph
                .tasks
                .iter()
                .map(|t| (t.name.clone(), t.parallelism))
                .collect(),
            edges,
        }
    }
}

/// What differs between the job graph of `reference` (from the file `reference_path`) and
/// `other` (from `other_path`), one sentence each; empty when they match.
pub(crate) fn differences(
    reference_path: &str,
    reference: &Shape,
    other_path: &str,
    other: &Shape,
) -> Vec<String> {
    let mut out = Vec::new();
    for (name, parallelism) in &reference.tasks {
        if let Some((_, p)) = other.tasks.iter().find(|(n, _)| n == name) {
            if p != parallelism {
                out.push(format!(
                    "task {name} has parallelism {parallelism} in {reference_path} but {p} in {other_path}"
                ));
            }
        }
    }
    // What one side has and the other lacks, both ways.
    for ((a_path, a), (b_path, b)) in [
        ((reference_path, reference), (other_path, other)),
        ((other_path, other), (reference_path, reference)),
    ] {
        for (name, _) in &a.tasks {
            if !b.tasks.iter().any(|(n, _)| n == name) {
                out.push(format!("task {name} is in {a_path} but not in {b_path}"));
            }
        }
        for edge @ (from, to) in &a.edges {
            if !b.edges.contains(edge) {
                out.push(format!(
                    "edge {from} -> {to} is in {a_path} but not in {b_path}"
                ));
            }
        }
    }
    out
}

/// Warnings when `other` was recorded from a different program, on a different host, CPU count or
/// build than `reference`.
pub(crate) fn environment_warnings(
    reference_path: &str,
    reference: &RecordingMeta,
    other_path: &str,
    other: &RecordingMeta,
) -> Vec<String> {
    let mut out = Vec::new();
    if reference.program != other.program {
        out.push(format!(
            "{other_path} is a recording of '{}', {reference_path} of '{}': check that both sides ran the same benchmark",
            other.program, reference.program
        ));
    }
    if reference.host != other.host {
        out.push(format!(
            "{other_path} was recorded on host '{}', {reference_path} on '{}': compare recordings from the same machine, or expect machine differences in the result",
            other.host, reference.host
        ));
    }
    if reference.cpus != other.cpus {
        out.push(format!(
            "{other_path} ran with {} CPUs, {reference_path} with {}: throughput and busy ratios are not comparable",
            other.cpus, reference.cpus
        ));
    }
    if reference.build != other.build {
        out.push(format!(
            "{other_path} is a '{}' build, {reference_path} a '{}' build",
            other.build, reference.build
        ));
    }
    if reference.sample_hz != other.sample_hz {
        out.push(format!(
            "{other_path} was sampled at {} Hz, {reference_path} at {} Hz (function costs are normalised per record, but the sampler's own cost differs)",
            other.sample_hz, reference.sample_hz
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(tasks: &[(&str, u32)], edges: &[(&str, &str)]) -> Shape {
        Shape {
            tasks: tasks.iter().map(|&(n, p)| (n.to_owned(), p)).collect(),
            edges: edges
                .iter()
                .map(|&(a, b)| (a.to_owned(), b.to_owned()))
                .collect(),
        }
    }

    #[test]
    fn every_difference_is_named_both_ways() {
        let base = shape(&[("A", 1), ("B", 2), ("C", 1)], &[("A", "B"), ("B", "C")]);
        let head = shape(&[("A", 1), ("B", 4), ("D", 1)], &[("A", "B"), ("B", "D")]);
        assert_eq!(
            differences("base", &base, "head", &head),
            [
                "task B has parallelism 2 in base but 4 in head",
                "task C is in base but not in head",
                "edge B -> C is in base but not in head",
                "task D is in head but not in base",
                "edge B -> D is in head but not in base",
            ]
        );
        assert!(differences("base", &base, "same", &base).is_empty());
    }
}
