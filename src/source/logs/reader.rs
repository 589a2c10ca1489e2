//! Log source (SPEC 2.4): streams CloudWatch export, Firehose and JSON-lines files
//! (gzip or plain, by magic bytes), file by file, in parallel across files, and
//! folds each event into its transaction's accumulator. Memory grows with the
//! number of transactions, never with the size of the logs. Every line read lands
//! in exactly one counter of [`LogCounters`].

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use chrono::NaiveDate;
use rayon::prelude::*;

use super::envelopes::{self, ReadFailure, Receiver};
use super::event::{self, Message, Parsed, Pending, Pointers, Skip};
use super::shards::{Shard, Shards};
use crate::calendar::Calendar;
use crate::classify::{FlowCatalog, FlowNumber};
use crate::config::{FieldsSection, LogFormat};
use crate::model::{LogCounters, Sample, Transaction};
use crate::pricing::UnitKeys;
use crate::storage::{Listing, Location, MarkUnreadable, Object, Store};
use crate::{Error, FastMap, Progress, Result};

/// How many malformed lines are kept, with file and line, for the run report.
pub const MALFORMED_SAMPLES: usize = 20;

/// The day's transactions and what reading the logs found.
#[derive(Debug, Default)]
pub struct LogDay {
    /// Sorted by transaction id.
    pub transactions: Vec<Transaction>,
    pub counters: LogCounters,
    pub malformed: Vec<Sample>,
    /// Files that were corrupt or truncated (only with `allow_corrupt_input`).
    pub corrupt: Vec<Sample>,
    /// Names not read (hidden, not regular files).
    pub skipped: Vec<String>,
    /// The first line (by file and line) that gave no event, as it looks:
    /// what a wrong format or a wrong field pointer shows.
    pub first_unused: Option<Sample>,
    /// [`crate::fingerprint::logs`] of the objects read.
    pub listing_fingerprint: String,
}

/// What the reader needs to know.
pub struct LogReader<'a> {
    pub format: LogFormat,
    pub fields: &'a FieldsSection,
    pub date: NaiveDate,
    /// Whose day `date` is (SPEC 12.1): an event belongs to it by its time.
    pub calendar: Calendar,
    pub catalog: &'a FlowCatalog,
    pub keys: &'a UnitKeys,
    pub allow_corrupt_input: bool,
    /// Longest line read; longer ones are counted `oversized`, never held whole.
    pub max_line_bytes: usize,
}

/// A worker reading an object: the envelopes' messages handed to the
/// reader with the worker's accumulator.
struct Worker<'r, 'a, 's> {
    reader: &'r LogReader<'a>,
    acc: &'r mut Acc<'s>,
}

impl Receiver for Worker<'_, '_, '_> {
    fn counters(&mut self) -> &mut LogCounters {
        &mut self.acc.counters
    }

    fn unused(&mut self, path: &Path, line_no: u64, text: &[u8]) {
        self.acc.unused(path, line_no, text);
    }

    fn first_delivery(&self, log_group: &str, log_stream: &str, id: &str) -> bool {
        (self.acc.shards).first_delivery(log_group, log_stream, id)
    }

    #[inline]
    fn messages(&mut self, path: &Path, messages: &[Message<'_>]) {
        self.reader.handle_messages(path, messages, self.acc);
    }
}

/// What one worker keeps for itself (counters, samples, its route cache, room
/// for an event's units), and the shared transactions it adds to.
pub(super) struct Acc<'s> {
    pub(super) shards: &'s Shards,
    pub(super) pointers: Pointers,
    pub(super) counters: LogCounters,
    pub(super) malformed: Vec<Sample>,
    pub(super) corrupt: Vec<Sample>,
    pub(super) first_unused: Option<Sample>,
    pub(super) route_cache: FastMap<Box<str>, Option<FlowNumber>>,
    pub(super) additions: Vec<(u16, u64)>,
    /// The block a worker's files are read into ([`Lines`]), kept from file to file.
    pub(super) block: Vec<u8>,
}

