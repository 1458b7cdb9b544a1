//! Turns raw addresses into interned, demangled frames and stacks, off the sampling path (on the
//! writer thread), with a cache so each address is resolved once per recording.
//!
//! Frame and stack ids are the recording's: a recording rotated into a series of files keeps
//! them from file to file, and each file declares again the frames and stacks its samples use
//! (so that it reads alone), the first time it uses them.

use std::collections::HashMap;
use std::sync::Arc;

use bpprof_format::{FrameDecl, SampleCount, SampleState, SamplesChunk, StackDecl};

use super::RawSamples;
use crate::account::State;

/// Addresses resolved and cached at most per recording; samples with an address beyond are lost.
pub(crate) const MAX_ADDRESSES: usize = 100_000;
/// Distinct frames interned at most per recording.
pub(crate) const MAX_FRAMES: usize = 100_000;
/// Distinct stacks interned at most per recording; samples of further stacks are lost.
pub(crate) const MAX_STACKS: usize = 200_000;

/// Frames and stacks interned so far, and which of them the file already declares. Every table is
/// bounded (the constants above): samples that would need a new entry in a full table are
/// counted as lost, and the recording says once that the tables filled up.
#[derive(Debug, Default)]
pub(crate) struct Symbolizer {
    /// Lookup address -> frame ids, outermost first (inlined functions expand to several).
    addresses: HashMap<usize, Vec<u32>>,
    frames: HashMap<(String, String, u32), u32>,
    stacks: HashMap<Arc<[u32]>, u32>,
    /// Every frame interned, by id.
    frame_decls: Vec<FrameDecl>,
    /// Every stack interned (its frames), by id.
    stack_frames: Vec<Arc<[u32]>>,
    /// The file of the series the chunks go to (0 without rotation), and which frames and
    /// stacks (by id) it declares already.
    file: u64,
    frames_in_file: Vec<bool>,
    stacks_in_file: Vec<bool>,
    new_frames: Vec<FrameDecl>,
    new_stacks: Vec<StackDecl>,
    /// Whether the recording was told that a table is full.
    warned_full: bool,
    /// The bounds of the tables (the constants above, smaller in tests).
    limits: Limits,
}

/// The bounds of a [`Symbolizer`]'s tables.
#[derive(Debug, Clone, Copy)]
struct Limits {
    addresses: usize,
    frames: usize,
    stacks: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            addresses: MAX_ADDRESSES,
            frames: MAX_FRAMES,
            stacks: MAX_STACKS,
        }
    }
}

impl Symbolizer {
    /// Builds the samples chunk of one interval, for file `file` of the series (0 without
    /// rotation; files come in increasing order): it declares the frames and stacks it uses that
    /// the file does not declare yet.
    pub fn chunk(
        &mut self,
        seq: u64,
        start_ns: u64,
        end_ns: u64,
        raw: RawSamples,
        file: u64,
    ) -> SamplesChunk {
        if file != self.file {
            self.file = file;
            self.frames_in_file.iter_mut().for_each(|f| *f = false);
            self.stacks_in_file.iter_mut().for_each(|s| *s = false);
        }
        let mut counts = Vec::with_capacity(raw.counts.len());
        let mut lost = raw.lost;
        for (key, count) in raw.counts {
            let mut frames = Vec::with_capacity(key.addrs.len() * 2);
            let mut complete = true;
            for &addr in key.addrs.iter().rev() {
                match self.resolve(addr) {
                    Some(ids) => frames.extend_from_slice(ids),
                    None => complete = false,
                }
            }
            let stack = if complete {
                self.intern_stack(frames)
            } else {
                None
            };
            let Some(stack) = stack else {
                lost += u64::from(count);
                self.note_full();
                continue;
            };
            self.declare_in_file(stack);
            counts.push(SampleCount {
                subtask: key.subtask,
                state: match key.state {
                    State::Busy => SampleState::Busy,
                    State::Idle => SampleState::Idle,
                    State::Backpressured => SampleState::Backpressured,
                },
                on_cpu: key.on_cpu,
                stack,
                count,
                operator: key.operator,
            });
        }
        counts.sort_by_key(|c| (c.subtask, c.stack, c.state as u8, c.on_cpu, c.operator));
        SamplesChunk {
            seq,
            start_ns,
            end_ns,
            frames: std::mem::take(&mut self.new_frames),
            stacks: std::mem::take(&mut self.new_stacks),
            counts,
            lost,
            between_polls: raw.between_polls,
        }
    }

    /// Declares `stack` in the chunk being built, with its frames, unless the file does already.
    fn declare_in_file(&mut self, stack: u32) {
        let id = stack as usize;
        if self.stacks_in_file[id] {
            return;
        }
        self.stacks_in_file[id] = true;
        let frames = Arc::clone(&self.stack_frames[id]);
        for &frame in frames.iter() {
            let f = frame as usize;
            if !self.frames_in_file[f] {
                self.frames_in_file[f] = true;
                self.new_frames.push(self.frame_decls[f].clone());
            }
        }
        self.new_stacks.push(StackDecl {
            id: stack,
            frames: frames.to_vec(),
        });
    }

    /// Leaves one warning in the recording the first time a table is full.
    fn note_full(&mut self) {
        if !self.warned_full {
            self.warned_full = true;
            crate::registry::lock().warn(bpprof_format::RuntimeWarning {
                code: "symbol_tables_full".to_owned(),
                message: format!(
                    "the recording's symbol tables are full ({MAX_ADDRESSES} addresses, {MAX_FRAMES} frames, {MAX_STACKS} stacks): samples of new stacks are counted as lost from here on; record shorter runs or fewer distinct stacks"
                ),
            });
        }
    }

