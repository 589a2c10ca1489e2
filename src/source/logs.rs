//! Log source (SPEC 2.4): streams CloudWatch export, Firehose and JSON-lines files
//! (gzip or plain, by magic bytes), file by file, in parallel across files, and
//! folds each event into its transaction's accumulator. Memory grows with the
//! number of transactions, never with the size of the logs. Every line read lands
//! in exactly one counter of [`LogCounters`].

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use chrono::NaiveDate;
use rayon::prelude::*;
use serde::Deserialize;
use serde_json::Value;

use crate::classify::{Event, FlowCatalog, Transaction, TransactionAcc};
use crate::config::{FieldsSection, LogFormat};
use crate::pricing::UnitKeys;
use crate::{Error, Progress, Result};

/// How many malformed lines are kept, with file and line, for the run report.
pub const MALFORMED_SAMPLES: usize = 20;

/// Where every line went. `lines` is the sum of the per-line buckets
/// (`events` .. `bad_timestamp`); `control_messages`, `type_conflicts` and
/// the file counts are not lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogCounters {
    pub files: u64,
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
    pub control_messages: u64,
    pub corrupt_files: u64,
    pub type_conflicts: u64,
}

impl LogCounters {
    fn add(&mut self, o: &LogCounters) {
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
        self.corrupt_files += o.corrupt_files;
        self.type_conflicts += o.type_conflicts;
    }

    /// The per-line buckets add up to the lines read.
    pub fn balanced(&self) -> bool {
        self.lines
            == self.events
                + self.out_of_day
                + self.non_json
                + self.no_transaction
                + self.missing_service
                + self.malformed
                + self.blank
                + self.bad_timestamp
    }
}

/// A line that looked like JSON but was not usable.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Sample {
    pub file: PathBuf,
    pub line: u64,
    pub error: String,
}

/// The day's transactions and what reading the logs found.
#[derive(Debug, Default)]
pub struct LogDay {
    /// Sorted by transaction id.
    pub transactions: Vec<Transaction>,
    pub counters: LogCounters,
    pub malformed: Vec<Sample>,
    /// Files that were corrupt or truncated (only with `allow_corrupt_input`).
    pub corrupt: Vec<Sample>,
}

/// What the reader needs to know.
pub struct LogReader<'a> {
    pub format: LogFormat,
    pub fields: &'a FieldsSection,
    pub date: NaiveDate,
    pub catalog: &'a FlowCatalog,
    pub keys: &'a UnitKeys,
    pub allow_corrupt_input: bool,
}

/// What one worker keeps for itself (counters, samples, its route cache), and
/// the shared transactions it adds to.
struct Acc<'s> {
    shards: &'s Shards,
    pointers: Pointers,
    counters: LogCounters,
    malformed: Vec<Sample>,
    corrupt: Vec<Sample>,
    route_cache: HashMap<Box<str>, Option<u16>>,
}

impl<'s> Acc<'s> {
    fn new(shards: &'s Shards, fields: &FieldsSection) -> Self {
        Self {
            shards,
            pointers: Pointers::new(fields),
            counters: LogCounters::default(),
            malformed: Vec::new(),
            corrupt: Vec::new(),
            route_cache: HashMap::new(),
        }
    }

    fn merge(mut self, other: Acc<'s>) -> Acc<'s> {
        self.counters.add(&other.counters);
        self.malformed.extend(other.malformed);
        self.malformed.sort();
        self.malformed.truncate(MALFORMED_SAMPLES);
        self.corrupt.extend(other.corrupt);
        self
    }
}

/// A JSON pointer (RFC 6901) split into unescaped tokens once, not at every event
/// as `Value::pointer` does. An empty pointer reads nothing (the field is unused).
#[derive(Debug, Clone)]
struct Pointer(Option<Vec<String>>);

impl Pointer {
    fn new(text: &str) -> Self {
        Self(text.strip_prefix('/').map(|rest| {
            rest.split('/')
                .map(|t| t.replace("~1", "/").replace("~0", "~"))
                .collect()
        }))
    }

