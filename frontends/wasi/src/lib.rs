//! A WASI preview1 subset for capjit, built on embedder host functions.
//!
//! UNTRUSTED, like every embedder host function: it sees a calling domain's
//! linear memory as a slice (`HostCall`) and nothing else of capjit, and it is
//! reached only through imports `= host.wasi_NAME` that a domain declares and
//! the embedder links. The Wasm frontend maps an import
//! `wasi_snapshot_preview1.NAME` to `= host.wasi_NAME` with the Wasm signature.
//!
//! What a program can reach is what the [`WasiCtx`] grants: its arguments and
//! environment (empty unless given), stdin, stdout and stderr (discarded or
//! empty unless given), the clocks, randomness, and files under the preopened
//! directories, read-only. Every pointer and length a program passes is checked
//! against its memory: a range outside it returns `EFAULT`, never a panic.
//!
//! ```
//! use capjit::ir::{parse_module, Val};
//! use capjit::{Config, Instance};
//! use capjit_wasi::{SharedBuffer, WasiCtx};
//!
//! let module = parse_module(
//!     r#"domain app {
//!          memory 1
//!          data 0 "\10\00\00\00\03\00\00\00"   ; one iovec: 3 bytes at 16
//!          data 16 "hi\0a"
//!          import fd_write = host.wasi_fd_write : (i32, i32, i32, i32) -> i32
//!          export func main() -> i32 {
//!          block0:
//!            v0 = iconst.i32 1                  ; stdout
//!            v1 = iconst.i32 0
//!            v2 = iconst.i32 1
//!            v3 = iconst.i32 8                  ; where the byte count goes
//!            v4 = cap.get fd_write
//!            call_cap v4(v0, v1, v2, v3) -> ok(block1), fail(block1)
//!          block1(v5: i32):                     ; the errno
//!            return v5
//!          }
//!        }"#,
//! )?;
//! let out = SharedBuffer::default();
//! let ctx = WasiCtx::builder().stdout(out.clone()).build()?;
//! let config = Config { host_functions: capjit_wasi::host_functions(ctx), ..Config::default() };
//! let mut instance = Instance::new(&module, &config, Box::new(std::io::sink()))?;
//! assert_eq!(instance.invoke("app", "main", &[])?, vec![Val::I32(0)]);
//! assert_eq!(out.text(), "hi\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use capjit_ir::host_fn::{HostCall, HostFailure, HostFn};
use capjit_ir::{Signature, Type, Val};

/// WASI errno values (preview1) this subset returns.
pub mod errno {
    pub const SUCCESS: i32 = 0;
    pub const ACCES: i32 = 2;
    pub const BADF: i32 = 8;
    pub const FAULT: i32 = 21;
    pub const ILSEQ: i32 = 25;
    pub const INVAL: i32 = 28;
    pub const IO: i32 = 29;
    pub const ISDIR: i32 = 31;
    pub const LOOP: i32 = 32;
    pub const MFILE: i32 = 33;
    pub const NAMETOOLONG: i32 = 37;
    pub const NOENT: i32 = 44;
    pub const NOTDIR: i32 = 54;
    pub const NOTSUP: i32 = 58;
    pub const OVERFLOW: i32 = 61;
    pub const PIPE: i32 = 64;
    pub const SPIPE: i32 = 70;
    pub const NOTCAPABLE: i32 = 76;
}

/// WASI rights bits (preview1) this subset grants or checks.
pub mod rights {
    pub const FD_DATASYNC: u64 = 1 << 0;
    pub const FD_READ: u64 = 1 << 1;
    pub const FD_SEEK: u64 = 1 << 2;
    pub const FD_TELL: u64 = 1 << 5;
    pub const FD_WRITE: u64 = 1 << 6;
    pub const FD_ADVISE: u64 = 1 << 7;
    pub const FD_ALLOCATE: u64 = 1 << 8;
    pub const PATH_OPEN: u64 = 1 << 13;
    pub const FD_READDIR: u64 = 1 << 14;
    pub const PATH_FILESTAT_GET: u64 = 1 << 18;
    pub const FD_FILESTAT_GET: u64 = 1 << 21;
    pub const FD_FILESTAT_SET_SIZE: u64 = 1 << 22;
    pub const POLL_FD_READWRITE: u64 = 1 << 27;

