//! The `path_*` functions. Every path is relative to a directory fd and goes
//! through a `cap_std::fs::Dir` method, which resolves it beneath that
//! directory (Linux `openat2(RESOLVE_BENEATH)`, or component by component)
//! and refuses anything that would leave it: `..` above it, absolute paths,
//! symlinks (the guest's own included, in any component) leading out. Before
//! that, the text itself is checked (`..` above the start and absolute paths
//! are `ENOTCAPABLE` without asking the file system), and so are the fd's rights:
//! a read-only grant lacks every right that changes something, so such calls
//! are `ENOTCAPABLE`.

use std::path::{Component, Path};

use cap_fs_ext::{DirExt, FollowSymlinks, OpenOptionsFollowExt, OpenOptionsMaybeDirExt, SystemTimeSpec};
use cap_std::fs::{Dir, OpenOptions};

use crate::fd_ops::{time_specs, TimeSpec};
use crate::mem::{check, guest_path, range, write_bytes, write_u32, Errno, WasiResult};
use crate::state::{file_metadata, filetype_of, io_errno, write_filestat, DirFd, Fd, FileFd, State};
use crate::{errno, fdflags, filetype, rights};

const OFLAGS_CREAT: u32 = 1 << 0;
const OFLAGS_DIRECTORY: u32 = 1 << 1;
const OFLAGS_EXCL: u32 = 1 << 2;
const OFLAGS_TRUNC: u32 = 1 << 3;
const LOOKUP_SYMLINK_FOLLOW: u32 = 1 << 0;

/// Refuse, from the text alone, a path that is absolute or whose `..` climbs
/// above the directory it starts from (`ENOTCAPABLE`).
fn check_relative(path: &str) -> WasiResult {
    let mut depth: u32 = 0;
    for c in Path::new(path).components() {
        match c {
            Component::Prefix(_) | Component::RootDir => return Err(errno::NOTCAPABLE),
            Component::CurDir => {}
            Component::ParentDir => depth = depth.checked_sub(1).ok_or(errno::NOTCAPABLE)?,
            Component::Normal(_) => depth += 1,
        }
    }
    Ok(())
}

/// The guest's path at `(ptr, len)`, checked (memory, length, text, escape).
fn path_arg(mem: &[u8], ptr: u32, len: u32) -> Result<String, Errno> {
    let path = guest_path(mem, ptr, len)?;
    check_relative(&path)?;
    Ok(path)
}

fn to_spec(t: Option<TimeSpec>) -> Option<SystemTimeSpec> {
    t.map(|t| match t {
        TimeSpec::Now => SystemTimeSpec::SymbolicNow,
        TimeSpec::At(t) => SystemTimeSpec::Absolute(cap_std::time::SystemTime::from_std(t)),
    })
}

fn io<T>(r: std::io::Result<T>) -> Result<T, Errno> {
    r.map_err(|e| io_errno(&e))
}

impl State {
    /// The directory of fd `fd` when it has every right in `needed`.
    fn dir_with(&self, fd: u32, needed: u64) -> Result<&Dir, Errno> {
        self.dir(fd)?.with(needed)
    }

