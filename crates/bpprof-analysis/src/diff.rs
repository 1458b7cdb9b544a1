//! Differential flame graphs: one subtask (or task) in two recordings of the same pipeline,
//! compared **per record processed**.
//!
//! [`fold_differential`] folds both recordings with [`crate::flame::fold`] (the same
//! [`FlameOptions`] for both; the selection is resolved in CURRENT, so by default both sides draw
//! the bottleneck of CURRENT) and turns each side's sample counts into a cost per record:
//! `count × ns_per_sample / records`, in one integer unit for both sides ([`DiffUnit`]). A run
//! that processed twice the records with twice the samples then shows no change, where
//! normalising by sample totals alone (inferno's `inferno-diff-folded --normalize`, here
//! [`Normalize::Samples`]) would compare shares of the profile instead of costs.
//!
//! A sample stands for an equal share of the time the selection measurably spent in the folded
//! mode over the range ([`Folded::ns_per_sample`], from the interval accounting): CPU time for
//! [`Mode::OnCpu`], wall minus CPU time for [`Mode::OffCpu`], wall time for [`Mode::Mixed`]. It
//! is *not* one sampling period: the sampler is wall-clock per thread, and a runnable thread
//! waiting for a CPU on a loaded machine is sampled late or twice, so samples × period varies
//! with the machine's load while the measured time does not. The on-CPU totals per record
//! therefore equal the task's CPU time per record, as `bpprof check` reports it. The state and
//! operator filters keep their samples' share of the measured time (`--state busy` draws the
//! busy part of it, not all of it). Only when a side's measured time is unknown (an unaccounted
//! task) is a sample taken to stand for one sampling period, `1 / sample_hz`; the subtitle then
//! says so.
//!
//! [`render_diff_svg`] draws the result with inferno's differential mode: the frame widths are
//! CURRENT's costs, a frame is red where its own (self) cost per record grew and blue where it
//! shrank, more saturated for bigger changes.
//!
//! ```
//! use bpprof_analysis::diff::{fold_differential, render_diff_svg, DiffOptions, DiffUnit};
//! use bpprof_analysis::flame::{FlameOptions, Mode, Selection, SvgOptions};
//! use bpprof_analysis::synth::{Load, Synth};
//! use bpprof_format::SampleState;
//!
//! // `hash` costs twice as much CPU per record in CURRENT; `parse` is unchanged. At 100 Hz over
//! // 1-second intervals, a sample is 10 ms of CPU time.
//! let run = |hash: u32| {
//!     let mut synth = Synth::new();
//!     synth.sample_hz(100);
//!     let enrich = synth.subtask("Enrich", 0, 1);
//!     let cpu = f64::from(hash + 25) / 100.0;
//!     for _ in 0..3 {
//!         synth.sample(enrich, SampleState::Busy, true, &["main", "hash"], hash);
//!         synth.sample(enrich, SampleState::Busy, true, &["main", "parse"], 25);
//!         let load = Load::new(cpu, 0.0).on_cpu(cpu).records(1000, 1000);
//!         synth.interval(&[(enrich, load)]);
//!     }
//!     synth.recording()
//! };
//! let (base, current) = (run(25), run(50));
//!
//! let options = DiffOptions {
//!     flame: FlameOptions {
//!         selection: Selection::parse_subtask("Enrich#0").unwrap(),
//!         mode: Mode::OnCpu,
//!         ..FlameOptions::default()
//!     },
//!     ..DiffOptions::default()
//! };
//! let diff = fold_differential(&base, &current, &options).unwrap();
//! let (hash_before, hash_after) = diff.stacks["main;hash"];
//! assert_eq!(hash_after, 2 * hash_before);
//! let (parse_before, parse_after) = diff.stacks["main;parse"];
//! assert_eq!(parse_before, parse_after);
//! assert_eq!(diff.unit, DiffUnit::PerRecord { exponent: 12 }); // picoseconds per record
//! assert!(diff.title().ends_with("+50.0% CPU per record"), "{}", diff.title());
//!
//! let mut svg = Vec::new();
//! render_diff_svg(&diff, &SvgOptions::default(), &mut svg).unwrap();
//! assert!(String::from_utf8(svg).unwrap().contains("CURRENT vs BASE"));
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Write};

use bpprof_format::Recording;

use crate::flame::{
    fold, state_name, FlameError, FlameOptions, Folded, Graph, Mode, SvgOptions, ALL_STATES,
};
use crate::units::thousands;

