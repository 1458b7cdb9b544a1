//! [`render_plan`]: a [`PlanReport`] for people.

use std::io::{self, Write};

use crate::table::Align::{Left as L, Right as R};
use crate::table::{table, titled_table};
use crate::units::{analysed_text, micros, pct, seconds, thousands};

use super::report::{
    Assumption, CpuBudget, Limit, ParallelismChange, PlanReport, Prediction, Scenario, TargetPlan,
    TaskModel,
};

/// Writes `report` for people: the measured and modelled throughput, the tasks' costs, the
/// scenario of `--set` / `--speedup`, the target's needs, the steps and the assumptions.
pub fn render_plan(report: &PlanReport, mut out: impl Write) -> io::Result<()> {
    let w = &mut out;
    let r = &report.recording;
    writeln!(
        w,
        "Plan from {}: {}; {} CPUs ({})",
        if r.program.is_empty() {
            "the recording".to_owned()
        } else {
            r.program.clone()
        },
        analysed_text(r.from_s, r.to_s, r.duration_s, r.intervals),
        cpus(report.cpus),
        match report.cpus_from {
            CpuBudget::Given => "--cpus".to_owned(),
            CpuBudget::Machine => "the machine's".to_owned(),
            CpuBudget::Available =>
                format!("what the job's records got of the machine's {}", r.cpus),
        }
    )?;
    if let Some(warning) = &r.coverage_warning {
        writeln!(w, "warning: {warning}")?;
    }
    let b = &report.baseline;
    writeln!(
        w,
        "Measured: {}; the model gives {} for the recorded configuration ({}), {}",
        per_s(report.measured_per_s),
        per_s(b.throughput_per_s),
        change(report.measured_per_s, b.throughput_per_s),
        limit_text(report, b, &b.limit)
    )?;
    tasks(w, report)?;
    if let Some(s) = &report.scenario {
        scenario(w, report, s)?;
    }
    if let Some(t) = &report.target {
        target(w, report, t)?;
    }
    if !report.steps.is_empty() {
        writeln!(w)?;
        writeln!(
            w,
            "Steps (one task at a time, each just enough to move the bottleneck):"
        )?;
        let mut before = report
            .scenario
            .as_ref()
            .map_or(b.throughput_per_s, |s| s.prediction.throughput_per_s);
        for (n, step) in report.steps.iter().enumerate() {
            let p = &step.prediction;
            writeln!(
                w,
                "  {}. {}: {} -> {}, then {}",
                n + 1,
                step.changes
                    .iter()
                    .map(parallelism_change)
                    .collect::<Vec<_>>()
                    .join(", "),
                per_s(before),
                per_s(p.throughput_per_s),
                limit_text(report, p, &p.limit)
            )?;
            before = p.throughput_per_s;
        }
    }
    writeln!(w)?;
    writeln!(w, "Assumptions:")?;
    for a in &report.assumptions {
        writeln!(w, "  - {}", assumption(*a))?;
    }
    if !report.unmodelled.is_empty() {
        writeln!(
            w,
            "  - not modelled (no measured cost per record): {}",
            report.unmodelled.join(", ")
        )?;
    }
    Ok(())
}

fn tasks(w: &mut impl Write, report: &PlanReport) -> io::Result<()> {
    let rows = report
        .tasks
        .iter()
        .zip(&report.baseline.tasks)
        .map(|(t, p)| {
            vec![
                t.task.clone(),
                t.parallelism.to_string(),
                pct(t.busy),
                format!("{:.2}", t.share),
                micros(t.service_us),
                micros(t.cpu_us),
                if t.wake_us > 0.0 {
                    micros(t.wake_us)
                } else {
                    "-".to_owned()
                },
                format!("{:.2}", t.skew),
                p.saturates_at_per_s.map_or("-".into(), rate),
            ]
        })
        .collect();
    titled_table(
        w,
        "Tasks (SHARE: records per job record; SERVICE: on-CPU + off-CPU time per record; WAKE: the part of CPU/REC spent waking parked threads, left out of the CPU limit; SKEW: busiest subtask / mean):",
        &[
            ("TASK", L),
            ("PAR", R),
            ("BUSY", R),
            ("SHARE", R),
            ("SERVICE", R),
            ("CPU/REC", R),
            ("WAKE", R),
            ("SKEW", R),
            ("SATURATES AT", R),
        ],
        rows,
    )
}

