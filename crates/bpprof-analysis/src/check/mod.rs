//! `bpprof check`: compares recordings of the same pipeline (baseline against current) and decides
//! whether the current one regressed, with intervals that hold on a noisy machine; and checks
//! budgets on single recordings. See `docs/ci.md`.
//!
//! One module per step, each named after what it holds:
//! - what a check is given: [`options`](CheckOptions) (the inputs, options, defaults, errors),
//!   [`limits`] (the thresholds), [`budget`] (the `--assert` expressions);
//! - the steps: `compat` (the job-graph gate and environment warnings), `values` (each
//!   recording as per-window values of every metric), `stats` (the bootstrap interval of the
//!   change of the median), `decide` (the status of one comparison and the machine-load rules),
//!   `profile` (the per-function cost per record), `findings` (the findings, the status and the
//!   verdict line), and `run`, whose [`check()`] puts them together;
//! - the result: [`report`], the public, serialisable types;
//! - the outputs: one renderer per format, [`human`], [`markdown`], [`junit`] and [`github`],
//!   each reading only the report, the text pieces they share (`cells`) and the number formats
//!   of [`crate::units`], never one another.

pub mod budget;
mod cells;
mod compat;
mod decide;
mod findings;
pub mod github;
pub mod human;
pub mod junit;
pub mod limits;
pub mod markdown;
mod options;
mod profile;
pub mod report;
mod run;
mod stats;
mod values;

pub use budget::{Budget, BudgetError, Operator};
pub use limits::{LimitError, Limits};
pub use options::{
    CheckError, CheckInput, CheckOptions, DEFAULT_CONFIDENCE, DEFAULT_MIN_WINDOWS,
    DEFAULT_RESAMPLES, DEFAULT_SEED,
};
pub use profile::{FUNCTION_ROWS, PATH_FRAMES};
pub use report::*;
pub use run::check;
pub use values::MIN_WINDOW_SHARE;
