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
use serde::Deserialize;
use serde::Deserializer as _;
use serde_json::Value;
use serde_json::value::RawValue;
use std::borrow::Cow;

use super::lines::{Line, Lines};
use super::scan;
use super::uuid_table::{UuidTable, prefetch};
use crate::classify::{Event, FlowCatalog, FlowNumber, Names, Texts, TransactionAcc};
use crate::config::{FieldsSection, LogFormat};
use crate::model::id::{TransactionId, parse_uuid, uuid_words};
use crate::model::{LogCounters, Sample, Transaction};
use crate::pricing::UnitKeys;
use crate::storage::{Location, MarkUnreadable, Object, Store, Unreadable};
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
}

/// What the reader needs to know.
pub struct LogReader<'a> {
    pub format: LogFormat,
    pub fields: &'a FieldsSection,
    pub date: NaiveDate,
    pub catalog: &'a FlowCatalog,
    pub keys: &'a UnitKeys,
    pub allow_corrupt_input: bool,
    /// Longest line read; longer ones are counted `oversized`, never held whole.
    pub max_line_bytes: usize,
}

/// What one worker keeps for itself (counters, samples, its route cache, room
/// for an event's units), and the shared transactions it adds to.
struct Acc<'s> {
    shards: &'s Shards,
    pointers: Pointers,
    counters: LogCounters,
    malformed: Vec<Sample>,
    corrupt: Vec<Sample>,
    first_unused: Option<Sample>,
    route_cache: FastMap<Box<str>, Option<FlowNumber>>,
    additions: Vec<(u16, u64)>,
    /// The block a worker's files are read into ([`Lines`]), kept from file to file.
    block: Vec<u8>,
}

/// An [`Acc`] without its borrow of the shards.
struct Found {
    counters: LogCounters,
    malformed: Vec<Sample>,
    corrupt: Vec<Sample>,
    first_unused: Option<Sample>,
}

