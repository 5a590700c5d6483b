//! WASI preview1 for capjit, built on embedder host functions: all 46
//! functions bound, each implemented or answering an honest errno.
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
//! directories (read-write or read-only), reached only through `cap-std`, so
//! that no path leads out of them. Every pointer and length a program passes
//! is checked against its memory: a range outside it returns `EFAULT`, never a
//! panic. See `docs/wasi.md` for the table of functions and the sandbox.
//!
//! Modules: `ctx` (what is granted), `mem` (guest memory), `state` (the
//! descriptor table), `fd_ops`, `path_ops`, `poll` (the functions), and here
//! the table binding each name to its signature.
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

mod ctx;
mod fd_ops;
mod mem;
mod path_ops;
mod poll;
mod state;

use std::sync::{Arc, Mutex};

use capjit_ir::host_fn::{HostCall, HostFailure, HostFn};
use capjit_ir::{Signature, Type, Val};

pub use ctx::{Preopen, SharedBuffer, WasiCtx, WasiCtxBuilder};

use ctx::lock;
use mem::{check, range, write_u64, WasiResult};
use state::{realtime_ns, State};

pub(crate) use mem::Errno;

/// WASI errno values (preview1) this crate returns.
pub mod errno {
    pub const SUCCESS: i32 = 0;
    pub const ACCES: i32 = 2;
    pub const AGAIN: i32 = 6;
    pub const BADF: i32 = 8;
    pub const BUSY: i32 = 10;
    pub const EXIST: i32 = 20;
    pub const FAULT: i32 = 21;
    pub const FBIG: i32 = 22;
    pub const ILSEQ: i32 = 25;
    pub const INTR: i32 = 27;
    pub const INVAL: i32 = 28;
    pub const IO: i32 = 29;
    pub const ISDIR: i32 = 31;
    pub const LOOP: i32 = 32;
    pub const MFILE: i32 = 33;
    pub const MLINK: i32 = 34;
    pub const NAMETOOLONG: i32 = 37;
    pub const NOENT: i32 = 44;
    pub const NOSPC: i32 = 51;
    pub const NOSYS: i32 = 52;
    pub const NOTDIR: i32 = 54;
    pub const NOTEMPTY: i32 = 55;
    pub const NOTSOCK: i32 = 57;
    pub const NOTSUP: i32 = 58;
    pub const OVERFLOW: i32 = 61;
    pub const PERM: i32 = 63;
    pub const PIPE: i32 = 64;
    pub const ROFS: i32 = 69;
    pub const SPIPE: i32 = 70;
    pub const XDEV: i32 = 75;
    pub const NOTCAPABLE: i32 = 76;
}

/// WASI rights bits (preview1), and the sets this crate grants.
pub mod rights {
    pub const FD_DATASYNC: u64 = 1 << 0;
    pub const FD_READ: u64 = 1 << 1;
    pub const FD_SEEK: u64 = 1 << 2;
    pub const FD_FDSTAT_SET_FLAGS: u64 = 1 << 3;
    pub const FD_SYNC: u64 = 1 << 4;
    pub const FD_TELL: u64 = 1 << 5;
    pub const FD_WRITE: u64 = 1 << 6;
    pub const FD_ADVISE: u64 = 1 << 7;
    pub const FD_ALLOCATE: u64 = 1 << 8;
    pub const PATH_CREATE_DIRECTORY: u64 = 1 << 9;
    pub const PATH_CREATE_FILE: u64 = 1 << 10;
    pub const PATH_LINK_SOURCE: u64 = 1 << 11;
    pub const PATH_LINK_TARGET: u64 = 1 << 12;
    pub const PATH_OPEN: u64 = 1 << 13;
    pub const FD_READDIR: u64 = 1 << 14;
    pub const PATH_READLINK: u64 = 1 << 15;
    pub const PATH_RENAME_SOURCE: u64 = 1 << 16;
    pub const PATH_RENAME_TARGET: u64 = 1 << 17;
    pub const PATH_FILESTAT_GET: u64 = 1 << 18;
    pub const PATH_FILESTAT_SET_SIZE: u64 = 1 << 19;
    pub const PATH_FILESTAT_SET_TIMES: u64 = 1 << 20;
    pub const FD_FILESTAT_GET: u64 = 1 << 21;
    pub const FD_FILESTAT_SET_SIZE: u64 = 1 << 22;
    pub const FD_FILESTAT_SET_TIMES: u64 = 1 << 23;
    pub const PATH_SYMLINK: u64 = 1 << 24;
    pub const PATH_REMOVE_DIRECTORY: u64 = 1 << 25;
    pub const PATH_UNLINK_FILE: u64 = 1 << 26;
    pub const POLL_FD_READWRITE: u64 = 1 << 27;
    pub const SOCK_SHUTDOWN: u64 = 1 << 28;
    pub const SOCK_ACCEPT: u64 = 1 << 29;

