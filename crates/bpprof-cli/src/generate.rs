//! `bpprof completions SHELL` and `bpprof man`: shell completions and manual pages, generated
//! from the command-line definition itself (clap_complete, clap_mangen), so they never drift
//! from it.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;

use crate::outputs::{check_output, Inputs, Output};
use crate::{Cli, Failure};

/// The name the completions and pages are written for.
const BIN: &str = "bpprof";

/// Arguments of `bpprof completions`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  bpprof completions bash > ~/.local/share/bash-completion/completions/bpprof\n  bpprof completions zsh > ~/.zfunc/_bpprof      # with fpath+=~/.zfunc before compinit\n  bpprof completions fish > ~/.config/fish/completions/bpprof.fish"
)]
pub struct CompletionsArgs {
    /// The shell to write the completion script for.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: Shell,
}

/// Arguments of `bpprof man`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  bpprof man | man -l -\n  bpprof man --out ~/.local/share/man/man1    # then: man bpprof-locate"
)]
pub struct ManArgs {
    /// Write every page into the directory DIR instead: bpprof.1 and one page per subcommand
    /// (bpprof-locate.1, bpprof-check.1, ...), as `man bpprof-SUBCOMMAND` finds them. Without it,
    /// the page bpprof(1) is printed on standard output.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Runs `bpprof completions`: the script on `out`.
pub fn completions(args: &CompletionsArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    clap_complete::generate(args.shell, &mut Cli::command(), BIN, out);
    out.flush()?;
    Ok(())
}

/// Runs `bpprof man`: the page bpprof(1) on `out`, or every page into `--out DIR`.
pub fn man(args: &ManArgs, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<()> {
    let Some(dir) = &args.out else {
        let (_, page) = pages()?.swap_remove(0);
        out.write_all(&page)?;
        out.flush()?;
        return Ok(());
    };
    if !dir.is_dir() {
        return Err(Failure::bad_input(
            format!("--out '{}' is not a directory", dir.display()),
            "create it first (mkdir -p), or leave --out away to print the page",
        )
        .into());
    }
    let pages = pages()?;
    for (name, _) in &pages {
        check_output(&dir.join(name), "--out", Output::Report, &Inputs::new([]))?;
    }
    for (name, page) in &pages {
        write_page(&dir.join(name), page)?;
    }
    let _ = writeln!(
        err,
        "wrote {} manual pages to {}",
        pages.len(),
        dir.display()
    );
    Ok(())
}

/// Every manual page, by file name: `bpprof.1`, then `bpprof-SUBCOMMAND.1` for each subcommand.
pub fn pages() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut command = Cli::command().disable_help_subcommand(true);
    // Every page's footer names the program and its version, not the subcommand.
    let source = format!("{BIN} {}", command.get_version().unwrap_or_default());
    // Gives each subcommand its display name (`bpprof-locate`), which its page is called by.
    command.build();
    std::iter::once(command.clone())
        .chain(command.get_subcommands().cloned())
        .map(|command| {
            let man = clap_mangen::Man::new(command).source(&source);
            let mut page = Vec::new();
            man.render(&mut page)?;
            Ok((man.get_filename(), page))
        })
        .collect()
}

/// Writes one page, as one error line when it cannot.
fn write_page(path: &Path, page: &[u8]) -> Result<(), Failure> {
    std::fs::write(path, page).map_err(|e| {
        Failure::bad_input(
            format!("cannot write manual page '{}': {e}", path.display()),
            "check that the directory is writable",
        )
    })
}