impl<'s> Acc<'s> {
    fn new(shards: &'s Shards, fields: &FieldsSection) -> Self {
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
    fn found(self) -> Found {
        Found {
            counters: self.counters,
            malformed: self.malformed,
            corrupt: self.corrupt,
            first_unused: self.first_unused,
        }
    }

    /// Keeps the earliest line that gave no event (its first 160 bytes).
    fn unused(&mut self, path: &Path, line: u64, text: &[u8]) {
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
    fn malformed(&mut self, path: &Path, line: u64, error: String) {
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

    fn merge(mut self, other: Acc<'s>) -> Acc<'s> {
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

/// The event's fields, in the order of [`Pointers::list`].
#[derive(Debug, Clone, Copy)]
enum Field {
    TransactionId,
    Service,
    Flow,
    TransactionType,
    Route,
    Status,
    DurationMs,
    Usage,
    Timestamp,
}

/// The event fields' pointers, parsed; and, when every pointer names a top-level
/// member (the default), those members' names for the selective parse.
#[derive(Debug, Clone)]
struct Pointers {
    list: [Pointer; 9],
    members: Option<scan::Names>,
}

impl Pointers {
    fn new(f: &FieldsSection) -> Self {
        let list = [
            &f.transaction_id,
            &f.service,
            &f.flow,
            &f.transaction_type,
            &f.route,
            &f.status,
            &f.duration_ms,
            &f.usage,
            &f.timestamp,
        ]
        .map(|p| Pointer::new(p));
        let members = list
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.0.as_ref().map(|tokens| (i, tokens)))
            .map(|(i, tokens)| (tokens.len() == 1).then(|| (tokens[0].clone(), i)))
            .collect::<Option<_>>()
            .map(scan::Names::new);
        Self { list, members }
    }
}

/// An event parsed: only its wanted top-level members' raw text, borrowed (the
/// fast path), or the whole document (any other shape).
enum Doc<'a> {
    Members(scan::Found<'a, 9>),
    Value(Value),
}

impl<'a> Doc<'a> {
    /// By [`scan::members`] when it reads the text, else by serde_json's
    /// selective parse, else as a whole `Value` (whose error is the line's).
    fn parse(message: &'a [u8], pointers: &Pointers) -> serde_json::Result<Self> {
        if let (Some(members), Ok(text)) = (&pointers.members, std::str::from_utf8(message)) {
            if let Some(found) = scan::members(text, members) {
                return Ok(Doc::Members(found));
            }
            if let Some(found) = selective(text, members.list()) {
                let raw = found.map(|raw| raw.map(RawValue::get));
                return Ok(Doc::Members(scan::Found::of(raw)));
            }
        }
        serde_json::from_slice(message).map(Doc::Value)
    }

    /// The field as JSON (owned when it had to be parsed from its raw text).
    fn get(&self, pointers: &Pointers, field: Field) -> Option<Cow<'_, Value>> {
        match self {
            Doc::Value(v) => pointers.list[field as usize].get(v).map(Cow::Borrowed),
            Doc::Members(m) => m.raw[field as usize]
                .and_then(|raw| serde_json::from_str(raw).ok())
                .map(Cow::Owned),
        }
    }

    /// The field when its raw text is a plain non-negative integer (digits, no
    /// sign, fraction or exponent, no leading zero) below 10^16: read without
    /// building a value. Anything else is `None`, for the general path.
    fn plain_integer(&self, field: Field) -> Option<u64> {
        let Doc::Members(m) = self else { return None };
        scan::plain_digits(m.raw[field as usize]?.as_bytes())
    }

    /// The field as a value of the whole document; `None` for a document
    /// read by its members ([`LogReader::parse`] parses whole a document
    /// whose member is read this way).
    fn value(&self, pointers: &Pointers, field: Field) -> Option<&Value> {
        match self {
            Doc::Value(v) => pointers.list[field as usize].get(v),
            Doc::Members(_) => None,
        }
    }

    /// The field when it is a JSON string.
    fn text(&self, pointers: &Pointers, field: Field) -> Option<Cow<'_, str>> {
        match self {
            Doc::Value(v) => pointers.list[field as usize]
                .get(v)
                .and_then(Value::as_str)
                .map(Cow::Borrowed),
            Doc::Members(m) => {
                if let Some(text) = m.plain_text(field as usize) {
                    return Some(Cow::Borrowed(text));
                }
                let raw = m.raw[field as usize]?;
                if !raw.starts_with('"') {
                    return None;
                }
                serde_json::from_str::<String>(raw).ok().map(Cow::Owned) // escapes
            }
        }
    }
}

/// The wanted top-level members' raw text by serde_json, for the objects
/// [`scan::members`] does not read; `None` when serde_json cannot either.
fn selective<'a>(text: &'a str, members: &[(String, usize)]) -> Option<[Option<&'a RawValue>; 9]> {
    let mut de = serde_json::Deserializer::from_str(text);
    let found = de.deserialize_map(Selective(members)).ok()?;
    de.end().ok()?;
    Some(found)
}

/// Visits a JSON object keeping the raw text of the wanted members, skipping the rest.
struct Selective<'k>(&'k [(String, usize)]);

impl<'de> serde::de::Visitor<'de> for Selective<'_> {
    type Value = [Option<&'de RawValue>; 9];

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = [None; 9];
        while let Some(key) = map.next_key::<&'de str>()? {
            let mut wanted = self
                .0
                .iter()
                .filter(|(name, _)| name == key)
                .map(|(_, i)| *i)
                .peekable();
            if wanted.peek().is_none() {
                map.next_value::<serde::de::IgnoredAny>()?;
                continue;
            }
            let raw: &'de RawValue = map.next_value()?;
            for i in wanted {
                found[i] = Some(raw); // the last duplicate wins, as in a parsed Value
            }
        }
        Ok(found)
    }
}

/// One shard of the day's transactions: their accumulators, and their indices
/// by id: canonical (lowercase, hyphenated) UUIDs in a [`UuidTable`] (the
/// UUID's bits are kept beside its accumulator, so the lookup's one compare
/// reads the line the event then updates), any other id by its text; and the
/// flow and status texts its accumulators share.
#[derive(Default)]
struct Shard {
    accs: Accs,
    uuids: UuidTable,
    by_text: FastMap<Box<str>, u32>,
    texts: Texts,
}

impl Shard {
    fn len(&self) -> usize {
        self.uuids.len() + self.by_text.len()
    }

    /// Asks for the table line where the event's UUID is filed.
    fn prefetch_slot(&self, event: &Pending<'_>) {
        if let Some((_, fingerprint)) = event.uuid {
            self.uuids.prefetch(fingerprint);
        }
    }

    /// Asks for the accumulator the event's UUID is most likely filed with.
    fn prefetch_acc(&self, event: &Pending<'_>) {
        if let Some((_, fingerprint)) = event.uuid
            && let Some(index) = self.uuids.candidates(fingerprint).next()
        {
            prefetch(self.accs.get(index));
        }
    }

