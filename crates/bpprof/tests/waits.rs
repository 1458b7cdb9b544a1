//! Where each blocking wait happened (per subtask, channel and end), the wake-up latency that
//! follows a blocked receive (busy, not idle), the CPU used inside waits, the channels' fill
//! samples and the marking of links, as seen in a recording.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use bpprof_format::{ChannelWait, EndpointRole, Recording};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

const MS: u64 = 1_000_000;

/// The id of the channel (or link) declared with `name`, which must be declared exactly once.
fn channel_id(recording: &Recording, name: &str) -> u32 {
    let ids: Vec<u32> = recording
        .intervals
        .iter()
        .flat_map(|c| &c.declared_channels)
        .filter(|d| d.name == name)
        .map(|d| d.id)
        .collect();
    assert_eq!(ids.len(), 1, "declarations of channel {name}: {ids:?}");
    ids[0]
}

/// Every wait entry of subtask `id`, over the whole recording.
fn waits_of(recording: &Recording, id: u32) -> Vec<ChannelWait> {
    recording
        .intervals
        .iter()
        .flat_map(|c| c.waits.iter().filter(|w| w.subtask == id).cloned())
        .collect()
}

/// (wait_ns, waits) of subtask `id` on the `role` end of `channel`, summed over the recording.
fn wait_on(recording: &Recording, id: u32, channel: u32, role: EndpointRole) -> (u64, u64) {
    waits_of(recording, id)
        .iter()
        .filter(|w| w.channel == channel && w.role == role)
        .fold((0, 0), |(ns, n), w| (ns + w.wait_ns, n + w.waits))
}

/// Blocked time of subtask `id` on every channel end with `role`, summed over the recording.
fn wait_ns_with_role(recording: &Recording, id: u32, role: EndpointRole) -> u64 {
    waits_of(recording, id)
        .iter()
        .filter(|w| w.role == role)
        .map(|w| w.wait_ns)
        .sum()
}

/// (wake_ns, blocked_cpu_ns) of subtask `id`, summed over the recording.
fn blocking_of(recording: &Recording, id: u32) -> (u64, u64) {
    recording
        .intervals
        .iter()
        .flat_map(|c| c.blocking.iter().filter(|b| b.id == id))
        .fold((0, 0), |(wake, cpu), b| {
            (wake + b.wake_ns, cpu + b.blocked_cpu_ns)
        })
}

/// (blocked_sends, blocked_recvs) of channel `id`, summed over the recording.
fn blocked_ops(recording: &Recording, id: u32) -> (u64, u64) {
    recording
        .intervals
        .iter()
        .flat_map(|c| c.channels.iter().filter(|ch| ch.id == id))
        .fold((0, 0), |(s, r), ch| {
            (s + ch.blocked_sends, r + ch.blocked_recvs)
        })
}

/// In every chunk, the subtask's idle time equals its receiver waits and its backpressured time
/// its sender waits (a subtask without `idle` / `backpressured` scopes).
fn assert_waits_add_up_per_chunk(recording: &Recording, id: u32, what: &str) {
    for chunk in &recording.intervals {
        let Some(s) = chunk.subtasks.iter().find(|s| s.id == id) else {
            continue;
        };
        let (mut recv, mut send) = (0, 0);
        for w in chunk.waits.iter().filter(|w| w.subtask == id) {
            match w.role {
                EndpointRole::Receiver => recv += w.wait_ns,
                EndpointRole::Sender => send += w.wait_ns,
            }
        }
        assert_eq!(
            (s.idle_ns, s.backpressured_ns),
            (recv, send),
            "{what}, chunk {}: (idle, backpressured) vs (receiver, sender) waits",
            chunk.seq
        );
    }
}