/// How the two sides' sample counts are made comparable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Normalize {
    /// Cost per record processed: `count × ns_per_sample / records`, for each side with its own
    /// time per sample ([`Folded::ns_per_sample`]: an equal share of the measured time of the
    /// mode; `1 / sample_hz` when that is unknown) and record count ([`Folded::records`]). Needs
    /// record counts on both sides (an instrumented channel into or out of the selection).
    #[default]
    Records,
    /// By sample totals, like `inferno-diff-folded --normalize`: BASE's counts are scaled so that
    /// their total equals CURRENT's. Shows how the *shares* of the profile changed.
    Samples,
}

impl Normalize {
    /// `records` or `samples`, as on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Normalize::Records => "records",
            Normalize::Samples => "samples",
        }
    }
}

/// One of the two recordings compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The baseline (the first recording, "before").
    Base,
    /// The recording compared with it (the second, "after").
    Current,
}

impl Side {
    /// How errors name the side: `BASE`, or `BASE 'a.bpprof'` when `name` (what
    /// [`DiffOptions`] calls it) is not just `BASE`.
    pub fn with_name(self, name: &str) -> String {
        if name.is_empty() || name == self.to_string() {
            self.to_string()
        } else {
            format!("{self} '{name}'")
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Base => "BASE",
            Side::Current => "CURRENT",
        })
    }
}

/// What to compare.
#[derive(Debug, Clone, PartialEq)]
pub struct DiffOptions {
    /// What to fold, on both sides: the selection, mode, states, operator and range. The
    /// selection is resolved in CURRENT ([`crate::flame::Selection::Bottleneck`]: CURRENT's
    /// bottleneck), and the same subtask or task is folded in BASE. Default:
    /// [`FlameOptions::default`] (CURRENT's bottleneck, mixed mode, every state, the whole range).
    pub flame: FlameOptions,
    /// How the counts are normalised. Default: [`Normalize::Records`].
    pub normalize: Normalize,
    /// Draw BASE instead of CURRENT: the frame widths are BASE's costs (so frames that vanished in
    /// CURRENT are visible), with inferno's `negate_differentials` set so that the colours keep
    /// their meaning (red: more in CURRENT than in BASE, blue: less). The folded lines then list
    /// CURRENT's count first, as inferno expects (`stack CURRENT BASE`, drawn with `--negate`).
    /// This is Brendan Gregg's recipe for differential flame graphs of the "before" profile.
    /// Default: `false`.
    pub negate: bool,
    /// What the title and subtitle call BASE (e.g. its file name). Default: `BASE`.
    pub base_name: String,
    /// What the title and subtitle call CURRENT. Default: `CURRENT`.
    pub current_name: String,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            flame: FlameOptions::default(),
            normalize: Normalize::Records,
            negate: false,
            base_name: Side::Base.to_string(),
            current_name: Side::Current.to_string(),
        }
    }
}

/// The unit of the counts of a [`DiffFolded`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiffUnit {
    /// 10<sup>−exponent</sup> seconds per record (`exponent` is 0, 3, ..., 18: s, ms, µs, ns,
    /// ps, fs, as): the coarsest of these units in which the larger side's total is at least
    /// 1,000,000, so every count keeps six significant digits or more.
    PerRecord {
        /// The power of ten.
        exponent: u32,
    },
    /// Samples of CURRENT; BASE's counts are scaled to the same total ([`Normalize::Samples`]).
    Samples,
}

impl DiffUnit {
    /// `ns`, `ps`, ... for [`DiffUnit::PerRecord`], `samples` for [`DiffUnit::Samples`].
    pub fn symbol(self) -> &'static str {
        match self {
            DiffUnit::PerRecord { exponent } => match exponent {
                0 => "s",
                3 => "ms",
                6 => "µs",
                9 => "ns",
                12 => "ps",
                15 => "fs",
                _ => "as",
            },
            DiffUnit::Samples => "samples",
        }
    }

    /// What one count is, as the tooltips say it: `ps per record`, `samples`.
    pub fn name(self) -> String {
        match self {
            DiffUnit::PerRecord { .. } => format!("{} per record", self.symbol()),
            DiffUnit::Samples => "samples".to_owned(),
        }
    }
}

