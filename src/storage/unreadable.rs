//! Bytes that could not be read, told apart from bytes that do not decode.

use std::io::Read;

/// An input whose bytes could not be read (a network failure that outlived
/// its retries, a short body, a local I/O error), as opposed to bytes that were
/// read and do not decode. Travels inside a `std::io::Error` through the
/// decompressor and the line reader, so the sources can tell one from the
/// other: `--allow-corrupt-input` covers corrupt content only.
#[derive(Debug)]
pub struct Unreadable(pub String);

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unreadable {}

impl Unreadable {
    /// Whether an I/O error is (or wraps) an [`Unreadable`] input.
    pub fn is(e: &std::io::Error) -> bool {
        e.get_ref().is_some_and(|inner| inner.is::<Unreadable>())
    }
}

/// A source's bytes with every read error marked [`Unreadable`].
pub struct MarkUnreadable<R>(pub R);

impl<R: Read> Read for MarkUnreadable<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::Interrupted || Unreadable::is(&e) {
                e
            } else {
                std::io::Error::other(Unreadable(e.to_string()))
            }
        })
    }
}