#[test]
fn each_blocking_wait_is_attributed_to_its_channel_end_and_the_ends_add_up_to_idle_and_backpressure(
) {
    let _lock = common::recorder_lock();
    let rec = common::start("waits");
    let (to_mid, from_source) = bpprof::bounded_named::<u32>("Waits.Src->Waits.Mid", 1);
    let (to_sink, from_mid) = bpprof::bounded_named::<u32>("Waits.Mid->Waits.Sink", 1);
    // Nothing is ever sent here: the one receive on it times out.
    let (quiet_tx, quiet_rx) = bpprof::bounded_named::<u32>("Waits.Quiet", 4);
    let source = thread::spawn(move || {
        let _subtask = bpprof::register("Waits.Src", 0, 1);
        for i in 0..10 {
            thread::sleep(ms(20));
            to_mid.send(i).unwrap();
        }
    });
    let mid = thread::spawn(move || {
        let _subtask = bpprof::register("Waits.Mid", 0, 1);
        while let Ok(v) = from_source.recv() {
            to_sink.send(v).unwrap();
        }
        assert_eq!(
            quiet_rx.recv_timeout(ms(30)),
            Err(bpprof::RecvTimeoutError::Timeout)
        );
        let start = Instant::now();
        bpprof::idle(|| thread::sleep(ms(25)));
        start.elapsed().as_nanos() as u64
    });
    let sink = thread::spawn(move || {
        let _subtask = bpprof::register("Waits.Sink", 0, 1);
        let mut n = 0;
        while from_mid.recv().is_ok() {
            n += 1;
            thread::sleep(ms(40));
        }
        n
    });
    common::join_within(source, Duration::from_secs(20), "source");
    let scope_ns = common::join_within(mid, Duration::from_secs(20), "mid");
    assert_eq!(
        common::join_within(sink, Duration::from_secs(20), "sink"),
        10
    );
    drop(quiet_tx);
    let recording = rec.finish();

    let a = channel_id(&recording, "Waits.Src->Waits.Mid");
    let b = channel_id(&recording, "Waits.Mid->Waits.Sink");
    let quiet = channel_id(&recording, "Waits.Quiet");
    let source = common::only_declaration(&recording, "Waits.Src").id;
    let mid = common::only_declaration(&recording, "Waits.Mid").id;
    let sink = common::only_declaration(&recording, "Waits.Sink").id;
    use EndpointRole::{Receiver, Sender};

    // Each subtask waited only on the ends it uses.
    let ends = |id: u32| -> Vec<(u32, EndpointRole)> {
        let mut ends: Vec<_> = waits_of(&recording, id)
            .iter()
            .map(|w| (w.channel, w.role))
            .collect();
        ends.sort_by_key(|&(c, r)| (c, r == Receiver));
        ends.dedup();
        ends
    };
    assert_eq!(ends(source), [(a, Sender)], "Source's wait sites");
    let mut mid_ends = vec![(a, Receiver), (b, Sender), (quiet, Receiver)];
    mid_ends.sort_by_key(|&(c, r)| (c, r == Receiver));
    assert_eq!(ends(mid), mid_ends, "Mid's wait sites");
    assert_eq!(ends(sink), [(b, Receiver)], "Sink's wait sites");

    // Idle is the receiver waits (plus `idle` scopes), backpressure the sender waits.
    assert_waits_add_up_per_chunk(&recording, source, "Source");
    assert_waits_add_up_per_chunk(&recording, sink, "Sink");
    let mid_total = common::total_of(&recording, mid);
    assert_eq!(
        mid_total.backpressured_ns,
        wait_ns_with_role(&recording, mid, Sender),
        "Mid: backpressured = its sender waits"
    );
    let unattributed_idle = mid_total
        .idle_ns
        .checked_sub(wait_ns_with_role(&recording, mid, Receiver))
        .expect("Mid's receiver waits exceed its idle time");
    assert!(
        (25 * MS..=scope_ns + MS).contains(&unattributed_idle),
        "Mid: idle outside channel waits {unattributed_idle} ns, the idle scope took {scope_ns} ns"
    );

    // The sizes of the waits.
    let (quiet_ns, quiet_waits) = wait_on(&recording, mid, quiet, Receiver);
    assert_eq!(quiet_waits, 1, "one receive timed out on the quiet channel");
    assert!(
        quiet_ns >= 30 * MS,
        "the timed-out receive waited {quiet_ns} ns"
    );
    let (mid_in_ns, mid_in_waits) = wait_on(&recording, mid, a, Receiver);
    assert!(
        mid_in_waits >= 1 && mid_in_ns >= 5 * MS,
        "Mid waited {mid_in_ns} ns in {mid_in_waits} receives for the source's records"
    );
    let (mid_out_ns, mid_out_waits) = wait_on(&recording, mid, b, Sender);
    assert!(
        mid_out_waits >= 5 && mid_out_ns >= 150 * MS,
        "Mid waited {mid_out_ns} ns in {mid_out_waits} sends for the slow sink"
    );

    // Each end has one user, so its waits are the channel's blocked operations.
    assert_eq!(
        blocked_ops(&recording, a),
        (
            wait_on(&recording, source, a, Sender).1,
            wait_on(&recording, mid, a, Receiver).1
        ),
        "channel a: (blocked sends, blocked receives) vs waits"
    );
    assert_eq!(
        blocked_ops(&recording, b),
        (
            wait_on(&recording, mid, b, Sender).1,
            wait_on(&recording, sink, b, Receiver).1
        ),
        "channel b: (blocked sends, blocked receives) vs waits"
    );
    assert_eq!(blocked_ops(&recording, quiet), (0, 1));
}

