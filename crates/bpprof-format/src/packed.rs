//! Packed samples chunks (kind 5): the stack samples of one interval, grouped by subtask, each
//! subtask's counts sorted by stack and delta-coded into one or two bytes apiece. See
//! `docs/format.md`, "5 — packed samples".
//!
//! * Format 1.4: the frames, stacks and every subtask's block in one body compressed with DEFLATE
//!   (RFC 1951): a reader of one subtask inflates them all.
//! * Format 1.5: the body holds the frames and stacks only (and no block, so a 1.4 reader reads
//!   the declarations); appended to the payload, each subtask's block is coded on its own with a
//!   Huffman code shared by the chunk, behind a directory of (subtask, lengths), so a reader of
//!   one subtask decodes that subtask's block only and steps over the others.
//!
//! The in-memory form stays [`SamplesChunk`]: only the bytes on disk differ.

use std::io::Write;

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

/// One subtask's counts, coded as entries (the same in 1.4 and 1.5).
struct RawBlock {
    subtask: u32,
    with_operators: bool,
    /// The entries, one after the other.
    entries: Vec<u8>,
    /// How many.
    count: usize,
}

/// The blocks of `chunk`: one per subtask in ascending id, each's entries sorted by (stack,
/// state, on/off CPU, operator).
fn raw_blocks(chunk: &SamplesChunk) -> Vec<RawBlock> {
    let mut counts: Vec<&SampleCount> = chunk.counts.iter().collect();
    counts.sort_by_key(|c| (c.subtask, c.stack, c.state as u8, c.on_cpu, c.operator));
    counts
        .chunk_by(|a, b| a.subtask == b.subtask)
        .map(|block| {
            let with_operators = block.iter().any(|c| c.operator.is_some());
            let mut entries = Vec::with_capacity(block.len() * 2);
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
                put_varint(&mut entries, first);
                if c.count != 1 {
                    put_varint(&mut entries, c.count.into());
                }
                if with_operators {
                    put_varint(&mut entries, c.operator.map_or(0, |o| u64::from(o) + 1));
                }
            }
            RawBlock {
                subtask: block[0].subtask,
                with_operators,
                entries,
                count: block.len(),
            }
        })
        .collect()
}

/// Encodes `chunk` as the payload of a packed samples chunk of format 1.5 (each subtask's block
/// coded on its own, see the module's documentation); an error when its body would be larger
/// than a chunk may be (64 MiB), which no reader would inflate.
pub(crate) fn encode(chunk: &SamplesChunk) -> std::io::Result<Vec<u8>> {
    let mut body = postcard::to_stdvec(&(&chunk.frames, &chunk.stacks)).map_err(invalid)?;
    // No block in the body: the counts follow it, for a 1.4 reader to ignore.
    put_varint(&mut body, 0);
    let mut payload = packed_payload(chunk, &body)?;
    let blocks = raw_blocks(chunk);
    let mut frequencies = [0u64; 256];
    for block in &blocks {
        for &byte in &block.entries {
            frequencies[usize::from(byte)] += 1;
        }
    }
    let code = huffman::Code::new(&frequencies);
    let (mut directory, mut coded) = (Vec::new(), Vec::new());
    put_varint(&mut directory, blocks.len() as u64);
    let mut previous = 0u32;
    for block in &blocks {
        let before = coded.len();
        code.encode(&block.entries, &mut coded);
        put_varint(
            &mut directory,
            u64::from(block.subtask - previous) << 1 | u64::from(block.with_operators),
        );
        previous = block.subtask;
        put_varint(&mut directory, block.entries.len() as u64);
        put_varint(&mut directory, (coded.len() - before) as u64);
    }
    let extension =
        postcard::to_stdvec(&(Bytes(code.lengths_bytes()), Bytes(directory), Bytes(coded)))
            .map_err(invalid)?;
    payload.extend_from_slice(&extension);
    Ok(payload)
}

