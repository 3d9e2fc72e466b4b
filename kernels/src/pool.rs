//! A small persistent fork-join pool, shared by the JIT and native binaries, and [`launch`],
//! which splits a step into as many tasks as its work warrants.
//!
//! `parallel_for(threads, parts, f)` calls `f(0..parts)`
//! on the calling thread and up to `threads − 1` pooled workers, and returns when every part
//! has run. Each thread owns a contiguous share of the parts (the caller the first), so
//! consecutive steps split the same way give each core the same rows and its own L2 keeps
//! them; a thread that finishes its share takes the last parts of another's, so a late or
//! preempted thread delays nobody. The assignment can therefore vary between runs: callers
//! make parts independent.
//!
//! A launch costs no system call while the workers spin (they do for [`SPIN`] after each
//! launch): waking and finishing notify a condition variable only when some thread is
//! blocked on it, since a futex call costs microseconds in this VM (measured: an empty
//! 2-thread launch 2.3 µs with unconditional notifies, 0.5 µs without).
//!
//! The workers live for the rest of the process (started on first use, more added when a run
//! asks for more threads). One launch uses the pool at a time; a launch that finds it busy
//! (another thread is running a model concurrently) runs its parts on its own thread.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, TryLockError};

/// How long a waiting thread spins before it blocks: the steps of a model follow each other
/// within microseconds (and serial steps run in between on the caller alone), while a futex
/// wake-up costs tens of microseconds in a VM. Never `sched_yield`: on a busy machine a
/// yielding thread queues behind every other runnable process and arrives milliseconds late
/// for the next step; a blocked one is woken with priority.
const SPIN: std::time::Duration = std::time::Duration::from_millis(2);

/// Spins until `done()` or [`SPIN`] has passed; returns whether `done()` held.
fn spin_until(done: impl Fn() -> bool) -> bool {
    let started = std::time::Instant::now();
    loop {
        for _ in 0..64 {
            if done() {
                return true;
            }
            std::hint::spin_loop();
        }
        if started.elapsed() > SPIN {
            return done();
        }
    }
}

type PartFn = dyn Fn(usize) + Sync;

/// One thread's share of a job's parts: `next` (low half) up to `end` (high half). Its owner
/// takes parts from the front, threads that ran out of their own take from the back.
#[repr(align(64))]
struct Share(AtomicU64);

impl Share {
    fn new(start: usize, end: usize) -> Share {
        Share(AtomicU64::new(start as u64 | ((end as u64) << 32)))
    }

    fn take(&self, from_front: bool) -> Option<usize> {
        let mut current = self.0.load(Ordering::Relaxed);
        loop {
            let (next, end) = (current & 0xffff_ffff, current >> 32);
            if next >= end {
                return None;
            }
            let (taken, new) = if from_front {
                (next, (next + 1) | (end << 32))
            } else {
                (end - 1, next | ((end - 1) << 32))
            };
            match self
                .0
                .compare_exchange_weak(current, new, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Some(taken as usize),
                Err(seen) => current = seen,
            }
        }
    }
}

struct Job {
    /// Borrowed from the launching call, which outlives every call of it (see `launch`).
    f: *const PartFn,
    parts: usize,
    /// Workers with an index below this take part.
    helpers: usize,
    /// Participant `p` (0: the caller, `i + 1`: worker `i`) owns the `p`-th contiguous
    /// share of the parts.
    shares: Box<[Share]>,
    done: AtomicUsize,
    panicked: AtomicBool,
    finished: Mutex<Finish>,
    finished_cv: Condvar,
}

/// Whether all parts have run, and whether the caller stopped spinning and waits on the
/// condition variable (only then is it notified: a notification is a system call).
#[derive(Default)]
struct Finish {
    done: bool,
    caller_blocked: bool,
}

// SAFETY: `f` is `Sync`; the pointer is only dereferenced while the launch waits.
unsafe impl Send for Job {}
unsafe impl Sync for Job {}

impl Job {
    fn new(f: *const PartFn, parts: usize, helpers: usize) -> Job {
        let participants = helpers + 1;
        let bound = |p: usize| parts * p / participants;
        Job {
            f,
            parts,
            helpers,
            shares: (0..participants)
                .map(|p| Share::new(bound(p), bound(p + 1)))
                .collect(),
            done: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
            finished: Mutex::new(Finish::default()),
            finished_cv: Condvar::new(),
        }
    }

    /// The next part for participant `me`: its own share first, in order, then the last
    /// part of another's.
    fn next_part(&self, me: usize) -> Option<usize> {
        self.shares[me].take(true).or_else(|| {
            let n = self.shares.len();
            (1..n).find_map(|k| self.shares[(me + k) % n].take(false))
        })
    }

