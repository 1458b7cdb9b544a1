//! `bpprof`: locates the bottleneck of a recorded pipeline and draws flame graphs of its subtasks.
//!
//! This binary is a thin layer over `bpprof-analysis`: it parses the command line, runs one
//! subcommand, and maps errors to exit codes (see [`exit`]).

mod check;
mod config;
mod diff;
mod exit;
mod flame;
mod locate;
mod merge;
mod outputs;
mod record;
mod text;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Finds the bottleneck of a multi-threaded pipeline from a bpprof recording, and draws flame
/// graphs of its subtasks.
#[derive(Debug, Parser)]
#[command(
    name = "bpprof",
    version,
    after_help = "Exit codes:\n  0  success (`check`: no regression, improvements included)\n  1  `check`: a regression was found or a budget exceeded\n  2  usage error, unreadable or invalid input, incompatible recordings\n  3  `check --strict`: inconclusive\n`record` exits with the recorded command's exit code."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Find the bottleneck task(s) of a recording: the busy task below backpressured ones.
    Locate(locate::LocateArgs),
    /// Draw a flame graph (SVG) of one subtask from the recording's stack samples; by default of
    /// the bottleneck that `locate` finds.
    Flame(flame::FlameArgs),
    /// Merge the recordings of the processes of one job (for example both ends of a
    /// `bpprof::Link`) into one recording: tasks are matched by name, same-named channels and
    /// links become one edge, times are aligned by the recordings' start times.
    Merge(merge::MergeArgs),
    /// Run a command with recording enabled (sets BPPROF_OUT and the sampling settings), pass its
    /// exit code through and print where the recording is.
    Record(record::RecordArgs),
    /// Compare recordings (baseline against current) and fail on performance regressions, or
    /// check budgets on one recording (see docs/ci.md).
    Check(check::CheckArgs),
    /// Draw a differential flame graph of one subtask (or task) between two recordings,
    /// normalised per record processed.
    Diff(diff::DiffArgs),
}

/// Output formats shared by the subcommands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Text for people: the verdict first, then tables.
    #[default]
    Human,
    /// One JSON document (schema `bpprof.locate`, see docs/json.md).
    Json,
}

/// An error for the user: what is wrong and how to fix it, with the exit code to use.
#[derive(Debug)]
pub struct Failure {
    /// Exit code (see [`exit`]).
    pub code: u8,
    /// What is wrong.
    pub what: String,
    /// How to fix it.
    pub fix: String,
}

impl Failure {
    /// A usage / input error (exit code [`exit::BAD_INPUT`]).
    pub fn bad_input(what: impl Into<String>, fix: impl Into<String>) -> Failure {
        Failure {
            code: exit::BAD_INPUT,
            what: what.into(),
            fix: fix.into(),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}; {}", self.what, self.fix)
    }
}

impl std::error::Error for Failure {}

/// Runs a subcommand, writing its output to `out`; returns the exit code.
fn run(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, anyhow::Error> {
    let done = |r: anyhow::Result<()>| r.map(|()| exit::OK);
    match cli.command {
        Command::Locate(args) => done(locate::run(&args, out, err)),
        Command::Flame(args) => done(flame::run(&args, out, err)),
        Command::Merge(args) => done(merge::run(&args, out, err)),
        Command::Record(args) => record::run(&args, out, err),
        Command::Check(args) => check::run(&args, out, err),
        Command::Diff(args) => done(diff::run(&args, out, err)),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let stdout = io::stdout();
    let stderr = io::stderr();
    let result = run(cli, &mut stdout.lock(), &mut stderr.lock());
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => report(e),
    }
}

/// Prints `error: <what is wrong>; <how to fix>` on one line and returns the exit code.
fn report(error: anyhow::Error) -> ExitCode {
    // A closed stdout (e.g. `bpprof locate x | head -1`) is not an error.
    if let Some(io) = error.downcast_ref::<io::Error>() {
        if io.kind() == io::ErrorKind::BrokenPipe {
            return ExitCode::from(exit::OK);
        }
    }
    let (code, line) = match error.downcast::<Failure>() {
        Ok(f) => (f.code, f.to_string()),
        Err(other) => (exit::BAD_INPUT, format!("{other:#}")),
    };
    let _ = writeln!(io::stderr(), "error: {}", one_line(&line));
    ExitCode::from(code)
}

/// Clap's errors as one line; `--help` and `--version` print normally.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            let code = if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                exit::BAD_INPUT
            } else {
                exit::OK
            };
            return ExitCode::from(code);
        }
        _ => {}
    }
    let rendered = e.render().to_string();
    // The error paragraph (it may span lines, e.g. a list of missing arguments), then the usage.
    let what: Vec<&str> = rendered
        .lines()
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| !l.trim().is_empty())
        .map(|l| l.trim().trim_end_matches(':'))
        .collect();
    let what = what.join(": ");
    let what = what.strip_prefix("error: ").unwrap_or(&what);
    let fix = rendered
        .lines()
        .find_map(|l| l.trim().strip_prefix("Usage: "))
        .map_or_else(
            || "run 'bpprof --help'".to_owned(),
            |u| format!("usage: {u}"),
        );
    let _ = writeln!(io::stderr(), "error: {}; {fix}", one_line(what));
    ExitCode::from(exit::BAD_INPUT)
}

/// Joins the lines of `text` so an error takes exactly one line.
fn one_line(text: &str) -> String {
    text.split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn help_documents_exit_codes() {
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("Exit codes:"), "{help}");
        assert!(help.contains("2  usage error"), "{help}");
    }
}
