//! Transactions from events (SPEC 2.5): the flow catalog, the per-transaction
//! accumulator the log reader feeds, and the final classification. Pure.

use std::num::{NonZeroU16, NonZeroU32};
use std::sync::Arc;

use regex::Regex;

use crate::FastMap;
use crate::model::id::TransactionId;
use crate::model::units::Units;
use crate::model::{Kind, Transaction, TransactionType, UNCLASSIFIED};
use crate::pricing::{Driver, UnitKeys};

/// One flow of the catalog.
#[derive(Debug)]
pub struct Flow {
    pub name: String,
    pub transaction_type: TransactionType,
    pub routes: Vec<Regex>,
}

/// The flows, in match order.
#[derive(Debug)]
pub struct FlowCatalog {
    flows: Vec<Flow>,
}

/// A flow of the catalog by its position, counted from 1 (so an optional one
/// takes no more room).
pub type FlowNumber = NonZeroU16;

impl FlowCatalog {
    /// Flows a catalog may hold: each is a [`FlowNumber`].
    pub const MAX_FLOWS: usize = u16::MAX as usize;

    /// The catalog of `flows`, at most [`Self::MAX_FLOWS`] (the configuration checks).
    pub fn new(flows: Vec<Flow>) -> Self {
        assert!(
            flows.len() <= Self::MAX_FLOWS,
            "the configuration checks the flow count"
        );
        Self { flows }
    }

    pub fn flows(&self) -> &[Flow] {
        &self.flows
    }

    /// The catalog type of a flow name, if the catalog has it.
    pub fn type_of(&self, flow: &str) -> Option<TransactionType> {
        self.flows
            .iter()
            .find(|f| f.name == flow)
            .map(|f| f.transaction_type)
    }

    /// The first flow one of whose route patterns matches `route`.
    pub fn match_route(&self, route: &str) -> Option<FlowNumber> {
        let index =
            (self.flows.iter()).position(|f| f.routes.iter().any(|re| re.is_match(route)))?;
        // At most MAX_FLOWS flows, so index + 1 fits.
        FlowNumber::new(u16::try_from(index + 1).ok()?)
    }
}

/// One log event, borrowed from the line it was parsed from.
#[derive(Debug, Default)]
pub struct Event<'a> {
    /// Event time, epoch milliseconds UTC.
    pub ts_ms: i64,
    pub transaction_id: &'a str,
    pub service: &'a str,
    pub flow: Option<&'a str>,
    pub transaction_type: Option<&'a str>,
    pub route: Option<&'a str>,
    pub status: Option<&'a str>,
    pub duration_ms: u64,
    /// The size of the event's message in bytes (the `bytes` driver): the
    /// line's JSON after an export line's timestamp, a Firehose event's
    /// `message`, a JSON line.
    pub message_bytes: u64,
    /// Usage counters (`usage.<name>`), non-negative.
    pub usage: &'a [(&'a str, u64)],
}

/// Texts held once, each by its number: the flows and statuses of the
/// accumulators that share it (one per shard of the log reader), so an
/// accumulator keeps 4 bytes instead of a string of its own, and an event that
/// repeats its transaction's status allocates nothing. It grows with the
/// distinct texts that win a transaction's flow or status (a small vocabulary:
/// catalog names, status codes), never with the number of events.
#[derive(Debug, Default)]
pub struct Texts {
    texts: Vec<Arc<str>>,
    numbers: FastMap<Arc<str>, TextNumber>,
}

/// A text of a [`Texts`], counted from 1 (so an optional one takes no more room).
pub type TextNumber = NonZeroU32;

impl Texts {
    /// The number of `text`, given it if it is new.
    pub fn number(&mut self, text: &str) -> TextNumber {
        if let Some(&n) = self.numbers.get(text) {
            return n;
        }
        let n = u32::try_from(self.texts.len() + 1)
            .ok()
            .and_then(TextNumber::new)
            .expect("fewer than 2^32 - 1 distinct texts");
        let text: Arc<str> = text.into();
        self.texts.push(Arc::clone(&text));
        self.numbers.insert(text, n);
        n
    }

    pub fn text(&self, number: TextNumber) -> &str {
        numbered(&self.texts, number.get()).as_ref()
    }
}

/// The item of `number` in `items`, numbered from 1 (a [`TextNumber`], a [`FlowNumber`]).
fn numbered<T>(items: &[T], number: u32) -> &T {
    &items[number as usize - 1]
}

/// The flow and status names of finished transactions, each held once and
/// shared: the catalog's flows, `unclassified`, and the texts of a [`Texts`];
/// and the [`Kind`]s made of them, each made once per (flow, status).
pub struct Names {
    flows: Vec<Arc<str>>,
    unclassified: Arc<str>,
    texts: Vec<Arc<str>>,
    kinds: FastMap<(FlowName, Option<TextNumber>), Arc<Kind>>,
}

/// Where a transaction's flow name comes from: a text, a catalog flow, none.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum FlowName {
    Text(TextNumber),
    Catalog(FlowNumber),
    Unclassified,
}

