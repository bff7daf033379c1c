//! Keeps the pages a request wrote in few runs, so that the slot reset copies back only them.
//!
//! When an instance is dropped, wasmtime resets its memory slot with `PAGEMAP_SCAN`: it lists
//! the pages that no longer share the snapshot's image, in at most 32 runs, copies those back,
//! and unmaps everything past the last run it could list. A request writes reference counts and
//! object headers all over the snapshot's heap, typically 70–90 pages in 30–40 runs (of a
//! 160-page heap), so the list overflows and the tail of the heap is unmapped; the next request
//! then page-faults there, at several µs per fault on these VMs.
//!
//! [`merge_written_runs`] runs after the handler and before the instance is dropped. It makes the
//! same scan with room for many runs and, if there are more than wasmtime can take, writes the
//! pages of the smallest gaps between them (each byte back to itself, and no gap over 256 KiB),
//! until the written pages form few enough runs. A page written once stays private to the slot,
//! so the filling is paid once per slot, and each later reset copies the pages requests
//! actually write plus those few gaps, not the whole heap. On kernels without `PAGEMAP_SCAN` (before 6.7) it does nothing, as
//! wasmtime then copies the whole memory anyway.
//!
//! The scan itself costs about as much as copying half the heap (≈ 12 µs on these VMs), and the
//! set of written pages settles after a slot's first requests, so [`after_request`] scans a slot
//! at its first request (and at the first after it takes another module's image) and then ever
//! more rarely: after a scan that joined nothing, the slot's
//! interval doubles, up to one request in [`MAX_SCAN_INTERVAL`]; after one that joined runs, the
//! next request is scanned again. A slot whose writes overflow in between is joined at its next
//! scan.

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::{LazyLock, Mutex};

/// The most runs wasmtime 48's reset lists (`MAX_REGIONS` in its `sys/unix/pagemap.rs`).
const WASMTIME_MAX_RUNS: usize = 32;
/// Runs left after merging: a little below wasmtime's limit, so that the few pages written
/// between this scan and the reset (none, usually) do not overflow it.
const TARGET_RUNS: usize = WASMTIME_MAX_RUNS - 4;
/// Runs this scan can list. Past them, the memory is left to wasmtime as it is; once the runs
/// listed are joined, a later scan reaches further.
const SCAN_CAPACITY: usize = 512;
/// The largest gap filled: joining runs far apart would make the slot copy (and keep
/// resident) memory no request wrote. Runs that stay apart are wasmtime's to unmap, as before.
const MAX_GAP: usize = 64 * PAGE;
pub(crate) const PAGE: usize = 4096;
/// The most requests between two scans of a settled slot (see the module's doc).
pub const MAX_SCAN_INTERVAL: u32 = 64;
/// With `WISP_SLOT_STATS`, every slot is scanned (and reported) one request in this many.
const STATS_INTERVAL: u32 = 8;

/// What Wisp keeps per pool slot: the module whose image it holds, and when its runs are next
/// joined (its scan interval, and the requests left before that scan).
#[derive(Clone, Copy)]
struct Slot {
    module: u64,
    interval: u32,
    left: u32,
}

thread_local! {
    /// With `WISP_SLOT_STATS=diff`, the slot's memory as the request found it.
    static BEFORE: std::cell::RefCell<Option<Vec<u8>>> = const { std::cell::RefCell::new(None) };
}

/// Per slot, by the address of its memory.
static SLOTS: LazyLock<Mutex<HashMap<usize, Slot>>> = LazyLock::new(Default::default);

fn slots() -> std::sync::MutexGuard<'static, HashMap<usize, Slot>> {
    SLOTS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Called once per request, before the guest runs: notes that the slot `memory` lives in serves
/// `module` (`guest::Exports`' process-unique id of a snapshot). True when the slot held another
/// module's image, or none, until now: wasmtime then mapped it afresh, and its runs are joined
/// at this request. While a slot keeps serving one module, wasmtime keeps its mapping.
pub fn enter(memory: &[u8], module: u64) -> bool {
    if stats_mode() == Some("diff") {
        BEFORE.with(|b| *b.borrow_mut() = Some(memory.to_vec()));
    }
    let fresh = Slot {
        module,
        interval: 1,
        left: 0,
    };
    let base = memory.as_ptr() as usize;
    let mut slots = slots();
    // The same module: its schedule goes on.
    if slots.get(&base).is_some_and(|slot| slot.module == module) {
        return false;
    }
    slots.insert(base, fresh);
    true
}

