//! Colour on a terminal: when to use it (`--color`, `NO_COLOR`, `CLICOLOR_FORCE`) and what it
//! marks (the verdict, `check`'s result, the LEVEL and STATUS columns, the `error:` prefix).
//!
//! The reports are rendered as plain text by `bpprof-analysis`; this module styles that text at
//! the edge, only when colour is on, so files, pipes and JSON never contain an escape code. It
//! styles only words it knows in places it knows (the first line, cells of named columns), and
//! leaves everything else as it is.

use anstream::stream::RawStream;
use anstream::{AutoStream, ColorChoice};
use anstyle::{AnsiColor, Style};

/// `--color`: when to colour the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorWhen {
    /// Colour what goes to a terminal, unless `NO_COLOR` is set to a non-empty value
    /// (`CLICOLOR_FORCE` colours pipes and files too; `TERM=dumb` turns it off).
    #[default]
    Auto,
    /// Always colour, whatever the stream and the environment.
    Always,
    /// Never colour.
    Never,
}

impl ColorWhen {
    /// Whether to colour what is written to `stream`.
    pub fn enabled_for(self, stream: &impl RawStream) -> bool {
        match self {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            // anstream reads NO_COLOR, CLICOLOR_FORCE, CLICOLOR and TERM, and asks whether the
            // stream is a terminal.
            ColorWhen::Auto => AutoStream::choice(stream) != ColorChoice::Never,
        }
    }

    /// The same choice for clap's own output (help, usage errors).
    pub fn clap_choice(self) -> clap::ColorChoice {
        match self {
            ColorWhen::Auto => clap::ColorChoice::Auto,
            ColorWhen::Always => clap::ColorChoice::Always,
            ColorWhen::Never => clap::ColorChoice::Never,
        }
    }
}

/// The verdict line of `locate`.
const VERDICT: Style = Style::new().bold();
/// Something that fails or needs action: `REGRESSION`, `HIGH`, `error:`.
const BAD: Style = AnsiColor::Red.on_default().bold();
/// Something to look at: `LOW`, `INCONCLUSIVE`, `inconclusive`.
const DOUBTFUL: Style = AnsiColor::Yellow.on_default().bold();
/// Something that passed: `PASS`, `improved`.
const GOOD: Style = AnsiColor::Green.on_default().bold();

/// Styles text for one stream, or leaves it alone when colour is off there.
#[derive(Debug, Clone, Copy)]
pub struct Paint {
    enabled: bool,
}

impl Paint {
    /// Styles when `enabled`, else returns every text unchanged.
    pub fn new(enabled: bool) -> Paint {
        Paint { enabled }
    }

    /// `text` in `style` (unchanged when colour is off).
    fn styled(self, text: &str, style: Style) -> String {
        if self.enabled {
            format!("{style}{text}{style:#}")
        } else {
            text.to_owned()
        }
    }

    /// `error:`, the prefix of every error line.
    pub fn error_prefix(self) -> String {
        self.styled("error:", BAD)
    }

    /// The human report of `bpprof locate`: its first line (the verdict) in bold, `HIGH` and
    /// `LOW` in the LEVEL column of the tables.
    pub fn locate_report(self, text: &str) -> String {
        self.report(
            text,
            |first| self.styled(first, VERDICT),
            "LEVEL",
            |cell| match cell {
                "HIGH" => Some(BAD),
                "LOW" => Some(DOUBTFUL),
                _ => None,
            },
        )
    }

    /// The human report of `bpprof check`: the result that opens it (`PASS`, `REGRESSION`,
    /// `INCONCLUSIVE`) and the STATUS column of its tables.
    pub fn check_report(self, text: &str) -> String {
        let first = |line: &str| match line.split_once(':') {
            Some((word, rest)) => match result_style(word) {
                Some(style) => format!("{}:{rest}", self.styled(word, style)),
                None => line.to_owned(),
            },
            None => line.to_owned(),
        };
        self.report(text, first, "STATUS", |cell| match cell {
            "REGRESSION" => Some(BAD),
            "inconclusive" => Some(DOUBTFUL),
            "improved" => Some(GOOD),
            _ => None,
        })
    }

    /// Restyles `text`: its first line with `first`, and in each table whose header names
    /// `column`, the cells of that column that `cell_style` has a style for.
    fn report(
        self,
        text: &str,
        first: impl Fn(&str) -> String,
        column: &str,
        cell_style: impl Fn(&str) -> Option<Style>,
    ) -> String {
        if !self.enabled {
            return text.to_owned();
        }
        let mut painted = String::with_capacity(text.len() + 256);
        // The character position of `column` in the table being read, if it has that column.
        let mut at: Option<usize> = None;
        for (i, line) in text.split_inclusive('\n').enumerate() {
            let (body, end) = match line.strip_suffix('\n') {
                Some(body) => (body, "\n"),
                None => (line, ""),
            };
            if i == 0 {
                painted.push_str(&first(body));
            } else if body.trim().is_empty() {
                at = None;
                painted.push_str(body);
            } else if is_table_header(body) {
                at = column_position(body, column);
                painted.push_str(body);
            } else if let Some(position) = at {
                painted.push_str(&self.cell(body, position, &cell_style));
            } else {
                painted.push_str(body);
            }
            painted.push_str(end);
        }
        painted
    }

