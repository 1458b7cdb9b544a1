//! The conventions users know from other command-line tools (issue 13, "Install and habits"):
//! shell completions, manual pages, colour on a terminal only, "did you mean", and negative
//! numbers read as numbers.

mod common;

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Stdio};

use bpprof_analysis::synth::Pipeline;
use common::{assert_one_error_line, bpprof, bpprof_in, code, command, text};

/// The escape character that starts every ANSI colour code.
const ESC: char = '\u{1b}';

/// The subcommands `bpprof --help` lists (every one users can type).
fn subcommands() -> Vec<String> {
    let help = text(&bpprof(&["--help"]).stdout);
    let names: Vec<String> = help
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect();
    for expected in [
        "locate",
        "flame",
        "check",
        "diff",
        "merge",
        "record",
        "completions",
        "man",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    names
}

/// A directory with two recordings of the same pipeline, `a.bpprof` and `b.bpprof`.
fn recordings() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    for (name, seed) in [("a.bpprof", 1), ("b.bpprof", 2)] {
        std::fs::write(dir.path().join(name), Pipeline::new(seed).recording_bytes())
            .expect("write a recording");
    }
    dir
}

fn assert_plain(bytes: &[u8], what: &str) {
    assert!(
        !text(bytes).contains(ESC),
        "{what} has escape codes: {}",
        text(bytes)
    );
}

fn assert_coloured(bytes: &[u8], what: &str) {
    assert!(
        text(bytes).contains(&format!("{ESC}[")),
        "{what} is not coloured: {}",
        text(bytes)
    );
}

// Completions.

#[test]
fn bash_completion_mentions_every_subcommand() {
    let output = bpprof(&["completions", "bash"]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let script = text(&output.stdout);
    assert!(
        script.contains("complete -F"),
        "a bash completion script: {script}"
    );
    // The words completed after `bpprof`: the top-level options, then every subcommand.
    let top = script
        .lines()
        .find(|l| l.trim_start().starts_with("opts=") && l.contains("--version"))
        .expect("the words completed after bpprof");
    let words: Vec<&str> = top
        .trim()
        .trim_start_matches("opts=")
        .trim_matches('"')
        .split(' ')
        .collect();
    for name in subcommands() {
        assert!(
            words.contains(&name.as_str()),
            "{name} completed after bpprof: {top}"
        );
        assert!(
            script.contains(&format!("bpprof,{name})")),
            "{name}'s own options are completed"
        );
    }
    assert!(script.contains("--subtask"), "options are completed too");
}

#[test]
fn every_shell_gets_a_completion_script_naming_the_subcommands() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let output = bpprof(&["completions", shell]);
        assert_eq!(code(&output), 0, "{shell}: {}", text(&output.stderr));
        let script = text(&output.stdout);
        for name in subcommands() {
            assert!(script.contains(&name), "{shell}: {name} in the script");
        }
    }
}

#[test]
fn unknown_shell_is_one_error_line_naming_the_shells() {
    let output = bpprof(&["completions", "tcsh"]);
    assert_one_error_line(
        &output,
        "[possible values: bash, elvish, fish, powershell, zsh]",
    );
}

// Manual pages.