    fn get<'v>(&self, value: &'v Value) -> Option<&'v Value> {
        let mut current = value;
        for token in self.0.as_ref()? {
            current = match current {
                Value::Object(map) => map.get(token)?,
                Value::Array(items) => items.get(token.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(current)
    }
}

/// The event fields' pointers, parsed.
#[derive(Debug, Clone)]
struct Pointers {
    transaction_id: Pointer,
    service: Pointer,
    flow: Pointer,
    transaction_type: Pointer,
    route: Pointer,
    status: Pointer,
    duration_ms: Pointer,
    usage: Pointer,
    timestamp: Pointer,
}

impl Pointers {
    fn new(f: &FieldsSection) -> Self {
        Self {
            transaction_id: Pointer::new(&f.transaction_id),
            service: Pointer::new(&f.service),
            flow: Pointer::new(&f.flow),
            transaction_type: Pointer::new(&f.transaction_type),
            route: Pointer::new(&f.route),
            status: Pointer::new(&f.status),
            duration_ms: Pointer::new(&f.duration_ms),
            usage: Pointer::new(&f.usage),
            timestamp: Pointer::new(&f.timestamp),
        }
    }
}

/// The day's transactions as they accumulate, shared by the workers: sharded by a
/// hash of the id, each shard behind its own lock, so each transaction is held once.
struct Shards(Vec<Mutex<HashMap<Box<str>, TransactionAcc>>>);

impl Shards {
    const COUNT: usize = 64;

    fn new() -> Self {
        Self(
            (0..Self::COUNT)
                .map(|_| Mutex::new(HashMap::new()))
                .collect(),
        )
    }

    fn shard(&self, id: &str) -> std::sync::MutexGuard<'_, HashMap<Box<str>, TransactionAcc>> {
        let mut hasher = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(id, &mut hasher);
        let index = std::hash::Hasher::finish(&hasher) as usize % Self::COUNT;
        self.0[index]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl LogReader<'_> {
    /// Reads every file under `path` (hidden files skipped), in parallel.
    pub fn read(&self, path: &Path, progress: &dyn Progress) -> Result<LogDay> {
        let files = super::files::list(path, |_| true)?;
        let total_bytes: u64 = files
            .iter()
            .filter_map(|f| f.metadata().ok())
            .map(|m| m.len())
            .sum();
        progress.start("logs", total_bytes);
        // One accumulator per worker thread (not per rayon split): each transaction
        // is held at most once per core while files are read. Workers take the
        // largest remaining file first, so both cores finish together.
        let mut order: Vec<(u64, &PathBuf)> = files
            .iter()
            .map(|f| (f.metadata().map(|m| m.len()).unwrap_or(0), f))
            .collect();
        order.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let workers = rayon::current_num_threads().clamp(1, order.len().max(1));
        let shards = Shards::new();
        let accs: Vec<Result<Acc>> = (0..workers)
            .into_par_iter()
            .map(|_| {
                let mut acc = Acc::new(&shards, self.fields);
                while !failed.load(Ordering::Relaxed) {
                    let Some(&(size, file)) = order.get(next.fetch_add(1, Ordering::Relaxed))
                    else {
                        break;
                    };
                    if let Err(e) = self.read_file(file, &mut acc) {
                        failed.store(true, Ordering::Relaxed);
                        return Err(e);
                    }
                    progress.advance(size);
                }
                Ok(acc)
            })
            .collect();
        let mut acc = Acc::new(&shards, self.fields);
        for part in accs {
            acc = acc.merge(part?);
        }
        progress.finish();
        let Acc {
            mut counters,
            malformed,
            mut corrupt,
            ..
        } = acc;
        // Shard by shard, so each shard's map is freed as its transactions are made.
        let mut transactions: Vec<Transaction> = Vec::new();
        for shard in shards.0 {
            let map = shard
                .into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            transactions.extend(
                map.into_iter()
                    .map(|(id, t)| t.finish(id, self.catalog, self.keys)),
            );
        }
        transactions.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        counters.type_conflicts = transactions.iter().map(|t| t.type_conflicts as u64).sum();
        corrupt.sort();
        Ok(LogDay {
            transactions,
            counters,
            malformed,
            corrupt,
        })
    }

    fn read_file(&self, path: &Path, acc: &mut Acc) -> Result<()> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        acc.counters.files += 1;
        acc.counters.bytes += file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut raw = BufReader::with_capacity(256 * 1024, file);
        let gzip = raw
            .fill_buf()
            .map_err(|e| Error::io(path, e))?
            .starts_with(&[0x1f, 0x8b]);
        let reader: Box<dyn BufRead> = if gzip {
            Box::new(BufReader::with_capacity(
                256 * 1024,
                flate2::bufread::MultiGzDecoder::new(raw),
            ))
        } else {
            Box::new(raw)
        };
        let outcome = match self.format {
            LogFormat::Firehose => self.read_firehose(path, reader, acc),
            LogFormat::CloudwatchExport | LogFormat::Jsonl => self.read_lines(path, reader, acc),
        };
        match outcome {
            Ok(()) => Ok(()),
            Err(message) if self.allow_corrupt_input => {
                acc.counters.corrupt_files += 1;
                acc.corrupt.push(Sample {
                    file: path.to_path_buf(),
                    line: 0,
                    error: message,
                });
                Ok(())
            }
            Err(message) => Err(Error::input(
                path,
                format!("{message} (pass --allow-corrupt-input to count such files and go on)"),
            )),
        }
    }

    fn read_lines(
        &self,
        path: &Path,
        mut reader: Box<dyn BufRead>,
        acc: &mut Acc,
    ) -> std::result::Result<(), String> {
        let mut buf = Vec::with_capacity(4096);
        let mut line_no = 0u64;
        loop {
            buf.clear();
            let n = reader
                .read_until(b'\n', &mut buf)
                .map_err(|e| describe_read_error(&e, line_no))?;
            if n == 0 {
                return Ok(());
            }
            line_no += 1;
            acc.counters.lines += 1;
            let line = trim_line_end(&buf);
            if line.iter().all(u8::is_ascii_whitespace) {
                acc.counters.blank += 1;
                continue;
            }
            let (envelope_ts, message) = match self.format {
                LogFormat::CloudwatchExport => match split_export_line(line) {
                    Some((ts, message)) => (Some(ts), message),
                    // A line without the export's timestamp: a continuation of a
                    // multi-line message (stack trace), plain text by definition.
                    None => {
                        acc.counters.non_json += 1;
                        continue;
                    }
                },
                _ => (None, line),
            };
            self.handle_message(path, line_no, envelope_ts, message, acc);
        }
    }

    fn read_firehose(
        &self,
        path: &Path,
        reader: Box<dyn BufRead>,
        acc: &mut Acc,
    ) -> std::result::Result<(), String> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Record {
            message_type: String,
            #[serde(default)]
            log_events: Vec<LogEvent>,
        }
        #[derive(Deserialize)]
        struct LogEvent {
            timestamp: Option<i64>,
            message: String,
        }
        let mut line_no = 0u64;
        let stream = serde_json::Deserializer::from_reader(reader).into_iter::<Record>();
        for (index, record) in stream.enumerate() {
            let record = record.map_err(|e| {
                if e.is_io() {
                    format!("corrupt or truncated gzip stream after {line_no} events: {e}")
                } else {
                    format!(
                        "record {} is not a CloudWatch Logs subscription record: {e}",
                        index + 1
                    )
                }
            })?;
            if record.message_type == "CONTROL_MESSAGE" {
                acc.counters.control_messages += 1;
                continue;
            }
            for event in record.log_events {
                line_no += 1;
                acc.counters.lines += 1;
                let message = event.message.as_bytes();
                if message.iter().all(u8::is_ascii_whitespace) {
                    acc.counters.blank += 1;
                    continue;
                }
                self.handle_message(
                    path,
                    line_no,
                    event.timestamp.or(Some(i64::MIN)),
                    message,
                    acc,
                );
            }
        }
        Ok(())
    }

