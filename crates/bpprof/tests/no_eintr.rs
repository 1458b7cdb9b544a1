//! Sampling never interrupts a blocking system call: the sampling signal comes from a timer on
//! the thread's own CPU clock, so a thread blocked in the kernel (using no CPU) is never
//! signalled, and no host call fails with `EINTR` because of bpprof.

mod common;

use std::io::ErrorKind;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{join_within, recorder_lock, samples_of, spin_cpu, start_sampled, thread_cpu_ns};

/// Sampling rate: high, so that a signal sent to a blocked thread would show at once.
const HZ: u32 = 999;

/// How long the subtasks run.
const RUN: Duration = Duration::from_secs(8);

/// What one blocking subtask saw.
#[derive(Debug, Default, Clone, Copy)]
struct Outcome {
    /// Calls made.
    calls: u64,
    /// Calls that failed with EINTR / `ErrorKind::Interrupted`.
    eintr: u64,
    /// Calls that returned something else unexpected (another error, a ready descriptor, a
    /// sleep shorter than asked, a poisoned lock).
    unexpected: u64,
    /// The thread's CPU time while registered.
    cpu_ns: u64,
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Runs `call` in a loop in a thread registered as `task` until `stop`, counting its outcomes.
/// `call` returns `Ok(())`, `Err(true)` for EINTR, `Err(false)` for anything else unexpected.
fn subtask<S, F>(task: &'static str, stop: &Arc<AtomicBool>, setup: S) -> JoinHandle<Outcome>
where
    S: FnOnce() -> F + Send + 'static,
    F: FnMut() -> Result<(), bool>,
{
    let stop = Arc::clone(stop);
    std::thread::Builder::new()
        .name(task.to_owned())
        .spawn(move || {
            let mut call = setup();
            let guard = bpprof::register(task, 0, 1);
            let cpu_start = thread_cpu_ns();
            let mut outcome = Outcome::default();
            while !stop.load(Ordering::Relaxed) {
                outcome.calls += 1;
                match call() {
                    Ok(()) => {}
                    Err(true) => outcome.eintr += 1,
                    Err(false) => outcome.unexpected += 1,
                }
            }
            outcome.cpu_ns = thread_cpu_ns() - cpu_start;
            drop(guard);
            outcome
        })
        .expect("spawn subtask")
}

/// A pipe nobody writes to: (read end, write end).
fn quiet_pipe() -> (libc::c_int, libc::c_int) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
    (fds[0], fds[1])
}

/// One `poll` of `fd` for input with `timeout_ms`: Ok on timeout.
fn poll_once(fd: libc::c_int, timeout_ms: libc::c_int) -> Result<(), bool> {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `pfd` is one valid pollfd.
    match unsafe { libc::poll(&mut pfd, 1, timeout_ms) } {
        0 => Ok(()),
        -1 => Err(errno() == libc::EINTR),
        _ => Err(false),
    }
}

fn close(fd: libc::c_int) {
    // SAFETY: closes a descriptor this test opened and no longer uses.
    unsafe { libc::close(fd) };
}

/// Closes the descriptors when the subtask's call is dropped.
struct Fds(Vec<libc::c_int>);

impl Drop for Fds {
    fn drop(&mut self) {
        self.0.iter().copied().for_each(close);
    }
}

#[inline(never)]
fn burn_until(stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        spin_cpu(Duration::from_millis(5));
    }
}