/// Encodes `chunk` as the payload of a packed samples chunk of format 1.4 (every block in the
/// compressed body), for tests of readers of older recordings.
pub(crate) fn encode_1_4(chunk: &SamplesChunk) -> std::io::Result<Vec<u8>> {
    let mut body = postcard::to_stdvec(&(&chunk.frames, &chunk.stacks)).map_err(invalid)?;
    let blocks = raw_blocks(chunk);
    put_varint(&mut body, blocks.len() as u64);
    for block in blocks {
        put_varint(
            &mut body,
            u64::from(block.subtask) << 1 | u64::from(block.with_operators),
        );
        put_varint(&mut body, block.count as u64);
        body.extend_from_slice(&block.entries);
    }
    packed_payload(chunk, &body)
}

/// The payload of format 1.4 with `body` compressed: what every packed samples chunk starts with.
fn packed_payload(chunk: &SamplesChunk, body: &[u8]) -> std::io::Result<Vec<u8>> {
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
    let _ = deflate.write_all(body);
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

/// Decodes the payload of a packed samples chunk of a file of format minor `minor`, keeping the
/// counts of the subtasks `keep` accepts (the frames and stacks always). In 1.5 and later the
/// blocks of the other subtasks are stepped over without being decoded. The error is what is
/// wrong, for a `Corrupt`.
pub(crate) fn decode(
    payload: &[u8],
    keep: Keep<'_>,
    minor: u16,
) -> Result<SamplesChunk, &'static str> {
    let (packed, rest): (PackedPayload, _) =
        postcard::take_from_bytes(payload).map_err(|_| "its header does not decode")?;
    if packed.body_len > MAX_CHUNK_PAYLOAD {
        return Err("its body would inflate beyond the format's limit of 64 MiB");
    }
    let body = inflate(&packed.body.0, packed.body_len)?;
    if body.len() != packed.body_len as usize {
        return Err("its body does not inflate to the length it declares");
    }
    let ((frames, stacks), rest_of_body): ((Vec<FrameDecl>, Vec<StackDecl>), _) =
        postcard::take_from_bytes(&body).map_err(|_| "its frames and stacks do not decode")?;
    let mut input = Input(rest_of_body);
    let mut counts = Vec::new();
    let blocks = input.varint()?;
    for _ in 0..blocks {
        let head = input.varint()?;
        let subtask = u32::try_from(head >> 1).map_err(|_| "a subtask id is out of range")?;
        let entries = input.varint()?;
        let mut block = Block::new(subtask, head & 1 == 1, keep(subtask));
        for _ in 0..entries {
            block.entry(&mut input, &mut counts)?;
        }
    }
    if !input.0.is_empty() {
        return Err("its body has bytes after the last count");
    }
    if minor >= 5 {
        let ((lengths, directory, coded), _newer): ((&[u8], &[u8], &[u8]), _) =
            postcard::take_from_bytes(rest)
                .map_err(|_| "its code, block directory or blocks do not decode")?;
        decode_blocks(lengths, directory, coded, keep, &mut counts)?;
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

/// `compressed` inflated (raw DEFLATE), or as much of it as shows that it inflates to more than
/// `len` bytes. The inflater is made once per thread and reset for each body: making one costs
/// more than inflating the small body of a 1.5 chunk.
fn inflate(compressed: &[u8], len: u32) -> Result<Vec<u8>, &'static str> {
    thread_local! {
        static INFLATER: std::cell::RefCell<flate2::Decompress> =
            std::cell::RefCell::new(flate2::Decompress::new(false));
    }
    let invalid = "its compressed body is not valid DEFLATE data";
    INFLATER.with(|inflater| {
        let mut inflater = inflater.borrow_mut();
        inflater.reset(false);
        let limit = len as usize + 1;
        let mut body = Vec::with_capacity(limit.min(1 << 20));
        loop {
            let (read, written) = (inflater.total_in(), body.len());
            if written >= limit {
                return Ok(body);
            }
            body.reserve((limit - written).min(1 << 20));
            let input = compressed
                .get(usize::try_from(read).unwrap_or(usize::MAX)..)
                .unwrap_or_default();
            match inflater.decompress_vec(input, &mut body, flate2::FlushDecompress::Finish) {
                Ok(flate2::Status::StreamEnd) => return Ok(body),
                Ok(_) if inflater.total_in() == read && body.len() == written => {
                    return Err(invalid)
                }
                Ok(_) => {}
                Err(_) => return Err(invalid),
            }
        }
    })
}

/// The blocks of format 1.5: the code's `lengths`, the `directory` and the `coded` blocks. Only
/// the blocks of subtasks `keep` accepts are decoded (the code too only when one is).
fn decode_blocks(
    lengths: &[u8],
    directory: &[u8],
    coded: &[u8],
    keep: Keep<'_>,
    counts: &mut Vec<SampleCount>,
) -> Result<(), &'static str> {
    let mut directory = Input(directory);
    let blocks = directory.varint()?;
    // Every block takes at least three bytes of the directory: a hostile count cannot make
    // the reader allocate.
    let mut spans = Vec::with_capacity(
        usize::try_from(blocks)
            .unwrap_or(usize::MAX)
            .min(directory.0.len() / 3),
    );
    let (mut subtask, mut total) = (0u32, 0u64);
    for _ in 0..blocks {
        let head = directory.varint()?;
        subtask = u32::try_from(head >> 1)
            .ok()
            .and_then(|delta| subtask.checked_add(delta))
            .ok_or("a subtask id is out of range")?;
        let raw_len = directory.varint()?;
        let coded_len = directory.varint()?;
        // Every byte takes at least one bit.
        if raw_len > coded_len.saturating_mul(8) {
            return Err("a block declares more bytes than its code can hold");
        }
        let start = total;
        total = total
            .checked_add(coded_len)
            .filter(|&t| t <= coded.len() as u64)
            .ok_or("its blocks are shorter than its directory says")?;
        spans.push((
            subtask,
            head & 1 == 1,
            raw_len as usize,
            start as usize..total as usize,
        ));
    }
    if !directory.0.is_empty() {
        return Err("its block directory has bytes after the last block");
    }
    if total != coded.len() as u64 {
        return Err("its blocks are longer than its directory says");
    }
    let mut code = None;
    let mut raw = Vec::new();
    for (subtask, with_operators, raw_len, span) in spans {
        if !keep(subtask) {
            continue;
        }
        let code = match &mut code {
            Some(code) => code,
            None => code.insert(huffman::Decoder::new(lengths)?),
        };
        raw.clear();
        code.decode(&coded[span], raw_len, &mut raw)?;
        let mut block = Block::new(subtask, with_operators, true);
        let mut input = Input(&raw);
        while !input.0.is_empty() {
            block.entry(&mut input, counts)?;
        }
    }
    Ok(())
}