impl Names {
    pub fn new(catalog: &FlowCatalog, texts: &Texts) -> Self {
        Self {
            flows: catalog
                .flows
                .iter()
                .map(|f| f.name.as_str().into())
                .collect(),
            unclassified: UNCLASSIFIED.into(),
            texts: texts.texts.clone(), // the same strings, shared
            kinds: FastMap::default(),
        }
    }

    /// Takes the texts `texts` gained since these names were made from it
    /// (a [`Texts`] only grows): each new one cloned once.
    pub fn update(&mut self, texts: &Texts) {
        let known = self.texts.len();
        self.texts.extend(texts.texts[known..].iter().cloned());
    }

    /// The kind of flow `flow` with status text `status`, classified against
    /// the catalog.
    fn kind(
        &mut self,
        flow: FlowName,
        status: Option<TextNumber>,
        catalog: &FlowCatalog,
    ) -> Arc<Kind> {
        let Self {
            flows,
            unclassified,
            texts,
            kinds,
        } = self;
        let kind = kinds.entry((flow, status)).or_insert_with(|| {
            let flow = Arc::clone(match flow {
                FlowName::Text(f) => numbered(texts, f.get()),
                FlowName::Catalog(f) => numbered(flows, f.get().into()),
                FlowName::Unclassified => unclassified,
            });
            Arc::new(Kind {
                transaction_type: catalog.type_of(&flow),
                flow,
                status: status.map(|s| Arc::clone(numbered(texts, s.get()))),
            })
        });
        Arc::clone(kind)
    }
}

/// A transaction summed elsewhere ([`TransactionAcc::aggregated`]).
pub struct Aggregate<'a> {
    pub first_ms: i64,
    pub last_ms: i64,
    pub events: u64,
    pub duration_ms: u64,
    pub flow: Option<&'a str>,
    pub route_flow: Option<FlowNumber>,
    pub status: Option<&'a str>,
    pub explicit_types: [u64; 3],
    pub units: Units,
}

/// What a transaction's events add up to so far. Its events absorbed in any
/// order give the same result (time ties go by value), so files can be read in
/// parallel.
#[derive(Debug, Clone)]
pub struct TransactionAcc {
    /// The time of the first event absorbed (epoch ms): every time below is
    /// in milliseconds from it, in 4 bytes (a day's events are less than 2^31
    /// ms apart; an event further from its transaction's is refused).
    base: i64,
    pub duration_ms: u64,
    /// Refused past 2^32 - 1, like a sum past 2^64.
    pub events: u32,
    first: i32,
    last: i32,
    /// Earliest non-empty `flow` (ties: smaller value), by its number in [`Texts`].
    flow: Option<(i32, TextNumber)>,
    /// Earliest event whose route matched a catalog flow, and that flow.
    route_flow: Option<(i32, FlowNumber)>,
    /// Latest non-empty `status` (ties: larger value), by its number in [`Texts`].
    status: Option<(i32, TextNumber)>,
    /// Events whose explicit type was monetary, non-monetary, anything else.
    explicit_types: [u32; 3],
    /// Driver units per unit key.
    units: Units,
}

impl TransactionAcc {
    pub fn new(ts: i64) -> Self {
        Self {
            base: ts,
            first: 0,
            last: 0,
            events: 0,
            duration_ms: 0,
            flow: None,
            route_flow: None,
            status: None,
            explicit_types: [0; 3],
            units: Units::default(),
        }
    }

