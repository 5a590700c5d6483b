//! The guest's linear memory as the WASI functions see it: every pointer and
//! length checked against the memory's bounds (`EFAULT` when out of range, never
//! a panic), little-endian loads and stores, iovec arrays and path strings.

use std::ops::Range;

use crate::errno;

pub(crate) type Errno = i32;
pub(crate) type WasiResult = Result<(), Errno>;

/// Most iovecs one call may pass (POSIX `IOV_MAX`).
pub(crate) const MAX_IOVECS: u32 = 1024;

/// The longest path a guest may pass (Linux's `PATH_MAX`): longer is
/// `ENAMETOOLONG`, refused before the host copies anything.
pub(crate) const MAX_PATH_BYTES: usize = 4096;

/// `mem[ptr .. ptr + len]` as a range, or `EFAULT` when it does not fit.
pub(crate) fn range(mem: &[u8], ptr: u32, len: u64) -> Result<Range<usize>, Errno> {
    let end = ptr as u64 + len;
    if end > mem.len() as u64 {
        return Err(errno::FAULT);
    }
    Ok(ptr as usize..end as usize)
}

pub(crate) fn check(mem: &[u8], ptr: u32, len: u64) -> WasiResult {
    range(mem, ptr, len).map(|_| ())
}

pub(crate) fn read_u32(mem: &[u8], ptr: u32) -> Result<u32, Errno> {
    let r = range(mem, ptr, 4)?;
    let mut b = [0u8; 4];
    b.copy_from_slice(&mem[r]);
    Ok(u32::from_le_bytes(b))
}

pub(crate) fn read_u64(mem: &[u8], ptr: u32) -> Result<u64, Errno> {
    let r = range(mem, ptr, 8)?;
    let mut b = [0u8; 8];
    b.copy_from_slice(&mem[r]);
    Ok(u64::from_le_bytes(b))
}

pub(crate) fn write_bytes(mem: &mut [u8], ptr: u32, bytes: &[u8]) -> WasiResult {
    let r = range(mem, ptr, bytes.len() as u64)?;
    mem[r].copy_from_slice(bytes);
    Ok(())
}

pub(crate) fn write_u32(mem: &mut [u8], ptr: u32, v: u32) -> WasiResult {
    write_bytes(mem, ptr, &v.to_le_bytes())
}

pub(crate) fn write_u64(mem: &mut [u8], ptr: u32, v: u64) -> WasiResult {
    write_bytes(mem, ptr, &v.to_le_bytes())
}

/// A byte count as the u32 the guest receives.
pub(crate) fn count_u32(n: u64) -> Result<u32, Errno> {
    u32::try_from(n).map_err(|_| errno::OVERFLOW)
}

/// The ranges of an iovec array (`(ptr: u32, len: u32)` pairs), each checked
/// against the memory; at most [`MAX_IOVECS`] (`EINVAL` beyond).
pub(crate) fn iovecs(mem: &[u8], iovs: u32, count: u32) -> Result<Vec<Range<usize>>, Errno> {
    if count > MAX_IOVECS {
        return Err(errno::INVAL);
    }
    check(mem, iovs, count as u64 * 8)?;
    (0..count)
        .map(|i| {
            let at = iovs + i * 8;
            let (ptr, len) = (read_u32(mem, at)?, read_u32(mem, at + 4)?);
            range(mem, ptr, len as u64)
        })
        .collect()
}

/// The path string at `mem[ptr .. ptr + len]`: in range (`EFAULT`), at most
/// [`MAX_PATH_BYTES`] (`ENAMETOOLONG`, checked before copying), UTF-8
/// (`EILSEQ`), without NUL (`EINVAL`), not empty (`ENOENT`).
pub(crate) fn guest_path(mem: &[u8], ptr: u32, len: u32) -> Result<String, Errno> {
    let r = range(mem, ptr, len as u64)?;
    if r.len() > MAX_PATH_BYTES {
        return Err(errno::NAMETOOLONG);
    }
    let text = std::str::from_utf8(&mem[r]).map_err(|_| errno::ILSEQ)?;
    if text.contains('\0') {
        return Err(errno::INVAL);
    }
    if text.is_empty() {
        return Err(errno::NOENT);
    }
    Ok(text.to_owned())
}