/// The block being decoded.
struct Block {
    subtask: u32,
    with_operators: bool,
    /// Its counts are kept.
    kept: bool,
    /// The stack id of its previous entry (0 before the first).
    stack: u32,
}

impl Block {
    fn new(subtask: u32, with_operators: bool, kept: bool) -> Block {
        Block {
            subtask,
            with_operators,
            kept,
            stack: 0,
        }
    }

    /// Decodes the next entry of the block from `input`, adding its count to `counts` when the
    /// block is kept.
    fn entry(
        &mut self,
        input: &mut Input<'_>,
        counts: &mut Vec<SampleCount>,
    ) -> Result<(), &'static str> {
        let first = input.varint()?;
        self.stack = u32::try_from(first >> FLAG_BITS)
            .ok()
            .and_then(|delta| self.stack.checked_add(delta))
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
        let operator = if self.with_operators {
            match input.varint()? {
                0 => None,
                o => Some(u32::try_from(o - 1).map_err(|_| "an operator id is out of range")?),
            }
        } else {
            None
        };
        if self.kept {
            counts.push(SampleCount {
                subtask: self.subtask,
                state,
                on_cpu: first & ON_CPU != 0,
                stack: self.stack,
                count,
                operator,
            });
        }
        Ok(())
    }
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

/// The Huffman code of the blocks of a 1.5 chunk: canonical (as DEFLATE's, RFC 1951 3.2.2),
/// over bytes, at most [`huffman::MAX_BITS`] bits a code, written most significant bit first.
mod huffman {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    /// The longest code, in bits.
    pub const MAX_BITS: u8 = 12;
    /// The code lengths of 256 symbols, two per byte, take at most this many bytes.
    const MAX_LENGTHS_BYTES: usize = 128;