/// Called once per request, after the handler: merges the slot's runs when its schedule says.
pub fn after_request(memory: &mut [u8]) {
    if let Some(before) = BEFORE.with(|b| b.borrow_mut().take())
        && let Some(text) = diff(&before, memory)
    {
        eprint!("{text}");
    }
    let base = memory.as_ptr() as usize;
    // A slot never entered is scanned, as a fresh one would be.
    let due = slots().get_mut(&base).is_none_or(|slot| {
        let due = slot.left == 0;
        slot.left = slot.left.saturating_sub(1);
        due
    });
    if !due {
        return;
    }
    let joined = merge_written_runs(memory).is_some_and(|m| m.filled_pages > 0);
    if let Some(slot) = slots().get_mut(&base) {
        slot.interval = if SLOT_STATS.is_some() {
            STATS_INTERVAL
        } else {
            next_interval(slot.interval, joined)
        };
        slot.left = slot.interval - 1;
    }
}

/// A slot's scan interval after a scan: every request again if it joined runs, else doubled.
fn next_interval(interval: u32, joined: bool) -> u32 {
    if joined {
        1
    } else {
        interval.saturating_mul(2).min(MAX_SCAN_INTERVAL)
    }
}

// `PAGEMAP_SCAN` categories (linux/fs.h).
const PAGE_IS_WRITTEN: u64 = 1 << 1;
const PAGE_IS_FILE: u64 = 1 << 2;
const PAGE_IS_PRESENT: u64 = 1 << 3;
const PAGE_IS_PFNZERO: u64 = 1 << 5;

/// `struct pm_scan_arg` (linux/fs.h).
#[repr(C)]
struct PmScanArg {
    size: u64,
    flags: u64,
    start: u64,
    end: u64,
    walk_end: u64,
    vec: u64,
    vec_len: u64,
    max_pages: u64,
    category_inverted: u64,
    category_mask: u64,
    category_anyof_mask: u64,
    return_mask: u64,
}

/// `struct page_region` (linux/fs.h).
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct PageRegion {
    start: u64,
    end: u64,
    categories: u64,
}

/// `_IOWR(kind, nr, T)`: the number of an ioctl that reads and writes a `T` (asm-generic/ioctl.h).
pub(crate) const fn iowr<T>(kind: u8, nr: u8) -> libc::c_ulong {
    (3 << 30)
        | ((size_of::<T>() as libc::c_ulong) << 16)
        | ((kind as libc::c_ulong) << 8)
        | nr as libc::c_ulong
}

/// `_IOWR('f', 16, struct pm_scan_arg)`.
const PAGEMAP_SCAN: libc::c_ulong = iowr::<PmScanArg>(b'f', 16);

static PAGEMAP: LazyLock<Option<File>> = LazyLock::new(|| File::open("/proc/self/pagemap").ok());

/// What [`merge_written_runs`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Merge {
    /// Runs of written pages found.
    pub runs: usize,
    /// Pages written to join them.
    pub filled_pages: usize,
}

/// Lists the runs of pages of `memory` that no longer share their image, as wasmtime's reset
/// will see them. `None` when the kernel cannot tell (no `PAGEMAP_SCAN`).
fn written_runs(memory: &[u8], out: &mut [PageRegion]) -> Option<usize> {
    // The categories of wasmtime's own scan: present, private, not the zero page.
    scan(
        memory,
        out,
        PAGE_IS_WRITTEN | PAGE_IS_PRESENT | PAGE_IS_PFNZERO | PAGE_IS_FILE,
        PAGE_IS_PFNZERO | PAGE_IS_FILE,
    )
}