    /// What a file opened below a read-only directory may have: reading.
    pub const FILE: u64 = FD_READ | FD_SEEK | FD_TELL | FD_ADVISE | FD_FILESTAT_GET | POLL_FD_READWRITE | FD_SYNC;
    /// The rights that need a writable file: asking `path_open` for any of them
    /// where they cannot be granted fails with `ENOTCAPABLE` (other rights that
    /// cannot be granted are dropped).
    pub const WRITE: u64 = FD_DATASYNC | FD_WRITE | FD_ALLOCATE | FD_FILESTAT_SET_SIZE;
    /// Everything a file below a writable directory may have.
    pub const ALL_FILE: u64 = FILE | WRITE | FD_FILESTAT_SET_TIMES | FD_FDSTAT_SET_FLAGS;
    /// What a read-only directory descriptor may have: opening, listing, stat.
    pub const DIR: u64 = PATH_OPEN | FD_READDIR | PATH_FILESTAT_GET | FD_FILESTAT_GET | PATH_READLINK | FD_SYNC;
    /// What a writable directory adds: every change below it.
    pub const DIR_WRITE: u64 = PATH_CREATE_DIRECTORY
        | PATH_CREATE_FILE
        | PATH_LINK_SOURCE
        | PATH_LINK_TARGET
        | PATH_RENAME_SOURCE
        | PATH_RENAME_TARGET
        | PATH_FILESTAT_SET_SIZE
        | PATH_FILESTAT_SET_TIMES
        | FD_FILESTAT_SET_TIMES
        | PATH_SYMLINK
        | PATH_REMOVE_DIRECTORY
        | PATH_UNLINK_FILE
        | FD_DATASYNC;
    /// Everything a directory below a writable directory may have.
    pub const ALL_DIR: u64 = DIR | DIR_WRITE;
    /// Inherited stdio that is a regular file has these, besides reading (fd 0)
    /// or writing (1, 2): it can seek, so wasi-libc's `isatty` says no.
    pub const STDIO_FILE: u64 = FD_SEEK | FD_TELL | FD_ADVISE | FD_FILESTAT_GET | POLL_FD_READWRITE | FD_SYNC;
}

/// WASI file types (preview1).
pub mod filetype {
    pub const UNKNOWN: u8 = 0;
    pub const BLOCK_DEVICE: u8 = 1;
    pub const CHARACTER_DEVICE: u8 = 2;
    pub const DIRECTORY: u8 = 3;
    pub const REGULAR_FILE: u8 = 4;
    pub const SOCKET_DGRAM: u8 = 5;
    pub const SOCKET_STREAM: u8 = 6;
    pub const SYMBOLIC_LINK: u8 = 7;
}

/// WASI fdflags (preview1).
pub mod fdflags {
    pub const APPEND: u16 = 1 << 0;
    pub const DSYNC: u16 = 1 << 1;
    pub const NONBLOCK: u16 = 1 << 2;
    pub const RSYNC: u16 = 1 << 3;
    pub const SYNC: u16 = 1 << 4;
}

const CLOCK_REALTIME: u32 = 0;
const CLOCK_MONOTONIC: u32 = 1;

/// Signals (preview1 numbering) whose default action is to be ignored.
const SIGNALS_IGNORED: [u32; 4] = [16, 17, 22, 27]; // CHLD, CONT, URG, WINCH
/// Signals whose default action stops the process: there is nothing to stop
/// and resume a domain with, so `proc_raise` answers `ENOTSUP`.
const SIGNALS_STOP: [u32; 4] = [18, 19, 20, 21]; // STOP, TSTP, TTIN, TTOU