#[test]
fn link_waits_are_attributed_to_the_link_and_only_links_are_declared_as_links() {
    let _lock = common::recorder_lock();
    let rec = common::start("link_waits");
    let link = bpprof::link("Waits.Link", 4);
    let (tx, rx) = bpprof::bounded_named::<u32>("Waits.NotALink", 4);
    let writer = {
        let link = link.clone();
        thread::spawn(move || {
            let _subtask = bpprof::register("Waits.LinkWriter", 0, 1);
            for _ in 0..4 {
                link.write(|| thread::sleep(ms(30)));
            }
            tx.send(1).unwrap();
        })
    };
    let reader = {
        let link = link.clone();
        thread::spawn(move || {
            let _subtask = bpprof::register("Waits.LinkReader", 0, 1);
            for _ in 0..3 {
                link.read(|| thread::sleep(ms(20)));
            }
            rx.recv().unwrap()
        })
    };
    common::join_within(writer, Duration::from_secs(20), "writer");
    assert_eq!(
        common::join_within(reader, Duration::from_secs(20), "reader"),
        1
    );
    drop(link);
    let recording = rec.finish();

    let link = channel_id(&recording, "Waits.Link");
    let channel = channel_id(&recording, "Waits.NotALink");
    let links: Vec<u32> = recording
        .intervals
        .iter()
        .flat_map(|c| c.declared_links.iter().copied())
        .collect();
    assert_eq!(
        links.iter().filter(|&&id| id == link).count(),
        1,
        "the link is declared a link once: {links:?}"
    );
    assert!(
        !links.contains(&channel),
        "a bounded channel is not a link: {links:?}"
    );
    for chunk in &recording.intervals {
        for id in &chunk.declared_links {
            assert!(
                chunk.declared_channels.iter().any(|d| d.id == *id),
                "chunk {} marks channel {id} a link without declaring it",
                chunk.seq
            );
        }
    }

    let writer = common::only_declaration(&recording, "Waits.LinkWriter").id;
    let reader = common::only_declaration(&recording, "Waits.LinkReader").id;
    let (write_ns, writes) = wait_on(&recording, writer, link, EndpointRole::Sender);
    assert_eq!(writes, 4, "every write is a wait on the link's sending end");
    assert!(write_ns >= 120 * MS, "{write_ns} ns writing");
    assert_eq!(
        common::total_of(&recording, writer).backpressured_ns,
        wait_ns_with_role(&recording, writer, EndpointRole::Sender)
    );
    let (read_ns, reads) = wait_on(&recording, reader, link, EndpointRole::Receiver);
    assert_eq!(reads, 3, "every read is a wait on the link's receiving end");
    assert!(read_ns >= 60 * MS, "{read_ns} ns reading");
    assert_waits_add_up_per_chunk(&recording, writer, "link writer");
    assert_waits_add_up_per_chunk(&recording, reader, "link reader");
    assert_eq!(
        wait_on(&recording, reader, link, EndpointRole::Sender),
        (0, 0)
    );
    assert_eq!(
        wait_on(&recording, writer, link, EndpointRole::Receiver),
        (0, 0)
    );
}