    /// Runs parts as participant `me` until none is left.
    fn work(&self, me: usize) {
        while let Some(part) = self.next_part(me) {
            // SAFETY: `part < parts`, so the launch has not returned (it waits for `done`
            // to reach `parts`, which needs this part).
            let f = unsafe { &*self.f };
            if catch_unwind(AssertUnwindSafe(|| f(part))).is_err() {
                self.panicked.store(true, Ordering::Relaxed);
            }
            if self.done.fetch_add(1, Ordering::AcqRel) + 1 == self.parts {
                let mut finish = self.finished.lock().unwrap_or_else(|e| e.into_inner());
                finish.done = true;
                if finish.caller_blocked {
                    self.finished_cv.notify_all();
                }
            }
        }
    }

    fn wait(&self) {
        if spin_until(|| self.done.load(Ordering::Acquire) == self.parts) {
            return;
        }
        let mut finished = self.finished.lock().unwrap_or_else(|e| e.into_inner());
        while !finished.done {
            finished.caller_blocked = true;
            finished = self
                .finished_cv
                .wait(finished)
                .unwrap_or_else(|e| e.into_inner());
        }
    }
}

#[derive(Default)]
struct State {
    generation: u64,
    job: Option<Arc<Job>>,
    /// Workers blocked on `Pool::wake` (only then does a launch notify it).
    sleepers: usize,
}

#[derive(Default)]
struct Pool {
    state: Mutex<State>,
    wake: Condvar,
    /// Mirrors `State::generation` for spinning workers.
    generation: AtomicU64,
    /// Held for the duration of a launch; also guards the worker count.
    launch: Mutex<usize>,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(Pool::default)
}

fn worker(pool: &'static Pool, index: usize) {
    let mut seen = 0u64;
    loop {
        spin_until(|| pool.generation.load(Ordering::Acquire) != seen);
        let job = {
            let mut state = pool.state.lock().unwrap_or_else(|e| e.into_inner());
            while state.generation == seen {
                state.sleepers += 1;
                state = pool.wake.wait(state).unwrap_or_else(|e| e.into_inner());
                state.sleepers -= 1;
            }
            seen = state.generation;
            state.job.clone()
        };
        if let Some(job) = job
            && index < job.helpers
        {
            job.work(index + 1);
        }
    }
}

