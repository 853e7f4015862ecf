//! Memory accounting: a global allocator wrapper that counts live heap
//! bytes, for INFO's used_memory. Like Redis, it counts what the allocator
//! really sets aside (the request rounded up to jemalloc's size class), not
//! what was asked for: an 81-byte node costs 96. Each thread adds to its own cache-padded
//! slot with a plain load and store (no locked instruction, no shared
//! cache line on the hot path); readers sum the slots. Memory freed by a
//! thread other than the one that allocated it makes one slot go down and
//! another up, so only the sum is meaningful.

use std::alloc::{GlobalAlloc, Layout};

use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering::Relaxed};
use tikv_jemallocator::Jemalloc as System;

/// Slots for counting threads; threads beyond this share the last slot
/// with atomic adds.
const SLOTS: usize = 64;

#[repr(align(64))]
struct Slot(AtomicIsize);

static COUNTS: [Slot; SLOTS] = [const { Slot(AtomicIsize::new(0)) }; SLOTS];
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static MY_SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
}

fn add(delta: isize) {
    let slot = MY_SLOT
        .try_with(|s| {
            if s.get() == usize::MAX {
                s.set(NEXT_SLOT.fetch_add(1, Relaxed).min(SLOTS - 1));
            }
            s.get()
        })
        .unwrap_or(SLOTS - 1);
    let counter = &COUNTS[slot].0;
    if slot == SLOTS - 1 {
        counter.fetch_add(delta, Relaxed);
    } else {
        counter.store(counter.load(Relaxed) + delta, Relaxed);
    }
}

/// jemalloc's spacing for small sizes; larger requests need no more.
const QUANTUM: usize = 16;

/// The bytes jemalloc reserves for `layout`: its size class. Classes are
/// 8, then multiples of 16 up to 128, then four to each doubling (160,
/// 192, 224, 256, 320, ...) all the way up. Worked out here rather than by
/// asking jemalloc, because it runs on every allocation and free.
#[inline]
fn charged(layout: Layout) -> usize {
    if layout.align() > QUANTUM {
        // SAFETY: nallocx only computes; it touches no memory.
        return unsafe { tikv_jemalloc_sys::nallocx(layout.size(), tikv_jemalloc_sys::MALLOCX_ALIGN(layout.align())) };
    }
    // A 16-aligned request is never put in the 8-byte class.
    let size = layout.size().max(layout.align());
    if size <= 8 {
        8
    } else if size <= 128 {
        size.next_multiple_of(QUANTUM)
    } else {
        let step = 1usize << ((usize::BITS - 1 - (size - 1).leading_zeros()) - 2);
        size.next_multiple_of(step)
    }
}

/// The counting allocator; the binary installs it with `#[global_allocator]`.
pub struct Counting;

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            add(charged(layout) as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) };
        add(-(charged(layout) as isize));
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            add(charged(layout) as isize);
        }
        p
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller upholds realloc's contract; forwarded unchanged.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            // SAFETY: realloc's contract makes the new layout valid.
            let new = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
            add(charged(new) as isize - charged(layout) as isize);
        }
        p
    }
}

/// Live heap bytes counted so far (0 when the counting allocator is not
/// installed, as in tests).
pub fn used() -> usize {
    // Only the slots handed out so far (and the shared last one): every
    // write checks this against maxmemory. No locked instruction unless
    // the peak moves.
    let handed_out = NEXT_SLOT.load(Relaxed).min(SLOTS - 1);
    let total: isize = COUNTS[..handed_out].iter().chain([&COUNTS[SLOTS - 1]]).map(|s| s.0.load(Relaxed)).sum();
    let used = total.max(0) as usize;
    if used > PEAK.load(Relaxed) {
        PEAK.fetch_max(used, Relaxed);
    }
    used
}

/// The highest `used()` seen.
pub fn peak() -> usize {
    PEAK.load(Relaxed).max(used())
}

/// Resident set size from /proc, in bytes.
pub fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

