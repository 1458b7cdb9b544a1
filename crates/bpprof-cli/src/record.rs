//! `bpprof record`: run a command with recording enabled.
//!
//! The command records when it calls `bpprof::init_from_env()`; this subcommand only sets the
//! environment variables that function reads, runs the command with inherited standard streams,
//! and afterwards checks and summarises what was written. Its exit code is the command's (128 +
//! the signal number when a signal killed it), so CI scripts can wrap a benchmark with it; its
//! own errors (bad options, an unwritable output, a command that cannot start or that recorded
//! nothing) exit with code 2 before or instead of that.

use std::ffi::{OsStr, OsString};
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use bpprof_analysis::units::{grouped_decimal, plural, thousands};
use bpprof_format::env::{
    DEFAULT_SAMPLE_HZ, ENV_INTERVAL_MS, ENV_OUT, ENV_OUT_MAX_AGE, ENV_OUT_MAX_FILE,
    ENV_OUT_MAX_TOTAL, ENV_SAMPLE_HZ, MAX_SAMPLE_HZ, MIN_INTERVAL_MS,
};
use bpprof_format::Recording;

use crate::locate::read_failure;
use crate::numbers::whole_number;
use crate::outputs::{check_output, partial_path, Inputs, Output};
use crate::{exit, Failure};

/// Arguments of `bpprof record`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  bpprof record -- target/release/examples/slow_operator --seconds 5\n  bpprof record -o out/bench.bpprof --sample-hz 0 -- ./bench --quick\n\nThe command must call bpprof::init_from_env() to record. Ctrl-C reaches the command (it is in\nthe same process group); bpprof waits for it to exit and still reports what was recorded."
)]
pub struct RecordArgs {
    /// Where the recording goes. The command records into a temporary file next to it
    /// (`.NAME.PID.partial`, through BPPROF_OUT, replacing any inherited value) that is renamed to
    /// FILE when the command exits: a recording already at FILE is replaced only by a new one, and
    /// stays untouched when the command records nothing. Any other file at FILE is left alone, and
    /// the command is not run. Default: `<name of CMD>.bpprof` in the current directory.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Recording interval in milliseconds (sets BPPROF_INTERVAL_MS); at least 100. The default is
    /// the shortest the recorder accepts, because `bpprof check` compares recordings window by
    /// window: short intervals give it many windows, and so tighter confidence intervals, from a
    /// short benchmark run.
    #[arg(
        long = "interval-ms",
        value_name = "MS",
        default_value_t = MIN_INTERVAL_MS,
        value_parser = parse_interval_ms,
        allow_negative_numbers = true
    )]
    pub interval_ms: u64,
    /// Stack samples per second per subtask (sets BPPROF_SAMPLE_HZ), 0 (off) to 10000.
    #[arg(
        long = "sample-hz",
        value_name = "HZ",
        default_value_t = DEFAULT_SAMPLE_HZ,
        value_parser = whole_number::<u32>,
        allow_negative_numbers = true
    )]
    pub sample_hz: u32,
    /// The command to run and its arguments; put `--` before it when it has options of its own.
    #[arg(
        value_name = "CMD",
        required = true,
        num_args = 1..,
        trailing_var_arg = true
    )]
    pub command: Vec<OsString>,
}

