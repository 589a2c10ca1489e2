//! Fixed-point money (SPEC 2.2): integers of 1e-10 USD, exact decimal parsing with
//! half-to-even rounding, and formatting. Every total in costjob is a sum of these.

/// One unit is 1e-10 USD.
pub type Money = i128;

/// Decimal places carried (DECIMAL(18,10)).
pub const SCALE: u32 = 10;

/// 1 USD in units.
pub const ONE_USD: Money = 10_000_000_000;

/// Largest magnitude DECIMAL(18,10) holds.
pub const DECIMAL_18_MAX: Money = 999_999_999_999_999_999;

/// A CUR cost term before its row's formula: 1e-30 USD units. Every double of
/// magnitude 1e-13 or more (its 17 significant digits end at 1e-30 or above)
/// and every DECIMAL of up to 30 places is exact here; a row's cost is computed
/// on these and rounded once to [`Money`] (SPEC 2.2).
pub type Exact = i128;

/// Decimal places of [`Exact`].
pub const EXACT_SCALE: u32 = 30;

/// Parses a decimal number (`-12.5`, `3`, `1.25e-3`, `.5`) into 1e-10 USD units,
/// rounding half-to-even at the 10th decimal. Returns `None` for anything else.
pub fn parse_decimal(text: &str) -> Option<Money> {
    parse_at(text, SCALE)
}

/// [`parse_decimal`] into [`Exact`] units.
pub fn parse_exact(text: &str) -> Option<Exact> {
    parse_at(text, EXACT_SCALE)
}

/// An exact term rounded once, half-to-even, to 1e-10 USD.
pub fn round_exact(value: Exact) -> Money {
    let step = 10i128.pow(EXACT_SCALE - SCALE);
    let (q, r) = (value / step, value % step);
    let half = step / 2;
    if r.abs() > half || (r.abs() == half && q % 2 != 0) {
        q + r.signum()
    } else {
        q
    }
}

fn parse_at(text: &str, scale: u32) -> Option<i128> {
    let text = text.trim();
    let (negative, body) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => (&body[..at], body[at + 1..].parse::<i32>().ok()?),
        None => (body, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part
        .bytes()
        .chain(frac_part.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    // digits * 10^(exponent - frac_len) USD, scaled by 10^SCALE; the digits
    // joined on the stack when they fit (a double's always do).
    let mut joined = Text::default();
    let long;
    let digits = if joined.push(int_part) && joined.push(frac_part) {
        joined.as_str()
    } else {
        long = format!("{int_part}{frac_part}");
        &long
    };
    let digits = digits.trim_start_matches('0');
    let shift = exponent.checked_sub(frac_part.len() as i32)? + scale as i32;
    let magnitude = scale_digits(digits, shift)?;
    Some(if negative { -magnitude } else { magnitude })
}

/// `digits * 10^shift`, rounded half-to-even to an integer.
fn scale_digits(digits: &str, shift: i32) -> Option<Money> {
    if digits.is_empty() {
        return Some(0);
    }
    if shift >= 0 {
        if digits.len() as i32 + shift > 38 {
            return None;
        }
        let base: Money = digits.parse().ok()?;
        return base.checked_mul(10i128.checked_pow(shift as u32)?);
    }
    let cut = digits.len() as i32 + shift; // digits kept before the decimal point
    if cut < 0 {
        return Some(0); // below half of one unit
    }
    let (kept, dropped) = digits.split_at(cut as usize);
    if kept.len() > 38 {
        return None;
    }
    let mut value: Money = if kept.is_empty() {
        0
    } else {
        kept.parse().ok()?
    };
    let first = dropped.as_bytes()[0];
    let rest_nonzero = dropped.as_bytes()[1..].iter().any(|&b| b != b'0');
    let round_up = match first.cmp(&b'5') {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Equal => rest_nonzero || value % 2 == 1,
    };
    if round_up {
        value += 1;
    }
    Some(value)
}

/// An `f64` read from a CUR column, as the decimal it was written as (its shortest
/// round-trip representation), rounded half-to-even to 1e-10 USD.
pub fn from_f64(value: f64) -> Option<Money> {
    round_f64(value, SCALE)
}

/// [`from_f64`] into [`Exact`] units.
pub fn exact_from_f64(value: f64) -> Option<Exact> {
    round_f64(value, EXACT_SCALE)
}

fn round_f64(value: f64, scale: u32) -> Option<i128> {
    if !value.is_finite() {
        return None;
    }
    // `{:e}` is the shortest string that round-trips, in exponent form (compact
    // for 1e-300 and 1e300 alike: 24 bytes at most), written on the stack.
    let mut text = Text::default();
    std::fmt::Write::write_fmt(&mut text, format_args!("{value:e}")).ok()?;
    parse_at(text.as_str(), scale)
}

/// ASCII text of up to 64 bytes, on the stack.
struct Text {
    bytes: [u8; 64],
    len: usize,
}

impl Default for Text {
    fn default() -> Self {
        Self {
            bytes: [0; 64],
            len: 0,
        }
    }
}

impl Text {
    /// Appends `s` if it fits.
    fn push(&mut self, s: &str) -> bool {
        let end = self.len + s.len();
        let Some(room) = self.bytes.get_mut(self.len..end) else {
            return false;
        };
        room.copy_from_slice(s.as_bytes());
        self.len = end;
        true
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).expect("whole strs pushed")
    }
}

impl std::fmt::Write for Text {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.push(s).then_some(()).ok_or(std::fmt::Error)
    }
}

