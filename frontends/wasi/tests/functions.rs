//! Each WASI function driven directly against a memory buffer, through the host
//! functions `capjit_wasi::host_functions` returns: results, errno values, and
//! hostile pointers and lengths (never a panic, never a write outside the
//! ranges the call names).

use std::path::PathBuf;

mod common;

use capjit_ir::host_fn::HostFailure;
use capjit_wasi::{errno, rights, SharedBuffer, WasiCtx};
use common::*;

/// An iovec array at `at`: (ptr, len) pairs.
fn put_iovecs(mem: &mut [u8], at: usize, iovs: &[(u32, u32)]) {
    for (i, &(p, l)) in iovs.iter().enumerate() {
        put_u32(mem, at + 8 * i, p);
        put_u32(mem, at + 8 * i + 4, l);
    }
}

/// Hostile pointers and lengths for a memory of `len` bytes.
fn hostile(len: u32) -> Vec<i64> {
    vec![
        len as i64,
        len as i64 - 1,
        len as i64 - 3,
        u32::MAX as i64,
        u32::MAX as i64 - 3,
        i32::MAX as i64,
        0x8000_0000,
    ]
}

#[test]
fn fd_write_gathers_iovecs_to_stdout_and_stderr() {
    let (out, err) = (SharedBuffer::default(), SharedBuffer::default());
    let w = Wasi::new(
        WasiCtx::builder()
            .stdout(out.clone())
            .stderr(err.clone())
            .build()
            .unwrap(),
    );
    let mut mem = vec![0u8; 256];
    mem[100..105].copy_from_slice(b"hello");
    mem[120..127].copy_from_slice(b", world");
    put_iovecs(&mut mem, 0, &[(100, 5), (120, 7), (0, 0)]);
    assert_eq!(w.call(&mut mem, "fd_write", &[1, 0, 3, 64]), errno::SUCCESS);
    assert_eq!(u32_at(&mem, 64), 12);
    assert_eq!(out.text(), "hello, world");
    assert_eq!(w.call(&mut mem, "fd_write", &[2, 0, 1, 64]), errno::SUCCESS);
    assert_eq!(err.text(), "hello");
    // No iovecs: nothing written, count 0.
    assert_eq!(w.call(&mut mem, "fd_write", &[1, 0, 0, 64]), errno::SUCCESS);
    assert_eq!(u32_at(&mem, 64), 0);
    // Not open for writing: stdin, a preopen-less fd 3, anything else.
    for fd in [0, 3, 99, -1] {
        assert_eq!(w.call(&mut mem, "fd_write", &[fd, 0, 1, 64]), errno::BADF, "fd {fd}");
    }
    assert_eq!(out.text(), "hello, world");
}

#[test]
fn fd_write_hostile_pointers_are_efault_and_write_nothing() {
    let out = SharedBuffer::default();
    let w = Wasi::new(WasiCtx::builder().stdout(out.clone()).build().unwrap());
    let mut mem = vec![0u8; 256];
    let len = mem.len() as u32;
    for p in hostile(len) {
        // The iovec array itself outside the memory.
        assert_eq!(w.call(&mut mem, "fd_write", &[1, p, 1, 64]), errno::FAULT, "iovs {p}");
        // An iovec pointing outside, after a good one.
        put_iovecs(&mut mem, 0, &[(100, 4), (p as u32, 4)]);
        assert_eq!(w.call(&mut mem, "fd_write", &[1, 0, 2, 64]), errno::FAULT, "buf {p}");
        // A length running past the end.
        put_iovecs(&mut mem, 0, &[(100, 4), (200, p as u32)]);
        assert_eq!(w.call(&mut mem, "fd_write", &[1, 0, 2, 64]), errno::FAULT, "len {p}");
        // The count pointer outside.
        put_iovecs(&mut mem, 0, &[(100, 4)]);
        assert_eq!(
            w.call(&mut mem, "fd_write", &[1, 0, 1, p]),
            errno::FAULT,
            "nwritten {p}"
        );
        // So many iovecs that the array wraps or runs out.
        let expect = if p as u32 > 1024 { errno::INVAL } else { errno::FAULT };
        assert_eq!(w.call(&mut mem, "fd_write", &[1, 0, p, 64]), expect);
    }
    assert_eq!(out.contents(), b"", "nothing written on a fault");
    // An empty memory: every pointer is outside.
    assert_eq!(w.call(&mut [], "fd_write", &[1, 0, 1, 0]), errno::FAULT);
}

