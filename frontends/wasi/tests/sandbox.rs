//! Property test of the sandbox: random sequences of path operations with
//! hostile components (`..`, absolute paths, symlinks the program creates
//! pointing out, NUL, very long names, files used as directories) against a
//! read-write grant, with a sibling directory beside it holding a secret. After
//! every sequence nothing outside the grant was created, changed or removed,
//! and nothing the program read or listed contains the secret's contents or the
//! name of an entry only a listing of the outside could show.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

mod common;

use capjit_wasi::{rights, WasiCtx};
use common::Wasi;
use proptest::prelude::*;

const SECRET: &[u8] = b"TOPSECRET-91c2";
const HIDDEN: &[u8] = b"hidden-entry-ab12";
const MEM: usize = 1 << 16;
/// Where results land in guest memory: everything from here is scanned.
const OUT: usize = 8192;

#[derive(Clone, Debug)]
enum Op {
    Open {
        path: String,
        create: bool,
        trunc: bool,
        write: bool,
        follow: bool,
    },
    Mkdir(String),
    Rmdir(String),
    Unlink(String),
    Rename(String, String),
    Symlink {
        target: String,
        link: String,
    },
    Link(String, String),
    Stat {
        path: String,
        follow: bool,
    },
    SetTimes(String),
    Readlink(String),
    /// Read from / list / write to the most recently opened fd.
    UseLast,
}

fn component() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("..".to_string()),
        Just(".".to_string()),
        Just("a".to_string()),
        Just("b".to_string()),
        Just("f".to_string()),
        Just("link".to_string()),
        Just("up".to_string()),
        Just("out".to_string()),
        Just("outside".to_string()),
        Just("sekrit".to_string()),
        Just("x\0y".to_string()),
        Just("n".repeat(300)),
        Just(String::new()),
    ]
}

fn path(outside: String) -> impl Strategy<Value = String> {
    (prop::collection::vec(component(), 1..5), 0..6u8).prop_map(move |(parts, lead)| {
        let joined = parts.join("/");
        match lead {
            0 => format!("/{joined}"),
            1 => format!("{outside}/{joined}"),
            _ => joined,
        }
    })
}

fn target(outside: String) -> impl Strategy<Value = String> {
    prop_oneof![
        Just("..".to_string()),
        Just("../..".to_string()),
        Just("../outside".to_string()),
        Just("../outside/sekrit".to_string()),
        Just("../../outside/sekrit".to_string()),
        Just("a".to_string()),
        Just("link/..".to_string()),
        Just(format!("{outside}/sekrit")),
        Just(outside),
        Just("/".to_string()),
    ]
}

fn op(outside: String) -> impl Strategy<Value = Op> {
    let p = || path(outside.clone());
    prop_oneof![
        (p(), any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
            |(path, create, trunc, write, follow)| Op::Open {
                path,
                create,
                trunc,
                write,
                follow
            }
        ),
        p().prop_map(Op::Mkdir),
        p().prop_map(Op::Rmdir),
        p().prop_map(Op::Unlink),
        (p(), p()).prop_map(|(a, b)| Op::Rename(a, b)),
        (target(outside.clone()), p()).prop_map(|(target, link)| Op::Symlink { target, link }),
        (p(), p()).prop_map(|(a, b)| Op::Link(a, b)),
        (p(), any::<bool>()).prop_map(|(path, follow)| Op::Stat { path, follow }),
        p().prop_map(Op::SetTimes),
        p().prop_map(Op::Readlink),
        Just(Op::UseLast),
    ]
}

/// Everything below `dir`, without following symlinks: path -> (kind, bytes or
/// link text, mtime).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (String, Vec<u8>, Option<std::time::SystemTime>)> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let (kind, bytes) = if m.file_type().is_symlink() {
                (
                    "link",
                    std::fs::read_link(&p).unwrap().into_os_string().into_encoded_bytes(),
                )
            } else if m.is_dir() {
                todo.push(p.clone());
                ("dir", Vec::new())
            } else {
                ("file", std::fs::read(&p).unwrap())
            };
            out.insert(p, (kind.to_string(), bytes, m.modified().ok()));
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

static CASE: AtomicUsize = AtomicUsize::new(0);

fn base_dir() -> PathBuf {
    let n = CASE.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("capjit-wasi-sandbox-{}-{n}", std::process::id()))
}