    /// What a file opened under a preopened directory may have: reading only.
    pub const FILE: u64 = FD_READ | FD_SEEK | FD_TELL | FD_ADVISE | FD_FILESTAT_GET | POLL_FD_READWRITE;
    /// What a directory descriptor may have: opening files below it.
    pub const DIR: u64 = PATH_OPEN | FD_READDIR | PATH_FILESTAT_GET | FD_FILESTAT_GET;
    /// Rights that would change a file: asking for any of them fails with `ENOTCAPABLE`.
    pub const WRITE: u64 = FD_DATASYNC | FD_WRITE | FD_ALLOCATE | FD_FILESTAT_SET_SIZE;
}

const FILETYPE_CHARACTER_DEVICE: u8 = 2;
const FILETYPE_DIRECTORY: u8 = 3;
const FILETYPE_REGULAR_FILE: u8 = 4;

const CLOCK_REALTIME: i32 = 0;
const CLOCK_MONOTONIC: i32 = 1;

const OFLAGS_CREAT: u32 = 1 << 0;
const OFLAGS_DIRECTORY: u32 = 1 << 1;
const OFLAGS_EXCL: u32 = 1 << 2;
const OFLAGS_TRUNC: u32 = 1 << 3;
const FDFLAGS_APPEND: u32 = 1 << 0;
const LOOKUP_SYMLINK_FOLLOW: u32 = 1 << 0;

/// Open descriptors a program may hold at once.
const MAX_FDS: usize = 1024;

/// What a program may reach through WASI. Build one with [`WasiCtx::builder`],
/// or fill in the fields.
pub struct WasiCtx {
    /// The program's arguments; by convention the first is the program's name.
    pub args: Vec<String>,
    /// Environment variables (none unless given).
    pub env: Vec<(String, String)>,
    /// fd 0 (empty unless given).
    pub stdin: Box<dyn Read + Send>,
    /// fd 1 (discarded unless given).
    pub stdout: Box<dyn Write + Send>,
    /// fd 2 (discarded unless given).
    pub stderr: Box<dyn Write + Send>,
    /// Directories the program may read below: `(name the program sees, host
    /// directory)`, as fd 3, 4, ... in this order.
    pub preopens: Vec<(String, PathBuf)>,
}

impl Default for WasiCtx {
    fn default() -> Self {
        WasiCtx {
            args: Vec::new(),
            env: Vec::new(),
            stdin: Box::new(io::empty()),
            stdout: Box::new(io::sink()),
            stderr: Box::new(io::sink()),
            preopens: Vec::new(),
        }
    }
}

impl WasiCtx {
    /// A context that grants nothing yet.
    ///
    /// ```
    /// let ctx = capjit_wasi::WasiCtx::builder()
    ///     .args(["prog", "--fast"])
    ///     .env("LANG", "C")
    ///     .inherit_stdio()
    ///     .preopened_dir(".", std::env::temp_dir())
    ///     .build()?;
    /// assert_eq!(ctx.args.len(), 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn builder() -> WasiCtxBuilder {
        WasiCtxBuilder {
            ctx: WasiCtx::default(),
        }
    }
}

/// Builds a [`WasiCtx`]; see [`WasiCtx::builder`].
pub struct WasiCtxBuilder {
    ctx: WasiCtx,
}

