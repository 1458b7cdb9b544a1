//! Operator chains: busy time split per operator inside one subtask, blocking inside an operator
//! staying idle, nesting, the per-subtask name limit, and the operator attached to stack samples.

mod common;

use std::collections::HashMap;
use std::thread;
use std::time::Duration;

use bpprof_format::{Recording, SampleState};
use common::{recorder_lock, spin_cpu, start, start_sampled};

/// Busy ns per operator name of `task`'s subtasks over the whole recording.
fn operator_busy(recording: &Recording, task: &str) -> HashMap<String, u64> {
    let ids: Vec<u32> = recording
        .intervals
        .iter()
        .flat_map(|c| &c.declared_subtasks)
        .filter(|d| d.task == task)
        .map(|d| d.id)
        .collect();
    let mut names = HashMap::new();
    for chunk in &recording.intervals {
        for d in &chunk.declared_operators {
            assert!(
                names.insert((d.subtask, d.id), d.name.clone()).is_none(),
                "operator {d:?} declared twice"
            );
        }
    }
    let mut busy: HashMap<String, u64> = HashMap::new();
    for chunk in &recording.intervals {
        for op in chunk.operators.iter().filter(|o| ids.contains(&o.subtask)) {
            let name = names
                .get(&(op.subtask, op.id))
                .expect("operator declared before use");
            *busy.entry(name.clone()).or_default() += op.busy_ns;
        }
    }
    busy
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

#[test]
fn busy_time_is_split_per_operator() {
    let _lock = recorder_lock();
    let rec = start("operators");
    let worker = thread::spawn(|| {
        let _subtask = bpprof::register("Chain", 0, 1);
        for _ in 0..10 {
            bpprof::operator("Parse", || spin_cpu(Duration::from_millis(5)));
            // Blocking inside an operator is idle, not the operator's busy time.
            bpprof::operator("Filter", || {
                bpprof::idle(|| thread::sleep(Duration::from_millis(20)));
            });
            bpprof::operator("Enrich", || {
                thread::sleep(Duration::from_millis(20));
                // The innermost operator gets the time.
                bpprof::operator("Lookup", || thread::sleep(Duration::from_millis(10)));
            });
        }
        // Beyond MAX_OPERATORS distinct names, the time goes to "other".
        for i in 0..bpprof::MAX_OPERATORS + 3 {
            let _scope = bpprof::enter_operator(&format!("op{i}"));
        }
    });
    worker.join().unwrap();
    // On a thread that is not registered, operator scopes do nothing.
    bpprof::operator("Unregistered", || thread::sleep(Duration::from_millis(5)));
    let recording = rec.finish();

    let busy = operator_busy(&recording, "Chain");
    let parse = ms(busy["Parse"]);
    let filter = ms(busy.get("Filter").copied().unwrap_or(0));
    let enrich = ms(busy["Enrich"]);
    let lookup = ms(busy["Lookup"]);
    assert!(parse >= 45.0, "Parse {parse} ms");
    assert!(filter < 20.0, "Filter's time was idle: {filter} ms");
    assert!(
        (195.0..400.0).contains(&enrich),
        "Enrich without Lookup: {enrich} ms"
    );
    assert!((95.0..300.0).contains(&lookup), "Lookup {lookup} ms");
    let names: Vec<&String> = recording
        .intervals
        .iter()
        .flat_map(|c| &c.declared_operators)
        .map(|d| &d.name)
        .collect();
    assert!(
        names.len() <= bpprof::MAX_OPERATORS + 1,
        "{} names",
        names.len()
    );
    assert!(!names.iter().any(|n| n.as_str() == "Unregistered"));
    // Parse, Filter, Enrich and Lookup, then op0..op59 fill the 64 names; the rest is "other".
    assert!(names.iter().any(|n| n.as_str() == "op59"), "{names:?}");
    assert!(!names.iter().any(|n| n.as_str() == "op60"), "{names:?}");
    assert!(
        names.iter().any(|n| n.as_str() == bpprof::OTHER_OPERATOR),
        "{names:?}"
    );
    // Operator time never exceeds the subtask's busy time.
    let total: u64 = busy.values().sum();
    let subtask_busy: u64 = recording
        .intervals
        .iter()
        .flat_map(|c| &c.subtasks)
        .map(|s| s.busy_ns())
        .sum();
    assert!(total <= subtask_busy, "{total} > {subtask_busy}");
}

#[test]
fn samples_carry_the_operator() {
    let _lock = recorder_lock();
    let (_dir, path, recorder) = start_sampled("operator-samples", 200);
    let worker = thread::spawn(|| {
        let _subtask = bpprof::register("Chain", 0, 1);
        for _ in 0..20 {
            bpprof::operator("Cheap", || spin_cpu(Duration::from_millis(2)));
            bpprof::operator("Hot", || spin_cpu(Duration::from_millis(30)));
        }
    });
    worker.join().unwrap();
    recorder.stop().unwrap();
    let recording = common::read(&path);
    let names: HashMap<u32, String> = recording
        .intervals
        .iter()
        .flat_map(|c| &c.declared_operators)
        .map(|d| (d.id, d.name.clone()))
        .collect();
    let mut per_operator: HashMap<String, u32> = HashMap::new();
    for chunk in &recording.samples {
        for c in &chunk.counts {
            if c.state == SampleState::Busy {
                let name = c
                    .operator
                    .and_then(|id| names.get(&id).cloned())
                    .unwrap_or_else(|| "-".into());
                *per_operator.entry(name).or_default() += c.count;
            }
        }
    }
    let hot = per_operator.get("Hot").copied().unwrap_or(0);
    let cheap = per_operator.get("Cheap").copied().unwrap_or(0);
    assert!(
        hot > 10 && hot > cheap * 3,
        "samples per operator: {per_operator:?}"
    );
}