/// Runs `bpprof record`; returns the exit code: the command's, or [`exit::BAD_INPUT`] when the
/// command could not run or recorded nothing.
pub fn run(args: &RecordArgs, _out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<u8> {
    validate(args)?;
    let program = args.command.first().ok_or_else(|| {
        Failure::bad_input(
            "no command given",
            "usage: bpprof record [OPTIONS] -- CMD [ARGS...]",
        )
    })?;
    let name = program.to_string_lossy().into_owned();
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| default_output(program));
    // A program named by a path is a file the recording must not replace (`-o ./bench -- ./bench`);
    // one looked up in PATH is not in the current directory's way.
    let program_file = Path::new(program);
    let inputs = Inputs::new(
        program_file
            .parent()
            .is_some_and(|d| !d.as_os_str().is_empty())
            .then_some(program_file),
    );
    let partial = prepare_output(&output, &inputs)?;
    // The command may change its working directory; the recording must still land where we look.
    let env_out = std::path::absolute(&partial).unwrap_or_else(|_| partial.clone());

    let mut command = Command::new(program);
    command
        .args(&args.command[1..])
        .env(ENV_OUT, &env_out)
        .env(ENV_INTERVAL_MS, args.interval_ms.to_string())
        .env(ENV_SAMPLE_HZ, args.sample_hz.to_string());
    let status = {
        // Installed before the spawn: a caught signal is reset to its default action by exec, so
        // the command still gets the usual behaviour of Ctrl-C, while bpprof outlives it.
        let _guard = signals::SurviveInterrupts::install();
        let mut child = command.spawn().map_err(|e| cannot_start(&name, &e))?;
        child.wait().map_err(|e| {
            Failure::bad_input(
                format!("cannot wait for '{name}': {e}"),
                "run the command without bpprof record",
            )
        })?
    };

    let code = exit_code(&status);
    if let Some(signal) = killed_by(&status) {
        writeln!(
            err,
            "bpprof: '{name}' was killed by signal {signal}{}; exiting with {code}",
            signal_name(signal)
        )?;
    }
    let succeeded = status.success();
    let previous = if output.exists() {
        " (the previous recording there is unchanged)"
    } else {
        ""
    };
    if !partial.exists() {
        if succeeded {
            return Err(Failure::bad_input(
                format!(
                    "{name} wrote no recording to {}{previous}: does it call bpprof::init_from_env()?",
                    output.display()
                ),
                format!(
                    "call it at the start of main and keep its result alive until the end (it records when {ENV_OUT} is set)"
                ),
            )
            .into());
        }
        writeln!(
            err,
            "warning: {name} failed and wrote no recording to {}{previous}",
            output.display()
        )?;
        return Ok(code);
    }
    fs::rename(&partial, &output).map_err(|e| {
        Failure::bad_input(
            format!(
                "cannot move the recording from {} to {}: {e}",
                partial.display(),
                output.display()
            ),
            "the recording is complete in the first file; move it by hand",
        )
    })?;
    match bpprof_format::read_path(&output) {
        Ok(recording) => {
            for warning in &recording.warnings {
                writeln!(err, "warning: {}: {warning}", output.display())?;
            }
            writeln!(
                err,
                "bpprof: recording written to {} ({})",
                output.display(),
                summary(&recording)
            )?;
        }
        Err(e) => {
            let failure = read_failure(&output, e);
            if succeeded {
                return Err(failure.into());
            }
            writeln!(err, "warning: {}", failure.what)?;
        }
    }
    Ok(code)
}

/// Rejects settings the recorder would refuse, before anything runs; and rotation, which
/// `bpprof record` does not do: it records one file, through a temporary file renamed at the
/// end, while a rotated recording is a series of files the recorder names itself. Rotation
/// settings inherited from the environment would make the command write a series beside the
/// temporary file, so they are refused rather than passed on or dropped silently.
fn validate(args: &RecordArgs) -> Result<(), Failure> {
    let rotation = [ENV_OUT_MAX_FILE, ENV_OUT_MAX_AGE, ENV_OUT_MAX_TOTAL];
    if let Some(var) = rotation
        .into_iter()
        .find(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()))
    {
        return Err(Failure::bad_input(
            format!("{var} is set, but bpprof record writes one file and does not rotate it"),
            format!("unset {var} (env -u {var} bpprof record ...), or run the program itself with {ENV_OUT} and {var} set to record a rotated series"),
        ));
    }
    if args.sample_hz > MAX_SAMPLE_HZ {
        return Err(Failure::bad_input(
            format!(
                "--sample-hz {} is above the recorder's maximum of {} Hz",
                args.sample_hz,
                thousands(MAX_SAMPLE_HZ.into())
            ),
            "give 0 (off) to 10000; the default is 99",
        ));
    }
    Ok(())
}

