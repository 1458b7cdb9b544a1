//! `bpprof check`: compares recordings of the same pipeline (baseline against current) and decides
//! whether the current one regressed, with intervals that hold on a noisy machine; and checks
//! budgets on single recordings. See `docs/ci.md`.
//!
//! One module per step: `samples` turns each recording into per-window values of every metric,
//! `stats` bootstraps the interval of the median change, [`limits`] holds the thresholds,
//! `compat` the job-graph gate, `decide` the status of one comparison (and the machine-load
//! rule), `profile` the per-function cost per record, `verdict` the findings and the verdict
//! line, [`budget`] the `--assert` expressions, `compare` puts them together in [`check()`],
//! [`report`] holds the public result types, and one module per output format: [`human`],
//! [`markdown`], [`junit`], [`github`].

pub mod budget;
mod compare;
mod compat;
mod decide;
pub mod github;
pub mod human;
pub mod junit;
pub mod limits;
pub mod markdown;
mod profile;
pub mod report;
mod samples;
mod stats;
mod verdict;

pub use budget::{Budget, BudgetError, Operator};
pub use compare::{
    check, CheckError, CheckInput, CheckOptions, DEFAULT_CONFIDENCE, DEFAULT_MIN_WINDOWS,
    DEFAULT_RESAMPLES, DEFAULT_SEED,
};
pub use limits::{LimitError, Limits};
pub use profile::{FUNCTION_ROWS, PATH_FRAMES};
pub use report::*;
pub use samples::MIN_WINDOW_SHARE;