#[test]
fn fd_read_scatters_stdin() {
    let w = Wasi::new(WasiCtx::builder().stdin(&b"abcdefgh"[..]).build().unwrap());
    let mut mem = vec![0u8; 256];
    put_iovecs(&mut mem, 0, &[(100, 3), (110, 2)]);
    assert_eq!(w.call(&mut mem, "fd_read", &[0, 0, 2, 64]), errno::SUCCESS);
    assert_eq!(u32_at(&mem, 64), 5);
    assert_eq!((&mem[100..103], &mem[110..112]), (&b"abc"[..], &b"de"[..]));
    put_iovecs(&mut mem, 0, &[(120, 10)]);
    assert_eq!(w.call(&mut mem, "fd_read", &[0, 0, 1, 64]), errno::SUCCESS);
    assert_eq!((u32_at(&mem, 64), &mem[120..123]), (3, &b"fgh"[..]));
    // End of input: 0 bytes.
    assert_eq!(w.call(&mut mem, "fd_read", &[0, 0, 1, 64]), errno::SUCCESS);
    assert_eq!(u32_at(&mem, 64), 0);
    for fd in [1, 2, 7] {
        assert_eq!(w.call(&mut mem, "fd_read", &[fd, 0, 1, 64]), errno::BADF);
    }
}

#[test]
fn fd_read_hostile_pointers_are_efault_and_consume_nothing() {
    let w = Wasi::new(WasiCtx::builder().stdin(&b"xyz"[..]).build().unwrap());
    let mut mem = vec![0u8; 128];
    for p in hostile(128) {
        assert_eq!(w.call(&mut mem, "fd_read", &[0, p, 1, 64]), errno::FAULT);
        put_iovecs(&mut mem, 0, &[(p as u32, 4)]);
        assert_eq!(w.call(&mut mem, "fd_read", &[0, 0, 1, 64]), errno::FAULT);
        put_iovecs(&mut mem, 0, &[(100, 2)]);
        assert_eq!(w.call(&mut mem, "fd_read", &[0, 0, 1, p]), errno::FAULT);
    }
    put_iovecs(&mut mem, 0, &[(100, 8)]);
    assert_eq!(w.call(&mut mem, "fd_read", &[0, 0, 1, 64]), errno::SUCCESS);
    assert_eq!((u32_at(&mem, 64), &mem[100..103]), (3, &b"xyz"[..]));
}

#[test]
fn args_and_environment() {
    let w = Wasi::new(
        WasiCtx::builder()
            .args(["prog", "a b", ""])
            .env("K", "v")
            .env("EMPTY", "")
            .build()
            .unwrap(),
    );
    let mut mem = vec![0xAAu8; 256];
    assert_eq!(w.call(&mut mem, "args_sizes_get", &[0, 4]), errno::SUCCESS);
    assert_eq!((u32_at(&mem, 0), u32_at(&mem, 4)), (3, 5 + 4 + 1));
    assert_eq!(w.call(&mut mem, "args_get", &[16, 64]), errno::SUCCESS);
    assert_eq!((u32_at(&mem, 16), u32_at(&mem, 20), u32_at(&mem, 24)), (64, 69, 73));
    assert_eq!(&mem[64..74], b"prog\0a b\0\0");
    assert_eq!(mem[74], 0xAA, "nothing past the strings");
    assert_eq!(mem[28], 0xAA, "nothing past the pointers");

    assert_eq!(w.call(&mut mem, "environ_sizes_get", &[0, 4]), errno::SUCCESS);
    assert_eq!((u32_at(&mem, 0), u32_at(&mem, 4)), (2, 4 + 7));
    assert_eq!(w.call(&mut mem, "environ_get", &[16, 100]), errno::SUCCESS);
    assert_eq!((u32_at(&mem, 16), u32_at(&mem, 20)), (100, 104));
    assert_eq!(&mem[100..111], b"K=v\0EMPTY=\0");

    // None by default.
    let none = Wasi::new(WasiCtx::default());
    assert_eq!(none.call(&mut mem, "environ_sizes_get", &[0, 4]), errno::SUCCESS);
    assert_eq!((u32_at(&mem, 0), u32_at(&mem, 4)), (0, 0));
    assert_eq!(none.call(&mut mem, "args_sizes_get", &[0, 4]), errno::SUCCESS);
    assert_eq!((u32_at(&mem, 0), u32_at(&mem, 4)), (0, 0));
}

