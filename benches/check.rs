//! How long `bpprof check` takes to compare two recordings, by the number of windows per side
//! (the bootstrap resamples every window of every gated and shown comparison, 5,000 times by
//! default, so the time grows linearly with the windows).
//!
//! The recordings are synthetic (`bpprof_analysis::synth::Pipeline`: Source -> Work(2) -> Sink
//! with stack samples), one window per interval.
//!
//! Run: `cargo bench --bench check`. See `docs/performance.md` for results.

use std::hint::black_box;

use bpprof_analysis::check::{check, CheckInput, CheckOptions};
use bpprof_analysis::synth::Pipeline;
use criterion::Criterion;

fn compare(c: &mut Criterion) {
    let mut group = c.benchmark_group("check");
    group.sample_size(10);
    for windows in [50usize, 500, 2_000] {
        let base = Pipeline {
            intervals: windows + 1,
            ..Pipeline::new(1)
        }
        .recording();
        let current = Pipeline {
            intervals: windows + 1,
            ..Pipeline::new(2)
        }
        .recording();
        let options = CheckOptions::default();
        group.bench_function(format!("windows_{windows}"), |b| {
            b.iter(|| {
                let report = check(
                    &[CheckInput {
                        path: "base",
                        recording: &base,
                    }],
                    &[CheckInput {
                        path: "current",
                        recording: &current,
                    }],
                    &options,
                )
                .expect("comparable recordings");
                black_box(report)
            })
        });
    }
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    compare(&mut criterion);
    criterion.final_summary();
}
