//! Writes a synthetic recording at production scale, for `scripts/scale-bench.sh`: a chain of 8
//! tasks (`stage0` -> ... -> `stage7`, one channel between neighbours) whose subtasks are sampled
//! at 99 Hz for a given number of 1-second intervals, over a given number of distinct stacks of
//! depth 20–40 (shared out among the tasks, ids assigned in order of first use as the runtime
//! does). `stage3` is the bottleneck: busy, the stages before it backpressured, after it idle.
//!
//! ```sh
//! cargo run --release -p bpprof-format --example scale -- --subtasks 64 --seconds 3600 --out a.bpprof
//! ```
//!
//! Options: `--subtasks N` (a multiple of 8; default 64), `--seconds S` (default 3600),
//! `--stacks K` (default 2000), `--seed X` (default 1), `--out PATH` (required).

use std::collections::HashMap;
use std::fs::File;
use std::io::BufWriter;
use std::process::ExitCode;

use bpprof_format::{
    ChannelDecl, ChannelEndpoint, ChannelInterval, ChannelWait, EdgeDecl, EndChunk, EndpointRole,
    FrameDecl, IntervalChunk, RecordingMeta, RecordingWriter, SampleCount, SampleState,
    SamplesChunk, StackDecl, SubtaskDecl, SubtaskInterval,
};

const SECOND: u64 = 1_000_000_000;
const HZ: u32 = 99;
const TASKS: u32 = 8;
const BOTTLENECK: u32 = 3;

/// xorshift64: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    /// In `lo..hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

struct Options {
    subtasks: u32,
    seconds: u64,
    stacks: u32,
    seed: u64,
    out: String,
}

fn parse() -> Result<Options, String> {
    let mut options = Options {
        subtasks: 64,
        seconds: 3600,
        stacks: 2000,
        seed: 1,
        out: String::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|e| format!("{flag} {value}: {e}"))
        };
        match flag.as_str() {
            "--subtasks" => options.subtasks = number()? as u32,
            "--seconds" => options.seconds = number()?,
            "--stacks" => options.stacks = number()? as u32,
            "--seed" => options.seed = number()?,
            "--out" => options.out = value.clone(),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if options.out.is_empty() {
        return Err("--out PATH is required".into());
    }
    if options.subtasks == 0 || options.subtasks % TASKS != 0 {
        return Err(format!("--subtasks must be a multiple of {TASKS}"));
    }
    if options.stacks < TASKS {
        return Err(format!("--stacks must be at least {TASKS}"));
    }
    Ok(options)
}

/// The code of the job: frames, and per task its stacks (frame lists and the state each is
/// sampled in).
struct Code {
    frames: Vec<FrameDecl>,
    /// Per task: its stacks.
    tasks: Vec<Vec<(Vec<u32>, SampleState)>>,
}

impl Code {
    fn new(rng: &mut Rng, stacks: u32) -> Code {
        let mut frames = Vec::new();
        let mut frame = |function: String| {
            let id = frames.len() as u32;
            frames.push(FrameDecl {
                id,
                file: format!(
                    "/home/dev/.cargo/registry/src/index/crate-1.0.{}/src/lib.rs",
                    id % 17
                ),
                line: 10 + id * 7 % 900,
                function,
            });
            id
        };
        let startup: Vec<u32> = [
            "std::sys::pal::unix::thread::Thread::new::thread_start",
            "core::ops::function::FnOnce::call_once{{vtable.shim}}",
            "std::thread::Builder::spawn_unchecked_::{{closure}}",
            "std::panicking::try",
            "std::sys::backtrace::__rust_begin_short_backtrace",
            "bpprof::subtask::run_registered::{{closure}}",
        ]
        .iter()
        .map(|f| frame((*f).to_owned()))
        .collect();
        let mut tasks = Vec::new();
        for t in 0..TASKS {
            let pool: Vec<u32> = (0..120)
                .map(|i| {
                    frame(format!(
                        "<pipeline::stage{t}::Operator{i} as pipeline::Process<alloc::vec::Vec<u8>>>::process_{i}"
                    ))
                })
                .collect();
            let n = stacks / TASKS + u32::from(t < stacks % TASKS);
            let mine = (0..n)
                .map(|s| {
                    let depth = rng.range(20, 41) as usize;
                    let mut path = startup.clone();
                    while path.len() < depth {
                        path.push(pool[rng.range(0, pool.len() as u64) as usize]);
                    }
                    let state = match s % 6 {
                        0 => SampleState::Idle,
                        1 => SampleState::Backpressured,
                        _ => SampleState::Busy,
                    };
                    (path, state)
                })
                .collect();
            tasks.push(mine);
        }
        Code { frames, tasks }
    }
}

