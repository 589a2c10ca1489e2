//! One log message made an event: its fields found by JSON pointer (the
//! scanner's fast path, serde's otherwise), its driver values checked
//! (integers in [0, 2^53)), and what the reader does with each.

use std::borrow::Cow;

use serde::Deserializer as _;
use serde_json::Value;
use serde_json::value::RawValue;

use super::json_scan as scan;
use super::uuid_table::fingerprint;
use crate::Result;
use crate::classify::Event;
use crate::config::FieldsSection;
use crate::model::id::parse_uuid;

/// A JSON pointer (RFC 6901) split into unescaped tokens once, not at every event
/// as `Value::pointer` does. An empty pointer reads nothing (the field is unused).
#[derive(Debug, Clone)]
pub(super) struct Pointer(pub(super) Option<Vec<String>>);

impl Pointer {
    pub(super) fn new(text: &str) -> Self {
        Self(text.strip_prefix('/').map(|rest| {
            rest.split('/')
                .map(|t| t.replace("~1", "/").replace("~0", "~"))
                .collect()
        }))
    }

    pub(super) fn get<'v>(&self, value: &'v Value) -> Option<&'v Value> {
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
pub(super) enum Field {
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
pub(super) struct Pointers {
    pub(super) list: [Pointer; 9],
    pub(super) members: Option<scan::Names>,
}

impl Pointers {
    pub(super) fn new(f: &FieldsSection) -> Self {
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
pub(super) enum Doc<'a> {
    Members(scan::Found<'a, 9>),
    Value(Value),
}

impl<'a> Doc<'a> {
    /// By [`scan::members`] when it reads the text, else by serde_json's
    /// selective parse, else as a whole `Value` (whose error is the line's).
    pub(super) fn parse(message: &'a [u8], pointers: &Pointers) -> serde_json::Result<Self> {
        if let (Some(members), Ok(text)) = (&pointers.members, std::str::from_utf8(message)) {
            if !crate::fast_path::plain()
                && let Some(found) = scan::members(text, members)
            {
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
    pub(super) fn get(&self, pointers: &Pointers, field: Field) -> Option<Cow<'_, Value>> {
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
    pub(super) fn plain_integer(&self, field: Field) -> Option<u64> {
        let Doc::Members(m) = self else { return None };
        scan::plain_digits(m.raw[field as usize]?.as_bytes())
    }

    /// The field as a value of the whole document; `None` for a document
    /// read by its members ([`LogReader::parse`] parses whole a document
    /// whose member is read this way).
    pub(super) fn value(&self, pointers: &Pointers, field: Field) -> Option<&Value> {
        match self {
            Doc::Value(v) => pointers.list[field as usize].get(v),
            Doc::Members(_) => None,
        }
    }

    /// The field when it is a JSON string.
    pub(super) fn text(&self, pointers: &Pointers, field: Field) -> Option<Cow<'_, str>> {
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
pub(super) fn selective<'a>(
    text: &'a str,
    members: &[(String, usize)],
) -> Option<[Option<&'a RawValue>; 9]> {
    let mut de = serde_json::Deserializer::from_str(text);
    let found = de.deserialize_map(Selective(members)).ok()?;
    de.end().ok()?;
    Some(found)
}

/// Visits a JSON object keeping the raw text of the wanted members, skipping the rest.
pub(super) struct Selective<'k>(pub(super) &'k [(String, usize)]);

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

/// A message's JSON, and when the scanner read its `usage` (or found none),
/// the range of the batch's usage counters that are its.
pub(super) struct Parsed<'m> {
    pub(super) doc: Doc<'m>,
    pub(super) usage: Option<std::ops::Range<usize>>,
}

/// One message of a batch: a line's JSON text (for an export line, after its
/// timestamp, which is `envelope_ts`), or a Firehose event's.
pub(super) struct Message<'m> {
    pub(super) line_no: u64,
    pub(super) envelope_ts: Option<i64>,
    pub(super) text: &'m [u8],
}

/// An event of the day, parsed, waiting for its shard: what [`Event`] holds,
/// its usage counters as a range of the batch's, and, when its id is a
/// canonical UUID, the UUID's bits and fingerprint.
pub(super) struct Pending<'d> {
    pub(super) line_no: u64,
    pub(super) uuid: Option<(u128, u32)>,
    pub(super) ts_ms: i64,
    pub(super) id: Cow<'d, str>,
    pub(super) service: Cow<'d, str>,
    pub(super) flow: Option<Cow<'d, str>>,
    pub(super) transaction_type: Option<Cow<'d, str>>,
    pub(super) route: Option<Cow<'d, str>>,
    pub(super) status: Option<Cow<'d, str>>,
    pub(super) duration_ms: u64,
    pub(super) message_bytes: u64,
    pub(super) usage: std::ops::Range<usize>,
}

impl Pending<'_> {
    pub(super) fn event<'e>(&'e self, usage: &'e [(&'e str, u64)]) -> Event<'e> {
        Event {
            ts_ms: self.ts_ms,
            transaction_id: &self.id,
            service: &self.service,
            flow: self.flow.as_deref(),
            transaction_type: self.transaction_type.as_deref(),
            route: self.route.as_deref(),
            status: self.status.as_deref(),
            duration_ms: self.duration_ms,
            message_bytes: self.message_bytes,
            usage: &usage[self.usage.clone()],
        }
    }
}