    /// `row` with the word that starts at character `position` styled, when `cell_style` has a
    /// style for it.
    fn cell(
        self,
        row: &str,
        position: usize,
        cell_style: impl Fn(&str) -> Option<Style>,
    ) -> String {
        let Some((start, _)) = row.char_indices().nth(position) else {
            return row.to_owned();
        };
        let rest = &row[start..];
        let word_len = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = &rest[..word_len];
        let starts_word = row[..start].ends_with(char::is_whitespace);
        match cell_style(word) {
            Some(style) if starts_word => format!(
                "{}{}{}",
                &row[..start],
                self.styled(word, style),
                &rest[word_len..]
            ),
            _ => row.to_owned(),
        }
    }
}

/// The style of a result word of `check` (`PASS`, `REGRESSION`, `INCONCLUSIVE`).
fn result_style(word: &str) -> Option<Style> {
    match word {
        "PASS" => Some(GOOD),
        "REGRESSION" => Some(BAD),
        "INCONCLUSIVE" => Some(DOUBTFUL),
        _ => None,
    }
}

/// A table's header: an indented line of upper-case column names (`  TASK    PAR  BUSY`).
fn is_table_header(line: &str) -> bool {
    line.starts_with("  ")
        && line.chars().any(char::is_alphabetic)
        && line
            .chars()
            .all(|c| c.is_uppercase() || matches!(c, ' ' | '/' | '-' | '#'))
}

/// The character position at which the column `name` starts in `header`, if it is one of its
/// columns.
fn column_position(header: &str, name: &str) -> Option<usize> {
    let mut previous = ' ';
    for (position, (i, c)) in header.char_indices().enumerate() {
        if previous == ' ' && c != ' ' {
            let after = header[i..].strip_prefix(name);
            if after.is_some_and(|after| after.is_empty() || after.starts_with(' ')) {
                return Some(position);
            }
        }
        previous = c;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCATE: &str = "Enrich is the bottleneck\n\nTasks:\n  TASK    PAR  LEVEL  REC/S\n  Source    1  HIGH       0\n  Parse     2  LOW       10\n  Enrich    4  OK        10\n\nNotes: HIGH\n";

    #[test]
    fn off_leaves_the_text_unchanged() {
        let paint = Paint::new(false);
        assert_eq!(paint.locate_report(LOCATE), LOCATE);
        assert_eq!(paint.check_report("PASS: fine\n"), "PASS: fine\n");
        assert_eq!(paint.error_prefix(), "error:");
    }

    #[test]
    fn level_cells_and_the_verdict_are_styled_and_nothing_else() {
        let painted = Paint::new(true).locate_report(LOCATE);
        let plain = anstream::adapter::strip_str(&painted).to_string();
        assert_eq!(plain, LOCATE, "styling only adds escape codes");
        assert!(painted.starts_with(&format!("{VERDICT}Enrich is the bottleneck{VERDICT:#}\n")));
        assert!(
            painted.contains(&format!("  {BAD}HIGH{BAD:#}       0")),
            "{painted}"
        );
        assert!(painted.contains(&format!("  {DOUBTFUL}LOW{DOUBTFUL:#}       10")));
        assert!(painted.contains("  OK        10"), "OK is not styled");
        assert!(
            painted.ends_with("Notes: HIGH\n"),
            "outside the table: not styled"
        );
    }

    #[test]
    fn check_result_and_status_column_are_styled() {
        let text = "REGRESSION: throughput -20%\n\n  TASK    METRIC  ΔSELF  STATUS\n  (job)   thr     µs     REGRESSION\n  Enrich  busy    µs     ok\n";
        let painted = Paint::new(true).check_report(text);
        assert!(painted.starts_with(&format!("{BAD}REGRESSION{BAD:#}: throughput")));
        assert!(
            painted.contains(&format!("µs     {BAD}REGRESSION{BAD:#}\n")),
            "{painted}"
        );
        assert!(painted.ends_with("µs     ok\n"));
        let pass = Paint::new(true).check_report("PASS: fine\n");
        assert_eq!(pass, format!("{GOOD}PASS{GOOD:#}: fine\n"));
    }

    #[test]
    fn column_positions_are_counted_in_characters_of_whole_names() {
        assert_eq!(column_position("  ΔSELF  STATUS", "STATUS"), Some(9));
        assert_eq!(column_position("  LEVELS  LEVEL", "LEVEL"), Some(10));
        assert_eq!(column_position("  TASK", "LEVEL"), None);
        assert_eq!(column_position("  NOW  ΔSELF  STATUS", "SELF"), None);
    }
}
