//! Renders the findings of a [`CheckReport`] as GitHub Actions workflow commands
//! (`::error title=...::message`), which GitHub shows as annotations on the run and the pull
//! request.

use super::cells::finding_message;
use super::report::{CheckReport, Finding, Severity};
use crate::units::plural;

/// Most annotation lines [`github_annotations`] returns. GitHub shows at most 10 error and 10
/// warning annotations per step; a few clear ones are better than a truncated list.
pub const MAX_ANNOTATIONS: usize = 10;

/// One workflow command per finding, most severe first (in report order within a severity):
/// `::error title=TITLE::MESSAGE` for [`Severity::Error`], `::warning ...` for
/// [`Severity::Warning`], `::notice ...` for [`Severity::Notice`].
///
/// At most [`MAX_ANNOTATIONS`] lines: when there are more findings, the last line says how many
/// were left out (with the severity of the most severe of them). The title is escaped with
/// [`escape_property`], the message with [`escape_data`], so each command is one line.
pub fn github_annotations(report: &CheckReport) -> Vec<String> {
    let mut findings: Vec<&Finding> = report.findings.iter().collect();
    findings.sort_by_key(|f| f.severity);

    if findings.len() <= MAX_ANNOTATIONS {
        return findings.into_iter().map(annotation).collect();
    }
    let shown = MAX_ANNOTATIONS - 1;
    let mut lines: Vec<String> = findings[..shown].iter().map(|f| annotation(f)).collect();
    let rest = &findings[shown..];
    let count = |s: Severity| rest.iter().filter(|f| f.severity == s).count();
    let parts: Vec<String> = [
        (Severity::Error, "error"),
        (Severity::Warning, "warning"),
        (Severity::Notice, "notice"),
    ]
    .into_iter()
    .filter_map(|(s, word)| match count(s) {
        0 => None,
        n => Some(plural(n, word)),
    })
    .collect();
    let message = format!(
        "{} not shown as annotations ({}); the job log and the JSON report list them all",
        plural(rest.len(), "more finding"),
        parts.join(", ")
    );
    lines.push(format!(
        "::{} title={}::{}",
        command(rest[0].severity),
        escape_property("bpprof check"),
        escape_data(&message)
    ));
    lines
}

/// `::error title=TITLE::MESSAGE` (the function, when the message does not name it, appended).
fn annotation(f: &Finding) -> String {
    let message = finding_message(f, str::to_owned, str::to_owned);
    format!(
        "::{} title={}::{}",
        command(f.severity),
        escape_property(&f.title),
        escape_data(&message)
    )
}

fn command(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Notice => "notice",
    }
}

/// Escapes the message of a workflow command: `%` as `%25`, carriage return as `%0D`, line feed
/// as `%0A` (GitHub's `escapeData`).
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value of a workflow command (such as `title`): as [`escape_data`], and `:`
/// as `%3A`, `,` as `%2C` (GitHub's `escapeProperty`).
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_follow_github() {
        assert_eq!(escape_data("50%\r\nx: y, z"), "50%25%0D%0Ax: y, z");
        assert_eq!(escape_property("50%\na: b, c"), "50%25%0Aa%3A b%2C c");
    }
}