fn scenario(w: &mut impl Write, report: &PlanReport, s: &Scenario) -> io::Result<()> {
    writeln!(w)?;
    let mut what: Vec<String> = s.set.iter().map(parallelism_change).collect();
    what.extend(
        s.speedups
            .iter()
            .map(|f| format!("{} {}x faster", f.function, seconds(f.factor))),
    );
    let p = &s.prediction;
    writeln!(
        w,
        "With {}: {} -> {} ({}), {}",
        what.join(", "),
        per_s(report.baseline.throughput_per_s),
        per_s(p.throughput_per_s),
        change(report.baseline.throughput_per_s, p.throughput_per_s),
        limit_text(report, p, &p.limit)
    )?;
    for f in &s.speedups {
        for t in &f.tasks {
            writeln!(
                w,
                "  {}: {}'s CPU per record {} -> {} ({} of its {} on-CPU busy samples hold it, self + callees)",
                f.function,
                t.task,
                micros(t.cpu_us_before),
                micros(t.cpu_us_after),
                pct(t.share),
                thousands(t.samples)
            )?;
        }
    }
    let sped_up = |task: &String| {
        s.speedups
            .iter()
            .flat_map(|f| &f.tasks)
            .any(|t| &t.task == task)
    };
    if !s.speedups.is_empty() && !p.limit.task.as_ref().is_some_and(sped_up) {
        let by = p.limit.task.as_deref().unwrap_or("the CPUs");
        writeln!(w, "  the gain is capped by {by}")?;
    }
    if let Some(next) = &p.next {
        writeln!(w, "  next limit: {}", limit_text(report, p, next))?;
    }
    Ok(())
}

fn target(w: &mut impl Write, report: &PlanReport, t: &TargetPlan) -> io::Result<()> {
    writeln!(w)?;
    if t.feasible {
        writeln!(
            w,
            "Target {}: the {} CPUs carry it ({} CPUs needed). Parallelism:",
            per_s(t.target_per_s),
            cpus(report.cpus),
            cpus(t.cpus_needed)
        )?;
    } else {
        let limit = t.cpu_limit_per_s.unwrap_or(0.0);
        writeln!(
            w,
            "Target {}: the CPUs cannot carry it: it needs {} CPUs and there are {}; they carry at most {}.",
            per_s(t.target_per_s),
            cpus(t.cpus_needed),
            cpus(report.cpus),
            per_s(limit)
        )?;
        if let Some(cut) = &t.cost_cut {
            match cut.cpu_us_needed {
                Some(needed) => writeln!(
                    w,
                    "To reach it on {} CPUs, {}'s CPU cost per record must drop from {} to {} ({}x faster; the job's CPU per record from {} to {}).",
                    cpus(report.cpus),
                    cut.task,
                    micros(cut.cpu_us_now),
                    micros(needed),
                    seconds(cut.cpu_us_now / needed),
                    micros(cut.job_cpu_us_now),
                    micros(cut.job_cpu_us_needed)
                )?,
                None => writeln!(
                    w,
                    "To reach it on {} CPUs, the job's CPU per record must drop from {} to {}: more than all of {}'s {} would save.",
                    cpus(report.cpus),
                    micros(cut.job_cpu_us_now),
                    micros(cut.job_cpu_us_needed),
                    cut.task,
                    micros(cut.cpu_us_now)
                )?,
            }
        }
        writeln!(w, "Parallelism for what the CPUs carry:")?;
    }
    let rows = t
        .parallelism
        .iter()
        .map(|c| {
            vec![
                c.task.clone(),
                c.from.to_string(),
                c.to.to_string(),
                if c.to > c.from {
                    format!("+{}", c.to - c.from)
                } else if c.to < c.from {
                    format!("-{}", c.from - c.to)
                } else {
                    String::new()
                },
            ]
        })
        .collect();
    table(w, &[("TASK", L), ("NOW", R), ("NEEDED", R), ("", L)], rows)?;
    let p = &t.prediction;
    writeln!(
        w,
        "  predicted: {}, {}",
        per_s(p.throughput_per_s),
        limit_text(report, p, &p.limit)
    )
}

