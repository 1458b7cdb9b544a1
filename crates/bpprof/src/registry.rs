//! The process-wide registry of subtasks, channels and declarations that the recorder reads.
//!
//! One mutex guards it. Pipeline threads take it only to register, deregister or create a
//! channel, and prepare what they add (the cell, its sample buffers, reads of /proc) before they
//! do; under the lock only the registry's own lists grow. The recorder takes it once per tick to
//! copy a list of handles. No I/O and no other lock is taken while it is held.
//!
//! The mutex is reached through a pointer that a forked child swaps for a fresh one (see
//! [`crate::fork`]): the parent's may be held for ever in the child by a thread that does not exist
//! there.

use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Once};

use bpprof_format::{EdgeDecl, RuntimeWarning, TaskDecl};

use crate::cell::SubtaskCell;
use crate::fork;
use crate::probe::ChannelProbe;

/// Subtasks that ended while a recorder was active and whose last interval it has not yet taken.
/// Beyond this many, the oldest are forgotten (and counted) so memory stays bounded.
pub(crate) const MAX_RETIRED: usize = 65_536;

#[derive(Default)]
pub(crate) struct Registry {
    next_channel_id: u32,
    /// Registered subtasks, in registration order (changed only through [`Registry::add_live`]
    /// and [`Registry::retire`], which count the change).
    live: Vec<Arc<SubtaskCell>>,
    /// Subtasks that deregistered since the recorder last looked (kept only while one is active).
    pub retired: Vec<Arc<SubtaskCell>>,
    /// Retired subtasks forgotten because `retired` was full.
    pub retired_dropped: u64,
    /// Subtasks that deregistered since the sampler last looked (kept only while sampling), so
    /// that one that lived between two of its visits still has its samples counted. At most
    /// [`MAX_RETIRED`]; beyond, the oldest are forgotten.
    unsampled_ends: Vec<Arc<SubtaskCell>>,
    /// Threads that poll async subtasks (see `crate::poller`), sampled but not recorded.
    pollers: Vec<Arc<SubtaskCell>>,
    /// Whether a recorder is active (otherwise retired subtasks are not kept).
    pub recording: bool,
    /// Instrumented channels still alive somewhere, and, while a recorder is active, those that
    /// died since the recorder last wrote a chunk (so that a channel living less than one interval
    /// is still declared, with its endpoints and its last counts). Only the registry and the
    /// recorder's threads hold these `Arc`s besides the channel's own handles. Changed only
    /// through methods, which count the change.
    channels: Vec<Arc<dyn ChannelProbe>>,
    /// Tasks declared explicitly, in declaration order (one entry per name; later ones replace).
    pub tasks: Vec<TaskDecl>,
    /// Edges declared explicitly, in declaration order.
    pub edges: Vec<EdgeDecl>,
    /// The parallelism each task was first registered (or declared) with.
    parallelism: Vec<(Arc<str>, u32)>,
    /// Problems found since the recorder last took them, at most [`MAX_PENDING_WARNINGS`].
    warnings: Vec<RuntimeWarning>,
    /// Problems not kept because `warnings` was full.
    warnings_dropped: u64,
}

/// Problems kept for the recorder at most; beyond, they are counted.
pub(crate) const MAX_PENDING_WARNINGS: usize = 64;

/// Why a registration is inconsistent (see [`crate::try_register`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// The task name is empty.
    #[error("bpprof::register(\"\", {index}, {parallelism}): the task name is empty; give the task a name")]
    EmptyTask {
        /// The index passed.
        index: u32,
        /// The parallelism passed.
        parallelism: u32,
    },
    /// The parallelism is 0.
    #[error("bpprof::register({task:?}, {index}, 0): the parallelism is 0; pass the number of subtasks of {task}")]
    ZeroParallelism {
        /// The task name.
        task: String,
        /// The index passed.
        index: u32,
    },
    /// The index is not below the parallelism.
    #[error("bpprof::register({task:?}, {index}, {parallelism}): index {index} is not below the parallelism {parallelism}; indices run from 0 to {}", parallelism.saturating_sub(1))]
    IndexOutOfRange {
        /// The task name.
        task: String,
        /// The index passed.
        index: u32,
        /// The parallelism passed.
        parallelism: u32,
    },
    /// The task was registered (or declared) before with another parallelism.
    #[error("bpprof::register({task:?}, {index}, {parallelism}): {task} was registered with parallelism {earlier} before; pass the same parallelism for every subtask of a task")]
    ParallelismChanged {
        /// The task name.
        task: String,
        /// The index passed.
        index: u32,
        /// The parallelism passed.
        parallelism: u32,
        /// The parallelism registered first.
        earlier: u32,
    },
}

