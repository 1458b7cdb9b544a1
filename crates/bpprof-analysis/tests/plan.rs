//! Capacity (`locate`) and the plan model (`plan`) on synthetic recordings whose costs are known.

use bpprof_analysis::plan::{
    plan, render_plan, Assumption, CpuBudget, PlanError, PlanOptions, PlanReport,
};
use bpprof_analysis::synth::{Load, Synth};
use bpprof_analysis::{locate, AnalysisOptions, LocateReport};
use bpprof_format::{Recording, SampleState};

const INTERVALS: usize = 6;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * b.abs().max(1.0)
}

/// One task of a synthetic chain: name, parallelism, and per subtask its busy ratio, on-CPU
/// ratio and records per interval (1-second intervals).
struct Stage {
    name: &'static str,
    subtasks: Vec<(f64, f64, u64)>,
}

fn stage(name: &'static str, subtasks: &[(f64, f64, u64)]) -> Stage {
    Stage {
        name,
        subtasks: subtasks.to_vec(),
    }
}

/// A chain of stages, the first a source (records sent), the others receive and send their
/// records; each stage's backpressure is what busy leaves when a later stage is busier.
fn chain(stages: &[Stage], cpus: u32) -> Recording {
    let mut synth = Synth::new();
    let ids: Vec<Vec<u32>> = stages
        .iter()
        .map(|s| {
            (0..s.subtasks.len() as u32)
                .map(|i| synth.subtask(s.name, i, s.subtasks.len() as u32))
                .collect()
        })
        .collect();
    for w in ids.windows(2) {
        synth.channel("q", 64, &w[0], &w[1]);
    }
    let bottleneck_busy = |n: usize| -> f64 {
        stages[n + 1..]
            .iter()
            .flat_map(|s| s.subtasks.iter().map(|t| t.0))
            .fold(0.0, f64::max)
    };
    for _ in 0..INTERVALS {
        let mut loads = Vec::new();
        for (n, s) in stages.iter().enumerate() {
            for (i, &(busy, on_cpu, records)) in s.subtasks.iter().enumerate() {
                let bp = if bottleneck_busy(n) > busy {
                    (1.0 - busy) * 0.9
                } else {
                    0.0
                };
                let (rin, rout) = if n == 0 {
                    (0, records)
                } else {
                    (records, records)
                };
                loads.push((
                    ids[n][i],
                    Load::new(busy, bp)
                        .on_cpu(on_cpu)
                        .runqueue(busy - on_cpu)
                        .records(rin, rout),
                ));
            }
        }
        synth.interval(&loads);
    }
    with_cpus(&synth, cpus)
}

/// The recording of `synth`, made on a machine of `cpus` CPUs.
fn with_cpus(synth: &Synth, cpus: u32) -> Recording {
    let mut recording = synth.recording();
    recording.meta.cpus = cpus;
    recording
}

fn located(recording: &Recording) -> LocateReport {
    locate(recording, &AnalysisOptions::default()).unwrap()
}

fn planned(recording: &Recording, options: PlanOptions) -> PlanReport {
    plan(recording, &options).unwrap()
}

fn target(t: f64) -> PlanOptions {
    PlanOptions {
        target_per_s: Some(t),
        ..PlanOptions::default()
    }
}

