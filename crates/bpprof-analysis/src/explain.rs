//! The sentences of `locate`: each bottleneck's reason, the verdict line and the notes, rendered
//! from the structured findings of [`crate::verdict`] (their rule, edge and evidence), so that the
//! text never says more or other than the data.

use crate::median::median;
use crate::report::{
    Bottleneck, BottleneckKind, Evidence, Note, NoteKind, OperatorShare, SubtaskReport, TaskReport,
};
use crate::units::{join_and, pct, thousands};
use crate::verdict::figures::{busiest, slowest_operator};

/// The value of the first `metric` figure of `evidence`, 0 when absent.
fn figure(evidence: &[Evidence], metric: &str) -> f64 {
    evidence
        .iter()
        .find(|e| e.metric == metric)
        .map_or(0.0, |e| e.value)
}

/// "Enrich is the bottleneck: busy 97% while its upstream Parse is backpressured 95%; Enrich#3
/// is the busiest subtask", with the skew, off-CPU and operator sentences that apply.
pub(crate) fn loaded(b: &Bottleneck, task: &TaskReport, fed: &[(String, f64)]) -> String {
    let mut reason = loaded_head(b, task, fed);
    reason.push_str(&details(b, task));
    reason
}

/// "Enrich is the bottleneck: busy 95% while its upstream Parse is backpressured 72%".
fn loaded_head(b: &Bottleneck, task: &TaskReport, fed: &[(String, f64)]) -> String {
    let up = match b.upstream.as_slice() {
        [] => {
            let queues: Vec<String> = fed
                .iter()
                .map(|(name, fill)| format!("{name} keeps its input queue {} full", pct(*fill)))
                .collect();
            format!("its unaccounted upstream {}", join_and(&queues))
        }
        [one] => format!(
            "its upstream {} is backpressured {}",
            one.task,
            pct(one.backpressured)
        ),
        many => {
            let names: Vec<String> = many
                .iter()
                .map(|u| format!("{} ({})", u.task, pct(u.backpressured)))
                .collect();
            format!("its upstream tasks {} are backpressured", join_and(&names))
        }
    };
    format!(
        "{} is the bottleneck: busy {} while {}",
        task.name,
        pct(b.busy),
        up
    )
}

/// "Sink is the bottleneck: busy 79% while its upstream Source is backpressured 47%, and 31% of
/// the time it waited for a CPU after its input arrived (load 48%): it is short of CPU time;
/// Sink#0 is the busiest subtask".
pub(crate) fn starved(b: &Bottleneck, task: &TaskReport) -> String {
    let load = figure(&b.evidence, "load");
    let mut reason = format!(
        "{}, and {} of the time it waited for a CPU after its input arrived (load {}): it is short of CPU time",
        loaded_head(b, task, &[]),
        pct((b.busy - load).max(0.0)),
        pct(load)
    );
    reason.push_str(&details(b, task));
    reason
}

/// "Enrich is the bottleneck: its polls hold the async runtime's workers (1.9 workers on average,
/// 97% of all polled time, polls up to 9.3 ms) while Parse, below backpressured Source (69%),
/// waits to be polled 92% of its busy time; Enrich#2 is the busiest subtask".
pub(crate) fn workers_held(b: &Bottleneck, task: &TaskReport, waiting: &TaskReport) -> String {
    let longest = task
        .max_poll_ms
        .map(|ms| format!(", polls up to {ms:.1} ms"))
        .unwrap_or_default();
    let blocked = b.edge.as_ref().map_or("", |e| e.from.as_str());
    let upstream = pct(figure(&b.evidence, "upstream_blocked"));
    let meanwhile = if b.edge.is_none() {
        format!(
            "the source {} waits to be polled {} of its busy time: it produces only as fast as the workers let it, so no queue fills",
            waiting.name,
            pct(figure(&b.evidence, "scheduled_share")),
        )
    } else if waiting.name == task.name {
        format!("its upstream {blocked} is backpressured {upstream}")
    } else {
        format!(
            "{}, below backpressured {blocked} ({upstream}), waits to be polled {} of its busy time",
            waiting.name,
            pct(figure(&b.evidence, "scheduled_share")),
        )
    };
    let mut reason = format!(
        "{} is the bottleneck: its polls hold the async runtime's workers ({:.1} workers on average, {} of all polled time{longest}) while {meanwhile}",
        task.name,
        task.polled_workers.unwrap_or(0.0),
        pct(figure(&b.evidence, "held_share")),
    );
    reason.push_str(&details(b, task));
    reason
}

/// "SourceB is the bottleneck: busy 93% while Join waits for its records 64% of the time and
/// SourceA is backpressured 73% on Join's other input: Join is held back by its slowest input".
pub(crate) fn slowest_input(b: &Bottleneck, task: &TaskReport, waiting: &TaskReport) -> String {
    let blocked = b.edge.as_ref().map_or("", |e| e.from.as_str());
    let mut reason = format!(
        "{} is the bottleneck: busy {} while {} waits for its records {} of the time and {} is backpressured {} on {}'s other input: {} is held back by its slowest input",
        task.name,
        pct(b.busy),
        waiting.name,
        pct(figure(&b.evidence, "downstream_blocked")),
        blocked,
        pct(figure(&b.evidence, "upstream_blocked")),
        waiting.name,
        waiting.name,
    );
    reason.push_str(&details(b, task));
    reason
}

