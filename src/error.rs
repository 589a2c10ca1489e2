//! The library's one error type; each variant carries what the user needs to fix it,
//! and maps to an exit code of SPEC 6 (2 config, 3 input, 4 conservation, 5 held, 1 other).

use std::path::PathBuf;

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can stop a run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// One or more configuration or pricing problems, all reported at once.
    #[error("{} configuration problem(s):\n  {}", .0.len(), .0.join("\n  "))]
    Config(Vec<String>),

    /// A CUR or log input that cannot be used (an empty path: the message
    /// says where).
    #[error("{}{message}", if path.as_os_str().is_empty() { String::new() } else { format!("{}: ", path.display()) })]
    Input { path: PathBuf, message: String },

    /// The allocation identity of SPEC 4.6 does not hold; nothing is written.
    #[error(
        "conservation failed for {date}: cur_total {cur_total} != allocated {allocated} + unallocated {unallocated} + excluded {excluded} + out of scope {out_of_scope} (1e-10 USD)"
    )]
    Conservation {
        date: chrono::NaiveDate,
        cur_total: i128,
        allocated: i128,
        unallocated: i128,
        excluded: i128,
        out_of_scope: i128,
    },

    /// A day's inputs are not there yet: no CUR row, or no transaction in
    /// its logs (exit 3; `refresh` waits for it within its grace days).
    #[error("{path}: {message}")]
    NotYet { path: PathBuf, message: String },

    /// Some days of a `refresh` failed (each reported on its line); the
    /// exit code is the worst day's.
    #[error("{failed} of {days} days failed")]
    Days {
        failed: usize,
        days: usize,
        code: u8,
    },

    /// A money value that does not fit DECIMAL(18,10) (an input error: SPEC 2.2).
    #[error("{context}: {value} (1e-10 USD) does not fit DECIMAL(18,10)")]
    MoneyOverflow { context: String, value: i128 },

    /// Reading or writing a file failed (the OS error is the source: printed once, in the chain).
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Another run holds the day (SPEC 5.1): nothing was written.
    #[error("{date} is being published by run {holder:?} (lock {lock}); try again when it is done")]
    Held {
        date: chrono::NaiveDate,
        holder: String,
        lock: PathBuf,
    },

    /// An S3 or Glue request on the output side failed.
    #[error("{what}: {message}")]
    Storage { what: String, message: String },

    /// Parquet or Arrow failed while writing or reading outputs.
    #[error("{path}: {message}")]
    Parquet { path: PathBuf, message: String },
}

impl Error {
    /// The process exit code SPEC 6 assigns to this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(_) => 2,
            Error::Input { .. } | Error::NotYet { .. } | Error::MoneyOverflow { .. } => 3,
            Error::Days { code, .. } => *code,
            Error::Conservation { .. } => 4,
            Error::Held { .. } => 5,
            Error::Io { .. } | Error::Storage { .. } | Error::Parquet { .. } => 1,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn input(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Input {
            path: path.into(),
            message: message.into(),
        }
    }

    /// An input that cannot be opened or read (exit 3), the OS error said once.
    pub(crate) fn unreadable(path: impl Into<PathBuf>, e: &std::io::Error) -> Self {
        Error::Input {
            path: path.into(),
            message: format!("unreadable: {e}"),
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Error::Config(vec![message.into()])
    }
}