    /// The accumulator of the event's transaction, made at its time if new,
    /// and the texts it shares.
    fn entry(&mut self, event: &Pending<'_>) -> (&mut TransactionAcc, &mut Texts) {
        let accs = &mut self.accs;
        let index = match event.uuid {
            Some((key, fingerprint)) => {
                let words = uuid_words(key);
                let found = self
                    .uuids
                    .candidates(fingerprint)
                    .find(|&i| accs.get(i).0 == words);
                found.unwrap_or_else(|| {
                    let index = accs.push(words, TransactionAcc::new(event.ts_ms));
                    self.uuids.insert(fingerprint, index);
                    index
                })
            }
            None => match self.by_text.get(&*event.id) {
                Some(&index) => index,
                None => {
                    let index = accs.push([0; 2], TransactionAcc::new(event.ts_ms));
                    self.by_text.insert((*event.id).into(), index);
                    index
                }
            },
        };
        (&mut self.accs.get_mut(index).1, &mut self.texts)
    }

    /// The shard's transactions, classified, and how many of their events'
    /// explicit types disagree with the catalog.
    fn into_transactions(self, catalog: &FlowCatalog) -> (Vec<Transaction>, u64) {
        let mut names = Names::new(catalog, &self.texts);
        let mut transactions = Vec::with_capacity(self.len());
        let mut type_conflicts = 0;
        // The ids that are not UUIDs, by their accumulator's index.
        let mut texts: Vec<Option<Box<str>>> = Vec::new();
        let every_id_a_uuid = self.by_text.is_empty();
        if !every_id_a_uuid {
            texts.resize_with(self.len(), || None);
            for (text, index) in self.by_text {
                texts[index as usize] = Some(text);
            }
        }
        let accs = self.accs.0.into_iter().flatten().enumerate();
        transactions.extend(accs.map(|(index, (uuid, acc))| {
            let id = match texts.get_mut(index).and_then(Option::take) {
                Some(text) => TransactionId::Text(text),
                None => TransactionId::Uuid(uuid),
            };
            acc.finish(id, catalog, &mut names, &mut type_conflicts)
        }));
        if every_id_a_uuid {
            // By their bits: each key read once, each transaction moved once
            // (a sort by `id` matches the enum and moves the transactions at
            // every step: 3% of the 1M day's time, `perf`).
            transactions.sort_by_cached_key(|t| t.id.as_uuid());
        } else {
            transactions.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        }
        (transactions, type_conflicts)
    }
}

/// Accumulators (each beside its UUID's bits, zero for other ids) in chunks
/// of a fixed size, by index: no doubling slack, and nothing moves when they grow.
#[derive(Default)]
struct Accs(Vec<Vec<([u64; 2], TransactionAcc)>>);

impl Accs {
    /// A chunk fills 256 KiB: a whole number of the allocator's 64 KiB spans
    /// (a chunk of 1,024 took three spans for 136 KiB, a third of it unused).
    const PER_CHUNK: usize = 256 * 1024 / std::mem::size_of::<([u64; 2], TransactionAcc)>();

    fn push(&mut self, uuid: [u64; 2], acc: TransactionAcc) -> u32 {
        if self.0.last().is_none_or(|c| c.len() == Self::PER_CHUNK) {
            self.0.push(Vec::with_capacity(Self::PER_CHUNK));
        }
        let chunk = self.0.len() - 1;
        let index = chunk * Self::PER_CHUNK + self.0[chunk].len();
        self.0[chunk].push((uuid, acc));
        u32::try_from(index).expect("fewer than 2^32 transactions a shard")
    }

    fn get(&self, index: u32) -> &([u64; 2], TransactionAcc) {
        let index = index as usize;
        &self.0[index / Self::PER_CHUNK][index % Self::PER_CHUNK]
    }

    fn get_mut(&mut self, index: u32) -> &mut ([u64; 2], TransactionAcc) {
        let index = index as usize;
        &mut self.0[index / Self::PER_CHUNK][index % Self::PER_CHUNK]
    }
}

/// The day's transactions as they accumulate, shared by the workers: sharded by
/// the id's first bytes ([`Shards::number`]), each shard behind its own lock,
/// so each transaction is held once.
struct Shards(
    Vec<Mutex<Shard>>,
    Vec<Mutex<std::collections::HashSet<u128>>>,
);