#[test]
fn capacity_is_records_per_busy_second_and_cost_per_record() {
    // Work#0: busy 50% (40% on a CPU, 10% waiting for one) for 1,000 records a second.
    let synth = chain(
        &[
            stage("Source", &[(0.01, 0.01, 1000)]),
            stage("Work", &[(0.5, 0.4, 1000)]),
        ],
        4,
    );
    let report = located(&synth);
    let work = report.tasks.iter().find(|t| t.name == "Work").unwrap();
    let c = work.capacity.as_ref().unwrap();
    assert!(close(c.records_per_s, 1000.0), "{c:?}");
    assert!(close(c.rate_per_busy_s.unwrap(), 2000.0), "{c:?}");
    assert!(close(c.rate_per_on_cpu_s.unwrap(), 2500.0), "{c:?}");
    assert!(close(c.cpu_per_record_us.unwrap(), 400.0), "{c:?}");
    assert!(close(c.cpu_wait_per_record_us.unwrap(), 100.0), "{c:?}");
    assert!(close(c.off_cpu_per_record_us.unwrap(), 0.0), "{c:?}");
    assert!(close(c.saturation_per_s.unwrap(), 2000.0), "{c:?}");
    assert!(close(c.headroom.unwrap(), 1.0), "{c:?}");
    assert!(close(c.cpus_used.unwrap(), 0.4), "{c:?}");
    let subtask = work.subtasks[0].capacity.as_ref().unwrap();
    assert!(close(subtask.rate_per_busy_s.unwrap(), 2000.0));
    // The job: 0.4 + 0.01 CPUs of 4.
    let cpu = report.cpu_use.as_ref().unwrap();
    assert!(close(cpu.used, 0.41), "{cpu:?}");
    assert!(close(cpu.share.unwrap(), 0.41 / 4.0), "{cpu:?}");
    // The JSON carries it and reads back.
    let json = serde_json::to_string(&report).unwrap();
    assert!(json.contains("\"rate_per_busy_s\""), "{json}");
    assert_eq!(serde_json::from_str::<LocateReport>(&json).unwrap(), report);
    assert!(
        report.schema_minor >= 3,
        "capacity came with schema minor 3"
    );
}

#[test]
fn a_skewed_task_saturates_when_its_busiest_subtask_does() {
    // Work#0 gets twice the records of Work#1 and is twice as busy.
    let synth = chain(
        &[
            stage("Source", &[(0.01, 0.01, 1200)]),
            stage("Work", &[(0.8, 0.8, 800), (0.4, 0.4, 400)]),
        ],
        4,
    );
    let report = located(&synth);
    let c = report.tasks[1].capacity.clone().unwrap();
    assert!(close(c.saturation_per_s.unwrap(), 1200.0 / 0.8), "{c:?}");
    assert!(close(c.skew.unwrap(), 0.8 / 0.6), "{c:?}");
    assert!(close(c.headroom.unwrap(), 0.25), "{c:?}");
    // The human output has the capacity table and the job's CPU use.
    let mut text = Vec::new();
    bpprof_analysis::render_human(&report, &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("Capacity ("), "{text}");
    assert!(text.contains("+25%"), "{text}");
    assert!(text.contains("The job used 1.21 CPUs of 4 (30%)"), "{text}");
}

/// Source -> A(1) -> B(1): A costs 1 ms of CPU per record and is busy all the time at 1,000
/// records/s; B costs 0.4 ms (busy 40%).
fn two_stages(cpus: u32) -> Recording {
    chain(
        &[
            stage("Source", &[(0.01, 0.01, 1000)]),
            stage("A", &[(1.0, 1.0, 1000)]),
            stage("B", &[(0.4, 0.4, 1000)]),
        ],
        cpus,
    )
}

#[test]
fn a_change_predicts_the_throughput_and_the_task_that_limits_next() {
    let options = PlanOptions {
        set: vec![("A".into(), 2)],
        ..PlanOptions::default()
    };
    let report = planned(&two_stages(8), options);
    // The recorded configuration: A limits at what was measured.
    assert!(
        close(report.baseline.throughput_per_s, 1000.0),
        "{report:?}"
    );
    assert_eq!(report.baseline.limit.task.as_deref(), Some("A"));
    assert_eq!(report.cpus_from, CpuBudget::Machine);
    // A(2) carries 2,000 records/s; B then limits at 2,500.
    let p = &report.scenario.as_ref().unwrap().prediction;
    assert!(close(p.throughput_per_s, 2000.0), "{p:?}");
    assert_eq!(p.limit.task.as_deref(), Some("A"));
    let next = p.next.as_ref().unwrap();
    assert_eq!(next.task.as_deref(), Some("B"));
    assert!(close(next.at_per_s, 2500.0), "{next:?}");
    // A(3) passes B: B limits.
    let options = PlanOptions {
        set: vec![("A".into(), 3)],
        ..PlanOptions::default()
    };
    let p = planned(&two_stages(8), options)
        .scenario
        .unwrap()
        .prediction;
    assert!(close(p.throughput_per_s, 2500.0), "{p:?}");
    assert_eq!(p.limit.task.as_deref(), Some("B"));
}