#[test]
fn args_hostile_pointers_are_efault_and_write_nothing() {
    let w = Wasi::new(WasiCtx::builder().args(["prog", "x"]).env("A", "B").build().unwrap());
    let mut mem = vec![0xAAu8; 64];
    for p in hostile(64) {
        for (sizes, get) in [("args_sizes_get", "args_get"), ("environ_sizes_get", "environ_get")] {
            assert_eq!(w.call(&mut mem, sizes, &[p, 0]), errno::FAULT);
            assert_eq!(w.call(&mut mem, sizes, &[0, p]), errno::FAULT);
            assert_eq!(w.call(&mut mem, get, &[p, 32]), errno::FAULT);
            assert_eq!(w.call(&mut mem, get, &[0, p]), errno::FAULT);
        }
    }
    // Pointers fit, strings run past the end by one byte.
    assert_eq!(w.call(&mut mem, "args_get", &[0, 64 - 6]), errno::FAULT);
    assert!(mem.iter().all(|&b| b == 0xAA), "a failed call writes nothing");
    assert_eq!(w.call(&mut mem, "args_get", &[0, 64 - 7]), errno::SUCCESS);
}

#[test]
fn clocks() {
    let w = Wasi::new(WasiCtx::default());
    let mut mem = vec![0u8; 64];
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    assert_eq!(w.call(&mut mem, "clock_time_get", &[0, 1, 8]), errno::SUCCESS);
    let real = u64_at(&mem, 8);
    assert!(real >= before && real - before < 60_000_000_000, "{real} vs {before}");
    assert_eq!(w.call(&mut mem, "clock_time_get", &[1, 1, 16]), errno::SUCCESS);
    let m1 = u64_at(&mem, 16);
    std::thread::sleep(std::time::Duration::from_millis(2));
    assert_eq!(w.call(&mut mem, "clock_time_get", &[1, 1, 16]), errno::SUCCESS);
    assert!(u64_at(&mem, 16) >= m1 + 2_000_000);
    assert_eq!(w.call(&mut mem, "clock_res_get", &[1, 24]), errno::SUCCESS);
    assert!(u64_at(&mem, 24) > 0);
    for id in [2, 3, 4, -1] {
        assert_eq!(w.call(&mut mem, "clock_time_get", &[id, 1, 8]), errno::INVAL);
        assert_eq!(w.call(&mut mem, "clock_res_get", &[id, 8]), errno::INVAL);
    }
    for p in hostile(64).into_iter().chain([57]) {
        assert_eq!(w.call(&mut mem, "clock_time_get", &[0, 1, p]), errno::FAULT);
        assert_eq!(w.call(&mut mem, "clock_res_get", &[0, p]), errno::FAULT);
    }
}

