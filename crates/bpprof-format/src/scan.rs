//! Cutting the input into chunks without trusting it: checksums verified, lengths bounded,
//! damaged chunks skipped by resynchronising on the next valid chunk.
//!
//! The scanner looks at the input through a [`Window`]: the bytes from the current position to
//! as far as it has needed to look ahead, read only when needed and only as far as the input
//! goes: a declared length makes it look that far, but the buffer grows only with bytes actually
//! read. A chunk is at most [`MAX_CHUNK_PAYLOAD`] plus 13 bytes long, so the window holds at most
//! twice that plus a read-ahead block, whatever the input declares.

use std::io::{self, Read};

use crate::chunk::{
    chunk_crc, parse_header, ChunkKind, CHUNK_HEADER_LEN, CHUNK_TRAILER_LEN, MAX_CHUNK_PAYLOAD,
};
use crate::ReadError;

/// How many bytes the window reads ahead at least (fewer syscalls while scanning byte by byte).
const READ_AHEAD: usize = 64 << 10;

/// How many payload bytes a resynchronisation may checksum for candidate chunks that turn out
/// not to be valid, in one read (16 times the largest chunk). A real recording never comes near:
/// a chance header of matching checksum occurs once in 4 billion positions. Hostile input could
/// otherwise place a plausible header every few bytes, each declaring a huge length, and make the
/// scan quadratic; beyond the budget, the rest of the input is given up as damaged.
const RESYNC_BUDGET: u64 = 16 * MAX_CHUNK_PAYLOAD as u64;

/// A complete chunk whose checksums match.
pub(crate) struct Chunk {
    pub kind: ChunkKind,
    pub payload: Vec<u8>,
    /// Byte offset of the chunk in the file.
    pub offset: u64,
    /// Index of the chunk in the file (0 = meta; each stretch of damaged bytes skipped counts as
    /// one).
    pub index: u64,
}

impl Chunk {
    /// [`ReadError::Corrupt`] for this chunk.
    pub fn corrupt(&self, reason: impl Into<String>) -> ReadError {
        ReadError::Corrupt {
            offset: self.offset,
            index: self.index,
            reason: reason.into(),
        }
    }
}

/// What [`Scanner::next_chunk`] found.
pub(crate) enum Next {
    /// A complete chunk whose checksums match.
    Chunk(Chunk),
    /// The bytes from `start` to `end` fail their checksums and were skipped: the next call reads
    /// from `end`, where a valid chunk starts (or the input ends).
    Damaged {
        /// Offset of the damaged chunk.
        start: u64,
        /// Offset of the next valid chunk, or the end of the input.
        end: u64,
        /// Which checksum failed.
        reason: &'static str,
    },
    /// The input ends inside the chunk that starts at `start`, at offset `end`.
    Truncated { start: u64, end: u64 },
    /// The input ends cleanly between chunks.
    Eof,
}

/// Reads chunks from an input positioned after the preamble.
pub(crate) struct Scanner<R> {
    window: Window<R>,
    /// Chunks found so far (valid ones, and one per damaged stretch): the index of the next.
    index: u64,
    /// Valid chunks read so far.
    complete: u64,
    /// What is left of [`RESYNC_BUDGET`].
    budget: u64,
}

impl<R: Read> Scanner<R> {
    /// A scanner of `input`, whose first byte is at file offset `offset`.
    pub fn new(input: R, offset: u64) -> Scanner<R> {
        Scanner {
            window: Window::new(input, offset),
            index: 0,
            complete: 0,
            budget: RESYNC_BUDGET,
        }
    }

    /// Reads until `buf` is full or the input ends; returns how many bytes were read. For the
    /// preamble, before any chunk.
    pub fn read_exact_or_less(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let got = self.window.peek(buf.len())?;
        let n = got.len();
        buf[..n].copy_from_slice(got);
        self.window.advance(n);
        Ok(n)
    }

    /// The file offset of the next byte to read.
    pub fn offset(&self) -> u64 {
        self.window.offset
    }

    /// Valid chunks read so far.
    pub fn complete_chunks(&self) -> u64 {
        self.complete
    }

    /// The next chunk, a damaged stretch (skipped), the truncated end of the input or its end.
    /// A header that passes its checksum but declares a length beyond the format's limit was
    /// written that way, not damaged: it is [`ReadError::Corrupt`].
    pub fn next_chunk(&mut self) -> Result<Next, ReadError> {
        let (start, index) = (self.window.offset, self.index);
        let header = match self.window.peek(CHUNK_HEADER_LEN)? {
            [] => return Ok(Next::Eof),
            h if h.len() < CHUNK_HEADER_LEN => {
                return Ok(Next::Truncated {
                    start,
                    end: start + h.len() as u64,
                })
            }
            h => header_array(h),
        };
        // The header checks itself, so a damaged length is told apart from a truncated file.
        let Some((kind, len)) = parse_header(&header) else {
            return self.damaged(start, 1, "chunk header checksum mismatch");
        };
        if len > MAX_CHUNK_PAYLOAD {
            return Err(ReadError::Corrupt {
                offset: start,
                index,
                reason: format!(
                    "chunk length {len} exceeds the format's limit of {MAX_CHUNK_PAYLOAD}"
                ),
            });
        }
        let total = chunk_len(len);
        let bytes = self.window.peek(total)?;
        if bytes.len() < total {
            return Ok(Next::Truncated {
                start,
                end: start + bytes.len() as u64,
            });
        }
        if !crc_matches(&header, bytes) {
            // The header passed its own checksum, so its length can be trusted: the next chunk
            // starts right after this one (unless that is damaged too).
            return self.damaged(start, total, "chunk checksum mismatch");
        }
        let chunk = Chunk {
            kind,
            payload: bytes[CHUNK_HEADER_LEN..total - CHUNK_TRAILER_LEN].to_vec(),
            offset: start,
            index,
        };
        self.window.advance(total);
        self.index += 1;
        self.complete += 1;
        Ok(Next::Chunk(chunk))
    }

