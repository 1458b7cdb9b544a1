//! What the first interval of each file of a series declares again: the declarations made so
//! far that later chunks may still refer to, so that every file reads alone. (The frames and
//! stacks are the symbolizer's, in `sampler/symbolize.rs`.)
//!
//! Bounded by what the program has alive: a subtask is forgotten once its last interval (the
//! one that says it ended) is written, a channel once an interval no longer lists it (every
//! interval lists every live channel), and their endpoints, operators and links with them. The
//! tasks, edges and runtime warnings are the registry's, bounded there.

use std::collections::{BTreeMap, HashSet};

use bpprof_format::{
    ChannelDecl, ChannelEndpoint, EdgeDecl, IntervalChunk, OperatorDecl, RuntimeWarning,
    SubtaskDecl, TaskDecl,
};

/// The runtime warnings repeated in each file, at most.
const MAX_WARNINGS: usize = 64;

/// The declarations in force, made by the intervals written so far.
#[derive(Debug, Default)]
pub(crate) struct Declarations {
    tasks: Vec<TaskDecl>,
    subtasks: BTreeMap<u32, SubtaskDecl>,
    channels: BTreeMap<u32, ChannelDecl>,
    links: HashSet<u32>,
    edges: Vec<EdgeDecl>,
    endpoints: Vec<ChannelEndpoint>,
    operators: BTreeMap<(u32, u32), OperatorDecl>,
    warnings: Vec<RuntimeWarning>,
}

impl Declarations {
    /// Adds what `chunk` declares, and forgets what it says is gone.
    pub fn note(&mut self, chunk: &IntervalChunk) {
        for task in &chunk.declared_tasks {
            if !self.tasks.contains(task) {
                self.tasks.push(task.clone());
            }
        }
        for decl in &chunk.declared_subtasks {
            self.subtasks.insert(decl.id, decl.clone());
        }
        let new_channels: HashSet<u32> = chunk.declared_channels.iter().map(|c| c.id).collect();
        for decl in &chunk.declared_channels {
            self.channels.insert(decl.id, decl.clone());
        }
        self.links.extend(&chunk.declared_links);
        for edge in &chunk.declared_edges {
            if !self.edges.contains(edge) {
                self.edges.push(edge.clone());
            }
        }
        for endpoint in &chunk.endpoints {
            if !self.endpoints.contains(endpoint) {
                self.endpoints.push(endpoint.clone());
            }
        }
        for decl in &chunk.declared_operators {
            self.operators.insert((decl.subtask, decl.id), decl.clone());
        }
        for warning in &chunk.warnings {
            if self.warnings.len() < MAX_WARNINGS && !self.warnings.contains(warning) {
                self.warnings.push(warning.clone());
            }
        }
        // Forget what is gone.
        for ended in chunk.subtasks.iter().filter(|s| s.ended) {
            self.subtasks.remove(&ended.id);
        }
        let listed: HashSet<u32> = chunk.channels.iter().map(|c| c.id).collect();
        self.channels
            .retain(|id, _| listed.contains(id) || new_channels.contains(id));
        let (subtasks, channels) = (&self.subtasks, &self.channels);
        self.links.retain(|id| channels.contains_key(id));
        self.endpoints
            .retain(|e| subtasks.contains_key(&e.subtask) && channels.contains_key(&e.channel));
        self.operators
            .retain(|(subtask, _), _| subtasks.contains_key(subtask));
    }

