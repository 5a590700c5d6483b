//! The file-system functions against a real temporary directory, checked from
//! the host side: files created and written through WASI read back with
//! `std::fs`, renames, unlinks, directories made and removed, `fd_readdir`'s
//! layout and cookies, stat sizes and types, times, positional I/O, links, read-
//! only grants; and the rest of what preview1 adds (poll, proc_raise, sockets,
//! renumber), with hostile pointers giving `EFAULT`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, UNIX_EPOCH};

mod common;

use capjit_ir::host_fn::HostFailure;
use capjit_wasi::{errno, fdflags, filetype, rights, SharedBuffer, WasiCtx};
use common::*;

/// Guest memory layout used below: paths at 1000 and 1500, iovecs at 16,
/// results at 8 and 40, buffers from 2048.
const MEM: usize = 16384;
const P1: i64 = 1000;
const P2: i64 = 1500;
const FOLLOW: i64 = 1;
const CREAT: i64 = 1;
const DIRECTORY: i64 = 2;
const EXCL: i64 = 4;
const TRUNC: i64 = 8;
const RW: i64 = (rights::FD_READ
    | rights::FD_WRITE
    | rights::FD_SEEK
    | rights::FD_TELL
    | rights::FD_FILESTAT_GET
    | rights::FD_FILESTAT_SET_SIZE
    | rights::FD_FILESTAT_SET_TIMES
    | rights::FD_ALLOCATE
    | rights::FD_ADVISE
    | rights::FD_SYNC
    | rights::FD_DATASYNC
    | rights::FD_FDSTAT_SET_FLAGS) as i64;
const DIR_RIGHTS: i64 = rights::ALL_DIR as i64;

/// Put `path` at `at`; its `(ptr, len)` as arguments.
fn path(mem: &mut [u8], at: i64, path: &str) -> [i64; 2] {
    mem[at as usize..at as usize + path.len()].copy_from_slice(path.as_bytes());
    [at, path.len() as i64]
}

