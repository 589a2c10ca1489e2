//! A transaction's driver units: (unit key, units) pairs sorted by key, packed
//! in 32-bit words. A day holds about ten pairs for each of millions of
//! transactions, nearly all of them counts, milliseconds and requests below
//! 65,535, so the usual pair is 4 bytes, not the 16 of `(u16, u64)`.
//!
//! A word is `key << 16 | units` while units stay below [`BIG`]; a larger
//! count (up to 2^64 - 1, exactly) takes three words: `key << 16 | BIG`, then
//! the units' low and high halves. Pairs are found by a walk over the words: a
//! transaction has a few tens of them at most, in one cache line or two.
//!
//! Up to [`INLINE`] words are held in place, in the 56 bytes the value takes
//! anyway; only a transaction with more has a heap block. The log stage adds
//! an event's units to a million transactions in any order: a block per
//! transaction, regrown event by event, left the allocator's pages of every
//! smaller size pinned by the few transactions still that size, a third more
//! resident memory than the units themselves (docs/performance.md).

/// The low 16 bits all set: "the units are in the next two words".
const BIG: u32 = 0xFFFF;

/// Words held in place: as many as fit beside the length in the size of the
/// heap form (a boxed slice and the enum's tag, 56 bytes with alignment).
const INLINE: usize = 13;

/// Driver units per unit key (sparse: a key with no units has no pair).
#[derive(Clone)]
pub struct Units(Words);

#[derive(Clone)]
enum Words {
    Inline { len: u8, words: [u32; INLINE] },
    Heap(Box<[u32]>),
}

impl Default for Units {
    fn default() -> Self {
        Units(Words::Inline {
            len: 0,
            words: [0; INLINE],
        })
    }
}

impl Units {
    /// The units of `key` (0 when it has none).
    pub fn get(&self, key: u16) -> u64 {
        let words = self.words();
        let mut at = 0;
        while at < words.len() {
            let (k, units, next) = pair_at(words, at);
            if k >= key {
                return if k == key { units } else { 0 };
            }
            at = next;
        }
        0
    }

    /// The pairs, by key.
    pub fn iter(&self) -> Iter<'_> {
        Iter(self.words())
    }

    /// Adds every (key, units) of `additions` (distinct keys), or, when a sum
    /// would pass 2^64 - 1, nothing: `Err` names the key. The pairs held and
    /// the additions (sorted by key, as `UnitKeys` lists them) are merged in
    /// one walk; the result is held in place up to [`INLINE`] words, else in a
    /// heap block of exactly the words it needs.
    pub fn add(&mut self, additions: &[(u16, u64)]) -> Result<(), u16> {
        debug_assert!(
            additions
                .iter()
                .enumerate()
                .all(|(n, (key, _))| additions[..n].iter().all(|(k, _)| k != key)),
            "distinct keys"
        );
        if !additions.is_sorted_by_key(|&(key, _)| key) {
            let mut sorted = additions.to_vec();
            sorted.sort_unstable_by_key(|&(key, _)| key);
            return self.add(&sorted);
        }
        const ON_STACK: usize = 64;
        let words = self.words();
        let most = words.len() + 3 * additions.len();
        let (mut stack, mut heap) = ([0u32; ON_STACK], Vec::new());
        let merged: &mut [u32] = if most <= ON_STACK {
            &mut stack
        } else {
            heap.resize(most, 0);
            &mut heap
        };
        // Checked as merged: a refused addition returns before anything changes.
        let (mut at, mut len) = (0, 0);
        for &(key, units) in additions.iter().filter(|&&(_, u)| u > 0) {
            let mut now = 0;
            while at < words.len() {
                let (k, held, next) = pair_at(words, at);
                if k > key {
                    break;
                }
                if k == key {
                    now = held;
                } else if next - at == 1 {
                    merged[len] = words[at];
                    len += 1;
                } else {
                    merged[len..len + 3].copy_from_slice(&words[at..next]);
                    len += 3;
                }
                at = next;
            }
            let sum = now.checked_add(units).ok_or(key)?;
            if words_for(sum) == 1 {
                merged[len] = pack(key, sum);
                len += 1;
            } else {
                merged[len..len + 3].copy_from_slice(&pack_big(key, sum));
                len += 3;
            }
        }
        let rest = &words[at..];
        merged[len..len + rest.len()].copy_from_slice(rest);
        len += rest.len();
        self.hold(&merged[..len]);
        Ok(())
    }

    /// Holds `words` in place when they fit, else in a heap block of exactly
    /// their number (the one held when it is that size).
    fn hold(&mut self, words: &[u32]) {
        match &mut self.0 {
            Words::Heap(block) if block.len() == words.len() => block.copy_from_slice(words),
            _ if words.len() <= INLINE => {
                let mut inline = [0; INLINE];
                inline[..words.len()].copy_from_slice(words);
                self.0 = Words::Inline {
                    len: words.len() as u8,
                    words: inline,
                };
            }
            _ => self.0 = Words::Heap(words.into()),
        }
    }

    /// The packed words, pair after pair.
    fn words(&self) -> &[u32] {
        match &self.0 {
            Words::Inline { len, words } => &words[..usize::from(*len)],
            Words::Heap(words) => words,
        }
    }
}

