//! The stack samples of a recording as a pprof profile (`profile.proto` of
//! github.com/google/pprof, the format of `go tool pprof`, Grafana Pyroscope and Parca).
//!
//! [`profile()`] takes the samples that [`crate::flame::fold()`] would fold for the same
//! [`FlameOptions`] (mode, states, operator, range), of the selection or of every subtask
//! ([`Scope`]), and keeps what folding loses as labels on each sample: `task`, `subtask`
//! (`Enrich#3`), `state` (`busy`, `backpressured`, `idle`), `cpu` (`on` or `off`) and `operator`
//! (only for samples taken inside an operator scope). [`write_gzip`] writes it gzip-compressed, as
//! pprof files are.
//!
//! ```
//! use bpprof_analysis::export::pprof::{profile, write_gzip, Scope};
//! use bpprof_analysis::flame::FlameOptions;
//! use bpprof_analysis::synth::{Load, Synth};
//! use bpprof_format::SampleState;
//!
//! let mut synth = Synth::new();
//! let enrich = synth.subtask("Enrich", 0, 1);
//! for _ in 0..4 {
//!     synth.sample(enrich, SampleState::Busy, true, &["main", "enrich", "hash"], 66);
//!     synth.interval(&[(enrich, Load::new(0.67, 0.0))]);
//! }
//! let exported = profile(&synth.recording(), &FlameOptions::default(), Scope::Recording).unwrap();
//! // The first interval is skipped, as by `bpprof flame`.
//! assert_eq!(exported.samples, 198);
//! let mut gz = Vec::new();
//! write_gzip(&exported.profile, &mut gz).unwrap();
//! assert_eq!(gz[..2], [0x1f, 0x8b]);
//! ```

use std::collections::HashMap;
use std::io::{self, Write};

use bpprof_format::{Recording, SampleState};
use flate2::write::GzEncoder;
use pprof::protos::{Function, Label, Line, Location, Message, Profile, Sample, ValueType};

use crate::flame::samples::{measured_ns, Interned, Key, Subtasks};
use crate::flame::{state_name, FlameError, FlameOptions, Mode, Resolved, UNKNOWN_FRAME};
use crate::graph::JobGraph;
use crate::units::NS_PER_S;
use crate::window;

/// Which subtasks to export.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Scope {
    /// Every subtask of the recording (`go tool pprof -tagfocus=subtask=Enrich#3` picks one).
    #[default]
    Recording,
    /// The subtasks [`FlameOptions::selection`] names (by default the bottleneck), as for
    /// `bpprof flame`.
    Selection,
}

/// Sample type (and unit) of the first value of every sample: the number of samples.
pub const SAMPLES_TYPE: (&str, &str) = ("samples", "count");

/// Type of the period: the sampler samples each subtask at `sample_hz` of wall-clock time.
pub const PERIOD_TYPE: (&str, &str) = ("wall", "nanoseconds");

/// The profile and what it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Exported {
    /// The profile.
    pub profile: Profile,
    /// The selection, for [`Scope::Selection`].
    pub selection: Option<Resolved>,
    /// The samples in it.
    pub samples: u64,
    /// `TASK#INDEX` of every subtask with samples in it, in graph order.
    pub subtasks: Vec<String>,
}

impl Exported {
    /// What the profile is of: `Enrich#3`, `Enrich` (a task), or `every subtask`.
    pub fn label(&self) -> String {
        self.selection
            .as_ref()
            .map_or_else(|| "every subtask".to_owned(), Resolved::label)
    }
}

/// The name of the second sample type, the time the samples stand for in `mode`, ns: `wall` in
/// [`Mode::Mixed`], `cpu` in [`Mode::OnCpu`], `off_cpu` in [`Mode::OffCpu`].
pub fn time_type(mode: Mode) -> &'static str {
    match mode {
        Mode::Mixed => "wall",
        Mode::OnCpu => "cpu",
        Mode::OffCpu => "off_cpu",
    }
}