impl Shards {
    const COUNT: usize = 64;

    fn new() -> Self {
        Self(
            (0..Self::COUNT).map(|_| Mutex::default()).collect(),
            (0..Self::COUNT)
                .map(|_| Mutex::new(std::collections::HashSet::new()))
                .collect(),
        )
    }

    /// Whether the Firehose event `(group, stream, id)` is seen for the first
    /// time this day. Kept as a 128-bit hash (16 bytes an event, only for Firehose).
    fn first_delivery(&self, group: &str, stream: &str, id: &str) -> bool {
        use std::hash::{Hash, Hasher};
        let mut a = std::hash::DefaultHasher::new();
        let mut b = std::hash::DefaultHasher::new();
        0xc057_u16.hash(&mut b);
        for h in [&mut a, &mut b] {
            (group, stream, id).hash(h);
        }
        let key = (u128::from(a.finish()) << 64) | u128::from(b.finish());
        self.1[key as usize % Self::COUNT]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key)
    }

    /// A UUID's fingerprint in its shard's [`UuidTable`]: the low 32 bits of its hash.
    fn fingerprint(uuid: u128) -> u32 {
        use std::hash::BuildHasher;
        foldhash::fast::FixedState::default().hash_one(uuid) as u32
    }

    /// The shard of `id` (`uuid`: its bits, when it is a canonical UUID), by
    /// its first two bytes, so that the shards hold ranges of ids in order:
    /// sorted one by one, they are the day's transactions sorted. The 256 hex
    /// prefixes of UUIDs fall four to a shard (a UUID's shard is its top six
    /// bits); any other id goes where its prefix sorts among theirs.
    fn number(id: &str, uuid: Option<u128>) -> usize {
        if let Some(bits) = uuid {
            return (bits >> 122) as usize;
        }
        const HEX: &[u8; 16] = b"0123456789abcdef";
        // The prefixes that start shards 1 to 63: those of rank 4, 8, ..., 252.
        const BOUNDS: [u16; Shards::COUNT - 1] = {
            let mut bounds = [0; Shards::COUNT - 1];
            let mut i = 0;
            while i < bounds.len() {
                let rank = 4 * (i + 1);
                bounds[i] = (HEX[rank / 16] as u16) << 8 | HEX[rank % 16] as u16;
                i += 1;
            }
            bounds
        };
        let bytes = id.as_bytes();
        let prefix = u16::from(bytes.first().copied().unwrap_or(0)) << 8
            | u16::from(bytes.get(1).copied().unwrap_or(0));
        BOUNDS.partition_point(|&bound| bound <= prefix)
    }

    fn lock(&self, number: usize) -> std::sync::MutexGuard<'_, Shard> {
        self.0[number]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The objects' streams, each opened by the worker that reads it or, `ahead`
/// places earlier, by the worker reading an earlier object (S3 GETs then run
/// while workers parse).
struct Streams<'a> {
    store: &'a Store,
    objects: &'a [Object],
    slots: Vec<Mutex<Slot>>,
    ahead: usize,
}

enum Slot {
    Unopened,
    Opened(Result<Box<dyn Read + Send>>),
    Taken,
}

impl<'a> Streams<'a> {
    fn new(store: &'a Store, objects: &'a [Object], ahead: usize) -> Self {
        Self {
            store,
            objects,
            slots: objects.iter().map(|_| Mutex::new(Slot::Unopened)).collect(),
            ahead,
        }
    }

