//! The top level of one JSON object, scanned for the members the log reader
//! wants: their values' raw text, found without building any value, the others
//! skipped. It accepts a strict subset of what serde_json accepts (top-level
//! keys without escapes, nesting up to [`MAX_DEPTH`]) and, on that subset,
//! finds exactly what serde_json's selective parse finds; any other text gives
//! `None`, and the caller takes serde_json's path for it. Pure.

/// Deepest nesting of a skipped value that is scanned (serde_json allows 128).
pub const MAX_DEPTH: usize = 32;

/// The wanted members' names, each with its slot, and grouped by length so
/// that a key is compared only with the names of its length.
#[derive(Debug, Clone)]
pub struct Names {
    list: Vec<(String, usize)>,
    by_len: Vec<Vec<(String, usize)>>,
}

impl Names {
    pub fn new(list: Vec<(String, usize)>) -> Self {
        let longest = list.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
        let mut by_len = vec![Vec::new(); longest + 1];
        for (name, slot) in &list {
            by_len[name.len()].push((name.clone(), *slot));
        }
        Self { list, by_len }
    }

    /// Every name with its slot, in the order given.
    pub fn list(&self) -> &[(String, usize)] {
        &self.list
    }

    fn of_len(&self, len: usize) -> &[(String, usize)] {
        self.by_len.get(len).map_or(&[], Vec::as_slice)
    }
}

/// The wanted members of an object: each one's raw JSON text, by slot, and
/// the slots whose value is a string without escapes (one bit each).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Found<'a, const N: usize> {
    pub raw: [Option<&'a str>; N],
    pub plain: u32,
}

impl<'a, const N: usize> Found<'a, N> {
    /// The members of `raw`, each one valid JSON value.
    pub fn of(raw: [Option<&'a str>; N]) -> Self {
        let plain = (raw.iter().enumerate())
            .filter(|(_, r)| r.and_then(string_inside).is_some_and(is_plain))
            .fold(0, |bits, (slot, _)| bits | 1 << slot);
        Self { raw, plain }
    }

    /// The text of slot's string when it has no escapes.
    pub fn plain_text(&self, slot: usize) -> Option<&'a str> {
        (self.plain >> slot & 1 == 1).then(|| string_inside(self.raw[slot]?))?
    }
}

/// The text between the quotes of a JSON string's raw text.
fn string_inside(raw: &str) -> Option<&str> {
    raw.strip_prefix('"')?.strip_suffix('"')
}

/// The value of each wanted top-level member of the object `text` (for a
/// name listed twice, both slots; for a member repeated in `text`, the last),
/// or `None` when `text` is not an object this scanner reads.
pub fn members<'a, const N: usize>(text: &'a str, wanted: &Names) -> Option<Found<'a, N>> {
    const { assert!(N <= 32, "a bit per slot") };
    let mut s = Scanner::new(text);
    let mut found = Found {
        raw: [None; N],
        plain: 0,
    };
    s.whitespace();
    s.expect(b'{')?;
    s.items(b'}', |s| {
        let key = s.plain_key()?;
        s.whitespace();
        s.expect(b':')?;
        s.whitespace();
        let start = s.at;
        let plain = if s.peek() == Some(b'"') {
            s.string()?
        } else {
            s.value(0)?;
            false
        };
        // Both ends are ASCII bytes of the value's grammar: char boundaries.
        let raw = &text[start..s.at];
        for &(ref name, slot) in wanted.of_len(key.len()) {
            if same_name(name.as_bytes(), key.as_bytes()) {
                found.raw[slot] = Some(raw);
                found.plain = found.plain & !(1 << slot) | u32::from(plain) << slot;
            }
        }
        Some(())
    })?;
    s.end().then_some(found)
}