/// Lists the runs of pages of `memory` whose categories, with the bits in `inverted` flipped,
/// include all of `mask`.
fn scan(memory: &[u8], out: &mut [PageRegion], mask: u64, inverted: u64) -> Option<usize> {
    let pagemap = PAGEMAP.as_ref()?;
    let start = memory.as_ptr() as u64;
    let end = start + memory.len() as u64;
    let mut arg = PmScanArg {
        size: size_of::<PmScanArg>() as u64,
        flags: 0,
        start,
        end,
        walk_end: 0,
        vec: out.as_mut_ptr() as u64,
        vec_len: out.len() as u64,
        max_pages: 0,
        category_inverted: inverted,
        category_mask: mask,
        category_anyof_mask: 0,
        return_mask: 0,
    };
    // SAFETY: `arg` is a valid `pm_scan_arg` for this kernel ABI; `vec`/`vec_len` describe
    // `out`, which the kernel fills with at most `vec_len` regions; the scanned range is
    // `memory`, which is mapped. The ioctl neither reads nor writes the pages themselves.
    let n = unsafe { libc::ioctl(pagemap.as_raw_fd(), PAGEMAP_SCAN, &mut arg) };
    usize::try_from(n).ok()
}

/// `WISP_SLOT_STATS=1`: what each of these scans finds, on stderr, for studying a function's
/// per-request cost. Every reset copies the slot's written pages and the kernel's scan visits
/// its present ones (those any request in this slot has touched), so these two counts, not the
/// handler's statements, predict most of what a request costs beyond its JS (benches/README.md).
/// `WISP_SLOT_STATS=runs` also lists where the written pages are; `diff` what each page's
/// words were and are (it copies the whole memory before each request: for study only).
static SLOT_STATS: LazyLock<Option<std::ffi::OsString>> =
    LazyLock::new(|| std::env::var_os("WISP_SLOT_STATS"));

fn stats_mode() -> Option<&'static str> {
    SLOT_STATS.as_ref().and_then(|s| s.to_str())
}

/// `WISP_SLOT_STATS=diff`: a line for each page of `memory` written since it was `before`, with
/// the 32-bit words whose value changed (`address:before>after`, in hex, so that wasm32 pointers
/// and QuickJS's value tags read as they are; the first 12). A page written with no word
/// changed is reference counts taken and given back, the cost of touching an object of the
/// snapshot. `None` without `PAGEMAP_SCAN`.
fn diff(before: &[u8], memory: &[u8]) -> Option<String> {
    let mut regions = [PageRegion::default(); SCAN_CAPACITY];
    let n = written_runs(memory, &mut regions)?;
    let base = memory.as_ptr() as u64;
    let word = |bytes: &[u8], at: usize| {
        u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
    };
    let mut out = String::new();
    for r in &regions[..n] {
        for page in ((r.start - base) as usize..(r.end - base) as usize).step_by(PAGE) {
            let changed: Vec<String> = (page..page + PAGE)
                .step_by(4)
                .filter(|&at| word(before, at) != word(memory, at))
                .map(|at| format!("{at:x}:{:x}>{:x}", word(before, at), word(memory, at)))
                .collect();
            let shown: String = changed.iter().take(12).map(|w| format!(" {w}")).collect();
            out += &format!(
                "wisp slot page {}: {} words changed{shown}\n",
                page / PAGE,
                changed.len()
            );
        }
    }
    Some(out)
}

/// `written`: the pages written once the gaps are filled.
fn print_stats(memory: &[u8], merge: Merge, written: usize) {
    eprintln!(
        "wisp slot: {} pages, {} present, {written} written (the scan found {} runs; {} pages \
         filled to join them)",
        memory.len() / PAGE,
        present_pages(memory).unwrap_or(0),
        merge.runs,
        merge.filled_pages
    );
}

/// How many pages of `memory` are mapped (touched, or mapped around a page that was).
pub(crate) fn present_pages(memory: &[u8]) -> Option<usize> {
    let mut regions = [PageRegion::default(); SCAN_CAPACITY];
    let n = scan(memory, &mut regions, PAGE_IS_PRESENT, 0)?;
    Some(pages_in(&regions[..n]))
}