    fn lock(&self, i: usize) -> std::sync::MutexGuard<'_, Slot> {
        self.slots[i]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Object `i`'s stream (opening the next `ahead` objects' on the way).
    fn take(&self, i: usize) -> Result<Box<dyn Read + Send>> {
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
        let mut objects = Vec::new();
        let mut skipped = Vec::new();
        for source in sources {
            let listing = store.list(source)?;
            objects.extend(listing.objects);
            skipped.extend(listing.skipped);
        }
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
        Ok(self.finish(found, shards, skipped))
    }

    /// Reads one stream (a log file's bytes, gzip or not) as the day's only
    /// input: the same path every object takes, for fuzzing and replay.
    pub fn read_stream(&self, name: &Path, stream: Box<dyn Read + Send>) -> Result<LogDay> {
        let shards = Shards::new();
        let mut acc = Acc::new(&shards, self.fields);
        let object = Object {
            location: Location::Local(name.to_path_buf()),
            size: 0,
        };
        self.read_object(&object, stream, &mut acc)?;
        let found = acc.found();
        Ok(self.finish(found, shards, Vec::new()))
    }

    /// The transactions out of the shards, sorted, and the counters.
    fn finish(&self, found: Found, shards: Shards, skipped: Vec<String>) -> LogDay {
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
        unsafe { transactions.set_len(count) };
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
        }
    }

    fn read_object(
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
        let outcome = match self.format {
            LogFormat::Firehose => self.read_firehose(path, reader, acc),
            LogFormat::CloudwatchExport | LogFormat::Jsonl => self.read_lines(path, reader, acc),
        };
        match outcome {
            Ok(()) => Ok(()),
            // Bytes that could not be read are never skipped: what was read of
            // the object is already counted, the rest would be silently lost.
            Err(ReadFailure::Unreadable(message)) => Err(Error::input(path, message)),
            Err(ReadFailure::Corrupt(message)) if self.allow_corrupt_input => {
                acc.counters.corrupt_files += 1;
                acc.corrupt.push(Sample {
                    file: path.to_path_buf(),
                    line: 0,
                    error: message,
                });
                Ok(())
            }
            Err(ReadFailure::Corrupt(message)) => Err(Error::input(
                path,
                format!("{message} (pass --allow-corrupt-input to count such files and go on)"),
            )),
        }
    }

    fn read_lines(
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

    fn read_firehose(
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

    /// Classifies each message into exactly one counter, and absorbs the events
    /// of the day: all of the batch parsed first, then absorbed shard by
    /// shard, each shard's table lines and then accumulators asked for before
    /// the first of its events is absorbed, so their memory is fetched together,
    /// not an event at a time.
    fn handle_messages(&self, path: &Path, messages: &[Message<'_>], acc: &mut Acc) {
        let mut docs: Vec<Option<Parsed<'_>>> = Vec::with_capacity(messages.len());
        // Every event's usage counters, each event's a range of them.
        let mut usage: Vec<(&str, u64)> = Vec::new();
        docs.extend(
            messages
                .iter()
                .map(|m| self.parse(path, m, &mut usage, acc)),
        );
        let mut events: Vec<Pending<'_>> = Vec::with_capacity(docs.len());
        let day_start = (self.date.and_hms_opt(0, 0, 0))
            .expect("midnight")
            .and_utc()
            .timestamp_millis();
        let day_ms = day_start..day_start + 86_400_000;
        for (message, parsed) in messages.iter().zip(&docs) {
            if let Some(parsed) = parsed
                && let Some(event) = self.event(path, message, parsed, &day_ms, &mut usage, acc)
            {
                events.push(event);
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

    /// The message as JSON: `None` (counted) when it is not JSON or not
    /// valid. A flat `usage` the scanner reads is added to `usage`; an object
    /// whose `usage` it cannot read that way is parsed whole, so every field
    /// read from it borrows from the batch.
    fn parse<'m>(
        &self,
        path: &Path,
        message: &Message<'m>,
        usage: &mut Vec<(&'m str, u64)>,
        acc: &mut Acc,
    ) -> Option<Parsed<'m>> {
        let text = message.text;
        let first = text.iter().find(|b| !b.is_ascii_whitespace()).copied();
        if !matches!(first, Some(b'{') | Some(b'[')) {
            acc.counters.non_json += 1;
            acc.unused(path, message.line_no, text);
            return None;
        }
        let parsed = Doc::parse(text, &acc.pointers).and_then(|doc| {
            let Doc::Members(members) = &doc else {
                return Ok(Parsed { doc, usage: None });
            };
            let start = usage.len();
            let Some(raw) = members.raw[Field::Usage as usize] else {
                return Ok(Parsed {
                    doc,
                    usage: Some(start..start),
                });
            };
            usage.resize(start + PLAIN_COUNTERS, ("", 0));
            match scan::flat_counters(raw, MAX_DRIVER_VALUE, &mut usage[start..]) {
                Some(n) => {
                    usage.truncate(start + n);
                    Ok(Parsed {
                        doc,
                        usage: Some(start..start + n),
                    })
                }
                None => {
                    usage.truncate(start);
                    let doc = serde_json::from_slice(text).map(Doc::Value)?;
                    Ok(Parsed { doc, usage: None })
                }
            }
        });
        match parsed {
            Ok(parsed) => Some(parsed),
            Err(e) => {
                acc.malformed(path, message.line_no, e.to_string());
                None
            }
        }
    }

    /// The event of the day `doc` holds: `None` (counted) when it has no
    /// transaction, no service, no usable time, is of another day or is
    /// malformed. Its usage counters are added to `usage`.
    fn event<'d>(
        &self,
        path: &Path,
        message: &Message<'_>,
        parsed: &'d Parsed<'_>,
        day_ms: &std::ops::Range<i64>,
        usage: &mut Vec<(&'d str, u64)>,
        acc: &mut Acc,
    ) -> Option<Pending<'d>> {
        let doc = &parsed.doc;
        let line_no = message.line_no;
        let f = &acc.pointers;
        // A non-empty string, or an integer taken as its decimal text (SPEC 2.4).
        let transaction_id = match doc.text(f, Field::TransactionId) {
            Some(id) => id,
            None => match doc.get(f, Field::TransactionId).as_deref() {
                None | Some(Value::Null) => Cow::Borrowed(""),
                Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Cow::Owned(n.to_string()),
                Some(v) => {
                    let error = format!("transaction_id {v} is neither a string nor an integer");
                    acc.malformed(path, line_no, error);
                    return None;
                }
            },
        };
        if transaction_id.is_empty() {
            acc.counters.no_transaction += 1;
            acc.unused(path, line_no, message.text);
            return None;
        }
        let Some(service) = doc.text(f, Field::Service).filter(|s| !s.is_empty()) else {
            acc.counters.missing_service += 1;
            return None;
        };
        // The envelope's time wins; `i64::MIN` marks a Firehose event without one.
        let ts = match message.envelope_ts.filter(|t| *t != i64::MIN) {
            Some(ts) => Some(ts),
            None => match doc.get(f, Field::Timestamp).as_deref() {
                Some(Value::String(s)) => {
                    super::cur::parse_iso8601_micros(s).map(|us| us.div_euclid(1000))
                }
                Some(Value::Number(n)) => n.as_i64(),
                _ => None,
            },
        };
        let Some(ts) = ts else {
            acc.counters.bad_timestamp += 1;
            return None;
        };
        if !day_ms.contains(&ts) {
            acc.counters.out_of_day += 1;
            return None;
        }
        let duration_ms = match doc.plain_integer(Field::DurationMs) {
            Some(d) if d < MAX_DRIVER_VALUE => d,
            _ => match doc.get(f, Field::DurationMs).as_deref() {
                None | Some(Value::Null) => 0,
                Some(v) => match driver_value(v) {
                    Some(d) => d,
                    None => {
                        let error = format!("duration_ms {v} is not an integer in [0, 2^53)");
                        acc.malformed(path, line_no, error);
                        return None;
                    }
                },
            },
        };
        // The usual `usage` was read by the scanner ([`LogReader::parse`]);
        // any other is read from the whole document.
        let counters = match &parsed.usage {
            Some(read) => read.clone(),
            None => {
                let start = usage.len();
                match doc.value(f, Field::Usage) {
                    None | Some(Value::Null) => {}
                    Some(Value::Object(counters)) => {
                        for (name, v) in counters {
                            match driver_value(v) {
                                Some(n) => usage.push((name.as_str(), n)),
                                None => {
                                    usage.truncate(start);
                                    let error =
                                        format!("usage.{name} {v} is not an integer in [0, 2^53)");
                                    acc.malformed(path, line_no, error);
                                    return None;
                                }
                            }
                        }
                    }
                    Some(v) => {
                        let error = format!("usage {v} is not an object of counters");
                        acc.malformed(path, line_no, error);
                        return None;
                    }
                }
                start..usage.len()
            }
        };
        let [flow, transaction_type, route, status] = [
            Field::Flow,
            Field::TransactionType,
            Field::Route,
            Field::Status,
        ]
        .map(|field| doc.text(f, field));
        let uuid = parse_uuid(&transaction_id).map(|bits| (bits, Shards::fingerprint(bits)));
        Some(Pending {
            line_no,
            uuid,
            ts_ms: ts,
            id: transaction_id,
            service,
            flow,
            transaction_type,
            route,
            status,
            duration_ms,
            usage: counters,
        })
    }
}

/// Events parsed and absorbed together: at most this many lines of a block
/// ([`Lines`]) at a time.
const BATCH_EVENTS: usize = 1024;

/// A message's JSON, and when the scanner read its `usage` (or found none),
/// the range of the batch's usage counters that are its.
struct Parsed<'m> {
    doc: Doc<'m>,
    usage: Option<std::ops::Range<usize>>,
}

/// One message of a batch: a line's JSON text (for an export line, after its
/// timestamp, which is `envelope_ts`), or a Firehose event's.
struct Message<'m> {
    line_no: u64,
    envelope_ts: Option<i64>,
    text: &'m [u8],
}

/// An event of the day, parsed, waiting for its shard: what [`Event`] holds,
/// its usage counters as a range of the batch's, and, when its id is a
/// canonical UUID, the UUID's bits and fingerprint.
struct Pending<'d> {
    line_no: u64,
    uuid: Option<(u128, u32)>,
    ts_ms: i64,
    id: Cow<'d, str>,
    service: Cow<'d, str>,
    flow: Option<Cow<'d, str>>,
    transaction_type: Option<Cow<'d, str>>,
    route: Option<Cow<'d, str>>,
    status: Option<Cow<'d, str>>,
    duration_ms: u64,
    usage: std::ops::Range<usize>,
}

