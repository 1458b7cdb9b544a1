//! Properties of `locate` over random synthetic recordings: random DAG job graphs with random
//! channels (shared ones and links included), loads, waits, queue fills and wake-up latency.
//! Every seed is deterministic; a failure prints the smallest failing case with its figures.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use bpprof_analysis::synth::{Load, Synth};
use bpprof_analysis::verdict::{BUSY_MIN, EXCHANGE_IDLE_MIN};
use bpprof_analysis::{
    locate, render_human, AnalysisOptions, BottleneckKind, Level, LocateReport, Rule,
};
use bpprof_format::{EndpointRole, Recording, SubtaskBlocking};

use common::Rng;

/// `x`, or with probability `p` one of the rules' thresholds, to hit their edges.
fn snap(rng: &mut Rng, x: f64, p: f64) -> f64 {
    const EDGES: [f64; 5] = [0.1, 0.3, 0.5, 0.25, 0.11];
    if rng.chance(p) {
        EDGES[rng.index(EDGES.len())]
    } else {
        x
    }
}

const SEEDS: u64 = 256;

/// A channel of the generated graph: sending and receiving tasks.
struct Channel {
    senders: BTreeSet<usize>,
    receivers: BTreeSet<usize>,
    link: bool,
    capacity: u64,
}

/// What a task does on average.
#[derive(Clone, Copy)]
struct Profile {
    busy: f64,
    backpressured: f64,
}

/// A generated case, with a description to print when it fails.
struct Case {
    recording: Recording,
    tasks: usize,
    intervals: usize,
    description: String,
}

