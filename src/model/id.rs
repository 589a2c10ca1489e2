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

    /// The UUID's bits, high word first, when the id is a UUID: for UUIDs,
    /// their order is the ids' order.
    pub fn as_uuid(&self) -> Option<[u64; 2]> {
        match self {
            Self::Uuid(words) => Some(*words),
            Self::Text(_) => None,
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
    let bytes: &[u8; 36] = id.as_bytes().try_into().ok()?;
    if [8, 13, 18, 23].iter().any(|&i| bytes[i] != b'-') {
        return None;
    }
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("eight bytes"));
    let half = |at: usize| {
        u64::from(u32::from_le_bytes(
            bytes[at..at + 4].try_into().expect("four bytes"),
        ))
    };
    // The 32 digits as four words of eight, each read eight at a time.
    let digits = [
        word(0),
        half(9) | half(14) << 32,
        half(19) | half(24) << 32,
        word(28),
    ];
    let mut bad = false;
    let mut nibbles = [0u64; 4];
    for (value, &text) in nibbles.iter_mut().zip(&digits) {
        let (n, ok) = hex_word(text);
        *value = n;
        bad |= !ok;
    }
    (!bad).then_some(
        u128::from(nibbles[0] << 32 | nibbles[1]) << 64 | u128::from(nibbles[2] << 32 | nibbles[3]),
    )
}

/// Eight lowercase hex digits (the first in the lowest byte) as their 32-bit
/// number, and whether they all are such digits: byte-wise tests in one word.
fn hex_word(text: u64) -> (u64, bool) {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGH: u64 = ONES << 7;
    // Of a byte below 0x80, whether it is at least `n`: the high bit of its
    // sum with 0x80 - n (no carry reaches the next byte; above 0x7f, the
    // word is refused whatever the sum).
    let at_least = |n: u8| text.wrapping_add(ONES * u64::from(0x80 - n)) & HIGH;
    let in_range = |low: u8, high: u8| at_least(low) & !at_least(high + 1);
    let ascii = text & HIGH == 0;
    let hex = in_range(b'0', b'9') | in_range(b'a', b'f');
    // '0'..'9' are their low four bits; 'a'..'f' (0x61..0x66) those plus 9.
    let values = (text & (ONES * 0x0f)) + ((text >> 6) & ONES) * 9;
    // The nibbles joined in text order: pairs, then fours, then all eight.
    let pairs = (values & 0x00ff_00ff_00ff_00ff) << 4 | (values >> 8 & 0x00ff_00ff_00ff_00ff);
    let fours = (pairs & 0x0000_ffff_0000_ffff) << 8 | (pairs >> 16 & 0x0000_ffff_0000_ffff);
    let eight = (fours & 0xffff_ffff) << 16 | fours >> 32;
    (eight, ascii && hex == HIGH)
}

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

    /// Every byte in every place of a canonical UUID: read when it is a
    /// lowercase hex digit where a digit goes (as that digit) or the hyphen
    /// where one goes, refused otherwise.
    #[test]
    fn uuid_bytes_are_read_or_refused_in_every_place() {
        let id = *b"0123abcd-ef45-6789-a0b1-c2d3e4f56789";
        let expected = u128::from_str_radix(&String::from_utf8_lossy(&id).replace('-', ""), 16);
        assert_eq!(parse_uuid(std::str::from_utf8(&id).unwrap()), expected.ok());
        for place in 0..id.len() {
            for byte in 0..=255u8 {
                let mut text = id;
                text[place] = byte;
                let Ok(text) = std::str::from_utf8(&text) else {
                    continue; // not a &str, so never an id
                };
                let hyphen = [8, 13, 18, 23].contains(&place);
                let allowed = if hyphen {
                    byte == b'-'
                } else {
                    byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte)
                };
                let value = u128::from_str_radix(&text.replace('-', ""), 16).ok();
                assert_eq!(parse_uuid(text), value.filter(|_| allowed), "{text:?}");
            }
        }
        // Bytes above 0x7f come in characters of two or more.
        for place in 0..id.len() - 1 {
            for c in '\u{80}'..='\u{7ff}' {
                let mut text = id;
                c.encode_utf8(&mut text[place..place + 2]);
                let text = std::str::from_utf8(&text).unwrap();
                assert_eq!(parse_uuid(text), None, "{text:?}");
            }
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
