//! What reading the logs counted (SPEC 2.4: every line in exactly one bucket)
//! and the samples kept for the run report: made by the log source, written
//! by the sink and the run report.

use std::path::PathBuf;

/// Where every line went. `lines` is the sum of the per-line buckets
/// (`events` .. `bad_timestamp`); `control_messages`, `type_conflicts` and
/// the file counts are not lines.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LogCounters {
    pub files: u64,
    #[serde(skip)]
    pub bytes: u64,
    pub lines: u64,
    /// Events of the day with a transaction: the ones allocation uses.
    pub events: u64,
    pub out_of_day: u64,
    pub non_json: u64,
    pub no_transaction: u64,
    pub missing_service: u64,
    pub malformed: u64,
    pub blank: u64,
    pub bad_timestamp: u64,
    /// Firehose re-deliveries of an event already read (same group, stream, id).
    pub duplicate: u64,
    /// Lines longer than `max_line_bytes`, skipped without being held.
    pub oversized: u64,
    pub control_messages: u64,
    pub corrupt_files: u64,
    /// Names not read: hidden (`.`/`_`) entries and non-regular files.
    pub skipped_files: u64,
    pub type_conflicts: u64,
}

impl LogCounters {
    pub fn add(&mut self, o: &LogCounters) {
        self.files += o.files;
        self.bytes += o.bytes;
        self.lines += o.lines;
        self.events += o.events;
        self.out_of_day += o.out_of_day;
        self.non_json += o.non_json;
        self.no_transaction += o.no_transaction;
        self.missing_service += o.missing_service;
        self.malformed += o.malformed;
        self.blank += o.blank;
        self.bad_timestamp += o.bad_timestamp;
        self.control_messages += o.control_messages;
        self.duplicate += o.duplicate;
        self.oversized += o.oversized;
        self.corrupt_files += o.corrupt_files;
        self.skipped_files += o.skipped_files;
        self.type_conflicts += o.type_conflicts;
    }

    /// The per-line buckets add up to the lines read.
    pub fn balanced(&self) -> bool {
        self.lines == self.per_line_buckets()
    }

    /// The lines in the per-line buckets (`events` .. `oversized`).
    pub fn per_line_buckets(&self) -> u64 {
        self.events
            + self.out_of_day
            + self.non_json
            + self.no_transaction
            + self.missing_service
            + self.malformed
            + self.blank
            + self.bad_timestamp
            + self.duplicate
            + self.oversized
    }
}

/// A line that looked like JSON but was not usable.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Sample {
    pub file: PathBuf,
    pub line: u64,
    pub error: String,
}