impl Pending<'_> {
    fn event<'e>(&'e self, usage: &'e [(&'e str, u64)]) -> Event<'e> {
        Event {
            ts_ms: self.ts_ms,
            transaction_id: &self.id,
            service: &self.service,
            flow: self.flow.as_deref(),
            transaction_type: self.transaction_type.as_deref(),
            route: self.route.as_deref(),
            status: self.status.as_deref(),
            duration_ms: self.duration_ms,
            usage: &usage[self.usage.clone()],
        }
    }
}

/// Usage counters an event may have and still be read without building its
/// `usage` value (more take the general path).
const PLAIN_COUNTERS: usize = 16;

/// Driver values are below 2^53 (SPEC 2.4): exact in a double, so every JSON
/// producer writes them faithfully.
const MAX_DRIVER_VALUE: u64 = 1 << 53;

/// A JSON number that is an integer in `[0, 2^53)` (`12`, `12.0`).
fn driver_value(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| {
            v.as_f64()
                .filter(|f| *f >= 0.0 && f.fract() == 0.0 && *f < MAX_DRIVER_VALUE as f64)
                .map(|f| f as u64)
        })
        .filter(|n| *n < MAX_DRIVER_VALUE)
}

/// A line without the carriage returns at its end ([`Lines`] hands it out
/// without its newline).
fn trim_line_end(line: &[u8]) -> &[u8] {
    let end = line.iter().rposition(|&b| b != b'\r').map_or(0, |i| i + 1);
    &line[..end]
}

