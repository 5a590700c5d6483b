//! The state a context's host functions share: the descriptor table (stdio,
//! directories as `cap_std::fs::Dir`, files), how stdio is told apart (terminal,
//! pipe, regular file), host errors as WASI errnos, and the `filestat` layout.

use std::fs::File;
use std::io::{self, IsTerminal};
use std::os::fd::AsFd;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use cap_std::fs::{Dir, FileType, FileTypeExt, Metadata, MetadataExt};

use crate::ctx::WasiCtx;
use crate::mem::{write_bytes, Errno, WasiResult};
use crate::{errno, filetype, rights};

/// Open descriptors a program may hold at once.
pub(crate) const MAX_FDS: usize = 1024;

/// An open descriptor.
pub(crate) enum Fd {
    /// fd 0, 1 or 2 as one of the context's boxed streams (`which` says which):
    /// an embedder buffer, never a terminal.
    Stream {
        which: u8,
    },
    /// fd 0, 1 or 2 inherited from the host when it is not a regular file (a
    /// terminal, a pipe, a socket, a device): read and written through a
    /// duplicate of the host descriptor; `filetype` is `CHARACTER_DEVICE` for a
    /// terminal and `UNKNOWN` for anything else.
    Host {
        file: File,
        which: u8,
        filetype: u8,
    },
    Dir(DirFd),
    /// A regular file (opened below a directory, or inherited stdio that is one).
    File(FileFd),
}

pub(crate) struct DirFd {
    /// `None` when a preopened directory could not be opened: every operation
    /// below it then fails with `ENOENT`.
    pub dir: Option<Dir>,
    /// The name the program sees, for preopened directories.
    pub preopen: Option<String>,
    pub rights: u64,
    /// What descriptors opened below it may have (a bound, not a grant).
    pub inheriting: u64,
}

pub(crate) struct FileFd {
    pub file: File,
    pub rights: u64,
    /// WASI fdflags: `APPEND` (every write goes to the end, emulated: the host
    /// file is never opened `O_APPEND`, so `fd_pwrite` stays positional),
    /// `DSYNC`/`RSYNC`/`SYNC` (each write is followed by a sync), `NONBLOCK`
    /// (recorded; a regular file never blocks).
    pub flags: u16,
}

impl DirFd {
    /// The directory, if `needed` is among the fd's rights.
    pub fn with(&self, needed: u64) -> Result<&Dir, Errno> {
        if self.rights & needed != needed {
            return Err(errno::NOTCAPABLE);
        }
        self.dir.as_ref().ok_or(errno::NOENT)
    }
}

/// The state all of a context's host functions share.
pub(crate) struct State {
    pub ctx: WasiCtx,
    pub fds: Vec<Option<Fd>>,
    pub started: Instant,
}

impl State {
    pub fn new(ctx: WasiCtx) -> State {
        let mut fds: Vec<Option<Fd>> = (0..3u8).map(|which| Some(stdio_fd(&ctx, which))).collect();
        for p in &ctx.preopens {
            // `build` canonicalized already; a directory that cannot be opened
            // stays listed (fd numbers do not shift) and unreachable.
            let dir = Dir::open_ambient_dir(&p.host, cap_std::ambient_authority()).ok();
            let (base, inheriting) = if p.writable {
                (rights::DIR | rights::DIR_WRITE, rights::ALL_FILE | rights::ALL_DIR)
            } else {
                (rights::DIR, rights::FILE | rights::DIR)
            };
            fds.push(Some(Fd::Dir(DirFd {
                dir,
                preopen: Some(p.guest.clone()),
                rights: base,
                inheriting,
            })));
        }
        State {
            ctx,
            fds,
            started: Instant::now(),
        }
    }

    pub fn fd(&mut self, fd: u32) -> Result<&mut Fd, Errno> {
        self.fds
            .get_mut(fd as usize)
            .and_then(Option::as_mut)
            .ok_or(errno::BADF)
    }

    pub fn fd_ref(&self, fd: u32) -> Result<&Fd, Errno> {
        self.fds.get(fd as usize).and_then(Option::as_ref).ok_or(errno::BADF)
    }

    /// A directory fd (`ENOTDIR` for any other open fd).
    pub fn dir(&self, fd: u32) -> Result<&DirFd, Errno> {
        match self.fd_ref(fd)? {
            Fd::Dir(d) => Ok(d),
            _ => Err(errno::NOTDIR),
        }
    }

    /// Put `fd` in the lowest free slot; its number.
    pub fn insert(&mut self, fd: Fd) -> Result<u32, Errno> {
        let slot = match self.fds.iter().position(Option::is_none) {
            Some(free) => free,
            None if self.fds.len() < MAX_FDS => {
                self.fds.push(None);
                self.fds.len() - 1
            }
            None => return Err(errno::MFILE),
        };
        self.fds[slot] = Some(fd);
        Ok(slot as u32)
    }

