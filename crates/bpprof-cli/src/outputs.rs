//! The one rule for every file `bpprof` writes: it never destroys data.
//!
//! An output is never written over a file the same command reads (a recording, a settings
//! file), and an output that is not a recording (a picture, a graph, a report) is never written
//! over a bpprof recording, whoever's it is. An output that *is* a recording (`merge -o`,
//! `record -o`) may replace a previous recording, so that re-running a command works, but no
//! other file.
//!
//! Files are compared by identity (device and inode, after following symbolic links), not by the
//! path as written: `run.bpprof`, `./run.bpprof`, a symbolic link to it and a hard link of it are
//! all the same file. Every writer of the CLI goes through [`check_output`] before it creates or
//! truncates its file; `merge` also refuses to read one file twice ([`Inputs::refuse_duplicates`]).

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::Failure;

/// Which file a path names: its device and inode, after following symbolic links.
#[cfg(unix)]
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileId {
    device: u64,
    inode: u64,
}

#[cfg(unix)]
impl FileId {
    /// The identity of the file at `path`, `None` when there is none.
    fn of(path: &Path) -> Option<FileId> {
        use std::os::unix::fs::MetadataExt;
        fs::metadata(path).ok().map(|m| FileId {
            device: m.dev(),
            inode: m.ino(),
        })
    }
}

/// Which file a path names: without inodes, its canonical path (hard links are then not seen).
#[cfg(not(unix))]
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileId(PathBuf);

#[cfg(not(unix))]
impl FileId {
    /// The identity of the file at `path`, `None` when there is none.
    fn of(path: &Path) -> Option<FileId> {
        fs::canonicalize(path).ok().map(FileId)
    }
}

/// The files a command reads, which none of its outputs may replace.
#[derive(Debug, Default)]
pub(crate) struct Inputs {
    /// Each existing input as given on the command line, with its identity. Inputs that do not
    /// exist are left out: reading them fails with its own error.
    files: Vec<(PathBuf, FileId)>,
}

impl Inputs {
    /// The inputs at `paths`; `-` (standard input) is not a file and is left out. An input that
    /// names a series of files (a directory, a glob pattern, the base name of a rotated
    /// recording) is each of its files.
    pub(crate) fn new<'a>(paths: impl IntoIterator<Item = &'a Path>) -> Inputs {
        let files = paths
            .into_iter()
            .filter(|p| p.as_os_str() != "-")
            .flat_map(|p| bpprof_format::recording_files(p).unwrap_or_else(|_| vec![p.to_owned()]))
            .filter_map(|p| FileId::of(&p).map(|id| (p, id)))
            .collect();
        Inputs { files }
    }

    /// The input that is the file `id`, if any.
    fn find(&self, id: &FileId) -> Option<&Path> {
        self.files
            .iter()
            .find(|(_, other)| other == id)
            .map(|(path, _)| path.as_path())
    }

    /// Refuses two inputs that are the same file (`merge a a`, or `a` and a link to it):
    /// `consequence` says what reading it twice would do.
    pub(crate) fn refuse_duplicates(&self, consequence: &str) -> Result<(), Failure> {
        for (i, (path, id)) in self.files.iter().enumerate() {
            if let Some((first, _)) = self.files[..i].iter().find(|(_, other)| other == id) {
                let what = if first == path {
                    format!("'{}' is given twice", path.display())
                } else {
                    format!(
                        "'{}' and '{}' are the same file",
                        first.display(),
                        path.display()
                    )
                };
                return Err(Failure::bad_input(
                    format!("{what}, which {consequence}"),
                    "pass each recording once",
                ));
            }
        }
        Ok(())
    }
}

/// The pairs `(i, j)` for which `first[i]` and `second[j]` are the same file (by identity, as
/// [`Inputs`] compares them); paths that name no file are in none.
pub(crate) fn same_files(first: &[PathBuf], second: &[PathBuf]) -> Vec<(usize, usize)> {
    let ids = |paths: &[PathBuf]| -> Vec<Option<FileId>> {
        paths.iter().map(|p| FileId::of(p)).collect()
    };
    let (first, second) = (ids(first), ids(second));
    let mut pairs = Vec::new();
    for (i, a) in first.iter().enumerate() {
        for (j, b) in second.iter().enumerate() {
            if a.is_some() && a == b {
                pairs.push((i, j));
            }
        }
    }
    pairs
}

/// What an output is, which decides what it may replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Output {
    /// A picture, a graph or a report: it never replaces a bpprof recording.
    Report,
    /// A recording: it replaces a previous recording (or an empty file), nothing else.
    Recording,
}