    /// A code to write with.
    pub struct Code {
        lengths: [u8; 256],
        codes: [u16; 256],
    }

    impl Code {
        /// The Huffman code of bytes occurring `frequencies` times, limited to `MAX_BITS` bits
        /// (by halving the frequencies until it fits).
        pub fn new(frequencies: &[u64; 256]) -> Code {
            let mut f = *frequencies;
            let lengths = loop {
                let lengths = huffman_lengths(&f);
                if lengths.iter().all(|&l| l <= MAX_BITS) {
                    break lengths;
                }
                // Converges: once every used frequency is 1 the code is at most 8 bits long.
                f.iter_mut()
                    .filter(|x| **x > 0)
                    .for_each(|x| *x = x.div_ceil(2));
            };
            let codes = canonical(&lengths).unwrap_or([0; 256]);
            Code { lengths, codes }
        }

        /// The code lengths as the file holds them: two per byte, the even symbol in the low
        /// nibble, up to the last symbol used.
        pub fn lengths_bytes(&self) -> Vec<u8> {
            let used = self
                .lengths
                .iter()
                .rposition(|&l| l > 0)
                .map_or(0, |s| s + 1);
            (0..used.div_ceil(2))
                .map(|i| self.lengths[2 * i] | self.lengths.get(2 * i + 1).map_or(0, |l| l << 4))
                .collect()
        }

        /// Appends `bytes` coded, padded with zero bits to a whole byte. Every byte of it must
        /// have been counted in the frequencies of the code.
        pub fn encode(&self, bytes: &[u8], out: &mut Vec<u8>) {
            let (mut acc, mut bits) = (0u32, 0u32);
            for &b in bytes {
                let len = u32::from(self.lengths[usize::from(b)]);
                acc = acc << len | u32::from(self.codes[usize::from(b)]);
                bits += len;
                while bits >= 8 {
                    bits -= 8;
                    out.push((acc >> bits) as u8);
                }
                acc &= (1 << bits) - 1;
            }
            if bits > 0 {
                out.push((acc << (8 - bits)) as u8);
            }
        }
    }

    /// A code to read with: for each `MAX_BITS`-bit prefix, the symbol and its code's length
    /// (`symbol << 4 | length`; 0 where no code starts so).
    pub struct Decoder {
        table: Vec<u16>,
    }

    impl Decoder {
        /// The decoder of the code whose lengths are `bytes` (as [`Code::lengths_bytes`] writes
        /// them); an error when they are not a prefix code of at most `MAX_BITS` bits.
        pub fn new(bytes: &[u8]) -> Result<Decoder, &'static str> {
            if bytes.len() > MAX_LENGTHS_BYTES {
                return Err("its Huffman code has more than 256 symbols");
            }
            let mut lengths = [0u8; 256];
            for (i, &b) in bytes.iter().enumerate() {
                lengths[2 * i] = b & 15;
                lengths[2 * i + 1] = b >> 4;
            }
            let codes = canonical(&lengths).ok_or("its Huffman code is not a valid prefix code")?;
            let mut table = vec![0u16; 1 << MAX_BITS];
            for (symbol, (&len, &code)) in lengths.iter().zip(&codes).enumerate() {
                if len > 0 {
                    let shift = MAX_BITS - len;
                    let start = usize::from(code) << shift;
                    // Within the table: `canonical` checked the code is a prefix code.
                    for entry in &mut table[start..start + (1 << shift)] {
                        *entry = (symbol as u16) << 4 | u16::from(len);
                    }
                }
            }
            Ok(Decoder { table })
        }