/// The calling thread's allowed CPUs.
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, writable cpu_set_t of the size passed.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return Vec::new();
    }
    (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `cpu` is below CPU_SETSIZE.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect()
}

/// Pins the calling thread to `cpu`; false when the kernel refuses.
fn pin_to(cpu: usize) -> bool {
    // SAFETY: a zeroed cpu_set_t is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` is below CPU_SETSIZE (it came from `allowed_cpus`).
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is a valid cpu_set_t of the size passed; pid 0 is the calling thread.
    unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0 }
}

/// Lowers the calling thread's priority to `nice`, so that a CPU-bound thread on the same CPU
/// keeps it from running as soon as it is woken. False when the kernel refuses.
fn lower_priority(nice: i32) -> bool {
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    // SAFETY: setpriority on the calling thread's own tid; raising the nice value needs no privilege.
    unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice) == 0 }
}

/// What one wake-up run measured, in the recording and from the test's own clocks.
#[derive(Debug)]
struct WakeRun {
    wall_ns: u64,
    idle_ns: u64,
    backpressured_ns: u64,
    cpu_ns: u64,
    wake_ns: u64,
    blocked_cpu_ns: u64,
    /// Receiver waits on the channel.
    channel_wait_ns: u64,
    /// Upper bound of the time the receiver could have been waiting for input: for each record,
    /// from the receive call to the end of the send that delivered it, plus the final receive
    /// that saw the channel disconnect.
    max_input_wait_ns: u64,
    /// For each record, from the end of its send to the receiver running again (after `recv`
    /// returned): a lower bound of the wake-up latency, give or take the instants' reads.
    after_send_ns: u64,
}

/// How one wake-up run is set up.
#[derive(Debug, Clone, Copy)]
struct WakeSetup {
    /// The receiver's CPU.
    cpu: usize,
    /// The sender's CPU.
    sender_cpu: usize,
    /// Whether an unregistered CPU burner shares the receiver's CPU.
    burner: bool,
    /// The receiver's nice value when it shares its CPU with the burner.
    nice: i32,
    records: u32,
    /// Time between two records.
    gap: Duration,
}

impl WakeSetup {
    /// Ten records per second: the gap between two records is well above the receiver's
    /// wake-up latency next to the burner (at nice 10, about 10 ms), so that each record is
    /// received before the next one is sent.
    fn new(cpu: usize, sender_cpu: usize, burner: bool) -> WakeSetup {
        WakeSetup {
            cpu,
            sender_cpu,
            burner,
            nice: 10,
            records: 20,
            gap: ms(50),
        }
    }
}

