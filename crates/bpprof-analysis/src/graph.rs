//! The job graph of a recording: tasks and the edges between them, in topological order.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use bpprof_format::{EndpointRole, Recording};

/// The job graph: tasks in graph order (sources first) and the edges between them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobGraph {
    /// Tasks in graph order: topological, ties broken by first appearance in the recording. On a
    /// cycle the earliest-seen task of the cycle comes first.
    pub tasks: Vec<Task>,
    /// Edges, sorted by the graph position of their upstream then downstream task.
    pub edges: Vec<Edge>,
    /// Subtask id to (position in `tasks`, subtask index).
    pub subtasks: HashMap<u32, (usize, u32)>,
    /// Declared channels: id to (name, capacity).
    pub channels: HashMap<u32, (String, u64)>,
    /// The channels that are links (`bpprof::link`: a socket or process boundary), not
    /// in-process queues.
    pub links: BTreeSet<u32>,
    /// Every declared channel endpoint: (channel id, subtask id, role).
    pub endpoints: Vec<(u32, u32, EndpointRole)>,
    /// When each logical subtask (task position, index) existed: from its first registration to
    /// its last deregistration (`None`: still registered at the end of the recording), ns since
    /// the recording started.
    pub lifetimes: HashMap<(usize, u32), (u64, Option<u64>)>,
    /// The subtasks declared without a thread of their own (async tasks): ids.
    pub threadless: HashSet<u32>,
    /// The declared operators: (subtask id, operator id) to name.
    pub operator_names: HashMap<(u32, u32), String>,
    /// Each task's operators (task position to names, in order of first declaration); tasks
    /// without operators are absent.
    pub task_operators: BTreeMap<usize, Vec<String>>,
}

/// A task of the job graph.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Task {
    /// Task name.
    pub name: String,
    /// The largest declared parallelism, or the number of distinct subtask indices if larger.
    pub parallelism: u32,
    /// Declared unaccounted: its work runs in threads that bpprof does not see.
    pub unaccounted: bool,
    /// Distinct subtask indices seen, ascending.
    pub indices: Vec<u32>,
}

/// An edge: data flows from `from` to `to` (positions in [`JobGraph::tasks`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Edge {
    /// Upstream task position.
    pub from: usize,
    /// Downstream task position.
    pub to: usize,
    /// Channel ids carrying the edge, ascending.
    pub channels: Vec<u32>,
    /// Declared partitioning, if any.
    pub partitioning: Option<String>,
}

impl JobGraph {
    /// Builds the job graph from the declarations of every interval of `recording` (whatever range
    /// is analysed later). Never panics, whatever the input, and terminates on cycles.
    pub fn from_recording(recording: &Recording) -> JobGraph {
        let mut b = Builder::default();
        for chunk in &recording.intervals {
            for t in &chunk.declared_tasks {
                let i = b.task(&t.name);
                b.tasks[i].parallelism = b.tasks[i].parallelism.max(t.parallelism);
                b.tasks[i].unaccounted |= t.unaccounted;
            }
            for s in &chunk.declared_subtasks {
                let i = b.task(&s.task);
                let task = &mut b.tasks[i];
                task.parallelism = task.parallelism.max(s.parallelism);
                if let Err(pos) = task.indices.binary_search(&s.index) {
                    task.indices.insert(pos, s.index);
                }
                b.subtasks.insert(s.id, (i, s.index));
            }
            for c in &chunk.declared_channels {
                b.channels.insert(c.id, (c.name.clone(), c.capacity));
            }
            b.links.extend(chunk.declared_links.iter().copied());
            for e in &chunk.declared_edges {
                let (from, to) = (b.task(&e.from), b.task(&e.to));
                if from == to {
                    continue;
                }
                let edge = b.edges.entry((from, to)).or_default();
                edge.0.extend(e.channel);
                if !e.partitioning.is_empty() {
                    edge.1 = Some(e.partitioning.clone());
                }
            }
            for ep in &chunk.endpoints {
                b.endpoints.push((ep.channel, ep.subtask, ep.role));
            }
        }
        // Infer edges per channel: every sending task -> every receiving task.
        let mut ends: BTreeMap<u32, (BTreeSet<usize>, BTreeSet<usize>)> = BTreeMap::new();
        for &(channel, subtask, role) in &b.endpoints {
            let Some(&(task, _)) = b.subtasks.get(&subtask) else {
                continue;
            };
            let e = ends.entry(channel).or_default();
            match role {
                EndpointRole::Sender => e.0.insert(task),
                EndpointRole::Receiver => e.1.insert(task),
            };
        }
        for (channel, (senders, receivers)) in &ends {
            for &from in senders {
                for &to in receivers {
                    if from != to {
                        b.edges.entry((from, to)).or_default().0.insert(*channel);
                    }
                }
            }
        }
        for t in &mut b.tasks {
            t.parallelism = t.parallelism.max(t.indices.len() as u32);
        }
        let mut graph = b.finish();
        graph.lifetimes = lifetimes(recording, &graph);
        graph.declare_subtask_facts(recording);
        graph
    }

    /// Positions of the direct upstream tasks of task `i`.
    pub fn upstream(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        self.edges.iter().filter(move |e| e.to == i).map(|e| e.from)
    }