    /// Skips the damaged chunk at `start`: resynchronises on the next valid chunk, looking from
    /// `skip` bytes after `start`.
    fn damaged(
        &mut self,
        start: u64,
        skip: usize,
        reason: &'static str,
    ) -> Result<Next, ReadError> {
        self.window.advance(skip);
        self.resynchronise()?;
        self.index += 1;
        Ok(Next::Damaged {
            start,
            end: self.window.offset,
            reason,
        })
    }

    /// Advances to the first position where a chunk starts whose header and chunk checksums
    /// match, or a whole header (checksum matching) of a chunk that the end of the input cuts
    /// short (a truncated tail), or the end of the input.
    fn resynchronise(&mut self) -> Result<(), ReadError> {
        loop {
            let header = match self.window.peek(CHUNK_HEADER_LEN)? {
                // Too few bytes left for a header: nothing tells them from the damage.
                h if h.len() < CHUNK_HEADER_LEN => {
                    self.window.skip_to_end()?;
                    return Ok(());
                }
                h => header_array(h),
            };
            if let Some((_, len)) = parse_header(&header).filter(|&(_, l)| l <= MAX_CHUNK_PAYLOAD) {
                let total = chunk_len(len);
                let bytes = self.window.peek(total)?;
                if bytes.len() < total || crc_matches(&header, bytes) {
                    return Ok(());
                }
                self.budget = self.budget.saturating_sub(len.into());
                if self.budget == 0 {
                    self.window.skip_to_end()?;
                    return Ok(());
                }
            }
            self.window.advance(1);
        }
    }
}

/// The bytes a chunk of payload length `len` takes in the file.
fn chunk_len(len: u32) -> usize {
    CHUNK_HEADER_LEN + len as usize + CHUNK_TRAILER_LEN
}

/// The first [`CHUNK_HEADER_LEN`] bytes of `bytes`, which has at least that many.
fn header_array(bytes: &[u8]) -> [u8; CHUNK_HEADER_LEN] {
    let mut header = [0; CHUNK_HEADER_LEN];
    header.copy_from_slice(&bytes[..CHUNK_HEADER_LEN]);
    header
}

/// Whether `chunk`, a whole chunk starting with `header`, ends with the CRC of its content.
fn crc_matches(header: &[u8; CHUNK_HEADER_LEN], chunk: &[u8]) -> bool {
    let (content, trailer) = chunk.split_at(chunk.len() - CHUNK_TRAILER_LEN);
    let crc = chunk_crc(header, &content[CHUNK_HEADER_LEN..]);
    trailer == crc.to_le_bytes()
}

/// The input from the current position, with the bytes already read ahead kept for a second
/// look.
struct Window<R> {
    input: R,
    /// Bytes read from the input; those before `start` are consumed.
    buf: Vec<u8>,
    /// Index in `buf` of the current position.
    start: usize,
    /// File offset of the current position.
    offset: u64,
    /// The input has no more bytes.
    ended: bool,
}

impl<R: Read> Window<R> {
    fn new(input: R, offset: u64) -> Window<R> {
        Window {
            input,
            buf: Vec::new(),
            start: 0,
            offset,
            ended: false,
        }
    }

    /// The next `n` bytes, or all that are left when the input ends before. Reads only what is
    /// missing (and a read-ahead block), so the buffer grows with bytes actually present, never by
    /// a declared length alone.
    fn peek(&mut self, n: usize) -> io::Result<&[u8]> {
        let available = self.buf.len() - self.start;
        if available < n && !self.ended {
            // Consumed bytes are dropped before the buffer grows once they are half of it, so it
            // holds at most twice what is looked at plus one read-ahead block, and moving the
            // rest to the front costs no more than the reads that filled it.
            if self.start >= self.buf.len() / 2 {
                self.buf.drain(..self.start);
                self.start = 0;
            }
            let want = (n - available).max(READ_AHEAD);
            let got = read_up_to(&mut self.input, &mut self.buf, want)?;
            if got < want {
                self.ended = true;
            }
        }
        let end = self.buf.len().min(self.start + n);
        Ok(&self.buf[self.start..end])
    }

    /// Consumes `n` bytes; at most the bytes last peeked at.
    fn advance(&mut self, n: usize) {
        let n = n.min(self.buf.len() - self.start);
        self.start += n;
        self.offset += n as u64;
    }

    /// Consumes everything that is left, without keeping it.
    fn skip_to_end(&mut self) -> io::Result<()> {
        let left = self.buf.len() - self.start;
        self.advance(left);
        let skipped = io::copy(&mut self.input, &mut io::sink())?;
        self.offset += skipped;
        self.ended = true;
        Ok(())
    }
}

/// Appends up to `want` bytes of `input` to `buf`, fewer only at the end of the input (reads
/// interrupted by a signal are retried by `read_to_end`). Returns how many were appended.
fn read_up_to(input: &mut impl Read, buf: &mut Vec<u8>, want: usize) -> io::Result<usize> {
    input.by_ref().take(want as u64).read_to_end(buf)
}