#[test]
fn random_get_fills_exactly_the_range() {
    let w = Wasi::new(WasiCtx::default());
    let mut mem = vec![0u8; 256];
    assert_eq!(w.call(&mut mem, "random_get", &[64, 128]), errno::SUCCESS);
    assert!(mem[64..192].iter().any(|&b| b != 0));
    assert!(mem[..64].iter().chain(&mem[192..]).all(|&b| b == 0));
    assert_eq!(w.call(&mut mem, "random_get", &[256, 0]), errno::SUCCESS);
    for p in hostile(256) {
        assert_eq!(w.call(&mut mem, "random_get", &[p, 4]), errno::FAULT);
        assert_eq!(w.call(&mut mem, "random_get", &[200, p]), errno::FAULT);
    }
}

#[test]
fn proc_exit_ends_the_activation_with_its_status() {
    let w = Wasi::new(WasiCtx::default());
    assert_eq!(w.raw(&mut [], "proc_exit", &[3]), Err(HostFailure::Exit(3)));
    assert_eq!(w.raw(&mut [], "proc_exit", &[-1]), Err(HostFailure::Exit(-1)));
}

#[test]
fn sched_yield_succeeds() {
    let w = Wasi::new(WasiCtx::default());
    assert_eq!(w.call(&mut [], "sched_yield", &[]), errno::SUCCESS);
}

// ---- files ---------------------------------------------------------------------