    /// Classifies one message into exactly one counter, and absorbs it when it is an event of the day.
    fn handle_message(
        &self,
        path: &Path,
        line_no: u64,
        envelope_ts: Option<i64>,
        message: &[u8],
        acc: &mut Acc,
    ) {
        let first = message.iter().find(|b| !b.is_ascii_whitespace()).copied();
        if !matches!(first, Some(b'{') | Some(b'[')) {
            acc.counters.non_json += 1;
            return;
        }
        let malformed = |acc: &mut Acc, error: String| {
            acc.counters.malformed += 1;
            if acc.malformed.len() < MALFORMED_SAMPLES {
                acc.malformed.push(Sample {
                    file: path.to_path_buf(),
                    line: line_no,
                    error,
                });
            }
        };
        let value: Value = match serde_json::from_slice(message) {
            Ok(v) => v,
            Err(e) => return malformed(acc, e.to_string()),
        };
        let f = &acc.pointers;
        let text =
            |pointer: &Pointer| -> Option<&str> { pointer.get(&value).and_then(Value::as_str) };
        let transaction_id = match f.transaction_id.get(&value) {
            Some(Value::String(s)) if !s.is_empty() => s.as_str(),
            _ => {
                acc.counters.no_transaction += 1;
                return;
            }
        };
        let Some(service) = text(&f.service).filter(|s| !s.is_empty()) else {
            acc.counters.missing_service += 1;
            return;
        };
        // The envelope's time wins; `i64::MIN` marks a Firehose event without one.
        let ts = match envelope_ts.filter(|t| *t != i64::MIN) {
            Some(ts) => Some(ts),
            None => match f.timestamp.get(&value) {
                Some(Value::String(s)) => {
                    super::cur::parse_iso8601_micros(s).map(|us| us.div_euclid(1000))
                }
                Some(Value::Number(n)) => n.as_i64(),
                _ => None,
            },
        };
        let Some(ts) = ts else {
            acc.counters.bad_timestamp += 1;
            return;
        };
        let day_start = self
            .date
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp_millis();
        if ts < day_start || ts >= day_start + 86_400_000 {
            acc.counters.out_of_day += 1;
            return;
        }
        let duration_ms = match f.duration_ms.get(&value) {
            None | Some(Value::Null) => 0,
            Some(v) => match non_negative(v) {
                Some(d) => d,
                None => {
                    return malformed(
                        acc,
                        format!("duration_ms {v} is not a non-negative integer"),
                    );
                }
            },
        };
        let mut usage = Vec::new();
        match f.usage.get(&value) {
            None | Some(Value::Null) => {}
            Some(Value::Object(counters)) => {
                for (name, v) in counters {
                    match non_negative(v) {
                        Some(n) => usage.push((name.as_str(), n)),
                        None => {
                            return malformed(
                                acc,
                                format!("usage.{name} {v} is not a non-negative integer"),
                            );
                        }
                    }
                }
            }
            Some(v) => return malformed(acc, format!("usage {v} is not an object of counters")),
        }
        let event = Event {
            ts_ms: ts,
            transaction_id,
            service,
            flow: text(&f.flow),
            transaction_type: text(&f.transaction_type),
            route: text(&f.route),
            status: text(&f.status),
            duration_ms,
            usage,
        };
        acc.counters.events += 1;
        let mut transactions = acc.shards.shard(transaction_id);
        let route_cache = &mut acc.route_cache;
        match transactions.get_mut(transaction_id) {
            Some(t) => t.absorb(&event, self.catalog, self.keys, route_cache),
            None => {
                let mut t = TransactionAcc::new(ts);
                t.absorb(&event, self.catalog, self.keys, route_cache);
                transactions.insert(transaction_id.into(), t);
            }
        }
    }
}

/// A JSON number that is a non-negative integer (`12`, `12.0`).
fn non_negative(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| *f >= 0.0 && f.fract() == 0.0 && *f < 1.8e19)
            .map(|f| f as u64)
    })
}

fn trim_line_end(buf: &[u8]) -> &[u8] {
    let mut end = buf.len();
    while end > 0 && (buf[end - 1] == b'\n' || buf[end - 1] == b'\r') {
        end -= 1;
    }
    &buf[..end]
}

/// `2026-11-23T14:02:11.532Z {"transaction_id":...}` -> (epoch ms, message).
fn split_export_line(line: &[u8]) -> Option<(i64, &[u8])> {
    let space = memchr::memchr(b' ', line)?;
    let ts = std::str::from_utf8(&line[..space]).ok()?;
    if !ts.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let micros = super::cur::parse_iso8601_micros(ts)?;
    Some((micros.div_euclid(1000), &line[space + 1..]))
}

fn describe_read_error(e: &std::io::Error, lines: u64) -> String {
    format!("corrupt or truncated gzip stream after {lines} lines: {e}")
}