        /// Decodes `count` bytes from `coded` onto `out`; an error unless `coded` holds exactly
        /// them (and fewer than 8 bits of padding).
        pub fn decode(
            &self,
            coded: &[u8],
            count: usize,
            out: &mut Vec<u8>,
        ) -> Result<(), &'static str> {
            let max = u32::from(MAX_BITS);
            let (mut acc, mut have, mut next) = (0u32, 0u32, 0usize);
            for _ in 0..count {
                while have < max && next < coded.len() {
                    acc = acc << 8 | u32::from(coded[next]);
                    next += 1;
                    have += 8;
                }
                let prefix = if have >= max {
                    acc >> (have - max)
                } else {
                    acc << (max - have)
                } & ((1 << max) - 1);
                let entry = self.table[prefix as usize];
                let len = u32::from(entry & 15);
                if len == 0 || len > have {
                    return Err("a block does not decode with its chunk's Huffman code");
                }
                out.push((entry >> 4) as u8);
                have -= len;
                acc &= (1 << have) - 1;
            }
            if next != coded.len() || have >= 8 {
                return Err("a block has more bits than its counts take");
            }
            Ok(())
        }
    }

    /// Huffman code lengths for `frequencies` (0 for a byte that does not occur; 1 for the one
    /// byte when only one occurs), not limited.
    fn huffman_lengths(frequencies: &[u64; 256]) -> [u8; 256] {
        let used: Vec<usize> = (0..256).filter(|&s| frequencies[s] > 0).collect();
        let mut lengths = [0u8; 256];
        match used[..] {
            [] => return lengths,
            [only] => {
                lengths[only] = 1;
                return lengths;
            }
            _ => {}
        }
        let n = used.len();
        // Leaves 0..n, then each merged node; a node's parent is always created after it.
        let mut parent = vec![0usize; 2 * n - 1];
        let mut heap: BinaryHeap<Reverse<(u64, usize)>> = used
            .iter()
            .enumerate()
            .map(|(i, &s)| Reverse((frequencies[s], i)))
            .collect();
        let mut next = n;
        while let (Some(Reverse((a_weight, a))), Some(Reverse((b_weight, b)))) =
            (heap.pop(), heap.pop())
        {
            parent[a] = next;
            parent[b] = next;
            heap.push(Reverse((a_weight + b_weight, next)));
            next += 1;
        }
        let root = next - 1;
        let mut depth = vec![0u32; 2 * n - 1];
        for node in (0..root).rev() {
            depth[node] = depth[parent[node]] + 1;
        }
        for (i, &s) in used.iter().enumerate() {
            lengths[s] = depth[i].min(255) as u8;
        }
        lengths
    }

    /// The canonical codes of `lengths` (RFC 1951 3.2.2), or `None` when a length exceeds
    /// `MAX_BITS` or the lengths are not those of a prefix code (Kraft's inequality).
    fn canonical(lengths: &[u8; 256]) -> Option<[u16; 256]> {
        let max = usize::from(MAX_BITS);
        let mut count = [0u32; MAX_BITS as usize + 1];
        for &l in lengths {
            if l > MAX_BITS {
                return None;
            }
            count[usize::from(l)] += 1;
        }
        count[0] = 0;
        let kraft: u32 = (1..=max).map(|l| count[l] << (max - l)).sum();
        if kraft > 1 << max {
            return None;
        }
        let mut next = [0u32; MAX_BITS as usize + 1];
        let mut code = 0u32;
        for bits in 1..=max {
            code = (code + count[bits - 1]) << 1;
            next[bits] = code;
        }
        let mut codes = [0u16; 256];
        for (symbol, &l) in lengths.iter().enumerate() {
            if l > 0 {
                codes[symbol] = next[usize::from(l)] as u16;
                next[usize::from(l)] += 1;
            }
        }
        Some(codes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift64, for test data.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    /// Counts of `subtasks` subtasks over stacks 0..200, some with operators and large counts.
    fn chunk(rng: &mut Rng, subtasks: u32) -> SamplesChunk {
        let mut counts = Vec::new();
        for subtask in 0..subtasks {
            let mut seen = std::collections::HashSet::new();
            for _ in 0..rng.next() % 90 + 1 {
                let stack = (rng.next() % 200) as u32;
                let state = [
                    SampleState::Busy,
                    SampleState::Idle,
                    SampleState::Backpressured,
                ][(rng.next() % 3) as usize];
                let on_cpu = rng.next() % 2 == 0;
                let operator =
                    (subtask % 3 == 0 && rng.next() % 2 == 0).then(|| (rng.next() % 70) as u32);
                if seen.insert((stack, state as u8, on_cpu, operator)) {
                    counts.push(SampleCount {
                        subtask: subtask * 7 + 3,
                        state,
                        on_cpu,
                        stack,
                        count: if rng.next() % 5 == 0 {
                            (rng.next() % 100_000) as u32 + 2
                        } else {
                            1
                        },
                        operator,
                    });
                }
            }
        }
        SamplesChunk {
            seq: 4,
            start_ns: 4_000,
            end_ns: 5_000,
            frames: vec![FrameDecl {
                id: 1,
                function: "main".into(),
                file: String::new(),
                line: 0,
            }],
            stacks: vec![StackDecl {
                id: 0,
                frames: vec![1],
            }],
            counts,
            lost: 2,
            between_polls: 1,
        }
    }

    fn sorted(mut chunk: SamplesChunk) -> SamplesChunk {
        chunk
            .counts
            .sort_by_key(|c| (c.subtask, c.stack, c.state as u8, c.on_cpu, c.operator));
        chunk
    }

    #[test]
    fn both_layouts_give_back_every_count_and_each_subtask_alone() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        for subtasks in [0, 1, 2, 17] {
            let written = chunk(&mut rng, subtasks);
            let expected = sorted(written.clone());
            for (payload, minor) in [
                (encode(&written).unwrap(), 5),
                (encode_1_4(&written).unwrap(), 4),
            ] {
                assert_eq!(decode(&payload, &|_| true, minor).unwrap(), expected);
                for subtask in 0..subtasks {
                    let id = subtask * 7 + 3;
                    let one = decode(&payload, &|s| s == id, minor).unwrap();
                    let mine: Vec<_> = expected
                        .counts
                        .iter()
                        .filter(|c| c.subtask == id)
                        .cloned()
                        .collect();
                    assert!(!mine.is_empty());
                    assert_eq!(one.counts, mine);
                    assert_eq!(
                        (&one.frames, &one.stacks),
                        (&expected.frames, &expected.stacks)
                    );
                }
            }
            // A 1.4 reader of a 1.5 chunk: the declarations, and none of the counts (they come
            // after the payload it knows).
            let old = decode(&encode(&written).unwrap(), &|_| true, 4).unwrap();
            assert_eq!(
                (&old.frames, &old.stacks, old.seq, old.lost),
                (&expected.frames, &expected.stacks, 4, 2)
            );
            assert!(old.counts.is_empty());
            // A 1.4 chunk in a 1.5 file ends early: corrupt.
            if subtasks > 0 {
                assert!(decode(&encode_1_4(&written).unwrap(), &|_| true, 5).is_err());
            }
        }
    }

    /// The 1.5 extension of `payload`: what precedes it, the code's lengths, the directory
    /// (subtask, with operators, raw length, coded length) and the coded blocks.
    #[allow(clippy::type_complexity)]
    fn split(payload: &[u8]) -> (Vec<u8>, Vec<u8>, Vec<(u32, bool, u64, u64)>, Vec<u8>) {
        let (_, rest): (PackedPayload, _) = postcard::take_from_bytes(payload).unwrap();
        let head = payload[..payload.len() - rest.len()].to_vec();
        let ((lengths, directory, coded), _): ((&[u8], &[u8], &[u8]), _) =
            postcard::take_from_bytes(rest).unwrap();
        let mut input = Input(directory);
        let mut subtask = 0;
        let entries = (0..input.varint().unwrap())
            .map(|_| {
                let h = input.varint().unwrap();
                subtask += (h >> 1) as u32;
                (
                    subtask,
                    h & 1 == 1,
                    input.varint().unwrap(),
                    input.varint().unwrap(),
                )
            })
            .collect();
        (head, lengths.to_vec(), entries, coded.to_vec())
    }

    fn join(
        head: &[u8],
        lengths: &[u8],
        entries: &[(u32, bool, u64, u64)],
        coded: &[u8],
    ) -> Vec<u8> {
        let mut directory = Vec::new();
        put_varint(&mut directory, entries.len() as u64);
        let mut previous = 0;
        for &(subtask, ops, raw, len) in entries {
            put_varint(
                &mut directory,
                u64::from(subtask - previous) << 1 | u64::from(ops),
            );
            previous = subtask;
            put_varint(&mut directory, raw);
            put_varint(&mut directory, len);
        }
        let mut payload = head.to_vec();
        payload.extend(
            postcard::to_stdvec(&(
                Bytes(lengths.to_vec()),
                Bytes(directory),
                Bytes(coded.to_vec()),
            ))
            .unwrap(),
        );
        payload
    }

    /// A reader of one subtask decodes that subtask's block only: damage to every other block
    /// (here, each declares more bytes than its bits hold, so decoding it fails) does not
    /// matter to it, while a reader of every subtask finds the chunk corrupt.
    #[test]
    fn a_reader_of_one_subtask_does_not_decode_the_other_blocks() {
        let mut rng = Rng(99);
        let written = chunk(&mut rng, 5);
        let expected = sorted(written.clone());
        let (head, lengths, entries, coded) = split(&encode(&written).unwrap());
        assert_eq!(
            join(&head, &lengths, &entries, &coded),
            encode(&written).unwrap()
        );
        let kept = entries[2].0;
        let damaged: Vec<_> = entries
            .iter()
            .map(|&(s, ops, raw, len)| {
                if s == kept {
                    (s, ops, raw, len)
                } else {
                    (s, ops, len * 8, len)
                }
            })
            .collect();
        let payload = join(&head, &lengths, &damaged, &coded);
        assert_eq!(
            decode(&payload, &|_| true, 5).unwrap_err(),
            "a block does not decode with its chunk's Huffman code"
        );
        let one = decode(&payload, &|s| s == kept, 5).unwrap();
        let mine: Vec<_> = expected
            .counts
            .iter()
            .filter(|c| c.subtask == kept)
            .cloned()
            .collect();
        assert_eq!(one.counts, mine);
        // Nor is the code decoded when no block is kept.
        let bad_code = join(&head, &[0xff; 4], &entries, &coded);
        assert!(decode(&bad_code, &|_| true, 5).is_err());
        assert!(decode(&bad_code, &|_| false, 5).unwrap().counts.is_empty());
    }

    #[test]
    fn huffman_codes_round_trip_and_never_panic_on_bad_input() {
        let mut rng = Rng(7);
        for case in 0..200 {
            let len = (rng.next() % 3000) as usize;
            let alphabet = rng.next() % 256 + 1;
            // Skewed bytes, sometimes one symbol only, sometimes very skewed (long codes).
            let bytes: Vec<u8> = (0..len)
                .map(|_| match case % 3 {
                    0 => 42,
                    1 => (rng.next() % alphabet) as u8,
                    _ => (rng.next() % alphabet).trailing_zeros().min(28) as u8 * 9,
                })
                .collect();
            let mut frequencies = [0u64; 256];
            bytes.iter().for_each(|&b| frequencies[usize::from(b)] += 1);
            let code = huffman::Code::new(&frequencies);
            let mut coded = Vec::new();
            code.encode(&bytes, &mut coded);
            let decoder = huffman::Decoder::new(&code.lengths_bytes()).unwrap();
            let mut out = Vec::new();
            decoder.decode(&coded, bytes.len(), &mut out).unwrap();
            assert_eq!(out, bytes);
            // Damaged input: an error or other bytes, never a panic.
            let lengths: Vec<u8> = (0..rng.next() % 140).map(|_| rng.next() as u8).collect();
            if let Ok(decoder) = huffman::Decoder::new(&lengths) {
                let _ = decoder.decode(&coded, bytes.len(), &mut out);
            }
            let _ = decoder.decode(&coded, bytes.len() + 1, &mut out);
            if !coded.is_empty() {
                let _ = decoder.decode(&coded[1..], bytes.len(), &mut out);
            }
        }
        // Frequencies that would make a code longer than the limit are flattened.
        let mut fib = [0u64; 256];
        let (mut a, mut b) = (1u64, 1u64);
        for f in fib.iter_mut().take(40) {
            *f = a;
            (a, b) = (b, a + b);
        }
        let code = huffman::Code::new(&fib);
        assert!(code
            .lengths_bytes()
            .iter()
            .all(|b| b & 15 <= huffman::MAX_BITS && b >> 4 <= huffman::MAX_BITS));
        assert!(huffman::Decoder::new(&code.lengths_bytes()).is_ok());
    }
}