/// The samples of `scope` that `options` keeps over its range, as a pprof profile.
///
/// Every sample has two values: the number of samples ([`SAMPLES_TYPE`], the default sample
/// type, so that `go tool pprof` shows the shares of `bpprof flame`) and the time they stand for
/// ([`time_type`], nanoseconds): each subtask's measured time in the mode shared equally among
/// its samples ([`crate::flame::Folded::ns_per_sample`]), or one sampling period per sample when
/// the time is unknown. `period_type` is [`PERIOD_TYPE`], `period` one sampling period,
/// `time_nanos` the start of the range and `duration_nanos` its length.
pub fn profile(
    recording: &Recording,
    options: &FlameOptions,
    scope: Scope,
) -> Result<Exported, FlameError> {
    let (subtasks, selection) = match scope {
        Scope::Recording => (Subtasks::every(recording, options)?, None),
        Scope::Selection => {
            let (subtasks, resolved) = Subtasks::selected(recording, options)?;
            (subtasks, Some(resolved))
        }
    };
    let (graph, range) = (&subtasks.graph, &subtasks.range);
    let operator_names: HashMap<(u32, u32), &str> = recording
        .intervals
        .iter()
        .flat_map(|c| &c.declared_operators)
        .map(|d| ((d.subtask, d.id), d.name.as_str()))
        .collect();

    let mut counts: HashMap<SampleKey<'_>, u64> = HashMap::new();
    let walked = subtasks.walk(recording, options, |subtask, count| {
        let operator = count
            .operator
            .and_then(|op| operator_names.get(&(count.subtask, op)).copied());
        let key = SampleKey {
            subtask,
            state: count.state,
            on_cpu: count.on_cpu,
            operator,
            stack: count.stack,
        };
        *counts.entry(key).or_default() += u64::from(count.count);
    });
    let samples: u64 = counts.values().sum();
    if samples == 0 {
        return Err(subtasks.no_samples(recording, &walked, options));
    }

    // The time one sample of each subtask stands for, ns.
    let period_ns =
        (recording.meta.sample_hz > 0).then(|| NS_PER_S / f64::from(recording.meta.sample_hz));
    let sums = window::subtask_sums(recording, graph, range, None);
    let ns_per_sample: HashMap<Key, f64> = walked
        .tallies
        .iter()
        .filter_map(|(&key, tally)| {
            let s = sums.get(&key).copied().unwrap_or_default();
            let wall = if graph.tasks[key.0].unaccounted {
                0
            } else {
                s.wall
            };
            let measured = measured_ns(options.mode, wall, s.cpu)
                .filter(|&ns| ns > 0 && tally.mode_samples > 0)
                .map(|ns| ns as f64 / tally.mode_samples as f64);
            measured.or(period_ns).map(|ns| (key, ns))
        })
        .collect();

    let mut builder = Builder::new(recording, options.mode);
    let mut sorted: Vec<(SampleKey<'_>, u64)> = counts.into_iter().collect();
    sorted.sort_by(|(a, _), (b, _)| a.order().cmp(&b.order()));
    let mut subtasks: Vec<Key> = Vec::new();
    for (key, count) in sorted {
        if !subtasks.contains(&key.subtask) {
            subtasks.push(key.subtask);
        }
        let ns = ns_per_sample.get(&key.subtask).copied().unwrap_or(0.0);
        builder.sample(graph, &key, count, (count as f64 * ns).round() as i64);
    }
    let mut profile = builder.finish();
    profile.time_nanos = i64::try_from(recording.meta.start_unix_ns)
        .unwrap_or(i64::MAX)
        .saturating_add((range.from_s * NS_PER_S) as i64);
    profile.duration_nanos = ((range.to_s - range.from_s) * NS_PER_S).round() as i64;
    profile.period = period_ns.map_or(0, |ns| ns.round() as i64);
    subtasks.sort();
    Ok(Exported {
        profile,
        selection,
        samples,
        subtasks: subtasks
            .into_iter()
            .map(|(p, i)| format!("{}#{i}", graph.tasks[p].name))
            .collect(),
    })
}

/// Writes `profile`, protobuf-encoded and gzip-compressed (a `.pb.gz` file).
pub fn write_gzip(profile: &Profile, out: impl Write) -> io::Result<()> {
    let mut gz = GzEncoder::new(out, flate2::Compression::default());
    gz.write_all(&profile.encode_to_vec())?;
    gz.finish()?.flush()
}

/// What one sample of the profile stands for: the samples with the same labels and stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct SampleKey<'r> {
    subtask: Key,
    state: SampleState,
    on_cpu: bool,
    operator: Option<&'r str>,
    stack: u32,
}

impl SampleKey<'_> {
    /// The order of the samples in the profile: by subtask, state, CPU, operator, stack.
    fn order(&self) -> (Key, &'static str, bool, Option<&str>, u32) {
        (
            self.subtask,
            state_name(self.state),
            self.on_cpu,
            self.operator,
            self.stack,
        )
    }
}

