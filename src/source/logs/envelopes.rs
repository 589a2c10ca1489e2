//! The envelopes log events arrive in (SPEC 2.4): CloudWatch export lines and
//! JSON lines read line by line, Firehose records (concatenated JSON) read
//! record by record; why reading an object stopped.

use std::io::BufRead;
use std::path::Path;

use serde::Deserialize;

use super::event::Message;
use super::lines::{Line, Lines};
use crate::config::LogFormat;
use crate::model::LogCounters;
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
    /// that is not one), after `read` lines (or events) were:
    /// `--allow-corrupt-input` counts the file and goes on.
    Corrupt { message: String, read: u64 },
    /// Bytes that could not be read at all: always an input error.
    Unreadable(String),
}

pub(super) fn describe_read_error(e: &std::io::Error, read: u64, what: &str) -> ReadFailure {
    if Unreadable::is(e) {
        ReadFailure::Unreadable(format!("unreadable after {read} {what}: {e}"))
    } else {
        ReadFailure::Corrupt {
            message: format!("corrupt or truncated gzip stream after {read} {what}: {e}"),
            read,
        }
    }
}

/// Events parsed and absorbed together: at most this many lines of a block
/// (or events of a Firehose record) make a batch.
pub(super) const BATCH_EVENTS: usize = 1024;

/// Where an envelope's reader puts what it reads: batches of messages, and
/// the counts of what is no message.
pub(super) trait Receiver {
    fn counters(&mut self) -> &mut LogCounters;
    /// A line that gives no event (kept when it is the earliest).
    fn unused(&mut self, path: &Path, line_no: u64, text: &[u8]);
    /// Whether a Firehose event is delivered for the first time.
    fn first_delivery(&self, log_group: &str, log_stream: &str, id: &str) -> bool;
    fn messages(&mut self, path: &Path, messages: &[Message<'_>]);
}

/// Reads `reader` line by line (CloudWatch export lines or JSON lines, as
/// `format` says; lines over `max_line_bytes` counted oversized) into
/// `receiver`, in batches read into `block`, which is handed back at the end.
pub(super) fn read_lines(
    path: &Path,
    reader: Box<dyn BufRead>,
    format: LogFormat,
    max_line_bytes: usize,
    block: Vec<u8>,
    receiver: &mut impl Receiver,
) -> std::result::Result<Vec<u8>, ReadFailure> {
    let mut lines = Lines::new(reader, max_line_bytes, block);
    let mut batch = Vec::with_capacity(BATCH_EVENTS);
    let mut line_no = 0u64;
    loop {
        // The error that ends the input comes after the lines read before
        // it, as if read one by one.
        match lines.batch(BATCH_EVENTS, &mut batch) {
            Ok(true) => {}
            Ok(false) => return Ok(lines.into_block()),
            Err(e) => return Err(describe_read_error(&e, line_no, "lines")),
        }
        let block = lines.block();
        let mut messages: Vec<Message<'_>> = Vec::with_capacity(batch.len());
        for line in &batch {
            line_no += 1;
            receiver.counters().lines += 1;
            let Line::Text(range) = line else {
                receiver.counters().oversized += 1;
                continue;
            };
            let line = trim_line_end(&block[range.clone()]);
            if line.iter().all(u8::is_ascii_whitespace) {
                receiver.counters().blank += 1;
                continue;
            }
            let (envelope_ts, text) = match format {
                LogFormat::CloudwatchExport => match split_export_line(line) {
                    Some((ts, message)) => (Some(ts), message),
                    // A line without the export's timestamp: a continuation of a
                    // multi-line message (stack trace), plain text by definition.
                    None => {
                        receiver.counters().non_json += 1;
                        receiver.unused(path, line_no, line);
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
        receiver.messages(path, &messages);
    }
}

/// Reads `reader` as Firehose records of CloudWatch Logs subscription data
/// (concatenated JSON) into `receiver`, record by record; control messages
/// and events delivered before are counted, not handed on.
pub(super) fn read_firehose(
    path: &Path,
    reader: Box<dyn BufRead>,
    receiver: &mut impl Receiver,
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
                ReadFailure::Corrupt {
                    message: format!(
                        "record {} is not a CloudWatch Logs subscription record: {e}",
                        index + 1
                    ),
                    read: line_no,
                }
            }
        })?;
        if record.message_type == "CONTROL_MESSAGE" {
            receiver.counters().control_messages += 1;
            continue;
        }
        let mut messages = Vec::with_capacity(record.log_events.len());
        for event in &record.log_events {
            line_no += 1;
            receiver.counters().lines += 1;
            // Firehose delivers at least once: an event id seen before is used once.
            if let Some(id) = &event.id
                && !receiver.first_delivery(&record.log_group, &record.log_stream, id)
            {
                receiver.counters().duplicate += 1;
                continue;
            }
            let text = event.message.as_bytes();
            if text.iter().all(u8::is_ascii_whitespace) {
                receiver.counters().blank += 1;
                continue;
            }
            messages.push(Message {
                line_no,
                envelope_ts: event.timestamp.or(Some(i64::MIN)),
                text,
            });
        }
        for batch in messages.chunks(BATCH_EVENTS) {
            receiver.messages(path, batch);
        }
    }
    Ok(())
}