impl State {
    fn clock_time_get(&self, mem: &mut [u8], id: u32, time_ptr: u32) -> WasiResult {
        check(mem, time_ptr, 8)?;
        let ns = match id {
            CLOCK_REALTIME => realtime_ns()?,
            CLOCK_MONOTONIC => self.monotonic_ns(),
            // The CPU-time clocks (2, 3) are not offered.
            _ => return Err(errno::INVAL),
        };
        write_u64(mem, time_ptr, ns)
    }

    fn clock_res_get(mem: &mut [u8], id: u32, res_ptr: u32) -> WasiResult {
        check(mem, res_ptr, 8)?;
        match id {
            CLOCK_REALTIME | CLOCK_MONOTONIC => write_u64(mem, res_ptr, 1),
            _ => Err(errno::INVAL),
        }
    }

    fn args_sizes_get(strings: &[String], mem: &mut [u8], count_ptr: u32, size_ptr: u32) -> WasiResult {
        check(mem, count_ptr, 4)?;
        check(mem, size_ptr, 4)?;
        let size: u64 = strings.iter().map(|s| s.len() as u64 + 1).sum();
        mem::write_u32(mem, count_ptr, mem::count_u32(strings.len() as u64)?)?;
        mem::write_u32(mem, size_ptr, mem::count_u32(size)?)
    }

    /// Pointers to NUL-terminated strings at `ptrs`, the strings at `buf`.
    fn args_get(strings: &[String], mem: &mut [u8], ptrs: u32, buf: u32) -> WasiResult {
        let size: u64 = strings.iter().map(|s| s.len() as u64 + 1).sum();
        check(mem, ptrs, strings.len() as u64 * 4)?;
        check(mem, buf, size)?;
        let mut at = buf;
        for (i, s) in strings.iter().enumerate() {
            mem::write_u32(mem, ptrs + 4 * i as u32, at)?;
            mem::write_bytes(mem, at, s.as_bytes())?;
            mem::write_bytes(mem, at + s.len() as u32, &[0])?;
            at += s.len() as u32 + 1;
        }
        Ok(())
    }

    fn env_strings(&self) -> Vec<String> {
        self.ctx.env.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }

    /// Socket functions: no socket is ever open (none is granted), so an open
    /// fd is `ENOTSOCK` and any other `EBADF`.
    fn not_a_socket(&mut self, fd: u32) -> WasiResult {
        self.fd(fd)?;
        Err(errno::NOTSOCK)
    }
}

// ---- the table -----------------------------------------------------------------

fn u(args: &[Val], i: usize) -> u32 {
    match args.get(i) {
        Some(Val::I32(v)) => *v as u32,
        _ => 0, // `HostFn::call` checked the arguments against the signature
    }
}

fn l(args: &[Val], i: usize) -> u64 {
    match args.get(i) {
        Some(Val::I64(v)) => *v as u64,
        _ => 0,
    }
}

type WasiFn = fn(&mut State, &mut [u8], &[Val]) -> WasiResult;

const I32: Type = Type::I32;
const I64: Type = Type::I64;