#[test]
fn steps_move_the_bottleneck_until_the_cpus_are_reached() {
    // 8 CPUs carry 8 / 1.41 ms = 5,674 records/s.
    let report = planned(&two_stages(8), PlanOptions::default());
    let summary: Vec<(String, u32, u32, Option<String>)> = report
        .steps
        .iter()
        .flat_map(|s| {
            s.changes.iter().map(|c| {
                (
                    c.task.clone(),
                    c.from,
                    c.to,
                    s.prediction.limit.task.clone(),
                )
            })
        })
        .collect();
    let step = |changes: &[(&str, u32, u32)], limit: Option<&str>| {
        changes
            .iter()
            .map(|&(t, from, to)| (t.to_owned(), from, to, limit.map(str::to_owned)))
            .collect::<Vec<_>>()
    };
    let expected: Vec<_> = [
        // A(3) passes B's 2,500 records/s: B limits.
        step(&[("A", 1, 3)], Some("B")),
        // B(2) passes A(3)'s 3,000: A limits.
        step(&[("B", 1, 2)], Some("A")),
        // A(5) reaches B(2)'s 5,000: both limit, A named first.
        step(&[("A", 3, 5)], Some("A")),
        // Both raised past the CPUs' 8 / 1.41 ms = 5,674: the CPUs limit.
        step(&[("A", 5, 6), ("B", 2, 3)], None),
    ]
    .concat();
    assert_eq!(summary, expected);
    let last = report.steps.last().unwrap();
    let cpu_limit = 8.0 / 1.41e-3;
    assert!(
        close(last.prediction.throughput_per_s, cpu_limit),
        "{summary:?}"
    );
    let mut before = report.baseline.throughput_per_s;
    for s in &report.steps {
        assert!(s.prediction.throughput_per_s > before, "{summary:?}");
        before = s.prediction.throughput_per_s;
    }
}

#[test]
fn a_target_within_the_cpus_gets_the_parallelism_it_needs() {
    let report = planned(&two_stages(8), target(2200.0));
    let t = report.target.unwrap();
    assert!(t.feasible);
    let to = |name: &str| t.parallelism.iter().find(|p| p.task == name).unwrap().to;
    // A: 2,200 × 1 ms = 2.2 -> 3 subtasks; B: 2,200 × 0.4 ms = 0.88 -> 1.
    assert_eq!((to("Source"), to("A"), to("B")), (1, 3, 1));
    assert!(t.prediction.throughput_per_s >= 2200.0);
    assert!(close(t.cpus_needed, 2200.0 * 1.41e-3), "{}", t.cpus_needed);
    // The steps stop at the target.
    let last = report.steps.last().unwrap();
    assert!(last.prediction.throughput_per_s >= 2200.0);
}

#[test]
fn when_the_cpus_cannot_carry_the_target_the_plan_names_the_cost_that_must_drop() {
    // 2 CPUs carry 2 / 1.41 ms = 1,418 records/s; the target is 4,000.
    let report = planned(&two_stages(2), target(4000.0));
    let t = report.target.unwrap();
    assert!(!t.feasible);
    let limit = 2.0 / 1.41e-3;
    assert!(close(t.cpu_limit_per_s.unwrap(), limit));
    let cut = t.cost_cut.unwrap();
    assert_eq!(cut.task, "A");
    // The job may spend 2 / 4,000 s = 500 µs per record; B and Source keep 410 µs of it.
    assert!(close(cut.job_cpu_us_needed, 500.0), "{cut:?}");
    assert!(close(cut.cpu_us_needed.unwrap(), 90.0), "{cut:?}");
    // The parallelism is for what the CPUs carry, and the prediction says the CPUs limit.
    assert!(
        close(t.prediction.throughput_per_s, limit),
        "{:?}",
        t.prediction
    );
    assert_eq!(t.prediction.limit.task, None);
    // Far beyond: even a free A is not enough.
    let t = planned(&two_stages(2), target(10_000.0)).target.unwrap();
    assert_eq!(t.cost_cut.unwrap().cpu_us_needed, None);
}

