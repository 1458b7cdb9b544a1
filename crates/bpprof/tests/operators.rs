//! Operator chains: busy time split per operator inside one subtask, blocking inside an operator
//! staying idle, nesting, the per-subtask name limit, and the operator attached to stack samples.

mod common;

use std::collections::HashMap;
use std::thread;
use std::time::Duration;

use bpprof_format::{Recording, SampleState};
use common::{declarations_of, recorder_lock, spin_cpu, start, start_sampled};

/// Busy ns per operator name of `task`'s subtasks over the whole recording.
fn operator_busy(recording: &Recording, task: &str) -> HashMap<String, u64> {
    let ids: Vec<u32> = declarations_of(recording, task)
        .iter()
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

/// Calls per operator name of `task`'s subtasks over the whole recording.
fn operator_calls(recording: &Recording, task: &str) -> HashMap<String, u64> {
    let ids: Vec<u32> = declarations_of(recording, task)
        .iter()
        .map(|d| d.id)
        .collect();
    let names: HashMap<(u32, u32), String> = recording
        .intervals
        .iter()
        .flat_map(|c| &c.declared_operators)
        .map(|d| ((d.subtask, d.id), d.name.clone()))
        .collect();
    let mut calls: HashMap<String, u64> = HashMap::new();
    for chunk in &recording.intervals {
        for op in chunk
            .operator_calls
            .iter()
            .filter(|o| ids.contains(&o.subtask))
        {
            assert!(
                op.calls > 0,
                "an interval without calls is left out: {op:?}"
            );
            let name = names
                .get(&(op.subtask, op.id))
                .expect("operator declared before use");
            *calls.entry(name.clone()).or_default() += op.calls;
        }
    }
    calls
}

/// Nested scopes `depth` deep, the innermost being `Deep{depth}`.
fn nest(depth: usize) {
    if depth == 0 {
        return;
    }
    let _scope = bpprof::enter_operator(&format!("Deep{depth}"));
    nest(depth - 1);
}

#[test]
fn every_scope_entry_is_counted_as_a_call() {
    const N: u64 = 20_000;
    let _lock = recorder_lock();
    let rec = start("operator-calls");
    let worker = thread::spawn(|| {
        let _subtask = bpprof::register("Chain", 0, 1);
        for i in 0..N {
            let record = bpprof::operator("Parse", || i + 1);
            if record % 4 == 0 {
                continue;
            }
            bpprof::operator("Enrich", || {
                // Nested scopes count for their own operator, and the enclosing one once.
                if record % 2 == 0 {
                    bpprof::operator("Lookup", || ());
                }
            });
            // Short enough that the run spans several intervals.
            if i % 2_000 == 0 {
                thread::sleep(Duration::from_millis(40));
            }
        }
        // 8 levels are tracked; the scopes nested deeper are not counted.
        for _ in 0..10 {
            nest(10);
        }
    });
    worker.join().unwrap();
    // On a thread that is not registered, nothing is counted.
    bpprof::operator("Unregistered", || ());
    let recording = rec.finish();

    let calls = operator_calls(&recording, "Chain");
    let kept = (1..=N).filter(|r| r % 4 != 0).count() as u64;
    let looked_up = (1..=N).filter(|r| r % 4 != 0 && r % 2 == 0).count() as u64;
    assert_eq!(calls.get("Parse"), Some(&N), "{calls:?}");
    assert_eq!(calls.get("Enrich"), Some(&kept), "{calls:?}");
    assert_eq!(calls.get("Lookup"), Some(&looked_up), "{calls:?}");
    for depth in 3..=10 {
        assert_eq!(calls.get(&format!("Deep{depth}")), Some(&10), "{calls:?}");
    }
    assert_eq!(calls.get("Deep2"), None, "{calls:?}");
    assert_eq!(calls.get("Deep1"), None, "{calls:?}");
    assert!(!calls.contains_key("Unregistered"));
    let with_calls = recording
        .intervals
        .iter()
        .filter(|c| !c.operator_calls.is_empty())
        .count();
    assert!(with_calls >= 2, "calls in {with_calls} intervals");
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