/// What follows the first clause of a loaded bottleneck's reason: its hot or busiest subtask,
/// off-CPU work, the slowest operator of its chain.
fn details(b: &Bottleneck, task: &TaskReport) -> String {
    let mut out = String::new();
    if b.kind == BottleneckKind::Skew {
        let hot: Vec<&SubtaskReport> = task.subtasks.iter().filter(|s| s.skewed).collect();
        out.push_str(". ");
        out.push_str(&skew_sentence(task, &hot));
    } else if let Some(s) = busiest(task) {
        out.push_str(&format!("; {} is the busiest subtask", s.name));
        if b.kind == BottleneckKind::OffCpu {
            out.push_str(". ");
            out.push_str(&off_cpu_sentence(&display_name(task, s), s));
        }
    }
    if let Some(op) = slowest_operator(task) {
        out.push_str(". ");
        out.push_str(&operator_sentence(task, op));
    }
    out
}

/// "The exchange Producer -> Consumer is the bottleneck: ...".
pub(crate) fn exchange(b: &Bottleneck) -> String {
    let down = b.downstream.as_deref().unwrap_or_default();
    format!(
        "The exchange {} -> {down} is the bottleneck: {} is blocked writing into the link {} of the time while {down} waits reading from it {}: the link between them (network, serialisation) is too slow",
        b.task,
        b.task,
        pct(figure(&b.evidence, "upstream_blocked")),
        pct(figure(&b.evidence, "downstream_blocked")),
    )
}

/// "Source is backpressured 72% with no busy task downstream: ...".
pub(crate) fn external(b: &Bottleneck, unknown_downstream: &[&str]) -> String {
    let bp = pct(figure(&b.evidence, "backpressured"));
    if unknown_downstream.is_empty() {
        format!(
            "{} is backpressured {bp} with no busy task downstream: it is blocked by something outside the recorded pipeline",
            b.task
        )
    } else {
        let names = join_and(
            &unknown_downstream
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>(),
        );
        format!(
            "{} is backpressured {bp} and its downstream {names} has no accounting data: {names} is probably the bottleneck",
            b.task
        )
    }
}

/// The one-line conclusion: the bottleneck's reason, a list of several, or that there is none.
pub(crate) fn verdict_line(bottlenecks: &[Bottleneck], tasks: &[TaskReport]) -> String {
    match bottlenecks {
        [] => {
            let busiest =
                tasks
                    .iter()
                    .filter(|t| t.busy.is_some())
                    .fold(None::<&TaskReport>, |best, t| match best {
                        Some(b) if b.busy >= t.busy => Some(b),
                        _ => Some(t),
                    });
            match busiest {
                Some(t) => format!(
                    "No backpressure: no task is a bottleneck. The busiest task is {} (busy {}): the job is limited by its sources or under-loaded.",
                    t.name,
                    pct(t.busy.unwrap_or(0.0))
                ),
                None => "No backpressure: no task is a bottleneck. No task has accounting data in the analysed range.".to_owned(),
            }
        }
        [one] => one.reason.clone(),
        many => {
            let list: Vec<String> = many
                .iter()
                .map(|b| match b.kind {
                    BottleneckKind::External => format!("{} (external)", b.task),
                    BottleneckKind::Exchange => format!(
                        "{} -> {} (exchange)",
                        b.task,
                        b.downstream.as_deref().unwrap_or_default()
                    ),
                    kind => format!("{} (busy {}, {})", b.task, pct(b.busy), kind_word(kind)),
                })
                .collect();
            format!("{} bottlenecks: {}.", many.len(), list.join(", "))
        }
    }
}