/// Runs a receiver pinned to a CPU, optionally next to an unregistered CPU burner pinned there
/// too (the receiver then at a lower priority), fed one record per gap by a sender pinned to
/// another CPU. `None` when a thread cannot be pinned or the receiver's priority lowered.
fn wake_run(name: &str, setup: WakeSetup) -> Option<WakeRun> {
    let WakeSetup {
        cpu,
        sender_cpu,
        burner,
        nice,
        records,
        gap,
    } = setup;
    let rec = common::start(name);
    let stop = Arc::new(AtomicBool::new(false));
    let burner = burner.then(|| {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            if !pin_to(cpu) {
                return false;
            }
            let mut x = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..10_000 {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            }
            true
        })
    });
    // Let the burner take its CPU before the receiver starts.
    thread::sleep(ms(30));
    let channel = format!("{name}.Channel");
    let (tx, rx) = bpprof::bounded_named::<u32>(&channel, 4);
    let (src_task, sink_task) = (format!("{name}.Src"), format!("{name}.Sink"));
    let burner_on_cpu = burner.is_some();
    let receiver = thread::spawn(move || {
        if !pin_to(cpu) {
            return None;
        }
        if burner_on_cpu && !lower_priority(nice) {
            return None;
        }
        let _subtask = bpprof::register(&sink_task, 0, 1);
        let mut spans = Vec::with_capacity(records as usize + 1);
        loop {
            let enter = Instant::now();
            let got = rx.recv();
            let exit = Instant::now();
            spans.push((enter, exit));
            if got.is_err() {
                return Some(spans);
            }
        }
    });
    let sender = thread::spawn(move || {
        let pinned = pin_to(sender_cpu);
        let _subtask = bpprof::register(&src_task, 0, 1);
        let mut sends = Vec::with_capacity(records as usize);
        for i in 0..records {
            thread::sleep(gap);
            let before = Instant::now();
            if tx.send(i).is_err() {
                break;
            }
            sends.push((before, Instant::now()));
        }
        // The receiver's last wait, for the disconnection, holds no wake-up latency.
        thread::sleep(gap);
        drop(tx);
        pinned.then_some(sends)
    });
    let sends = common::join_within(sender, Duration::from_secs(30), "sender");
    let spans = common::join_within(receiver, Duration::from_secs(30), "receiver");
    stop.store(true, Ordering::Relaxed);
    let burner_pinned = burner.map(|b| common::join_within(b, Duration::from_secs(30), "burner"));
    let recording = rec.finish();
    let (Some(sends), Some(spans)) = (sends, spans) else {
        return None;
    };
    if burner_pinned == Some(false) {
        return None;
    }

    assert_eq!(
        spans.len(),
        sends.len() + 1,
        "every record received, then the end"
    );
    let mut max_input_wait_ns = 0;
    let mut after_send_ns = 0;
    for ((enter, exit), (_, sent)) in spans.iter().zip(&sends) {
        max_input_wait_ns += sent.saturating_duration_since(*enter).as_nanos() as u64;
        after_send_ns += exit.saturating_duration_since(*sent).as_nanos() as u64;
    }
    let (enter, exit) = spans.last().unwrap();
    max_input_wait_ns += exit.duration_since(*enter).as_nanos() as u64;

    let id = common::only_declaration(&recording, &format!("{name}.Sink")).id;
    let channel = channel_id(&recording, &channel);
    let total = common::total_of(&recording, id);
    let (wake_ns, blocked_cpu_ns) = blocking_of(&recording, id);
    Some(WakeRun {
        wall_ns: total.wall_ns,
        idle_ns: total.idle_ns,
        backpressured_ns: total.backpressured_ns,
        cpu_ns: total.cpu_ns,
        wake_ns,
        blocked_cpu_ns,
        channel_wait_ns: wait_on(&recording, id, channel, EndpointRole::Receiver).0,
        max_input_wait_ns,
        after_send_ns,
    })
}