impl WasiCtxBuilder {
    /// Append one argument.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.ctx.args.push(arg.into());
        self
    }

    /// Append arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.ctx.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Add one environment variable.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.ctx.env.push((key.into(), value.into()));
        self
    }

    /// Add environment variables (e.g. `std::env::vars()`, to pass the host's on).
    pub fn envs<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.ctx.env.extend(vars.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    pub fn stdin(mut self, r: impl Read + Send + 'static) -> Self {
        self.ctx.stdin = Box::new(r);
        self
    }

    pub fn stdout(mut self, w: impl Write + Send + 'static) -> Self {
        self.ctx.stdout = Box::new(w);
        self
    }

    pub fn stderr(mut self, w: impl Write + Send + 'static) -> Self {
        self.ctx.stderr = Box::new(w);
        self
    }

    /// The host process's own stdin, stdout and stderr.
    pub fn inherit_stdio(self) -> Self {
        self.stdin(io::stdin()).stdout(io::stdout()).stderr(io::stderr())
    }

    /// Let the program read files below `host` under the name `guest` (fd 3 for
    /// the first, 4 for the next, ...).
    pub fn preopened_dir(mut self, guest: impl Into<String>, host: impl Into<PathBuf>) -> Self {
        self.ctx.preopens.push((guest.into(), host.into()));
        self
    }

    /// The context; fails when a preopened directory is not a directory.
    pub fn build(mut self) -> io::Result<WasiCtx> {
        for (guest, host) in &mut self.ctx.preopens {
            let canonical = host
                .canonicalize()
                .map_err(|e| io::Error::new(e.kind(), format!("directory `{}` for `{guest}`: {e}", host.display())))?;
            if !canonical.is_dir() {
                return Err(io::Error::new(
                    io::ErrorKind::NotADirectory,
                    format!("`{}` for `{guest}` is not a directory", host.display()),
                ));
            }
            *host = canonical;
        }
        Ok(self.ctx)
    }
}