/// Bytes in Redis's human form: `1.00M`, `512B`.
pub fn human(bytes: usize) -> String {
    let b = bytes as f64;
    let units = [(1u64 << 50, "P"), (1 << 40, "T"), (1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")];
    for (size, unit) in units {
        if b >= size as f64 {
            return format!("{:.2}{unit}", b / size as f64);
        }
    }
    format!("{bytes}B")
}

/// What the allocator reports about itself, in bytes: what it handed out,
/// the pages those live in, and the pages it holds resident.
pub struct AllocatorStats {
    pub allocated: usize,
    pub active: usize,
    pub resident: usize,
}

/// Reads jemalloc's statistics (refreshed first: they are cached).
pub fn allocator_stats() -> AllocatorStats {
    let read = |name: &std::ffi::CStr| -> usize {
        let mut value: usize = 0;
        let mut len = size_of::<usize>();
        // SAFETY: NUL-terminated names of size_t statistics, read into a
        // size_t with its size given.
        unsafe {
            tikv_jemalloc_sys::mallctl(
                name.as_ptr(),
                (&mut value as *mut usize).cast(),
                &mut len,
                std::ptr::null_mut(),
                0,
            );
        }
        value
    };
    let mut epoch: u64 = 1;
    // SAFETY: "epoch" takes a u64 written with its size; it refreshes the
    // cached statistics.
    unsafe {
        tikv_jemalloc_sys::mallctl(
            c"epoch".as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            (&mut epoch as *mut u64).cast(),
            size_of::<u64>(),
        );
    }
    AllocatorStats {
        allocated: read(c"stats.allocated"),
        active: read(c"stats.active"),
        resident: read(c"stats.resident"),
    }
}

/// The allocator's name as Redis reports it (`jemalloc-5.3.0`).
pub fn allocator_name() -> String {
    let mut version: *const std::ffi::c_char = std::ptr::null();
    let mut len = size_of::<*const std::ffi::c_char>();
    // SAFETY: "version" is a string statistic: a pointer to a static
    // NUL-terminated string, read into a pointer with its size given.
    let found = unsafe {
        tikv_jemalloc_sys::mallctl(
            c"version".as_ptr(),
            (&mut version as *mut *const std::ffi::c_char).cast(),
            &mut len,
            std::ptr::null_mut(),
            0,
        ) == 0
    };
    if !found || version.is_null() {
        return "jemalloc".into();
    }
    // SAFETY: jemalloc's version string is static and NUL-terminated.
    let text = unsafe { std::ffi::CStr::from_ptr(version) }.to_string_lossy();
    // "5.3.0-0-g54eaed1d8b56b1aa528be3bdd1877e59c56fa90c": the release.
    format!("jemalloc-{}", text.split('-').next().unwrap_or(&text))
}

/// `used()` when the server finished starting (INFO's
/// used_memory_startup).
static STARTUP: AtomicUsize = AtomicUsize::new(0);

pub fn mark_startup() {
    STARTUP.store(used(), Relaxed);
}

pub fn startup() -> usize {
    STARTUP.load(Relaxed)
}

/// Sets the allocator up as the server wants it:
///
/// - Freed pages go back to the kernel from a thread of the allocator's
///   own, as Redis configures jemalloc (jemalloc-bg-thread yes), rather
///   than inline in whichever allocation crosses its decay deadline.
/// - They go back after a second unused rather than ten. A cache that
///   evicts frees memory as fast as it writes; with the default, pages
///   freed in the last ten seconds stayed resident on top of the limit
///   (measured under allkeys-lru at 100mb: RSS 6-10% over the pages in
///   use, against 1-6% with a second), for no gain in speed.
pub fn tune_allocator() {
    set_control(b"background_thread\0", true);
    // The default for arenas made from now on, then each existing one.
    set_control::<isize>(b"arenas.dirty_decay_ms\0", DIRTY_DECAY_MS);
    for arena in 0..read_control::<u32>(b"arenas.narenas\0").unwrap_or(0) {
        set_control::<isize>(format!("arena.{arena}.dirty_decay_ms\0").as_bytes(), DIRTY_DECAY_MS);
    }
}

const DIRTY_DECAY_MS: isize = 1000;

/// Reads one of jemalloc's controls, of type `T`. `name` ends with a NUL.
fn read_control<T: Default>(name: &[u8]) -> Option<T> {
    debug_assert_eq!(name.last(), Some(&0));
    let mut value = T::default();
    let mut len = size_of::<T>();
    // SAFETY: a NUL-terminated control name, read into a `T` of the
    // control's type with its size given.
    let rc = unsafe {
        tikv_jemalloc_sys::mallctl(
            name.as_ptr().cast(),
            (&mut value as *mut T).cast(),
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    };
    (rc == 0).then_some(value)
}

/// Writes one of jemalloc's controls. `name` ends with a NUL; `T` is the
/// control's type.
fn set_control<T>(name: &[u8], mut value: T) {
    debug_assert_eq!(name.last(), Some(&0));
    // SAFETY: a NUL-terminated control name, and a value of the type the
    // control takes, passed by pointer with its size; nothing is read
    // back. An unknown name makes mallctl return an error, nothing else.
    unsafe {
        tikv_jemalloc_sys::mallctl(
            name.as_ptr().cast(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            (&mut value as *mut T).cast(),
            size_of::<T>(),
        );
    }
}

/// Makes the calling thread allocate from the allocator's first arena,
/// the one every event-loop thread shares. With an arena per thread, a
/// thread that receives fewer writes than another refills fewer of the
/// holes that deletions (eviction above all) leave in its arena's pages:
/// measured under allkeys-lru with two loop threads, 1.17-1.21 bytes of
/// pages per byte allocated, against 1.00 with one thread and 1.06 with
/// one shared arena. Each thread still allocates from its own cache;
/// the arena's lock is taken only to refill or flush one.
pub fn use_shared_arena() {
    set_control::<u32>(b"thread.arena\0", 0);
}

/// Hands the allocator's free dirty pages back to the kernel (MEMORY
/// PURGE). Freed memory otherwise stays resident until the allocator's
/// decay timer returns it, which an idle server never reaches.
pub fn purge() {
    // "arena.<MALLCTL_ARENAS_ALL>.purge": every arena at once.
    const PURGE_ALL: &[u8] = b"arena.4096.purge\0";
    // SAFETY: a NUL-terminated control name that takes no arguments and
    // returns nothing: every pointer may be null.
    unsafe {
        tikv_jemalloc_sys::mallctl(
            PURGE_ALL.as_ptr().cast(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        );
    }
}

#[cfg(test)]
mod tests {
    use std::alloc::Layout;

    /// The size classes worked out by hand are jemalloc's own.
    #[test]
    fn charged_sizes_are_jemallocs_classes() {
        let sizes = (1..70_000).chain((1..2000).map(|i| i * 4099)).chain([1 << 30, (1 << 30) + 1]);
        for size in sizes {
            for align in [1, 8, 16, 64] {
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: nallocx only computes.
                let real = unsafe { tikv_jemalloc_sys::nallocx(size, tikv_jemalloc_sys::MALLOCX_ALIGN(align)) };
                assert_eq!(super::charged(layout), real, "size {size} align {align}");
            }
        }
    }

    #[test]
    fn human_sizes() {
        assert_eq!(super::human(512), "512B");
        assert_eq!(super::human(1536), "1.50K");
        assert_eq!(super::human(3 << 20), "3.00M");
    }
}