fn tempdir(name: &str) -> (PathBuf, PathBuf) {
    let base = std::env::temp_dir().join(format!("capjit-wasi-files-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let root = base.join("root");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(base.join("secret.txt"), "secret").unwrap();
    (base, root)
}

fn rw(root: &Path) -> Wasi {
    Wasi::new(WasiCtx::builder().preopened_dir("/data", root).build().unwrap())
}

fn open(w: &Wasi, mem: &mut [u8], dirfd: i64, p: &str, oflags: i64, rights: i64, fdflags: i64) -> Result<i64, i32> {
    let [ptr, len] = path(mem, P1, p);
    put_u32(mem, 8, 0xdead);
    let e = w.call(
        mem,
        "path_open",
        &[
            dirfd,
            FOLLOW,
            ptr,
            len,
            oflags,
            rights,
            rights::ALL_FILE as i64,
            fdflags,
            8,
        ],
    );
    if e == errno::SUCCESS {
        Ok(u32_at(mem, 8) as i64)
    } else {
        assert_eq!(u32_at(mem, 8), 0xdead, "no fd written on failure");
        Err(e)
    }
}

fn write(w: &Wasi, mem: &mut [u8], fd: i64, bytes: &[u8]) -> i32 {
    mem[2048..2048 + bytes.len()].copy_from_slice(bytes);
    put_u32(mem, 16, 2048);
    put_u32(mem, 20, bytes.len() as u32);
    let e = w.call(mem, "fd_write", &[fd, 16, 1, 8]);
    if e == errno::SUCCESS {
        assert_eq!(u32_at(mem, 8) as usize, bytes.len());
    }
    e
}

fn read(w: &Wasi, mem: &mut [u8], fd: i64, len: u32) -> Vec<u8> {
    put_u32(mem, 16, 4096);
    put_u32(mem, 20, len);
    assert_eq!(w.call(mem, "fd_read", &[fd, 16, 1, 8]), errno::SUCCESS);
    mem[4096..4096 + u32_at(mem, 8) as usize].to_vec()
}

/// Names and types `fd_readdir` lists (`.` and `..` included), reading the
/// directory in buffers of `buf_len` bytes and following the cookies.
fn readdir(w: &Wasi, mem: &mut [u8], fd: i64, buf_len: u32) -> Vec<(String, u8)> {
    let mut out = Vec::new();
    let mut cookie = 0u64;
    loop {
        mem[8192..8192 + buf_len as usize].fill(0xee);
        assert_eq!(
            w.call(mem, "fd_readdir", &[fd, 8192, buf_len as i64, cookie as i64, 8]),
            errno::SUCCESS
        );
        let used = u32_at(mem, 8) as usize;
        assert!(used <= buf_len as usize);
        assert!(
            mem[8192 + used..8192 + buf_len as usize].iter().all(|&b| b == 0xee),
            "wrote past bufused"
        );
        let mut at = 0;
        let mut progressed = false;
        while at + 24 <= used {
            let e = 8192 + at;
            let next = u64_at(mem, e);
            let namlen = u32_at(mem, e + 16) as usize;
            if at + 24 + namlen > used {
                break; // cut short: ask again from its cookie
            }
            let name = String::from_utf8(mem[e + 24..e + 24 + namlen].to_vec()).unwrap();
            out.push((name, mem[e + 20]));
            assert_eq!(next, cookie + 1, "cookies count the entries");
            cookie = next;
            progressed = true;
            at += 24 + namlen;
        }
        if used < buf_len as usize {
            return out;
        }
        assert!(progressed, "a buffer of {buf_len} bytes holds no entry");
    }
}

#[test]
fn files_are_created_written_read_renamed_and_unlinked() {
    let (base, root) = tempdir("create");
    let w = rw(&root);
    let mut mem = vec![0u8; MEM];
    let fd = open(&w, &mut mem, 3, "new.txt", CREAT | EXCL, RW, 0).unwrap();
    assert_eq!(write(&w, &mut mem, fd, b"hello, "), errno::SUCCESS);
    assert_eq!(write(&w, &mut mem, fd, b"world"), errno::SUCCESS);
    assert_eq!(std::fs::read_to_string(root.join("new.txt")).unwrap(), "hello, world");
    // EXCL on an existing file.
    assert_eq!(open(&w, &mut mem, 3, "new.txt", CREAT | EXCL, RW, 0), Err(errno::EXIST));
    // Seek back and read; tell.
    assert_eq!(w.call(&mut mem, "fd_seek", &[fd, 0, 0, 40]), errno::SUCCESS);
    assert_eq!(read(&w, &mut mem, fd, 5), b"hello");
    assert_eq!(w.call(&mut mem, "fd_tell", &[fd, 40]), errno::SUCCESS);
    assert_eq!(u64_at(&mem, 40), 5);
    // Stat: size and type, through the fd and through the path.
    assert_eq!(w.call(&mut mem, "fd_filestat_get", &[fd, 200]), errno::SUCCESS);
    assert_eq!((mem[216], u64_at(&mem, 232)), (filetype::REGULAR_FILE, 12));
    let [p, l] = path(&mut mem, P1, "new.txt");
    assert_eq!(
        w.call(&mut mem, "path_filestat_get", &[3, FOLLOW, p, l, 300]),
        errno::SUCCESS
    );
    assert_eq!((mem[316], u64_at(&mem, 332)), (filetype::REGULAR_FILE, 12));
    assert_eq!(u64_at(&mem, 208), u64_at(&mem, 308), "same inode");
    // Truncate on open.
    let t = open(&w, &mut mem, 3, "new.txt", TRUNC, RW, 0).unwrap();
    assert_eq!(std::fs::read(root.join("new.txt")).unwrap(), b"");
    assert_eq!(write(&w, &mut mem, t, b"abc"), errno::SUCCESS);
    // Append: every write goes to the end.
    let a = open(&w, &mut mem, 3, "new.txt", 0, RW, fdflags::APPEND as i64).unwrap();
    assert_eq!(write(&w, &mut mem, a, b"++"), errno::SUCCESS);
    assert_eq!(std::fs::read(root.join("new.txt")).unwrap(), b"abc++");
    assert_eq!(w.call(&mut mem, "fd_fdstat_get", &[a, 200]), errno::SUCCESS);
    assert_eq!(u16::from_le_bytes([mem[202], mem[203]]), fdflags::APPEND);
    // Rename, then unlink.
    let [o, ol] = path(&mut mem, P1, "new.txt");
    let [n, nl] = path(&mut mem, P2, "renamed.txt");
    assert_eq!(w.call(&mut mem, "path_rename", &[3, o, ol, 3, n, nl]), errno::SUCCESS);
    assert!(!root.join("new.txt").exists());
    assert_eq!(std::fs::read(root.join("renamed.txt")).unwrap(), b"abc++");
    assert_eq!(w.call(&mut mem, "path_rename", &[3, o, ol, 3, n, nl]), errno::NOENT);
    let [r, rl] = path(&mut mem, P1, "renamed.txt");
    assert_eq!(w.call(&mut mem, "path_unlink_file", &[3, r, rl]), errno::SUCCESS);
    assert!(!root.join("renamed.txt").exists());
    assert_eq!(w.call(&mut mem, "path_unlink_file", &[3, r, rl]), errno::NOENT);
    let _ = std::fs::remove_dir_all(base);
}

#[test]
fn directories_are_made_listed_and_removed() {
    let (base, root) = tempdir("dirs");
    let w = rw(&root);
    let mut mem = vec![0u8; MEM];
    let [p, l] = path(&mut mem, P1, "d");
    assert_eq!(w.call(&mut mem, "path_create_directory", &[3, p, l]), errno::SUCCESS);
    assert!(root.join("d").is_dir());
    assert_eq!(w.call(&mut mem, "path_create_directory", &[3, p, l]), errno::EXIST);
    for name in ["a.txt", "bb.txt", "a-rather-longer-name-than-the-others.txt"] {
        std::fs::write(root.join("d").join(name), name).unwrap();
    }
    std::fs::create_dir(root.join("d/sub")).unwrap();
    let d = open(&w, &mut mem, 3, "d", DIRECTORY, DIR_RIGHTS, 0).unwrap();
    let mut expected = vec![
        (".".to_string(), filetype::DIRECTORY),
        ("..".to_string(), filetype::DIRECTORY),
        (
            "a-rather-longer-name-than-the-others.txt".to_string(),
            filetype::REGULAR_FILE,
        ),
        ("a.txt".to_string(), filetype::REGULAR_FILE),
        ("bb.txt".to_string(), filetype::REGULAR_FILE),
        ("sub".to_string(), filetype::DIRECTORY),
    ];
    expected.sort();
    // Large and small buffers (entries cut short and asked for again) list the same.
    for buf_len in [4096, 100, 70, 64] {
        let mut got = readdir(&w, &mut mem, d, buf_len);
        got.sort();
        assert_eq!(got, expected, "buffer of {buf_len}");
    }
    // A cookie past the end lists nothing; a buffer of 0 bytes holds nothing.
    assert_eq!(
        w.call(&mut mem, "fd_readdir", &[d, 8192, 4096, 1000, 8]),
        errno::SUCCESS
    );
    assert_eq!(u32_at(&mem, 8), 0);
    assert_eq!(w.call(&mut mem, "fd_readdir", &[d, 8192, 0, 0, 8]), errno::SUCCESS);
    assert_eq!(u32_at(&mem, 8), 0);
    // Hostile buffers; not a directory.
    for (buf, len, used) in [
        (MEM as i64 - 10, 20, 8),
        (0, MEM as i64 + 1, 8),
        (8192, 16, MEM as i64 - 2),
    ] {
        assert_eq!(w.call(&mut mem, "fd_readdir", &[d, buf, len, 0, used]), errno::FAULT);
    }
    assert_eq!(w.call(&mut mem, "fd_readdir", &[1, 8192, 100, 0, 8]), errno::NOTDIR);
    // Removing: not empty, then empty.
    assert_eq!(w.call(&mut mem, "path_remove_directory", &[3, p, l]), errno::NOTEMPTY);
    for name in ["a.txt", "bb.txt", "a-rather-longer-name-than-the-others.txt"] {
        let [f, fl] = path(&mut mem, P2, &format!("d/{name}"));
        assert_eq!(w.call(&mut mem, "path_unlink_file", &[3, f, fl]), errno::SUCCESS);
    }
    let [s, sl] = path(&mut mem, P2, "d/sub");
    assert_eq!(w.call(&mut mem, "path_unlink_file", &[3, s, sl]), errno::ISDIR);
    assert_eq!(w.call(&mut mem, "path_remove_directory", &[3, s, sl]), errno::SUCCESS);
    let mut got = readdir(&w, &mut mem, d, 4096);
    got.sort();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(w.call(&mut mem, "path_remove_directory", &[3, p, l]), errno::SUCCESS);
    assert!(!root.join("d").exists());
    let _ = std::fs::remove_dir_all(base);
}

#[test]
fn positional_io_sizes_sync_advice_and_times() {
    let (base, root) = tempdir("posio");
    let w = rw(&root);
    let mut mem = vec![0u8; MEM];
    let fd = open(&w, &mut mem, 3, "f", CREAT, RW, 0).unwrap();
    // pwrite at 4, then pread from 2: the position stays at 0.
    mem[2048..2052].copy_from_slice(b"WXYZ");
    put_u32(&mut mem, 16, 2048);
    put_u32(&mut mem, 20, 4);
    assert_eq!(w.call(&mut mem, "fd_pwrite", &[fd, 16, 1, 4, 8]), errno::SUCCESS);
    assert_eq!(u32_at(&mem, 8), 4);
    assert_eq!(std::fs::read(root.join("f")).unwrap(), b"\0\0\0\0WXYZ");
    put_u32(&mut mem, 16, 3000);
    put_u32(&mut mem, 20, 100);
    assert_eq!(w.call(&mut mem, "fd_pread", &[fd, 16, 1, 5, 8]), errno::SUCCESS);
    assert_eq!(&mem[3000..3000 + u32_at(&mem, 8) as usize], b"XYZ");
    assert_eq!(w.call(&mut mem, "fd_tell", &[fd, 40]), errno::SUCCESS);
    assert_eq!(u64_at(&mem, 40), 0);
    // Sizes: set_size shrinks and grows, allocate only grows.
    assert_eq!(w.call(&mut mem, "fd_filestat_set_size", &[fd, 6]), errno::SUCCESS);
    assert_eq!(std::fs::metadata(root.join("f")).unwrap().len(), 6);
    assert_eq!(w.call(&mut mem, "fd_allocate", &[fd, 0, 3]), errno::SUCCESS);
    assert_eq!(std::fs::metadata(root.join("f")).unwrap().len(), 6);
    assert_eq!(w.call(&mut mem, "fd_allocate", &[fd, 10, 10]), errno::SUCCESS);
    assert_eq!(std::fs::metadata(root.join("f")).unwrap().len(), 20);
    assert_eq!(w.call(&mut mem, "fd_allocate", &[fd, i64::MAX, i64::MAX]), errno::FBIG);
    // Sync, advice, flags.
    assert_eq!(w.call(&mut mem, "fd_sync", &[fd]), errno::SUCCESS);
    assert_eq!(w.call(&mut mem, "fd_datasync", &[fd]), errno::SUCCESS);
    assert_eq!(w.call(&mut mem, "fd_sync", &[3]), errno::SUCCESS);
    assert_eq!(w.call(&mut mem, "fd_sync", &[1]), errno::INVAL);
    assert_eq!(w.call(&mut mem, "fd_advise", &[fd, 0, 100, 2]), errno::SUCCESS);
    assert_eq!(w.call(&mut mem, "fd_advise", &[fd, 0, 100, 6]), errno::INVAL);
    assert_eq!(w.call(&mut mem, "fd_fdstat_set_flags", &[fd, 0x11]), errno::SUCCESS);
    assert_eq!(w.call(&mut mem, "fd_fdstat_set_flags", &[fd, 0x40]), errno::INVAL);
    assert_eq!(w.call(&mut mem, "fd_fdstat_set_flags", &[fd, 0]), errno::SUCCESS);
    // Times: explicit values through the fd and the path, "now" too.
    let t = 1_600_000_000_123_456_789u64;
    assert_eq!(
        w.call(
            &mut mem,
            "fd_filestat_set_times",
            &[fd, t as i64, (t + 1) as i64, 1 | 4]
        ),
        errno::SUCCESS
    );
    let m = std::fs::metadata(root.join("f")).unwrap();
    assert_eq!(m.modified().unwrap(), UNIX_EPOCH + Duration::from_nanos(t + 1));
    assert_eq!(m.accessed().unwrap(), UNIX_EPOCH + Duration::from_nanos(t));
    let [p, l] = path(&mut mem, P1, "f");
    assert_eq!(
        w.call(
            &mut mem,
            "path_filestat_set_times",
            &[3, FOLLOW, p, l, 0, (t + 5) as i64, 4]
        ),
        errno::SUCCESS
    );
    let m = std::fs::metadata(root.join("f")).unwrap();
    assert_eq!(m.modified().unwrap(), UNIX_EPOCH + Duration::from_nanos(t + 5));
    assert_eq!(
        m.accessed().unwrap(),
        UNIX_EPOCH + Duration::from_nanos(t),
        "atime untouched"
    );
    assert_eq!(
        w.call(&mut mem, "path_filestat_get", &[3, FOLLOW, p, l, 300]),
        errno::SUCCESS
    );
    assert_eq!(u64_at(&mem, 348), t + 5, "mtim in filestat");
    assert_eq!(
        w.call(&mut mem, "fd_filestat_set_times", &[fd, 0, 0, 8]),
        errno::SUCCESS
    );
    let now = std::time::SystemTime::now();
    let m = std::fs::metadata(root.join("f")).unwrap().modified().unwrap();
    assert!(now.duration_since(m).unwrap_or_default() < Duration::from_secs(60));
    // A value and "now" at once, unknown bits.
    assert_eq!(
        w.call(&mut mem, "fd_filestat_set_times", &[fd, 0, 0, 1 | 2]),
        errno::INVAL
    );
    assert_eq!(w.call(&mut mem, "fd_filestat_set_times", &[fd, 0, 0, 16]), errno::INVAL);
    // Directories and stdio.
    assert_eq!(w.call(&mut mem, "fd_filestat_get", &[3, 200]), errno::SUCCESS);
    assert_eq!(mem[216], filetype::DIRECTORY);
    assert_eq!(w.call(&mut mem, "fd_pread", &[1, 16, 1, 0, 8]), errno::SPIPE);
    assert_eq!(w.call(&mut mem, "fd_pread", &[3, 16, 1, 0, 8]), errno::ISDIR);
    assert_eq!(w.call(&mut mem, "fd_tell", &[1, 40]), errno::SPIPE);
    // Hostile pointers.
    for p in [MEM as i64 - 3, MEM as i64, u32::MAX as i64] {
        assert_eq!(w.call(&mut mem, "fd_filestat_get", &[fd, p]), errno::FAULT);
        assert_eq!(w.call(&mut mem, "fd_tell", &[fd, p]), errno::FAULT);
        assert_eq!(w.call(&mut mem, "fd_pread", &[fd, p, 1, 0, 8]), errno::FAULT);
        assert_eq!(w.call(&mut mem, "fd_pwrite", &[fd, 16, 1, 0, p]), errno::FAULT);
        assert_eq!(w.call(&mut mem, "path_filestat_get", &[3, 0, 1000, 1, p]), errno::FAULT);
    }
    let _ = std::fs::remove_dir_all(base);
}

#[test]
fn renumber_and_rights() {
    let (base, root) = tempdir("renumber");
    std::fs::write(root.join("f"), "contents").unwrap();
    let w = rw(&root);
    let mut mem = vec![0u8; MEM];
    let a = open(&w, &mut mem, 3, "f", 0, RW, 0).unwrap();
    let b = open(&w, &mut mem, 3, "f", 0, RW, 0).unwrap();
    assert_eq!(read(&w, &mut mem, a, 3), b"con");
    assert_eq!(w.call(&mut mem, "fd_renumber", &[a, b]), errno::SUCCESS);
    assert_eq!(w.call(&mut mem, "fd_close", &[a]), errno::BADF);
    assert_eq!(read(&w, &mut mem, b, 100), b"tents", "b is now what a was");
    assert_eq!(w.call(&mut mem, "fd_renumber", &[b, 99]), errno::BADF);
    assert_eq!(w.call(&mut mem, "fd_renumber", &[99, b]), errno::BADF);
    assert_eq!(w.call(&mut mem, "fd_renumber", &[b, b]), errno::SUCCESS);
    // Rights only shrink.
    let r = (rights::FD_READ | rights::FD_SEEK) as i64;
    assert_eq!(w.call(&mut mem, "fd_fdstat_set_rights", &[b, r, 0]), errno::SUCCESS);
    assert_eq!(write(&w, &mut mem, b, b"x"), errno::BADF);
    assert_eq!(w.call(&mut mem, "fd_fdstat_set_rights", &[b, RW, 0]), errno::NOTCAPABLE);
    assert_eq!(w.call(&mut mem, "fd_tell", &[b, 40]), errno::NOTCAPABLE);
    let _ = std::fs::remove_dir_all(base);
}

#[test]
fn links_stay_inside() {
    let (base, root) = tempdir("links");
    std::fs::write(root.join("f"), "inside").unwrap();
    let w = rw(&root);
    let mut mem = vec![0u8; MEM];
    // A relative symlink inside: created, read back, followed.
    let [t, tl] = path(&mut mem, P1, "f");
    let [n, nl] = path(&mut mem, P2, "link");
    assert_eq!(w.call(&mut mem, "path_symlink", &[t, tl, 3, n, nl]), errno::SUCCESS);
    assert_eq!(std::fs::read_link(root.join("link")).unwrap(), Path::new("f"));
    assert_eq!(
        w.call(&mut mem, "path_readlink", &[3, n, nl, 3000, 100, 8]),
        errno::SUCCESS
    );
    assert_eq!(&mem[3000..3000 + u32_at(&mem, 8) as usize], b"f");
    // Cut to the buffer.
    assert_eq!(
        w.call(&mut mem, "path_readlink", &[3, n, nl, 3000, 0, 8]),
        errno::SUCCESS
    );
    assert_eq!(u32_at(&mem, 8), 0);
    let fd = open(&w, &mut mem, 3, "link", 0, RW, 0).unwrap();
    assert_eq!(read(&w, &mut mem, fd, 100), b"inside");
    // Stat without following sees the link.
    assert_eq!(
        w.call(&mut mem, "path_filestat_get", &[3, 0, n, nl, 300]),
        errno::SUCCESS
    );
    assert_eq!(mem[316], filetype::SYMBOLIC_LINK);
    // Symlinks out: absolute refused; relative stored but never followed out.
    let [a, al] = path(&mut mem, P1, "/etc/passwd");
    let [n2, n2l] = path(&mut mem, P2, "abs");
    assert_eq!(
        w.call(&mut mem, "path_symlink", &[a, al, 3, n2, n2l]),
        errno::NOTCAPABLE
    );
    assert!(std::fs::symlink_metadata(root.join("abs")).is_err());
    let [o, ol] = path(&mut mem, P1, "../secret.txt");
    let [n3, n3l] = path(&mut mem, P2, "out");
    assert_eq!(w.call(&mut mem, "path_symlink", &[o, ol, 3, n3, n3l]), errno::SUCCESS);
    assert_eq!(open(&w, &mut mem, 3, "out", 0, RW, 0), Err(errno::NOTCAPABLE));
    assert_eq!(
        open(&w, &mut mem, 3, "out", CREAT | TRUNC, RW, 0),
        Err(errno::NOTCAPABLE)
    );
    assert_eq!(
        w.call(&mut mem, "path_filestat_get", &[3, FOLLOW, n3, n3l, 300]),
        errno::NOTCAPABLE
    );
    assert_eq!(std::fs::read_to_string(base.join("secret.txt")).unwrap(), "secret");
    // Hard links inside.
    let [s, sl] = path(&mut mem, P1, "f");
    let [h, hl] = path(&mut mem, P2, "hard");
    assert_eq!(w.call(&mut mem, "path_link", &[3, 0, s, sl, 3, h, hl]), errno::SUCCESS);
    assert_eq!(std::fs::read_to_string(root.join("hard")).unwrap(), "inside");
    assert_eq!(
        w.call(&mut mem, "path_filestat_get", &[3, 0, h, hl, 300]),
        errno::SUCCESS
    );
    assert_eq!(u64_at(&mem, 324), 2, "nlink");
    let [x, xl] = path(&mut mem, P1, "../secret.txt");
    let [y, yl] = path(&mut mem, P2, "stolen");
    assert_eq!(
        w.call(&mut mem, "path_link", &[3, 0, x, xl, 3, y, yl]),
        errno::NOTCAPABLE
    );
    assert!(!root.join("stolen").exists());
    let _ = std::fs::remove_dir_all(base);
}

#[test]
fn a_read_only_grant_changes_nothing() {
    let (base, root) = tempdir("readonly");
    std::fs::write(root.join("f"), "keep").unwrap();
    std::fs::create_dir(root.join("d")).unwrap();
    let w = Wasi::new(WasiCtx::builder().preopened_dir_readonly("ro", &root).build().unwrap());
    let mut mem = vec![0u8; MEM];
    let [f, fl] = path(&mut mem, P1, "f");
    let [d, dl] = path(&mut mem, P2, "d");
    let no = errno::NOTCAPABLE;
    assert_eq!(w.call(&mut mem, "path_create_directory", &[3, P2, 1]), no);
    assert_eq!(w.call(&mut mem, "path_remove_directory", &[3, d, dl]), no);
    assert_eq!(w.call(&mut mem, "path_unlink_file", &[3, f, fl]), no);
    assert_eq!(w.call(&mut mem, "path_rename", &[3, f, fl, 3, d, dl]), no);
    assert_eq!(w.call(&mut mem, "path_link", &[3, 0, f, fl, 3, P2, 1]), no);
    assert_eq!(w.call(&mut mem, "path_symlink", &[f, fl, 3, P2, 1]), no);
    assert_eq!(w.call(&mut mem, "path_filestat_set_times", &[3, 0, f, fl, 0, 0, 2]), no);
    assert_eq!(w.call(&mut mem, "fd_filestat_set_times", &[3, 0, 0, 2]), no);
    assert_eq!(open(&w, &mut mem, 3, "f", CREAT, RW, 0), Err(no));
    assert_eq!(open(&w, &mut mem, 3, "f", TRUNC, RW, 0), Err(no));
    assert_eq!(open(&w, &mut mem, 3, "f", 0, RW, 0), Err(no), "asks for fd_write");
    // Reading is fine; the file's rights say so, and writes fail.
    let fd = open(&w, &mut mem, 3, "f", 0, rights::FILE as i64, 0).unwrap();
    assert_eq!(read(&w, &mut mem, fd, 100), b"keep");
    assert_eq!(write(&w, &mut mem, fd, b"x"), errno::BADF);
    assert_eq!(w.call(&mut mem, "fd_filestat_set_size", &[fd, 0]), no);
    assert_eq!(w.call(&mut mem, "fd_allocate", &[fd, 0, 100]), no);
    assert_eq!(w.call(&mut mem, "fd_fdstat_set_flags", &[fd, 1]), no);
    let got: Vec<String> = readdir(&w, &mut mem, 3, 4096).into_iter().map(|(n, _)| n).collect();
    assert_eq!(got.len(), 4, "{got:?}");
    assert_eq!(std::fs::read_to_string(root.join("f")).unwrap(), "keep");
    assert!(root.join("d").is_dir());
    assert_eq!(std::fs::read_dir(&root).unwrap().count(), 2);
    let _ = std::fs::remove_dir_all(base);
}

#[test]
fn poll_oneoff_sleeps_on_clocks_and_files_are_ready() {
    let (base, root) = tempdir("poll");
    std::fs::write(root.join("f"), "12345").unwrap();
    let w = rw(&root);
    let mut mem = vec![0u8; MEM];
    let fd = open(&w, &mut mem, 3, "f", 0, RW, 0).unwrap();
    let clock = |mem: &mut [u8], at: usize, userdata: u64, id: u32, ns: u64, flags: u16| {
        mem[at..at + 48].fill(0);
        put_u64(mem, at, userdata);
        mem[at + 8] = 0;
        put_u32(mem, at + 16, id);
        put_u64(mem, at + 24, ns);
        mem[at + 40..at + 42].copy_from_slice(&flags.to_le_bytes());
    };
    let fd_sub = |mem: &mut [u8], at: usize, userdata: u64, kind: u8, fd: u32| {
        mem[at..at + 48].fill(0);
        put_u64(mem, at, userdata);
        mem[at + 8] = kind;
        put_u32(mem, at + 16, fd);
    };
    // A relative 30 ms sleep on the monotonic clock.
    clock(&mut mem, 2048, 7, 1, 30_000_000, 0);
    let start = Instant::now();
    assert_eq!(w.call(&mut mem, "poll_oneoff", &[2048, 4096, 1, 8]), errno::SUCCESS);
    assert!(start.elapsed() >= Duration::from_millis(30));
    assert_eq!(u32_at(&mem, 8), 1);
    assert_eq!((u64_at(&mem, 4096), mem[4096 + 8], mem[4096 + 10]), (7, 0, 0));
    // An absolute realtime deadline in the past fires at once.
    clock(&mut mem, 2048, 8, 0, 1, 1);
    assert_eq!(w.call(&mut mem, "poll_oneoff", &[2048, 4096, 1, 8]), errno::SUCCESS);
    assert_eq!((u32_at(&mem, 8), u64_at(&mem, 4096)), (1, 8));
    // A file is ready at once (a long clock beside it does not fire), with the
    // bytes left to read; a closed fd is an event with EBADF; stdout can be written.
    clock(&mut mem, 2048, 1, 1, 3_600_000_000_000, 0);
    fd_sub(&mut mem, 2096, 2, 1, fd as u32);
    fd_sub(&mut mem, 2144, 3, 1, 77);
    fd_sub(&mut mem, 2192, 4, 2, 1);
    let start = Instant::now();
    assert_eq!(w.call(&mut mem, "poll_oneoff", &[2048, 4096, 4, 8]), errno::SUCCESS);
    assert!(start.elapsed() < Duration::from_secs(60));
    assert_eq!(u32_at(&mem, 8), 3);
    let events: Vec<(u64, u16, u8, u64)> = (0..3)
        .map(|i| {
            let e = 4096 + 32 * i;
            (
                u64_at(&mem, e),
                u16::from_le_bytes([mem[e + 8], mem[e + 9]]),
                mem[e + 10],
                u64_at(&mem, e + 16),
            )
        })
        .collect();
    assert_eq!(events, vec![(2, 0, 1, 5), (3, errno::BADF as u16, 1, 0), (4, 0, 2, 0)]);
    // Nothing to wait for, bad tags, hostile pointers.
    assert_eq!(w.call(&mut mem, "poll_oneoff", &[2048, 4096, 0, 8]), errno::INVAL);
    mem[2048 + 8] = 9;
    assert_eq!(w.call(&mut mem, "poll_oneoff", &[2048, 4096, 1, 8]), errno::INVAL);
    for (i, o, n) in [
        (MEM as i64 - 47, 4096, 1),
        (2048, MEM as i64 - 31, 1),
        (2048, 4096, 1000),
    ] {
        assert_eq!(
            w.call(&mut mem, "poll_oneoff", &[i, o, n, 8]),
            errno::FAULT,
            "{i} {o} {n}"
        );
    }
    let _ = std::fs::remove_dir_all(base);
}

#[test]
fn proc_raise_sched_yield_and_sockets() {
    let w = Wasi::new(WasiCtx::builder().stdout(SharedBuffer::default()).build().unwrap());
    let mut mem = vec![0u8; 64];
    assert_eq!(w.raw(&mut mem, "proc_raise", &[15]), Err(HostFailure::Exit(128 + 15)));
    assert_eq!(w.raw(&mut mem, "proc_raise", &[6]), Err(HostFailure::Exit(128 + 6)));
    assert_eq!(w.call(&mut mem, "proc_raise", &[0]), errno::SUCCESS);
    assert_eq!(
        w.call(&mut mem, "proc_raise", &[17]),
        errno::SUCCESS,
        "SIGCONT is ignored"
    );
    assert_eq!(
        w.call(&mut mem, "proc_raise", &[19]),
        errno::NOTSUP,
        "SIGTSTP would stop"
    );
    assert_eq!(w.call(&mut mem, "proc_raise", &[31]), errno::INVAL);
    assert_eq!(w.call(&mut mem, "sched_yield", &[]), errno::SUCCESS);
    assert_eq!(w.call(&mut mem, "sock_accept", &[1, 0, 8]), errno::NOTSOCK);
    assert_eq!(w.call(&mut mem, "sock_accept", &[9, 0, 8]), errno::BADF);
    assert_eq!(w.call(&mut mem, "sock_recv", &[0, 0, 0, 0, 8, 12]), errno::NOTSOCK);
    assert_eq!(w.call(&mut mem, "sock_send", &[1, 0, 0, 0, 8]), errno::NOTSOCK);
    assert_eq!(w.call(&mut mem, "sock_shutdown", &[2, 2]), errno::NOTSOCK);
    assert_eq!(w.call(&mut mem, "sock_shutdown", &[40, 2]), errno::BADF);
}