#[test]
fn blocked_host_calls_are_never_interrupted_while_cpu_subtasks_are_sampled() {
    let _lock = recorder_lock();
    let (_dir, path, recorder) = start_sampled("no_eintr", HZ);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();

    let mut blocking: Vec<(&'static str, JoinHandle<Outcome>)> = Vec::new();
    blocking.push((
        "Poll",
        subtask("Poll", &stop, || {
            let (r, w) = quiet_pipe();
            let fds = Fds(vec![r, w]);
            move || {
                let _keep = &fds;
                poll_once(r, 5)
            }
        }),
    ));
    blocking.push((
        "EpollWait",
        subtask("EpollWait", &stop, || {
            let (r, w) = quiet_pipe();
            // SAFETY: plain system calls on descriptors this closure owns.
            let epoll = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
            assert!(
                epoll >= 0,
                "epoll_create1: {}",
                std::io::Error::last_os_error()
            );
            let mut event = libc::epoll_event {
                events: libc::EPOLLIN as u32,
                u64: 1,
            };
            // SAFETY: `event` is valid; `epoll` and `r` are open.
            let rc = unsafe { libc::epoll_ctl(epoll, libc::EPOLL_CTL_ADD, r, &mut event) };
            assert_eq!(rc, 0, "epoll_ctl: {}", std::io::Error::last_os_error());
            let fds = Fds(vec![epoll, r, w]);
            move || {
                let _keep = &fds;
                let mut events = [libc::epoll_event { events: 0, u64: 0 }; 4];
                // SAFETY: `events` has room for 4 events.
                match unsafe { libc::epoll_wait(epoll, events.as_mut_ptr(), 4, 5) } {
                    0 => Ok(()),
                    -1 => Err(errno() == libc::EINTR),
                    _ => Err(false),
                }
            }
        }),
    ));
    blocking.push((
        "Nanosleep",
        subtask("Nanosleep", &stop, || {
            || {
                let request = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 2_000_000,
                };
                let mut remaining = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                };
                // SAFETY: both timespecs are valid.
                match unsafe { libc::nanosleep(&request, &mut remaining) } {
                    0 => Ok(()),
                    _ => Err(errno() == libc::EINTR),
                }
            }
        }),
    ));
    blocking.push((
        "UdpRecv",
        subtask("UdpRecv", &stop, || {
            let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind udp");
            socket
                .set_read_timeout(Some(Duration::from_millis(5)))
                .expect("set_read_timeout");
            move || {
                let mut buf = [0u8; 64];
                match socket.recv(&mut buf) {
                    Err(e)
                        if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut =>
                    {
                        Ok(())
                    }
                    Err(e) => Err(e.kind() == ErrorKind::Interrupted),
                    Ok(_) => Err(false),
                }
            }
        }),
    ));
    blocking.push((
        "CondvarWait",
        subtask("CondvarWait", &stop, || {
            let pair = (Mutex::new(()), Condvar::new());
            move || {
                let guard = pair.0.lock().map_err(|_| false)?;
                // Spurious wake-ups are allowed; only a failure (a poisoned lock) is counted.
                match pair.1.wait_timeout(guard, Duration::from_millis(5)) {
                    Ok(_) => Ok(()),
                    Err(_) => Err(false),
                }
            }
        }),
    ));
    blocking.push((
        "ThreadSleep",
        subtask("ThreadSleep", &stop, || {
            || {
                // std resumes an interrupted sleep; a sleep shorter than asked would be a bug.
                let asked = Duration::from_millis(2);
                let before = Instant::now();
                std::thread::sleep(asked);
                if before.elapsed() >= asked {
                    Ok(())
                } else {
                    Err(false)
                }
            }
        }),
    ));
    // 300 µs of CPU, then a 1 ms poll: the case a signal sent whatever the thread does hits
    // most often, and that the CPU timer must hit only in the CPU part.
    let mixed = subtask("Mixed", &stop, || {
        let (r, w) = quiet_pipe();
        let fds = Fds(vec![r, w]);
        move || {
            let _keep = &fds;
            spin_cpu(Duration::from_micros(300));
            poll_once(r, 1)
        }
    });

    let burners: Vec<(&'static str, JoinHandle<u64>)> = ["BurnA", "BurnB"]
        .into_iter()
        .map(|task| {
            let stop = Arc::clone(&stop);
            let handle = std::thread::Builder::new()
                .name(task.to_owned())
                .spawn(move || {
                    let guard = bpprof::register(task, 0, 1);
                    let cpu_start = thread_cpu_ns();
                    burn_until(&stop);
                    let cpu = thread_cpu_ns() - cpu_start;
                    drop(guard);
                    cpu
                })
                .expect("spawn burner");
            (task, handle)
        })
        .collect();

    std::thread::sleep(RUN);
    stop.store(true, Ordering::Relaxed);
    let limit = Duration::from_secs(2);
    let mut outcomes: Vec<(&'static str, Outcome)> = blocking
        .into_iter()
        .map(|(task, handle)| (task, join_within(handle, limit, task)))
        .collect();
    outcomes.push(("Mixed", join_within(mixed, limit, "Mixed")));
    let burned: Vec<(&'static str, u64)> = burners
        .into_iter()
        .map(|(task, handle)| (task, join_within(handle, limit, task)))
        .collect();
    recorder.stop().expect("stop recorder");
    let recording = bpprof_format::read_file(&path).expect("read recording");
    eprintln!("ran {:.2?}", started.elapsed());

    for (task, outcome) in &outcomes {
        eprintln!(
            "{task}: {} calls, {} EINTR, {} unexpected, {:.1} ms CPU",
            outcome.calls,
            outcome.eintr,
            outcome.unexpected,
            outcome.cpu_ns as f64 / 1e6
        );
    }
    let mut rates = Vec::new();
    for (task, cpu_ns) in &burned {
        let on_cpu: u64 = samples_of(&recording, task)
            .iter()
            .filter(|s| s.1)
            .map(|s| u64::from(s.3))
            .sum();
        let rate = on_cpu as f64 / (*cpu_ns as f64 / 1e9);
        eprintln!(
            "{task}: {on_cpu} on-CPU samples over {:.3} s of CPU: {rate:.0} per CPU-second",
            *cpu_ns as f64 / 1e9
        );
        rates.push((*task, on_cpu, *cpu_ns, rate));
    }
    let mixed_cpu = outcomes.last().map_or(0, |o| o.1.cpu_ns);
    let mixed_on_cpu: u64 = samples_of(&recording, "Mixed")
        .iter()
        .filter(|s| s.1)
        .map(|s| u64::from(s.3))
        .sum();
    eprintln!(
        "Mixed: {mixed_on_cpu} on-CPU samples over {:.3} s of CPU: {:.0} per CPU-second",
        mixed_cpu as f64 / 1e9,
        mixed_on_cpu as f64 / (mixed_cpu.max(1) as f64 / 1e9)
    );

    let interrupted: Vec<_> = outcomes.iter().filter(|(_, o)| o.eintr > 0).collect();
    assert!(
        interrupted.is_empty(),
        "blocking calls failed with EINTR: {interrupted:?}"
    );
    let unexpected: Vec<_> = outcomes.iter().filter(|(_, o)| o.unexpected > 0).collect();
    assert!(
        unexpected.is_empty(),
        "blocking calls returned unexpectedly: {unexpected:?}"
    );
    for (task, outcome) in &outcomes {
        // Every call blocks ~5 ms (rounded up to the tick for the socket timeout, plus
        // scheduling delays): hundreds of calls in 8 s.
        assert!(
            outcome.calls >= 100,
            "{task} made only {} calls",
            outcome.calls
        );
    }
    for (task, on_cpu, cpu_ns, rate) in &rates {
        assert!(
            *cpu_ns >= 1_000_000_000,
            "{task} used only {cpu_ns} ns of CPU"
        );
        assert!(
            *rate >= 100.0,
            "{task}: {on_cpu} on-CPU samples over {cpu_ns} ns of CPU ({rate:.0}/s)"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "the test took {:?}",
        started.elapsed()
    );
}