/// Usage counters an event may have and still be read without building its
/// `usage` value (more take the general path).
pub(super) const PLAIN_COUNTERS: usize = 16;

/// Driver values are below 2^53 (SPEC 2.4): exact in a double, so every JSON
/// producer writes them faithfully.
pub(super) const MAX_DRIVER_VALUE: u64 = 1 << 53;

/// A JSON number that is an integer in `[0, 2^53)` (`12`, `12.0`).
pub(super) fn driver_value(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| {
            v.as_f64()
                .filter(|f| *f >= 0.0 && f.fract() == 0.0 && *f < MAX_DRIVER_VALUE as f64)
                .map(|f| f as u64)
        })
        .filter(|n| *n < MAX_DRIVER_VALUE)
}

/// Why a message gives no event of the day: each is counted once, in one
/// counter of [`crate::model::LogCounters`].
pub(super) enum Skip {
    /// Not JSON (kept as an unused line).
    NotJson,
    /// JSON that breaks SPEC 2.4, and why.
    Malformed(String),
    /// No transaction id (kept as an unused line).
    NoTransaction,
    MissingService,
    BadTimestamp,
    OutOfDay,
}

/// The message as JSON, or why not. A flat `usage` the scanner reads is
/// added to `usage`; an object whose `usage` it cannot read that way is parsed
/// whole, so every field read from it borrows from the batch.
pub(super) fn parse<'m>(
    message: &Message<'m>,
    pointers: &Pointers,
    usage: &mut Vec<(&'m str, u64)>,
) -> Result<Parsed<'m>, Skip> {
    let text = message.text;
    let first = text.iter().find(|b| !b.is_ascii_whitespace()).copied();
    if !matches!(first, Some(b'{') | Some(b'[')) {
        return Err(Skip::NotJson);
    }
    let parsed = Doc::parse(text, pointers).and_then(|doc| {
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
    parsed.map_err(|e| Skip::Malformed(e.to_string()))
}

/// The event of the day `parsed` holds, or why it is none (no transaction, no
/// service, no usable time, of another day, malformed). Its usage counters are
/// added to `usage`.
#[inline]
pub(super) fn event<'d>(
    message: &Message<'_>,
    parsed: &'d Parsed<'_>,
    pointers: &Pointers,
    day_ms: &std::ops::Range<i64>,
    usage: &mut Vec<(&'d str, u64)>,
) -> Result<Pending<'d>, Skip> {
    let (doc, f) = (&parsed.doc, pointers);
    let transaction_id = doc.transaction_id(f).map_err(Skip::Malformed)?;
    if transaction_id.is_empty() {
        return Err(Skip::NoTransaction);
    }
    let service = (doc.text(f, Field::Service))
        .filter(|s| !s.is_empty())
        .ok_or(Skip::MissingService)?;
    let ts = doc
        .time_ms(f, message.envelope_ts)
        .ok_or(Skip::BadTimestamp)?;
    if !day_ms.contains(&ts) {
        return Err(Skip::OutOfDay);
    }
    let duration_ms = doc.duration_ms(f).map_err(Skip::Malformed)?;
    // The usual `usage` was read by the scanner ([`parse`]); any other is
    // read from the whole document.
    let counters = match &parsed.usage {
        Some(read) => read.clone(),
        None => doc.usage_counters(f, usage).map_err(Skip::Malformed)?,
    };
    let [flow, transaction_type, route, status] = [
        Field::Flow,
        Field::TransactionType,
        Field::Route,
        Field::Status,
    ]
    .map(|field| doc.text(f, field));
    // The plain twin files every id by its text.
    let uuid = (!crate::fast_path::plain())
        .then(|| parse_uuid(&transaction_id))
        .flatten()
        .map(|bits| (bits, fingerprint(bits)));
    Ok(Pending {
        line_no: message.line_no,
        uuid,
        ts_ms: ts,
        id: transaction_id,
        service,
        flow,
        transaction_type,
        route,
        status,
        duration_ms,
        message_bytes: message.text.len() as u64,
        usage: counters,
    })
}