/// The one word of a pair whose units are below [`BIG`].
fn pack(key: u16, units: u64) -> u32 {
    debug_assert!(units < u64::from(BIG));
    u32::from(key) << 16 | units as u32
}

/// The three words of a pair with any units.
fn pack_big(key: u16, units: u64) -> [u32; 3] {
    [
        u32::from(key) << 16 | BIG,
        units as u32,
        (units >> 32) as u32,
    ]
}

fn words_for(units: u64) -> usize {
    if units < u64::from(BIG) { 1 } else { 3 }
}

/// The pair whose first word is at `at`: its key, its units, and where the next one starts.
fn pair_at(words: &[u32], at: usize) -> (u16, u64, usize) {
    let word = words[at];
    let key = (word >> 16) as u16;
    if word & BIG == BIG {
        let units = u64::from(words[at + 1]) | u64::from(words[at + 2]) << 32;
        (key, units, at + 3)
    } else {
        (key, u64::from(word & BIG), at + 1)
    }
}

impl FromIterator<(u16, u64)> for Units {
    /// The pairs of `pairs` with units (summed by key, which must not overflow).
    fn from_iter<T: IntoIterator<Item = (u16, u64)>>(pairs: T) -> Self {
        let mut sum = Units::default();
        for pair in pairs {
            sum.add(&[pair])
                .unwrap_or_else(|key| panic!("units of key {key} pass 2^64 - 1"));
        }
        sum
    }
}

impl PartialEq for Units {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl std::fmt::Debug for Units {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The (key, units) pairs of [`Units`], by key.
#[derive(Clone)]
pub struct Iter<'a>(&'a [u32]);

impl Iterator for Iter<'_> {
    type Item = (u16, u64);

    fn next(&mut self) -> Option<(u16, u64)> {
        if self.0.is_empty() {
            return None;
        }
        let (key, units, next) = pair_at(self.0, 0);
        self.0 = &self.0[next..];
        Some((key, units))
    }
}

impl<'a> IntoIterator for &'a Units {
    type Item = (u16, u64);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    fn units() -> impl Strategy<Value = u64> {
        let big = u64::from(BIG);
        prop_oneof![
            0u64..4,
            Just(big - 1),
            Just(big),
            Just(big + 1),
            Just(u64::from(u32::MAX)),
            Just(u64::from(u32::MAX) + 1),
            Just(u64::MAX / 2),
            Just(u64::MAX),
            any::<u64>(),
        ]
    }

    proptest! {
        /// Units behave as a map from key to an exact u64 sum: an event that
        /// would pass 2^64 - 1 changes nothing and names a key that would.
        #[test]
        fn units_are_exact_sums_by_key(
            events in prop::collection::vec(prop::collection::btree_map(0u16..6, units(), 0..5), 0..12),
        ) {
            let mut model: BTreeMap<u16, u64> = BTreeMap::new();
            let mut packed = Units::default();
            for (n, event) in events.into_iter().enumerate() {
                let mut event: Vec<(u16, u64)> = event.into_iter().collect();
                if n % 2 == 1 {
                    event.reverse(); // keys in any order
                }
                let mut sums = model.clone();
                let mut overflow = Vec::new();
                for &(key, units) in &event {
                    let sum = sums.entry(key).or_default();
                    match sum.checked_add(units) {
                        Some(s) => *sum = s,
                        None => overflow.push(key),
                    }
                }
                match packed.add(&event) {
                    Ok(()) => {
                        prop_assert!(overflow.is_empty());
                        sums.retain(|_, u| *u > 0);
                        model = sums;
                    }
                    Err(key) => prop_assert!(overflow.contains(&key), "{key} {overflow:?}"),
                }
                let pairs: Vec<(u16, u64)> = packed.iter().collect();
                let expected: Vec<(u16, u64)> = model.iter().map(|(&k, &u)| (k, u)).collect();
                prop_assert_eq!(&pairs, &expected);
                for key in 0..7 {
                    prop_assert_eq!(packed.get(key), model.get(&key).copied().unwrap_or(0));
                }
                let words = expected.iter().map(|&(_, u)| words_for(u)).sum::<usize>();
                prop_assert_eq!(packed.words().len(), words, "exactly the words needed");
            }
        }
    }

    #[test]
    fn a_big_count_is_three_words() {
        let big = u64::from(BIG);
        let units: Units = [(3, big), (1, 7), (2, u64::MAX), (u16::MAX, 9)]
            .into_iter()
            .collect();
        assert_eq!(
            units.iter().collect::<Vec<_>>(),
            [(1, 7), (2, u64::MAX), (3, big), (u16::MAX, 9)]
        );
        assert_eq!(units.words().len(), 8);
        assert_eq!(units.get(u16::MAX), 9);
        assert_eq!(units.get(2), u64::MAX);
        assert_eq!(units.get(4), 0);
    }
}
