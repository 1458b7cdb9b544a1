//! The error for the user that every subcommand returns ([`Failure`]).

use crate::exit;

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
