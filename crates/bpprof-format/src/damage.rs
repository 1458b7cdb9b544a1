//! What a damaged stretch of a recording cost, told by the interval chunks read around it.
//!
//! A damaged chunk's own content cannot be trusted (its checksum failed), so what was lost is
//! known only from its intact neighbours: the interval chunks before and after the stretch.

use std::collections::HashSet;
use std::fmt;

use crate::{ReadWarning, Recording};

/// An interval chunk next to a damaged stretch: its sequence number and one of its times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntervalMark {
    /// [`crate::IntervalChunk::seq`].
    pub seq: u64,
    /// Nanoseconds since the recording started: the end of the interval before the stretch, or
    /// the start of the one after it.
    pub ns: u64,
}

/// What a damaged stretch took with it: everything between the interval chunks read around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lost {
    /// The last interval chunk read before the stretch (`ns` is its end); `None` when the stretch
    /// comes before every interval chunk.
    pub after: Option<IntervalMark>,
    /// The first interval chunk read after the stretch (`ns` is its start), or, when only the end
    /// chunk follows, the end of the recording (`seq` is the number of interval chunks it says
    /// were written); `None` when nothing after the stretch could be read.
    pub before: Option<IntervalMark>,
}

impl Lost {
    /// The sequence numbers of the first and last interval chunk lost (inclusive); `None` when
    /// every interval chunk is there (the stretch held other chunks, such as stack samples).
    /// Without an interval chunk after the stretch, the last is unknown: `(first, None)`.
    pub fn intervals(&self) -> Option<(u64, Option<u64>)> {
        let first = self.after.map_or(0, |a| a.seq.saturating_add(1));
        match self.before {
            None => Some((first, None)),
            Some(b) if b.seq > first => Some((first, Some(b.seq - 1))),
            Some(_) => None,
        }
    }

    /// The time lost, in nanoseconds since the recording started: from the end of the interval
    /// before the stretch (0 without one) to the start of the one after it (`None`: to the end).
    pub fn time_range(&self) -> (u64, Option<u64>) {
        (self.after.map_or(0, |a| a.ns), self.before.map(|b| b.ns))
    }
}

/// `intervals 3–4 (2.1–4.1 s) are lost`, `no interval is lost, ...`, `everything after ...`.
impl fmt::Display for Lost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (from, to) = self.time_range();
        match (self.intervals(), to) {
            (Some((first, Some(last))), Some(to)) if first == last => write!(
                f,
                "interval {first} ({}–{} s) is lost",
                seconds(from),
                seconds(to)
            ),
            (Some((first, Some(last))), Some(to)) => write!(
                f,
                "intervals {first}–{last} ({}–{} s) are lost",
                seconds(from),
                seconds(to)
            ),
            (Some((0, None)), _) => f.write_str("every interval is lost"),
            (Some((first, None)), _) => write!(
                f,
                "everything after {} s (interval {first} on) is lost",
                seconds(from)
            ),
            _ => match self.after {
                Some(a) => write!(
                    f,
                    "no interval is lost, only data written after interval {} (at {} s), such as its stack samples",
                    a.seq,
                    seconds(from)
                ),
                None => f.write_str("no interval is lost, only data written before the first"),
            },
        }
    }
}

/// After damage, the subtasks and channels that intact interval chunks refer to but no intact
/// chunk declares (their declarations were in the damaged chunks), as a warning; `None` when
/// nothing was damaged or every reference is declared.
pub(crate) fn lost_declarations(recording: &Recording) -> Option<ReadWarning> {
    let damaged = recording
        .warnings
        .iter()
        .any(|w| matches!(w, ReadWarning::Damaged { .. }));
    if !damaged {
        return None;
    }
    let intervals = &recording.intervals;
    let declared_subtasks: HashSet<u32> = intervals
        .iter()
        .flat_map(|i| i.declared_subtasks.iter().map(|d| d.id))
        .collect();
    let declared_channels: HashSet<u32> = intervals
        .iter()
        .flat_map(|i| i.declared_channels.iter().map(|d| d.id))
        .collect();
    let subtasks: HashSet<u32> = intervals
        .iter()
        .flat_map(|i| i.subtasks.iter().map(|s| s.id))
        .filter(|id| !declared_subtasks.contains(id))
        .collect();
    let channels: HashSet<u32> = intervals
        .iter()
        .flat_map(|i| i.channels.iter().map(|c| c.id))
        .filter(|id| !declared_channels.contains(id))
        .collect();
    (!subtasks.is_empty() || !channels.is_empty()).then_some(ReadWarning::LostDeclarations {
        subtasks: subtasks.len() as u64,
        channels: channels.len() as u64,
    })
}

/// `3 subtasks and 1 channel`, `1 subtask`, `2 channels`.
pub(crate) fn declarations(subtasks: u64, channels: u64) -> String {
    match (subtasks, channels) {
        (s, 0) => plural(s, "subtask"),
        (0, c) => plural(c, "channel"),
        (s, c) => format!("{} and {}", plural(s, "subtask"), plural(c, "channel")),
    }
}

/// `1 byte`, `520 bytes`.
pub(crate) fn plural(n: u64, what: &str) -> String {
    let s = if n == 1 { "" } else { "s" };
    format!("{n} {what}{s}")
}

/// Nanoseconds as seconds with at most three decimals: `2.1`, `0`, `12.345`.
fn seconds(ns: u64) -> String {
    let text = format!("{:.3}", ns as f64 / 1e9);
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn mark(seq: u64, ns: u64) -> Option<IntervalMark> {
        Some(IntervalMark { seq, ns })
    }

    #[test]
    fn lost_intervals_are_named_by_their_neighbours() {
        let one = Lost {
            after: mark(2, 3 * S),
            before: mark(4, 4 * S),
        };
        assert_eq!(one.intervals(), Some((3, Some(3))));
        assert_eq!(one.to_string(), "interval 3 (3–4 s) is lost");
        let two = Lost {
            after: mark(2, 3 * S),
            before: mark(5, 5 * S + S / 10),
        };
        assert_eq!(two.to_string(), "intervals 3–4 (3–5.1 s) are lost");
        let first = Lost {
            after: None,
            before: mark(1, S),
        };
        assert_eq!(first.to_string(), "interval 0 (0–1 s) is lost");
    }

    #[test]
    fn a_stretch_without_intervals_or_at_the_end_says_so() {
        let samples = Lost {
            after: mark(2, 3 * S),
            before: mark(3, 3 * S),
        };
        assert_eq!(samples.intervals(), None);
        assert!(samples.to_string().starts_with("no interval is lost"));
        let tail = Lost {
            after: mark(2, 3 * S),
            before: None,
        };
        assert_eq!(tail.intervals(), Some((3, None)));
        assert_eq!(
            tail.to_string(),
            "everything after 3 s (interval 3 on) is lost"
        );
        let all = Lost {
            after: None,
            before: None,
        };
        assert_eq!(all.to_string(), "every interval is lost");
    }

    #[test]
    fn counts_read_as_english() {
        assert_eq!(plural(1, "byte"), "1 byte");
        assert_eq!(plural(520, "byte"), "520 bytes");
        assert_eq!(declarations(1, 0), "1 subtask");
        assert_eq!(declarations(0, 2), "2 channels");
        assert_eq!(declarations(3, 1), "3 subtasks and 1 channel");
    }

    #[test]
    fn sequence_numbers_out_of_order_do_not_overflow() {
        let odd = Lost {
            after: mark(u64::MAX, 0),
            before: mark(0, 0),
        };
        assert_eq!(odd.intervals(), None);
        let _ = odd.to_string();
    }
}