#[test]
fn wake_up_latency_after_a_blocked_recv_is_busy_not_idle() {
    let _lock = common::recorder_lock();
    let cpus = allowed_cpus();
    let Some(&cpu) = cpus.first() else {
        println!("skipped: sched_getaffinity failed");
        return;
    };
    let sender_cpu = cpus.get(1).copied().unwrap_or(cpu);

    // Control: the receiver has its CPU to itself and runs as soon as a record arrives.
    let Some(quiet) = wake_run("Wake.Quiet", WakeSetup::new(cpu, sender_cpu, false)) else {
        println!("skipped: cannot pin threads to CPU {cpu} or lower the receiver's priority");
        return;
    };
    println!("without a burner: {quiet:?}");
    // The receiver shares its CPU with a CPU-bound thread: after each wake-up it waits for it.
    let Some(contended) = wake_run("Wake.Contended", WakeSetup::new(cpu, sender_cpu, true)) else {
        println!("skipped: cannot pin threads to CPU {cpu} or lower the receiver's priority");
        return;
    };
    println!("with a burner on the receiver's CPU: {contended:?}");

    for (what, run) in [("quiet", &quiet), ("contended", &contended)] {
        // Wake-up latency is busy: it is not part of idle, neither of the channel's waits.
        assert_eq!(run.backpressured_ns, 0, "{what}: {run:?}");
        assert_eq!(
            run.channel_wait_ns, run.idle_ns,
            "{what}: all the idle time is the receiver's waits on the channel: {run:?}"
        );
        assert!(
            run.idle_ns + run.wake_ns <= run.wall_ns,
            "{what}: idle and wake-up latency are disjoint parts of the wall time: {run:?}"
        );
        // Idle ends when the record is sent, not when the receiver runs again (the slack is
        // for the instants' reads around the runtime's).
        assert!(
            run.idle_ns <= run.max_input_wait_ns + 2 * MS + run.after_send_ns / 4,
            "{what}: idle {} ns, but the receiver waited for input at most {} ns and took {} ns \
             to run after the sends: {run:?}",
            run.idle_ns,
            run.max_input_wait_ns,
            run.after_send_ns
        );
        assert!(
            run.blocked_cpu_ns <= run.cpu_ns,
            "{what}: CPU inside waits exceeds the thread's CPU: {run:?}"
        );
        assert!(
            run.blocked_cpu_ns > 0,
            "{what}: blocking receives use some CPU: {run:?}"
        );
    }
    assert!(
        quiet.idle_ns >= quiet.wall_ns / 2,
        "the receiver without a burner is mostly idle: {quiet:?}"
    );
    assert!(
        quiet.wake_ns * 10 < quiet.idle_ns,
        "without contention the wake-up latency is small: {quiet:?}"
    );
    assert!(
        contended.wake_ns > MS,
        "with a burner on its CPU the receiver waits for it after each wake-up: {contended:?}"
    );
    assert!(
        contended.wake_ns >= contended.after_send_ns / 4,
        "the recorded wake-up latency {} ns is far below the {} ns the receiver took to run \
         after the sends: {contended:?}",
        contended.wake_ns,
        contended.after_send_ns
    );
    let idle_share = |r: &WakeRun| r.idle_ns as f64 / r.wall_ns as f64;
    assert!(
        idle_share(&contended) < idle_share(&quiet),
        "the contended receiver reads less idle ({:.3}) than the quiet one ({:.3})",
        idle_share(&contended),
        idle_share(&quiet)
    );
}

// A wait that ends by disconnection (or a timeout) was not woken by a record: it must not take
// the "record ready" note of a record another receiver got, or the rest of its wait would count
// as wake-up latency (and, reported as idle in earlier intervals, twice).
#[test]
fn a_receive_that_no_record_woke_has_no_wake_up_latency() {
    let _lock = common::recorder_lock();
    let rec = common::start("stale_note");
    let (tx, rx) = bpprof::bounded_named::<u32>("Stale.Shared", 4);
    let receivers: Vec<_> = ["Stale.A", "Stale.B"]
        .into_iter()
        .map(|task| {
            let rx = rx.clone();
            thread::spawn(move || {
                let _subtask = bpprof::register(task, 0, 1);
                (task, rx.recv().is_ok())
            })
        })
        .collect();
    drop(rx);
    // Both receivers are blocked; one of them gets the only record.
    thread::sleep(ms(50));
    tx.send(1).unwrap();
    // The other one waits until the channel disconnects.
    thread::sleep(ms(300));
    drop(tx);
    let outcomes: Vec<(&str, bool)> = receivers
        .into_iter()
        .map(|r| common::join_within(r, Duration::from_secs(20), "receiver"))
        .collect();
    let recording = rec.finish();

    let (unlucky, _) = *outcomes
        .iter()
        .find(|(_, got)| !got)
        .expect("one receiver got no record");
    let id = common::only_declaration(&recording, unlucky).id;
    let total = common::total_of(&recording, id);
    let (wake_ns, _) = blocking_of(&recording, id);
    assert!(
        total.idle_ns + wake_ns <= total.wall_ns,
        "{unlucky}: idle {} ns + wake-up latency {wake_ns} ns exceed the wall time {} ns",
        total.idle_ns,
        total.wall_ns
    );
    assert!(
        wake_ns < 10 * MS,
        "{unlucky} got no record, yet has {wake_ns} ns of wake-up latency (idle {} ns)",
        total.idle_ns
    );
}