/// A `Write` whose bytes can be read back, shared between clones: to capture a
/// program's stdout or stderr.
#[derive(Clone, Default)]
pub struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl SharedBuffer {
    /// Everything written so far.
    pub fn contents(&self) -> Vec<u8> {
        lock(&self.0).clone()
    }

    /// Everything written so far, as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.contents()).into_owned()
    }
}

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        lock(&self.0).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A lock that survives a panic of an earlier holder (the runtime turns a
/// panicking host function into a failed call, so the state must stay usable).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// An open descriptor.
enum Fd {
    Stdin,
    Stdout,
    Stderr,
    Dir {
        /// Canonical host path; nothing outside it is reachable through this fd.
        host: PathBuf,
        /// The name the program sees, for preopened directories.
        preopen: Option<String>,
        rights: u64,
    },
    File {
        file: File,
        rights: u64,
    },
}

/// The state all of a context's host functions share.
struct State {
    ctx: WasiCtx,
    fds: Vec<Option<Fd>>,
    started: Instant,
}

type Errno = i32;
type WasiResult = Result<(), Errno>;

// ---- memory ------------------------------------------------------------------

/// `mem[ptr .. ptr + len]` as a range, or `EFAULT` when it does not fit.
fn range(mem: &[u8], ptr: u32, len: u64) -> Result<std::ops::Range<usize>, Errno> {
    let end = ptr as u64 + len;
    if end > mem.len() as u64 {
        return Err(errno::FAULT);
    }
    Ok(ptr as usize..end as usize)
}

fn check(mem: &[u8], ptr: u32, len: u64) -> WasiResult {
    range(mem, ptr, len).map(|_| ())
}

fn read_u32(mem: &[u8], ptr: u32) -> Result<u32, Errno> {
    let r = range(mem, ptr, 4)?;
    let mut b = [0u8; 4];
    b.copy_from_slice(&mem[r]);
    Ok(u32::from_le_bytes(b))
}

fn write_bytes(mem: &mut [u8], ptr: u32, bytes: &[u8]) -> WasiResult {
    let r = range(mem, ptr, bytes.len() as u64)?;
    mem[r].copy_from_slice(bytes);
    Ok(())
}

fn write_u32(mem: &mut [u8], ptr: u32, v: u32) -> WasiResult {
    write_bytes(mem, ptr, &v.to_le_bytes())
}

fn write_u64(mem: &mut [u8], ptr: u32, v: u64) -> WasiResult {
    write_bytes(mem, ptr, &v.to_le_bytes())
}

/// Most iovecs one call may pass (POSIX `IOV_MAX`).
const MAX_IOVECS: u32 = 1024;

/// The `(ptr, len)` pairs of an iovec array, each checked against the memory.
fn iovecs(mem: &[u8], iovs: u32, count: u32) -> Result<Vec<std::ops::Range<usize>>, Errno> {
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

fn io_errno(e: &io::Error) -> Errno {
    match e.kind() {
        io::ErrorKind::NotFound => errno::NOENT,
        io::ErrorKind::PermissionDenied => errno::ACCES,
        io::ErrorKind::NotADirectory => errno::NOTDIR,
        io::ErrorKind::IsADirectory => errno::ISDIR,
        io::ErrorKind::InvalidInput => errno::INVAL,
        io::ErrorKind::BrokenPipe => errno::PIPE,
        _ => errno::IO,
    }
}

// ---- the functions -------------------------------------------------------------

fn open_fd(fds: &mut [Option<Fd>], fd: u32) -> Result<&mut Fd, Errno> {
    fds.get_mut(fd as usize).and_then(Option::as_mut).ok_or(errno::BADF)
}

impl State {
    fn new(ctx: WasiCtx) -> State {
        let mut fds = vec![Some(Fd::Stdin), Some(Fd::Stdout), Some(Fd::Stderr)];
        for (guest, host) in &ctx.preopens {
            // `build` canonicalized already; a context filled in by hand is
            // canonicalized here, and a directory that cannot be stays
            // unreachable (every open below it fails).
            let host = host.canonicalize().unwrap_or_else(|_| host.clone());
            fds.push(Some(Fd::Dir {
                host,
                preopen: Some(guest.clone()),
                rights: rights::DIR,
            }));
        }
        State {
            ctx,
            fds,
            started: Instant::now(),
        }
    }

    fn fd(&mut self, fd: u32) -> Result<&mut Fd, Errno> {
        open_fd(&mut self.fds, fd)
    }

    fn args_sizes_get(strings: &[String], mem: &mut [u8], count_ptr: u32, size_ptr: u32) -> WasiResult {
        check(mem, count_ptr, 4)?;
        check(mem, size_ptr, 4)?;
        let size: u64 = strings.iter().map(|s| s.len() as u64 + 1).sum();
        let size = u32::try_from(size).map_err(|_| errno::OVERFLOW)?;
        let count = u32::try_from(strings.len()).map_err(|_| errno::OVERFLOW)?;
        write_u32(mem, count_ptr, count)?;
        write_u32(mem, size_ptr, size)
    }

    /// Pointers to NUL-terminated strings at `ptrs`, the strings at `buf`.
    fn args_get(strings: &[String], mem: &mut [u8], ptrs: u32, buf: u32) -> WasiResult {
        let size: u64 = strings.iter().map(|s| s.len() as u64 + 1).sum();
        check(mem, ptrs, strings.len() as u64 * 4)?;
        check(mem, buf, size)?;
        let mut at = buf;
        for (i, s) in strings.iter().enumerate() {
            write_u32(mem, ptrs + 4 * i as u32, at)?;
            write_bytes(mem, at, s.as_bytes())?;
            write_bytes(mem, at + s.len() as u32, &[0])?;
            at += s.len() as u32 + 1;
        }
        Ok(())
    }

    fn env_strings(&self) -> Vec<String> {
        self.ctx.env.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }

    fn clock_time_get(&self, mem: &mut [u8], id: i32, time_ptr: u32) -> WasiResult {
        check(mem, time_ptr, 8)?;
        let ns = match id {
            CLOCK_REALTIME => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_err(|_| errno::OVERFLOW)?
                .as_nanos(),
            CLOCK_MONOTONIC => self.started.elapsed().as_nanos(),
            _ => return Err(errno::INVAL),
        };
        write_u64(mem, time_ptr, u64::try_from(ns).map_err(|_| errno::OVERFLOW)?)
    }

    fn clock_res_get(mem: &mut [u8], id: i32, res_ptr: u32) -> WasiResult {
        check(mem, res_ptr, 8)?;
        match id {
            CLOCK_REALTIME | CLOCK_MONOTONIC => write_u64(mem, res_ptr, 1),
            _ => Err(errno::INVAL),
        }
    }

    fn fd_write(&mut self, mem: &mut [u8], fd: u32, iovs: u32, count: u32, written_ptr: u32) -> WasiResult {
        let bufs = iovecs(mem, iovs, count)?;
        check(mem, written_ptr, 4)?;
        let out: &mut dyn Write = match open_fd(&mut self.fds, fd)? {
            Fd::Stdout => &mut *self.ctx.stdout,
            Fd::Stderr => &mut *self.ctx.stderr,
            // Nothing else is open for writing.
            _ => return Err(errno::BADF),
        };
        let mut total: u64 = 0;
        for r in bufs {
            total += r.len() as u64;
            out.write_all(&mem[r]).map_err(|e| io_errno(&e))?;
        }
        out.flush().map_err(|e| io_errno(&e))?;
        write_u32(mem, written_ptr, u32::try_from(total).map_err(|_| errno::OVERFLOW)?)
    }

    fn fd_read(&mut self, mem: &mut [u8], fd: u32, iovs: u32, count: u32, read_ptr: u32) -> WasiResult {
        let bufs = iovecs(mem, iovs, count)?;
        check(mem, read_ptr, 4)?;
        let input: &mut dyn Read = match open_fd(&mut self.fds, fd)? {
            Fd::Stdin => &mut *self.ctx.stdin,
            Fd::File { file, rights } if *rights & rights::FD_READ != 0 => file,
            Fd::Dir { .. } => return Err(errno::ISDIR),
            _ => return Err(errno::BADF),
        };
        let mut total: u64 = 0;
        'bufs: for r in bufs {
            let want = r.len();
            let mut got = 0;
            while got < want {
                match input.read(&mut mem[r.start + got..r.end]) {
                    Ok(0) => break 'bufs,
                    Ok(n) => {
                        got += n;
                        total += n as u64;
                        // A short read (a pipe, a terminal): return what there is.
                        if got < want {
                            break 'bufs;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if total == 0 => return Err(io_errno(&e)),
                    Err(_) => break 'bufs,
                }
            }
        }
        write_u32(mem, read_ptr, u32::try_from(total).map_err(|_| errno::OVERFLOW)?)
    }

    fn fd_seek(&mut self, mem: &mut [u8], fd: u32, offset: i64, whence: i32, new_ptr: u32) -> WasiResult {
        check(mem, new_ptr, 8)?;
        let (file, rights) = match self.fd(fd)? {
            Fd::File { file, rights } => (file, *rights),
            Fd::Stdin | Fd::Stdout | Fd::Stderr => return Err(errno::SPIPE),
            Fd::Dir { .. } => return Err(errno::BADF),
        };
        let tell = whence == 1 && offset == 0;
        let needed = if tell {
            rights::FD_TELL | rights::FD_SEEK
        } else {
            rights::FD_SEEK
        };
        if rights & needed == 0 {
            return Err(errno::NOTCAPABLE);
        }
        let pos = match whence {
            0 => SeekFrom::Start(u64::try_from(offset).map_err(|_| errno::INVAL)?),
            1 => SeekFrom::Current(offset),
            2 => SeekFrom::End(offset),
            _ => return Err(errno::INVAL),
        };
        let new = file.seek(pos).map_err(|e| io_errno(&e))?;
        write_u64(mem, new_ptr, new)
    }

    fn fd_close(&mut self, fd: u32) -> WasiResult {
        self.fd(fd)?;
        self.fds[fd as usize] = None;
        Ok(())
    }

    fn fd_fdstat_get(&mut self, mem: &mut [u8], fd: u32, stat_ptr: u32) -> WasiResult {
        check(mem, stat_ptr, 24)?;
        let (filetype, base, inheriting) = match self.fd(fd)? {
            Fd::Stdin => (
                FILETYPE_CHARACTER_DEVICE,
                rights::FD_READ | rights::POLL_FD_READWRITE,
                0,
            ),
            Fd::Stdout | Fd::Stderr => (
                FILETYPE_CHARACTER_DEVICE,
                rights::FD_WRITE | rights::POLL_FD_READWRITE,
                0,
            ),
            Fd::Dir { rights, .. } => (FILETYPE_DIRECTORY, *rights, rights::FILE | rights::DIR),
            Fd::File { rights, .. } => (FILETYPE_REGULAR_FILE, *rights, 0),
        };
        // fdstat: filetype u8 @0, flags u16 @2 (none), rights_base u64 @8, rights_inheriting u64 @16.
        let mut stat = [0u8; 24];
        stat[0] = filetype;
        stat[8..16].copy_from_slice(&base.to_le_bytes());
        stat[16..24].copy_from_slice(&inheriting.to_le_bytes());
        write_bytes(mem, stat_ptr, &stat)
    }

    fn preopen_name(&mut self, fd: u32) -> Result<String, Errno> {
        match self.fd(fd)? {
            Fd::Dir {
                preopen: Some(name), ..
            } => Ok(name.clone()),
            _ => Err(errno::BADF),
        }
    }

    fn fd_prestat_get(&mut self, mem: &mut [u8], fd: u32, prestat_ptr: u32) -> WasiResult {
        check(mem, prestat_ptr, 8)?;
        let name = self.preopen_name(fd)?;
        // prestat: tag u8 @0 (0: a directory), name length u32 @4.
        let mut prestat = [0u8; 8];
        let len = u32::try_from(name.len()).map_err(|_| errno::OVERFLOW)?;
        prestat[4..8].copy_from_slice(&len.to_le_bytes());
        write_bytes(mem, prestat_ptr, &prestat)
    }

    fn fd_prestat_dir_name(&mut self, mem: &mut [u8], fd: u32, path_ptr: u32, path_len: u32) -> WasiResult {
        let name = self.preopen_name(fd)?;
        if (path_len as usize) < name.len() {
            return Err(errno::NAMETOOLONG);
        }
        write_bytes(mem, path_ptr, name.as_bytes())
    }

    #[allow(clippy::too_many_arguments)]
    fn path_open(
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
        let path_range = range(mem, path.0, path.1 as u64)?;
        // The host copies the path: a guest must not make it copy gigabytes.
        if path_range.len() > MAX_PATH_BYTES {
            return Err(errno::NAMETOOLONG);
        }
        let path_bytes = mem[path_range].to_vec();
        check(mem, fd_ptr, 4)?;
        let (dir, dir_rights) = match self.fd(dirfd)? {
            Fd::Dir { host, rights, .. } => (host.clone(), *rights),
            _ => return Err(errno::NOTDIR),
        };
        if dir_rights & rights::PATH_OPEN == 0 {
            return Err(errno::NOTCAPABLE);
        }
        // Read-only: nothing that creates, truncates or writes.
        if oflags & (OFLAGS_CREAT | OFLAGS_EXCL | OFLAGS_TRUNC) != 0
            || fdflags & FDFLAGS_APPEND != 0
            || rights_base & rights::WRITE != 0
        {
            return Err(errno::NOTCAPABLE);
        }
        let target = resolve(&dir, &path_bytes, dirflags & LOOKUP_SYMLINK_FOLLOW != 0)?;
        let meta = std::fs::metadata(&target).map_err(|e| io_errno(&e))?;
        let fd = if meta.is_dir() {
            Fd::Dir {
                host: target,
                preopen: None,
                rights: rights_base & rights::DIR,
            }
        } else if oflags & OFLAGS_DIRECTORY != 0 {
            return Err(errno::NOTDIR);
        } else if meta.is_file() {
            let file = File::open(&target).map_err(|e| io_errno(&e))?;
            Fd::File {
                file,
                rights: rights_base & rights::FILE,
            }
        } else {
            // Devices, sockets and pipes are not files to read here.
            return Err(errno::NOTSUP);
        };
        let slot = match self.fds.iter().position(Option::is_none) {
            Some(free) => free,
            None if self.fds.len() < MAX_FDS => {
                self.fds.push(None);
                self.fds.len() - 1
            }
            None => return Err(errno::MFILE),
        };
        self.fds[slot] = Some(fd);
        write_u32(mem, fd_ptr, slot as u32)
    }
}

/// The host path `path` names below the directory `dir` (canonical), or why not:
/// an absolute path or one that climbs out of `dir` by `..` is refused before
/// the file system is asked, and what it resolves to (symlinks followed) must
/// lie inside `dir`; `ENOTCAPABLE` otherwise.
/// The longest path a guest may pass (Linux's PATH_MAX).
const MAX_PATH_BYTES: usize = 4096;

fn resolve(dir: &Path, path: &[u8], follow_final_symlink: bool) -> Result<PathBuf, Errno> {
    let path = std::str::from_utf8(path).map_err(|_| errno::ILSEQ)?;
    if path.contains('\0') {
        return Err(errno::INVAL);
    }
    if path.is_empty() {
        return Err(errno::NOENT);
    }
    let mut depth: u32 = 0;
    for c in Path::new(path).components() {
        match c {
            Component::Prefix(_) | Component::RootDir => return Err(errno::NOTCAPABLE),
            Component::CurDir => {}
            Component::ParentDir => depth = depth.checked_sub(1).ok_or(errno::NOTCAPABLE)?,
            Component::Normal(_) => depth += 1,
        }
    }
    let joined = dir.join(path);
    if !follow_final_symlink {
        let meta = std::fs::symlink_metadata(&joined).map_err(|e| io_errno(&e))?;
        if meta.file_type().is_symlink() {
            return Err(errno::LOOP);
        }
    }
    let canonical = joined.canonicalize().map_err(|e| io_errno(&e))?;
    if !canonical.starts_with(dir) {
        return Err(errno::NOTCAPABLE);
    }
    Ok(canonical)
}

// ---- host functions --------------------------------------------------------------

fn u32_arg(args: &[Val], i: usize) -> u32 {
    match args.get(i) {
        Some(Val::I32(v)) => *v as u32,
        _ => 0, // `HostFn::call` checked the arguments against the signature
    }
}

fn i64_arg(args: &[Val], i: usize) -> i64 {
    match args.get(i) {
        Some(Val::I64(v)) => *v,
        _ => 0,
    }
}

type WasiFn = fn(&mut State, &mut [u8], &[Val]) -> WasiResult;

const I32: Type = Type::I32;
const I64: Type = Type::I64;

/// Every function but `proc_exit`: name, parameters (the result is the errno).
const FUNCTIONS: &[(&str, &[Type], WasiFn)] = &[
    ("args_sizes_get", &[I32, I32], |s, m, a| {
        State::args_sizes_get(&s.ctx.args, m, u32_arg(a, 0), u32_arg(a, 1))
    }),
    ("args_get", &[I32, I32], |s, m, a| {
        State::args_get(&s.ctx.args, m, u32_arg(a, 0), u32_arg(a, 1))
    }),
    ("environ_sizes_get", &[I32, I32], |s, m, a| {
        State::args_sizes_get(&s.env_strings(), m, u32_arg(a, 0), u32_arg(a, 1))
    }),
    ("environ_get", &[I32, I32], |s, m, a| {
        State::args_get(&s.env_strings(), m, u32_arg(a, 0), u32_arg(a, 1))
    }),
    ("clock_time_get", &[I32, I64, I32], |s, m, a| {
        s.clock_time_get(m, u32_arg(a, 0) as i32, u32_arg(a, 2))
    }),
    ("clock_res_get", &[I32, I32], |_, m, a| {
        State::clock_res_get(m, u32_arg(a, 0) as i32, u32_arg(a, 1))
    }),
    ("random_get", &[I32, I32], |_, m, a| {
        let r = range(m, u32_arg(a, 0), u32_arg(a, 1) as u64)?;
        getrandom::fill(&mut m[r]).map_err(|_| errno::IO)
    }),
    ("sched_yield", &[], |_, _, _| {
        std::thread::yield_now();
        Ok(())
    }),
    ("fd_write", &[I32, I32, I32, I32], |s, m, a| {
        s.fd_write(m, u32_arg(a, 0), u32_arg(a, 1), u32_arg(a, 2), u32_arg(a, 3))
    }),
    ("fd_read", &[I32, I32, I32, I32], |s, m, a| {
        s.fd_read(m, u32_arg(a, 0), u32_arg(a, 1), u32_arg(a, 2), u32_arg(a, 3))
    }),
    ("fd_seek", &[I32, I64, I32, I32], |s, m, a| {
        s.fd_seek(m, u32_arg(a, 0), i64_arg(a, 1), u32_arg(a, 2) as i32, u32_arg(a, 3))
    }),
    ("fd_close", &[I32], |s, _, a| s.fd_close(u32_arg(a, 0))),
    ("fd_fdstat_get", &[I32, I32], |s, m, a| {
        s.fd_fdstat_get(m, u32_arg(a, 0), u32_arg(a, 1))
    }),
    ("fd_prestat_get", &[I32, I32], |s, m, a| {
        s.fd_prestat_get(m, u32_arg(a, 0), u32_arg(a, 1))
    }),
    ("fd_prestat_dir_name", &[I32, I32, I32], |s, m, a| {
        s.fd_prestat_dir_name(m, u32_arg(a, 0), u32_arg(a, 1), u32_arg(a, 2))
    }),
    (
        "path_open",
        &[I32, I32, I32, I32, I32, I64, I64, I32, I32],
        |s, m, a| {
            let path = (u32_arg(a, 2), u32_arg(a, 3));
            // Argument 6, the rights files opened below the new fd inherit, is
            // bounded by `rights::FILE` whatever it says.
            s.path_open(
                m,
                u32_arg(a, 0),
                u32_arg(a, 1),
                path,
                u32_arg(a, 4),
                i64_arg(a, 5) as u64,
                u32_arg(a, 7),
                u32_arg(a, 8),
            )
        },
    ),
];

/// The names this crate defines, without the `wasi_` prefix, `proc_exit` included.
pub fn function_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = FUNCTIONS.iter().map(|(n, _, _)| *n).collect();
    names.push("proc_exit");
    names
}

/// The WASI functions as host functions named `wasi_NAME`, all sharing `ctx`:
/// pass them in `capjit::Config::host_functions`. Each returns the WASI errno
/// as an i32, except `wasi_proc_exit(i32)`, which ends the calling domain's
/// activation with that exit status (`RunError::Exit` when the host called it).
pub fn host_functions(ctx: WasiCtx) -> Vec<HostFn> {
    let state = Arc::new(Mutex::new(State::new(ctx)));
    let mut fns: Vec<HostFn> = FUNCTIONS
        .iter()
        .filter_map(|&(name, params, f)| {
            let state = Arc::clone(&state);
            let sig = Signature {
                params: params.to_vec(),
                results: vec![Type::I32],
            };
            HostFn::new(
                format!("wasi_{name}"),
                sig,
                move |call: &mut HostCall<'_>, args: &[Val]| {
                    let errno = match f(&mut lock(&state), call.memory_mut(), args) {
                        Ok(()) => errno::SUCCESS,
                        Err(e) => e,
                    };
                    Ok(vec![Val::I32(errno)])
                },
            )
            .ok()
        })
        .collect();
    let exit_sig = Signature {
        params: vec![Type::I32],
        results: vec![],
    };
    fns.extend(
        HostFn::new("wasi_proc_exit", exit_sig, |_: &mut HostCall<'_>, args: &[Val]| {
            Err(HostFailure::Exit(u32_arg(args, 0) as i32))
        })
        .ok(),
    );
    fns
}