/// `2026-11-23T14:02:11.532Z {"transaction_id":...}` -> (epoch ms, message).
fn split_export_line(line: &[u8]) -> Option<(i64, &[u8])> {
    let space = memchr::memchr(b' ', line)?;
    let ts = &line[..space];
    if !ts.first()?.is_ascii_digit() {
        return None;
    }
    // The export's own form read by position, any other the general way.
    let micros = match super::cur::parse_utc_micros(ts) {
        Some(micros) => micros,
        None => super::cur::parse_iso8601_micros(std::str::from_utf8(ts).ok()?)?,
    };
    Some((micros.div_euclid(1000), &line[space + 1..]))
}

/// Why an object's reading stopped before its end.
enum ReadFailure {
    /// Bytes that were read and do not decode (a bad gzip stream, a record
    /// that is not one): `--allow-corrupt-input` counts the file and goes on.
    Corrupt(String),
    /// Bytes that could not be read at all: always an input error.
    Unreadable(String),
}

fn describe_read_error(e: &std::io::Error, read: u64, what: &str) -> ReadFailure {
    if Unreadable::is(e) {
        ReadFailure::Unreadable(format!("unreadable after {read} {what}: {e}"))
    } else {
        ReadFailure::Corrupt(format!(
            "corrupt or truncated gzip stream after {read} {what}: {e}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shards hold ranges of ids: an id that sorts before another is in
    /// the same shard or an earlier one (so the shards, each sorted, are the
    /// day sorted), a UUID's shard is its text's, and UUIDs fill every shard.
    #[test]
    fn shards_hold_ranges_of_ids() {
        let mut xorshift = crate::source::XorShift(0x853c_49e6_748f_ea9b_u64);
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
        let mut xorshift = crate::source::XorShift(0x2545_f491_4f6c_dd1d_u64);
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
