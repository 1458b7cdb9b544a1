//! Resolving a [`Selection`] to the subtasks it names ([`Resolved`]): an explicit subtask or task
//! looked up in the job graph (with a did-you-mean for an unknown name), or the first bottleneck
//! that [`crate::locate()`] finds.

use bpprof_format::Recording;

use super::{FlameError, Selection};
use crate::graph::JobGraph;
use crate::locate::locate;
use crate::range::AnalysisOptions;
use crate::report::BottleneckKind;

/// The subtasks a [`Selection`] resolved to.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// Task name.
    pub task: String,
    /// Subtask indices, ascending.
    pub indices: Vec<u32>,
    /// True when the whole task was asked for ([`Selection::Task`]).
    pub whole_task: bool,
    /// The bottleneck this selection came from, for [`Selection::Bottleneck`].
    pub bottleneck: Option<ChosenBottleneck>,
}

impl Resolved {
    /// `Enrich#3` for one subtask, `Enrich` (all subtasks) for a task.
    pub fn label(&self) -> String {
        match (self.whole_task, self.indices.as_slice()) {
            (false, [index]) => format!("{}#{index}", self.task),
            _ => self.task.clone(),
        }
    }

    /// `TASK#INDEX` of every selected subtask.
    pub fn subtask_names(&self) -> Vec<String> {
        self.indices
            .iter()
            .map(|i| format!("{}#{i}", self.task))
            .collect()
    }

    /// A file name for the graph: `flame-Enrich-3.svg` (`flame-Enrich.svg` for a task), with
    /// every character other than ASCII letters, digits, `-`, `_` and `.` replaced by `_`.
    pub fn file_name(&self, extension: &str) -> String {
        self.file_name_with("flame", extension)
    }

    /// As [`Resolved::file_name`] with another prefix than `flame`: `diff-Enrich-3.svg` for
    /// `file_name_with("diff", "svg")`.
    pub fn file_name_with(&self, prefix: &str, extension: &str) -> String {
        let task: String = self
            .task
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let task = task.trim_start_matches('.');
        match (self.whole_task, self.indices.as_slice()) {
            (false, [index]) => format!("{prefix}-{task}-{index}.{extension}"),
            _ => format!("{prefix}-{task}.{extension}"),
        }
    }

    /// The explicit selection of the same subtasks: [`Selection::Subtask`] for one subtask,
    /// [`Selection::Task`] for a whole task. Folding another recording with it draws the same
    /// subtasks there (what `bpprof diff` does with the bottleneck it resolved in CURRENT).
    pub fn selection(&self) -> Selection {
        match (self.whole_task, self.indices.as_slice()) {
            (false, [index]) => Selection::Subtask {
                task: self.task.clone(),
                index: *index,
            },
            _ => Selection::Task(self.task.clone()),
        }
    }
}

/// The bottleneck that [`Selection::Bottleneck`] resolved to.
#[derive(Debug, Clone, PartialEq)]
pub struct ChosenBottleneck {
    /// Its kind.
    pub kind: BottleneckKind,
    /// Why `locate` took it for the bottleneck.
    pub reason: String,
}

/// Resolves a selection against the job graph.
pub(crate) fn resolve(
    recording: &Recording,
    graph: &JobGraph,
    selection: &Selection,
    analysis: &AnalysisOptions,
) -> Result<Resolved, FlameError> {
    match selection {
        Selection::Subtask { task, index } => {
            let found = graph
                .position(task)
                .is_some_and(|p| graph.tasks[p].indices.contains(index));
            if found {
                return Ok(Resolved {
                    task: task.clone(),
                    indices: vec![*index],
                    whole_task: false,
                    bottleneck: None,
                });
            }
            let available: Vec<String> = graph
                .tasks
                .iter()
                .flat_map(|t| t.indices.iter().map(move |i| format!("{}#{i}", t.name)))
                .collect();
            let wanted = format!("{task}#{index}");
            let same_task = graph
                .position(task)
                .and_then(|p| {
                    let t = &graph.tasks[p];
                    t.indices.iter().min_by_key(|&&i| i.abs_diff(*index))
                })
                .map(|i| format!("{task}#{i}"));
            let nearest = same_task.or_else(|| nearest(&wanted, &available));
            Err(FlameError::UnknownSubtask {
                wanted,
                available,
                nearest,
            })
        }
        Selection::Task(name) => match graph.position(name) {
            Some(p) if !graph.tasks[p].indices.is_empty() => Ok(Resolved {
                task: name.clone(),
                indices: graph.tasks[p].indices.clone(),
                whole_task: true,
                bottleneck: None,
            }),
            _ => {
                // Only tasks with subtasks can be drawn.
                let available: Vec<String> = graph
                    .tasks
                    .iter()
                    .filter(|t| !t.indices.is_empty())
                    .map(|t| t.name.clone())
                    .collect();
                Err(FlameError::UnknownTask {
                    wanted: name.clone(),
                    nearest: nearest(name, &available),
                    available,
                })
            }
        },
        Selection::Bottleneck => {
            let report = locate(recording, analysis)?;
            let Some(b) = report.bottlenecks.first() else {
                return Err(FlameError::NoBottleneck {
                    verdict: report.verdict,
                });
            };
            let chosen = Some(ChosenBottleneck {
                kind: b.kind,
                reason: b.reason.clone(),
            });
            let indices = graph
                .position(&b.task)
                .map(|p| graph.tasks[p].indices.clone())
                .unwrap_or_default();
            if indices.is_empty() {
                return Err(FlameError::NoBottleneck {
                    verdict: format!("the bottleneck {} has no recorded subtask", b.task),
                });
            }
            Ok(match b.subtasks.first() {
                Some(&index) => Resolved {
                    task: b.task.clone(),
                    indices: vec![index],
                    whole_task: false,
                    bottleneck: chosen,
                },
                None => Resolved {
                    task: b.task.clone(),
                    indices,
                    whole_task: true,
                    bottleneck: chosen,
                },
            })
        }
    }
}

/// The name of `available` closest to `wanted` by edit distance (case-insensitive), when the
/// distance is at most a third of the longer name's length (at least 2).
fn nearest(wanted: &str, available: &[String]) -> Option<String> {
    let wanted_lower = wanted.to_lowercase();
    available
        .iter()
        .map(|name| (edit_distance(&wanted_lower, &name.to_lowercase()), name))
        .filter(|(d, name)| *d <= (wanted.chars().count().max(name.chars().count()) / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, name)| name.clone())
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_insertions_deletions_and_substitutions() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("enrich#3", "enrich#3"), 0);
        assert_eq!(edit_distance("enrch#3", "enrich#3"), 1);
    }

    #[test]
    fn nearest_ignores_far_names() {
        let names = vec!["Enrich#0".to_owned(), "Sink#0".to_owned()];
        assert_eq!(nearest("enrch#0", &names).as_deref(), Some("Enrich#0"));
        assert_eq!(nearest("Completely#9", &names), None);
    }
}