    /// Nanoseconds on the monotonic clock (from the context's creation).
    pub fn monotonic_ns(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// Nanoseconds since the Unix epoch.
pub(crate) fn realtime_ns() -> Result<u64, Errno> {
    let ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| errno::OVERFLOW)?
        .as_nanos();
    u64::try_from(ns).map_err(|_| errno::OVERFLOW)
}

/// What fd `which` (0, 1, 2) of a new state is.
fn stdio_fd(ctx: &WasiCtx, which: u8) -> Fd {
    if !ctx.inherited[which as usize] {
        return Fd::Stream { which };
    }
    let host = match which {
        0 => io::stdin().as_fd().try_clone_to_owned(),
        1 => io::stdout().as_fd().try_clone_to_owned(),
        _ => io::stderr().as_fd().try_clone_to_owned(),
    };
    // A host descriptor that is closed (or cannot be duplicated) falls back to
    // the boxed stream, which reports itself as not a terminal.
    let Ok(host) = host else {
        return Fd::Stream { which };
    };
    let file = File::from(host);
    let is_file = file.metadata().map(|m| m.is_file()).unwrap_or(false);
    if is_file {
        let dir_rights = if which == 0 { rights::FD_READ } else { rights::FD_WRITE };
        return Fd::File(FileFd {
            file,
            rights: dir_rights | rights::STDIO_FILE,
            flags: 0,
        });
    }
    let filetype = if file.is_terminal() {
        filetype::CHARACTER_DEVICE
    } else {
        filetype::UNKNOWN
    };
    Fd::Host { file, which, filetype }
}

/// The rights of a stdio stream (fd 0 reads, 1 and 2 write); never seek or tell,
/// so that wasi-libc's `isatty` depends on the file type alone.
pub(crate) fn stream_rights(which: u8) -> u64 {
    let io = if which == 0 { rights::FD_READ } else { rights::FD_WRITE };
    io | rights::POLL_FD_READWRITE | rights::FD_FILESTAT_GET | rights::FD_FDSTAT_SET_FLAGS
}

/// A host error as a WASI errno. An escape refused by `cap-std` (a
/// `PermissionDenied` that the OS did not raise) is `ENOTCAPABLE`.
pub(crate) fn io_errno(e: &io::Error) -> Errno {
    use io::ErrorKind as K;
    // Linux's ELOOP, ENAMETOOLONG, EBADF (no stable `ErrorKind` for them).
    match e.raw_os_error() {
        Some(40) => return errno::LOOP,
        Some(36) => return errno::NAMETOOLONG,
        Some(9) => return errno::BADF,
        _ => {}
    }
    match e.kind() {
        K::PermissionDenied if e.raw_os_error().is_none() => errno::NOTCAPABLE,
        K::PermissionDenied if e.raw_os_error() == Some(1) => errno::PERM,
        K::PermissionDenied => errno::ACCES,
        K::NotFound => errno::NOENT,
        K::AlreadyExists => errno::EXIST,
        K::NotADirectory => errno::NOTDIR,
        K::IsADirectory => errno::ISDIR,
        K::DirectoryNotEmpty => errno::NOTEMPTY,
        K::InvalidInput | K::InvalidFilename => errno::INVAL,
        K::BrokenPipe => errno::PIPE,
        K::CrossesDevices => errno::XDEV,
        K::ReadOnlyFilesystem => errno::ROFS,
        K::StorageFull => errno::NOSPC,
        K::FileTooLarge => errno::FBIG,
        K::ResourceBusy => errno::BUSY,
        K::Unsupported => errno::NOTSUP,
        K::WouldBlock => errno::AGAIN,
        K::Interrupted => errno::INTR,
        K::TooManyLinks => errno::MLINK,
        K::NotSeekable => errno::SPIPE,
        _ => errno::IO,
    }
}

pub(crate) fn filetype_of(t: &FileType) -> u8 {
    if t.is_dir() {
        filetype::DIRECTORY
    } else if t.is_file() {
        filetype::REGULAR_FILE
    } else if t.is_symlink() {
        filetype::SYMBOLIC_LINK
    } else if t.is_char_device() {
        filetype::CHARACTER_DEVICE
    } else if t.is_block_device() {
        filetype::BLOCK_DEVICE
    } else if t.is_socket() {
        filetype::SOCKET_STREAM
    } else {
        filetype::UNKNOWN
    }
}

fn ns(secs: i64, nsec: i64) -> u64 {
    (secs.max(0) as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(nsec.max(0) as u64)
}

/// `filestat` (64 bytes): dev u64 @0, ino u64 @8, filetype u8 @16, nlink u64
/// @24, size u64 @32, atim u64 @40, mtim u64 @48, ctim u64 @56.
pub(crate) fn filestat_bytes(m: &Metadata, filetype: u8) -> [u8; 64] {
    let mut b = [0u8; 64];
    b[0..8].copy_from_slice(&m.dev().to_le_bytes());
    b[8..16].copy_from_slice(&m.ino().to_le_bytes());
    b[16] = filetype;
    b[24..32].copy_from_slice(&m.nlink().to_le_bytes());
    b[32..40].copy_from_slice(&m.size().to_le_bytes());
    b[40..48].copy_from_slice(&ns(m.atime(), m.atime_nsec()).to_le_bytes());
    b[48..56].copy_from_slice(&ns(m.mtime(), m.mtime_nsec()).to_le_bytes());
    b[56..64].copy_from_slice(&ns(m.ctime(), m.ctime_nsec()).to_le_bytes());
    b
}

pub(crate) fn write_filestat(mem: &mut [u8], ptr: u32, m: &Metadata, filetype: u8) -> WasiResult {
    write_bytes(mem, ptr, &filestat_bytes(m, filetype))
}

pub(crate) fn file_metadata(file: &File) -> Result<Metadata, Errno> {
    Metadata::from_file(file).map_err(|e| io_errno(&e))
}
