//! Turns raw addresses into interned, demangled frames and stacks, off the sampling path (on the
//! writer thread), with a cache so each address is resolved once per recording.

use std::collections::HashMap;

use bpprof_format::{FrameDecl, SampleCount, SampleState, SamplesChunk, StackDecl};

use super::collect::RawSamples;
use crate::account::State;

/// Frames and stacks interned so far, and which of them the file already declares.
#[derive(Debug, Default)]
pub(crate) struct Symbolizer {
    /// Lookup address -> frame ids, outermost first (inlined functions expand to several).
    addresses: HashMap<usize, Vec<u32>>,
    frames: HashMap<(String, String, u32), u32>,
    stacks: HashMap<Vec<u32>, u32>,
    new_frames: Vec<FrameDecl>,
    new_stacks: Vec<StackDecl>,
}

impl Symbolizer {
    /// Builds the samples chunk of one interval.
    pub fn chunk(&mut self, seq: u64, start_ns: u64, end_ns: u64, raw: RawSamples) -> SamplesChunk {
        let mut counts = Vec::with_capacity(raw.counts.len());
        for (key, count) in raw.counts {
            let mut frames = Vec::with_capacity(key.addrs.len() * 2);
            for &addr in key.addrs.iter().rev() {
                frames.extend_from_slice(self.resolve(addr));
            }
            let stack = self.intern_stack(frames);
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
            lost: raw.lost,
        }
    }

    fn resolve(&mut self, addr: usize) -> &[u32] {
        if !self.addresses.contains_key(&addr) {
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
            let ids = symbols
                .into_iter()
                .rev()
                .map(|key| self.intern_frame(key))
                .collect();
            self.addresses.insert(addr, ids);
        }
        &self.addresses[&addr]
    }

    fn intern_frame(&mut self, key: (String, String, u32)) -> u32 {
        if let Some(&id) = self.frames.get(&key) {
            return id;
        }
        let id = self.frames.len() as u32;
        self.new_frames.push(FrameDecl {
            id,
            function: key.0.clone(),
            file: key.1.clone(),
            line: key.2,
        });
        self.frames.insert(key, id);
        id
    }

    fn intern_stack(&mut self, frames: Vec<u32>) -> u32 {
        if let Some(&id) = self.stacks.get(&frames) {
            return id;
        }
        let id = self.stacks.len() as u32;
        self.new_stacks.push(StackDecl {
            id,
            frames: frames.clone(),
        });
        self.stacks.insert(frames, id);
        id
    }
}