/// How many pages of `memory` no longer share their image (what a reset copies back).
#[cfg(test)]
pub(crate) fn written_pages(memory: &[u8]) -> Option<usize> {
    let mut regions = [PageRegion::default(); SCAN_CAPACITY];
    let n = written_runs(memory, &mut regions)?;
    Some(pages_in(&regions[..n]))
}

fn pages_in(regions: &[PageRegion]) -> usize {
    regions
        .iter()
        .map(|r| (r.end - r.start) as usize / PAGE)
        .sum()
}

/// Writes pages of `memory` between its runs of written pages until at most [`TARGET_RUNS`]
/// runs remain, joining the closest runs first. Call it when the guest has finished and
/// before the instance is dropped.
pub fn merge_written_runs(memory: &mut [u8]) -> Option<Merge> {
    let mut regions = [PageRegion::default(); SCAN_CAPACITY];
    let n = written_runs(memory, &mut regions)?;
    let base = memory.as_ptr() as u64;
    let runs: Vec<(usize, usize)> = regions[..n]
        .iter()
        .map(|r| ((r.start - base) as usize, (r.end - base) as usize))
        .collect();
    let mut filled_pages = 0;
    for (from, to) in gaps_to_fill(&runs, TARGET_RUNS) {
        for offset in (from..to).step_by(PAGE) {
            let byte = &mut memory[offset];
            // SAFETY: `byte` is a valid, exclusive reference into the instance's memory; the
            // volatile write (of the value just read) cannot be elided, which is the point:
            // it makes the page private, as the guest's writes did.
            unsafe { std::ptr::write_volatile(byte, std::ptr::read_volatile(byte)) };
            filled_pages += 1;
        }
    }
    let merge = Merge {
        runs: runs.len(),
        filled_pages,
    };
    if let Some(stats) = SLOT_STATS.as_ref() {
        let found: usize = runs.iter().map(|(from, to)| (to - from) / PAGE).sum();
        print_stats(memory, merge, found + filled_pages);
        if stats == "runs" {
            // Where the written pages are: `first page + pages` for each run, which tells the
            // engine's stack (below its data) from its heap.
            let list: Vec<String> = runs
                .iter()
                .map(|(from, to)| format!("{}+{}", from / PAGE, (to - from) / PAGE))
                .collect();
            eprintln!("wisp slot runs: {}", list.join(" "));
        }
    }
    Some(merge)
}

/// The gaps (byte ranges) to write so that `runs` (sorted, disjoint `[start, end)` ranges)
/// become at most `target` runs: the smallest gaps, as each one filled joins two runs, and
/// none larger than [`MAX_GAP`].
fn gaps_to_fill(runs: &[(usize, usize)], target: usize) -> Vec<(usize, usize)> {
    if runs.len() <= target {
        return Vec::new();
    }
    let mut gaps: Vec<(usize, usize)> = runs.windows(2).map(|w| (w[0].1, w[1].0)).collect();
    gaps.sort_by_key(|&(from, to)| (to - from, from));
    gaps.truncate(runs.len() - target);
    gaps.retain(|&(from, to)| to - from <= MAX_GAP);
    gaps.sort_unstable();
    gaps
}