    /// Positions of the direct downstream tasks of task `i`.
    pub fn downstream(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        self.edges.iter().filter(move |e| e.from == i).map(|e| e.to)
    }

    /// Positions of every task reachable downstream of task `i` (not `i` itself unless on a cycle).
    pub fn reachable(&self, i: usize) -> BTreeSet<usize> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<usize> = self.downstream(i).collect();
        while let Some(t) = stack.pop() {
            if seen.insert(t) {
                stack.extend(self.downstream(t));
            }
        }
        seen
    }

    /// The facts of the declarations the analysis of every window needs, found once here rather
    /// than in every window: the threadless subtasks and the operators.
    fn declare_subtask_facts(&mut self, recording: &Recording) {
        for interval in &recording.intervals {
            for d in interval.declared_subtasks.iter().filter(|d| d.tid == 0) {
                self.threadless.insert(d.id);
            }
            for decl in &interval.declared_operators {
                self.operator_names
                    .insert((decl.subtask, decl.id), decl.name.clone());
                if let Some(&(task, _)) = self.subtasks.get(&decl.subtask) {
                    let names = self.task_operators.entry(task).or_default();
                    if !names.contains(&decl.name) {
                        names.push(decl.name.clone());
                    }
                }
            }
        }
    }

    /// Position of the task named `name`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.tasks.iter().position(|t| t.name == name)
    }
}

/// Collects declarations with tasks numbered in order of first appearance.
#[derive(Default)]
struct Builder {
    tasks: Vec<Task>,
    by_name: HashMap<String, usize>,
    subtasks: HashMap<u32, (usize, u32)>,
    channels: HashMap<u32, (String, u64)>,
    links: BTreeSet<u32>,
    edges: BTreeMap<(usize, usize), (BTreeSet<u32>, Option<String>)>,
    endpoints: Vec<(u32, u32, EndpointRole)>,
}

impl Builder {
    fn task(&mut self, name: &str) -> usize {
        if let Some(&i) = self.by_name.get(name) {
            return i;
        }
        self.tasks.push(Task {
            name: name.to_owned(),
            ..Task::default()
        });
        self.by_name.insert(name.to_owned(), self.tasks.len() - 1);
        self.tasks.len() - 1
    }

    /// Orders tasks topologically (Kahn), smallest first-appearance first among the ready ones;
    /// on a cycle, releases the earliest-seen remaining task.
    fn finish(self) -> JobGraph {
        let n = self.tasks.len();
        let mut indegree = vec![0usize; n];
        let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
        for &(from, to) in self.edges.keys() {
            indegree[to] += 1;
            out[from].push(to);
        }
        let mut ready: BTreeSet<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
        let mut remaining: BTreeSet<usize> = (0..n).collect();
        let mut order = Vec::with_capacity(n);
        while let Some(&first) = remaining.iter().next() {
            let next = ready.pop_first().unwrap_or(first);
            if !remaining.remove(&next) {
                continue;
            }
            order.push(next);
            for &to in &out[next] {
                indegree[to] = indegree[to].saturating_sub(1);
                if indegree[to] == 0 && remaining.contains(&to) {
                    ready.insert(to);
                }
            }
        }
        let mut position = vec![0usize; n];
        for (pos, &old) in order.iter().enumerate() {
            position[old] = pos;
        }
        let mut tasks = vec![Task::default(); n];
        for (old, task) in self.tasks.into_iter().enumerate() {
            tasks[position[old]] = task;
        }
        let mut edges: Vec<Edge> = self
            .edges
            .into_iter()
            .map(|((from, to), (channels, partitioning))| Edge {
                from: position[from],
                to: position[to],
                channels: channels.into_iter().collect(),
                partitioning,
            })
            .collect();
        edges.sort_by_key(|e| (e.from, e.to));
        let subtasks = self
            .subtasks
            .into_iter()
            .map(|(id, (t, idx))| (id, (position[t], idx)))
            .collect();
        JobGraph {
            tasks,
            edges,
            subtasks,
            channels: self.channels,
            links: self.links,
            endpoints: self.endpoints,
            ..JobGraph::default()
        }
    }
}

/// When each logical subtask of `graph` (task position, index) existed: from its first registration to
/// its last deregistration (`None`: still registered at the end of the recording), ns since the
/// recording started.
fn lifetimes(recording: &Recording, graph: &JobGraph) -> HashMap<(usize, u32), (u64, Option<u64>)> {
    let mut registered: HashMap<u32, u64> = HashMap::new();
    let mut ended: HashMap<u32, u64> = HashMap::new();
    for interval in &recording.intervals {
        for d in &interval.declared_subtasks {
            registered.insert(d.id, d.registered_ns);
        }
        for s in &interval.subtasks {
            if s.ended {
                let from = registered.get(&s.id).copied().unwrap_or(0);
                ended.insert(s.id, interval.start_ns.max(from).saturating_add(s.wall_ns));
            }
        }
    }
    let mut spans: HashMap<(usize, u32), (u64, Option<u64>)> = HashMap::new();
    for (&id, &start) in &registered {
        let Some(&key) = graph.subtasks.get(&id) else {
            continue;
        };
        let end = ended.get(&id).copied();
        spans
            .entry(key)
            .and_modify(|span| {
                span.0 = span.0.min(start);
                span.1 = match (span.1, end) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    _ => None,
                };
            })
            .or_insert((start, end));
    }
    spans
}
