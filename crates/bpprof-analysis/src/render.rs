//! Human-readable rendering of a [`LocateReport`].

use std::io::{self, Write};

use crate::report::{LocateReport, SubtaskReport, TaskReport};
use crate::table::titled_table;
use crate::table::Align::{Left as L, Right as R};
use crate::units::{analysed_text, micros, millis, pct, seconds, thousands, MISSING};

/// Writes `report` for people: the verdict (one line per bottleneck), the notes, a table of the
/// tasks in graph order, the operators of the tasks that run chains with their shares of the
/// busy time, records per second and busy time per record, a table of the subtasks of each bottleneck task (skewed ones marked `*`), and the
/// edges with their queue usage.
///
/// Recording warnings are not written (a command-line tool prints them on stderr).
pub fn render_human(report: &LocateReport, out: impl Write) -> io::Result<()> {
    render_human_with(report, &RenderOptions::default(), out)
}

/// What [`render_human_with`] adds to the default output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// Print the timeline strip after the notes: one row per task, one character per window.
    pub timeline: bool,
}

/// [`render_human`], with the additions chosen by `options`.
pub fn render_human_with(
    report: &LocateReport,
    options: &RenderOptions,
    mut out: impl Write,
) -> io::Result<()> {
    let w = &mut out;
    writeln!(w, "{}", report.verdict)?;
    if report.bottlenecks.len() > 1 {
        for b in &report.bottlenecks {
            writeln!(w, "  - {}", b.reason)?;
        }
    }
    if !report.notes.is_empty() {
        writeln!(w)?;
        writeln!(w, "Notes:")?;
        for note in &report.notes {
            writeln!(w, "  - {note}")?;
        }
    }
    if options.timeline {
        strip(w, report)?;
    }

    let r = &report.recording;
    writeln!(w)?;
    writeln!(
        w,
        "Recording{}: {}",
        if r.program.is_empty() {
            String::new()
        } else if r.host.is_empty() {
            format!(" of {}", r.program)
        } else {
            format!(" of {} on {}", r.program, r.host)
        },
        analysed_text(r.from_s, r.to_s, r.duration_s, r.intervals),
    )?;
    if let Some(warning) = &r.coverage_warning {
        writeln!(w, "warning: {warning}")?;
    }

    let rows = report.tasks.iter().map(task_row).collect();
    titled_table(
        w,
        "Tasks:",
        &[
            ("TASK", L),
            ("PAR", R),
            ("BUSY", R),
            ("BACKPR", R),
            ("IDLE", R),
            ("LEVEL", L),
            ("REC/S IN", R),
            ("REC/S OUT", R),
        ],
        rows,
    )?;
    capacity(w, report)?;
    operators(w, report)?;

    for b in &report.bottlenecks {
        let Some(task) = report.tasks.iter().find(|t| t.name == b.task) else {
            continue;
        };
        let rows = task.subtasks.iter().map(subtask_row).collect();
        titled_table(
            w,
            &format!("Subtasks of {}:", task.name),
            &[
                ("SUBTASK", L),
                ("BUSY", R),
                ("BACKPR", R),
                ("IDLE", R),
                ("ON-CPU", R),
                ("REC IN", R),
                ("REC OUT", R),
                ("MAX IDLE", R),
                ("MAX BACKPR", R),
            ],
            rows,
        )?;
        if task.subtasks.iter().any(|s| s.skewed) {
            writeln!(w, "  * skewed: much busier than the median subtask")?;
        }
    }

    if !report.edges.is_empty() {
        let rows = report
            .edges
            .iter()
            .map(|e| {
                vec![
                    if e.link {
                        format!("{} -> {} (link)", e.from, e.to)
                    } else {
                        format!("{} -> {}", e.from, e.to)
                    },
                    match e.channels.len() {
                        0 => "-".to_owned(),
                        1 => e.channels[0].clone(),
                        n => format!("{} (+{} more)", e.channels[0], n - 1),
                    },
                    e.capacity.map_or("-".into(), thousands),
                    e.avg_fill.map_or("-".into(), |f| format!("{f:.1}")),
                    e.max_fill.map_or("-".into(), thousands),
                    e.fill_ratio.map_or("-".into(), pct),
                    e.upstream_blocked.map_or("-".into(), pct),
                    e.downstream_blocked.map_or("-".into(), pct),
                    e.partitioning.clone().unwrap_or_else(|| "-".into()),
                ]
            })
            .collect();
        titled_table(
            w,
            "Edges:",
            &[
                ("EDGE", L),
                ("CHANNEL", L),
                ("CAPACITY", R),
                ("AVG FILL", R),
                ("MAX FILL", R),
                ("USAGE", R),
                ("SENDER BLOCKED", R),
                ("RECEIVER WAITS", R),
                ("PARTITIONING", L),
            ],
            rows,
        )?;
    }
    Ok(())
}

