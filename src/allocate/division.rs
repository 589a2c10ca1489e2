//! The arithmetic of a split (SPEC 4.3): `floor(|C| u / U)` and its
//! remainder for every input `u`, by a multiplication instead of a division,
//! in 64 bits whenever the numbers allow.

/// `|C|` divided over units summing to `U`.
///
/// `|C| = q U + r`, so `floor(|C| u / U) = q u + floor(r u / U)` and the
/// remainder is `r u mod U`: in 64 bits when `U * max u_i` fits (`narrow`),
/// the usual case, instead of a 128-bit division per input; and by a
/// multiplication ([`Divisor`]), since every input is divided by `U`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Division {
    pub(super) magnitude: u128,
    pub(super) total_units: u128,
    pub(super) q: u64,
    pub(super) r: u64,
    pub(super) narrow: bool,
    pub(super) divisor: Divisor,
}

impl Division {
    /// The division of `magnitude` (`|C|`) over units that sum to
    /// `total_units` (at most `max_units` each).
    pub(super) fn new(magnitude: u128, total_units: u128, max_units: u64) -> Self {
        // The plain twin computes every split in 128 bits.
        let narrow = !crate::fast_path::plain()
            && magnitude < 1 << 64
            && total_units
                .checked_mul(max_units as u128)
                .is_some_and(|p| p < 1 << 64);
        let (q, r) = if narrow {
            (
                (magnitude / total_units) as u64,
                (magnitude % total_units) as u64,
            )
        } else {
            (0, 0)
        };
        Self {
            magnitude,
            total_units,
            q,
            r,
            narrow,
            divisor: Divisor::new(if narrow { total_units as u64 } else { 1 }),
        }
    }

    /// `floor(|C| u / U)` and `|C| u mod U` in 64 bits (only when `narrow`).
    #[inline]
    pub(super) fn narrow_floor_and_remainder(&self, units: u64) -> (u64, u64) {
        let scaled = self.r * units; // r < U and U * u < 2^64
        let (floor, remainder) = self.divisor.div_rem(scaled);
        (self.q * units + floor, remainder) // the floor <= |C| < 2^64
    }

    /// `floor(|C| u / U)` and `|C| u mod U`.
    #[inline]
    pub(super) fn floor_and_remainder(&self, units: u64) -> (u128, u128) {
        if self.narrow {
            let (floor, remainder) = self.narrow_floor_and_remainder(units);
            (u128::from(floor), u128::from(remainder))
        } else {
            let product = self.magnitude * units as u128; // < 1e19 * 2^64: fits u128 for DECIMAL(18,10) pools
            (product / self.total_units, product % self.total_units)
        }
    }
}

/// Exact division of 64-bit numbers by one divisor `d`, by a multiplication
/// with `m = floor((2^64 - 1) / d)`: `floor(x m / 2^64)` is `floor(x / d)`
/// or one below it (`m >= (2^64 - d) / d`, so `x m / 2^64 > x / d - 1`),
/// which one branch-free step corrects. A division instruction costs several
/// times the multiplication, and a day divides 27 times a transaction in
/// each of three passes (the split's plan, its shares, the breakdowns).
#[derive(Debug, Clone, Copy)]
pub(super) struct Divisor {
    pub(super) d: u64,
    pub(super) m: u64,
}

impl Divisor {
    pub(super) fn new(d: u64) -> Self {
        assert!(d > 0, "division by zero");
        Self { d, m: u64::MAX / d }
    }

    /// `(x / d, x % d)`.
    #[inline]
    pub(super) fn div_rem(self, x: u64) -> (u64, u64) {
        let mut q = ((u128::from(x) * u128::from(self.m)) >> 64) as u64;
        let mut r = x - q * self.d; // q <= x / d
        let over = u64::from(r >= self.d);
        q += over;
        r -= over * self.d;
        (q, r)
    }
}
