//! A stream's lines, read into one block and handed out where they lie: a
//! batch of lines is ranges of the block, and only the unfinished line at
//! its end is moved to the front before the next read. The decoder inflates
//! straight into the block (a read of more than a `BufReader`'s capacity
//! bypasses its buffer), so a line's bytes are written once and never
//! copied. A line longer than the limit is skipped as it streams past,
//! never held.

use std::io::{ErrorKind, Read};
use std::ops::Range;

/// A line handed out: its bytes in [`Lines::block`] (without the newline),
/// or a line longer than the limit, skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    Text(Range<usize>),
    Oversized,
}

/// Where the input is.
enum Input {
    Open,
    /// Ended: its unterminated last line, if any, is a line.
    Ended,
    /// Failed: the unfinished line is dropped, the error reported once the
    /// whole lines before it are handed out.
    Failed(std::io::Error),
    /// Ended or failed, and said so.
    Done,
}

/// A stream's lines, batch by batch ([`Lines::batch`]), as ranges of one block.
pub struct Lines<R> {
    reader: R,
    block: Vec<u8>,
    /// The first byte not handed out, and the end of the bytes read.
    start: usize,
    end: usize,
    /// Longest line kept (without its newline).
    max: usize,
    /// In the middle of a line longer than `max`.
    skipping: bool,
    input: Input,
}

/// Room for reads beside the longest line: past a `BufReader`'s 256 KiB, so
/// reads bypass its buffer.
const READ_BYTES: usize = 1 << 20;

impl<R: Read> Lines<R> {
    /// Lines of `reader` up to `max` bytes, read into `block` (a previous
    /// one's, [`Lines::into_block`]: grown, not zeroed again).
    pub fn new(reader: R, max: usize, mut block: Vec<u8>) -> Self {
        block.resize(max + 1 + READ_BYTES, 0);
        Self {
            reader,
            block,
            start: 0,
            end: 0,
            max,
            skipping: false,
            input: Input::Open,
        }
    }

    /// The block, for the next stream's lines.
    pub fn into_block(self) -> Vec<u8> {
        self.block
    }

    /// The bytes the ranges of the last batch are in.
    pub fn block(&self) -> &[u8] {
        &self.block
    }

    /// Up to `most` next lines into `out` (cleared): the lines whole in the
    /// block, after a read when none is. `Ok(false)` when the input has
    /// ended and every line was handed out; the error that ended it comes
    /// after the lines read before it.
    pub fn batch(&mut self, most: usize, out: &mut Vec<Line>) -> std::io::Result<bool> {
        out.clear();
        loop {
            while out.len() < most && self.start < self.end {
                let rest = &self.block[self.start..self.end];
                match memchr::memchr(b'\n', rest) {
                    Some(length) => {
                        let line = self.start..self.start + length;
                        self.start += length + 1;
                        if std::mem::take(&mut self.skipping) || length > self.max {
                            out.push(Line::Oversized);
                        } else {
                            out.push(Line::Text(line));
                        }
                    }
                    None => {
                        if rest.len() > self.max {
                            // Not held: the rest of the line is read past.
                            self.skipping = true;
                            self.start = self.end;
                        }
                        break;
                    }
                }
            }
            if !out.is_empty() {
                return Ok(true);
            }
            match std::mem::replace(&mut self.input, Input::Open) {
                Input::Open => self.read(),
                Input::Ended => {
                    self.input = Input::Done;
                    if self.skipping {
                        self.skipping = false;
                        out.push(Line::Oversized);
                    } else if self.start < self.end {
                        out.push(Line::Text(self.start..self.end));
                    }
                    self.start = self.end;
                    return Ok(!out.is_empty());
                }
                Input::Failed(e) => {
                    self.input = Input::Done;
                    return Err(e);
                }
                Input::Done => {
                    self.input = Input::Done;
                    return Ok(false);
                }
            }
        }
    }

    /// Moves the unfinished line to the front and reads after it.
    fn read(&mut self) {
        self.block.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        loop {
            match self.reader.read(&mut self.block[self.end..]) {
                Ok(0) => {
                    self.input = Input::Ended;
                    return;
                }
                Ok(n) => {
                    self.end += n;
                    return;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    // The unfinished line goes with the error.
                    self.end = 0;
                    self.skipping = false;
                    self.input = Input::Failed(e);
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out a reader's bytes `chunk` at a time, then fails if `fail`.
    struct Trickle<'a> {
        bytes: &'a [u8],
        chunk: usize,
        fail: bool,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.bytes.is_empty() && self.fail {
                return Err(std::io::Error::new(ErrorKind::InvalidData, "corrupt"));
            }
            let n = self.chunk.min(buf.len()).min(self.bytes.len());
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    /// Every line of `input` (texts; `None` for oversized), batch by batch of
    /// at most `most`, and the error that ended them.
    fn all_lines(
        input: &[u8],
        chunk: usize,
        fail: bool,
        max: usize,
        most: usize,
    ) -> (Vec<Option<String>>, Option<String>) {
        let mut lines = Lines::new(
            Trickle {
                bytes: input,
                chunk,
                fail,
            },
            max,
            Vec::new(),
        );
        let (mut out, mut seen) = (Vec::new(), Vec::new());
        loop {
            match lines.batch(most, &mut out) {
                Ok(more) => {
                    assert!(out.len() <= most);
                    for line in &out {
                        seen.push(match line {
                            Line::Text(range) => Some(
                                String::from_utf8(lines.block()[range.clone()].to_vec()).unwrap(),
                            ),
                            Line::Oversized => None,
                        });
                    }
                    if !more {
                        assert!(out.is_empty());
                        return (seen, None);
                    }
                }
                Err(e) => return (seen, Some(e.to_string())),
            }
        }
    }

    #[test]
    fn lines_are_handed_out_whole_across_reads_and_batches() {
        let input = b"one\ntwo\r\n\nthree without newline";
        for chunk in [1, 2, 3, 5, 64] {
            for most in [1, 2, 10] {
                let (seen, error) = all_lines(input, chunk, false, 32, most);
                let expected =
                    ["one", "two\r", "", "three without newline"].map(|s| Some(s.to_string()));
                assert_eq!(seen, expected, "chunk {chunk}, most {most}");
                assert_eq!(error, None);
            }
        }
    }

    #[test]
    fn a_line_past_the_limit_is_skipped_and_counted_once() {
        let mut input = b"short\n".to_vec();
        input.extend([b'x'; 100]);
        input.extend(b"\nafter\n");
        input.extend([b'y'; 40]); // the last line, unterminated and too long
        for chunk in [1, 7, 1 << 12] {
            let (seen, error) = all_lines(&input, chunk, false, 32, 4);
            assert_eq!(
                seen,
                [Some("short".into()), None, Some("after".into()), None],
                "chunk {chunk}"
            );
            assert_eq!(error, None);
        }
        // A line of exactly the limit is kept.
        let (seen, _) = all_lines(b"12345\n", 2, false, 5, 4);
        assert_eq!(seen, [Some("12345".into())]);
    }

    #[test]
    fn a_failed_read_ends_after_the_whole_lines_before_it() {
        let (seen, error) = all_lines(b"one\ntwo\nunfinish", 3, true, 64, 8);
        assert_eq!(seen, [Some("one".into()), Some("two".into())]);
        assert_eq!(error.as_deref(), Some("corrupt"));
    }
}
