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

/// The sentence for each field of the environment that may differ, in the order they are warned
/// about: `{other}` and `{reference}` stand for the two files, `{o}` and `{r}` for their values.
const ENVIRONMENT_SENTENCES: [&str; 5] = [
    "{other} is a recording of '{o}', {reference} of '{r}': check that both sides ran the same benchmark",
    "{other} was recorded on host '{o}', {reference} on '{r}': compare recordings from the same machine, or expect machine differences in the result",
    "{other} ran with {o} CPUs, {reference} with {r}: throughput and busy ratios are not comparable",
    "{other} is a '{o}' build, {reference} a '{r}' build",
    "{other} was sampled at {o} Hz, {reference} at {r} Hz (function costs are normalised per record, but the sampler's own cost differs)",
];

/// The fields of [`ENVIRONMENT_SENTENCES`], in its order.
fn environment(meta: &RecordingMeta) -> [String; 5] {
    [
        meta.program.clone(),
        meta.host.clone(),
        meta.cpus.to_string(),
        meta.build.clone(),
        meta.sample_hz.to_string(),
    ]
}

/// Warnings when `other` was recorded from a different program, on a different host, CPU count or
/// build than `reference`.
pub(crate) fn environment_warnings(
    reference_path: &str,
    reference: &RecordingMeta,
    other_path: &str,
    other: &RecordingMeta,
) -> Vec<String> {
    ENVIRONMENT_SENTENCES
        .iter()
        .zip(environment(other).iter().zip(&environment(reference)))
        .filter(|(_, (o, r))| o != r)
        .map(|(sentence, (o, r))| {
            fill(
                sentence,
                &[
                    ("{other}", other_path),
                    ("{reference}", reference_path),
                    ("{o}", o),
                    ("{r}", r),
                ],
            )
        })
        .collect()
}

/// `template` with each placeholder of `values` replaced by its value, in one pass: a value is
/// never read as a placeholder, whatever braces it holds.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        match values
            .iter()
            .find(|(placeholder, _)| rest.starts_with(placeholder))
        {
            Some((placeholder, value)) => {
                out.push_str(value);
                rest = &rest[placeholder.len()..];
            }
            None => {
                out.push('{');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
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

    #[test]
    fn every_environment_difference_names_both_values() {
        let reference = RecordingMeta {
            program: "bench".into(),
            host: "ci-1".into(),
            cpus: 4,
            build: "release".into(),
            sample_hz: 99,
            ..RecordingMeta::default()
        };
        let other = RecordingMeta {
            program: "{r}".into(),
            host: "ci-2".into(),
            cpus: 8,
            build: "debug".into(),
            sample_hz: 199,
            ..RecordingMeta::default()
        };
        assert_eq!(
            environment_warnings("a{o}.bpprof", &reference, "b.bpprof", &other),
            [
                "b.bpprof is a recording of '{r}', a{o}.bpprof of 'bench': check that both sides ran the same benchmark",
                "b.bpprof was recorded on host 'ci-2', a{o}.bpprof on 'ci-1': compare recordings from the same machine, or expect machine differences in the result",
                "b.bpprof ran with 8 CPUs, a{o}.bpprof with 4: throughput and busy ratios are not comparable",
                "b.bpprof is a 'debug' build, a{o}.bpprof a 'release' build",
                "b.bpprof was sampled at 199 Hz, a{o}.bpprof at 99 Hz (function costs are normalised per record, but the sampler's own cost differs)",
            ]
        );
        assert!(environment_warnings("a", &reference, "b", &reference).is_empty());
    }
}