#[test]
fn an_idle_task_may_shrink_but_a_busy_one_never_does() {
    // Sink(4) is 10% busy; A is busy all the time. A low target needs one subtask of each.
    let synth = chain(
        &[
            stage("Source", &[(0.01, 0.01, 1000)]),
            stage("A", &[(1.0, 1.0, 500), (1.0, 1.0, 500)]),
            stage("Sink", &[(0.1, 0.1, 250); 4]),
        ],
        8,
    );
    let t = planned(&synth, target(100.0)).target.unwrap();
    let to = |name: &str| t.parallelism.iter().find(|p| p.task == name).unwrap().to;
    assert_eq!(to("Sink"), 1);
    assert_eq!(to("A"), 2);
}

/// A small deterministic generator for the property test.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: u32) -> u32 {
        (self.next() * f64::from(n)) as u32
    }
}

#[test]
fn a_fully_busy_task_is_never_advised_to_shrink_in_random_pipelines() {
    let mut rng = Lcg(16);
    let names = ["Source", "T1", "T2", "T3", "T4"];
    let mut busy_tasks_seen = 0;
    for round in 0..60 {
        let n = 2 + rng.below(4) as usize;
        let rate = 100.0 + rng.next() * 10_000.0;
        let stages: Vec<Stage> = names[..n]
            .iter()
            .map(|&name| {
                let p = 1 + rng.below(6);
                let full = rng.next() < 0.4;
                let subtasks = (0..p)
                    .map(|_| {
                        let busy = if full { 1.0 } else { rng.next() };
                        let on_cpu = busy * rng.next();
                        (busy, on_cpu, (rate / f64::from(p)).round() as u64)
                    })
                    .collect::<Vec<_>>();
                stage(name, &subtasks)
            })
            .collect();
        let cpus = 1 + rng.below(16);
        let synth = chain(&stages, cpus);
        // Targets from a tenth of the rate to ten times it.
        let goal = rate * (0.1 + rng.next() * 9.9);
        let report = planned(&synth, target(goal));
        let t = report.target.as_ref().unwrap();
        for (task, change) in report.tasks.iter().zip(&t.parallelism) {
            assert_eq!(task.task, change.task);
            if task.busy >= 0.999 {
                busy_tasks_seen += 1;
                assert!(
                    change.to >= change.from,
                    "round {round}: {} busy {} advised {} -> {} for {goal}",
                    task.task,
                    task.busy,
                    change.from,
                    change.to
                );
            }
        }
    }
    assert!(busy_tasks_seen > 20, "{busy_tasks_seen}");
}

/// Source -> Work(1): Work costs 1 ms of CPU per record, a quarter of its on-CPU samples in
/// `app::score` (under `app::work`), and is busy all the time; Check below costs 0.9 ms.
fn sampled(check_busy: f64) -> Recording {
    let mut synth = Synth::new();
    let source = synth.subtask("Source", 0, 1);
    let work = synth.subtask("Work", 0, 1);
    let check = synth.subtask("Check", 0, 1);
    synth.channel("sw", 64, &[source], &[work]);
    synth.channel("wc", 64, &[work], &[check]);
    for _ in 0..INTERVALS {
        synth.sample(
            work,
            SampleState::Busy,
            true,
            &["main", "app::work", "app::lookup"],
            75,
        );
        synth.sample(
            work,
            SampleState::Busy,
            true,
            &["main", "app::work", "app::score", "app::hash"],
            25,
        );
        synth.sample(check, SampleState::Busy, true, &["main", "app::check"], 90);
        synth.interval(&[
            (source, Load::new(0.01, 0.95).records(0, 1000)),
            (work, Load::new(1.0, 0.0).records(1000, 1000)),
            (check, Load::new(check_busy, 0.0).records(1000, 0)),
        ]);
    }
    with_cpus(&synth, 8)
}

fn speedup(recording: &Recording, function: &str, factor: f64) -> Result<PlanReport, PlanError> {
    let options = PlanOptions {
        speedups: vec![(function.into(), factor)],
        ..PlanOptions::default()
    };
    plan(recording, &options)
}

