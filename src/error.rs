//! The library's error: what went wrong, typed by who is to blame (the input, the budget, the
//! run itself), with context added as it rises (`Context::context`). The exit code follows from
//! the variant (`Error::code`), so no layer has to know about processes; the message a user
//! reads is the chain joined by ": ", as `Display` prints it.

use crate::fit::FitError;
use crate::scenario::ScenarioError;

/// Any error callsim reports.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A scenario file, variant or `--set` is wrong (exit 2).
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// Other bad input: flags, traces, shard files, output folders (exit 2).
    #[error("{0}")]
    Input(String),
    /// The estimated work exceeds the budget (`--max-events`, `--max-memory`,
    /// `--max-output`); nothing ran (exit 2).
    #[error("{0}")]
    OverBudget(String),
    /// A replication was stopped at its runtime budget (exit 3).
    #[error("{0}")]
    Stopped(String),
    /// The run itself failed: I/O, a worker pool, a bug caught at a replication (exit 1).
    #[error("{0}")]
    Failed(String),
    /// `callsim fit` (input or I/O, as the fit error says).
    #[error(transparent)]
    Fit(#[from] FitError),
    /// `callsim report` (input or I/O, as the report error says).
    #[error(transparent)]
    Report(#[from] crate::report::Error),
    /// `source`, with what was being done when it happened.
    #[error("{context}: {source}")]
    Context {
        context: String,
        #[source]
        source: Box<Error>,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Bad input (exit 2).
    pub fn input(m: impl Into<String>) -> Self {
        Error::Input(m.into())
    }

    /// A failed run (exit 1).
    pub fn failure(m: impl Into<String>) -> Self {
        Error::Failed(m.into())
    }

    /// The process exit code: 2 bad input (including work over the budget), 1 a failed run,
    /// 3 a run stopped at its runtime budget.
    pub fn code(&self) -> i32 {
        match self {
            Error::Scenario(_) | Error::Input(_) | Error::OverBudget(_) => 2,
            Error::Stopped(_) => 3,
            Error::Failed(_) => 1,
            Error::Fit(e) => {
                if e.input {
                    2
                } else {
                    1
                }
            }
            Error::Report(crate::report::Error::Input(_)) => 2,
            Error::Report(crate::report::Error::Io(_)) => 1,
            Error::Context { source, .. } => source.code(),
        }
    }

    /// The innermost error, past every context.
    pub fn root(&self) -> &Error {
        match self {
            Error::Context { source, .. } => source.root(),
            e => e,
        }
    }
}

/// Adds context to an error as it rises, keeping its kind (and so its exit code).
pub trait Context<T> {
    fn context(self, context: impl Into<String>) -> Result<T>;
    fn with_context<S: Into<String>>(self, f: impl FnOnce() -> S) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn context(self, context: impl Into<String>) -> Result<T> {
        self.map_err(|e| Error::Context {
            context: context.into(),
            source: Box::new(e.into()),
        })
    }
    fn with_context<S: Into<String>>(self, f: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|e| Error::Context {
            context: f().into(),
            source: Box::new(e.into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_keeps_the_kind_and_chains_the_message() {
        let e: Result<()> = Err(Error::Stopped("over budget".into()));
        let e = e
            .context("replication 3")
            .context("scenario x.toml")
            .unwrap_err();
        assert_eq!(e.to_string(), "scenario x.toml: replication 3: over budget");
        assert_eq!(e.code(), 3);
        assert!(matches!(e.root(), Error::Stopped(_)));
        // The chain is walkable as std errors.
        let mut n = 0;
        let mut cur: Option<&dyn std::error::Error> = Some(&e);
        while let Some(c) = cur {
            n += 1;
            cur = c.source();
        }
        assert_eq!(n, 3);
        assert_eq!(Error::input("x").code(), 2);
        assert_eq!(Error::OverBudget("x".into()).code(), 2);
        assert_eq!(Error::failure("x").code(), 1);
        assert_eq!(Error::from(FitError::io("x")).code(), 1);
    }
}