fn random_case(seed: u64) -> Case {
    let mut rng = Rng(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 0x5EED);
    let n = 2 + rng.index(6);
    let intervals = 6 + rng.index(15);
    let mut d = String::new();
    let names: Vec<String> = (0..n).map(|i| format!("T{i}")).collect();
    let parallelism: Vec<u32> = (0..n).map(|_| 1 + rng.index(4) as u32).collect();

    // A DAG: every task after the first has an upstream task before it, plus random extra edges.
    let mut edges: BTreeSet<(usize, usize)> = BTreeSet::new();
    for j in 1..n {
        edges.insert((rng.index(j), j));
        for i in 0..j {
            if rng.chance(0.15) {
                edges.insert((i, j));
            }
        }
    }
    // Channels: a new one per edge, or an existing one shared (a union into the same task, or a
    // channel read by several tasks) as long as every sender stays before every receiver.
    let mut channels: Vec<Channel> = Vec::new();
    for &(u, v) in &edges {
        if rng.chance(0.3) {
            let shared = channels.iter().position(|c| {
                let senders_ok = c.senders.iter().chain([&u]).max() < c.receivers.iter().min();
                let receivers_ok = c.senders.iter().max() < c.receivers.iter().chain([&v]).min();
                (c.receivers.contains(&v) && senders_ok) || (c.senders.contains(&u) && receivers_ok)
            });
            if let Some(c) = shared {
                channels[c].senders.insert(u);
                channels[c].receivers.insert(v);
                continue;
            }
        }
        let copies = if rng.chance(0.15) { 2 } else { 1 };
        for _ in 0..copies {
            channels.push(Channel {
                senders: [u].into(),
                receivers: [v].into(),
                link: rng.chance(0.3),
                capacity: [1, 8, 64, 256][rng.index(4)],
            });
        }
    }

    let mut synth = Synth::new();
    // Registrations per (task, index): usually one, sometimes two taking turns (a pool).
    let mut registrations: Vec<Vec<Vec<u32>>> = Vec::new();
    for t in 0..n {
        let mut per_index = Vec::new();
        for index in 0..parallelism[t] {
            let count = if rng.chance(0.1) { 2 } else { 1 };
            per_index.push(
                (0..count)
                    .map(|_| synth.subtask(&names[t], index, parallelism[t]))
                    .collect::<Vec<u32>>(),
            );
        }
        registrations.push(per_index);
    }
    let ids_of = |tasks: &BTreeSet<usize>| -> Vec<u32> {
        tasks
            .iter()
            .flat_map(|&t| registrations[t].iter().flatten().copied())
            .collect()
    };
    let mut channel_ids = Vec::new();
    for (k, c) in channels.iter().enumerate() {
        let (senders, receivers) = (ids_of(&c.senders), ids_of(&c.receivers));
        let name = format!("c{k}");
        let id = if c.link {
            synth.link(&name, c.capacity, &senders, &receivers)
        } else {
            synth.channel(&name, c.capacity, &senders, &receivers)
        };
        channel_ids.push(id);
        let _ = writeln!(
            d,
            "  {}: {:?} -> {:?} capacity {}{}",
            name,
            c.senders.iter().map(|&t| &names[t]).collect::<Vec<_>>(),
            c.receivers.iter().map(|&t| &names[t]).collect::<Vec<_>>(),
            c.capacity,
            if c.link { " (link)" } else { "" }
        );
    }
    let inputs_of = |t: usize| -> Vec<u32> {
        (0..channels.len())
            .filter(|&k| channels[k].receivers.contains(&t))
            .map(|k| channel_ids[k])
            .collect()
    };
    let outputs_of = |t: usize| -> Vec<u32> {
        (0..channels.len())
            .filter(|&k| channels[k].senders.contains(&t))
            .map(|k| channel_ids[k])
            .collect()
    };

    // Profiles: loaded, backpressured, idle, or anything; per subtask a variation.
    let mut profiles: Vec<Vec<Profile>> = Vec::new();
    for &p in &parallelism {
        let (busy, bp) = match rng.index(4) {
            0 => (rng.range(0.5, 1.0), rng.range(0.0, 0.12)),
            1 => (rng.range(0.0, 0.45), rng.range(0.08, 0.95)),
            2 => (rng.range(0.0, 0.5), rng.range(0.0, 0.12)),
            _ => {
                let b = rng.unit();
                (b, rng.unit() * (1.0 - b))
            }
        };
        let per: Vec<Profile> = (0..p)
            .map(|_| {
                let hot = rng.chance(0.1);
                let busy = if hot {
                    rng.range(0.7, 1.0)
                } else {
                    let varied = (busy + rng.range(-0.1, 0.1)).clamp(0.0, 1.0);
                    snap(&mut rng, varied, 0.1)
                };
                let varied = (bp + rng.range(-0.05, 0.05)).clamp(0.0, 1.0);
                let bp = snap(&mut rng, varied, 0.1);
                Profile {
                    busy,
                    backpressured: bp.min(1.0 - busy),
                }
            })
            .collect();
        profiles.push(per);
    }
    // Joins: a task with several inputs is often idle, waiting on its favourite input, whose
    // senders compute, while the senders of another input are backpressured.
    let favourite_in: Vec<usize> = (0..n)
        .map(|t| rng.index(inputs_of(t).len().max(1)))
        .collect();
    for t in 0..n {
        let inputs: Vec<usize> = (0..channels.len())
            .filter(|&k| channels[k].receivers.contains(&t))
            .collect();
        if inputs.len() < 2 || !rng.chance(0.6) {
            continue;
        }
        let waited = inputs[favourite_in[t]];
        let other = inputs[(favourite_in[t] + 1) % inputs.len()];
        let mut set = |task: usize, busy: (f64, f64), bp: (f64, f64), rng: &mut Rng| {
            for p in &mut profiles[task] {
                p.busy = rng.range(busy.0, busy.1);
                p.backpressured = rng.range(bp.0, bp.1).min(1.0 - p.busy);
            }
        };
        set(t, (0.05, 0.4), (0.0, 0.08), &mut rng);
        for &u in &channels[waited].senders {
            set(u, (0.55, 1.0), (0.0, 0.05), &mut rng);
        }
        for &u in &channels[other].senders {
            if !channels[waited].senders.contains(&u) {
                set(u, (0.05, 0.3), (0.2, 0.9), &mut rng);
            }
        }
        let _ = writeln!(
            d,
            "  join {}: waits on c{waited}, c{other} backpressured",
            names[t]
        );
    }
    for (t, per) in profiles.iter().enumerate() {
        let _ = writeln!(
            d,
            "  {} (parallelism {}): {}",
            names[t],
            parallelism[t],
            per.iter()
                .map(|p| format!("busy {:.3} backpr {:.3}", p.busy, p.backpressured))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    // Where each task mostly waits: a favourite input and output (a join waiting on one input).
    let favourite: Vec<(usize, usize)> = (0..n)
        .map(|t| (favourite_in[t], rng.index(outputs_of(t).len().max(1))))
        .collect();
    let noise = rng.range(0.0, 0.12);
    let wait_chance = rng.range(0.3, 1.0);
    let fill_chance = rng.unit();
    let _ = writeln!(
        d,
        "  {intervals} intervals, noise {noise:.3}, explicit waits {wait_chance:.2}, fills {fill_chance:.2}"
    );

    let mut blocking: Vec<(usize, u32, u64, u64)> = Vec::new();
    for n_interval in 0..intervals {
        let mut loads = Vec::new();
        // A phase change now and then moves the load around.
        let phase = rng.chance(0.04);
        for t in 0..n {
            for (index, regs) in registrations[t].iter().enumerate() {
                if rng.chance(0.03) {
                    continue; // no data for this subtask in this interval
                }
                let id = regs[n_interval % regs.len()];
                let p = profiles[t][index];
                let mut busy = (p.busy + noise * rng.range(-1.0, 1.0)).clamp(0.0, 1.0);
                let mut bp = (p.backpressured + noise * rng.range(-1.0, 1.0)).clamp(0.0, 1.0);
                if phase {
                    std::mem::swap(&mut busy, &mut bp);
                }
                let busy = snap(&mut rng, busy, 0.05);
                let bp = snap(&mut rng, bp, 0.05).min(1.0 - busy);
                let mut load =
                    Load::new(busy, bp).records(rng.index(10_000) as u64, rng.index(10_000) as u64);
                if rng.chance(0.5) {
                    load = load.on_cpu((busy * rng.range(0.2, 1.3)).min(1.0));
                }
                if rng.chance(0.5) {
                    load = load.runqueue(rng.range(0.0, 0.4));
                }
                let idle = 1.0 - busy - bp;
                if rng.chance(wait_chance) {
                    for (role, total, channels, favourite) in [
                        (EndpointRole::Receiver, idle, inputs_of(t), favourite[t].0),
                        (EndpointRole::Sender, bp, outputs_of(t), favourite[t].1),
                    ] {
                        if channels.is_empty() {
                            continue;
                        }
                        let mut weights: Vec<f64> = channels.iter().map(|_| rng.unit()).collect();
                        if rng.chance(0.7) {
                            weights[favourite] += 4.0;
                        }
                        let sum: f64 = weights.iter().sum::<f64>().max(1e-9);
                        let scale = rng.range(0.5, 1.0);
                        for (&c, w) in channels.iter().zip(weights) {
                            let fraction = total * scale * w / sum;
                            let fraction = snap(&mut rng, fraction, 0.05).min(total);
                            synth.wait(id, c, role, fraction);
                        }
                    }
                }
                if rng.chance(0.3) {
                    let wake = (busy * rng.unit() * 1e9) as u64;
                    let blocked_cpu = ((1.0 - busy) * rng.unit() * 0.3 * 1e9) as u64;
                    blocking.push((n_interval, id, wake, blocked_cpu));
                }
                loads.push((id, load));
            }
        }
        for (k, c) in channels.iter().enumerate() {
            if rng.chance(fill_chance) {
                let avg = rng.index(c.capacity as usize + 1) as u64;
                let max = avg + rng.index((c.capacity - avg) as usize + 1) as u64;
                synth.fill(channel_ids[k], avg, max);
            }
        }
        synth.interval(&loads);
    }
    let mut recording = synth.recording();
    // Wake-up latency and CPU inside waits, which Synth has no API for.
    for (n_interval, id, wake, blocked_cpu) in blocking {
        recording.intervals[n_interval]
            .blocking
            .push(SubtaskBlocking {
                id,
                wake_ns: wake,
                blocked_cpu_ns: blocked_cpu,
            });
    }
    Case {
        recording,
        tasks: n,
        intervals,
        description: d,
    }
}

fn in_unit(x: f64) -> bool {
    x.is_finite() && (0.0..=1.0).contains(&x)
}

fn same(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12
}

/// Every ratio of the report, named.
fn ratios(report: &LocateReport) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = Vec::new();
    let mut push = |name: String, x: Option<f64>| {
        if let Some(x) = x {
            out.push((name, x));
        }
    };
    for t in &report.tasks {
        push(format!("{}.busy", t.name), t.busy);
        push(format!("{}.backpressured", t.name), t.backpressured);
        push(format!("{}.idle", t.name), t.idle);
        push(format!("{}.on_cpu", t.name), t.on_cpu);
        push(format!("{}.load", t.name), t.load);
        for o in &t.operators {
            push(
                format!("{}.{}.busy_share", t.name, o.name),
                Some(o.busy_share),
            );
        }
        for s in &t.subtasks {
            let n = &s.name;
            push(format!("{n}.busy"), s.busy);
            push(format!("{n}.backpressured"), s.backpressured);
            push(format!("{n}.idle"), s.idle);
            push(format!("{n}.on_cpu"), s.on_cpu);
            push(format!("{n}.off_cpu_share"), s.off_cpu_share);
            push(format!("{n}.runqueue_share"), s.runqueue_share);
            push(format!("{n}.blocked_cpu"), s.blocked_cpu);
            push(format!("{n}.wake"), s.wake);
            push(
                format!("{n}.cpu_wait_outside_busy"),
                s.cpu_wait_outside_busy,
            );
            push(format!("{n}.unregistered"), s.unregistered);
            push(format!("{n}.load"), s.load);
        }
    }
    for e in &report.edges {
        let n = format!("{} -> {}", e.from, e.to);
        push(format!("{n}.fill_ratio"), e.fill_ratio);
        push(format!("{n}.empty_share"), e.empty_share);
        push(format!("{n}.full_share"), e.full_share);
        push(format!("{n}.upstream_blocked"), e.upstream_blocked);
        push(format!("{n}.downstream_blocked"), e.downstream_blocked);
    }
    for b in &report.bottlenecks {
        push(format!("bottleneck {}.busy", b.task), Some(b.busy));
        for u in &b.upstream {
            push(
                format!("bottleneck {} upstream {}", b.task, u.task),
                Some(u.backpressured),
            );
        }
        for e in &b.evidence {
            push(
                format!(
                    "bottleneck {} evidence {} of {}",
                    b.task, e.metric, e.subject
                ),
                Some(e.value),
            );
            push(
                format!(
                    "bottleneck {} threshold {} of {}",
                    b.task, e.metric, e.subject
                ),
                Some(e.threshold),
            );
        }
    }
    for s in &report.timeline.shares {
        push(format!("share of {}", s.task), Some(s.share));
    }
    out
}

/// The violated properties of `report`. `tables` checks the bottlenecks against the report's
/// tables: true unless the timeline replaced the averaged verdict (its bottlenecks are then
/// found over the windows in which each task is one, not over the whole range).
fn violations(report: &LocateReport, tables: bool) -> Vec<String> {
    let mut v = Vec::new();
    for (name, x) in ratios(report) {
        if !in_unit(x) {
            v.push(format!("ratio {name} = {x} is not in [0, 1]"));
        }
    }

    let task = |name: &str| report.tasks.iter().find(|t| t.name == name);
    let edge = |subject: &str| {
        report
            .edges
            .iter()
            .find(|e| format!("{} -> {}", e.from, e.to) == subject)
    };
    for b in &report.bottlenecks {
        let who = format!("bottleneck {} ({:?}, {:?})", b.task, b.rule, b.kind);
        if b.rule.is_none() {
            v.push(format!("{who} has no rule"));
        }
        if (b.kind == BottleneckKind::Exchange) != (b.rule == Some(Rule::Exchange)) {
            v.push(format!("{who}: kind exchange iff rule exchange"));
        }
        if b.kind == BottleneckKind::Exchange {
            match b.edge.as_ref().and_then(|e| {
                report
                    .edges
                    .iter()
                    .find(|r| r.from == e.from && r.to == e.to)
            }) {
                None => v.push(format!("{who}: an exchange without its edge {:?}", b.edge)),
                Some(e) => {
                    if !e.link {
                        v.push(format!(
                            "{who}: an exchange on {} -> {}, not a link",
                            e.from, e.to
                        ));
                    }
                    let waited = if tables {
                        e.downstream_blocked
                    } else {
                        b.evidence
                            .iter()
                            .find(|x| x.metric == "downstream_blocked")
                            .map(|x| x.value)
                    };
                    let well_filled = e.fill_ratio.is_some_and(|f| f >= 0.5);
                    if well_filled && !waited.is_some_and(|w| w >= EXCHANGE_IDLE_MIN) {
                        v.push(format!(
                            "{who}: an exchange next to a well-filled queue: fill {:?}, reader waits {:?}",
                            e.fill_ratio, waited
                        ));
                    }
                }
            }
        }
        for e in &b.evidence {
            let side = if e.at_least {
                e.value >= e.threshold
            } else {
                e.value < e.threshold
            };
            if !side {
                v.push(format!(
                    "{who}: evidence {} of {} = {} is on the wrong side of {} (at_least {})",
                    e.metric, e.subject, e.value, e.threshold, e.at_least
                ));
            }
            if !tables {
                continue;
            }
            let table: Option<Option<f64>> = match e.metric.as_str() {
                "load" => task(&e.subject).map(|t| t.load.or(t.busy)),
                "busy" => task(&e.subject).map(|t| t.busy),
                "on_cpu" => task(&e.subject).map(|t| t.on_cpu),
                "backpressured" => task(&e.subject).map(|t| t.backpressured),
                "upstream_blocked" => edge(&e.subject).map(|r| {
                    r.upstream_blocked
                        .or_else(|| task(&r.from).and_then(|t| t.backpressured))
                }),
                "downstream_blocked" => edge(&e.subject).map(|r| r.downstream_blocked),
                _ => {
                    v.push(format!("{who}: unknown evidence metric {}", e.metric));
                    continue;
                }
            };
            match table {
                None => v.push(format!(
                    "{who}: evidence {} of unknown subject {}",
                    e.metric, e.subject
                )),
                Some(x) if !x.is_some_and(|x| same(x, e.value)) => v.push(format!(
                    "{who}: evidence {} of {} = {} but the table says {:?}",
                    e.metric, e.subject, e.value, x
                )),
                Some(_) => {}
            }
        }
        if tables {
            if let Some(t) = task(&b.task) {
                if !same(b.busy, t.busy.unwrap_or(0.0)) {
                    v.push(format!(
                        "{who}: busy {} but the table says {:?}",
                        b.busy, t.busy
                    ));
                }
                if matches!(
                    b.rule,
                    Some(Rule::LoadedBelowBackpressure | Rule::SlowestInput)
                ) {
                    let load = t.load.or(t.busy).unwrap_or(0.0);
                    if load < BUSY_MIN {
                        v.push(format!("{who}: not loaded (load {load})"));
                    }
                    if t.level == Some(Level::High) {
                        v.push(format!(
                            "{who}: at level HIGH (backpressured {:?})",
                            t.backpressured
                        ));
                    }
                }
            } else {
                v.push(format!("{who}: no such task"));
            }
        }
    }

    let mut text = Vec::new();
    match render_human(report, &mut text) {
        Err(e) => v.push(format!("render_human failed: {e}")),
        Ok(()) => {
            let text = String::from_utf8_lossy(&text);
            if !text.starts_with(&report.verdict) {
                v.push("the human text does not start with the verdict".to_owned());
            }
            if report.bottlenecks.len() > 1 {
                for b in &report.bottlenecks {
                    if !text.contains(&b.reason) {
                        v.push(format!("the human text misses the reason {:?}", b.reason));
                    }
                }
            }
        }
    }

    for t in &report.tasks {
        for s in &t.subtasks {
            let (Some(busy), Some(on_cpu)) = (s.busy, s.on_cpu) else {
                continue;
            };
            if busy <= 0.0 {
                continue;
            }
            if on_cpu > busy + 1e-12 {
                v.push(format!("{}: on_cpu {on_cpu} > busy {busy}", s.name));
            }
            let parts = [
                on_cpu / busy,
                s.runqueue_share.unwrap_or(0.0),
                s.off_cpu_share.unwrap_or(f64::NAN),
            ];
            let sum: f64 = parts.iter().sum();
            if !parts.iter().all(|&p| in_unit(p)) || (sum - 1.0).abs() > 1e-9 {
                v.push(format!(
                    "{}: busy split {parts:?} adds up to {sum} (busy {busy})",
                    s.name
                ));
            }
        }
    }
    v
}

/// A task named by two bottlenecks (e.g. `loaded_below_backpressure` and `external`).
fn duplicates(report: &LocateReport, _tables: bool) -> Vec<String> {
    let mut v = Vec::new();
    for (i, a) in report.bottlenecks.iter().enumerate() {
        for b in &report.bottlenecks[i + 1..] {
            if a.task == b.task {
                v.push(format!(
                    "{} is named twice, by {:?} and {:?}: {}",
                    a.task, a.rule, b.rule, report.verdict
                ));
            }
        }
    }
    v
}

/// A failing seed: what failed, and how big its case is.
struct Failure {
    seed: u64,
    size: (usize, usize),
    categories: BTreeSet<&'static str>,
    what: String,
}

/// The property a violation message is about.
fn category(violation: &str) -> &'static str {
    const CATEGORIES: [&str; 14] = [
        "panicked",
        "failed",
        "moves",
        "not in [0, 1]",
        "named twice",
        "wrong side",
        "table says",
        "unknown",
        "not loaded",
        "level HIGH",
        "exchange",
        "human text",
        "busy split",
        "on_cpu",
    ];
    const TWICE: [&str; 4] = [
        "named twice, by Some(LoadedBelowBackpressure) and Some(External)",
        "named twice, by Some(SlowestInput) and Some(External)",
        "named twice, by Some(Exchange) and Some(External)",
        "named twice",
    ];
    TWICE
        .into_iter()
        .chain(CATEGORIES)
        .find(|c| violation.contains(c))
        .unwrap_or("other")
}