#[test]
fn a_faster_function_saves_its_share_of_the_task_s_on_cpu_samples() {
    // `score` (self + `hash` below it) holds 25% of Work's samples; 2x faster saves 12.5%.
    let report = speedup(&sampled(0.5), "score", 2.0).unwrap();
    let s = report.scenario.unwrap();
    let effect = &s.speedups[0].tasks;
    assert_eq!(effect.len(), 1, "{effect:?}");
    assert_eq!(effect[0].task, "Work");
    assert!(close(effect[0].share, 0.25));
    assert!(close(effect[0].cpu_us_after, 875.0), "{effect:?}");
    assert!(close(s.prediction.throughput_per_s, 1e6 / 875.0));
    assert_eq!(s.prediction.limit.task.as_deref(), Some("Work"));
    assert!(report
        .assumptions
        .contains(&Assumption::SpeedupByOnCpuShare));
    // A caller counts once: `app::work` holds every sample, so 4x faster divides the cost by 4.
    let s = speedup(&sampled(0.5), "app::work", 4.0)
        .unwrap()
        .scenario
        .unwrap();
    assert!(close(s.speedups[0].tasks[0].cpu_us_after, 250.0));
}

#[test]
fn the_gain_of_a_faster_function_is_capped_by_the_next_task() {
    // Check costs 0.9 ms: Work at 875 µs would pass it, so Check caps the gain at 1,111/s.
    let report = speedup(&sampled(0.9), "score", 2.0).unwrap();
    let s = report.scenario.as_ref().unwrap();
    assert_eq!(s.prediction.limit.task.as_deref(), Some("Check"));
    assert!(
        close(s.prediction.throughput_per_s, 1e6 / 900.0),
        "{:?}",
        s.prediction
    );
    let mut text = Vec::new();
    render_plan(&report, &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("  the gain is capped by Check\n"), "{text}");
    // Not capped when the faster task still limits.
    let mut text = Vec::new();
    render_plan(&speedup(&sampled(0.5), "score", 2.0).unwrap(), &mut text).unwrap();
    assert!(!String::from_utf8(text).unwrap().contains("capped"));
}