    /// The frame ids of `addr`, outermost first; `None` when it is not cached and a table is full.
    fn resolve(&mut self, addr: usize) -> Option<&[u32]> {
        if !self.addresses.contains_key(&addr) {
            if self.addresses.len() >= self.limits.addresses {
                return None;
            }
            let mut symbols = Vec::new();
            backtrace::resolve(addr as *mut std::ffi::c_void, |symbol| {
                let function = symbol
                    .name()
                    .map(|name| format!("{name:#}"))
                    .unwrap_or_else(|| format!("{addr:#x}"));
                let file = symbol
                    .filename()
                    .map(|f| f.display().to_string())
                    .unwrap_or_default();
                symbols.push((function, file, symbol.lineno().unwrap_or(0)));
            });
            if symbols.is_empty() {
                symbols.push((format!("{addr:#x}"), String::new(), 0));
            }
            // `resolve` reports the innermost inlined function first.
            let ids: Option<Vec<u32>> = symbols
                .into_iter()
                .rev()
                .map(|key| self.intern_frame(key))
                .collect();
            self.addresses.insert(addr, ids?);
        }
        self.addresses.get(&addr).map(Vec::as_slice)
    }

    /// The id of a frame, interned on first use; `None` when new and the table is full.
    fn intern_frame(&mut self, key: (String, String, u32)) -> Option<u32> {
        if let Some(&id) = self.frames.get(&key) {
            return Some(id);
        }
        if self.frames.len() >= self.limits.frames {
            return None;
        }
        let id = self.frames.len() as u32;
        self.frame_decls.push(FrameDecl {
            id,
            function: key.0.clone(),
            file: key.1.clone(),
            line: key.2,
        });
        self.frames_in_file.push(false);
        self.frames.insert(key, id);
        Some(id)
    }

    /// The id of a stack, interned on first use; `None` when new and the table is full.
    fn intern_stack(&mut self, frames: Vec<u32>) -> Option<u32> {
        if let Some(&id) = self.stacks.get(&frames[..]) {
            return Some(id);
        }
        if self.stacks.len() >= self.limits.stacks {
            return None;
        }
        let id = self.stacks.len() as u32;
        let frames: Arc<[u32]> = frames.into();
        self.stack_frames.push(Arc::clone(&frames));
        self.stacks_in_file.push(false);
        self.stacks.insert(frames, id);
        Some(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampler::SampleKey;

    #[inline(never)]
    fn first() -> usize {
        first as *const () as usize
    }

    #[inline(never)]
    fn second() -> usize {
        second as *const () as usize
    }

    #[test]
    fn stacks_beyond_the_table_are_lost_and_counted_not_kept() {
        let mut symbolizer = Symbolizer {
            limits: Limits {
                addresses: 100,
                frames: 1_000,
                stacks: 3,
            },
            ..Symbolizer::default()
        };
        let addrs = [first(), second()];
        let mut raw = RawSamples::default();
        // Six distinct stacks of two frames, two samples each.
        for depth in 1..=3usize {
            for &leaf in &addrs {
                let key = SampleKey {
                    subtask: 0,
                    state: State::Busy,
                    on_cpu: true,
                    addrs: std::iter::repeat_n(leaf, depth).collect(),
                    operator: None,
                };
                raw.counts.insert(key, 2);
            }
        }
        let chunk = symbolizer.chunk(0, 0, 1, raw, 0);
        assert_eq!(chunk.stacks.len(), 3, "at most 3 stacks interned");
        let kept: u32 = chunk.counts.iter().map(|c| c.count).sum();
        assert_eq!(
            (kept, chunk.lost),
            (6, 6),
            "the other three stacks' samples are lost"
        );
        assert!(symbolizer.stacks.len() <= 3);
    }

    #[test]
    fn a_new_file_declares_again_the_stacks_it_uses_with_the_same_ids() {
        let mut symbolizer = Symbolizer::default();
        let raw = |leaf: usize| {
            let mut raw = RawSamples::default();
            let key = SampleKey {
                subtask: 0,
                state: State::Busy,
                on_cpu: true,
                addrs: vec![leaf, first()].into(),
                operator: None,
            };
            raw.counts.insert(key, 1);
            raw
        };
        let a = symbolizer.chunk(0, 0, 1, raw(second()), 0);
        assert_eq!(a.stacks.len(), 1);
        assert!(!a.frames.is_empty());
        let again = symbolizer.chunk(1, 1, 2, raw(second()), 0);
        assert!(
            again.stacks.is_empty() && again.frames.is_empty(),
            "declared once per file"
        );
        let next_file = symbolizer.chunk(2, 2, 3, raw(second()), 1);
        assert_eq!(next_file.stacks, a.stacks, "the same stack, the same id");
        assert_eq!(next_file.frames, a.frames, "and its frames with their ids");
        assert_eq!(next_file.counts[0].stack, a.counts[0].stack);
        // A stack new in the recording is declared once too, in the file that first uses it.
        let other = symbolizer.chunk(3, 3, 4, raw(first()), 1);
        assert_eq!(other.stacks.len(), 1);
        assert_ne!(other.stacks[0].id, a.stacks[0].id);
    }
}