    /// Adds one event, or refuses it (changing nothing) when a sum over the
    /// transaction would pass 2^64: sums are exact or the event is malformed.
    /// `route_cache` memoises route -> flow matches for the caller, and
    /// `additions` is the caller's room for the event's units; `texts` holds
    /// the flow and status texts of this accumulator.
    pub fn absorb(
        &mut self,
        event: &Event<'_>,
        catalog: &FlowCatalog,
        keys: &UnitKeys,
        route_cache: &mut FastMap<Box<str>, Option<FlowNumber>>,
        additions: &mut Vec<(u16, u64)>,
        texts: &mut Texts,
    ) -> Result<(), String> {
        let ts = i32::try_from(event.ts_ms.saturating_sub(self.base))
            .map_err(|_| "event more than 24 days from its transaction's first")?;
        let duration_ms = self
            .duration_ms
            .checked_add(event.duration_ms)
            .ok_or("duration_ms summed over the transaction passes 2^64")?;
        let events =
            (self.events.checked_add(1)).ok_or("the transaction's events pass 2^32 - 1")?;
        let value_of = |key: u16, driver: Driver| match driver {
            // A transaction is one unit, however many events it has.
            Driver::Transactions => u64::from(self.units.get(key) == 0),
            Driver::Events => 1,
            Driver::DurationMs => event.duration_ms,
            Driver::Bytes => event.message_bytes,
            Driver::Usage(counter) => {
                let name = keys.counter_name(counter);
                event
                    .usage
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map_or(0, |(_, v)| *v)
            }
            Driver::None => 0,
        };
        // Checked first, applied after: a refused event changes nothing. Each
        // value is found once (a usage counter by name), then read twice.
        additions.clear();
        additions.extend(
            (keys.for_service(event.service).iter())
                .map(|&(key, driver)| (key, value_of(key, driver))),
        );
        self.units.add(additions).map_err(|key| {
            let what = match keys.driver(key) {
                Driver::Usage(c) => format!("usage.{}", keys.counter_name(c)),
                Driver::DurationMs => "duration_ms".to_string(),
                Driver::Bytes => "bytes".to_string(),
                _ => "events".to_string(),
            };
            format!("{what} summed over the transaction passes 2^64")
        })?;
        self.duration_ms = duration_ms;
        self.first = self.first.min(ts);
        self.last = self.last.max(ts);
        self.events = events;
        if let Some(flow) = event.flow.filter(|f| !f.is_empty()) {
            if self
                .flow
                .is_none_or(|(t, f0)| (ts, flow) < (t, texts.text(f0)))
            {
                self.flow = Some((ts, texts.number(flow)));
            }
        } else if self.flow.is_none()
            && let Some(route) = event.route.filter(|r| !r.is_empty())
        {
            let matched = match route_cache.get(route) {
                Some(m) => *m,
                None => *route_cache
                    .entry(route.into())
                    .or_insert_with(|| catalog.match_route(route)),
            };
            if let Some(number) = matched
                && self.route_flow.is_none_or(|(t, n)| (ts, number) < (t, n))
            {
                self.route_flow = Some((ts, number));
            }
        }
        if let Some(status) = event.status.filter(|s| !s.is_empty())
            && self
                .status
                .is_none_or(|(t, s0)| (ts, status) > (t, texts.text(s0)))
        {
            let number = match self.status {
                Some((_, same)) if texts.text(same) == status => same, // the usual case: no lookup
                _ => texts.number(status),
            };
            self.status = Some((ts, number));
        }
        if let Some(ty) = event.transaction_type.filter(|t| !t.is_empty()) {
            let slot = match TransactionType::parse(ty) {
                Some(TransactionType::Monetary) => 0,
                Some(TransactionType::NonMonetary) => 1,
                None => 2,
            };
            self.explicit_types[slot] += 1;
        }
        Ok(())
    }

    /// A transaction's events as another engine summed them (SPEC 14: the
    /// Athena log engine's row), to be classified by [`Self::finish`] as if
    /// absorbed here: `flow` the earliest non-empty flow, `route_flow` the
    /// catalog flow of the earliest matching route, `status` the latest
    /// non-empty status, `explicit_types` the events whose explicit type was
    /// monetary, non-monetary, anything else. Refused when the times are more
    /// than 24 days apart or a count passes 2^32 - 1.
    pub fn aggregated(summed: Aggregate<'_>, texts: &mut Texts) -> Result<Self, String> {
        let last = i32::try_from(summed.last_ms.saturating_sub(summed.first_ms))
            .ok()
            .filter(|d| *d >= 0)
            .ok_or("the last event is before the first or more than 24 days after it")?;
        let count = |n: u64| u32::try_from(n).map_err(|_| "a count passes 2^32 - 1".to_string());
        let explicit_types = [
            count(summed.explicit_types[0])?,
            count(summed.explicit_types[1])?,
            count(summed.explicit_types[2])?,
        ];
        Ok(Self {
            base: summed.first_ms,
            duration_ms: summed.duration_ms,
            events: count(summed.events)?,
            first: 0,
            last,
            flow: (summed.flow.filter(|f| !f.is_empty())).map(|f| (0, texts.number(f))),
            route_flow: summed.route_flow.map(|n| (0, n)),
            status: (summed.status.filter(|s| !s.is_empty())).map(|s| (0, texts.number(s))),
            explicit_types,
            units: summed.units,
        })
    }

    /// Classifies the transaction against the catalog (SPEC 2.5); `names` are
    /// of the catalog and of the texts it was absorbed with. Adds its events
    /// whose explicit type disagrees with the catalog to `type_conflicts`.
    pub fn finish(
        self,
        id: TransactionId,
        catalog: &FlowCatalog,
        names: &mut Names,
        type_conflicts: &mut u64,
    ) -> Transaction {
        let flow = match (self.flow, self.route_flow) {
            (Some((_, f)), _) => FlowName::Text(f),
            (None, Some((_, number))) => FlowName::Catalog(number),
            (None, None) => FlowName::Unclassified,
        };
        let kind = names.kind(flow, self.status.map(|(_, s)| s), catalog);
        let [monetary, non_monetary, other] = self.explicit_types.map(u64::from);
        *type_conflicts += match kind.transaction_type {
            Some(TransactionType::Monetary) => non_monetary + other,
            Some(TransactionType::NonMonetary) => monetary + other,
            None => 0,
        };
        Transaction {
            id,
            kind,
            first_ts: self.base + i64::from(self.first),
            // `last` >= `first` >= i32::MIN, so the difference fits 32 bits.
            last_after_first_ms: self.last.abs_diff(self.first),
            events: self.events,
            duration_ms: self.duration_ms,
            units: self.units,
        }
    }
}

#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<TransactionAcc>() == 120);
