//! Packed samples chunks (kind 5, format 1.4): the stack samples of one interval, grouped by
//! subtask, each subtask's counts sorted by stack and delta-coded into one or two bytes apiece,
//! the whole body compressed with DEFLATE (RFC 1951). See `docs/format.md`, "5 — packed samples".
//!
//! The in-memory form stays [`SamplesChunk`]: only the bytes on disk differ.

use std::io::{Read, Write};

use serde::{Deserialize, Serialize};

use crate::{FrameDecl, SampleCount, SampleState, SamplesChunk, StackDecl, MAX_CHUNK_PAYLOAD};

/// The payload of a packed samples chunk as postcard writes it: the interval's times and
/// totals in the clear, the frames, stacks and counts in `body`, compressed.
#[derive(Serialize, Deserialize)]
struct PackedPayload {
    seq: u64,
    start_ns: u64,
    end_ns: u64,
    lost: u64,
    between_polls: u64,
    /// Length of `body` once inflated.
    body_len: u32,
    body: Bytes,
}

/// A byte string that postcard writes and reads as one length-prefixed run (the encoding of a
/// `Vec<u8>`, without decoding byte by byte).
struct Bytes(Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Bytes;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
                Ok(Bytes(v.to_vec()))
            }
        }
        d.deserialize_bytes(Visitor)
    }
}

/// The flag bit of an entry whose count is not 1 (a varint of the count follows).
const COUNT_FOLLOWS: u64 = 1;
/// The flag bit of an entry sampled on CPU.
const ON_CPU: u64 = 2;
/// Bits of an entry's first varint below the stack delta: the count flag, on CPU, the state.
const FLAG_BITS: u32 = 4;

/// Encodes `chunk` as the payload of a packed samples chunk; an error when its body would be
/// larger than a chunk may be (64 MiB), which no reader would inflate.
pub(crate) fn encode(chunk: &SamplesChunk) -> std::io::Result<Vec<u8>> {
    let mut body = postcard::to_stdvec(&(&chunk.frames, &chunk.stacks)).map_err(invalid)?;
    let mut counts: Vec<&SampleCount> = chunk.counts.iter().collect();
    counts.sort_by_key(|c| (c.subtask, c.stack, c.state as u8, c.on_cpu, c.operator));
    let blocks: Vec<&[&SampleCount]> = counts.chunk_by(|a, b| a.subtask == b.subtask).collect();
    put_varint(&mut body, blocks.len() as u64);
    for block in blocks {
        let with_operators = block.iter().any(|c| c.operator.is_some());
        put_varint(
            &mut body,
            u64::from(block[0].subtask) << 1 | u64::from(with_operators),
        );
        put_varint(&mut body, block.len() as u64);
        let mut previous = 0u32;
        for c in block {
            let delta = u64::from(c.stack - previous);
            previous = c.stack;
            let mut first = delta << FLAG_BITS | (c.state as u64) << 2;
            if c.on_cpu {
                first |= ON_CPU;
            }
            if c.count != 1 {
                first |= COUNT_FOLLOWS;
            }
            put_varint(&mut body, first);
            if c.count != 1 {
                put_varint(&mut body, c.count.into());
            }
            if with_operators {
                put_varint(&mut body, c.operator.map_or(0, |o| u64::from(o) + 1));
            }
        }
    }
    let body_len = u32::try_from(body.len())
        .ok()
        .filter(|&len| len <= MAX_CHUNK_PAYLOAD)
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "the stack samples of one interval take {} bytes packed, beyond the format's limit of one chunk",
                    body.len()
                ),
            )
        })?;
    let mut deflate =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail.
    let _ = deflate.write_all(&body);
    let compressed = deflate.finish().unwrap_or_default();
    let payload = postcard::to_stdvec(&PackedPayload {
        seq: chunk.seq,
        start_ns: chunk.start_ns,
        end_ns: chunk.end_ns,
        lost: chunk.lost,
        between_polls: chunk.between_polls,
        body_len,
        body: Bytes(compressed),
    });
    payload.map_err(invalid)
}