/// Assigns recording ids to stacks and frames in order of first use, and declares them once.
#[derive(Default)]
struct Interner {
    stacks: HashMap<(u32, u32), u32>,
    frames: HashMap<u32, ()>,
}

fn main() -> ExitCode {
    let options = match parse() {
        Ok(options) => options,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match write(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}: {e}", options.out);
            ExitCode::from(1)
        }
    }
}

fn write(options: &Options) -> std::io::Result<()> {
    let mut rng = Rng::new(options.seed);
    let code = Code::new(&mut rng, options.stacks);
    let per_task = options.subtasks / TASKS;
    let meta = RecordingMeta {
        start_unix_ns: 1_764_633_600_000_000_000,
        interval_ns: SECOND,
        host: "bench-01.example.org".into(),
        cpus: 64,
        pid: 4242,
        program: "pipeline".into(),
        bpprof_version: "0.1.0".into(),
        build: "release x86_64-unknown-linux-gnu".into(),
        sample_hz: HZ,
        sampler: "cpu-timer signal 34".into(),
    };
    let file = File::create(&options.out)?;
    let mut writer = RecordingWriter::new(BufWriter::with_capacity(1 << 20, file), &meta)?;
    let mut interner = Interner::default();
    for seq in 0..options.seconds {
        writer.write_interval(&interval(&mut rng, seq, per_task))?;
        writer.write_samples(&samples(&mut rng, seq, per_task, &code, &mut interner))?;
    }
    let end = EndChunk {
        end_ns: options.seconds * SECOND,
        chunks: options.seconds,
        coalesced_intervals: 0,
    };
    use std::io::Write;
    writer.finish(&end)?.flush()
}