/// Asserts that `page` is well-formed roff of the man macros: a `.TH` title first, only requests
/// the man macros define, font escapes that name a font, and no line that roff would read as a
/// request by accident (a text line starting with `.` or `'`). Returns the page.
fn assert_valid_roff(page: &[u8], title: &str) -> String {
    const REQUESTS: [&str; 14] = [
        "TH", "SH", "SS", "TP", "PP", "LP", "P", "IP", "RS", "RE", "br", "sp", "B", "I",
    ];
    let page = String::from_utf8(page.to_vec()).expect("a manual page is UTF-8");
    let lines: Vec<&str> = page.lines().filter(|l| !l.starts_with(".\\\"")).collect();
    // A prelude defining the apostrophe string may come first; then the title.
    let first = lines
        .iter()
        .find(|l| !l.starts_with(".ie ") && !l.starts_with(".el "))
        .expect("a page has lines");
    assert!(first.starts_with(&format!(".TH {title} 1")), "{first}");
    assert!(
        first.contains("bpprof 0."),
        "the version names bpprof: {first}"
    );
    for line in &lines {
        if let Some(request) = line.strip_prefix('.') {
            let name = request.split_whitespace().next().unwrap_or("");
            let known = REQUESTS.contains(&name)
                || ["ie", "el", "nh", "ad", "fi", "nf", "in"]
                    .iter()
                    .any(|r| name.starts_with(r));
            assert!(known, "unknown request .{name} in: {line}");
        }
        assert!(
            !line.starts_with('\''),
            "a text line read as a request: {line}"
        );
        let mut escapes = line.split("\\f").skip(1);
        assert!(
            escapes.all(|rest| rest.starts_with(['B', 'I', 'R', 'P', '('])),
            "a font escape without a font: {line}"
        );
    }
    if let Ok(groff) = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        // Where groff is installed, it reads the page without a warning too.
        let mut groff = groff;
        std::io::Write::write_all(groff.stdin.as_mut().unwrap(), page.as_bytes()).unwrap();
        let checked = groff.wait_with_output().unwrap();
        assert!(
            checked.stderr.is_empty(),
            "groff: {}",
            text(&checked.stderr)
        );
    }
    page
}