/// A payload postcard could not encode, as an I/O error.
fn invalid(e: postcard::Error) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, e)
}

/// Which subtasks' counts a reader keeps.
pub(crate) type Keep<'a> = &'a dyn Fn(u32) -> bool;

/// Decodes the payload of a packed samples chunk, keeping the counts of the subtasks `keep`
/// accepts (the frames and stacks always). The error is what is wrong, for a `Corrupt`.
pub(crate) fn decode(payload: &[u8], keep: Keep<'_>) -> Result<SamplesChunk, &'static str> {
    let (packed, _rest): (PackedPayload, _) =
        postcard::take_from_bytes(payload).map_err(|_| "its header does not decode")?;
    if packed.body_len > MAX_CHUNK_PAYLOAD {
        return Err("its body would inflate beyond the format's limit of 64 MiB");
    }
    let mut body = Vec::with_capacity((packed.body_len as usize).min(1 << 20));
    flate2::read::DeflateDecoder::new(&packed.body.0[..])
        .take(u64::from(packed.body_len) + 1)
        .read_to_end(&mut body)
        .map_err(|_| "its compressed body is not valid DEFLATE data")?;
    if body.len() != packed.body_len as usize {
        return Err("its body does not inflate to the length it declares");
    }
    let ((frames, stacks), rest): ((Vec<FrameDecl>, Vec<StackDecl>), _) =
        postcard::take_from_bytes(&body).map_err(|_| "its frames and stacks do not decode")?;
    let mut input = Input(rest);
    let mut counts = Vec::new();
    let blocks = input.varint()?;
    for _ in 0..blocks {
        let head = input.varint()?;
        let subtask = u32::try_from(head >> 1).map_err(|_| "a subtask id is out of range")?;
        let with_operators = head & 1 == 1;
        let entries = input.varint()?;
        let kept = keep(subtask);
        let mut stack = 0u32;
        for _ in 0..entries {
            let first = input.varint()?;
            stack = u32::try_from(first >> FLAG_BITS)
                .ok()
                .and_then(|delta| stack.checked_add(delta))
                .ok_or("a stack id is out of range")?;
            let state = match first >> 2 & 3 {
                0 => SampleState::Busy,
                1 => SampleState::Idle,
                2 => SampleState::Backpressured,
                _ => return Err("a sample's state is not one the format defines"),
            };
            let count = if first & COUNT_FOLLOWS != 0 {
                u32::try_from(input.varint()?).map_err(|_| "a count is out of range")?
            } else {
                1
            };
            let operator = if with_operators {
                match input.varint()? {
                    0 => None,
                    o => Some(u32::try_from(o - 1).map_err(|_| "an operator id is out of range")?),
                }
            } else {
                None
            };
            if kept {
                counts.push(SampleCount {
                    subtask,
                    state,
                    on_cpu: first & ON_CPU != 0,
                    stack,
                    count,
                    operator,
                });
            }
        }
    }
    if !input.0.is_empty() {
        return Err("its body has bytes after the last count");
    }
    Ok(SamplesChunk {
        seq: packed.seq,
        start_ns: packed.start_ns,
        end_ns: packed.end_ns,
        frames,
        stacks,
        counts,
        lost: packed.lost,
        between_polls: packed.between_polls,
    })
}

/// Appends `value` as an unsigned LEB128 varint (postcard's encoding of integers).
fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// The rest of a body, read from the front.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    /// The next varint: at most 10 bytes, fitting a u64.
    fn varint(&mut self) -> Result<u64, &'static str> {
        let mut value = 0u64;
        for (i, &byte) in self.0.iter().enumerate().take(10) {
            let bits = u64::from(byte & 0x7f);
            if i == 9 && bits > 1 {
                break;
            }
            value |= bits << (7 * i);
            if byte & 0x80 == 0 {
                self.0 = &self.0[i + 1..];
                return Ok(value);
            }
        }
        Err(
            if self.0.len() < 10 && self.0.iter().all(|b| b & 0x80 != 0) {
                "it ends inside a number"
            } else {
                "a number takes more bytes than its type allows"
            },
        )
    }
}