/// `{"name": digits, ...}` (a flat object of at most `out.len()` distinct names
/// without escapes, their values plain integers below `below`: the usual
/// `usage`) into `out`: how many, or `None` for any other text. `raw` is one
/// JSON value.
pub fn flat_counters<'a>(raw: &'a str, below: u64, out: &mut [(&'a str, u64)]) -> Option<usize> {
    let mut s = Scanner::new(raw);
    let mut count = 0;
    s.expect(b'{')?;
    s.items(b'}', |s| {
        let name = s.plain_key()?;
        s.whitespace();
        s.expect(b':')?;
        s.whitespace();
        let start = s.at;
        s.digits();
        let value = plain_digits(&s.bytes[start..s.at]).filter(|v| *v < below)?;
        if out[..count].iter().any(|(n, _)| *n == name) {
            return None; // a repeated name: the general path keeps the last
        }
        *out.get_mut(count)? = (name, value);
        count += 1;
        Some(())
    })?;
    s.end().then_some(count)
}

/// Whether `text`, the inside of a valid JSON string, has no escape: no
/// backslash (a valid string has no bare quote or control character).
fn is_plain(text: &str) -> bool {
    string_stop(text.as_bytes(), 0).is_none()
}

/// The first quote, backslash or control character at or after `at`: sixteen
/// bytes at a time by SSE2 (every x86-64 has it), then eight at a time, each
/// test a byte-wise comparison in one 64-bit word. Of such a test, the lowest
/// byte flagged is exact (a false flag only follows a true one, through the
/// subtraction's borrow), so the lowest byte flagged by any of the three is
/// the first that stops the string.
fn string_stop(bytes: &[u8], mut at: usize) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    while let Some(chunk) = bytes.get(at..at + 16) {
        use std::arch::x86_64::{
            _mm_cmpeq_epi8, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set_epi64x,
            _mm_set1_epi8,
        };
        let word = |i: usize| i64::from_le_bytes(chunk[i..i + 8].try_into().expect("eight bytes"));
        // SAFETY: SSE2 is part of x86-64 itself; these take and return values only.
        #[allow(unsafe_code)]
        let stops = unsafe {
            let v = _mm_set_epi64x(word(8), word(0));
            let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
            // Below 0x20 exactly where max(byte, 0x1f) is 0x1f.
            let low = _mm_set1_epi8(0x1f);
            let control = _mm_cmpeq_epi8(_mm_max_epu8(v, low), low);
            _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control))
        };
        if stops != 0 {
            return Some(at + stops.trailing_zeros() as usize);
        }
        at += 16;
    }
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGH: u64 = ONES << 7;
    let below = |word: u64, n: u8| word.wrapping_sub(ONES * u64::from(n)) & !word & HIGH;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let stops = below(word ^ (ONES * u64::from(b'"')), 1)
            | below(word ^ (ONES * u64::from(b'\\')), 1)
            | below(word, 0x20);
        if stops != 0 {
            return Some(at + (stops.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    (bytes.get(at..)?.iter())
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|i| at + i)
}

/// `a == b` for member names, without a call to memcmp for those of up to 16
/// bytes: their first and last words compared (overlapping when shorter).
fn same_name(a: &[u8], b: &[u8]) -> bool {
    fn word<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
        bytes[at..at + N].try_into().expect("N bytes")
    }
    let len = a.len();
    if len != b.len() {
        return false;
    }
    match len {
        0..4 => a.iter().zip(b).all(|(x, y)| x == y),
        4..8 => {
            word::<4>(a, 0) == word::<4>(b, 0) && word::<4>(a, len - 4) == word::<4>(b, len - 4)
        }
        8..=16 => {
            word::<8>(a, 0) == word::<8>(b, 0) && word::<8>(a, len - 8) == word::<8>(b, len - 8)
        }
        _ => a == b,
    }
}

/// Plain digits (no sign, fraction, exponent or leading zero), at most 16 of them.
pub fn plain_digits(raw: &[u8]) -> Option<u64> {
    if raw.is_empty() || raw.len() > 16 || (raw[0] == b'0' && raw.len() > 1) {
        return None;
    }
    raw.iter().try_fold(0u64, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })
}

struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text,
            bytes: text.as_bytes(),
            at: 0,
        }
    }

    /// Whether only whitespace is left.
    fn end(&mut self) -> bool {
        self.whitespace();
        self.at == self.bytes.len()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        Some(b)
    }

    fn expect(&mut self, wanted: u8) -> Option<()> {
        (self.next()? == wanted).then_some(())
    }

    /// Whitespace as JSON (and serde_json) has it.
    fn whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\t' | b'\r')) {
            self.at += 1;
        }
    }

    /// A string without escapes, as its text between the quotes (ASCII quotes:
    /// char boundaries).
    fn plain_key(&mut self) -> Option<&'a str> {
        self.expect(b'"')?;
        let start = self.at;
        self.string_run()?;
        (self.bytes[self.at - 1] == b'"').then(|| &self.text[start..self.at - 1])
    }

    /// One string, escapes checked as serde_json checks a skipped one:
    /// whether it has none.
    fn string(&mut self) -> Option<bool> {
        self.expect(b'"')?;
        let mut plain = true;
        loop {
            self.string_run()?;
            if self.bytes[self.at - 1] == b'"' {
                return Some(plain);
            }
            plain = false;
            match self.next()? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                b'u' => {
                    for _ in 0..4 {
                        if !self.next()?.is_ascii_hexdigit() {
                            return None;
                        }
                    }
                }
                _ => return None,
            }
        }
    }

    /// A string's bytes through its next quote or backslash (the byte before
    /// `at` says which); `None` at a control character or the end of the text.
    #[inline(always)]
    fn string_run(&mut self) -> Option<()> {
        let stop = string_stop(self.bytes, self.at)?;
        if self.bytes[stop] < 0x20 {
            return None;
        }
        self.at = stop + 1;
        Some(())
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
        self.at - start
    }

    /// A number by JSON's grammar (no range check: serde_json skips without one).
    fn number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.next()? {
            b'0' => {} // a digit after it ends the value where the grammar has none
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if self.digits() == 0 {
                return None;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        Some(())
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at + word.len();
        (self.bytes.get(self.at..end)? == word).then(|| self.at = end)
    }

    /// The comma-separated items of an object or array, after its opening
    /// byte, through `close`.
    fn items(&mut self, close: u8, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.whitespace();
        if self.peek() == Some(close) {
            self.at += 1;
            return Some(());
        }
        loop {
            item(self)?;
            self.whitespace();
            match self.next()? {
                b',' => self.whitespace(),
                c if c == close => return Some(()),
                _ => return None,
            }
        }
    }

    /// One value of any kind, `depth` levels inside the top-level object.
    fn value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(|_| ()),
            b'{' | b'[' if depth >= MAX_DEPTH => None,
            b'{' => {
                self.at += 1;
                self.items(b'}', |s| {
                    s.string()?;
                    s.whitespace();
                    s.expect(b':')?;
                    s.whitespace();
                    s.value(depth + 1)
                })
            }
            b'[' => {
                self.at += 1;
                self.items(b']', |s| s.value(depth + 1))
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The word-wise search finds the byte a byte-by-byte search finds, on
    /// texts of the bytes that stop a string and of those one above them,
    /// which a borrow between bytes would flag wrongly.
    #[test]
    fn string_stop_is_the_first_stopping_byte() {
        let alphabet = [
            0x00, 0x01, 0x1f, 0x20, 0x21, b'"', b'#', b'\\', b']', b'a', 0x7f, 0x80, 0xff,
        ];
        let mut xorshift = crate::test_rng::XorShift(0x9e37_79b9_7f4a_7c15_u64);
        let mut random = |n: usize| xorshift.below(n);
        for _ in 0..100_000 {
            let text: Vec<u8> = (0..random(40))
                .map(|_| match random(4) {
                    0 => alphabet[random(alphabet.len())],
                    _ => b'a',
                })
                .collect();
            let at = random(text.len() + 2);
            let expected = text.get(at..).and_then(|rest| {
                rest.iter()
                    .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                    .map(|i| at + i)
            });
            assert_eq!(string_stop(&text, at), expected, "{text:?} from {at}");
        }
    }

    #[test]
    fn same_name_is_equality() {
        let names = [
            "",
            "a",
            "ab",
            "abc",
            "abcd",
            "usage",
            "service",
            "flow_id",
            "duration_ms",
            "transaction_id",
            "transaction_ix",
            "a_name_of_sixteen",
            "a_name_longer_than_sixteen",
        ];
        for a in names {
            for b in names {
                assert_eq!(same_name(a.as_bytes(), b.as_bytes()), a == b, "{a} {b}");
                let mut changed = b.as_bytes().to_vec();
                for i in 0..changed.len() {
                    changed[i] ^= 1;
                    assert_eq!(
                        same_name(a.as_bytes(), &changed),
                        a.as_bytes() == changed,
                        "{a} {b} {i}"
                    );
                    changed[i] ^= 1;
                }
            }
        }
    }
}