/// `--interval-ms`: a whole number of milliseconds, at least [`MIN_INTERVAL_MS`] (a negative
/// number included: it is shorter too).
fn parse_interval_ms(text: &str) -> Result<u64, String> {
    if text
        .trim()
        .parse::<f64>()
        .is_ok_and(|ms| ms < MIN_INTERVAL_MS as f64)
    {
        return Err(format!(
            "shorter than the recorder accepts ({MIN_INTERVAL_MS} ms); give at least {MIN_INTERVAL_MS} (the default)"
        ));
    }
    whole_number(text)
}

/// `<file name of the program>.bpprof`, in the current directory.
fn default_output(program: &OsStr) -> PathBuf {
    let mut name = Path::new(program)
        .file_name()
        .map_or_else(|| OsString::from("record"), OsStr::to_owned);
    name.push(".bpprof");
    PathBuf::from(name)
}

/// Checks that a recording may be written at `path` (its directory exists and is writable, and
/// what is there is a previous recording or nothing) and returns the temporary file next to it
/// that the command records into. `inputs` are the files the command is known to read (its
/// program), which the recording may not replace.
fn prepare_output(path: &Path, inputs: &Inputs) -> Result<PathBuf, Failure> {
    let shown = path.display();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(Failure::bad_input(
            format!(
                "cannot write the recording to '{shown}': directory '{}' does not exist",
                dir.display()
            ),
            "create it first or choose another --output",
        ));
    }
    // Only a previous recording is replaced: any other file there is somebody's data, and a
    // directory or a device is not a file to rename over.
    check_output(path, "--output", Output::Recording, inputs)?;
    let partial = partial_path(path);
    let probe = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&partial)
        .and_then(|_| fs::remove_file(&partial));
    if let Err(e) = probe {
        return Err(Failure::bad_input(
            format!(
                "cannot write the recording next to '{shown}' ({}): {e}",
                partial.display()
            ),
            "choose a writable --output (the command was not run)",
        ));
    }
    Ok(partial)
}

/// The one-line error for a command that could not be started.
fn cannot_start(name: &str, e: &io::Error) -> Failure {
    // A program name without a slash is looked up in PATH.
    let searched = !name.contains('/');
    let (reason, fix) = match e.kind() {
        io::ErrorKind::NotFound if searched => (
            "not found in PATH".to_owned(),
            "check its name, or give its path (for example ./bench)",
        ),
        io::ErrorKind::NotFound => ("no such file".to_owned(), "check the path"),
        io::ErrorKind::PermissionDenied => (
            "permission denied".to_owned(),
            "make it executable (chmod +x) or check the path",
        ),
        _ => (e.to_string(), "check that it is an executable program"),
    };
    Failure::bad_input(format!("cannot run '{name}': {reason}"), fix)
}

/// The exit code to pass through: the command's, or 128 + the signal that killed it.
fn exit_code(status: &ExitStatus) -> u8 {
    if let Some(code) = status.code() {
        // Exit codes are 0..=255 on Unix; elsewhere keep a failure a failure.
        return u8::try_from(code).unwrap_or(if code == 0 { exit::OK } else { 1 });
    }
    killed_by(status).map_or(1, |signal| u8::try_from(128 + signal).unwrap_or(u8::MAX))
}

/// The signal that killed the command, if one did.
#[cfg(unix)]
fn killed_by(status: &ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.signal()
}

/// The signal that killed the command, if one did.
#[cfg(not(unix))]
fn killed_by(_status: &ExitStatus) -> Option<i32> {
    None
}

/// ` (SIGNAME)` for the common signals, else nothing.
fn signal_name(signal: i32) -> &'static str {
    match signal {
        1 => " (SIGHUP)",
        2 => " (SIGINT)",
        3 => " (SIGQUIT)",
        6 => " (SIGABRT)",
        9 => " (SIGKILL)",
        11 => " (SIGSEGV)",
        13 => " (SIGPIPE)",
        15 => " (SIGTERM)",
        _ => "",
    }
}