/// The registry and its lock.
type Slot = Mutex<Option<Registry>>;

/// The registry of the process bpprof was first used in.
static INITIAL: Slot = Mutex::new(None);

/// The registry of this process: null for [`INITIAL`], otherwise a leaked (never freed) spare that
/// a forked child switched to.
static REGISTRY: AtomicPtr<Slot> = AtomicPtr::new(ptr::null_mut());

/// A fresh, never locked registry for the next forked child, allocated before `fork` (the child
/// cannot allocate safely). The parent keeps it for its next fork; each child takes its copy.
static SPARE: AtomicPtr<Slot> = AtomicPtr::new(ptr::null_mut());

/// The registry of this process.
fn slot() -> &'static Slot {
    let current = REGISTRY.load(Ordering::Acquire);
    if current.is_null() {
        &INITIAL
    } else {
        // SAFETY: a non-null REGISTRY comes from `Box::into_raw` in `prepare_fork` and is never
        // freed, so it is valid for the rest of the process.
        unsafe { &*current }
    }
}

/// The registry's fork handler before `fork`, in the forking thread (see [`crate::fork`]): makes
/// sure a spare registry is ready for the child.
extern "C" fn prepare_fork() {
    if !SPARE.load(Ordering::Acquire).is_null() {
        return;
    }
    let spare = Box::into_raw(Box::new(Mutex::new(None)));
    if SPARE
        .compare_exchange(ptr::null_mut(), spare, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        // Another thread forking at the same time provided one.
        // SAFETY: `spare` came from `Box::into_raw` above and was never shared.
        drop(unsafe { Box::from_raw(spare) });
    }
}

/// The registry's fork handler in a forked child, right after `fork`; async-signal-safe (atomic
/// loads and stores only).
///
/// The child's registry becomes the spare: empty, not recording, its mutex never locked. The
/// parent's is abandoned as it is, without locking it (another parent thread may have held its
/// lock at fork time, and it would stay locked for ever), reading it (a list may be half-changed)
/// or dropping it (its cells belong to threads that do not exist here, and freeing memory is not
/// async-signal-safe): the child's copy of it is leaked. So the parent's subtasks, retired
/// subtasks, channels, declarations and warnings are all forgotten in the child, including the
/// forking thread's own registration (its guard still works, deregistering it is a no-op; the
/// thread registers again to be recorded in the child).
extern "C" fn reset_in_child() {
    let spare = SPARE.swap(ptr::null_mut(), Ordering::AcqRel);
    // Never null in practice: `lock` allocates a spare before registering the handlers
    // and the prepare handler (which runs before every fork) replaces a consumed one. If it were
    // (the allocation failed), the child would keep the parent's registry.
    if !spare.is_null() {
        REGISTRY.store(spare, Ordering::Release);
    }
    RECORDING.store(false, Ordering::Relaxed);
}

/// Counts the changes of [`Registry::live`] and [`Registry::channels`], so that the sampler copies
/// them only when they changed. Incremented with the registry locked.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// The generation of the registry's subtask and channel lists (a relaxed read: read it again with
/// the registry locked to pair it with the lists).
pub(crate) fn generation() -> u64 {
    GENERATION.load(Ordering::Relaxed)
}

/// Mirrors [`Registry::recording`] for the pipeline threads' blocking path, which must not lock.
static RECORDING: AtomicBool = AtomicBool::new(false);

/// Whether a recorder is active (a relaxed read, for the blocking path and each async poll).
/// The sampler runs only while a recorder does.
#[inline]
pub(crate) fn is_recording() -> bool {
    RECORDING.load(Ordering::Relaxed)
}

impl Registry {
    /// Marks a recorder active or not.
    pub fn set_recording(&mut self, recording: bool) {
        self.recording = recording;
        RECORDING.store(recording, Ordering::Relaxed);
    }
}