/// The fields of an event as SPEC 2.4 reads them; an `Err` is the reason the
/// line is malformed.
impl<'a> Doc<'a> {
    /// A non-empty string, or an integer taken as its decimal text; "" when
    /// absent or null.
    #[inline]
    fn transaction_id(&self, f: &Pointers) -> Result<Cow<'_, str>, String> {
        if let Some(id) = self.text(f, Field::TransactionId) {
            return Ok(id);
        }
        match self.get(f, Field::TransactionId).as_deref() {
            None | Some(Value::Null) => Ok(Cow::Borrowed("")),
            Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(Cow::Owned(n.to_string())),
            Some(v) => Err(format!(
                "transaction_id {v} is neither a string nor an integer"
            )),
        }
    }

    /// The event's time in milliseconds: the envelope's wins (`i64::MIN`
    /// marks a Firehose event without one), else the document's `timestamp`.
    #[inline]
    fn time_ms(&self, f: &Pointers, envelope_ts: Option<i64>) -> Option<i64> {
        if let Some(ts) = envelope_ts.filter(|t| *t != i64::MIN) {
            return Some(ts);
        }
        match self.get(f, Field::Timestamp).as_deref() {
            Some(Value::String(s)) => {
                crate::source::timestamps::parse_iso8601_micros(s).map(|us| us.div_euclid(1000))
            }
            Some(Value::Number(n)) => n.as_i64(),
            _ => None,
        }
    }

    /// `duration_ms`: 0 when absent or null.
    #[inline]
    fn duration_ms(&self, f: &Pointers) -> Result<u64, String> {
        match self.plain_integer(Field::DurationMs) {
            Some(d) if d < MAX_DRIVER_VALUE => Ok(d),
            _ => match self.get(f, Field::DurationMs).as_deref() {
                None | Some(Value::Null) => Ok(0),
                Some(v) => driver_value(v)
                    .ok_or_else(|| format!("duration_ms {v} is not an integer in [0, 2^53)")),
            },
        }
    }

    /// The `usage` counters read from the whole document, added to `usage`
    /// (nothing added when one is malformed); their range there.
    fn usage_counters<'d>(
        &'d self,
        f: &Pointers,
        usage: &mut Vec<(&'d str, u64)>,
    ) -> Result<std::ops::Range<usize>, String> {
        let start = usage.len();
        match self.value(f, Field::Usage) {
            None | Some(Value::Null) => {}
            Some(Value::Object(counters)) => {
                for (name, v) in counters {
                    match driver_value(v) {
                        Some(n) => usage.push((name.as_str(), n)),
                        None => {
                            usage.truncate(start);
                            return Err(format!("usage.{name} {v} is not an integer in [0, 2^53)"));
                        }
                    }
                }
            }
            Some(v) => return Err(format!("usage {v} is not an object of counters")),
        }
        Ok(start..usage.len())
    }
}
