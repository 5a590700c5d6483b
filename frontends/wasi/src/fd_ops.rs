//! The `fd_*` functions: reading, writing, seeking, stat, sync, flags and rights
//! of open descriptors, preopen names, renumbering, and `fd_readdir` (entries
//! written straight into the guest's buffer, one at a time).

use std::fs::{File, FileTimes};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cap_fs_ext::OpenOptionsMaybeDirExt;
use cap_std::fs::{Dir, MetadataExt};

use crate::mem::{check, count_u32, iovecs, range, write_bytes, write_u32, write_u64, Errno, WasiResult};
use crate::state::{file_metadata, filetype_of, io_errno, stream_rights, write_filestat, DirFd, Fd, FileFd, State};
use crate::{errno, fdflags, filetype, rights};

/// `fst_flags` bits of `*_set_times`.
pub(crate) const FST_ATIM: u32 = 1 << 0;
pub(crate) const FST_ATIM_NOW: u32 = 1 << 1;
pub(crate) const FST_MTIM: u32 = 1 << 2;
pub(crate) const FST_MTIM_NOW: u32 = 1 << 3;

/// What one of `atim`/`mtim` becomes: unchanged (`None`), now, or a time.
#[derive(Clone, Copy)]
pub(crate) enum TimeSpec {
    Now,
    At(SystemTime),
}

/// The (atime, mtime) a `*_set_times` call asks for; `EINVAL` for unknown bits
/// or a time given both as a value and as "now".
pub(crate) fn time_specs(atim: u64, mtim: u64, fst: u32) -> Result<(Option<TimeSpec>, Option<TimeSpec>), Errno> {
    if fst & !(FST_ATIM | FST_ATIM_NOW | FST_MTIM | FST_MTIM_NOW) != 0
        || fst & (FST_ATIM | FST_ATIM_NOW) == FST_ATIM | FST_ATIM_NOW
        || fst & (FST_MTIM | FST_MTIM_NOW) == FST_MTIM | FST_MTIM_NOW
    {
        return Err(errno::INVAL);
    }
    let at = |ns: u64| {
        UNIX_EPOCH
            .checked_add(Duration::from_nanos(ns))
            .map(TimeSpec::At)
            .ok_or(errno::OVERFLOW)
    };
    let pick = |set: u32, now: u32, ns: u64| -> Result<Option<TimeSpec>, Errno> {
        if fst & now != 0 {
            Ok(Some(TimeSpec::Now))
        } else if fst & set != 0 {
            at(ns).map(Some)
        } else {
            Ok(None)
        }
    };
    Ok((pick(FST_ATIM, FST_ATIM_NOW, atim)?, pick(FST_MTIM, FST_MTIM_NOW, mtim)?))
}

fn file_times(a: Option<TimeSpec>, m: Option<TimeSpec>) -> FileTimes {
    let now = SystemTime::now();
    let time = |t: TimeSpec| match t {
        TimeSpec::Now => now,
        TimeSpec::At(t) => t,
    };
    let mut times = FileTimes::new();
    if let Some(a) = a {
        times = times.set_accessed(time(a));
    }
    if let Some(m) = m {
        times = times.set_modified(time(m));
    }
    times
}