/// The sentence of a note. `cpus`: the machine's CPUs (0 when unknown).
pub(crate) fn note(note: &Note, cpus: u32) -> String {
    let value = |metric: &str| pct(figure(&note.evidence, metric));
    match note.kind {
        NoteKind::Unaccounted => format!(
            "{} is declared unaccounted: its work runs in threads bpprof does not see, so its busy time is unknown",
            note.subject
        ),
        NoteKind::NoData => format!("{} has no accounting data in the analysed range", note.subject),
        NoteKind::OffCpu if note.evidence.iter().any(|e| e.metric == "polled") => format!(
            "{} is busy {} but polled {}: it is pending on something outside the pipeline (I/O, a timer, a lock)",
            note.subject,
            value("busy"),
            value("polled")
        ),
        NoteKind::OffCpu => format!(
            "{} is busy {} but on CPU {}: it waits on something outside the pipeline (I/O, a lock, a sleep)",
            note.subject,
            value("busy"),
            value("on_cpu")
        ),
        NoteKind::WaitsForCpu => {
            let cpus = if cpus > 0 {
                format!(" ({cpus} CPUs)")
            } else {
                String::new()
            };
            format!(
                "{} waits for a CPU {} of its busy time: more runnable threads than CPUs{cpus}, the machine is oversubscribed",
                note.subject,
                value("runqueue_share")
            )
        }
        NoteKind::WaitsForWorker => format!(
            "{} waits to be polled {} of its busy time: the async runtime's workers are busy with other tasks' polls",
            note.subject,
            value("scheduled_share")
        ),
        NoteKind::LongPolls => format!(
            "{}'s polls last up to {:.1} ms and hold {:.1} workers on average: while one runs, no other task on its worker is polled; move that work to `spawn_blocking` or a thread registered with `bpprof::register`, or reach an `.await` more often",
            note.subject,
            figure(&note.evidence, "max_poll_ms"),
            figure(&note.evidence, "polled_workers")
        ),
        NoteKind::UnseenProducer => {
            let into = if note.tasks.is_empty() {
                String::new()
            } else {
                format!(" into {}", join_and(&note.tasks))
            };
            if note.unaccounted_upstream.is_empty() {
                format!(
                    "records flow through {}{into} but no registered subtask sends into it: its producer runs in threads bpprof does not see, so its busy time is unknown; register that thread, or declare its task with bpprof::declare_task(name, parallelism, true)",
                    note.subject
                )
            } else {
                format!(
                    "records flow through {}{into} from threads bpprof does not see ({} is declared unaccounted)",
                    note.subject,
                    join_and(&note.unaccounted_upstream)
                )
            }
        }
        NoteKind::ShortStacks => {
            // The lowest share among the tasks: "in N% of their samples" holds for each.
            let share = note
                .evidence
                .iter()
                .filter(|e| e.metric == "short_stacks")
                .map(|e| e.value)
                .reduce(f64::min)
                .unwrap_or(0.0);
            crate::stacks::sentence(
                &note.tasks,
                note.max_frames.unwrap_or(0) as usize,
                share,
            )
        }
    }
}

/// "Count#2 is hot: busy 99% vs a median of 12% across Count; it received 812,000 records vs a
/// median of 95,000: the partitioning is skewed".
fn skew_sentence(task: &TaskReport, hot: &[&SubtaskReport]) -> String {
    let mut all_busy: Vec<f64> = task.subtasks.iter().filter_map(|s| s.busy).collect();
    let mut all_records: Vec<f64> = task.subtasks.iter().map(|s| s.records_in as f64).collect();
    let median_busy = median(&mut all_busy).unwrap_or(0.0);
    let median_records = median(&mut all_records).unwrap_or(0.0);
    let names: Vec<String> = hot.iter().map(|s| s.name.clone()).collect();
    let busy: Vec<String> = hot.iter().map(|s| pct(s.busy.unwrap_or(0.0))).collect();
    let records: Vec<String> = hot.iter().map(|s| thousands(s.records_in)).collect();
    let (verb, pronoun) = if hot.len() == 1 {
        ("is", "it")
    } else {
        ("are", "they")
    };
    format!(
        "{} {verb} hot: busy {} vs a median of {} across {}; {pronoun} received {} records vs a median of {}: the partitioning is skewed",
        join_and(&names),
        join_and(&busy),
        pct(median_busy),
        task.name,
        join_and(&records),
        thousands(median_records.round() as u64),
    )
}

/// "Sink is busy 95% but on CPU 8%: it waits on something outside the pipeline (I/O, a lock, a
/// sleep)".
fn off_cpu_sentence(name: &str, s: &SubtaskReport) -> String {
    match (s.on_cpu, s.polled) {
        (None, Some(polled)) => format!(
            "{name} is busy {} but polled {}: it is pending on something outside the pipeline (I/O, a timer, a lock)",
            pct(s.busy.unwrap_or(0.0)),
            pct(polled)
        ),
        (on_cpu, _) => format!(
            "{name} is busy {} but on CPU {}: it waits on something outside the pipeline (I/O, a lock, a sleep)",
            pct(s.busy.unwrap_or(0.0)),
            pct(on_cpu.unwrap_or(0.0))
        ),
    }
}

/// "Enrich (in chain Parse -> Filter -> Enrich) takes 85% of the busy time".
fn operator_sentence(task: &TaskReport, op: &OperatorShare) -> String {
    let chain: Vec<&str> = task.operators.iter().map(|o| o.name.as_str()).collect();
    format!(
        "{} (in chain {}) takes {} of the busy time",
        op.name,
        chain.join(" -> "),
        pct(op.busy_share)
    )
}

/// The task's name when it has one subtask, else the subtask's.
pub(crate) fn display_name(task: &TaskReport, s: &SubtaskReport) -> String {
    if task.subtasks.len() <= 1 {
        task.name.clone()
    } else {
        s.name.clone()
    }
}

fn kind_word(kind: BottleneckKind) -> &'static str {
    match kind {
        BottleneckKind::Cpu => "cpu",
        BottleneckKind::Skew => "skew",
        BottleneckKind::OffCpu => "off-CPU",
        BottleneckKind::External => "external",
        BottleneckKind::Exchange => "exchange",
    }
}
