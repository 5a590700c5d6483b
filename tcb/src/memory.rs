//! TRUSTED. Host memory a guest can ask for, obtained without ever aborting: a
//! domain's linear memory, reserved once as address space and committed as it
//! grows, and zeroed region buffers.
//!
//! Invariants protected:
//! - a linear memory's base never moves while it lives, so the `mem_base` generated
//!   code holds stays valid across `memory.grow`;
//! - exactly bytes `[0, len)` are readable and writable, `len <= reserved`, and
//!   nothing else of the reservation is ever handed out;
//! - growing is fallible: when the host refuses to commit pages (an rlimit, no
//!   memory left) the memory is unchanged and the grow fails;
//! - untouched pages are not resident (the kernel supplies zero pages on first
//!   touch), and a reset gives every touched page back.

use std::alloc::Layout;
use std::ptr::NonNull;

/// One domain's linear memory.
#[derive(Debug)]
pub struct LinearMemory {
    /// Start of the reservation (dangling, and never mapped, when `reserved == 0`).
    base: NonNull<u8>,
    /// Bytes readable and writable now.
    len: usize,
    /// Bytes of address space reserved; the memory never grows past them.
    reserved: usize,
}

/// The host's virtual memory: reserve address space, commit and decommit parts of
/// it, release it. Under Miri, which has no `mprotect`, a plain zeroed allocation
/// stands in for the reservation (committed from the start); everything above
/// this module is the same code.
#[cfg(not(miri))]
mod os {
    use std::ptr::NonNull;

    /// Reserve `bytes` (> 0) of inaccessible address space; `None` when refused.
    pub fn reserve(bytes: usize) -> Option<NonNull<u8>> {
        // SAFETY: an anonymous private mapping at an address the kernel picks
        // touches no existing memory; PROT_NONE and MAP_NORESERVE commit nothing.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            None
        } else {
            NonNull::new(p.cast())
        }
    }

    /// Make `[start, start + len)` of a reservation readable and writable.
    ///
    /// # Safety
    /// The range lies inside a reservation `reserve` made and nothing else uses.
    pub unsafe fn commit(start: *mut u8, len: usize) -> bool {
        // SAFETY: per the contract.
        unsafe { libc::mprotect(start.cast(), len, libc::PROT_READ | libc::PROT_WRITE) == 0 }
    }

    /// Give the pages of `[start, start + len)` back (they read as zero again) and,
    /// from `start + keep` on, make them inaccessible.
    ///
    /// # Safety
    /// As for `commit`, and `keep <= len`.
    pub unsafe fn decommit(start: *mut u8, len: usize, keep: usize) {
        // SAFETY: per the contract; MADV_DONTNEED on a private anonymous mapping
        // makes its pages read as zero.
        if unsafe { libc::madvise(start.cast(), len, libc::MADV_DONTNEED) } != 0 {
            // SAFETY: the range is committed and ours; zero it by hand instead.
            unsafe { std::ptr::write_bytes(start, 0, len) };
        }
        // SAFETY: per the contract. Should this fail, the pages merely stay
        // mapped; they are never handed out.
        unsafe { libc::mprotect(start.add(keep).cast(), len - keep, libc::PROT_NONE) };
    }

    /// # Safety
    /// `start` and `bytes` are exactly what `reserve` returned and was given, and
    /// nothing uses the range any more.
    pub unsafe fn release(start: *mut u8, bytes: usize) {
        // SAFETY: per the contract.
        unsafe { libc::munmap(start.cast(), bytes) };
    }
}

#[cfg(miri)]
mod os {
    use std::alloc::Layout;
    use std::ptr::NonNull;

    fn layout(bytes: usize) -> Layout {
        Layout::from_size_align(bytes, 4096).expect("a reservation fits a layout")
    }

    pub fn reserve(bytes: usize) -> Option<NonNull<u8>> {
        // SAFETY: `bytes > 0`.
        NonNull::new(unsafe { std::alloc::alloc_zeroed(layout(bytes)) })
    }

    /// # Safety
    /// As in the non-Miri version.
    pub unsafe fn commit(_start: *mut u8, _len: usize) -> bool {
        true
    }

    /// # Safety
    /// As in the non-Miri version.
    pub unsafe fn decommit(start: *mut u8, len: usize, _keep: usize) {
        // SAFETY: the range is inside the allocation and ours.
        unsafe { std::ptr::write_bytes(start, 0, len) };
    }

    /// # Safety
    /// As in the non-Miri version.
    pub unsafe fn release(start: *mut u8, bytes: usize) {
        // SAFETY: allocated by `reserve` with this layout.
        unsafe { std::alloc::dealloc(start, layout(bytes)) };
    }
}

/// Reserve `bytes` of inaccessible address space; `None` when the host refuses.
fn reserve(bytes: usize) -> Option<NonNull<u8>> {
    if bytes == 0 {
        return Some(NonNull::dangling());
    }
    os::reserve(bytes)
}