/// Every function returning an errno (all but `proc_exit` and `proc_raise`):
/// name, parameters, what it does. The signatures are preview1's
/// (`wasi_snapshot_preview1.witx`, wasi-libc's `api.h`).
const FUNCTIONS: &[(&str, &[Type], WasiFn)] = &[
    ("args_get", &[I32, I32], |s, m, a| {
        State::args_get(&s.ctx.args, m, u(a, 0), u(a, 1))
    }),
    ("args_sizes_get", &[I32, I32], |s, m, a| {
        State::args_sizes_get(&s.ctx.args, m, u(a, 0), u(a, 1))
    }),
    ("environ_get", &[I32, I32], |s, m, a| {
        State::args_get(&s.env_strings(), m, u(a, 0), u(a, 1))
    }),
    ("environ_sizes_get", &[I32, I32], |s, m, a| {
        State::args_sizes_get(&s.env_strings(), m, u(a, 0), u(a, 1))
    }),
    ("clock_res_get", &[I32, I32], |_, m, a| {
        State::clock_res_get(m, u(a, 0), u(a, 1))
    }),
    ("clock_time_get", &[I32, I64, I32], |s, m, a| {
        s.clock_time_get(m, u(a, 0), u(a, 2))
    }),
    ("fd_advise", &[I32, I64, I64, I32], |s, _, a| {
        s.fd_advise(u(a, 0), l(a, 1), l(a, 2), u(a, 3))
    }),
    ("fd_allocate", &[I32, I64, I64], |s, _, a| {
        s.fd_allocate(u(a, 0), l(a, 1), l(a, 2))
    }),
    ("fd_close", &[I32], |s, _, a| s.fd_close(u(a, 0))),
    ("fd_datasync", &[I32], |s, _, a| s.fd_sync(u(a, 0), true)),
    ("fd_fdstat_get", &[I32, I32], |s, m, a| {
        s.fd_fdstat_get(m, u(a, 0), u(a, 1))
    }),
    ("fd_fdstat_set_flags", &[I32, I32], |s, _, a| {
        s.fd_fdstat_set_flags(u(a, 0), u(a, 1))
    }),
    ("fd_fdstat_set_rights", &[I32, I64, I64], |s, _, a| {
        s.fd_fdstat_set_rights(u(a, 0), l(a, 1), l(a, 2))
    }),
    ("fd_filestat_get", &[I32, I32], |s, m, a| {
        s.fd_filestat_get(m, u(a, 0), u(a, 1))
    }),
    ("fd_filestat_set_size", &[I32, I64], |s, _, a| {
        s.fd_filestat_set_size(u(a, 0), l(a, 1))
    }),
    ("fd_filestat_set_times", &[I32, I64, I64, I32], |s, _, a| {
        s.fd_filestat_set_times(u(a, 0), l(a, 1), l(a, 2), u(a, 3))
    }),
    ("fd_pread", &[I32, I32, I32, I64, I32], |s, m, a| {
        s.fd_pread(m, u(a, 0), u(a, 1), u(a, 2), l(a, 3), u(a, 4))
    }),
    ("fd_prestat_get", &[I32, I32], |s, m, a| {
        s.fd_prestat_get(m, u(a, 0), u(a, 1))
    }),
    ("fd_prestat_dir_name", &[I32, I32, I32], |s, m, a| {
        s.fd_prestat_dir_name(m, u(a, 0), u(a, 1), u(a, 2))
    }),
    ("fd_pwrite", &[I32, I32, I32, I64, I32], |s, m, a| {
        s.fd_pwrite(m, u(a, 0), u(a, 1), u(a, 2), l(a, 3), u(a, 4))
    }),
    ("fd_read", &[I32, I32, I32, I32], |s, m, a| {
        s.fd_read(m, u(a, 0), u(a, 1), u(a, 2), u(a, 3))
    }),
    ("fd_readdir", &[I32, I32, I32, I64, I32], |s, m, a| {
        s.fd_readdir(m, u(a, 0), u(a, 1), u(a, 2), l(a, 3), u(a, 4))
    }),
    ("fd_renumber", &[I32, I32], |s, _, a| s.fd_renumber(u(a, 0), u(a, 1))),
    ("fd_seek", &[I32, I64, I32, I32], |s, m, a| {
        s.fd_seek(m, u(a, 0), l(a, 1) as i64, u(a, 2) as i32, u(a, 3))
    }),
    ("fd_sync", &[I32], |s, _, a| s.fd_sync(u(a, 0), false)),
    ("fd_tell", &[I32, I32], |s, m, a| s.fd_tell(m, u(a, 0), u(a, 1))),
    ("fd_write", &[I32, I32, I32, I32], |s, m, a| {
        s.fd_write(m, u(a, 0), u(a, 1), u(a, 2), u(a, 3))
    }),
    ("path_create_directory", &[I32, I32, I32], |s, m, a| {
        s.path_create_directory(m, u(a, 0), (u(a, 1), u(a, 2)))
    }),
    ("path_filestat_get", &[I32, I32, I32, I32, I32], |s, m, a| {
        s.path_filestat_get(m, u(a, 0), u(a, 1), (u(a, 2), u(a, 3)), u(a, 4))
    }),
    (
        "path_filestat_set_times",
        &[I32, I32, I32, I32, I64, I64, I32],
        |s, m, a| s.path_filestat_set_times(m, u(a, 0), u(a, 1), (u(a, 2), u(a, 3)), l(a, 4), l(a, 5), u(a, 6)),
    ),
    ("path_link", &[I32, I32, I32, I32, I32, I32, I32], |s, m, a| {
        s.path_link(m, u(a, 0), u(a, 1), (u(a, 2), u(a, 3)), u(a, 4), (u(a, 5), u(a, 6)))
    }),
    (
        "path_open",
        &[I32, I32, I32, I32, I32, I64, I64, I32, I32],
        |s, m, a| {
            // Argument 6, the rights of descriptors opened below a new directory
            // fd, is not taken: a directory inherits its parent's bound.
            s.path_open(
                m,
                u(a, 0),
                u(a, 1),
                (u(a, 2), u(a, 3)),
                u(a, 4),
                l(a, 5),
                u(a, 7),
                u(a, 8),
            )
        },
    ),
    ("path_readlink", &[I32, I32, I32, I32, I32, I32], |s, m, a| {
        s.path_readlink(m, u(a, 0), (u(a, 1), u(a, 2)), (u(a, 3), u(a, 4)), u(a, 5))
    }),
    ("path_remove_directory", &[I32, I32, I32], |s, m, a| {
        s.path_remove_directory(m, u(a, 0), (u(a, 1), u(a, 2)))
    }),
    ("path_rename", &[I32, I32, I32, I32, I32, I32], |s, m, a| {
        s.path_rename(m, u(a, 0), (u(a, 1), u(a, 2)), u(a, 3), (u(a, 4), u(a, 5)))
    }),
    ("path_symlink", &[I32, I32, I32, I32, I32], |s, m, a| {
        s.path_symlink(m, (u(a, 0), u(a, 1)), u(a, 2), (u(a, 3), u(a, 4)))
    }),
    ("path_unlink_file", &[I32, I32, I32], |s, m, a| {
        s.path_unlink_file(m, u(a, 0), (u(a, 1), u(a, 2)))
    }),
    ("poll_oneoff", &[I32, I32, I32, I32], |s, m, a| {
        s.poll_oneoff(m, u(a, 0), u(a, 1), u(a, 2), u(a, 3))
    }),
    ("random_get", &[I32, I32], |_, m, a| {
        let r = range(m, u(a, 0), u(a, 1) as u64)?;
        getrandom::fill(&mut m[r]).map_err(|_| errno::IO)
    }),
    ("sched_yield", &[], |_, _, _| {
        std::thread::yield_now();
        Ok(())
    }),
    ("sock_accept", &[I32, I32, I32], |s, _, a| s.not_a_socket(u(a, 0))),
    ("sock_recv", &[I32, I32, I32, I32, I32, I32], |s, _, a| {
        s.not_a_socket(u(a, 0))
    }),
    ("sock_send", &[I32, I32, I32, I32, I32], |s, _, a| {
        s.not_a_socket(u(a, 0))
    }),
    ("sock_shutdown", &[I32, I32], |s, _, a| s.not_a_socket(u(a, 0))),
];