/// The two sides' folded stacks in one unit, with what the title needs.
#[derive(Debug, Clone, PartialEq)]
pub struct DiffFolded {
    /// Folded stack (as in [`Folded::stacks`]) to its (BASE, CURRENT) count in [`DiffFolded::unit`].
    /// Every stack of either side is here; a stack missing on one side counts 0 there. A stack
    /// with samples never rounds to 0.
    pub stacks: BTreeMap<String, (u64, u64)>,
    /// The unit of the counts.
    pub unit: DiffUnit,
    /// BASE, folded.
    pub base: Folded,
    /// CURRENT, folded.
    pub current: Folded,
    /// The normalisation used.
    pub normalize: Normalize,
    /// Whether the graph is drawn from BASE ([`DiffOptions::negate`]).
    pub negate: bool,
    /// What the title calls BASE.
    pub base_name: String,
    /// What the title calls CURRENT.
    pub current_name: String,
}

/// Why no differential flame graph could be folded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DiffError {
    /// One side could not be folded (unknown subtask or task, no samples, bad range, ...).
    #[error("in {}: {error}", side.with_name(name))]
    Fold {
        /// The side.
        side: Side,
        /// What [`DiffOptions`] calls the side.
        name: String,
        /// Why.
        error: FlameError,
    },
    /// Per-record normalisation, but one side processed no records (no instrumented channel).
    #[error(
        "per-record normalisation needs record counts, but {label} in {} processed no records between {} s and {} s (no instrumented channel into or out of it)",
        side.with_name(name),
        crate::units::seconds(*from_s),
        crate::units::seconds(*to_s)
    )]
    NoRecords {
        /// The side.
        side: Side,
        /// What [`DiffOptions`] calls the side.
        name: String,
        /// The selection (`Enrich#3`, `Enrich`).
        label: String,
        /// Start of the range, seconds.
        from_s: f64,
        /// End of the range, seconds.
        to_s: f64,
    },
    /// Per-record normalisation, but one side has neither a measured time for its samples (an
    /// unaccounted task) nor a sampling rate to fall back to (`sample_hz` 0 although it has
    /// samples).
    #[error(
        "per-record normalisation needs the time a sample stands for, but {} has no measured time for its samples and sample_hz = 0",
        side.with_name(name)
    )]
    NoSampleRate {
        /// The side.
        side: Side,
        /// What [`DiffOptions`] calls the side.
        name: String,
    },
}

/// The seconds one sample of `folded` stands for: its share of the measured time
/// ([`Folded::ns_per_sample`]), or one sampling period (`1 / sample_hz`) when the measured time
/// is unknown. `None` when neither is known.
pub fn seconds_per_sample(folded: &Folded) -> Option<f64> {
    match folded.ns_per_sample() {
        Some(ns) => Some(ns / 1e9),
        None => (folded.sample_hz > 0).then(|| 1.0 / f64::from(folded.sample_hz)),
    }
}

/// Seconds per record that `count` samples of `folded` stand for ([`seconds_per_sample`] ×
/// `count` / [`Folded::records`]), `None` without records or time per sample.
pub fn seconds_per_record(folded: &Folded, count: u64) -> Option<f64> {
    let per_sample = seconds_per_sample(folded)?;
    (folded.records > 0).then(|| count as f64 * per_sample / folded.records as f64)
}

