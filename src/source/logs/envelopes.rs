//! The envelopes log events arrive in (SPEC 2.4): CloudWatch export lines and
//! JSON lines read line by line, Firehose records (concatenated JSON) read
//! record by record; why reading an object stopped.

use std::io::BufRead;
use std::path::Path;

use serde::Deserialize;

use super::event::Message;
use super::lines::{Line, Lines};
use super::reader::{Acc, BATCH_EVENTS, LogReader};
use crate::config::LogFormat;
use crate::storage::Unreadable;

/// A line without the carriage returns at its end ([`Lines`] hands it out
/// without its newline).
pub(super) fn trim_line_end(line: &[u8]) -> &[u8] {
    let end = line.iter().rposition(|&b| b != b'\r').map_or(0, |i| i + 1);
    &line[..end]
}

/// `2026-11-23T14:02:11.532Z {"transaction_id":...}` -> (epoch ms, message).
pub(super) fn split_export_line(line: &[u8]) -> Option<(i64, &[u8])> {
    let space = memchr::memchr(b' ', line)?;
    let ts = &line[..space];
    if !ts.first()?.is_ascii_digit() {
        return None;
    }
    // The export's own form read by position, any other the general way.
    let micros = match crate::source::timestamps::parse_utc_micros(ts) {
        Some(micros) => micros,
        None => crate::source::timestamps::parse_iso8601_micros(std::str::from_utf8(ts).ok()?)?,
    };
    Some((micros.div_euclid(1000), &line[space + 1..]))
}

/// Why an object's reading stopped before its end.
pub(super) enum ReadFailure {
    /// Bytes that were read and do not decode (a bad gzip stream, a record
    /// that is not one): `--allow-corrupt-input` counts the file and goes on.
    Corrupt(String),
    /// Bytes that could not be read at all: always an input error.
    Unreadable(String),
}

pub(super) fn describe_read_error(e: &std::io::Error, read: u64, what: &str) -> ReadFailure {
    if Unreadable::is(e) {
        ReadFailure::Unreadable(format!("unreadable after {read} {what}: {e}"))
    } else {
        ReadFailure::Corrupt(format!(
            "corrupt or truncated gzip stream after {read} {what}: {e}"
        ))
    }
}

impl LogReader<'_> {
    pub(super) fn read_lines(
        &self,
        path: &Path,
        reader: Box<dyn BufRead>,
        acc: &mut Acc,
    ) -> std::result::Result<(), ReadFailure> {
        let mut lines = Lines::new(reader, self.max_line_bytes, std::mem::take(&mut acc.block));
        let mut batch = Vec::with_capacity(BATCH_EVENTS);
        let mut line_no = 0u64;
        loop {
            // The error that ends the input comes after the lines read before
            // it, as if read one by one.
            match lines.batch(BATCH_EVENTS, &mut batch) {
                Ok(true) => {}
                Ok(false) => {
                    acc.block = lines.into_block();
                    return Ok(());
                }
                Err(e) => return Err(describe_read_error(&e, line_no, "lines")),
            }
            let block = lines.block();
            let mut messages: Vec<Message<'_>> = Vec::with_capacity(batch.len());
            for line in &batch {
                line_no += 1;
                acc.counters.lines += 1;
                let Line::Text(range) = line else {
                    acc.counters.oversized += 1;
                    continue;
                };
                let line = trim_line_end(&block[range.clone()]);
                if line.iter().all(u8::is_ascii_whitespace) {
                    acc.counters.blank += 1;
                    continue;
                }
                let (envelope_ts, text) = match self.format {
                    LogFormat::CloudwatchExport => match split_export_line(line) {
                        Some((ts, message)) => (Some(ts), message),
                        // A line without the export's timestamp: a continuation of a
                        // multi-line message (stack trace), plain text by definition.
                        None => {
                            acc.counters.non_json += 1;
                            acc.unused(path, line_no, line);
                            continue;
                        }
                    },
                    _ => (None, line),
                };
                messages.push(Message {
                    line_no,
                    envelope_ts,
                    text,
                });
            }
            self.handle_messages(path, &messages, acc);
        }
    }

    pub(super) fn read_firehose(
        &self,
        path: &Path,
        reader: Box<dyn BufRead>,
        acc: &mut Acc,
    ) -> std::result::Result<(), ReadFailure> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Record {
            message_type: String,
            #[serde(default)]
            log_group: String,
            #[serde(default)]
            log_stream: String,
            #[serde(default)]
            log_events: Vec<LogEvent>,
        }
        #[derive(Deserialize)]
        struct LogEvent {
            id: Option<String>,
            timestamp: Option<i64>,
            message: String,
        }
        let mut line_no = 0u64;
        let stream = serde_json::Deserializer::from_reader(reader).into_iter::<Record>();
        for (index, record) in stream.enumerate() {
            let record = record.map_err(|e| {
                if e.is_io() {
                    describe_read_error(&std::io::Error::from(e), line_no, "events")
                } else {
                    ReadFailure::Corrupt(format!(
                        "record {} is not a CloudWatch Logs subscription record: {e}",
                        index + 1
                    ))
                }
            })?;
            if record.message_type == "CONTROL_MESSAGE" {
                acc.counters.control_messages += 1;
                continue;
            }
            let mut messages = Vec::with_capacity(record.log_events.len());
            for event in &record.log_events {
                line_no += 1;
                acc.counters.lines += 1;
                // Firehose delivers at least once: an event id seen before is used once.
                if let Some(id) = &event.id
                    && !acc
                        .shards
                        .first_delivery(&record.log_group, &record.log_stream, id)
                {
                    acc.counters.duplicate += 1;
                    continue;
                }
                let text = event.message.as_bytes();
                if text.iter().all(u8::is_ascii_whitespace) {
                    acc.counters.blank += 1;
                    continue;
                }
                messages.push(Message {
                    line_no,
                    envelope_ts: event.timestamp.or(Some(i64::MIN)),
                    text,
                });
            }
            for batch in messages.chunks(BATCH_EVENTS) {
                self.handle_messages(path, batch, acc);
            }
        }
        Ok(())
    }
}
