//! `bpprof`: locates the bottleneck of a recorded pipeline and draws flame graphs of its subtasks.
//!
//! This binary is a thin layer over `bpprof-analysis`: it parses the command line, runs one
//! subcommand, and maps errors to exit codes (see `bpprof_cli::exit`).

mod check;
mod color;
mod diff;
mod flame;
mod generate;
mod locate;
mod merge;
mod numbers;
mod outputs;
mod plan;
mod record;
mod serve;

use std::io::{self, Write};
use std::process::ExitCode;

use bpprof_analysis::units::join_lines;
use bpprof_cli::{config, exit, Failure};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::color::{ColorWhen, Paint};

/// Finds the bottleneck of a multi-threaded pipeline from a bpprof recording, and draws flame
/// graphs of its subtasks.
#[derive(Debug, Parser)]
#[command(
    name = "bpprof",
    version,
    after_help = "Exit codes:\n  0  success (`check`: no regression, improvements included)\n  1  `check`: a regression was found or a budget exceeded\n  2  usage error, unreadable or invalid input, incompatible recordings\n  3  `check --strict`: inconclusive\n`record` exits with the recorded command's exit code."
)]
pub struct Cli {
    /// When to colour the output: `auto` colours what goes to a terminal unless NO_COLOR is set
    /// (to anything but the empty string). Only the human reports and the `error:` prefix are
    /// coloured; JSON, pictures, folded stacks and reports written to files never are.
    #[arg(
        long,
        value_enum,
        value_name = "WHEN",
        default_value_t = ColorWhen::Auto,
        global = true
    )]
    pub color: ColorWhen,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Find the bottleneck task(s) of a recording: the busy task below backpressured ones.
    Locate(locate::LocateArgs),
    /// The parallelism each task needs for a target rate within the machine's CPUs, what a change
    /// or a faster function buys, and which task limits the job next (see docs/plan.md).
    Plan(plan::PlanArgs),
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
    /// Serve the live page over a recording, with a time slider: the job graph, back pressure,
    /// the timeline strip and flame graphs of any range, in a browser (see docs/live.md).
    Serve(serve::ServeArgs),
    /// Print the shell completion script for SHELL (bash, zsh, fish, elvish, powershell).
    Completions(generate::CompletionsArgs),
    /// Print the manual page bpprof(1) as roff, or write every page (one per subcommand) into
    /// a directory with --out.
    Man(generate::ManArgs),
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

/// Runs a subcommand, writing its output to `out` (styled with `paint`) and its status to
/// `err`; returns the exit code.
fn run(cli: Cli, paint: Paint, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<u8> {
    let done = |r: anyhow::Result<()>| r.map(|()| exit::OK);
    match cli.command {
        Command::Locate(args) => done(locate::run(&args, paint, out, err)),
        Command::Plan(args) => done(plan::run(&args, out, err)),
        Command::Flame(args) => done(flame::run(&args, out, err)),
        Command::Merge(args) => done(merge::run(&args, out, err)),
        Command::Record(args) => record::run(&args, out, err),
        Command::Check(args) => check::run(&args, paint, out, err),
        Command::Diff(args) => done(diff::run(&args, out, err)),
        Command::Serve(args) => done(serve::run(&args, err)),
        Command::Completions(args) => done(generate::completions(&args, out)),
        Command::Man(args) => done(generate::man(&args, out, err)),
    }
}

fn main() -> ExitCode {
    let color = requested_color();
    let error_paint = Paint::new(color.enabled_for(&io::stderr()));
    let parsed = Cli::command()
        .color(color.clap_choice())
        .try_get_matches()
        .and_then(|matches| Cli::from_arg_matches(&matches));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => return usage_error(e, error_paint),
    };
    let paint = Paint::new(color.enabled_for(&io::stdout()));
    let stdout = io::stdout();
    let stderr = io::stderr();
    let result = run(cli, paint, &mut stdout.lock(), &mut stderr.lock());
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => report(e, error_paint),
    }
}

/// The `--color` of the command line, read before it is parsed for good, so that help and
/// usage errors follow it too; `auto` when it is absent or not understood.
fn requested_color() -> ColorWhen {
    // `--help` and `--version` as plain flags, read past rather than printed here (an unknown
    // argument would end the reading before a `--color` after it).
    let flag = |name: &'static str, short| {
        clap::Arg::new(name)
            .short(short)
            .long(name)
            .action(clap::ArgAction::SetTrue)
    };
    Cli::command()
        .ignore_errors(true)
        .disable_help_flag(true)
        .disable_version_flag(true)
        .args([flag("help", 'h'), flag("version", 'V')])
        .mut_subcommands(move |subcommand| {
            subcommand.disable_help_flag(true).arg(flag("help", 'h'))
        })
        .try_get_matches()
        .ok()
        .and_then(|matches| matches.get_one::<ColorWhen>("color").copied())
        .unwrap_or_default()
}

/// Prints `error: <what is wrong>; <how to fix>` on one line and returns the exit code.
fn report(error: anyhow::Error, paint: Paint) -> ExitCode {
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
    let _ = writeln!(
        io::stderr(),
        "{} {}",
        paint.error_prefix(),
        join_lines(&line)
    );
    ExitCode::from(code)
}

/// Clap's errors as one line; `--help` and `--version` print normally.
fn usage_error(e: clap::Error, paint: Paint) -> ExitCode {
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
    let suggestion = suggestion(&e);
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
    let fix = match suggestion {
        Some(suggestion) => format!("{suggestion} {fix}"),
        None => fix,
    };
    let _ = writeln!(
        io::stderr(),
        "{} {}; {fix}",
        paint.error_prefix(),
        join_lines(what)
    );
    ExitCode::from(exit::BAD_INPUT)
}

/// clap's suggestion for a mistyped subcommand, option or value (its `suggestions` feature):
/// `did you mean 'locate'?`.
fn suggestion(e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue};
    let kinds = [
        ContextKind::SuggestedSubcommand,
        ContextKind::SuggestedArg,
        ContextKind::SuggestedValue,
    ];
    let names = kinds.into_iter().find_map(|kind| match e.get(kind)? {
        ContextValue::String(name) => Some(vec![name.clone()]),
        ContextValue::Strings(names) if !names.is_empty() => Some(names.clone()),
        _ => None,
    })?;
    let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
    Some(format!("did you mean {}?", quoted.join(" or ")))
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