/// `62 intervals of 100 ms, 6.2 s, 8 subtasks, 2,310 stack samples`.
fn summary(recording: &Recording) -> String {
    let intervals = recording.intervals.len() as u64;
    let interval_ms = recording.meta.interval_ns as f64 / 1e6;
    let end_ns = recording
        .end
        .as_ref()
        .map(|e| e.end_ns)
        .or_else(|| recording.intervals.last().map(|i| i.end_ns))
        .unwrap_or(0);
    let mut subtasks: Vec<u32> = recording
        .intervals
        .iter()
        .flat_map(|i| i.declared_subtasks.iter().map(|s| s.id))
        .collect();
    subtasks.sort_unstable();
    subtasks.dedup();
    let samples = if recording.meta.sample_hz == 0 {
        "stack sampling off".to_owned()
    } else {
        let n: u64 = recording
            .samples
            .iter()
            .flat_map(|c| &c.counts)
            .map(|c| u64::from(c.count))
            .sum();
        plural(n, "stack sample")
    };
    format!(
        "{} of {} ms, {:.1} s, {}, {samples}",
        plural(intervals, "interval"),
        grouped_decimal(interval_ms, 1),
        end_ns as f64 / 1e9,
        plural(subtasks.len(), "subtask"),
    )
}

/// Keeping `bpprof record` alive until its command exits.
///
/// Ctrl-C sends SIGINT to the whole foreground process group, the command included; by default it
/// would also kill bpprof before it can report the command's exit code and recording. While the
/// command runs, SIGINT and SIGTERM get a handler that does nothing (not `SIG_IGN`, which the
/// command would inherit: exec resets caught signals to their default action, but keeps ignored
/// ones ignored). Signals already ignored (a background job of a script) stay ignored.
///
/// `signal(2)` (through libc) is the one call needed: installing a handler that does nothing
/// needs none of `sigaction`'s options.
#[cfg(unix)]
mod signals {
    use libc::{c_int, sighandler_t, signal, SIGINT, SIGTERM, SIG_ERR, SIG_IGN};

    /// Does nothing, which is async-signal-safe.
    extern "C" fn ignore(_signum: c_int) {}

    /// Restores the previous actions of SIGINT and SIGTERM when dropped.
    pub struct SurviveInterrupts {
        previous: Vec<(c_int, sighandler_t)>,
    }

    impl SurviveInterrupts {
        /// Installs the do-nothing handler for SIGINT and SIGTERM.
        pub fn install() -> SurviveInterrupts {
            let mut previous = Vec::with_capacity(2);
            for signum in [SIGINT, SIGTERM] {
                let handler = ignore as extern "C" fn(c_int) as sighandler_t;
                // SAFETY: `signal` is called with a valid signal number and a handler that is an
                // `extern "C" fn(c_int)` touching no state, so it is async-signal-safe; glibc and
                // musl give it BSD semantics (SA_RESTART), and `Child::wait` retries on EINTR.
                let old = unsafe { signal(signum, handler) };
                if old == SIG_ERR {
                    continue;
                }
                if old == SIG_IGN {
                    // SAFETY: as above; SIG_IGN is a valid action.
                    unsafe { signal(signum, SIG_IGN) };
                    continue;
                }
                previous.push((signum, old));
            }
            SurviveInterrupts { previous }
        }
    }

    impl Drop for SurviveInterrupts {
        fn drop(&mut self) {
            for &(signum, old) in &self.previous {
                // SAFETY: `old` is the action `signal` returned for this signal (SIG_DFL or a
                // handler that was installed before), so it is valid to install again.
                unsafe { signal(signum, old) };
            }
        }
    }
}

/// No signal handling outside Unix: Ctrl-C there is not delivered to a process group the same way.
#[cfg(not(unix))]
mod signals {
    /// Does nothing.
    pub struct SurviveInterrupts;

    impl SurviveInterrupts {
        /// Does nothing.
        pub fn install() -> SurviveInterrupts {
            SurviveInterrupts
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_output_is_named_after_the_program() {
        assert_eq!(
            default_output(OsStr::new("target/release/examples/slow_operator")),
            PathBuf::from("slow_operator.bpprof")
        );
        assert_eq!(
            default_output(OsStr::new("bench")),
            PathBuf::from("bench.bpprof")
        );
        assert_eq!(
            default_output(OsStr::new("/")),
            PathBuf::from("record.bpprof")
        );
    }
}