/// The capacity of every task with accounting data (records per busy second, per on-CPU second,
/// costs per record, where it saturates and its headroom) and the CPUs the job used.
fn capacity(w: &mut impl Write, report: &LocateReport) -> io::Result<()> {
    let rate = |r: Option<f64>| r.map_or("-".into(), |r| thousands(r.round() as u64));
    let us = |r: Option<f64>| r.map_or("-".into(), micros);
    let rows: Vec<Vec<String>> = report
        .tasks
        .iter()
        .filter_map(|t| {
            let c = t.capacity.as_ref()?;
            Some(vec![
                t.name.clone(),
                rate(c.rate_per_busy_s),
                rate(c.rate_per_on_cpu_s),
                us(c.cpu_per_record_us),
                us(c.cpu_wait_per_record_us),
                us(c.off_cpu_per_record_us),
                rate(c.saturation_per_s),
                c.headroom.map_or("-".into(), |h| format!("+{}", pct(h))),
                c.cpus_used.map_or("-".into(), |u| format!("{u:.2}")),
            ])
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    titled_table(
        w,
        "Capacity (records per busy second and per on-CPU second, per record: CPU, waiting for a CPU, off-CPU; the input rate at which the task saturates):",
        &[
            ("TASK", L),
            ("REC/BUSY-S", R),
            ("REC/CPU-S", R),
            ("CPU/REC", R),
            ("WAIT/REC", R),
            ("OFF/REC", R),
            ("SATURATES AT", R),
            ("HEADROOM", R),
            ("CPUS", R),
        ],
        rows,
    )?;
    if let Some(u) = &report.cpu_use {
        let share = u
            .share
            .map_or(String::new(), |s| format!(" of {} ({})", u.cpus, pct(s)));
        let waited = u.waited.map_or(String::new(), |q| {
            format!("; runnable but waiting for a CPU: {q:.2} CPUs' worth")
        });
        writeln!(w, "  The job used {:.2} CPUs{share}{waited}", u.used)?;
    }
    Ok(())
}

/// The operators of every task that runs a chain (see `bpprof::operator`), each with its share
/// of the task's busy time, its records (calls) per second and its busy time per record; the task
/// is named on its first operator's row only. Records show as `-` when none were counted (a
/// format 1.0 recording has no call counts). Nothing when no task has operators.
fn operators(w: &mut impl Write, report: &LocateReport) -> io::Result<()> {
    let rows: Vec<Vec<String>> = report
        .tasks
        .iter()
        .flat_map(|t| {
            t.operators.iter().enumerate().map(move |(i, o)| {
                vec![
                    if i == 0 {
                        t.name.clone()
                    } else {
                        String::new()
                    },
                    o.name.clone(),
                    pct(o.busy_share),
                    if o.records > 0 {
                        thousands(o.records_per_s.round() as u64)
                    } else {
                        "-".into()
                    },
                    o.busy_per_record_us.map_or("-".into(), micros),
                ]
            })
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    titled_table(
        w,
        "Operators (share of the task's busy time, records per second, busy time per record):",
        &[
            ("TASK", L),
            ("OPERATOR", L),
            ("BUSY", R),
            ("REC/S", R),
            ("BUSY/REC", R),
        ],
        rows,
    )
}

/// The timeline strip: a header with the windows, one row per task, and the legend.
fn strip(w: &mut impl Write, report: &LocateReport) -> io::Result<()> {
    use crate::report::{CELL_BACKPRESSURED, CELL_BOTTLENECK, CELL_BUSY, CELL_IDLE, CELL_UNKNOWN};
    let windows = &report.windows;
    let (Some(first), Some(last)) = (windows.first(), windows.last()) else {
        return Ok(());
    };
    writeln!(w)?;
    writeln!(
        w,
        "Timeline: {} windows from {} s to {} s, one character each:",
        windows.len(),
        seconds(first.from_s),
        seconds(last.to_s)
    )?;
    let width = report
        .timeline
        .strip
        .iter()
        .map(|r| r.task.chars().count())
        .max()
        .unwrap_or(0);
    for row in &report.timeline.strip {
        let share = report
            .timeline
            .shares
            .iter()
            .find(|s| s.task == row.task)
            .map(|s| format!("  {} bottleneck", pct(s.share)))
            .unwrap_or_default();
        writeln!(w, "  {:<width$}  {}{share}", row.task, row.cells)?;
    }
    writeln!(
        w,
        "  ({CELL_BOTTLENECK} bottleneck, {CELL_BACKPRESSURED} backpressured, {CELL_BUSY} busy, {CELL_IDLE} idle-ish, {CELL_UNKNOWN} no data)"
    )?;
    Ok(())
}

fn task_row(t: &TaskReport) -> Vec<String> {
    vec![
        t.name.clone(),
        t.parallelism.to_string(),
        opt_pct(t.busy),
        opt_pct(t.backpressured),
        opt_pct(t.idle),
        t.level.map_or("-", |l| l.as_str()).to_owned(),
        thousands(t.records_in_per_s.round() as u64),
        thousands(t.records_out_per_s.round() as u64),
    ]
}

fn subtask_row(s: &SubtaskReport) -> Vec<String> {
    vec![
        if s.skewed {
            format!("{} *", s.name)
        } else {
            s.name.clone()
        },
        opt_pct(s.busy),
        opt_pct(s.backpressured),
        opt_pct(s.idle),
        opt_pct(s.on_cpu),
        thousands(s.records_in),
        thousands(s.records_out),
        millis(s.max_idle_stall_ms),
        millis(s.max_backpressure_stall_ms),
    ]
}

fn opt_pct(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| MISSING.to_owned(), pct)
}
