//! The day's transactions while the logs are read: 64 shards holding ranges of
//! ids (so the shards, each sorted, are the day sorted), each a map from id to
//! accumulator (a table by UUID bits when ids are UUIDs), and the Firehose
//! deliveries seen.

use std::sync::Mutex;

use super::event::Pending;
use super::uuid_table::{UuidTable, prefetch};
use crate::FastMap;
use crate::classify::{FlowCatalog, Names, Texts, TransactionAcc};
use crate::model::Transaction;
use crate::model::id::{TransactionId, uuid_words};

/// One shard of the day's transactions: their accumulators, and their indices
/// by id: canonical (lowercase, hyphenated) UUIDs in a [`UuidTable`] (the
/// UUID's bits are kept beside its accumulator, so the lookup's one compare
/// reads the line the event then updates), any other id by its text; and the
/// flow and status texts its accumulators share.
#[derive(Default)]
pub(super) struct Shard {
    pub(super) accs: Accs,
    pub(super) uuids: UuidTable,
    pub(super) by_text: FastMap<Box<str>, u32>,
    pub(super) texts: Texts,
}

impl Shard {
    pub(super) fn len(&self) -> usize {
        self.uuids.len() + self.by_text.len()
    }

    /// Asks for the table line where the event's UUID is filed.
    pub(super) fn prefetch_slot(&self, event: &Pending<'_>) {
        if let Some((_, fingerprint)) = event.uuid {
            self.uuids.prefetch(fingerprint);
        }
    }

    /// Asks for the accumulator the event's UUID is most likely filed with.
    pub(super) fn prefetch_acc(&self, event: &Pending<'_>) {
        if let Some((_, fingerprint)) = event.uuid
            && let Some(index) = self.uuids.candidates(fingerprint).next()
        {
            prefetch(self.accs.get(index));
        }
    }

    /// The accumulator of the event's transaction, made at its time if new,
    /// and the texts it shares.
    pub(super) fn entry(&mut self, event: &Pending<'_>) -> (&mut TransactionAcc, &mut Texts) {
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
    pub(super) fn into_transactions(self, catalog: &FlowCatalog) -> (Vec<Transaction>, u64) {
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
            // every step, which `perf` showed on a large day).
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
pub(super) struct Accs(pub(super) Vec<Vec<([u64; 2], TransactionAcc)>>);

impl Accs {
    /// A chunk fills 256 KiB: a whole number of the allocator's 64 KiB spans
    /// (a chunk of 1,024 took three spans for 136 KiB, a third of it unused).
    const PER_CHUNK: usize = 256 * 1024 / std::mem::size_of::<([u64; 2], TransactionAcc)>();

    pub(super) fn push(&mut self, uuid: [u64; 2], acc: TransactionAcc) -> u32 {
        if self.0.last().is_none_or(|c| c.len() == Self::PER_CHUNK) {
            self.0.push(Vec::with_capacity(Self::PER_CHUNK));
        }
        let chunk = self.0.len() - 1;
        let index = chunk * Self::PER_CHUNK + self.0[chunk].len();
        self.0[chunk].push((uuid, acc));
        u32::try_from(index).expect("fewer than 2^32 transactions a shard")
    }

    pub(super) fn get(&self, index: u32) -> &([u64; 2], TransactionAcc) {
        let index = index as usize;
        &self.0[index / Self::PER_CHUNK][index % Self::PER_CHUNK]
    }

    pub(super) fn get_mut(&mut self, index: u32) -> &mut ([u64; 2], TransactionAcc) {
        let index = index as usize;
        &mut self.0[index / Self::PER_CHUNK][index % Self::PER_CHUNK]
    }
}

/// The day's transactions as they accumulate, shared by the workers: sharded by
/// the id's first bytes ([`Shards::number`]), each shard behind its own lock,
/// so each transaction is held once.
pub(super) struct Shards(
    pub(super) Vec<Mutex<Shard>>,
    pub(super) Vec<Mutex<std::collections::HashSet<u128>>>,
);

impl Shards {
    pub(super) const COUNT: usize = 64;

    pub(super) fn new() -> Self {
        Self(
            (0..Self::COUNT).map(|_| Mutex::default()).collect(),
            (0..Self::COUNT)
                .map(|_| Mutex::new(std::collections::HashSet::new()))
                .collect(),
        )
    }

    /// Whether the Firehose event `(group, stream, id)` is seen for the first
    /// time this day. Kept as a 128-bit hash (16 bytes an event, only for Firehose).
    pub(super) fn first_delivery(&self, group: &str, stream: &str, id: &str) -> bool {
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

    /// The shard of `id` (`uuid`: its bits, when it is a canonical UUID), by
    /// its first two bytes, so that the shards hold ranges of ids in order:
    /// sorted one by one, they are the day's transactions sorted. The 256 hex
    /// prefixes of UUIDs fall four to a shard (a UUID's shard is its top six
    /// bits); any other id goes where its prefix sorts among theirs.
    pub(super) fn number(id: &str, uuid: Option<u128>) -> usize {
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

    pub(super) fn lock(&self, number: usize) -> std::sync::MutexGuard<'_, Shard> {
        self.0[number]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
