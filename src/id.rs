//! Transaction ids: a canonical UUID (lowercase, hyphenated) held as its 128
//! bits, any other id as its text. Ids compare, print and hash as their text,
//! so nothing downstream can tell the two apart, but a UUID costs 16 bytes,
//! no allocation, and compares without touching memory.

use std::cmp::Ordering;
use std::fmt;

/// A transaction's id. The `Uuid` form is used exactly when the text is a
/// canonical UUID ([`TransactionId::new`]), so each text has one form.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum TransactionId {
    /// The UUID's bits, high word first (8-byte alignment, not 16).
    Uuid([u64; 2]),
    Text(Box<str>),
}

impl TransactionId {
    /// The id of `text`: its bits when it is a canonical UUID, else the text.
    pub fn new(text: &str) -> Self {
        match parse_uuid(text) {
            Some(bits) => Self::Uuid(uuid_words(bits)),
            None => Self::Text(text.into()),
        }
    }

    /// The id's text, without allocating.
    pub fn text(&self) -> IdText<'_> {
        match self {
            Self::Uuid([high, low]) => {
                IdText::Uuid(format_uuid(u128::from(*high) << 64 | u128::from(*low)))
            }
            Self::Text(text) => IdText::Text(text),
        }
    }
}

impl From<&str> for TransactionId {
    fn from(text: &str) -> Self {
        Self::new(text)
    }
}

impl From<String> for TransactionId {
    fn from(text: String) -> Self {
        Self::new(&text)
    }
}

impl Ord for TransactionId {
    /// The order of the texts (numeric order of the bits is the text order of
    /// canonical UUIDs).
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Self::Uuid(a), Self::Uuid(b)) => a.cmp(b),
            (Self::Text(a), Self::Text(b)) => a.cmp(b),
            _ => self.text().as_ref().cmp(other.text().as_ref()),
        }
    }
}

impl PartialOrd for TransactionId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text().as_ref())
    }
}

impl fmt::Debug for TransactionId {
    /// As the text's `Debug` (quoted): error messages read the same for both forms.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.text().as_ref(), f)
    }
}

/// An id's text: a UUID's formatted on the stack, any other borrowed.
pub enum IdText<'a> {
    Uuid([u8; 36]),
    Text(&'a str),
}

impl AsRef<str> for IdText<'_> {
    fn as_ref(&self) -> &str {
        match self {
            Self::Uuid(bytes) => std::str::from_utf8(bytes).expect("hex digits and hyphens"),
            Self::Text(text) => text,
        }
    }
}

/// A UUID's bits as the two words of [`TransactionId::Uuid`] (and of the log
/// reader's map keys): 8-byte aligned, not 16.
pub fn uuid_words(bits: u128) -> [u64; 2] {
    [(bits >> 64) as u64, bits as u64]
}

/// The 128 bits of a canonical UUID (`8-4-4-4-12` lowercase hex digits), whose
/// text [`format_uuid`] gives back exactly; `None` for any other text.
pub fn parse_uuid(id: &str) -> Option<u128> {
    let bytes = id.as_bytes();
    if bytes.len() != 36 || [8, 13, 18, 23].iter().any(|&i| bytes[i] != b'-') {
        return None;
    }
    // The 32 digits' places: 16 for each 64-bit half (shifts of a u128 cost
    // two or three instructions each).
    const PLACES: [[usize; 16]; 2] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 14, 15, 16, 17],
        [
            19, 20, 21, 22, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35,
        ],
    ];
    let mut bad = 0u8;
    let mut halves = [0u64; 2];
    for (half, places) in halves.iter_mut().zip(&PLACES) {
        for &at in places {
            let digit = HEX_DIGIT[bytes[at] as usize];
            bad |= digit; // 0x80 marks a byte that is not a lowercase hex digit
            *half = *half << 4 | u64::from(digit & 0xf);
        }
    }
    let [high, low] = halves;
    (bad & 0x80 == 0).then_some(u128::from(high) << 64 | u128::from(low))
}

/// Each byte's value as a lowercase hex digit, or 0x80.
const HEX_DIGIT: [u8; 256] = {
    let mut table = [0x80u8; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

/// The canonical text of a UUID's 128 bits.
fn format_uuid(value: u128) -> [u8; 36] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = [b'-'; 36];
    let mut digit = 0;
    for (position, byte) in text.iter_mut().enumerate() {
        if !matches!(position, 8 | 13 | 18 | 23) {
            *byte = HEX[(value >> (124 - 4 * digit)) as usize & 0xf];
            digit += 1;
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_uuids_round_trip_and_others_stay_text() {
        for id in [
            "c5d6c941-df2e-4a30-a581-efafa376ea25",
            "00000000-0000-0000-0000-000000000000",
            "ffffffff-ffff-ffff-ffff-ffffffffffff",
        ] {
            let bits = parse_uuid(id).expect("canonical");
            assert_eq!(&format_uuid(bits), id.as_bytes());
            assert!(matches!(TransactionId::new(id), TransactionId::Uuid(_)));
            assert_eq!(TransactionId::new(id).to_string(), id);
        }
        for id in [
            "C5D6C941-DF2E-4A30-A581-EFAFA376EA25", // upper case: its text differs
            "c5d6c941df2e4a30a581efafa376ea25",
            "c5d6c941-df2e-4a30-a581-efafa376ea2",
            "c5d6c941-df2e-4a30-a581-efafa376ea25 ",
            "c5d6c941-df2e-4a30-a581_efafa376ea25",
            "c5d6c941-df2e-4a30-a581-efafa376ea2g",
            "c5d6c941-df2e-4a30-a5810efafa376ea25",
            "",
        ] {
            assert_eq!(parse_uuid(id), None, "{id}");
            assert_eq!(TransactionId::new(id), TransactionId::Text(id.into()));
            assert_eq!(TransactionId::new(id).to_string(), id);
        }
    }

    /// Ids of both forms sort, compare and print as their texts do.
    #[test]
    fn ids_order_as_their_texts() {
        let texts = [
            "",
            "0",
            "00000000-0000-0000-0000-000000000000",
            "00000000-0000-0000-0000-000000000000 ",
            "00000000-0000-0000-0000-00000000000",
            "0fffffff-ffff-ffff-ffff-ffffffffffff",
            "1",
            "9fffffff-ffff-ffff-ffff-ffffffffffff",
            "A0000000-0000-0000-0000-000000000000",
            "a",
            "a0000000-0000-0000-0000-000000000000",
            "a0000000-0000-0000-0000-00000000000g",
            "c5d6c941-df2e-4a30-a581-efafa376ea25",
            "c5d6c941-df2e-4a30-a581-efafa376ea25x",
            "c5d6c941-df2e-4a30-a581-efafa376ea26",
            "ffffffff-ffff-ffff-ffff-ffffffffffff",
            "tx-0000001",
            "\u{e9}",
        ];
        for a in texts {
            for b in texts {
                let (x, y) = (TransactionId::new(a), TransactionId::new(b));
                assert_eq!(x.cmp(&y), a.cmp(b), "{a:?} vs {b:?}");
                assert_eq!(x == y, a == b, "{a:?} vs {b:?}");
            }
            assert_eq!(format!("{:?}", TransactionId::new(a)), format!("{a:?}"));
        }
    }
}