/// The names this crate defines, without the `wasi_` prefix: all 46 of preview1.
pub fn function_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = FUNCTIONS.iter().map(|(n, _, _)| *n).collect();
    names.extend(["proc_exit", "proc_raise"]);
    names
}

/// What `proc_raise(sig)` does: `Ok(errno)` to return, or the exit status
/// (128 + sig, as a shell reports a process a signal killed).
fn raise(sig: u32) -> Result<i32, i32> {
    match sig {
        0 => Ok(errno::SUCCESS),
        s if SIGNALS_IGNORED.contains(&s) => Ok(errno::SUCCESS),
        s if SIGNALS_STOP.contains(&s) => Ok(errno::NOTSUP),
        1..=30 => Err(128 + sig as i32),
        _ => Ok(errno::INVAL),
    }
}

/// The WASI functions as host functions named `wasi_NAME`, all sharing `ctx`:
/// pass them in `capjit::Config::host_functions`. Each returns the WASI errno
/// as an i32, except `wasi_proc_exit(i32)`, which ends the calling domain's
/// activation with that exit status (`RunError::Exit` when the host called it),
/// and `wasi_proc_raise(i32) -> i32`, which does the same with status 128 + the
/// signal for a signal whose default action ends a process.
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
            Err(HostFailure::Exit(u(args, 0) as i32))
        })
        .ok(),
    );
    let raise_sig = Signature {
        params: vec![Type::I32],
        results: vec![Type::I32],
    };
    fns.extend(
        HostFn::new(
            "wasi_proc_raise",
            raise_sig,
            |_: &mut HostCall<'_>, args: &[Val]| match raise(u(args, 0)) {
                Ok(errno) => Ok(vec![Val::I32(errno)]),
                Err(status) => Err(HostFailure::Exit(status)),
            },
        )
        .ok(),
    );
    fns
}