/// Locks the registry. A panic elsewhere while it was held does not make it unusable.
pub(crate) fn lock() -> RegistryGuard {
    static FORK_HANDLERS: Once = Once::new();
    FORK_HANDLERS.call_once(|| {
        // Allocated now so that the first fork needs no allocation even in the prepare handler.
        prepare_fork();
        fork::on_fork(Some(prepare_fork), reset_in_child);
    });
    let mut guard = slot()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    guard.get_or_insert_with(Registry::default);
    RegistryGuard(guard)
}

/// A locked registry.
pub(crate) struct RegistryGuard(MutexGuard<'static, Option<Registry>>);

impl std::ops::Deref for RegistryGuard {
    type Target = Registry;
    fn deref(&self) -> &Registry {
        self.0.as_ref().expect("initialised by lock()")
    }
}

impl std::ops::DerefMut for RegistryGuard {
    fn deref_mut(&mut self) -> &mut Registry {
        self.0.as_mut().expect("initialised by lock()")
    }
}

impl Registry {
    pub fn allocate_channel_id(&mut self) -> u32 {
        let id = self.next_channel_id;
        self.next_channel_id = self.next_channel_id.wrapping_add(1);
        id
    }

    /// Checks a registration of `task#index` (of `parallelism`) against what was registered
    /// before; remembers the task's parallelism the first time. Two threads may hold one
    /// subtask at once (a pool running two jobs of one logical subtask).
    pub fn check_registration(
        &mut self,
        task: &str,
        index: u32,
        parallelism: u32,
    ) -> Result<(), RegisterError> {
        if task.is_empty() {
            return Err(RegisterError::EmptyTask { index, parallelism });
        }
        let owned = || task.to_string();
        if parallelism == 0 {
            return Err(RegisterError::ZeroParallelism {
                task: owned(),
                index,
            });
        }
        if index >= parallelism {
            return Err(RegisterError::IndexOutOfRange {
                task: owned(),
                index,
                parallelism,
            });
        }
        let declared = self
            .tasks
            .iter()
            .find(|t| t.name == task && t.parallelism > 0)
            .map(|t| t.parallelism);
        let registered = self
            .parallelism
            .iter()
            .find(|(t, _)| &**t == task)
            .map(|p| p.1);
        match registered.or(declared) {
            Some(earlier) if earlier != parallelism => {
                return Err(RegisterError::ParallelismChanged {
                    task: owned(),
                    index,
                    parallelism,
                    earlier,
                })
            }
            Some(_) => {}
            None => self.parallelism.push((Arc::from(task), parallelism)),
        }
        Ok(())
    }

    /// Keeps `warning` for the recorder (once per distinct message, within the bound).
    pub fn warn(&mut self, warning: RuntimeWarning) {
        if self.warnings.contains(&warning) {
            return;
        }
        if self.warnings.len() >= MAX_PENDING_WARNINGS {
            self.warnings_dropped += 1;
            return;
        }
        self.warnings.push(warning);
    }

    /// The problems found since the last call, and one more naming how many were not kept.
    pub fn take_warnings(&mut self) -> Vec<RuntimeWarning> {
        let mut taken = std::mem::take(&mut self.warnings);
        if self.warnings_dropped > 0 {
            taken.push(RuntimeWarning {
                code: "warnings_dropped".to_owned(),
                message: format!(
                    "{} more runtime warnings were not kept (at most {MAX_PENDING_WARNINGS} per interval)",
                    self.warnings_dropped
                ),
            });
            self.warnings_dropped = 0;
        }
        taken
    }

    /// The registered subtasks, in registration order.
    pub fn live(&self) -> &[Arc<SubtaskCell>] {
        &self.live
    }

    /// The instrumented channels (see the field).
    pub fn channels(&self) -> &[Arc<dyn ChannelProbe>] {
        &self.channels
    }

    /// Sampler: takes the subtasks that deregistered since the last call.
    pub fn take_unsampled_ends(&mut self) -> Vec<Arc<SubtaskCell>> {
        std::mem::take(&mut self.unsampled_ends)
    }

    /// Adds a registered subtask.
    pub fn add_live(&mut self, cell: Arc<SubtaskCell>) {
        self.live.push(cell);
        changed();
    }

    /// The threads that poll async subtasks.
    pub fn pollers(&self) -> &[Arc<SubtaskCell>] {
        &self.pollers
    }

    #[cfg(feature = "tokio")]
    /// Adds a thread that polls async subtasks.
    pub fn add_poller(&mut self, cell: Arc<SubtaskCell>) {
        self.pollers.push(cell);
        changed();
    }

    #[cfg(feature = "tokio")]
    /// Removes a poller whose thread exits; the sampler drains its buffer a last time.
    pub fn remove_poller(&mut self, id: u32) {
        let Some(pos) = self.pollers.iter().position(|c| c.id == id) else {
            return;
        };
        let cell = self.pollers.remove(pos);
        changed();
        self.note_unsampled_end(cell);
    }

    /// Adds an instrumented channel.
    pub fn add_channel(&mut self, probe: Arc<dyn ChannelProbe>) {
        self.channels.push(probe);
        changed();
    }

    /// Moves a deregistered subtask from `live` to `retired` (or forgets it when not recording).
    pub fn retire(&mut self, id: u32) {
        let Some(pos) = self.live.iter().position(|c| c.id == id) else {
            return;
        };
        let cell = self.live.remove(pos);
        changed();
        self.note_unsampled_end(Arc::clone(&cell));
        if !self.recording {
            return;
        }
        if self.retired.len() >= MAX_RETIRED {
            self.retired.remove(0);
            self.retired_dropped += 1;
        }
        self.retired.push(cell);
    }

    /// Keeps an ended subtask or poller for the sampler while sampling (see `unsampled_ends`).
    fn note_unsampled_end(&mut self, cell: Arc<SubtaskCell>) {
        if crate::sampling::is_active() {
            if self.unsampled_ends.len() >= MAX_RETIRED {
                self.unsampled_ends.remove(0);
            }
            self.unsampled_ends.push(cell);
        }
    }

    /// Drops the channels whose every handle is gone, unless a recorder has yet to report them
    /// (it removes them itself once written, see [`Registry::remove_channels`]).
    pub fn prune_channels(&mut self) {
        if !self.recording {
            let before = self.channels.len();
            self.channels.retain(|c| Arc::strong_count(c) > 1);
            if self.channels.len() != before {
                changed();
            }
        }
    }

    /// Forgets the channels `ids` (dead channels that a written chunk reported).
    pub fn remove_channels(&mut self, ids: &[u32]) {
        if !ids.is_empty() {
            self.channels.retain(|c| !ids.contains(&c.info().id));
            changed();
        }
    }
}

/// Counts a change of the subtask or channel list (with the registry locked).
fn changed() {
    GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// Declares a task explicitly: its parallelism, and whether its work is invisible to bpprof.
///
/// Tasks are also known implicitly from the subtasks that register; declaring one is needed only
/// to give a parallelism before all subtasks have started, or to mark a task whose work runs in
/// threads bpprof does not see (`unaccounted`: its busy time is reported as unknown).
pub fn declare_task(name: &str, parallelism: u32, unaccounted: bool) {
    let mut registry = lock();
    registry.tasks.retain(|t| t.name != name);
    registry.tasks.push(TaskDecl {
        name: name.to_string(),
        parallelism,
        unaccounted,
    });
}

/// Declares an edge of the job graph explicitly, with its partitioning (`"forward"`, `"hash"`,
/// `"rebalance"`, `"broadcast"`, or any name you use).
///
/// Edges between tasks that share an instrumented channel are inferred; declare the others (a
/// link through a socket or another library's queue) or give the partitioning of an inferred one.
pub fn declare_edge(from: &str, to: &str, partitioning: &str) {
    let mut registry = lock();
    let edge = EdgeDecl {
        from: from.to_string(),
        to: to.to_string(),
        channel: None,
        partitioning: partitioning.to_string(),
    };
    if !registry.edges.contains(&edge) {
        registry.edges.push(edge);
    }
}

/// Marks the end of a recording: retired subtasks are no longer kept.
pub(crate) fn finish_recording() {
    let mut registry = lock();
    registry.set_recording(false);
    registry.retired.clear();
    registry.unsampled_ends.clear();
    registry.prune_channels();
}
