//! One switch for every fast path (STYLE 16, as ripgrep's `SearcherTester`
//! and memchr's shared runner): when on, each takes its plain twin instead:
//! serde_json instead of the JSON scanner, a hash map by text instead of the
//! UUID table, the 128-bit split instead of the 64-bit one, a full sort
//! instead of the bucketed selection of the largest remainders, and
//! arrow-rs's writer instead of the hand-written Parquet leaves. A test runs
//! the golden days both ways and compares every table.
//!
//! Compiled in only with the `failpoints` feature (`FAILPOINTS=fast_paths::plain=return`);
//! otherwise [`plain`] is a constant `false` and costs nothing.

/// Whether the plain twins are forced (read once, on first use).
#[inline]
pub fn plain() -> bool {
    #[cfg(feature = "failpoints")]
    {
        static PLAIN: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *PLAIN.get_or_init(|| fail::eval("fast_paths::plain", |_| ()).is_some())
    }
    #[cfg(not(feature = "failpoints"))]
    {
        false
    }
}