/// Put `s` at `at`; `(ptr, len)`.
fn put(mem: &mut [u8], at: usize, s: &str) -> [i64; 2] {
    mem[at..at + s.len()].copy_from_slice(s.as_bytes());
    [at as i64, s.len() as i64]
}

fn run(base: &Path, ops: &[Op]) {
    let granted = base.join("granted");
    let outside = base.join("outside");
    let w = Wasi::new(WasiCtx::builder().preopened_dir("/g", &granted).build().unwrap());
    let mut mem = vec![0u8; MEM];
    let mut last: Option<i64> = None;
    let all_rights = (rights::ALL_FILE | rights::ALL_DIR) as i64;
    for op in ops {
        mem[OUT..].fill(0);
        match op {
            Op::Open {
                path,
                create,
                trunc,
                write,
                follow,
            } => {
                let [p, l] = put(&mut mem, 1000, path);
                let oflags = (*create as i64) | ((*trunc as i64) << 3);
                let r = if *write {
                    all_rights
                } else {
                    rights::FILE as i64 | rights::DIR as i64
                };
                let e = w.call(
                    &mut mem,
                    "path_open",
                    &[3, *follow as i64, p, l, oflags, r, all_rights, 0, 16],
                );
                if e == 0 {
                    last = Some(u32::from_le_bytes(mem[16..20].try_into().unwrap()) as i64);
                }
            }
            Op::Mkdir(path) => {
                let [p, l] = put(&mut mem, 1000, path);
                w.call(&mut mem, "path_create_directory", &[3, p, l]);
            }
            Op::Rmdir(path) => {
                let [p, l] = put(&mut mem, 1000, path);
                w.call(&mut mem, "path_remove_directory", &[3, p, l]);
            }
            Op::Unlink(path) => {
                let [p, l] = put(&mut mem, 1000, path);
                w.call(&mut mem, "path_unlink_file", &[3, p, l]);
            }
            Op::Rename(a, b) => {
                let [p, l] = put(&mut mem, 1000, a);
                let [q, m] = put(&mut mem, 4000, b);
                w.call(&mut mem, "path_rename", &[3, p, l, 3, q, m]);
            }
            Op::Link(a, b) => {
                let [p, l] = put(&mut mem, 1000, a);
                let [q, m] = put(&mut mem, 4000, b);
                w.call(&mut mem, "path_link", &[3, 1, p, l, 3, q, m]);
                w.call(&mut mem, "path_link", &[3, 0, p, l, 3, q, m]);
            }
            Op::Symlink { target, link } => {
                let [p, l] = put(&mut mem, 1000, target);
                let [q, m] = put(&mut mem, 4000, link);
                w.call(&mut mem, "path_symlink", &[p, l, 3, q, m]);
            }
            Op::Stat { path, follow } => {
                let [p, l] = put(&mut mem, 1000, path);
                w.call(&mut mem, "path_filestat_get", &[3, *follow as i64, p, l, OUT as i64]);
            }
            Op::SetTimes(path) => {
                let [p, l] = put(&mut mem, 1000, path);
                w.call(&mut mem, "path_filestat_set_times", &[3, 1, p, l, 0, 0, 2 | 8]);
            }
            Op::Readlink(path) => {
                let [p, l] = put(&mut mem, 1000, path);
                w.call(&mut mem, "path_readlink", &[3, p, l, OUT as i64, 4096, 20]);
            }
            Op::UseLast => {
                if let Some(fd) = last {
                    // Read, list and write: whichever the fd allows.
                    mem[24..28].copy_from_slice(&(OUT as u32).to_le_bytes());
                    mem[28..32].copy_from_slice(&4096u32.to_le_bytes());
                    w.call(&mut mem, "fd_read", &[fd, 24, 1, 20]);
                    assert!(!contains(&mem[OUT..], SECRET), "{op:?} read the secret");
                    w.call(&mut mem, "fd_readdir", &[fd, OUT as i64 + 8192, 8192, 0, 20]);
                    mem[24..28].copy_from_slice(&1000u32.to_le_bytes());
                    mem[28..32].copy_from_slice(&4u32.to_le_bytes());
                    mem[1000..1004].copy_from_slice(b"PWND");
                    w.call(&mut mem, "fd_write", &[fd, 24, 1, 20]);
                }
            }
        }
        assert!(!contains(&mem[OUT..], SECRET), "{op:?}: the secret reached the program");
        assert!(
            !contains(&mem[OUT..], HIDDEN),
            "{op:?}: an outside name reached the program"
        );
    }
    drop(outside);
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("CAPJIT_WASI_SANDBOX_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(96),
        ..ProptestConfig::default()
    })]

    #[test]
    fn nothing_outside_the_grant_is_touched(
        ops in prop::collection::vec(op(String::from("OUTSIDE")), 1..14),
    ) {
        let base = base_dir();
        let _ = std::fs::remove_dir_all(&base);
        let granted = base.join("granted");
        let outside = base.join("outside");
        std::fs::create_dir_all(granted.join("a")).unwrap();
        std::fs::create_dir_all(outside.join("sub")).unwrap();
        std::fs::write(outside.join("sekrit"), SECRET).unwrap();
        std::fs::write(outside.join(std::str::from_utf8(HIDDEN).unwrap()), "x").unwrap();
        std::fs::write(granted.join("f"), "inside").unwrap();
        // Absolute paths in the ops name the real outside directory.
        let outside_text = outside.to_str().unwrap().to_string();
        let ops: Vec<Op> = ops
            .into_iter()
            .map(|op| {
                let fix = |s: &String| s.replace("OUTSIDE", &outside_text);
                match op {
                    Op::Open { path, create, trunc, write, follow } => {
                        Op::Open { path: fix(&path), create, trunc, write, follow }
                    }
                    Op::Mkdir(p) => Op::Mkdir(fix(&p)),
                    Op::Rmdir(p) => Op::Rmdir(fix(&p)),
                    Op::Unlink(p) => Op::Unlink(fix(&p)),
                    Op::Rename(a, b) => Op::Rename(fix(&a), fix(&b)),
                    Op::Symlink { target, link } => Op::Symlink { target: fix(&target), link: fix(&link) },
                    Op::Link(a, b) => Op::Link(fix(&a), fix(&b)),
                    Op::Stat { path, follow } => Op::Stat { path: fix(&path), follow },
                    Op::SetTimes(p) => Op::SetTimes(fix(&p)),
                    Op::Readlink(p) => Op::Readlink(fix(&p)),
                    Op::UseLast => Op::UseLast,
                }
            })
            .collect();
        let before = snapshot(&outside);
        let base_names_before: Vec<_> = std::fs::read_dir(&base).unwrap().map(|e| e.unwrap().file_name()).collect();
        run(&base, &ops);
        prop_assert_eq!(&snapshot(&outside), &before, "the outside changed");
        let mut base_names: Vec<_> = std::fs::read_dir(&base).unwrap().map(|e| e.unwrap().file_name()).collect();
        let mut expected = base_names_before;
        base_names.sort();
        expected.sort();
        prop_assert_eq!(base_names, expected, "something was created beside the grant");
        // Every file the program made is below the grant, and no hard link
        // inside shares the secret's inode.
        let secret_ino = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(outside.join("sekrit")).unwrap());
        for (p, (kind, bytes, _)) in snapshot(&granted) {
            prop_assert!(p.starts_with(&granted));
            if kind == "file" {
                prop_assert!(!contains(&bytes, SECRET), "{} holds the secret", p.display());
                let ino = std::os::unix::fs::MetadataExt::ino(&std::fs::symlink_metadata(&p).unwrap());
                prop_assert_ne!(ino, secret_ino);
            }
        }
        let _ = std::fs::remove_dir_all(&base);
    }
}

#[test]
fn the_outside_path_generator_is_used() {
    // A guard that the hostile absolute paths above really name the outside:
    // `/outside/...` textually and the real directory after substitution.
    let base = base_dir();
    std::fs::create_dir_all(base.join("granted")).unwrap();
    std::fs::create_dir_all(base.join("outside")).unwrap();
    std::fs::write(base.join("outside/sekrit"), SECRET).unwrap();
    let text = format!("{}/sekrit", base.join("outside").display());
    run(
        &base,
        &[
            Op::Open {
                path: text.clone(),
                create: false,
                trunc: false,
                write: false,
                follow: true,
            },
            Op::UseLast,
        ],
    );
    run(
        &base,
        &[
            Op::Symlink {
                target: text,
                link: "l".into(),
            },
            Op::Open {
                path: "l".into(),
                create: false,
                trunc: false,
                write: false,
                follow: true,
            },
            Op::UseLast,
        ],
    );
    assert!(
        std::fs::symlink_metadata(base.join("granted/l")).is_err(),
        "absolute target refused"
    );
    let _ = std::fs::remove_dir_all(&base);
}