/// Interval `seq`: every subtask's accounting, one channel between neighbouring tasks, the
/// declarations in the first.
fn interval(rng: &mut Rng, seq: u64, per_task: u32) -> IntervalChunk {
    let subtasks = per_task * TASKS;
    let mut chunk = IntervalChunk {
        seq,
        start_ns: seq * SECOND,
        end_ns: (seq + 1) * SECOND,
        ..IntervalChunk::default()
    };
    if seq == 0 {
        chunk.declared_subtasks = (0..subtasks)
            .map(|id| SubtaskDecl {
                id,
                task: format!("stage{}", id / per_task),
                index: id % per_task,
                parallelism: per_task,
                tid: 41_300 + id,
                registered_ns: 0,
            })
            .collect();
        chunk.declared_channels = (0..TASKS - 1)
            .map(|c| ChannelDecl {
                id: c,
                name: format!("stage{c}-out"),
                capacity: 1024,
            })
            .collect();
        chunk.declared_edges = (0..TASKS - 1)
            .map(|c| EdgeDecl {
                from: format!("stage{c}"),
                to: format!("stage{}", c + 1),
                channel: Some(c),
                partitioning: "rebalance".into(),
            })
            .collect();
        for id in 0..subtasks {
            let task = id / per_task;
            if task + 1 < TASKS {
                chunk.endpoints.push(ChannelEndpoint {
                    channel: task,
                    subtask: id,
                    role: EndpointRole::Sender,
                });
            }
            if task > 0 {
                chunk.endpoints.push(ChannelEndpoint {
                    channel: task - 1,
                    subtask: id,
                    role: EndpointRole::Receiver,
                });
            }
        }
    }
    chunk.subtasks = (0..subtasks)
        .map(|id| {
            let task = id / per_task;
            // The bottleneck is busy; before it backpressured, after it idle.
            let (idle, backpressured) = match task.cmp(&BOTTLENECK) {
                std::cmp::Ordering::Less => (rng.range(0, 50), rng.range(500, 700)),
                std::cmp::Ordering::Equal => (rng.range(0, 30), rng.range(0, 30)),
                std::cmp::Ordering::Greater => (rng.range(500, 700), rng.range(0, 50)),
            };
            let idle_ns = idle * SECOND / 1000;
            let backpressured_ns = backpressured * SECOND / 1000;
            let busy = SECOND - idle_ns - backpressured_ns;
            let records = rng.range(40_000, 42_000);
            SubtaskInterval {
                id,
                wall_ns: SECOND,
                idle_ns,
                backpressured_ns,
                cpu_ns: busy * rng.range(90, 100) / 100,
                runqueue_ns: Some(rng.range(0, 20_000_000)),
                max_idle_stall_ns: rng.range(1_000_000, 100_000_000),
                max_backpressure_stall_ns: rng.range(1_000_000, 100_000_000),
                records_in: if task > 0 { records } else { 0 },
                records_out: if task + 1 < TASKS { records } else { 0 },
                ended: false,
            }
        })
        .collect();
    // Where the waits were: a subtask's backpressure on its output, its idle time on its input.
    for s in &chunk.subtasks {
        let task = s.id / per_task;
        if task + 1 < TASKS && s.backpressured_ns > 0 {
            chunk.waits.push(ChannelWait {
                subtask: s.id,
                channel: task,
                role: EndpointRole::Sender,
                wait_ns: s.backpressured_ns,
                waits: rng.range(100, 5000),
            });
        }
        if task > 0 && s.idle_ns > 0 {
            chunk.waits.push(ChannelWait {
                subtask: s.id,
                channel: task - 1,
                role: EndpointRole::Receiver,
                wait_ns: s.idle_ns,
                waits: rng.range(100, 5000),
            });
        }
    }
    chunk.channels = (0..TASKS - 1)
        .map(|c| {
            let full = c < BOTTLENECK;
            ChannelInterval {
                id: c,
                fill_samples: 100,
                fill_sum: if full {
                    100 * rng.range(900, 1024)
                } else {
                    rng.range(0, 2000)
                },
                max_fill: if full { 1024 } else { rng.range(0, 60) },
                blocked_sends: if full { rng.range(1000, 5000) } else { 0 },
                blocked_recvs: if full { 0 } else { rng.range(1000, 5000) },
            }
        })
        .collect();
    chunk
}

/// The samples chunk of interval `seq`: 99 samples per subtask over its task's stacks, skewed
/// towards the first ones as real profiles are, aggregated by (stack, on/off CPU).
fn samples(
    rng: &mut Rng,
    seq: u64,
    per_task: u32,
    code: &Code,
    interner: &mut Interner,
) -> SamplesChunk {
    let mut chunk = SamplesChunk {
        seq,
        start_ns: seq * SECOND,
        end_ns: (seq + 1) * SECOND,
        lost: u64::from(rng.range(0, 100) == 0),
        ..SamplesChunk::default()
    };
    for subtask in 0..per_task * TASKS {
        let task = subtask / per_task;
        let mine = &code.tasks[task as usize];
        let mut counts: HashMap<(u32, bool), u32> = HashMap::new();
        for _ in 0..HZ {
            let a = rng.range(0, mine.len() as u64);
            let b = rng.range(0, mine.len() as u64);
            let at = a.min(b) as u32;
            let on_cpu = match mine[at as usize].1 {
                SampleState::Busy => rng.range(0, 10) != 0,
                _ => rng.range(0, 20) == 0,
            };
            *counts.entry((at, on_cpu)).or_default() += 1;
        }
        let mut counts: Vec<_> = counts.into_iter().collect();
        counts.sort_unstable();
        for ((at, on_cpu), count) in counts {
            let (frames, state) = &mine[at as usize];
            let Interner {
                stacks,
                frames: declared,
            } = &mut *interner;
            let next = stacks.len() as u32;
            let stack = *stacks.entry((task, at)).or_insert_with(|| {
                for &f in frames {
                    if declared.insert(f, ()).is_none() {
                        chunk.frames.push(code.frames[f as usize].clone());
                    }
                }
                chunk.stacks.push(StackDecl {
                    id: next,
                    frames: frames.clone(),
                });
                next
            });
            chunk.counts.push(SampleCount {
                subtask,
                state: *state,
                on_cpu,
                stack,
                count,
                operator: None,
            });
        }
    }
    chunk
}