    /// Makes `chunk`, the first interval of a new file, declare everything in force: what the
    /// intervals noted so far declared and did not end, then what `chunk` declares itself. Call
    /// it before [`Declarations::note`] of the chunk (which may forget a subtask that the
    /// chunk ends, and still refers to).
    pub fn declare_all(&self, chunk: &mut IntervalChunk) {
        fn merged<T: Clone + PartialEq>(
            earlier: impl Iterator<Item = T>,
            own: &mut Vec<T>,
        ) -> Vec<T> {
            let mut all: Vec<T> = earlier.filter(|e| !own.contains(e)).collect();
            all.append(own);
            all
        }
        chunk.declared_tasks = merged(self.tasks.iter().cloned(), &mut chunk.declared_tasks);
        chunk.declared_subtasks = merged(
            self.subtasks.values().cloned(),
            &mut chunk.declared_subtasks,
        );
        chunk.declared_channels = merged(
            self.channels.values().cloned(),
            &mut chunk.declared_channels,
        );
        let mut links: Vec<u32> = self.links.iter().copied().collect();
        links.sort_unstable();
        chunk.declared_links = merged(links.into_iter(), &mut chunk.declared_links);
        chunk.declared_edges = merged(self.edges.iter().cloned(), &mut chunk.declared_edges);
        chunk.endpoints = merged(self.endpoints.iter().cloned(), &mut chunk.endpoints);
        chunk.declared_operators = merged(
            self.operators.values().cloned(),
            &mut chunk.declared_operators,
        );
        chunk.warnings = merged(self.warnings.iter().cloned(), &mut chunk.warnings);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpprof_format::{ChannelInterval, EndpointRole, SubtaskInterval};

    fn subtask(id: u32) -> SubtaskDecl {
        SubtaskDecl {
            id,
            task: "map".into(),
            ..SubtaskDecl::default()
        }
    }

    fn channel(id: u32) -> ChannelDecl {
        ChannelDecl {
            id,
            name: format!("c{id}"),
            capacity: 8,
        }
    }

    fn endpoint(channel: u32, subtask: u32) -> ChannelEndpoint {
        ChannelEndpoint {
            channel,
            subtask,
            role: EndpointRole::Sender,
        }
    }

    #[test]
    fn a_new_file_declares_what_is_alive_and_forgets_what_ended() {
        let mut declarations = Declarations::default();
        let task = TaskDecl {
            name: "map".into(),
            parallelism: 2,
            unaccounted: false,
        };
        declarations.note(&IntervalChunk {
            declared_tasks: vec![task.clone()],
            declared_subtasks: vec![subtask(1), subtask(2)],
            declared_channels: vec![channel(10), channel(11)],
            declared_links: vec![11],
            endpoints: vec![endpoint(10, 1), endpoint(11, 2)],
            declared_operators: vec![OperatorDecl {
                subtask: 1,
                id: 0,
                name: "parse".into(),
            }],
            subtasks: vec![SubtaskInterval {
                id: 1,
                ..SubtaskInterval::default()
            }],
            channels: vec![ChannelInterval {
                id: 10,
                ..ChannelInterval::default()
            }],
            ..IntervalChunk::default()
        });
        // Subtask 1 ends, channel 11 is no longer listed (dropped).
        declarations.note(&IntervalChunk {
            subtasks: vec![
                SubtaskInterval {
                    id: 1,
                    ended: true,
                    ..SubtaskInterval::default()
                },
                SubtaskInterval {
                    id: 2,
                    ..SubtaskInterval::default()
                },
            ],
            channels: vec![ChannelInterval {
                id: 10,
                ..ChannelInterval::default()
            }],
            ..IntervalChunk::default()
        });
        let mut first = IntervalChunk {
            declared_subtasks: vec![subtask(3)],
            ..IntervalChunk::default()
        };
        declarations.declare_all(&mut first);
        let ids: Vec<u32> = first.declared_subtasks.iter().map(|d| d.id).collect();
        assert_eq!(ids, [2, 3], "the live subtask, then the chunk's own");
        assert_eq!(first.declared_channels, [channel(10)]);
        assert!(first.declared_links.is_empty(), "the link was dropped");
        assert!(
            first.endpoints.is_empty(),
            "neither endpoint has both ends alive"
        );
        assert!(first.declared_operators.is_empty(), "its subtask ended");
        assert_eq!(first.declared_tasks, [task]);
    }
}