/// Calls `f(part)` for every part in `0..parts`, on at most `threads` threads (the caller's
/// included), and returns when all have run. A panic in `f` is re-raised here.
pub fn parallel_for(threads: usize, parts: usize, f: &(dyn Fn(usize) + Sync)) {
    if threads <= 1 || parts <= 1 || parts > u32::MAX as usize {
        (0..parts).for_each(f);
        return;
    }
    let pool = pool();
    let mut workers = match pool.launch.try_lock() {
        Ok(guard) => guard,
        Err(TryLockError::Poisoned(e)) => e.into_inner(),
        // Another model run holds the pool: run here, serially.
        Err(TryLockError::WouldBlock) => {
            (0..parts).for_each(f);
            return;
        }
    };
    let helpers = threads - 1;
    while *workers < helpers {
        let index = *workers;
        let spawned = std::thread::Builder::new()
            .name(format!("scc-worker-{index}"))
            .spawn(move || worker(pool, index));
        if spawned.is_err() {
            break;
        }
        *workers += 1;
    }
    // SAFETY: erases the borrow's lifetime; `f` is only called for parts below `parts`, and
    // this function returns only after all of them have completed (`job.wait()`), so no call
    // outlives the borrow. A worker that picks up the job late finds no part left.
    let f_static: *const PartFn =
        unsafe { std::mem::transmute::<&(dyn Fn(usize) + Sync), &'static PartFn>(f) };
    let job = Arc::new(Job::new(f_static, parts, helpers.min(*workers)));
    // Spinning workers see the new generation only once the state is unlocked, so they lock
    // it uncontended (a contended lock may sleep in the kernel, microseconds here).
    let (generation, sleepers) = {
        let mut state = pool.state.lock().unwrap_or_else(|e| e.into_inner());
        state.generation += 1;
        state.job = Some(job.clone());
        (state.generation, state.sleepers)
    };
    pool.generation.store(generation, Ordering::Release);
    if sleepers > 0 {
        pool.wake.notify_all();
    }
    job.work(0);
    job.wait();
    drop(workers);
    if job.panicked.load(Ordering::Relaxed) {
        resume_unwind(Box::new("a parallel part panicked"));
    }
}

/// A step kernel: runs work items `start..end` over the buffers `args`.
pub type KernelFn = unsafe extern "C" fn(args: *const *mut f32, start: u64, end: u64);

/// Estimated single-core work (nanoseconds) per task: a step with less runs as one task on
/// the calling thread, so small steps pay no hand-off to other threads. A 2-thread launch
/// costs ~0.5 µs (`cargo bench --bench pool`), so a step of two grains gains ~2 µs by the
/// split; the CIFAR ResNets, made of such steps, run 20-30 % faster on 2 threads with this
/// grain than with 20 µs.
pub const GRAIN_NS: u64 = 5_000;
/// Most tasks per thread (dynamic hand-out balances uneven ones).
pub const TASKS_PER_THREAD: u64 = 4;

/// How many tasks a step of `items` work items and `work_ns` estimated work is split into on
/// `threads` threads: one per grain of work, at most one per item and [`TASKS_PER_THREAD`]
/// per thread, at least one; more tasks than threads are rounded down to a multiple of the
/// threads, so that every thread's share of equal tasks is equal.
pub fn tasks(work_ns: u64, items: u64, threads: usize) -> u64 {
    if threads <= 1 {
        return 1;
    }
    let threads = threads as u64;
    let parts = (work_ns / GRAIN_NS)
        .max(1)
        .min(items)
        .min(threads * TASKS_PER_THREAD)
        .max(1);
    if parts > threads {
        parts - parts % threads
    } else {
        parts
    }
}

/// Pointers handed to kernels on other threads.
#[derive(Clone, Copy)]
struct Args(*const *mut f32);
// SAFETY: the pointed-to buffers outlive the launch, and tasks write disjoint elements.
unsafe impl Send for Args {}
unsafe impl Sync for Args {}

impl Args {
    /// (A method, so that closures capture the `Sync` wrapper, not the raw field.)
    fn get(self) -> *const *mut f32 {
        self.0
    }
}

/// Runs `kernel` over `0..items`, split into [`tasks`] contiguous ranges on `threads` threads.
///
/// # Safety
/// `args` must be what `kernel` expects, valid for the whole launch; work items must write
/// disjoint elements (so any split gives the same results).
pub unsafe fn launch(
    kernel: KernelFn,
    args: *const *mut f32,
    items: u64,
    work_ns: u64,
    threads: usize,
) {
    let parts = tasks(work_ns, items, threads);
    if threads <= 1 || parts <= 1 {
        // SAFETY: by the caller.
        unsafe { kernel(args, 0, items) };
        return;
    }
    let args = Args(args);
    let bound = |part: u64| (u128::from(items) * u128::from(part) / u128::from(parts)) as u64;
    parallel_for(threads, parts as usize, &|part| {
        let (start, end) = (bound(part as u64), bound(part as u64 + 1));
        // SAFETY: by the caller; the ranges are disjoint.
        unsafe { kernel(args.get(), start, end) };
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_runs_once() {
        for threads in [1, 2, 3, 8] {
            for parts in [0, 1, 2, 7, 100] {
                let hits: Vec<AtomicUsize> = (0..parts).map(|_| AtomicUsize::new(0)).collect();
                parallel_for(threads, parts, &|p| {
                    hits[p].fetch_add(1, Ordering::Relaxed);
                });
                assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1));
            }
        }
    }

    #[test]
    fn tasks_follow_the_work_and_divide_among_threads() {
        assert_eq!(tasks(GRAIN_NS - 1, 100, 2), 1);
        assert_eq!(tasks(2 * GRAIN_NS, 100, 2), 2);
        // 3 grains on 2 threads: 2 equal tasks, not 3 (one thread would run two).
        assert_eq!(tasks(3 * GRAIN_NS, 100, 2), 2);
        assert_eq!(tasks(5 * GRAIN_NS, 100, 2), 4);
        assert_eq!(tasks(1000 * GRAIN_NS, 100, 2), 2 * TASKS_PER_THREAD);
        assert_eq!(tasks(1000 * GRAIN_NS, 3, 2), 2);
        assert_eq!(tasks(1000 * GRAIN_NS, 1, 2), 1);
        assert_eq!(tasks(1000 * GRAIN_NS, 0, 2), 1);
        assert_eq!(tasks(3 * GRAIN_NS, 100, 3), 3);
        assert_eq!(tasks(1000 * GRAIN_NS, 100, 1), 1);
    }

    #[test]
    fn shares_yield_each_part_once_from_both_ends() {
        let share = Share::new(3, 10);
        let mut taken = Vec::new();
        for k in 0.. {
            match share.take(k % 3 != 0) {
                Some(part) => taken.push(part),
                None => break,
            }
        }
        assert_eq!(taken, [9, 3, 4, 8, 5, 6, 7]);
        assert_eq!(share.take(true), None);
        assert_eq!(share.take(false), None);
    }

    #[test]
    fn each_thread_starts_with_its_own_contiguous_share() {
        let job = Job::new(std::ptr::null::<fn(usize)>() as *const PartFn, 10, 2);
        assert_eq!(job.next_part(0), Some(0));
        assert_eq!(job.next_part(1), Some(3));
        assert_eq!(job.next_part(2), Some(6));
        // Participant 2 owns 6..10, then takes from the back of participant 0's share (0..3).
        for expected in [7, 8, 9, 2, 1] {
            assert_eq!(job.next_part(2), Some(expected));
        }
        // ... and then participant 1's (3..6), from the back.
        assert_eq!(job.next_part(2), Some(5));
        assert_eq!(job.next_part(1), Some(4));
        assert_eq!(job.next_part(0), None);
    }

    #[test]
    fn concurrent_launches() {
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..200 {
                        let sum = AtomicUsize::new(0);
                        parallel_for(3, 16, &|p| {
                            sum.fetch_add(p, Ordering::Relaxed);
                        });
                        assert_eq!(sum.load(Ordering::Relaxed), 120);
                    }
                });
            }
        });
    }
}