/// A fresh directory tree for one test:
/// `root/{hello.txt, sub/inner.txt, inside -> hello.txt, outside -> ../secret.txt,
/// up -> ..}` and `secret.txt` next to `root`.
fn tree(name: &str) -> (PathBuf, PathBuf) {
    let base = std::env::temp_dir().join(format!("capjit-wasi-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let root = base.join("root");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(root.join("hello.txt"), "hello, file").unwrap();
    std::fs::write(root.join("sub/inner.txt"), "inner").unwrap();
    std::fs::write(base.join("secret.txt"), "secret").unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("hello.txt", root.join("inside")).unwrap();
        std::os::unix::fs::symlink("../secret.txt", root.join("outside")).unwrap();
        std::os::unix::fs::symlink("..", root.join("up")).unwrap();
        std::os::unix::fs::symlink(base.join("secret.txt"), root.join("absolute")).unwrap();
    }
    (base, root)
}

const READ: i64 = (rights::FD_READ | rights::FD_SEEK | rights::FD_TELL) as i64;
const FOLLOW: i64 = 1;

/// `path_open(dirfd, FOLLOW, path, oflags 0, READ, 0, fdflags 0, -> 0)` with the
/// path at 100; the errno and the new fd.
fn open(w: &Wasi, mem: &mut [u8], dirfd: i64, path: &[u8]) -> (i32, u32) {
    open_with(w, mem, dirfd, path, FOLLOW, 0, READ, 0)
}

#[allow(clippy::too_many_arguments)]
fn open_with(
    w: &Wasi,
    mem: &mut [u8],
    dirfd: i64,
    path: &[u8],
    dirflags: i64,
    oflags: i64,
    rights_base: i64,
    fdflags: i64,
) -> (i32, u32) {
    mem[100..100 + path.len()].copy_from_slice(path);
    put_u32(mem, 0, 0xdead);
    let e = w.call(
        mem,
        "path_open",
        &[
            dirfd,
            dirflags,
            100,
            path.len() as i64,
            oflags,
            rights_base,
            0,
            fdflags,
            0,
        ],
    );
    (e, u32_at(mem, 0))
}

fn read_fd(w: &Wasi, mem: &mut [u8], fd: u32) -> Vec<u8> {
    put_iovecs(mem, 16, &[(512, 256)]);
    assert_eq!(w.call(mem, "fd_read", &[fd as i64, 16, 1, 8]), errno::SUCCESS);
    let n = u32_at(mem, 8) as usize;
    mem[512..512 + n].to_vec()
}

fn files_ctx(root: &std::path::Path) -> Wasi {
    Wasi::new(WasiCtx::builder().preopened_dir("/data", root).build().unwrap())
}

fn readonly_ctx(root: &std::path::Path) -> Wasi {
    Wasi::new(
        WasiCtx::builder()
            .preopened_dir_readonly("/data", root)
            .build()
            .unwrap(),
    )
}

#[test]
fn preopens_are_listed_from_fd_3() {
    let (base, root) = tree("prestat");
    let w = Wasi::new(
        WasiCtx::builder()
            .preopened_dir("/data", &root)
            .preopened_dir(".", root.join("sub"))
            .build()
            .unwrap(),
    );
    let mut mem = vec![0u8; 64];
    assert_eq!(w.call(&mut mem, "fd_prestat_get", &[3, 8]), errno::SUCCESS);
    assert_eq!((mem[8], u32_at(&mem, 12)), (0, 5));
    assert_eq!(w.call(&mut mem, "fd_prestat_dir_name", &[3, 32, 5]), errno::SUCCESS);
    assert_eq!(&mem[32..37], b"/data");
    assert_eq!(w.call(&mut mem, "fd_prestat_get", &[4, 8]), errno::SUCCESS);
    assert_eq!(u32_at(&mem, 12), 1);
    // Too short a buffer; not a preopen; past the last one.
    assert_eq!(w.call(&mut mem, "fd_prestat_dir_name", &[3, 32, 4]), errno::NAMETOOLONG);
    for fd in [0, 1, 2, 5, 1000, -1] {
        assert_eq!(w.call(&mut mem, "fd_prestat_get", &[fd, 8]), errno::BADF, "fd {fd}");
        assert_eq!(w.call(&mut mem, "fd_prestat_dir_name", &[fd, 32, 8]), errno::BADF);
    }
    for p in hostile(64).into_iter().chain([60]) {
        assert_eq!(w.call(&mut mem, "fd_prestat_get", &[3, p]), errno::FAULT, "{p}");
        assert_eq!(w.call(&mut mem, "fd_prestat_dir_name", &[3, p, 5]), errno::FAULT);
    }
    // A missing directory is refused when the context is built.
    assert!(WasiCtx::builder()
        .preopened_dir("x", base.join("nope"))
        .build()
        .is_err());
    assert!(WasiCtx::builder()
        .preopened_dir("x", root.join("hello.txt"))
        .build()
        .is_err());
    let _ = std::fs::remove_dir_all(base);
}

#[test]
fn fdstat_tells_type_and_rights() {
    let (base, root) = tree("fdstat");
    let w = readonly_ctx(&root);
    let mut mem = vec![0u8; 1024];
    let stat = |w: &Wasi, mem: &mut [u8], fd: i64| {
        assert_eq!(w.call(mem, "fd_fdstat_get", &[fd, 200]), errno::SUCCESS, "fd {fd}");
        (mem[200], u64_at(mem, 208), u64_at(mem, 216))
    };
    // Stdio given as embedder streams is not a terminal: UNKNOWN, no seek/tell.
    assert_eq!(stat(&w, &mut mem, 0).0, 0);
    let (t, base_rights, _) = stat(&w, &mut mem, 1);
    assert_eq!(t, 0);
    assert_ne!(base_rights & rights::FD_WRITE, 0);
    assert_eq!(base_rights & (rights::FD_SEEK | rights::FD_TELL), 0);
    let (t, base_rights, inheriting) = stat(&w, &mut mem, 3);
    assert_eq!(t, 3);
    assert_ne!(base_rights & rights::PATH_OPEN, 0);
    assert_eq!(
        inheriting & rights::WRITE,
        0,
        "nothing below a read-only preopen is writable"
    );
    let (e, fd) = open(&w, &mut mem, 3, b"hello.txt");
    assert_eq!(e, errno::SUCCESS);
    let (t, base_rights, _) = stat(&w, &mut mem, fd as i64);
    assert_eq!((t, base_rights & rights::WRITE), (4, 0));
    assert_ne!(base_rights & rights::FD_READ, 0);
    assert_eq!(w.call(&mut mem, "fd_fdstat_get", &[99, 200]), errno::BADF);
    for p in hostile(1024).into_iter().chain([1001]) {
        assert_eq!(w.call(&mut mem, "fd_fdstat_get", &[1, p]), errno::FAULT);
    }
    let _ = std::fs::remove_dir_all(base);
}

#[test]
fn path_open_reads_seeks_and_closes_files() {
    let (base, root) = tree("open");
    let w = files_ctx(&root);
    let mut mem = vec![0u8; 1024];
    let (e, fd) = open(&w, &mut mem, 3, b"hello.txt");
    assert_eq!((e, fd), (errno::SUCCESS, 4));
    assert_eq!(read_fd(&w, &mut mem, fd), b"hello, file");
    assert_eq!(read_fd(&w, &mut mem, fd), b"");
    // Seek: set, current, end; the new offset at 40.
    let seek = |mem: &mut [u8], off: i64, whence: i64| {
        let e = w.call(mem, "fd_seek", &[fd as i64, off, whence, 40]);
        (e, u64_at(mem, 40))
    };
    assert_eq!(seek(&mut mem, 7, 0), (errno::SUCCESS, 7));
    assert_eq!(read_fd(&w, &mut mem, fd), b"file");
    assert_eq!(seek(&mut mem, -4, 1), (errno::SUCCESS, 7));
    assert_eq!(seek(&mut mem, -2, 2), (errno::SUCCESS, 9));
    assert_eq!(read_fd(&w, &mut mem, fd), b"le");
    assert_eq!(seek(&mut mem, -1, 0).0, errno::INVAL);
    assert_eq!(seek(&mut mem, -100, 1).0, errno::INVAL);
    assert_eq!(seek(&mut mem, 0, 3).0, errno::INVAL);
    for p in hostile(1024) {
        assert_eq!(w.call(&mut mem, "fd_seek", &[fd as i64, 0, 0, p]), errno::FAULT);
    }
    // Not seekable: stdio; not a file: a directory; not open.
    assert_eq!(w.call(&mut mem, "fd_seek", &[1, 0, 0, 40]), errno::SPIPE);
    assert_eq!(w.call(&mut mem, "fd_seek", &[0, 0, 1, 40]), errno::SPIPE);
    assert_eq!(w.call(&mut mem, "fd_seek", &[3, 0, 0, 40]), errno::BADF);
    // Read-only: writing to it fails.
    put_iovecs(&mut mem, 16, &[(512, 4)]);
    assert_eq!(w.call(&mut mem, "fd_write", &[fd as i64, 16, 1, 8]), errno::BADF);
    // Nested paths, `.` and `..` that stay inside.
    let (e, fd2) = open(&w, &mut mem, 3, b"./sub/../sub/inner.txt");
    assert_eq!((e, fd2), (errno::SUCCESS, 5));
    assert_eq!(read_fd(&w, &mut mem, fd2), b"inner");
    // Close: the fd is gone, its number is reused.
    assert_eq!(w.call(&mut mem, "fd_close", &[fd as i64]), errno::SUCCESS);
    assert_eq!(w.call(&mut mem, "fd_close", &[fd as i64]), errno::BADF);
    put_iovecs(&mut mem, 16, &[(512, 4)]);
    assert_eq!(w.call(&mut mem, "fd_read", &[fd as i64, 16, 1, 8]), errno::BADF);
    assert_eq!(open(&w, &mut mem, 3, b"hello.txt"), (errno::SUCCESS, fd));
    // Reading a directory fd.
    assert_eq!(w.call(&mut mem, "fd_read", &[3, 16, 1, 8]), errno::ISDIR);
    // Missing files, a file where a directory is wanted, opening below a file.
    assert_eq!(open(&w, &mut mem, 3, b"nope.txt").0, errno::NOENT);
    assert_eq!(open(&w, &mut mem, 3, b"").0, errno::NOENT);
    assert_eq!(
        open_with(&w, &mut mem, 3, b"hello.txt", FOLLOW, 2, READ, 0).0,
        errno::NOTDIR
    );
    assert_eq!(open(&w, &mut mem, fd as i64, b"x").0, errno::NOTDIR);
    assert_eq!(open(&w, &mut mem, 1, b"hello.txt").0, errno::NOTDIR);
    assert_eq!(open(&w, &mut mem, 77, b"hello.txt").0, errno::BADF);
    // Closing stdout is honest too.
    assert_eq!(w.call(&mut mem, "fd_close", &[1]), errno::SUCCESS);
    assert_eq!(w.call(&mut mem, "fd_write", &[1, 16, 1, 8]), errno::BADF);
    let _ = std::fs::remove_dir_all(base);
}

#[test]
fn path_open_below_a_read_only_grant_is_read_only() {
    let (base, root) = tree("readonly");
    let w = readonly_ctx(&root);
    let mut mem = vec![0u8; 1024];
    let (creat, excl, trunc) = (1, 4, 8);
    for oflags in [creat, excl, trunc, creat | excl] {
        let (e, fd) = open_with(&w, &mut mem, 3, b"new.txt", FOLLOW, oflags, READ, 0);
        assert_eq!((e, fd), (errno::NOTCAPABLE, 0xdead));
    }
    assert_eq!(
        open_with(
            &w,
            &mut mem,
            3,
            b"hello.txt",
            FOLLOW,
            0,
            READ | rights::FD_WRITE as i64,
            0
        )
        .0,
        errno::NOTCAPABLE
    );
    let append = 1;
    assert_eq!(
        open_with(&w, &mut mem, 3, b"hello.txt", FOLLOW, 0, READ, append).0,
        errno::NOTCAPABLE
    );
    assert!(!root.join("new.txt").exists());
    assert_eq!(std::fs::read_to_string(root.join("hello.txt")).unwrap(), "hello, file");
    // Rights the file cannot have are dropped, not refused (as WASI libcs expect).
    let (e, fd) = open_with(&w, &mut mem, 3, b"hello.txt", FOLLOW, 0, !(rights::WRITE as i64), 0);
    assert_eq!(e, errno::SUCCESS);
    assert_eq!(w.call(&mut mem, "fd_fdstat_get", &[fd as i64, 200]), errno::SUCCESS);
    assert_eq!(u64_at(&mem, 208), rights::FILE);
    // Without the read right, reading fails.
    let (e, fd) = open_with(&w, &mut mem, 3, b"hello.txt", FOLLOW, 0, rights::FD_SEEK as i64, 0);
    assert_eq!(e, errno::SUCCESS);
    put_iovecs(&mut mem, 16, &[(512, 4)]);
    assert_eq!(w.call(&mut mem, "fd_read", &[fd as i64, 16, 1, 8]), errno::BADF);
    let _ = std::fs::remove_dir_all(base);
}

#[test]
fn path_open_refuses_paths_longer_than_path_max_without_copying_them() {
    let (base, root) = tree("long");
    let w = files_ctx(&root);
    let mut mem = vec![b'a'; 8192];
    // 4,096 bytes is the limit; one more is ENAMETOOLONG before anything is copied.
    let limit = b"a/".repeat(2048);
    let (e, fd) = open(&w, &mut mem, 3, &[&limit[..], b"a"].concat());
    assert_eq!((e, fd), (errno::NAMETOOLONG, 0xdead));
    // (The host's own limit counts the final NUL: 4,095 bytes are looked up.)
    let legal = &limit[..4095];
    let (e, _) = open(&w, &mut mem, 3, legal);
    assert_eq!(e, errno::NOENT, "a long but legal path is looked up");
    let _ = std::fs::remove_dir_all(base);
}

#[test]
fn path_open_refuses_every_escape() {
    let (base, root) = tree("escape");
    let w = files_ctx(&root);
    let mut mem = vec![0u8; 1024];
    for path in [
        &b"/etc/passwd"[..],
        b"/",
        b"..",
        b"../secret.txt",
        b"sub/../../secret.txt",
        b"sub/../..",
        b"./../root/hello.txt",
        b"sub/../../root/hello.txt",
    ] {
        let (e, fd) = open(&w, &mut mem, 3, path);
        assert_eq!(
            (e, fd),
            (errno::NOTCAPABLE, 0xdead),
            "{}",
            String::from_utf8_lossy(path)
        );
    }
    #[cfg(unix)]
    for path in [&b"outside"[..], b"absolute", b"up", b"up/secret.txt"] {
        let (e, fd) = open(&w, &mut mem, 3, path);
        assert_eq!(
            (e, fd),
            (errno::NOTCAPABLE, 0xdead),
            "{}",
            String::from_utf8_lossy(path)
        );
    }
    // A symlink that stays inside is fine; a path out and back in is not (it
    // leaves the directory on the way); not following a symlink is ELOOP.
    #[cfg(unix)]
    {
        let (e, fd) = open(&w, &mut mem, 3, b"up/root/sub/inner.txt");
        assert_eq!((e, fd), (errno::NOTCAPABLE, 0xdead));
        let (e, fd) = open(&w, &mut mem, 3, b"inside");
        assert_eq!(e, errno::SUCCESS);
        assert_eq!(read_fd(&w, &mut mem, fd), b"hello, file");
        assert_eq!(open_with(&w, &mut mem, 3, b"inside", 0, 0, READ, 0).0, errno::LOOP);
    }
    // A directory opened below the preopen confines paths to itself.
    let (e, sub) = open_with(&w, &mut mem, 3, b"sub", FOLLOW, 2, READ | rights::PATH_OPEN as i64, 0);
    assert_eq!(e, errno::SUCCESS);
    let (e, fd) = open(&w, &mut mem, sub as i64, b"inner.txt");
    assert_eq!(e, errno::SUCCESS);
    assert_eq!(read_fd(&w, &mut mem, fd), b"inner");
    assert_eq!(open(&w, &mut mem, sub as i64, b"../hello.txt").0, errno::NOTCAPABLE);
    // Rights are honest: a directory opened without `path_open` opens nothing.
    let (e, bare) = open_with(&w, &mut mem, 3, b"sub", FOLLOW, 2, READ, 0);
    assert_eq!(e, errno::SUCCESS);
    assert_eq!(open(&w, &mut mem, bare as i64, b"inner.txt").0, errno::NOTCAPABLE);
    // Bad text: NUL, invalid UTF-8; bad ranges.
    assert_eq!(open(&w, &mut mem, 3, b"hello.txt\0x").0, errno::INVAL);
    assert_eq!(open(&w, &mut mem, 3, b"\xff\xfe").0, errno::ILSEQ);
    for p in hostile(1024) {
        let path_at = w.call(&mut mem, "path_open", &[3, FOLLOW, p, 4, 0, READ, 0, 0, 0]);
        assert_eq!(path_at, errno::FAULT);
        let path_len = w.call(&mut mem, "path_open", &[3, FOLLOW, 1000, p, 0, READ, 0, 0, 0]);
        assert_eq!(path_len, errno::FAULT);
        mem[100..109].copy_from_slice(b"hello.txt");
        let fd_at = w.call(&mut mem, "path_open", &[3, FOLLOW, 100, 9, 0, READ, 0, 0, p]);
        assert_eq!(fd_at, errno::FAULT);
    }
    let _ = std::fs::remove_dir_all(base);
}

#[test]
fn descriptors_are_bounded() {
    let (base, root) = tree("many");
    let w = files_ctx(&root);
    let mut mem = vec![0u8; 1024];
    let mut last = errno::SUCCESS;
    for _ in 0..1100 {
        last = open(&w, &mut mem, 3, b"hello.txt").0;
        if last != errno::SUCCESS {
            break;
        }
    }
    assert_eq!(last, errno::MFILE);
    let _ = std::fs::remove_dir_all(base);
}