/// Read into the ranges in order, stopping at end of input or at a short read
/// (a pipe, a terminal: return what there is); the byte count.
fn read_into(input: &mut dyn Read, mem: &mut [u8], bufs: &[Range<usize>]) -> Result<u64, Errno> {
    let mut total: u64 = 0;
    for r in bufs {
        let want = r.len();
        let mut got = 0;
        while got < want {
            match input.read(&mut mem[r.start + got..r.end]) {
                Ok(0) => return Ok(total),
                Ok(n) => {
                    got += n;
                    total += n as u64;
                    if got < want {
                        return Ok(total);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if total == 0 => return Err(io_errno(&e)),
                Err(_) => return Ok(total),
            }
        }
    }
    Ok(total)
}

/// Write the ranges in order; the byte count (an error after some bytes went
/// out reports those bytes).
fn write_from(out: &mut dyn Write, mem: &[u8], bufs: &[Range<usize>]) -> Result<u64, Errno> {
    let mut total: u64 = 0;
    for r in bufs {
        match out.write_all(&mem[r.clone()]) {
            Ok(()) => total += r.len() as u64,
            Err(e) if total == 0 => return Err(io_errno(&e)),
            Err(_) => break,
        }
    }
    match out.flush() {
        Err(e) if total == 0 => Err(io_errno(&e)),
        _ => Ok(total),
    }
}

impl FileFd {
    fn need(&self, right: u64) -> WasiResult {
        if self.rights & right == right {
            Ok(())
        } else {
            Err(errno::NOTCAPABLE)
        }
    }

    fn after_write(&self) -> WasiResult {
        if self.flags & (fdflags::SYNC | fdflags::RSYNC) != 0 {
            self.file.sync_all().map_err(|e| io_errno(&e))
        } else if self.flags & fdflags::DSYNC != 0 {
            self.file.sync_data().map_err(|e| io_errno(&e))
        } else {
            Ok(())
        }
    }
}

/// The directory opened again, for reading, as a plain file (to sync or time
/// it: `cap-std` may hold directories as `O_PATH` descriptors, which cannot).
fn dir_file(dir: &Dir) -> Result<File, Errno> {
    let mut opts = cap_std::fs::OpenOptions::new();
    opts.read(true).maybe_dir(true);
    dir.open_with(".", &opts)
        .map(cap_std::fs::File::into_std)
        .map_err(|e| io_errno(&e))
}

impl State {
    pub fn fd_write(&mut self, mem: &mut [u8], fd: u32, iovs: u32, count: u32, written_ptr: u32) -> WasiResult {
        let bufs = iovecs(mem, iovs, count)?;
        check(mem, written_ptr, 4)?;
        let slot = self.fds.get_mut(fd as usize).and_then(Option::as_mut);
        let total = match slot.ok_or(errno::BADF)? {
            Fd::Stream { which: 1 } => write_from(&mut *self.ctx.stdout, mem, &bufs)?,
            Fd::Stream { which: 2 } => write_from(&mut *self.ctx.stderr, mem, &bufs)?,
            Fd::Host { file, which, .. } if *which != 0 => write_from(file, mem, &bufs)?,
            Fd::File(f) if f.rights & rights::FD_WRITE != 0 => {
                if f.flags & fdflags::APPEND != 0 {
                    f.file.seek(SeekFrom::End(0)).map_err(|e| io_errno(&e))?;
                }
                let n = write_from(&mut f.file, mem, &bufs)?;
                f.after_write()?;
                n
            }
            // Not open for writing: stdin, directories, files without the right.
            _ => return Err(errno::BADF),
        };
        write_u32(mem, written_ptr, count_u32(total)?)
    }

    pub fn fd_read(&mut self, mem: &mut [u8], fd: u32, iovs: u32, count: u32, read_ptr: u32) -> WasiResult {
        let bufs = iovecs(mem, iovs, count)?;
        check(mem, read_ptr, 4)?;
        let slot = self.fds.get_mut(fd as usize).and_then(Option::as_mut);
        let input: &mut dyn Read = match slot.ok_or(errno::BADF)? {
            Fd::Stream { which: 0 } => &mut *self.ctx.stdin,
            Fd::Host { file, which: 0, .. } => file,
            Fd::File(f) if f.rights & rights::FD_READ != 0 => &mut f.file,
            Fd::Dir(_) => return Err(errno::ISDIR),
            _ => return Err(errno::BADF),
        };
        let total = read_into(input, mem, &bufs)?;
        write_u32(mem, read_ptr, count_u32(total)?)
    }

    /// A regular file to use at an offset; stdio is `ESPIPE`, a directory `dir_errno`.
    fn positional(&mut self, fd: u32, dir_errno: Errno) -> Result<&mut FileFd, Errno> {
        match self.fd(fd)? {
            Fd::File(f) => Ok(f),
            Fd::Dir(_) => Err(dir_errno),
            Fd::Stream { .. } | Fd::Host { .. } => Err(errno::SPIPE),
        }
    }

    pub fn fd_pread(
        &mut self,
        mem: &mut [u8],
        fd: u32,
        iovs: u32,
        count: u32,
        offset: u64,
        nread_ptr: u32,
    ) -> WasiResult {
        let bufs = iovecs(mem, iovs, count)?;
        check(mem, nread_ptr, 4)?;
        let f = self.positional(fd, errno::ISDIR)?;
        if f.rights & rights::FD_READ == 0 {
            return Err(errno::BADF);
        }
        f.need(rights::FD_SEEK)?;
        let mut total: u64 = 0;
        'bufs: for r in bufs {
            let mut got = 0;
            while got < r.len() {
                let at = offset.checked_add(total).ok_or(errno::OVERFLOW)?;
                match f.file.read_at(&mut mem[r.start + got..r.end], at) {
                    Ok(0) => break 'bufs,
                    Ok(n) => {
                        got += n;
                        total += n as u64;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if total == 0 => return Err(io_errno(&e)),
                    Err(_) => break 'bufs,
                }
            }
        }
        write_u32(mem, nread_ptr, count_u32(total)?)
    }

    pub fn fd_pwrite(
        &mut self,
        mem: &mut [u8],
        fd: u32,
        iovs: u32,
        count: u32,
        offset: u64,
        nwritten_ptr: u32,
    ) -> WasiResult {
        let bufs = iovecs(mem, iovs, count)?;
        check(mem, nwritten_ptr, 4)?;
        let f = self.positional(fd, errno::BADF)?;
        if f.rights & rights::FD_WRITE == 0 {
            return Err(errno::BADF);
        }
        f.need(rights::FD_SEEK)?;
        let mut total: u64 = 0;
        for r in bufs {
            let at = offset.checked_add(total).ok_or(errno::FBIG)?;
            match f.file.write_all_at(&mem[r.clone()], at) {
                Ok(()) => total += r.len() as u64,
                Err(e) if total == 0 => return Err(io_errno(&e)),
                Err(_) => break,
            }
        }
        f.after_write()?;
        write_u32(mem, nwritten_ptr, count_u32(total)?)
    }

    pub fn fd_seek(&mut self, mem: &mut [u8], fd: u32, offset: i64, whence: i32, new_ptr: u32) -> WasiResult {
        check(mem, new_ptr, 8)?;
        let f = self.positional(fd, errno::BADF)?;
        let tell = whence == 1 && offset == 0;
        let needed = if tell {
            rights::FD_TELL | rights::FD_SEEK
        } else {
            rights::FD_SEEK
        };
        if f.rights & needed == 0 {
            return Err(errno::NOTCAPABLE);
        }
        let pos = match whence {
            0 => SeekFrom::Start(u64::try_from(offset).map_err(|_| errno::INVAL)?),
            1 => SeekFrom::Current(offset),
            2 => SeekFrom::End(offset),
            _ => return Err(errno::INVAL),
        };
        let new = f.file.seek(pos).map_err(|e| io_errno(&e))?;
        write_u64(mem, new_ptr, new)
    }

    pub fn fd_tell(&mut self, mem: &mut [u8], fd: u32, ptr: u32) -> WasiResult {
        check(mem, ptr, 8)?;
        let f = self.positional(fd, errno::BADF)?;
        f.need(rights::FD_TELL)?;
        let at = f.file.stream_position().map_err(|e| io_errno(&e))?;
        write_u64(mem, ptr, at)
    }

    pub fn fd_close(&mut self, fd: u32) -> WasiResult {
        self.fd(fd)?;
        self.fds[fd as usize] = None;
        Ok(())
    }

    /// `fd_renumber(from, to)`: `from` moves to number `to`, closing what was
    /// there; both must be open (as in Wasmtime).
    pub fn fd_renumber(&mut self, from: u32, to: u32) -> WasiResult {
        self.fd(from)?;
        self.fd(to)?;
        if from != to {
            self.fds[to as usize] = self.fds[from as usize].take();
        }
        Ok(())
    }

    pub fn fd_fdstat_get(&mut self, mem: &mut [u8], fd: u32, stat_ptr: u32) -> WasiResult {
        check(mem, stat_ptr, 24)?;
        let (filetype, flags, base, inheriting) = match self.fd(fd)? {
            Fd::Stream { which } => (filetype::UNKNOWN, 0, stream_rights(*which), 0),
            Fd::Host { which, filetype, .. } => (*filetype, 0, stream_rights(*which), 0),
            Fd::Dir(d) => (filetype::DIRECTORY, 0, d.rights, d.inheriting),
            Fd::File(f) => (filetype::REGULAR_FILE, f.flags, f.rights, 0),
        };
        // fdstat: filetype u8 @0, flags u16 @2, rights_base u64 @8, rights_inheriting u64 @16.
        let mut stat = [0u8; 24];
        stat[0] = filetype;
        stat[2..4].copy_from_slice(&flags.to_le_bytes());
        stat[8..16].copy_from_slice(&base.to_le_bytes());
        stat[16..24].copy_from_slice(&inheriting.to_le_bytes());
        write_bytes(mem, stat_ptr, &stat)
    }

    pub fn fd_fdstat_set_flags(&mut self, fd: u32, flags: u32) -> WasiResult {
        let known = fdflags::APPEND | fdflags::DSYNC | fdflags::NONBLOCK | fdflags::RSYNC | fdflags::SYNC;
        let flags = u16::try_from(flags).map_err(|_| errno::INVAL)?;
        if flags & !known != 0 {
            return Err(errno::INVAL);
        }
        match self.fd(fd)? {
            Fd::File(f) => {
                f.need(rights::FD_FDSTAT_SET_FLAGS)?;
                if flags & fdflags::APPEND != 0 && f.rights & rights::FD_WRITE == 0 {
                    return Err(errno::NOTCAPABLE);
                }
                f.flags = flags;
                Ok(())
            }
            // Streams and directories have no flags to change.
            _ if flags == 0 => Ok(()),
            _ => Err(errno::NOTSUP),
        }
    }

    /// Rights can only be dropped: asking for one the fd lacks is `ENOTCAPABLE`.
    pub fn fd_fdstat_set_rights(&mut self, fd: u32, base: u64, inheriting: u64) -> WasiResult {
        match self.fd(fd)? {
            Fd::File(f) => {
                if base & !f.rights != 0 || inheriting != 0 {
                    return Err(errno::NOTCAPABLE);
                }
                f.rights = base;
                Ok(())
            }
            Fd::Dir(d) => {
                if base & !d.rights != 0 || inheriting & !d.inheriting != 0 {
                    return Err(errno::NOTCAPABLE);
                }
                d.rights = base;
                d.inheriting = inheriting;
                Ok(())
            }
            // The rights of stdio are what the stream can do; they stay.
            Fd::Stream { .. } | Fd::Host { .. } => Err(errno::NOTSUP),
        }
    }

    pub fn fd_filestat_get(&mut self, mem: &mut [u8], fd: u32, buf: u32) -> WasiResult {
        check(mem, buf, 64)?;
        match self.fd(fd)? {
            Fd::Stream { .. } => {
                let mut stat = [0u8; 64];
                stat[16] = filetype::UNKNOWN;
                write_bytes(mem, buf, &stat)
            }
            Fd::Host { file, filetype, .. } => {
                let ft = *filetype;
                write_filestat(mem, buf, &file_metadata(file)?, ft)
            }
            Fd::File(f) => {
                f.need(rights::FD_FILESTAT_GET)?;
                let m = file_metadata(&f.file)?;
                write_filestat(mem, buf, &m, filetype_of(&m.file_type()))
            }
            Fd::Dir(d) => {
                let m = d
                    .with(rights::FD_FILESTAT_GET)?
                    .dir_metadata()
                    .map_err(|e| io_errno(&e))?;
                write_filestat(mem, buf, &m, filetype::DIRECTORY)
            }
        }
    }

    pub fn fd_filestat_set_size(&mut self, fd: u32, size: u64) -> WasiResult {
        let f = self
            .positional(fd, errno::ISDIR)
            .map_err(|e| if e == errno::SPIPE { errno::INVAL } else { e })?;
        f.need(rights::FD_FILESTAT_SET_SIZE)?;
        f.file.set_len(size).map_err(|e| io_errno(&e))
    }

    pub fn fd_filestat_set_times(&mut self, fd: u32, atim: u64, mtim: u64, fst: u32) -> WasiResult {
        let (a, m) = time_specs(atim, mtim, fst)?;
        match self.fd(fd)? {
            Fd::File(f) => {
                f.need(rights::FD_FILESTAT_SET_TIMES)?;
                f.file.set_times(file_times(a, m)).map_err(|e| io_errno(&e))
            }
            Fd::Dir(d) => {
                let file = dir_file(d.with(rights::FD_FILESTAT_SET_TIMES)?)?;
                file.set_times(file_times(a, m)).map_err(|e| io_errno(&e))
            }
            // Stdio's times are the host's terminal's or pipe's: not the program's.
            Fd::Stream { .. } | Fd::Host { .. } => Err(errno::NOTSUP),
        }
    }

    pub fn fd_advise(&mut self, fd: u32, _offset: u64, _len: u64, advice: u32) -> WasiResult {
        let f = self.positional(fd, errno::BADF)?;
        f.need(rights::FD_ADVISE)?;
        // Advice is a hint: checked, then not acted on.
        if advice > 5 {
            return Err(errno::INVAL);
        }
        Ok(())
    }

    pub fn fd_allocate(&mut self, fd: u32, offset: u64, len: u64) -> WasiResult {
        let f = self.positional(fd, errno::BADF)?;
        f.need(rights::FD_ALLOCATE)?;
        let end = offset
            .checked_add(len)
            .filter(|&e| e <= i64::MAX as u64)
            .ok_or(errno::FBIG)?;
        let size = f.file.metadata().map_err(|e| io_errno(&e))?.len();
        if end > size {
            f.file.set_len(end).map_err(|e| io_errno(&e))?;
        }
        Ok(())
    }

    /// `fd_sync` (`data` false) and `fd_datasync` (`data` true).
    pub fn fd_sync(&mut self, fd: u32, data: bool) -> WasiResult {
        let right = if data { rights::FD_DATASYNC } else { rights::FD_SYNC };
        let result = match self.fd(fd)? {
            Fd::File(f) => {
                f.need(right)?;
                if data {
                    f.file.sync_data()
                } else {
                    f.file.sync_all()
                }
            }
            Fd::Dir(d) => dir_file(d.with(right)?)?.sync_all(),
            // As on Linux: a terminal or a pipe cannot be synced.
            Fd::Stream { .. } | Fd::Host { .. } => return Err(errno::INVAL),
        };
        result.map_err(|e| io_errno(&e))
    }

    fn preopen_name(&mut self, fd: u32) -> Result<String, Errno> {
        match self.fd(fd)? {
            Fd::Dir(DirFd {
                preopen: Some(name), ..
            }) => Ok(name.clone()),
            _ => Err(errno::BADF),
        }
    }

    pub fn fd_prestat_get(&mut self, mem: &mut [u8], fd: u32, prestat_ptr: u32) -> WasiResult {
        check(mem, prestat_ptr, 8)?;
        let name = self.preopen_name(fd)?;
        // prestat: tag u8 @0 (0: a directory), name length u32 @4.
        let mut prestat = [0u8; 8];
        prestat[4..8].copy_from_slice(&count_u32(name.len() as u64)?.to_le_bytes());
        write_bytes(mem, prestat_ptr, &prestat)
    }

    pub fn fd_prestat_dir_name(&mut self, mem: &mut [u8], fd: u32, path_ptr: u32, path_len: u32) -> WasiResult {
        let name = self.preopen_name(fd)?;
        if (path_len as usize) < name.len() {
            return Err(errno::NAMETOOLONG);
        }
        write_bytes(mem, path_ptr, name.as_bytes())
    }

    /// `fd_readdir(fd, buf, buf_len, cookie, bufused_ptr)`: entries from number
    /// `cookie` on (`.` is 0, `..` is 1, then the directory's entries in the
    /// host's order), each a 24-byte dirent (`d_next` u64 @0: the cookie of the
    /// next entry, `d_ino` u64 @8, `d_namlen` u32 @16, `d_type` u8 @20) and its
    /// name, until the buffer is full: the last entry may be cut short, and a
    /// full buffer tells the program to ask again from the last cookie. Only one
    /// entry is held at a time, whatever the directory's size.
    pub fn fd_readdir(
        &mut self,
        mem: &mut [u8],
        fd: u32,
        buf: u32,
        buf_len: u32,
        cookie: u64,
        used_ptr: u32,
    ) -> WasiResult {
        let out = range(mem, buf, buf_len as u64)?;
        check(mem, used_ptr, 4)?;
        let dir = match self.fd_ref(fd)? {
            Fd::Dir(d) => d.with(rights::FD_READDIR)?,
            _ => return Err(errno::NOTDIR),
        };
        let dot_ino = dir.dir_metadata().map(|m| m.ino()).unwrap_or(0);
        let mut at = out.start;
        let mut put = |mem: &mut [u8], next: u64, ino: u64, kind: u8, name: &[u8]| -> bool {
            let mut head = [0u8; 24];
            head[0..8].copy_from_slice(&next.to_le_bytes());
            head[8..16].copy_from_slice(&ino.to_le_bytes());
            head[16..20].copy_from_slice(&(name.len() as u32).to_le_bytes());
            head[20] = kind;
            for part in [&head[..], name] {
                let n = part.len().min(out.end - at);
                mem[at..at + n].copy_from_slice(&part[..n]);
                at += n;
            }
            at < out.end
        };
        let mut index: u64 = 0;
        let mut more = true;
        // `..` of a directory is outside what it grants: its inode is not told.
        for (name, ino) in [(&b"."[..], dot_ino), (b"..", 0)] {
            if more && index >= cookie {
                more = put(mem, index + 1, ino, filetype::DIRECTORY, name);
            }
            index += 1;
        }
        if more {
            let entries = dir.entries().map_err(|e| io_errno(&e))?;
            for entry in entries {
                let Ok(entry) = entry else { continue };
                if index >= cookie {
                    let kind = entry.file_type().map(|t| filetype_of(&t)).unwrap_or(filetype::UNKNOWN);
                    let ino = entry.metadata().map(|m| m.ino()).unwrap_or(0);
                    if !put(mem, index + 1, ino, kind, entry.file_name().as_bytes()) {
                        break;
                    }
                }
                index += 1;
            }
        }
        write_u32(mem, used_ptr, (at - out.start) as u32)
    }
}
