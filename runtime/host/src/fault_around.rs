//! Keeps a read fault in a slot's memory from mapping the pages around it.
//!
//! A slot's memory is a private mapping of the snapshot's image. When the guest first reads a
//! page of it, Linux's fault-around maps every page of the surrounding 64 KiB window that is in
//! the page cache, not just the one touched. They stay mapped (the slot is kept resident), and
//! every reset's `PAGEMAP_SCAN` (wasmtime's, and [`crate::slot_runs`]') then visits them: a
//! request that touches a page or two in each window of the heap leaves all of it
//! present, and pays to scan all of it on every reset.
//!
//! The kernel skips fault-around in a mapping registered with userfaultfd for write-protection.
//! [`before_request`] registers each slot's memory so, in asynchronous mode
//! (`UFFD_FEATURE_WP_ASYNC`, Linux 6.7+, the same kernels as `PAGEMAP_SCAN`) and without ever
//! write-protecting a page: no fault is ever sent to user space, and the kernel's view of which
//! pages are written, which the resets rely on, is unchanged (a page that was never
//! write-protected counts as written once it is private, as without the registration). Only
//! pages the guest touches are mapped.
//!
//! Everything here only saves time: where userfaultfd is missing or refused, or a slot's mapping
//! was replaced since it was registered (wasmtime maps another module's image into it), the
//! slot simply faults around as before.

use crate::slot_runs::iowr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::LazyLock;

/// `UFFD_API` (linux/userfaultfd.h).
const UFFD_API: u64 = 0xAA;
/// `UFFD_FEATURE_WP_ASYNC`: write-protect faults are resolved by the kernel itself.
const UFFD_FEATURE_WP_ASYNC: u64 = 1 << 15;
/// `UFFDIO_REGISTER_MODE_WP`.
const UFFDIO_REGISTER_MODE_WP: u64 = 1 << 1;
/// `UFFD_USER_MODE_ONLY`: enough here, and allowed without privileges.
const UFFD_USER_MODE_ONLY: libc::c_int = 1;

/// `struct uffdio_api`.
#[repr(C)]
struct UffdioApi {
    api: u64,
    features: u64,
    ioctls: u64,
}

/// `struct uffdio_register`.
#[repr(C)]
struct UffdioRegister {
    start: u64,
    len: u64,
    mode: u64,
    ioctls: u64,
}

const UFFDIO_API: libc::c_ulong = iowr::<UffdioApi>(0xAA, 0x3F);
const UFFDIO_REGISTER: libc::c_ulong = iowr::<UffdioRegister>(0xAA, 0x00);

/// The process's userfaultfd, kept open for good: closing it would end every registration.
static UFFD: LazyLock<Option<OwnedFd>> = LazyLock::new(open);

fn open() -> Option<OwnedFd> {
    if std::env::var("WISP_FAULT_AROUND").as_deref() == Ok("1") {
        return None;
    }
    // SAFETY: userfaultfd takes flags and returns a new descriptor or -1.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_userfaultfd,
            libc::O_CLOEXEC | libc::O_NONBLOCK | UFFD_USER_MODE_ONLY,
        )
    };
    let fd = libc::c_int::try_from(fd).ok().filter(|&fd| fd >= 0)?;
    // SAFETY: `fd` was just returned by the kernel and is owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut api = UffdioApi {
        api: UFFD_API,
        features: UFFD_FEATURE_WP_ASYNC,
        ioctls: 0,
    };
    // SAFETY: `api` is a valid `struct uffdio_api` for the duration of the call.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), UFFDIO_API, &mut api) };
    (rc == 0).then_some(fd)
}

/// Registers the slot `memory` lives in, before the guest runs, when it was mapped afresh
/// (`fresh`: [`crate::slot_runs::enter`]); while a slot keeps serving one module, wasmtime
/// keeps its mapping, and the registration with it.
pub fn before_request(memory: &[u8], fresh: bool) {
    if !fresh {
        return;
    }
    let Some(uffd) = UFFD.as_ref() else { return };
    let mut register = UffdioRegister {
        start: memory.as_ptr() as u64,
        len: (memory.len() & !(crate::slot_runs::PAGE - 1)) as u64,
        mode: UFFDIO_REGISTER_MODE_WP,
        ioctls: 0,
    };
    if register.len == 0 {
        return;
    }
    // SAFETY: `register` is a valid `struct uffdio_register` for the duration of the call. The
    // range is the slot's mapped, page-aligned memory; registering it changes how the kernel
    // handles read faults there (no fault-around) and nothing else: no page is ever
    // write-protected, so no fault waits for user space and no page's content changes.
    let rc = unsafe { libc::ioctl(uffd.as_raw_fd(), UFFDIO_REGISTER, &mut register) };
    if rc != 0 {
        tracing::debug!(
            "userfaultfd registration of a slot failed: {}",
            std::io::Error::last_os_error()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slot_runs::PAGE;
    use std::io::Write;

    /// A private mapping of `file`, as a pool slot maps its image.
    fn map(file: &std::fs::File, len: usize) -> &'static mut [u8] {
        // It is never unmapped: the registration is process-wide and keyed by address, so no
        // later mapping may reuse it.
        let ptr = crate::slot_runs::map_private(file, len);
        // SAFETY: the mapping is `len` bytes, readable and writable, and used by this test only.
        unsafe { std::slice::from_raw_parts_mut(ptr, len) }
    }

    #[test]
    fn a_read_maps_only_the_page_read_and_writes_are_still_seen() {
        let pages = 64;
        // An image in the page cache, each page holding its number.
        let mut file = tempfile::tempfile().unwrap();
        for page in 0..pages {
            file.write_all(&[page as u8; PAGE]).unwrap();
        }
        let plain = map(&file, pages * PAGE);
        let slot = map(&file, pages * PAGE);
        let Some(before) = crate::slot_runs::present_pages(slot) else {
            eprintln!("no PAGEMAP_SCAN on this kernel: nothing to check");
            return;
        };
        assert_eq!(before, 0);
        before_request(slot, true);
        assert!(
            UFFD.is_some(),
            "userfaultfd with UFFD_FEATURE_WP_ASYNC is missing on a kernel with PAGEMAP_SCAN"
        );

        assert_eq!((plain[20 * PAGE], slot[20 * PAGE]), (20, 20));
        let around = crate::slot_runs::present_pages(plain).unwrap();
        eprintln!("an unregistered mapping: {around} pages mapped by one read");
        assert_eq!(crate::slot_runs::present_pages(slot), Some(1));

        // A request on the same mapping registers nothing again; the slot still reads and writes
        // normally, and a written page is private (what the resets copy back), unlike a read one.
        before_request(slot, false);
        slot[40 * PAGE + 7] = 0xff;
        assert_eq!((slot[40 * PAGE], slot[40 * PAGE + 7]), (40, 0xff));
        assert_eq!(crate::slot_runs::present_pages(slot), Some(2));
        for page in 0..pages {
            assert_eq!(slot[page * PAGE + 1], page as u8);
        }
        assert_eq!(crate::slot_runs::present_pages(slot), Some(pages));
        assert_eq!(crate::slot_runs::written_pages(slot), Some(1));
    }
}