/// For tests: a private, writable mapping of `len` bytes of `file`, as a pool slot maps its
/// image (its pages share the file until written). The caller unmaps it, or never does.
#[cfg(test)]
pub(crate) fn map_private(file: &File, len: usize) -> *mut u8 {
    // SAFETY: a fresh mapping of a file the caller owns, at an address the kernel picks.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE,
            file.as_raw_fd(),
            0,
        )
    };
    assert_ne!(ptr, libc::MAP_FAILED);
    ptr.cast()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_settled_slot_is_scanned_ever_more_rarely_and_an_unsettled_one_at_once() {
        let mut interval = 1;
        let mut seen = Vec::new();
        for _ in 0..8 {
            interval = next_interval(interval, false);
            seen.push(interval);
        }
        assert_eq!(seen, [2, 4, 8, 16, 32, 64, 64, 64]);
        assert_eq!(next_interval(64, true), 1);
    }

    #[test]
    fn the_smallest_gaps_are_filled_until_few_enough_runs_remain() {
        let p = |n: usize| n * PAGE;
        // Five runs, gaps of 3, 1, 2 and 1 pages.
        let runs = [
            (p(0), p(1)),
            (p(4), p(5)),
            (p(6), p(8)),
            (p(10), p(11)),
            (p(12), p(13)),
        ];
        assert_eq!(gaps_to_fill(&runs, 5), vec![]);
        assert_eq!(gaps_to_fill(&runs, 3), vec![(p(5), p(6)), (p(11), p(12))]);
        assert_eq!(
            gaps_to_fill(&runs, 1),
            vec![(p(1), p(4)), (p(5), p(6)), (p(8), p(10)), (p(11), p(12))]
        );
    }

    #[test]
    fn runs_far_apart_are_left_apart() {
        let far = MAX_GAP + PAGE;
        let runs = [
            (0, PAGE),
            (PAGE + far, 2 * PAGE + far),
            (3 * PAGE + far, 4 * PAGE + far),
        ];
        // Two gaps: one too large to fill, one page.
        assert_eq!(
            gaps_to_fill(&runs, 1),
            vec![(2 * PAGE + far, 3 * PAGE + far)]
        );
    }

    #[test]
    fn written_pages_of_a_private_file_mapping_are_found_and_joined() {
        // A private mapping of a file is what a pool slot is: pages share the file until
        // written. Write every other page: many runs; the merge must leave few.
        let pages = 4 * WASMTIME_MAX_RUNS;
        let mut mapping = Mapping::of_zeros(pages * PAGE);
        let memory = mapping.bytes();
        for page in (0..pages).step_by(2) {
            memory[page * PAGE] = 1;
        }
        let mut regions = [PageRegion::default(); SCAN_CAPACITY];
        let Some(before) = written_runs(memory, &mut regions) else {
            eprintln!("no PAGEMAP_SCAN on this kernel: nothing to check");
            return;
        };
        assert_eq!(before, pages / 2);
        let merge = merge_written_runs(memory).unwrap();
        assert_eq!(merge.runs, pages / 2);
        assert_eq!(merge.filled_pages, pages / 2 - TARGET_RUNS);
        let after = written_runs(memory, &mut regions).unwrap();
        assert_eq!(after, TARGET_RUNS);
        // The contents are unchanged: written pages hold 1 at their start, the others 0.
        for page in 0..pages {
            assert_eq!(memory[page * PAGE], if page % 2 == 0 { 1 } else { 0 });
        }
    }

    #[test]
    fn a_diff_lists_written_pages_and_the_words_that_changed() {
        let pages = 4;
        let mut mapping = Mapping::of_zeros(pages * PAGE);
        let memory = mapping.bytes();
        let before = memory.to_vec();
        // Page 1: a word changed. Page 3: written back as it was (a count taken and given back).
        memory[PAGE + 8] = 7;
        memory[3 * PAGE] = 0;
        let Some(text) = diff(&before, memory) else {
            eprintln!("no PAGEMAP_SCAN on this kernel: nothing to check");
            return;
        };
        assert_eq!(
            text,
            "wisp slot page 1: 1 words changed 1008:0>7\nwisp slot page 3: 0 words changed\n"
        );
    }

    /// A private mapping of a file of zeros: what a pool slot is (its pages share the file
    /// until written).
    struct Mapping {
        ptr: *mut libc::c_void,
        len: usize,
    }

    impl Mapping {
        fn of_zeros(len: usize) -> Mapping {
            let file = tempfile::tempfile().unwrap();
            file.set_len(len as u64).unwrap();
            Mapping {
                ptr: map_private(&file, len).cast(),
                len,
            }
        }

        fn bytes(&mut self) -> &mut [u8] {
            // SAFETY: the mapping is `len` bytes, readable and writable, and borrowed from it.
            unsafe { std::slice::from_raw_parts_mut(self.ptr.cast::<u8>(), self.len) }
        }
    }

    impl Drop for Mapping {
        fn drop(&mut self) {
            // SAFETY: unmaps the mapping `of_zeros` made; no borrow of it outlives `self`.
            unsafe { libc::munmap(self.ptr, self.len) };
        }
    }
}