/// Builds a profile: its string table, functions and locations, one sample at a time.
struct Builder<'r> {
    profile: Profile,
    strings: HashMap<String, i64>,
    interned: Interned<'r>,
    /// Frame id (`None`: an unknown frame) to location id.
    locations: HashMap<Option<u32>, u64>,
    /// (function name, file) to function id.
    functions: HashMap<(&'r str, &'r str), u64>,
}

impl<'r> Builder<'r> {
    fn new(recording: &'r Recording, mode: Mode) -> Builder<'r> {
        let mut builder = Builder {
            profile: Profile::default(),
            strings: HashMap::new(),
            interned: Interned::new(recording),
            locations: HashMap::new(),
            functions: HashMap::new(),
        };
        // The string table starts with the empty string.
        builder.string("");
        let samples = builder.value_type(SAMPLES_TYPE);
        let time = builder.value_type((time_type(mode), "nanoseconds"));
        builder.profile.sample_type = vec![samples, time];
        builder.profile.default_sample_type = builder.string(SAMPLES_TYPE.0);
        builder.profile.period_type = Some(builder.value_type(PERIOD_TYPE));
        let comment = format!(
            "bpprof: {} on {}, mode {}",
            recording.meta.program,
            recording.meta.host,
            mode.as_str()
        );
        builder.profile.comment = vec![builder.string(&comment)];
        builder
    }

    fn string(&mut self, text: &str) -> i64 {
        if let Some(&id) = self.strings.get(text) {
            return id;
        }
        let id = self.profile.string_table.len() as i64;
        self.profile.string_table.push(text.to_owned());
        self.strings.insert(text.to_owned(), id);
        id
    }

    fn value_type(&mut self, (ty, unit): (&str, &str)) -> ValueType {
        ValueType {
            ty: self.string(ty),
            unit: self.string(unit),
        }
    }

    fn label(&mut self, key: &str, value: &str) -> Label {
        Label {
            key: self.string(key),
            str: self.string(value),
            ..Label::default()
        }
    }

    /// The location of frame `id` (`None` or undeclared: [`UNKNOWN_FRAME`]).
    fn location(&mut self, id: Option<u32>) -> u64 {
        let frame = id.and_then(|id| self.interned.frames.get(&id).copied());
        let id = frame.map(|f| f.id);
        if let Some(&location) = self.locations.get(&id) {
            return location;
        }
        let (name, file, line) = match frame {
            Some(f) if !f.function.is_empty() => (f.function.as_str(), f.file.as_str(), f.line),
            _ => (UNKNOWN_FRAME, "", 0),
        };
        let function_id = match self.functions.get(&(name, file)) {
            Some(&function) => function,
            None => {
                let function = self.profile.function.len() as u64 + 1;
                let name_id = self.string(name);
                let file_id = self.string(file);
                self.profile.function.push(Function {
                    id: function,
                    name: name_id,
                    system_name: name_id,
                    filename: file_id,
                    start_line: 0,
                });
                self.functions.insert((name, file), function);
                function
            }
        };
        let location = self.profile.location.len() as u64 + 1;
        self.profile.location.push(Location {
            id: location,
            line: vec![Line {
                function_id,
                line: i64::from(line),
            }],
            ..Location::default()
        });
        self.locations.insert(id, location);
        location
    }

    fn sample(&mut self, graph: &JobGraph, key: &SampleKey<'r>, count: u64, time_ns: i64) {
        let frames = self.interned.stack(key.stack);
        // pprof lists the leaf first.
        let mut location_id: Vec<u64> = frames
            .iter()
            .rev()
            .map(|&id| self.location(Some(id)))
            .collect();
        if location_id.is_empty() {
            location_id.push(self.location(None));
        }
        let (position, index) = key.subtask;
        let task = graph.tasks[position].name.as_str();
        let mut label = vec![
            self.label("task", task),
            self.label("subtask", &format!("{task}#{index}")),
            self.label("state", state_name(key.state)),
            self.label("cpu", if key.on_cpu { "on" } else { "off" }),
        ];
        if let Some(operator) = key.operator {
            label.push(self.label("operator", operator));
        }
        self.profile.sample.push(Sample {
            location_id,
            value: vec![i64::try_from(count).unwrap_or(i64::MAX), time_ns],
            label,
        });
    }

    fn finish(self) -> Profile {
        self.profile
    }
}