/// Refuses to write the output `path` (given with `option`, e.g. `-o`, `--svg`) when that would
/// destroy data: when `path` is one of `inputs`, or holds a file that an output of this kind may
/// not replace (see the [module documentation](self)). Nothing is written either way.
pub(crate) fn check_output(
    path: &Path,
    option: &str,
    output: Output,
    inputs: &Inputs,
) -> Result<(), Failure> {
    let Some(id) = FileId::of(path) else {
        // Nothing there yet (or nothing that can be read): writing creates it.
        return Ok(());
    };
    let shown = path.display();
    let refuse = |what: String, fix: String| Err(Failure::bad_input(what, fix));
    if let Some(input) = inputs.find(&id) {
        let what = if input == path {
            format!(
                "{option} '{shown}' is an input of this command, which writing there would destroy"
            )
        } else {
            format!(
                "{option} '{shown}' is the same file as the input '{}', which writing there would destroy",
                input.display()
            )
        };
        return refuse(what, format!("give {option} another path"));
    }
    match (output, Content::of(path)) {
        (Output::Report, Content::Recording) => refuse(
            format!("{option} '{shown}' is a bpprof recording, which writing there would destroy"),
            format!("give {option} another path"),
        ),
        (Output::Recording, Content::NotAFile) => refuse(
            format!("{option} '{shown}' is not a regular file, which a recording cannot replace"),
            format!("give {option} the path of a file"),
        ),
        (Output::Recording, Content::Other) => refuse(
            format!(
                "{option} '{shown}' exists and is not a bpprof recording, which writing there would destroy"
            ),
            format!("give {option} another path, or remove the file first"),
        ),
        _ => Ok(()),
    }
}

/// Refuses two outputs of one command that name the same file (`--svg x --dot x`): the second
/// would replace the first. `outputs` are the paths with the options that gave them.
pub(crate) fn refuse_same_outputs(outputs: &[(&Path, &str)]) -> Result<(), Failure> {
    for (i, &(path, option)) in outputs.iter().enumerate() {
        for &(earlier, earlier_option) in &outputs[..i] {
            if same_file(earlier, path) {
                return Err(Failure::bad_input(
                    format!(
                        "{earlier_option} '{}' and {option} '{}' are the same file, which the second would overwrite",
                        earlier.display(),
                        path.display()
                    ),
                    format!("give {earlier_option} and {option} different paths"),
                ));
            }
        }
    }
    Ok(())
}

/// Whether `a` and `b` name one file: the same identity when both exist, else the same absolute
/// path (a file not created yet has no identity).
fn same_file(a: &Path, b: &Path) -> bool {
    match (FileId::of(a), FileId::of(b)) {
        (Some(a), Some(b)) => a == b,
        (None, None) => match (std::path::absolute(a), std::path::absolute(b)) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        },
        _ => false,
    }
}

/// The temporary file next to `path` that a recording is written into before it is renamed to
/// `path` (`DIR/.NAME.PID.partial`): in the same directory, so that the rename replaces what was
/// at `path` in one step, and a write that fails half-way leaves it untouched.
pub(crate) fn partial_path(path: &Path) -> PathBuf {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or("recording".as_ref()));
    name.push(format!(".{}.partial", std::process::id()));
    dir.join(name)
}

/// What an existing file holds, as far as [`check_output`] is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Content {
    /// Nothing: an empty file.
    Empty,
    /// A bpprof recording: it starts with the magic bytes, or with a part of them (a recording cut
    /// short while its preamble was written).
    Recording,
    /// Anything else, including a file that cannot be read (it is somebody's, so it is kept).
    Other,
    /// Not a regular file: a directory, a device such as `/dev/null` or `/dev/stdout`, a pipe.
    /// It is never opened to look inside (reading a pipe could wait forever); a report may be
    /// written to it, a recording (written to a new file, then renamed) may not.
    NotAFile,
}

impl Content {
    fn of(path: &Path) -> Content {
        if !fs::metadata(path).is_ok_and(|m| m.is_file()) {
            return Content::NotAFile;
        }
        let magic = &bpprof_format::MAGIC;
        let mut start = Vec::with_capacity(magic.len());
        let read =
            File::open(path).and_then(|f| f.take(magic.len() as u64).read_to_end(&mut start));
        match read {
            Ok(0) => Content::Empty,
            Ok(_) if magic.starts_with(&start) => Content::Recording,
            _ => Content::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[(&str, &[u8])]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in files {
            fs::write(dir.path().join(name), bytes).unwrap();
        }
        dir
    }

    #[test]
    fn content_tells_recordings_empty_files_and_others_apart() {
        let dir = dir_with(&[
            ("rec", &bpprof_format::MAGIC),
            ("cut", &bpprof_format::MAGIC[..3]),
            ("empty", b""),
            ("text", b"hello, world"),
        ]);
        let of = |name: &str| Content::of(&dir.path().join(name));
        assert_eq!(of("rec"), Content::Recording);
        assert_eq!(of("cut"), Content::Recording);
        assert_eq!(of("empty"), Content::Empty);
        assert_eq!(of("text"), Content::Other);
        assert_eq!(of("."), Content::NotAFile);
        assert_eq!(Content::of(Path::new("/dev/null")), Content::NotAFile);
    }

    #[test]
    fn an_input_is_found_through_another_path_to_it() {
        let dir = dir_with(&[("a.txt", b"a")]);
        let a = dir.path().join("a.txt");
        let inputs = Inputs::new([a.as_path()]);
        fs::create_dir(dir.path().join("sub")).unwrap();
        let other_spelling = dir.path().join("sub").join("..").join("a.txt");
        let refused = check_output(&other_spelling, "-o", Output::Report, &inputs).unwrap_err();
        assert!(refused.what.contains("same file as the input"), "{refused}");
        let elsewhere = dir.path().join("b.txt");
        assert!(check_output(&elsewhere, "-o", Output::Report, &inputs).is_ok());
    }

    #[test]
    fn missing_inputs_and_stdin_are_left_out() {
        let inputs = Inputs::new([Path::new("-"), Path::new("/no/such/file")]);
        assert!(inputs.files.is_empty());
        assert!(inputs.refuse_duplicates("x").is_ok());
    }
}