#[test]
fn random_recordings_give_consistent_reports() {
    check_seeds(violations, true);
}

#[test]
fn random_recordings_name_each_task_at_most_once() {
    check_seeds(duplicates, false);
}

/// Runs `check` on the reports of every seed (with the default windows, and with one window
/// over the whole range) and fails with the smallest failing case of every violated property.
/// `coverage`: also fail when the cases did not exercise every rule.
fn check_seeds(check: fn(&LocateReport, bool) -> Vec<String>, coverage: bool) {
    let mut failures: Vec<Failure> = Vec::new();
    let mut moving = 0;
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for seed in 0..SEEDS {
        let case = random_case(seed);
        let run = std::panic::catch_unwind(|| {
            let by_default = locate(&case.recording, &AnalysisOptions::default());
            // One window over the whole range: the averaged verdict, never a timeline verdict.
            let one_window = locate(
                &case.recording,
                &AnalysisOptions {
                    window_s: Some(1e6),
                    ..AnalysisOptions::default()
                },
            );
            (by_default, one_window)
        });
        let mut what = Vec::new();
        match run {
            Err(_) => what.push("locate panicked".to_owned()),
            Ok((Err(e), _)) | Ok((_, Err(e))) => what.push(format!("locate failed: {e}")),
            Ok((Ok(by_default), Ok(one_window))) => {
                if one_window.timeline.moving {
                    what.push("one window, yet the bottleneck moves".to_owned());
                }
                moving += usize::from(by_default.timeline.moving);
                for b in &one_window.bottlenecks {
                    *kinds
                        .entry(format!("{:?}/{:?}", b.rule, b.kind))
                        .or_default() += 1;
                }
                what.extend(
                    check(&by_default, !by_default.timeline.moving)
                        .into_iter()
                        .map(|x| format!("default windows: {x}")),
                );
                what.extend(
                    check(&one_window, true)
                        .into_iter()
                        .map(|x| format!("one window: {x}")),
                );
                if !what.is_empty() {
                    what.push(format!("verdict (one window): {}", one_window.verdict));
                    for t in &one_window.tasks {
                        what.push(format!(
                            "  {}: busy {:?} load {:?} backpr {:?} level {:?}",
                            t.name, t.busy, t.load, t.backpressured, t.level
                        ));
                    }
                    for e in &one_window.edges {
                        what.push(format!(
                            "  {} -> {}: link {} fill {:?} upstream_blocked {:?} downstream_blocked {:?}",
                            e.from, e.to, e.link, e.fill_ratio, e.upstream_blocked, e.downstream_blocked
                        ));
                    }
                }
            }
        }
        if !what.is_empty() {
            let categories = what
                .iter()
                .filter(|w| !w.starts_with(' ') && !w.starts_with("verdict"))
                .map(|w| category(w))
                .collect();
            failures.push(Failure {
                seed,
                size: (case.tasks, case.intervals),
                categories,
                what: format!("{}\ncase:\n{}", what.join("\n"), case.description),
            });
        }
    }
    eprintln!(
        "{SEEDS} seeds: {} failing, {moving} with a moving bottleneck; bottlenecks by rule/kind (one window): {kinds:?}",
        failures.len()
    );
    // Every rule must have been exercised, or the generator is too tame to test them.
    let unexercised: Vec<&str> = [
        "LoadedBelowBackpressure",
        "SlowestInput",
        "Exchange",
        "External",
    ]
    .into_iter()
    .filter(|rule| !kinds.keys().any(|k| k.contains(rule)))
    .collect();
    if !failures.is_empty() {
        // The smallest failing case of every violated property.
        let all: BTreeSet<&str> = failures
            .iter()
            .flat_map(|f| f.categories.iter().copied())
            .collect();
        let mut message = format!("{} of {SEEDS} seeds fail\n", failures.len());
        for c in all {
            let of: Vec<&Failure> = failures
                .iter()
                .filter(|f| f.categories.contains(c))
                .collect();
            let seeds: Vec<u64> = of.iter().map(|f| f.seed).collect();
            if let Some(smallest) = of.iter().min_by_key(|f| (f.size, f.seed)) {
                let _ = writeln!(
                    message,
                    "\n=== {c}: {} seeds {seeds:?}; the smallest, seed {} ({} tasks, {} intervals):\n{}",
                    of.len(),
                    smallest.seed,
                    smallest.size.0,
                    smallest.size.1,
                    smallest.what
                );
            }
        }
        panic!("{message}");
    }
    assert!(
        !coverage || unexercised.is_empty(),
        "no random case exercised {unexercised:?}: {kinds:?}"
    );
}