/// A decimal with `places` places (e.g. a Parquet DECIMAL) in [`Exact`] units.
pub fn exact_from_scaled(value: i128, places: i8) -> Option<Exact> {
    let shift = EXACT_SCALE as i32 - places as i32;
    let magnitude = scale_digits(&value.unsigned_abs().to_string(), shift)?;
    Some(if value < 0 { -magnitude } else { magnitude })
}

/// Formats units as a plain decimal USD string with all 10 places: `-0.0000012500`.
pub fn format_usd(value: Money) -> String {
    let sign = if value < 0 { "-" } else { "" };
    let magnitude = value.unsigned_abs();
    let one = ONE_USD as u128;
    format!("{sign}{}.{:010}", magnitude / one, magnitude % one)
}

/// Serializes money as its exact decimal text (`format_usd`), for JSON.
pub fn serialize_usd<S: serde::Serializer>(
    v: &Money,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&format_usd(*v))
}

/// Formats units rounded half-to-even to `places` decimals, for terminal tables.
pub fn format_usd_rounded(value: Money, places: u32) -> String {
    let full = format_usd(value);
    let rounded = parse_decimal(&full).map(|v| {
        let step = 10i128.pow(SCALE - places);
        let q = v / step;
        let r = v % step;
        let half = step / 2;
        if r.abs() > half || (r.abs() == half && q % 2 != 0) {
            q + r.signum()
        } else {
            q
        }
    });
    match rounded {
        Some(q) => {
            let sign = if q < 0 { "-" } else { "" };
            let m = q.unsigned_abs();
            let div = 10u128.pow(places);
            if places == 0 {
                format!("{sign}{m}")
            } else {
                format!(
                    "{sign}{}.{:0width$}",
                    m / div,
                    m % div,
                    width = places as usize
                )
            }
        }
        None => full,
    }
}

/// Checks that `value` fits DECIMAL(18,10).
pub fn check_decimal_18(value: Money, context: impl FnOnce() -> String) -> crate::Result<Money> {
    if value.abs() > DECIMAL_18_MAX {
        return Err(crate::Error::MoneyOverflow {
            context: context(),
            value,
        });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_exponent_forms() {
        assert_eq!(parse_decimal("1"), Some(ONE_USD));
        assert_eq!(parse_decimal("-0.17"), Some(-1_700_000_000));
        assert_eq!(parse_decimal("1.25e-3"), Some(12_500_000));
        assert_eq!(parse_decimal(".5"), Some(5_000_000_000));
        assert_eq!(parse_decimal("0.0000000000"), Some(0));
        assert_eq!(parse_decimal("abc"), None);
        assert_eq!(parse_decimal(""), None);
        assert_eq!(parse_decimal("-"), None);
        assert_eq!(parse_decimal("1.2.3"), None);
    }

    #[test]
    fn rounds_half_to_even_at_the_tenth_place() {
        assert_eq!(parse_decimal("0.00000000005"), Some(0));
        assert_eq!(parse_decimal("0.00000000015"), Some(2));
        assert_eq!(parse_decimal("0.00000000025"), Some(2));
        assert_eq!(parse_decimal("0.000000000250001"), Some(3));
        assert_eq!(parse_decimal("-0.00000000015"), Some(-2));
        assert_eq!(parse_decimal("0.000000000049999"), Some(0));
    }

    #[test]
    fn floats_read_as_their_shortest_decimal() {
        assert_eq!(from_f64(0.1), Some(1_000_000_000));
        assert_eq!(from_f64(1e-12), Some(0));
        assert_eq!(from_f64(21.6), Some(216_000_000_000));
        assert_eq!(from_f64(f64::NAN), None);
    }

    /// A double's text is written on the stack, digits of any length are
    /// joined: the same numbers as texts made on the heap.
    #[test]
    fn texts_on_the_stack_read_as_on_the_heap() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let specials = [
            0.0,
            -0.0,
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            5e-324,
            1e-13,
            0.1,
        ];
        let random = std::iter::repeat_with(|| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            f64::from_bits(state)
        });
        for value in specials.into_iter().chain(random.take(100_000)) {
            let heap = parse_at(&format!("{value:e}"), EXACT_SCALE);
            assert_eq!(
                exact_from_f64(value),
                heap.filter(|_| value.is_finite()),
                "{value:e}"
            );
        }
        // 70 and 130 digits: joined on the heap.
        let long = format!("0.{}15", "0".repeat(68));
        assert_eq!(parse_at(&long, 69), Some(2)); // 1.5, to even
        let long = format!("{}.{}", "1".repeat(30), "9".repeat(100));
        assert_eq!(
            parse_at(&long, 0),
            Some("1".repeat(29).parse::<i128>().unwrap() * 10 + 2)
        );
    }

    #[test]
    fn scaled_decimals_convert_exactly() {
        let money = |v, places| exact_from_scaled(v, places).map(round_exact);
        assert_eq!(money(12345, 2), Some(1_234_500_000_000));
        assert_eq!(money(-15, 11), Some(-2)); // -0.00000000015 -> -0.0000000002
        assert_eq!(money(25, 11), Some(2));
        assert_eq!(
            exact_from_scaled(-15, 11),
            Some(-150_000_000_000_000_000_000)
        );
    }

    #[test]
    fn formats_with_ten_places() {
        assert_eq!(format_usd(-12_500), "-0.0000012500");
        assert_eq!(format_usd(ONE_USD * 3 + 1), "3.0000000001");
        assert_eq!(format_usd_rounded(12_345_000_000, 4), "1.2345");
        assert_eq!(format_usd_rounded(12_345_500_000, 4), "1.2346");
        assert_eq!(format_usd_rounded(12_344_500_000, 4), "1.2344");
    }
}