/// Folds `base` and `current` and normalises them (see the [module docs](self)).
///
/// The selection of `options.flame` is resolved in `current`; `base` is then folded with the
/// explicit subtask or task it resolved to ([`crate::flame::Resolved::selection`]), so an unknown
/// name in `base` is a [`DiffError::Fold`] with [`Side::Base`] listing `base`'s subtasks.
pub fn fold_differential(
    base: &Recording,
    current: &Recording,
    options: &DiffOptions,
) -> Result<DiffFolded, DiffError> {
    let current = fold(current, &options.flame).map_err(|error| DiffError::Fold {
        side: Side::Current,
        name: options.current_name.clone(),
        error,
    })?;
    let base_options = FlameOptions {
        selection: current.selection.selection(),
        ..options.flame.clone()
    };
    let base = fold(base, &base_options).map_err(|error| DiffError::Fold {
        side: Side::Base,
        name: options.base_name.clone(),
        error,
    })?;

    let (unit, base_scale, current_scale) = match options.normalize {
        Normalize::Records => {
            let sides = [
                (Side::Base, &options.base_name, &base),
                (Side::Current, &options.current_name, &current),
            ];
            for (side, name, folded) in sides {
                if folded.records == 0 {
                    return Err(DiffError::NoRecords {
                        side,
                        name: name.clone(),
                        label: folded.selection.label(),
                        from_s: folded.from_s,
                        to_s: folded.to_s,
                    });
                }
                if seconds_per_sample(folded).is_none() {
                    return Err(DiffError::NoSampleRate {
                        side,
                        name: name.clone(),
                    });
                }
            }
            // Seconds per record of one sample; both are known (checked above).
            let per_sample = |f: &Folded| seconds_per_record(f, 1).unwrap_or(0.0);
            let larger = (base.samples as f64 * per_sample(&base))
                .max(current.samples as f64 * per_sample(&current));
            let exponent = (0..=18)
                .step_by(3)
                .find(|&e| larger * 10f64.powi(e) >= 1e6)
                .unwrap_or(18);
            let unit_s = 10f64.powi(exponent);
            (
                DiffUnit::PerRecord {
                    exponent: exponent as u32,
                },
                per_sample(&base) * unit_s,
                per_sample(&current) * unit_s,
            )
        }
        Normalize::Samples => (
            DiffUnit::Samples,
            current.samples as f64 / base.samples as f64,
            1.0,
        ),
    };
    // A stack with samples stays visible: it never rounds to 0.
    let scale = |count: u64, factor: f64| {
        if count == 0 {
            0
        } else {
            ((count as f64 * factor).round() as u64).max(1)
        }
    };
    let mut stacks: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for (stack, &count) in &base.stacks {
        stacks.entry(stack.clone()).or_default().0 = scale(count, base_scale);
    }
    for (stack, &count) in &current.stacks {
        stacks.entry(stack.clone()).or_default().1 = scale(count, current_scale);
    }
    Ok(DiffFolded {
        stacks,
        unit,
        base,
        current,
        normalize: options.normalize,
        negate: options.negate,
        base_name: options.base_name.clone(),
        current_name: options.current_name.clone(),
    })
}

impl DiffFolded {
    /// The totals of the (BASE, CURRENT) columns, in [`DiffFolded::unit`].
    pub fn totals(&self) -> (u64, u64) {
        self.stacks
            .values()
            .fold((0, 0), |(b, c), &(base, current)| {
                (b.saturating_add(base), c.saturating_add(current))
            })
    }

    /// The relative change of the total cost per record from BASE to CURRENT (`0.25` = 25% more
    /// per record in CURRENT), computed from the exact sample and record counts. `None` with
    /// [`Normalize::Samples`] (both totals are equal by construction).
    pub fn change(&self) -> Option<f64> {
        match self.normalize {
            Normalize::Records => {
                let base = seconds_per_record(&self.base, self.base.samples)?;
                let current = seconds_per_record(&self.current, self.current.samples)?;
                (base > 0.0).then(|| current / base - 1.0)
            }
            Normalize::Samples => None,
        }
    }