/// "limited by the CPUs: ..." or "limited by Enrich: ...", with the figures behind it.
fn limit_text(report: &PlanReport, p: &Prediction, limit: &Limit) -> String {
    let Some(name) = &limit.task else {
        return format!(
            "limited by the CPUs: {} CPUs carry {} at {} of CPU per job record",
            cpus(report.cpus),
            per_s(limit.at_per_s),
            micros(p.cpus_used / p.throughput_per_s.max(f64::MIN_POSITIVE) * 1e6)
        );
    };
    let model: Option<&TaskModel> = report.tasks.iter().find(|t| &t.task == name);
    let predicted = p.tasks.iter().find(|t| &t.task == name);
    match (model, predicted) {
        (Some(m), Some(t)) => format!(
            "limited by {name}: its {} at {} ({} per record, {} of it on a CPU{})",
            if t.parallelism == 1 {
                "1 subtask saturates".to_owned()
            } else {
                format!("{} subtasks saturate", t.parallelism)
            },
            per_s(limit.at_per_s),
            micros(m.service_us - m.cpu_us + t.cpu_us),
            micros(t.cpu_us),
            if m.skew >= 1.05 && t.parallelism > 1 {
                format!("; its busiest subtask takes {:.2}x its share", m.skew)
            } else {
                String::new()
            }
        ),
        _ => format!("limited by {name} at {}", per_s(limit.at_per_s)),
    }
}

fn assumption(a: Assumption) -> &'static str {
    match a {
        Assumption::LinearScaling => {
            "linear scaling: a task's rate grows in proportion to its subtasks, up to the CPUs"
        }
        Assumption::SkewCarriedOver => {
            "skew carried over: records are split among a task's subtasks as in the recording"
        }
        Assumption::SharesCarriedOver => {
            "every task keeps its measured share of the job's records (filters, fan-out)"
        }
        Assumption::CpuRoofline => {
            "with a CPU free a record costs its on-CPU + off-CPU time; the job is CPU-bound when its CPU time fills the CPUs (waiting for a CPU is not modelled below that)"
        }
        Assumption::OffCpuUnchanged => {
            "off-CPU time (I/O, locks, sleeps) shrinks neither with more CPUs nor with a faster function"
        }
        Assumption::WholeMachine => {
            "the machine's CPUs are the job's: other processes' CPU use is not deducted (use --cpus)"
        }
        Assumption::OthersKeepTheirCpu => {
            "the job gets the CPUs its records got in the recording (on-CPU while busy): it used fewer than the machine's while its threads waited for one, so other processes keep the rest, and the CPU its threads spent waiting on channels is not its to use (use --cpus)"
        }
        Assumption::GivenCpus => "the job gets the CPUs given with --cpus",
        Assumption::SpeedupByOnCpuShare => {
            "a faster function saves its share of the task's on-CPU busy samples (self + callees)"
        }
        Assumption::WakeUpsBatched => {
            "where the CPUs limit, a woken thread waits for a CPU and one wake-up serves many records: the CPU spent waking threads parked on channels is left out of the CPU limit"
        }
        Assumption::UnknownCpuAsBusy => {
            "a task whose CPU time is unknown (async subtasks) counts its busy time as CPU"
        }
    }
}

fn parallelism_change(c: &ParallelismChange) -> String {
    format!("{} {} -> {}", c.task, c.from, c.to)
}

fn rate(r: f64) -> String {
    thousands(r.round() as u64)
}

fn per_s(r: f64) -> String {
    format!("{} records/s", rate(r))
}

fn cpus(c: f64) -> String {
    if (c - c.round()).abs() < 1e-9 {
        format!("{c:.0}")
    } else {
        format!("{c:.2}")
    }
}

/// `+12.0%`, `-3.0%`: the change from `from` to `to`; `-` from 0.
fn change(from: f64, to: f64) -> String {
    if from > 0.0 {
        crate::units::change(to / from - 1.0, true)
    } else {
        "-".to_owned()
    }
}