// A blocked receive becomes able to proceed when the first record arrives: a second send before
// the woken receiver runs must not move its ready time (the time between the two sends would
// count as idle), and a wait in progress at an interval's end is split at its ready time too.
// The receiver is pinned at nice 19 next to a CPU burner, so that its wake-up latency is often
// longer than the 20 ms between records. Tolerance: the test's own bound is measured from
// outside the channel, and on a machine loaded by other work some idle time is still
// misclassified (measured: 2–5% over the bound at load 2–5, 29–84% over at load 15); half the bound
// plus 5 ms still fails the bug this guards against, which made idle 3 to 6 times the bound.
#[test]
fn wake_up_latency_longer_than_the_gap_between_records_is_still_busy() {
    let _lock = common::recorder_lock();
    let cpus = allowed_cpus();
    let Some(&cpu) = cpus.first() else {
        println!("skipped: sched_getaffinity failed");
        return;
    };
    let setup = WakeSetup {
        nice: 19,
        records: 40,
        gap: ms(20),
        ..WakeSetup::new(cpu, cpus.get(1).copied().unwrap_or(cpu), true)
    };
    let Some(run) = wake_run("Wake.Starved", setup) else {
        println!("skipped: cannot pin threads to CPU {cpu} or lower the receiver's priority");
        return;
    };
    println!("{run:?}");
    assert!(
        run.idle_ns <= run.max_input_wait_ns + run.max_input_wait_ns / 2 + 5 * MS,
        "idle {} ns, but the receiver waited for input at most {} ns: {run:?}",
        run.idle_ns,
        run.max_input_wait_ns
    );
    assert!(
        run.idle_ns + run.wake_ns <= run.wall_ns,
        "idle and wake-up latency exceed the wall time: {run:?}"
    );
}

#[test]
fn cpu_used_inside_blocking_waits_is_recorded_and_never_exceeds_the_threads_cpu() {
    let _lock = common::recorder_lock();
    let rec = common::start("blocked_cpu");
    let (tx, rx) = bpprof::bounded_named::<u32>("BlockedCpu.In", 4);
    let feeder = thread::spawn(move || {
        for i in 0..20 {
            thread::sleep(ms(2));
            tx.send(i).unwrap();
        }
    });
    let worker = thread::spawn(move || {
        let _subtask = bpprof::register("BlockedCpu", 0, 1);
        let idle = bpprof::idle(|| common::spin_cpu(ms(40)));
        let backpressured = bpprof::backpressured(|| common::spin_cpu(ms(20)));
        let busy = common::spin_cpu(ms(30));
        let received = rx.iter().count();
        (idle + backpressured, busy, received)
    });
    common::join_within(feeder, Duration::from_secs(20), "feeder");
    let (spun_blocked, spun_busy, received) =
        common::join_within(worker, Duration::from_secs(20), "worker");
    assert_eq!(received, 20);
    let recording = rec.finish();

    let id = common::only_declaration(&recording, "BlockedCpu").id;
    let total = common::total_of(&recording, id);
    let (_, blocked_cpu_ns) = blocking_of(&recording, id);
    assert!(
        blocked_cpu_ns >= spun_blocked,
        "CPU inside waits {blocked_cpu_ns} ns, but the thread spun {spun_blocked} ns inside \
         idle and backpressured scopes"
    );
    assert!(
        blocked_cpu_ns <= total.cpu_ns,
        "CPU inside waits {blocked_cpu_ns} ns exceeds the thread's CPU {} ns",
        total.cpu_ns
    );
    // CPU inside channel waits is measured on one wait in CPU_MEASURE_EVERY (16) and scaled: the
    // one measured receive stands for 16 of the 20, so allow it 2 ms of estimation error.
    assert!(
        total.cpu_ns + 2 * MS >= blocked_cpu_ns + spun_busy,
        "the CPU outside waits ({} ns) holds the {spun_busy} ns spun while busy",
        total.cpu_ns.saturating_sub(blocked_cpu_ns)
    );
    assert!(
        blocked_cpu_ns < spun_blocked + 20 * MS,
        "20 blocking receives used {} ns of CPU beyond the spinning",
        blocked_cpu_ns - spun_blocked
    );
}