impl LinearMemory {
    /// A zeroed memory of `len` bytes that may grow to `maximum` bytes. When the
    /// host will not reserve `maximum`, only `len` is reserved (later grows then
    /// fail); `None` when not even that can be had.
    pub fn new(len: usize, maximum: usize) -> Option<LinearMemory> {
        let maximum = maximum.max(len);
        let (base, reserved) = match reserve(maximum) {
            Some(b) => (b, maximum),
            None => (reserve(len)?, len),
        };
        let mut m = LinearMemory { base, len: 0, reserved };
        m.grow_to(len).then_some(m)
    }

    /// Bytes accessible now.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The base address generated code adds addresses to.
    pub fn base(&mut self) -> *mut u8 {
        self.base.as_ptr()
    }

    /// Make `[len, new_len)` accessible (zero bytes); `false`, with nothing changed,
    /// past the reservation or when the host refuses to commit the pages.
    pub fn grow_to(&mut self, new_len: usize) -> bool {
        if new_len <= self.len {
            return true;
        }
        if new_len > self.reserved {
            return false;
        }
        // SAFETY: `[len, new_len)` lies inside this memory's own reservation
        // (`new_len <= reserved`), which nothing else uses.
        let ok = unsafe { os::commit(self.base.as_ptr().add(self.len), new_len - self.len) };
        if ok {
            self.len = new_len;
        }
        ok
    }

    /// Back to `len` zero bytes, keeping the base: every page is given back to the
    /// host, and pages past `len` become inaccessible again. `false` if `len` is
    /// larger than now and cannot be committed (then the memory is empty).
    pub fn reset(&mut self, len: usize) -> bool {
        if self.len > 0 {
            let keep = len.min(self.len);
            // SAFETY: `[0, self.len)` is this memory's committed range, and `keep`
            // is at most its length.
            unsafe { os::decommit(self.base.as_ptr(), self.len, keep) };
            self.len = keep;
        }
        self.grow_to(len) || {
            self.len = 0;
            false
        }
    }
}

impl Drop for LinearMemory {
    fn drop(&mut self) {
        if self.reserved > 0 {
            // SAFETY: exactly the reservation `reserve` made; nothing refers to it
            // once the memory is dropped (generated code runs only while the
            // runtime lives).
            unsafe { os::release(self.base.as_ptr(), self.reserved) };
        }
    }
}

impl std::ops::Deref for LinearMemory {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: `[0, len)` is committed, readable and initialised (zero or written)
        // and owned by this memory; `base` is non-null and aligned for `u8`.
        unsafe { std::slice::from_raw_parts(self.base.as_ptr(), self.len) }
    }
}

impl std::ops::DerefMut for LinearMemory {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`, and `&mut self` makes the borrow unique.
        unsafe { std::slice::from_raw_parts_mut(self.base.as_ptr(), self.len) }
    }
}

/// A zeroed buffer of `len` bytes, or `None` when the host cannot supply it. Large
/// buffers come straight from the kernel, so their untouched pages are not resident.
pub fn alloc_zeroed_lazy(len: usize) -> Option<Vec<u8>> {
    if len == 0 {
        return Some(Vec::new());
    }
    let layout = Layout::array::<u8>(len).ok()?;
    // SAFETY: `layout` has a non-zero size.
    let p = unsafe { std::alloc::alloc_zeroed(layout) };
    if p.is_null() {
        return None;
    }
    // SAFETY: `p` was allocated by the global allocator with the layout of `len`
    // bytes (alignment 1), all of them initialised to zero, and nothing else owns it.
    Some(unsafe { Vec::from_raw_parts(p, len, len) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_in_place_and_resets_to_zero() {
        let mut m = LinearMemory::new(65536, 4 * 65536).unwrap();
        let base = m.base();
        m[65535] = 7;
        assert!(m.grow_to(3 * 65536));
        assert_eq!(m.base(), base, "the base never moves");
        assert_eq!((m.len(), m[65535], m[3 * 65536 - 1]), (3 * 65536, 7, 0));
        assert!(!m.grow_to(5 * 65536), "past the reservation");
        assert_eq!(m.len(), 3 * 65536);
        m[100] = 1;
        assert!(m.reset(65536));
        assert_eq!((m.len(), m[100], m[65535]), (65536, 0, 0));
        assert!(m.reset(0));
        assert!(m.is_empty());
    }

    #[test]
    fn zero_sized_memories_and_buffers() {
        let mut m = LinearMemory::new(0, 0).unwrap();
        assert!(m.is_empty() && !m.grow_to(1));
        assert_eq!(alloc_zeroed_lazy(0), Some(Vec::new()));
        assert!(alloc_zeroed_lazy(1 << 16).unwrap().iter().all(|&b| b == 0));
        assert_eq!(alloc_zeroed_lazy(usize::MAX), None);
    }
}