/// An [`Acc`] without its borrow of the shards.
pub(super) struct Found {
    pub(super) counters: LogCounters,
    pub(super) malformed: Vec<Sample>,
    pub(super) corrupt: Vec<Sample>,
    pub(super) first_unused: Option<Sample>,
}

impl<'s> Acc<'s> {
    pub(super) fn new(shards: &'s Shards, fields: &FieldsSection) -> Self {
        Self {
            shards,
            pointers: Pointers::new(fields),
            counters: LogCounters::default(),
            malformed: Vec::new(),
            corrupt: Vec::new(),
            first_unused: None,
            route_cache: FastMap::default(),
            additions: Vec::new(),
            block: Vec::new(),
        }
    }

    /// What the worker found, apart from the shared transactions.
    pub(super) fn found(self) -> Found {
        Found {
            counters: self.counters,
            malformed: self.malformed,
            corrupt: self.corrupt,
            first_unused: self.first_unused,
        }
    }

    /// Counts a message that gave no event, in the one counter of its reason.
    pub(super) fn skipped(&mut self, path: &Path, message: &Message<'_>, skip: Skip) {
        let counters = &mut self.counters;
        match skip {
            Skip::NotJson => {
                counters.non_json += 1;
                self.unused(path, message.line_no, message.text);
            }
            Skip::Malformed(error) => self.malformed(path, message.line_no, error),
            Skip::NoTransaction => {
                counters.no_transaction += 1;
                self.unused(path, message.line_no, message.text);
            }
            Skip::MissingService => counters.missing_service += 1,
            Skip::BadTimestamp => counters.bad_timestamp += 1,
            Skip::OutOfDay => counters.out_of_day += 1,
        }
    }

    /// Keeps the earliest line that gave no event (its first 160 bytes).
    pub(super) fn unused(&mut self, path: &Path, line: u64, text: &[u8]) {
        if self
            .first_unused
            .as_ref()
            .is_some_and(|s| (s.file.as_path(), s.line) <= (path, line))
        {
            return;
        }
        let shown = &text[..text.len().min(160)];
        self.first_unused = Some(Sample {
            file: path.to_path_buf(),
            line,
            error: String::from_utf8_lossy(shown).into_owned(),
        });
    }

    /// Counts a malformed line, and keeps it as a sample when it is among the
    /// earliest [`MALFORMED_SAMPLES`] (by file and line) this worker found:
    /// the samples do not depend on the order lines are handled in.
    pub(super) fn malformed(&mut self, path: &Path, line: u64, error: String) {
        self.counters.malformed += 1;
        let sample = Sample {
            file: path.to_path_buf(),
            line,
            error,
        };
        if self.malformed.len() < MALFORMED_SAMPLES {
            self.malformed.push(sample);
        } else if let Some(latest) = self.malformed.iter_mut().max()
            && sample < *latest
        {
            *latest = sample;
        }
    }

    pub(super) fn merge(mut self, other: Acc<'s>) -> Acc<'s> {
        self.counters.add(&other.counters);
        self.malformed.extend(other.malformed);
        self.malformed.sort();
        self.malformed.truncate(MALFORMED_SAMPLES);
        self.corrupt.extend(other.corrupt);
        if let Some(s) = other.first_unused {
            self.unused(&s.file, s.line, s.error.as_bytes());
        }
        self
    }
}

/// The objects' streams, each opened by the worker that reads it or, `ahead`
/// places earlier, by the worker reading an earlier object (S3 GETs then run
/// while workers parse).
pub(super) struct Streams<'a> {
    pub(super) store: &'a Store,
    pub(super) objects: &'a [Object],
    pub(super) slots: Vec<Mutex<Slot>>,
    pub(super) ahead: usize,
}

pub(super) enum Slot {
    Unopened,
    Opened(Result<Box<dyn Read + Send>>),
    Taken,
}

impl<'a> Streams<'a> {
    pub(super) fn new(store: &'a Store, objects: &'a [Object], ahead: usize) -> Self {
        Self {
            store,
            objects,
            slots: objects.iter().map(|_| Mutex::new(Slot::Unopened)).collect(),
            ahead,
        }
    }