#[test]
fn fill_samples_tell_a_channel_kept_full_from_one_kept_empty() {
    let _lock = common::recorder_lock();
    let rec = common::start("fills");
    let (full_tx, full_rx) = bpprof::bounded_named::<u32>("Fills.Full", 2);
    let (empty_tx, empty_rx) = bpprof::bounded_named::<u32>("Fills.Empty", 2);
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let producer = thread::spawn(move || {
        let _subtask = bpprof::register("Fills.Producer", 0, 1);
        full_tx.send(0).unwrap();
        full_tx.send(1).unwrap();
        started_tx.send(()).unwrap();
        // Blocks until the consumer drains: the channel stays full meanwhile.
        full_tx.send(2).unwrap();
    });
    let waiter = thread::spawn(move || {
        let _subtask = bpprof::register("Fills.Waiter", 0, 1);
        // Blocks until the sender is dropped: the channel stays empty meanwhile.
        empty_rx.recv().is_err()
    });
    started_rx.recv().unwrap();
    thread::sleep(ms(400));
    // Drop the empty channel's sender first, then drain the full one.
    drop(empty_tx);
    assert!(common::join_within(
        waiter,
        Duration::from_secs(20),
        "waiter"
    ));
    let drained: Vec<u32> = full_rx.iter().collect();
    assert_eq!(drained, [0, 1, 2]);
    common::join_within(producer, Duration::from_secs(20), "producer");
    let recording = rec.finish();

    let totals = |id: u32| {
        let samples: u32 = recording
            .intervals
            .iter()
            .flat_map(|c| c.channels.iter().filter(|ch| ch.id == id))
            .map(|ch| ch.fill_samples)
            .sum();
        let (empty, full) = recording
            .intervals
            .iter()
            .flat_map(|c| c.fills.iter().filter(|f| f.id == id))
            .fold((0, 0), |(e, f), fill| {
                (e + fill.empty_samples, f + fill.full_samples)
            });
        (samples, empty, full)
    };
    for chunk in &recording.intervals {
        for fill in &chunk.fills {
            let channel = chunk.channels.iter().find(|c| c.id == fill.id);
            let samples = channel.map_or(0, |c| c.fill_samples);
            assert!(
                fill.empty_samples + fill.full_samples <= samples,
                "chunk {}: {fill:?} has more samples than {channel:?}",
                chunk.seq
            );
        }
    }
    let (samples, empty, full) = totals(channel_id(&recording, "Fills.Full"));
    // 400 ms at one sample per 10 ms; a loaded machine samples less often.
    assert!(
        samples >= 10,
        "the full channel was sampled {samples} times"
    );
    assert!(
        full * 10 >= samples * 8 && empty * 5 <= samples,
        "the full channel: {full} full and {empty} empty of {samples} samples"
    );
    let (samples, empty, full) = totals(channel_id(&recording, "Fills.Empty"));
    assert!(
        samples >= 10,
        "the empty channel was sampled {samples} times"
    );
    assert!(
        empty * 10 >= samples * 8 && full == 0,
        "the empty channel: {empty} empty and {full} full of {samples} samples"
    );
}