#[test]
fn man_page_is_valid_roff_naming_every_subcommand() {
    let output = bpprof(&["man"]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    assert!(output.stderr.is_empty(), "{}", text(&output.stderr));
    let page = assert_valid_roff(&output.stdout, "bpprof");
    assert!(
        page.contains(".SH SUBCOMMANDS") || page.contains(".SH COMMANDS"),
        "{page}"
    );
    for name in subcommands() {
        assert!(
            page.contains(&format!("bpprof\\-{name}(1)")),
            "{name} in the page"
        );
    }
    assert!(
        page.contains("Exit codes"),
        "the page keeps the help's exit codes"
    );
}

#[test]
fn man_out_writes_one_valid_page_per_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let output = bpprof(&["man", "--out", dir.path().to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    assert!(output.stdout.is_empty(), "pages go to files");
    assert!(
        text(&output.stderr).starts_with("wrote "),
        "{}",
        text(&output.stderr)
    );
    assert_valid_roff(
        &std::fs::read(dir.path().join("bpprof.1")).unwrap(),
        "bpprof",
    );
    for name in subcommands() {
        let page = std::fs::read(dir.path().join(format!("bpprof-{name}.1")))
            .unwrap_or_else(|e| panic!("bpprof-{name}.1: {e}"));
        let page = assert_valid_roff(&page, &format!("bpprof-{name}"));
        assert!(
            page.contains(".SH OPTIONS"),
            "{name}: its options are documented"
        );
    }
}

#[test]
fn man_out_refuses_a_missing_directory_or_a_recording() {
    let dir = recordings();
    let missing = dir.path().join("no-such-dir");
    assert_one_error_line(
        &bpprof(&["man", "--out", missing.to_str().unwrap()]),
        "is not a directory",
    );
    // A recording called like a page is never replaced by one.
    std::fs::rename(dir.path().join("a.bpprof"), dir.path().join("bpprof-man.1")).unwrap();
    let output = bpprof_in(dir.path(), &["man", "--out", "."]);
    assert_one_error_line(&output, "bpprof-man.1");
    assert!(
        !dir.path().join("bpprof.1").exists(),
        "nothing is written on a refusal"
    );
}

// Colour.

#[test]
fn color_always_styles_the_verdict_and_the_level_column() {
    let dir = recordings();
    let output = bpprof_in(dir.path(), &["--color", "always", "locate", "a.bpprof"]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let plain = text(&bpprof_in(dir.path(), &["locate", "a.bpprof"]).stdout);
    let coloured = text(&output.stdout);
    assert!(
        coloured.starts_with(&format!("{ESC}[1m")),
        "bold verdict: {coloured}"
    );
    assert!(
        coloured.contains(&format!("{ESC}[31mHIGH")),
        "red HIGH: {coloured}"
    );
    let stripped = coloured
        .split(ESC)
        .enumerate()
        .map(|(i, part)| {
            if i == 0 {
                part
            } else {
                part.split_once('m').map_or(part, |(_, rest)| rest)
            }
        })
        .collect::<String>();
    assert_eq!(stripped, plain, "colour only adds escape codes");
}

#[test]
fn color_always_styles_the_result_of_check() {
    let dir = recordings();
    let output = bpprof_in(
        dir.path(),
        &[
            "check",
            "--color",
            "always",
            "--no-config",
            "--baseline",
            "a.bpprof",
            "b.bpprof",
        ],
    );
    let stdout = text(&output.stdout);
    assert_ne!(code(&output), 2, "{}", text(&output.stderr));
    let first = stdout.lines().next().unwrap_or_default();
    assert!(
        ["PASS", "REGRESSION", "INCONCLUSIVE"]
            .iter()
            .any(|word| first.contains(&format!("{word}{ESC}[0m:"))),
        "the result word is styled: {stdout} (exit {}: {})",
        code(&output),
        text(&output.stderr)
    );
}

#[test]
fn color_never_and_pipes_have_no_escape_codes() {
    let dir = recordings();
    for args in [
        &["locate", "a.bpprof"][..],
        &["--color", "never", "locate", "a.bpprof"],
        &["--color", "auto", "locate", "a.bpprof", "--timeline"],
        &["check", "--no-config", "--baseline", "a.bpprof", "b.bpprof"],
        &["locate", "missing.bpprof"],
    ] {
        // The test's stdout and stderr are pipes: `auto` does not colour them.
        let output = bpprof_in(dir.path(), args);
        assert_plain(&output.stdout, &format!("stdout of {args:?}"));
        assert_plain(&output.stderr, &format!("stderr of {args:?}"));
    }
}

#[test]
fn json_and_files_are_never_coloured() {
    let dir = recordings();
    let output = bpprof_in(
        dir.path(),
        &[
            "--color", "always", "locate", "a.bpprof", "--format", "json", "--svg", "job.svg",
        ],
    );
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    assert_plain(&output.stdout, "JSON");
    serde_json::from_slice::<serde_json::Value>(&output.stdout).expect("JSON parses");
    assert_plain(
        &std::fs::read(dir.path().join("job.svg")).unwrap(),
        "the SVG",
    );
    let output = bpprof_in(
        dir.path(),
        &[
            "--color",
            "always",
            "check",
            "--no-config",
            "--format",
            "json",
            "--markdown",
            "r.md",
            "--junit",
            "r.xml",
            "--baseline",
            "a.bpprof",
            "b.bpprof",
        ],
    );
    assert_plain(&output.stdout, "check's JSON");
    for file in ["r.md", "r.xml"] {
        assert_plain(&std::fs::read(dir.path().join(file)).unwrap(), file);
    }
}

#[test]
fn error_prefix_is_coloured_only_when_asked() {
    let output = bpprof(&["--color", "always", "locate", "missing.bpprof"]);
    assert_eq!(code(&output), 2);
    assert!(
        text(&output.stderr).starts_with(&format!("{ESC}[")),
        "{}",
        text(&output.stderr)
    );
    assert!(text(&output.stderr).contains("error:"));
    // A usage error follows --color too.
    let output = bpprof(&["--color", "always", "locat"]);
    assert_coloured(&output.stderr, "a usage error with --color always");
    assert_plain(&bpprof(&["locat"]).stderr, "a usage error on a pipe");
}

#[test]
fn clicolor_force_colours_a_pipe_and_no_color_wins_over_it() {
    let dir = recordings();
    let run = |vars: &[(&str, &str)], args: &[&str]| {
        let mut command = common::command_in(dir.path(), args);
        command.envs(vars.iter().copied());
        command.output().unwrap()
    };
    let forced = run(&[("CLICOLOR_FORCE", "1")], &["locate", "a.bpprof"]);
    assert_coloured(&forced.stdout, "CLICOLOR_FORCE=1");
    let both = run(
        &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")],
        &["locate", "a.bpprof"],
    );
    assert_plain(&both.stdout, "NO_COLOR=1 with CLICOLOR_FORCE=1");
    let always = run(
        &[("NO_COLOR", "1")],
        &["--color", "always", "locate", "a.bpprof"],
    );
    assert_coloured(&always.stdout, "--color always beats NO_COLOR");
}

/// Runs `command` with its stdout and stderr on a new pseudo-terminal; returns what it wrote
/// there and its exit code.
fn on_terminal(mut command: Command) -> (String, i32) {
    // SAFETY: posix_openpt has no preconditions; the result is checked.
    let master = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY) };
    assert!(
        master >= 0,
        "posix_openpt: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: `master` is a file descriptor just opened and owned by nothing else.
    let master = unsafe { OwnedFd::from_raw_fd(master) };
    use std::os::fd::AsRawFd;
    // SAFETY: grantpt and unlockpt take the master of a pseudo-terminal, as here.
    let prepared = unsafe {
        libc::grantpt(master.as_raw_fd()) == 0 && libc::unlockpt(master.as_raw_fd()) == 0
    };
    assert!(
        prepared,
        "grantpt/unlockpt: {}",
        std::io::Error::last_os_error()
    );
    let mut name = [0 as libc::c_char; 128];
    // SAFETY: `name` is writable for the length passed.
    let named = unsafe { libc::ptsname_r(master.as_raw_fd(), name.as_mut_ptr(), name.len()) };
    assert_eq!(named, 0, "ptsname_r");
    // SAFETY: ptsname_r wrote a NUL-terminated path into `name`.
    let path = unsafe { std::ffi::CStr::from_ptr(name.as_ptr()) };
    let terminal = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(Path::new(path.to_str().unwrap()))
        .expect("open the terminal");
    command
        .stdout(terminal.try_clone().unwrap())
        .stderr(terminal)
        .env("TERM", "xterm-256color")
        .env_remove("CI");
    let mut child = command.spawn().expect("bpprof runs");
    // Only the child holds the terminal now: reading ends (EIO) when it has exited.
    drop(command);
    let mut written = Vec::new();
    let _ = std::fs::File::from(master).read_to_end(&mut written);
    let status = child.wait().unwrap();
    (text(&written), status.code().unwrap_or(-1))
}

#[test]
fn auto_colours_a_terminal_unless_no_color_is_set() {
    let dir = recordings();
    let locate = |vars: &[(&str, &str)], color: &str| {
        let mut command = common::command_in(dir.path(), &["--color", color, "locate", "a.bpprof"]);
        command.envs(vars.iter().copied());
        on_terminal(command)
    };
    let (coloured, status) = locate(&[], "auto");
    assert_eq!(status, 0, "{coloured}");
    assert!(
        coloured.contains(&format!("{ESC}[31mHIGH")),
        "auto on a terminal: {coloured}"
    );
    let (plain, _) = locate(&[("NO_COLOR", "1")], "auto");
    assert!(!plain.contains(ESC), "NO_COLOR=1 on a terminal: {plain}");
    assert!(plain.contains("HIGH"), "{plain}");
    let (empty, _) = locate(&[("NO_COLOR", "")], "auto");
    assert!(
        empty.contains(ESC),
        "an empty NO_COLOR does not count: {empty}"
    );
    let (never, _) = locate(&[], "never");
    assert!(!never.contains(ESC), "--color never on a terminal: {never}");
    // clap's own help follows --color too.
    let mut help = command(&["locate", "--help", "--color", "never"]);
    help.current_dir(dir.path());
    let (help, _) = on_terminal(help);
    assert!(!help.contains(ESC), "help with --color never: {help}");
}

// Suggestions.

#[test]
fn mistyped_subcommand_suggests_the_right_one() {
    let output = bpprof(&["locat", "run.bpprof"]);
    assert_one_error_line(
        &output,
        "unrecognized subcommand 'locat'; did you mean 'locate'?",
    );
    assert_one_error_line(&bpprof(&["chek"]), "did you mean 'check'?");
}

#[test]
fn mistyped_value_of_an_enum_option_suggests_the_right_one() {
    for (args, expected) in [
        (
            &["locate", "r.bpprof", "--format", "jsn"][..],
            "did you mean 'json'?",
        ),
        (
            &["flame", "r.bpprof", "--mode", "on-cp"],
            "did you mean 'on-cpu'?",
        ),
        (
            &["--color", "allways", "locate", "r.bpprof"],
            "did you mean 'always'?",
        ),
        (&["completions", "bsh"], "did you mean 'bash'?"),
    ] {
        assert_one_error_line(&bpprof(args), expected);
    }
}

#[test]
fn mistyped_option_suggests_the_right_one() {
    assert_one_error_line(
        &bpprof(&["locate", "r.bpprof", "--timelin"]),
        "did you mean '--timeline'?",
    );
}

// Negative numbers.

#[test]
fn negative_times_are_refused_with_the_real_message() {
    let dir = recordings();
    for (args, expected) in [
        (
            &["locate", "a.bpprof", "--from", "-1"][..],
            "--from must be a non-negative number of seconds, got -1",
        ),
        (
            &["locate", "a.bpprof", "--from=-1"],
            "--from must be a non-negative number of seconds, got -1",
        ),
        (
            &["locate", "a.bpprof", "--to", "-2.5"],
            "--to must be a non-negative number of seconds, got -2.5",
        ),
        (
            &["locate", "a.bpprof", "--window", "-1"],
            "--window must be a positive number of seconds, got -1",
        ),
        (
            &["flame", "a.bpprof", "--from", "-1"],
            "--from must be a non-negative number of seconds, got -1",
        ),
        (
            &[
                "check",
                "--no-config",
                "a.bpprof",
                "--baseline",
                "b.bpprof",
                "--confidence",
                "-0.9",
            ],
            "--confidence must be between 0 and 1",
        ),
    ] {
        let output = bpprof_in(dir.path(), args);
        assert_one_error_line(&output, expected);
        assert!(
            !text(&output.stderr).contains("unexpected argument"),
            "{args:?}"
        );
    }
}

#[test]
fn negative_counts_are_refused_as_negative() {
    let dir = recordings();
    for (args, expected) in [
        (
            &["check", "a.bpprof", "--seed", "-1"][..],
            "invalid value '-1' for '--seed <N>': must be at least 0",
        ),
        (
            &["check", "a.bpprof", "--resamples", "-100"],
            "invalid value '-100' for '--resamples <N>': must be at least 0",
        ),
        (
            &["check", "a.bpprof", "--min-windows", "-1"],
            "invalid value '-1' for '--min-windows <N>': must be at least 0",
        ),
        (
            &["flame", "a.bpprof", "--width", "-800"],
            "invalid value '-800' for '--width <PIXELS>': give a number of pixels of at least 100",
        ),
        (
            &["record", "--sample-hz", "-1", "--", "true"],
            "invalid value '-1' for '--sample-hz <HZ>': must be at least 0",
        ),
    ] {
        assert_one_error_line(&bpprof_in(dir.path(), args), expected);
    }
}

#[test]
fn negative_numbers_where_they_mean_something_are_accepted() {
    let dir = recordings();
    // A limit is a size of change in either direction: a sign is allowed.
    let output = bpprof_in(
        dir.path(),
        &[
            "check",
            "--no-config",
            "--baseline",
            "a.bpprof",
            "b.bpprof",
            "--limit",
            "throughput=-5%",
            "--assert",
            "Source.busy > -1",
        ],
    );
    assert!(code(&output) != 2, "{}", text(&output.stderr));
    // The recorded command's own arguments are passed on as they are, `-1` included.
    let output = bpprof_in(
        dir.path(),
        &[
            "record",
            "-o",
            "x.bpprof",
            "sh",
            "-c",
            "echo \"$1\" > args.txt",
            "sh",
            "-1",
        ],
    );
    assert_eq!(
        code(&output),
        2,
        "sh records nothing: {}",
        text(&output.stderr)
    );
    assert!(
        text(&output.stderr).contains("wrote no recording"),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("args.txt")).unwrap(),
        "-1\n"
    );
}