    pub(super) fn lock(&self, i: usize) -> std::sync::MutexGuard<'_, Slot> {
        self.slots[i]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Object `i`'s stream (opening the next `ahead` objects' on the way).
    pub(super) fn take(&self, i: usize) -> Result<Box<dyn Read + Send>> {
        for j in i + 1..(i + 1 + self.ahead).min(self.objects.len()) {
            let mut slot = self.lock(j);
            if matches!(*slot, Slot::Unopened) {
                *slot = Slot::Opened(self.store.open(&self.objects[j]));
            }
        }
        match std::mem::replace(&mut *self.lock(i), Slot::Taken) {
            Slot::Opened(stream) => stream,
            Slot::Unopened => self.store.open(&self.objects[i]),
            Slot::Taken => unreachable!("each object is taken by one worker"),
        }
    }
}

impl LogReader<'_> {
    /// Reads every object under `sources` (local directories or S3 prefixes;
    /// hidden names and non-regular files skipped and named), one worker per
    /// core; up to `max_in_flight` S3 objects stream at once.
    pub fn read(
        &self,
        store: &Store,
        sources: &[Location],
        max_in_flight: usize,
        progress: &dyn Progress,
    ) -> Result<LogDay> {
        let Listing {
            mut objects,
            skipped,
        } = store.list_all(sources)?;
        let total_bytes: u64 = objects.iter().map(|o| o.size).sum();
        progress.start("logs", total_bytes);
        // One accumulator per worker thread: each transaction is held at most once
        // per worker while files are read. Workers take the largest remaining file
        // first, so they finish together.
        objects.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.cmp(b)));
        // Workers run on the global rayon pool, whose threads (and their
        // allocator arenas) the allocation and the sink reuse. Objects streaming
        // from S3 are opened ahead of the workers, so `max_in_flight` GETs fill
        // their bounded buffers while the workers parse.
        let workers = rayon::current_num_threads().clamp(1, objects.len().max(1));
        let remote = objects.iter().any(|o| o.location.local().is_none());
        let ahead = if remote {
            max_in_flight.saturating_sub(workers)
        } else {
            0
        };
        let streams = Streams::new(store, &objects, ahead);
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let shards = Shards::new();
        let worker = || {
            let mut acc = Acc::new(&shards, self.fields);
            while !failed.load(Ordering::Relaxed) {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(object) = objects.get(i) else {
                    break;
                };
                let read = streams
                    .take(i)
                    .and_then(|stream| self.read_object(object, stream, &mut acc));
                if let Err(e) = read {
                    failed.store(true, Ordering::Relaxed);
                    return Err(e);
                }
                progress.advance(object.size);
            }
            Ok(acc)
        };
        let accs: Vec<Result<Acc>> = (0..workers).into_par_iter().map(|_| worker()).collect();
        let mut acc = Acc::new(&shards, self.fields);
        for part in accs {
            acc = acc.merge(part?);
        }
        progress.finish();
        let found = acc.found();
        let mut day = self.finish(found, shards, skipped);
        day.listing_fingerprint = crate::fingerprint::logs(&objects);
        Ok(day)
    }

    /// Reads one stream (a log file's bytes, gzip or not) as the day's only
    /// input: the same path every object takes, for fuzzing and replay.
    pub fn read_stream(&self, name: &Path, stream: Box<dyn Read + Send>) -> Result<LogDay> {
        let shards = Shards::new();
        let mut acc = Acc::new(&shards, self.fields);
        let object = Object {
            location: Location::Local(name.to_path_buf()),
            size: 0,
            version: String::new(),
        };
        self.read_object(&object, stream, &mut acc)?;
        let found = acc.found();
        Ok(self.finish(found, shards, Vec::new()))
    }

    /// The transactions out of the shards, sorted, and the counters.
    pub(super) fn finish(&self, found: Found, shards: Shards, skipped: Vec<String>) -> LogDay {
        let Found {
            mut counters,
            malformed,
            mut corrupt,
            first_unused,
        } = found;
        // Each shard is made into its transactions, sorted, by a task of its
        // own, straight into its part of the day's vector (the shards hold
        // ranges of ids, in order): no copy of the day, no core waiting for
        // another's shard. A shard's map is freed as its transactions are made.
        let shards: Vec<Shard> = (shards.0.into_iter())
            .map(|s| {
                s.into_inner()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
            })
            .collect();
        let count = shards.iter().map(Shard::len).sum();
        let mut transactions: Vec<Transaction> = Vec::with_capacity(count);
        let mut parts = Vec::with_capacity(shards.len());
        let mut rest = &mut transactions.spare_capacity_mut()[..count];
        for shard in shards {
            let (part, tail) = std::mem::take(&mut rest).split_at_mut(shard.len());
            parts.push((shard, part));
            rest = tail;
        }
        counters.type_conflicts += (parts.into_par_iter())
            .map(|(shard, part)| {
                let (made, type_conflicts) = shard.into_transactions(self.catalog);
                assert_eq!(made.len(), part.len(), "a transaction per accumulator");
                for (slot, transaction) in part.iter_mut().zip(made) {
                    slot.write(transaction);
                }
                // The shard's memory, freed, is what the next parts are written to.
                crate::memory::release_freed_here();
                type_conflicts
            })
            .sum::<u64>();
        // SAFETY: the first `count` slots are the shards' parts, each written
        // whole by its task above (which checked its length); had a task
        // panicked, this line would not run and the written ones would leak.
        #[allow(unsafe_code)]
        unsafe {
            transactions.set_len(count)
        };
        crate::memory::release_freed();
        // Each shard's transactions sorted, the shards in order of their ids.
        debug_assert!(transactions.is_sorted_by(|a, b| a.id < b.id));
        corrupt.sort();
        counters.skipped_files = skipped.len() as u64;
        LogDay {
            transactions,
            counters,
            malformed,
            corrupt,
            skipped,
            first_unused,
            listing_fingerprint: String::new(),
        }
    }

    pub(super) fn read_object(
        &self,
        object: &Object,
        file: Box<dyn Read + Send>,
        acc: &mut Acc,
    ) -> Result<()> {
        let name = object.name();
        let path = name.as_path();
        acc.counters.files += 1;
        acc.counters.bytes += object.size;
        // Every error of the bytes' source is marked unreadable, so it is never
        // taken for corrupt content (which `--allow-corrupt-input` may skip).
        let mut raw = BufReader::with_capacity(256 * 1024, MarkUnreadable(file));
        let gzip = raw
            .fill_buf()
            .map_err(|e| Error::input(path, format!("unreadable: {e}")))?
            .starts_with(&[0x1f, 0x8b]);
        let mut reader: Box<dyn BufRead> = if gzip {
            Box::new(BufReader::with_capacity(
                256 * 1024,
                flate2::bufread::MultiGzDecoder::new(raw),
            ))
        } else {
            Box::new(raw)
        };
        // A UTF-8 byte-order mark at the start of a file is not part of its first line.
        let bom = reader
            .fill_buf()
            .map(|b| b.starts_with(b"\xEF\xBB\xBF"))
            .unwrap_or(false);
        if bom {
            reader.consume(3);
        }
        let mut worker = Worker { reader: self, acc };
        let outcome = match self.format {
            LogFormat::Firehose => envelopes::read_firehose(path, reader, &mut worker),
            format @ (LogFormat::CloudwatchExport | LogFormat::Jsonl) => {
                let block = std::mem::take(&mut worker.acc.block);
                let max = self.max_line_bytes;
                (envelopes::read_lines(path, reader, format, max, block, &mut worker))
                    .map(|block| worker.acc.block = block)
            }
        };
        match outcome {
            Ok(()) => Ok(()),
            // Bytes that could not be read are never skipped: what was read of
            // the object is already counted, the rest would be silently lost.
            Err(ReadFailure::Unreadable(message)) => Err(Error::input(path, message)),
            Err(ReadFailure::Corrupt { message, read }) if self.allow_corrupt_input => {
                acc.counters.corrupt_files += 1;
                acc.corrupt.push(Sample {
                    file: path.to_path_buf(),
                    line: read, // the lines (or events) read before the corruption
                    error: message,
                });
                Ok(())
            }
            Err(ReadFailure::Corrupt { message, .. }) => Err(Error::input(
                path,
                format!("{message} (pass --allow-corrupt-input to count such files and go on)"),
            )),
        }
    }

    /// Classifies each message into exactly one counter, and absorbs the events
    /// of the day: all of the batch parsed first, then absorbed shard by
    /// shard, each shard's table lines and then accumulators asked for before
    /// the first of its events is absorbed, so their memory is fetched together,
    /// not an event at a time.
    pub(super) fn handle_messages(&self, path: &Path, messages: &[Message<'_>], acc: &mut Acc) {
        let mut docs: Vec<Option<Parsed<'_>>> = Vec::with_capacity(messages.len());
        // Every event's usage counters, each event's a range of them.
        let mut usage: Vec<(&str, u64)> = Vec::new();
        for message in messages {
            match event::parse(message, &acc.pointers, &mut usage) {
                Ok(parsed) => docs.push(Some(parsed)),
                Err(skip) => {
                    acc.skipped(path, message, skip);
                    docs.push(None);
                }
            }
        }
        let mut events: Vec<Pending<'_>> = Vec::with_capacity(docs.len());
        let window = self.calendar.window(self.date);
        let day_ms = window.start.div_euclid(1000)..window.end.div_euclid(1000);
        for (message, parsed) in messages.iter().zip(&docs) {
            if let Some(parsed) = parsed {
                match event::event(message, parsed, &acc.pointers, &day_ms, &mut usage) {
                    Ok(event) => events.push(event),
                    Err(skip) => acc.skipped(path, message, skip),
                }
            }
        }
        // The events by shard, each shard's in batch order (a counting sort).
        const { assert!(Shards::COUNT <= 256, "a shard's number is a byte") };
        let shard_of: Vec<u8> = (events.iter())
            .map(|e| Shards::number(&e.id, e.uuid.map(|(bits, _)| bits)) as u8)
            .collect();
        let mut starts = [0u32; Shards::COUNT + 1];
        for &s in &shard_of {
            starts[s as usize + 1] += 1;
        }
        for s in 1..starts.len() {
            starts[s] += starts[s - 1];
        }
        let mut order = vec![0u32; events.len()];
        let mut next = starts;
        for (i, &s) in shard_of.iter().enumerate() {
            order[next[s as usize] as usize] = i as u32;
            next[s as usize] += 1;
        }
        let shards = acc.shards;
        for (number, run) in starts.windows(2).enumerate() {
            let run = &order[run[0] as usize..run[1] as usize];
            if run.is_empty() {
                continue;
            }
            let mut shard = shards.lock(number);
            for &i in run {
                shard.prefetch_slot(&events[i as usize]);
            }
            for &i in run {
                shard.prefetch_acc(&events[i as usize]);
            }
            for &i in run {
                let pending = &events[i as usize];
                let (transaction, texts) = shard.entry(pending);
                let event = pending.event(&usage);
                let absorbed = transaction.absorb(
                    &event,
                    self.catalog,
                    self.keys,
                    &mut acc.route_cache,
                    &mut acc.additions,
                    texts,
                );
                match absorbed {
                    Ok(()) => acc.counters.events += 1,
                    Err(message) => acc.malformed(path, pending.line_no, message),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::event::selective;
    use super::super::json_scan as scan;
    use super::*;
    use crate::model::id::{TransactionId, parse_uuid, uuid_words};
    use serde_json::value::RawValue;

    /// The shards hold ranges of ids: an id that sorts before another is in
    /// the same shard or an earlier one (so the shards, each sorted, are the
    /// day sorted), a UUID's shard is its text's, and UUIDs fill every shard.
    #[test]
    fn shards_hold_ranges_of_ids() {
        let mut xorshift = crate::test_rng::XorShift(0x853c_49e6_748f_ea9b_u64);
        let mut random = || xorshift.next();
        let alphabet = b"0123456789abcdefgzABF-_ ~\x7f";
        let mut ids: Vec<TransactionId> = Vec::new();
        let mut uuid_shards = std::collections::BTreeSet::new();
        for _ in 0..20_000 {
            let bits = u128::from(random()) << 64 | u128::from(random());
            let uuid = TransactionId::Uuid(uuid_words(bits)).to_string();
            assert_eq!(parse_uuid(&uuid), Some(bits));
            let shard = Shards::number(&uuid, Some(bits));
            assert_eq!(Shards::number(&uuid, None), shard, "{uuid}");
            uuid_shards.insert(shard);
            ids.push(TransactionId::new(&uuid));
            let len = random() % 4 + 1;
            let text: String = (0..len)
                .map(|_| char::from(alphabet[(random() % alphabet.len() as u64) as usize]))
                .collect();
            ids.push(TransactionId::new(&text));
            ids.push(TransactionId::new(&uuid.to_uppercase())); // a text, not canonical
        }
        assert_eq!(uuid_shards.len(), Shards::COUNT);
        ids.sort();
        let shard = |id: &TransactionId| {
            let text = id.to_string();
            Shards::number(&text, parse_uuid(&text))
        };
        for pair in ids.windows(2) {
            assert!(
                shard(&pair[0]) <= shard(&pair[1]),
                "{} {}",
                pair[0],
                pair[1]
            );
        }
    }

    /// The scanner finds what serde_json's selective parse finds, on every
    /// text it reads: events cut, spliced and sprinkled with the bytes JSON
    /// treats specially. It must read most of them, or it would not be tested.
    #[test]
    fn scanned_members_are_serde_json_s() {
        let fields: FieldsSection = serde_json::from_str("{}").expect("defaults");
        let pointers = Pointers::new(&fields);
        let members = pointers
            .members
            .as_ref()
            .expect("default pointers are top-level");
        let events = [
            r#"{"level":"info","service":"auth-svc","transaction_id":"c5d6c941-df2e-4a30-a581-efafa376ea25","route":"POST /v1/auth/token","status":"OK","duration_ms":23,"usage":{"kms_requests":1}}"#,
            r#" { "service" : "kyc-svc" , "transaction_id" : 12 , "flow" : "onboarding", "x" : [1, -0.5e+3, true, false, null, {"a\"b": "\u00e9\n"}], "duration_ms": 1.0E2 } "#,
            r#"{"transaction_id":"t\u0041","service":"s","usage":{"a":1,"a":0},"status":"","y":{},"z":[0],"service":"dup","duration_ms":0}"#,
        ];
        let noise: &[&[u8]] = &[
            b"\"",
            b"\\",
            b"{",
            b"}",
            b"[",
            b"]",
            b",",
            b":",
            b"0",
            b"7",
            b"-",
            b"1e",
            b".",
            b"+",
            b" ",
            b"\x01",
            b"\\u",
            b"t",
            b"nul",
            "\u{e9}".as_bytes(),
            b"\"a\":1,",
        ];
        let mut xorshift = crate::test_rng::XorShift(0x2545_f491_4f6c_dd1d_u64);
        let mut random = |n: usize| xorshift.below(n);
        let (mut read, mut cases) = (0, 0);
        for _ in 0..30_000 {
            let mut text = events[random(events.len())].as_bytes().to_vec();
            for _ in 0..random(3) {
                let at = random(text.len() + 1);
                match random(3) {
                    0 => text.truncate(at),
                    1 => {
                        let piece = noise[random(noise.len())];
                        text.splice(at..at, piece.iter().copied());
                    }
                    _ if at < text.len() => {
                        text.remove(at);
                    }
                    _ => {}
                }
            }
            let Ok(text) = std::str::from_utf8(&text) else {
                continue;
            };
            cases += 1;
            let Some(scanned) = scan::members::<9>(text, members) else {
                continue;
            };
            read += 1;
            let by_serde = selective(text, members.list())
                .unwrap_or_else(|| panic!("scanned, but serde_json refuses: {text}"));
            let by_serde = scan::Found::of(by_serde.map(|raw| raw.map(RawValue::get)));
            assert_eq!(scanned, by_serde, "{text}");
        }
        assert!(read * 3 > cases, "read {read} of {cases}");
    }
}