    /// The folded lines with two counts, sorted: `stack BASE CURRENT`, or `stack CURRENT BASE`
    /// when drawn from BASE ([`DiffFolded::negate`]). inferno draws the widths from the last count
    /// and colours by `last − first` (negated with `--negate`).
    pub fn lines(&self) -> impl Iterator<Item = String> + '_ {
        self.stacks.iter().map(move |(stack, &(base, current))| {
            if self.negate {
                format!("{stack} {current} {base}")
            } else {
                format!("{stack} {base} {current}")
            }
        })
    }

    /// Writes [`DiffFolded::lines`], one per line: the input of `inferno-flamegraph` (with
    /// `--negate` when [`DiffFolded::negate`]) and of `flamegraph.pl`.
    pub fn write_folded(&self, mut out: impl Write) -> io::Result<()> {
        for line in self.lines() {
            writeln!(out, "{line}")?;
        }
        out.flush()
    }

    /// A file name for the graph: `diff-Enrich-3.svg` (`diff-Enrich.svg` for a task).
    pub fn file_name(&self, extension: &str) -> String {
        self.current.selection.file_name_with("diff", extension)
    }

    /// What the samples measure, in words: `CPU` (on-CPU mode), `off-CPU time`, `time` (mixed
    /// mode, every state), `busy time` (mixed mode, only busy samples).
    fn quantity(&self) -> String {
        match self.current.mode {
            Mode::OnCpu => "CPU".to_owned(),
            Mode::OffCpu => "off-CPU time".to_owned(),
            Mode::Mixed if self.current.states.len() < ALL_STATES.len() => {
                let names: Vec<&str> = self.current.states.iter().map(|&s| state_name(s)).collect();
                format!("{} time", names.join(" and "))
            }
            Mode::Mixed => "time".to_owned(),
        }
    }

    /// Default title: `Enrich#0: CURRENT vs BASE, +24.8% CPU per record` (per record), or
    /// `Enrich#0: CURRENT vs BASE, normalised by sample totals`.
    pub fn title(&self) -> String {
        let what = self.current.heading();
        let (current, base) = (&self.current_name, &self.base_name);
        match self.change() {
            Some(change) => {
                let mut pct = format!("{:+.1}%", change * 100.0);
                if pct == "-0.0%" {
                    pct = "+0.0%".to_owned();
                }
                format!(
                    "{what}: {current} vs {base}, {pct} {} per record",
                    self.quantity()
                )
            }
            None if self.normalize == Normalize::Records => {
                format!("{what}: {current} vs {base}, per record")
            }
            None => format!("{what}: {current} vs {base}, normalised by sample totals"),
        }
    }

    /// Default subtitle: what the widths and colours mean, then each side's samples and records
    /// (and sampling rate, when they differ), and the state filter:
    /// `widths: ns per record in CURRENT; red: more than in BASE, blue: less · CURRENT: 891
    /// samples, 75,000 records · BASE: 712 samples, 70,000 records`. A side whose samples had no
    /// measured time to share (per record, normalised by its sampling rate instead) says so:
    /// `BASE: 712 samples, 70,000 records, no measured time: 1/99 s per sample`.
    pub fn subtitle(&self) -> String {
        let (current, base) = (&self.current_name, &self.base_name);
        let drawn = if self.negate { base } else { current };
        let of = match self.current.mode {
            Mode::OnCpu => " of CPU",
            Mode::OffCpu => " off CPU",
            Mode::Mixed => "",
        };
        let mut text = match self.unit {
            DiffUnit::PerRecord { .. } => format!(
                "widths: {}{of} per record in {drawn}; red: more than in {base}, blue: less",
                self.unit.symbol()
            ),
            DiffUnit::Samples => format!(
                "widths: samples of {drawn} ({base} scaled to {current}'s total); red: a larger share than in {base}, blue: smaller"
            ),
        };
        // Kept short: a subtitle wider than the graph is cut off. The rate only when it differs.
        let rates_differ = self.current.sample_hz != self.base.sample_hz;
        for (name, folded) in [(current, &self.current), (base, &self.base)] {
            text.push_str(&format!(" · {name}: {} samples", thousands(folded.samples)));
            if rates_differ {
                text.push_str(&format!(" at {} Hz", folded.sample_hz));
            }
            if folded.records > 0 {
                text.push_str(&format!(", {} records", thousands(folded.records)));
            }
            if folded.lost > 0 {
                text.push_str(&format!(", {} samples lost", thousands(folded.lost)));
            }
            if self.normalize == Normalize::Records && folded.ns_per_sample().is_none() {
                text.push_str(&format!(
                    ", no measured time: 1/{} s per sample",
                    folded.sample_hz
                ));
            }
        }
        if self.current.states.len() < ALL_STATES.len() {
            let names: Vec<&str> = self.current.states.iter().map(|&s| state_name(s)).collect();
            text.push_str(&format!(" · states: {}", names.join(", ")));
        }
        text
    }
}

/// Draws `diff` as an interactive differential SVG flame graph (inferno's differential mode).
///
/// The widths are CURRENT's counts (BASE's with [`DiffFolded::negate`]); each frame is coloured
/// by the change of its own (self) count: red where CURRENT costs more per record, blue where it
/// costs less, white where unchanged (so the state root frames of mixed mode, which have no self
/// samples, are white rather than in `bpprof flame`'s state colours, whose red and blue would read
/// as changes). The tooltips give each frame's count in [`DiffFolded::unit`] and the change as a
/// share of the total. The rest (palette, title placement, width) is shared with
/// [`crate::flame::render_svg`]; `options` overrides the title, subtitle and width.
pub fn render_diff_svg(diff: &DiffFolded, options: &SvgOptions, out: impl Write) -> io::Result<()> {
    let lines: Vec<String> = diff.lines().collect();
    let graph = Graph {
        title: options.title.clone().unwrap_or_else(|| diff.title()),
        subtitle: options.subtitle.clone().unwrap_or_else(|| diff.subtitle()),
        count_name: diff.unit.name(),
        width: options.width,
        mode: diff.current.mode,
        negate_differentials: diff.negate,
    };
    graph.render(lines.iter().map(String::as_str), out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_symbols() {
        assert_eq!(DiffUnit::PerRecord { exponent: 12 }.name(), "ps per record");
        assert_eq!(DiffUnit::PerRecord { exponent: 6 }.symbol(), "µs");
        assert_eq!(DiffUnit::Samples.name(), "samples");
    }
}