    #[allow(clippy::too_many_arguments)]
    pub fn path_open(
        &mut self,
        mem: &mut [u8],
        dirfd: u32,
        dirflags: u32,
        path: (u32, u32),
        oflags: u32,
        rights_base: u64,
        fdflags: u32,
        fd_ptr: u32,
    ) -> WasiResult {
        let path = path_arg(mem, path.0, path.1)?;
        check(mem, fd_ptr, 4)?;
        let parent = self.dir(dirfd)?;
        if parent.rights & rights::PATH_OPEN == 0 {
            return Err(errno::NOTCAPABLE);
        }
        let fdflags = u16::try_from(fdflags).map_err(|_| errno::INVAL)?;
        if oflags & !(OFLAGS_CREAT | OFLAGS_DIRECTORY | OFLAGS_EXCL | OFLAGS_TRUNC) != 0 {
            return Err(errno::INVAL);
        }
        // What the call would change must be granted: creating (and `EXCL`,
        // which only means something with it) needs `path_create_file`,
        // truncating `path_filestat_set_size`, writing or appending `fd_write`
        // among the rights files below may have.
        let creates = oflags & (OFLAGS_CREAT | OFLAGS_EXCL) != 0;
        let truncates = oflags & OFLAGS_TRUNC != 0;
        let appends = fdflags & fdflags::APPEND != 0;
        if (creates && parent.rights & rights::PATH_CREATE_FILE == 0)
            || (truncates && parent.rights & rights::PATH_FILESTAT_SET_SIZE == 0)
            || rights_base & rights::WRITE & !parent.inheriting != 0
            || (appends && parent.inheriting & rights::FD_WRITE == 0)
        {
            return Err(errno::NOTCAPABLE);
        }
        // Other rights a file cannot have here are dropped, as WASI libcs expect.
        let file_rights = rights_base & parent.inheriting & rights::ALL_FILE;
        let dir_rights = rights_base & parent.inheriting & rights::ALL_DIR;
        let inheriting = parent.inheriting;
        let dir = parent.dir.as_ref().ok_or(errno::NOENT)?;
        let follow = if dirflags & LOOKUP_SYMLINK_FOLLOW != 0 {
            FollowSymlinks::Yes
        } else {
            FollowSymlinks::No
        };
        let fd = if oflags & OFLAGS_DIRECTORY != 0 {
            if creates || truncates || appends {
                return Err(errno::INVAL);
            }
            let sub = match follow {
                FollowSymlinks::Yes => dir.open_dir(&path),
                FollowSymlinks::No => dir.open_dir_nofollow(&path),
            };
            Fd::Dir(DirFd {
                dir: Some(io(sub)?),
                preopen: None,
                rights: dir_rights,
                inheriting,
            })
        } else {
            // The host opens for writing whatever may write, and what creates
            // (the host refuses to create a file it does not open for writing).
            let writes = creates
                || truncates
                || appends
                || file_rights & (rights::FD_WRITE | rights::FD_ALLOCATE | rights::FD_FILESTAT_SET_SIZE) != 0;
            let reads = file_rights & rights::FD_READ != 0 || !writes;
            let mut opts = OpenOptions::new();
            opts.read(reads)
                .write(writes)
                .create(oflags & OFLAGS_CREAT != 0)
                .create_new(oflags & (OFLAGS_CREAT | OFLAGS_EXCL) == OFLAGS_CREAT | OFLAGS_EXCL)
                .truncate(truncates)
                .follow(follow)
                .maybe_dir(!writes);
            let file = io(dir.open_with(&path, &opts))?.into_std();
            let meta = file_metadata(&file)?;
            let kind = filetype_of(&meta.file_type());
            if kind == filetype::DIRECTORY {
                Fd::Dir(DirFd {
                    dir: Some(Dir::from_std_file(file)),
                    preopen: None,
                    rights: dir_rights,
                    inheriting,
                })
            } else if kind == filetype::REGULAR_FILE {
                Fd::File(FileFd {
                    file,
                    rights: file_rights,
                    flags: fdflags,
                })
            } else {
                // Devices, sockets and pipes are not files to use here.
                return Err(errno::NOTSUP);
            }
        };
        let new = self.insert(fd)?;
        write_u32(mem, fd_ptr, new)
    }

    pub fn path_create_directory(&mut self, mem: &mut [u8], fd: u32, path: (u32, u32)) -> WasiResult {
        let path = path_arg(mem, path.0, path.1)?;
        io(self.dir_with(fd, rights::PATH_CREATE_DIRECTORY)?.create_dir(path))
    }

    pub fn path_remove_directory(&mut self, mem: &mut [u8], fd: u32, path: (u32, u32)) -> WasiResult {
        let path = path_arg(mem, path.0, path.1)?;
        io(self.dir_with(fd, rights::PATH_REMOVE_DIRECTORY)?.remove_dir(path))
    }

    pub fn path_unlink_file(&mut self, mem: &mut [u8], fd: u32, path: (u32, u32)) -> WasiResult {
        let path = path_arg(mem, path.0, path.1)?;
        let dir = self.dir_with(fd, rights::PATH_UNLINK_FILE)?;
        // Linux's unlink says EISDIR for a directory; preview1 programs expect it.
        if io(dir.symlink_metadata(&path))?.is_dir() {
            return Err(errno::ISDIR);
        }
        io(dir.remove_file(path))
    }

