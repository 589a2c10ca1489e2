//! The index of a log shard's transactions by UUID: open addressing over
//! 8-byte slots, each a UUID's 32-bit fingerprint beside its accumulator's
//! index. A lookup reads one line of the table, found from the fingerprint
//! alone, so a batch of events can prefetch its lines, then the accumulators
//! they name, before any event waits on memory; the UUID itself (kept beside
//! its accumulator) is compared only where a fingerprint matches.
//!
//! A fingerprint places its slot by its magnitude (`fingerprint * slots /
//! 2^32`), so the table grows without reading a single UUID again. Linear
//! probing; at most three slots in four are taken.

/// A UUID's fingerprint in its shard's [`UuidTable`]: the low 32 bits of its hash.
#[inline]
pub fn fingerprint(uuid: u128) -> u32 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::default().hash_one(uuid) as u32
}

/// A slot: `fingerprint << 32 | (index + 1)`; 0 is empty.
const EMPTY: u64 = 0;

/// The smallest table made.
const MIN_SLOTS: usize = 64;

#[derive(Default)]
pub struct UuidTable {
    slots: Vec<u64>,
    len: usize,
}

impl UuidTable {
    pub fn len(&self) -> usize {
        self.len
    }

    /// Asks the CPU for the line where `fingerprint`'s probe starts.
    pub fn prefetch(&self, fingerprint: u32) {
        if let Some(slot) = self.slots.get(self.home(fingerprint)) {
            prefetch(slot);
        }
    }

    /// The indices filed under `fingerprint`, in probe order.
    pub fn candidates(&self, fingerprint: u32) -> impl Iterator<Item = u32> + '_ {
        let mask = self.slots.len().wrapping_sub(1);
        let mut at = self.home(fingerprint);
        std::iter::from_fn(move || {
            loop {
                let slot = *self.slots.get(at)?;
                if slot == EMPTY {
                    return None;
                }
                at = (at + 1) & mask;
                if (slot >> 32) as u32 == fingerprint {
                    return Some((slot as u32).wrapping_sub(1));
                }
            }
        })
    }

    /// Files `index` under `fingerprint` (the caller knows its UUID is not yet filed).
    pub fn insert(&mut self, fingerprint: u32, index: u32) {
        assert!(index < u32::MAX, "fewer than 2^32 - 1 transactions a shard");
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        place(
            &mut self.slots,
            u64::from(fingerprint) << 32 | u64::from(index + 1),
        );
        self.len += 1;
    }

    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(MIN_SLOTS);
        let old = std::mem::replace(&mut self.slots, vec![EMPTY; size]);
        for slot in old.into_iter().filter(|&s| s != EMPTY) {
            place(&mut self.slots, slot);
        }
    }

    fn home(&self, fingerprint: u32) -> usize {
        home(fingerprint, self.slots.len())
    }
}

fn home(fingerprint: u32, slots: usize) -> usize {
    ((u64::from(fingerprint) * slots as u64) >> 32) as usize
}

/// Puts `slot` in the first empty slot from its fingerprint's home.
fn place(slots: &mut [u64], slot: u64) {
    let mask = slots.len() - 1;
    let mut at = home((slot >> 32) as u32, slots.len());
    while slots[at] != EMPTY {
        at = (at + 1) & mask;
    }
    slots[at] = slot;
}

/// A hint that `value` is read soon: its cache line is fetched without
/// waiting. Reads nothing and changes nothing the program can observe.
#[allow(unsafe_code)] // one SSE prefetch, its SAFETY below
pub fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: a prefetch is a hint to the cache; it neither reads nor
        // writes memory as far as the program can tell, and `value` is valid.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(value).cast::<i8>()) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every index filed is found under its fingerprint, through growth,
    /// wrap-around at the table's end and fingerprints filed many times.
    #[test]
    fn every_index_is_found_under_its_fingerprint() {
        let mut table = UuidTable::default();
        let fingerprint = |i: u32| match i % 5 {
            0 => u32::MAX, // home: the last slot, probes wrap
            1 => 7,        // one fingerprint for a fifth of them
            _ => i.wrapping_mul(0x9E37_79B9),
        };
        for i in 0..10_000 {
            table.insert(fingerprint(i), i);
            assert_eq!(table.len(), i as usize + 1);
        }
        for i in 0..10_000 {
            let found: Vec<u32> = table.candidates(fingerprint(i)).collect();
            assert!(found.contains(&i), "{i} under {:#x}", fingerprint(i));
            assert!(found.iter().all(|&j| fingerprint(j) == fingerprint(i)));
        }
        assert_eq!(table.candidates(7).count(), 2_000);
        assert_eq!(table.candidates(3).count(), 0);
        assert!(table.slots.len() * 3 >= table.len() * 4);
    }
}