#[test]
fn bad_plans_are_errors_that_name_the_problem() {
    let synth = sampled(0.5);
    match speedup(&synth, "scor", 2.0) {
        Err(PlanError::UnknownFunction { similar, .. }) => {
            assert_eq!(similar, vec!["app::score".to_owned()]);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        speedup(&synth, "score", 0.0),
        Err(PlanError::BadFactor { .. })
    ));
    let set = PlanOptions {
        set: vec![("Enrich".into(), 2)],
        ..PlanOptions::default()
    };
    match plan(&synth, &set) {
        Err(e @ PlanError::UnknownTask { .. }) => {
            assert_eq!(
                e.to_string(),
                "unknown task 'Enrich'; available: Source, Work, Check"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        plan(&synth, &target(-1.0)),
        Err(PlanError::BadTarget(_))
    ));
    // Without samples, a speedup cannot be measured.
    assert!(matches!(
        speedup(&two_stages(4), "score", 2.0),
        Err(PlanError::NoSamples)
    ));
}

#[test]
fn a_job_starved_by_other_processes_plans_with_the_cpus_it_got() {
    // Work waits for a CPU 60% of the time and uses 0.4 of the 4 CPUs: the budget is 0.4 + the
    // source's 0.01.
    let synth = chain(
        &[
            stage("Source", &[(0.01, 0.01, 400)]),
            stage("Work", &[(1.0, 0.4, 400)]),
        ],
        4,
    );
    let report = planned(&synth, PlanOptions::default());
    assert_eq!(report.cpus_from, CpuBudget::Available);
    assert!(close(report.cpus, 0.41), "{}", report.cpus);
    assert!(report.assumptions.contains(&Assumption::OthersKeepTheirCpu));
    // So the recorded configuration is predicted at what was measured, limited by the CPUs.
    assert!(
        close(report.baseline.throughput_per_s, 400.0),
        "{:?}",
        report.baseline
    );
    assert_eq!(report.baseline.limit.task, None);
    // --cpus overrides it.
    let given = PlanOptions {
        cpus: Some(4.0),
        ..PlanOptions::default()
    };
    let report = planned(&synth, given);
    assert_eq!(report.cpus_from, CpuBudget::Given);
    assert_eq!(report.baseline.limit.task.as_deref(), Some("Work"));
}

#[test]
fn the_cpu_a_contended_job_spent_waiting_on_channels_is_not_in_its_budget() {
    // As above, but Source spins in its channel wait: 0.2 CPUs of its CPU time fall outside its
    // busy time. The job used 0.61 CPUs; its records got 0.41 of them, and the budget is that:
    // with 0.61 the recorded configuration would be predicted at 595 records/s, not the 400
    // measured.
    let mut synth = Synth::new();
    let source = synth.subtask("Source", 0, 1);
    let work = synth.subtask("Work", 0, 1);
    synth.channel("q", 64, &[source], &[work]);
    for _ in 0..INTERVALS {
        synth.interval(&[
            (
                source,
                Load::new(0.01, 0.9)
                    .on_cpu(0.21)
                    .runqueue(0.0)
                    .records(0, 400),
            ),
            (
                work,
                Load::new(1.0, 0.0)
                    .on_cpu(0.4)
                    .runqueue(0.6)
                    .records(400, 400),
            ),
        ]);
    }
    let recording = with_cpus(&synth, 4);
    let used = located(&recording).cpu_use.unwrap().used;
    assert!(close(used, 0.61), "{used}");
    let report = planned(&recording, PlanOptions::default());
    assert_eq!(report.cpus_from, CpuBudget::Available);
    assert!(close(report.cpus, 0.41), "{}", report.cpus);
    assert!(
        close(report.baseline.throughput_per_s, 400.0),
        "{:?}",
        report.baseline
    );
    assert_eq!(report.baseline.limit.task, None);
    // More subtasks of Work get no more CPU: the prediction stays at what was measured.
    let more = PlanOptions {
        set: vec![("Work".to_owned(), 2)],
        ..PlanOptions::default()
    };
    let scenario = planned(&recording, more).scenario.unwrap();
    assert!(close(scenario.prediction.throughput_per_s, 400.0));
}

#[test]
fn wake_ups_of_parked_peers_are_left_out_of_the_cpu_limit() {
    // Work costs 1 ms of CPU per record, a fifth of it (its samples under crossbeam's waker)
    // waking the Source parked on the full queue. Where the CPUs limit, a woken thread waits for
    // a CPU and one wake-up serves many records: 16 subtasks of Work on 8 CPUs carry
    // 8 / (800 + 10 µs), not 8 / (1,000 + 10 µs).
    let mut synth = Synth::new();
    let source = synth.subtask("Source", 0, 1);
    let work = synth.subtask("Work", 0, 1);
    synth.channel("sw", 64, &[source], &[work]);
    for _ in 0..INTERVALS {
        synth.sample(work, SampleState::Busy, true, &["main", "app::work"], 80);
        synth.sample(
            work,
            SampleState::Busy,
            true,
            &[
                "main",
                "bpprof::channel::Receiver<T>::recv",
                "crossbeam_channel::waker::SyncWaker::notify",
                "syscall",
            ],
            20,
        );
        synth.interval(&[
            (source, Load::new(0.01, 0.95).records(0, 1000)),
            (work, Load::new(1.0, 0.0).records(1000, 1000)),
        ]);
    }
    let recording = with_cpus(&synth, 8);
    let more = PlanOptions {
        set: vec![("Work".to_owned(), 16)],
        ..PlanOptions::default()
    };
    let report = planned(&recording, more);
    let work = report.tasks.iter().find(|t| t.task == "Work").unwrap();
    assert!(close(work.wake_us, 200.0), "{work:?}");
    assert!(report.assumptions.contains(&Assumption::WakeUpsBatched));
    // The recorded configuration is limited by Work, whose time per record keeps its wake-ups.
    assert_eq!(report.baseline.limit.task.as_deref(), Some("Work"));
    assert!(close(report.baseline.throughput_per_s, 1000.0));
    let s = report.scenario.unwrap().prediction;
    assert_eq!(s.limit.task, None, "{s:?}");
    assert!(close(s.throughput_per_s, 8e6 / 810.0), "{s:?}");
}