    pub fn path_filestat_get(&mut self, mem: &mut [u8], fd: u32, flags: u32, path: (u32, u32), buf: u32) -> WasiResult {
        let path = path_arg(mem, path.0, path.1)?;
        check(mem, buf, 64)?;
        let dir = self.dir_with(fd, rights::PATH_FILESTAT_GET)?;
        let meta = if flags & LOOKUP_SYMLINK_FOLLOW != 0 {
            dir.metadata(path)
        } else {
            dir.symlink_metadata(path)
        };
        let meta = io(meta)?;
        write_filestat(mem, buf, &meta, filetype_of(&meta.file_type()))
    }

    #[allow(clippy::too_many_arguments)]
    pub fn path_filestat_set_times(
        &mut self,
        mem: &mut [u8],
        fd: u32,
        flags: u32,
        path: (u32, u32),
        atim: u64,
        mtim: u64,
        fst: u32,
    ) -> WasiResult {
        let path = path_arg(mem, path.0, path.1)?;
        let (a, m) = time_specs(atim, mtim, fst)?;
        let dir = self.dir_with(fd, rights::PATH_FILESTAT_SET_TIMES)?;
        if flags & LOOKUP_SYMLINK_FOLLOW != 0 {
            io(dir.set_times(path, to_spec(a), to_spec(m)))
        } else {
            io(dir.set_symlink_times(path, to_spec(a), to_spec(m)))
        }
    }

    pub fn path_rename(
        &mut self,
        mem: &mut [u8],
        fd: u32,
        old: (u32, u32),
        new_fd: u32,
        new: (u32, u32),
    ) -> WasiResult {
        let old = path_arg(mem, old.0, old.1)?;
        let new = path_arg(mem, new.0, new.1)?;
        let from = self.dir_with(fd, rights::PATH_RENAME_SOURCE)?;
        let to = self.dir_with(new_fd, rights::PATH_RENAME_TARGET)?;
        io(from.rename(old, to, new))
    }

    /// `path_link`: a hard link. With `LOOKUP_SYMLINK_FOLLOW` on a symlink the
    /// answer is `ENOTSUP` (the link would be to the symlink's target, which
    /// this implementation does not resolve for linking).
    #[allow(clippy::too_many_arguments)]
    pub fn path_link(
        &mut self,
        mem: &mut [u8],
        old_fd: u32,
        old_flags: u32,
        old: (u32, u32),
        new_fd: u32,
        new: (u32, u32),
    ) -> WasiResult {
        let old = path_arg(mem, old.0, old.1)?;
        let new = path_arg(mem, new.0, new.1)?;
        let from = self.dir_with(old_fd, rights::PATH_LINK_SOURCE)?;
        let to = self.dir_with(new_fd, rights::PATH_LINK_TARGET)?;
        if old_flags & LOOKUP_SYMLINK_FOLLOW != 0 && io(from.symlink_metadata(&old))?.is_symlink() {
            return Err(errno::NOTSUP);
        }
        io(from.hard_link(old, to, new))
    }

    /// `path_symlink(target, fd, link)`: the target is text stored in the link;
    /// an absolute one is `ENOTCAPABLE` (it could never resolve inside), a
    /// relative one that climbs out is stored, and following it later is refused.
    pub fn path_symlink(&mut self, mem: &mut [u8], target: (u32, u32), fd: u32, link: (u32, u32)) -> WasiResult {
        let target = guest_path(mem, target.0, target.1)?;
        let link = path_arg(mem, link.0, link.1)?;
        if Path::new(&target).has_root() {
            return Err(errno::NOTCAPABLE);
        }
        io(self.dir_with(fd, rights::PATH_SYMLINK)?.symlink(target, link))
    }

    /// `path_readlink`: the link's text, cut to the buffer (as POSIX `readlink`).
    pub fn path_readlink(
        &mut self,
        mem: &mut [u8],
        fd: u32,
        path: (u32, u32),
        buf: (u32, u32),
        used_ptr: u32,
    ) -> WasiResult {
        let path = path_arg(mem, path.0, path.1)?;
        let out = range(mem, buf.0, buf.1 as u64)?;
        check(mem, used_ptr, 4)?;
        let dir = self.dir_with(fd, rights::PATH_READLINK)?;
        let target = io(dir.read_link_contents(path))?;
        let bytes = std::os::unix::ffi::OsStrExt::as_bytes(target.as_os_str());
        let n = bytes.len().min(out.len());
        write_bytes(mem, buf.0, &bytes[..n])?;
        write_u32(mem, used_ptr, n as u32)
    }
}
