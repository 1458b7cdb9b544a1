//! What each edge of the job graph shows over a selection: its queues' fill (time-weighted,
//! empty and full shares) and where its two ends waited on it. Computed once per selection; the
//! rules and every output read the same [`EdgeReport`]s.

use std::collections::{BTreeMap, HashMap};

use bpprof_format::{EndpointRole, Recording};

use crate::graph::{Edge, JobGraph};
use crate::report::EdgeReport;
use crate::window::{self, ChannelSums, Selection, SiteSums, SubtaskSums};

/// The report of every edge of `graph` over `selection`, in graph order. `sums` are the
/// selection's subtask sums (their wall times are the time bases of the blocked shares).
pub(crate) fn edge_reports(
    recording: &Recording,
    graph: &JobGraph,
    selection: &Selection,
    sums: &BTreeMap<(usize, u32), SubtaskSums>,
) -> Vec<EdgeReport> {
    let channels = window::channel_sums(recording, selection);
    let sites = window::site_sums(recording, graph, selection);
    // From format 1.2 on the recording says where every wait happened and how often each queue
    // was empty or full; before, those figures are unknown, not zero.
    let detailed = recording.version >= (1, 2);
    graph
        .edges
        .iter()
        .map(|e| edge_report(graph, e, &channels, &sites, sums, detailed))
        .collect()
}

fn edge_report(
    graph: &JobGraph,
    e: &Edge,
    channels: &HashMap<u32, ChannelSums>,
    sites: &SiteSums,
    sums: &BTreeMap<(usize, u32), SubtaskSums>,
    detailed: bool,
) -> EdgeReport {
    let names: Vec<String> = e
        .channels
        .iter()
        .map(|id| match graph.channels.get(id) {
            Some((name, _)) if !name.is_empty() => name.clone(),
            _ => format!("channel#{id}"),
        })
        .collect();
    let capacity = e
        .channels
        .iter()
        .filter_map(|id| graph.channels.get(id).map(|c| c.1))
        .reduce(u64::saturating_add);
    let used: Vec<(u32, &ChannelSums)> = e
        .channels
        .iter()
        .filter_map(|id| channels.get(id).map(|c| (*id, c)))
        .collect();
    // Time-weighted fill: the fill is sampled at a fixed period, so the mean of the samples is
    // the mean over time. Summed over the edge's channels, against their summed capacity.
    let sampled: Vec<(f64, u64)> = used
        .iter()
        .filter(|(_, c)| c.fill_samples > 0)
        .map(|(id, c)| {
            let cap = graph.channels.get(id).map_or(0, |c| c.1);
            (c.fill_sum as f64 / c.fill_samples as f64, cap)
        })
        .collect();
    let avg_fill = (!sampled.is_empty()).then(|| sampled.iter().map(|s| s.0).sum::<f64>());
    let sampled_capacity: u64 = sampled.iter().map(|s| s.1).sum();
    let samples: u64 = used.iter().map(|(_, c)| c.fill_samples).sum();
    let share = |part: u64| (detailed && samples > 0).then(|| part as f64 / samples as f64);
    // The most blocked subtask's share, as Flink shows a task's backpressure: the maximum over
    // its subtasks.
    let blocked = |task: usize, role: EndpointRole| -> Option<f64> {
        if !detailed {
            return None;
        }
        sums.range((task, 0)..=(task, u32::MAX))
            .filter(|(_, s)| s.wall > 0)
            .map(|(&key, s)| {
                let ns: u64 = e
                    .channels
                    .iter()
                    .filter_map(|id| sites.get(&(key, *id, role)))
                    .map(|&(wait, _)| wait)
                    .fold(0, u64::saturating_add);
                (ns as f64 / s.wall as f64).min(1.0)
            })
            .reduce(f64::max)
    };
    EdgeReport {
        from: graph.tasks[e.from].name.clone(),
        to: graph.tasks[e.to].name.clone(),
        channel: names.first().cloned(),
        channels: names,
        capacity,
        avg_fill,
        max_fill: used
            .iter()
            .filter(|(_, c)| c.seen)
            .map(|(_, c)| c.max_fill)
            .max(),
        blocked_sends: used.iter().map(|(_, c)| c.blocked_sends).sum(),
        blocked_recvs: used.iter().map(|(_, c)| c.blocked_recvs).sum(),
        partitioning: e.partitioning.clone(),
        link: !e.channels.is_empty() && e.channels.iter().all(|id| graph.links.contains(id)),
        fill_ratio: avg_fill
            .filter(|_| sampled_capacity > 0)
            .map(|f| (f / sampled_capacity as f64).min(1.0)),
        empty_share: share(used.iter().map(|(_, c)| c.empty_samples).sum()),
        full_share: share(used.iter().map(|(_, c)| c.full_samples).sum()),
        upstream_blocked: if e.channels.is_empty() {
            None
        } else {
            blocked(e.from, EndpointRole::Sender)
        },
        downstream_blocked: if e.channels.is_empty() {
            None
        } else {
            blocked(e.to, EndpointRole::Receiver)
        },
    }
}
