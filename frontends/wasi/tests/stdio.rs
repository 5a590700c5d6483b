//! Inherited stdio reports what the host descriptors really are: this test runs
//! itself again as a child process with stdin a regular file, stdout a pipe and
//! stderr a regular file, and the child asks `fd_fdstat_get`/`fd_filestat_get`
//! about fds 0, 1, 2. A pipe is `UNKNOWN` without seek/tell rights, a regular
//! file `REGULAR_FILE` with them, so wasi-libc's `isatty` (character device and
//! no seek/tell) is 0 for both. (A terminal, `CHARACTER_DEVICE`, needs a pty and
//! is not exercised here.)

use std::process::{Command, Stdio};

use capjit_ir::host_fn::{HostCall, HostFn};
use capjit_ir::Val;
use capjit_wasi::{errno, filetype, rights, WasiCtx};

const CHILD: &str = "CAPJIT_WASI_STDIO_CHILD";

fn call(fns: &[HostFn], mem: &mut [u8], name: &str, args: &[Val]) -> i32 {
    let f = fns.iter().find(|f| f.name() == format!("wasi_{name}")).unwrap();
    match f.call(&mut HostCall::new(mem), args).unwrap()[..] {
        [Val::I32(e)] => e,
        ref other => panic!("{other:?}"),
    }
}

fn child(report: &str) {
    let fns = capjit_wasi::host_functions(WasiCtx::builder().inherit_stdio().build().unwrap());
    let mut mem = vec![0u8; 1024];
    let mut lines = String::new();
    for fd in 0..3 {
        let e = call(&fns, &mut mem, "fd_fdstat_get", &[Val::I32(fd), Val::I32(100)]);
        assert_eq!(e, errno::SUCCESS);
        let base = u64::from_le_bytes(mem[108..116].try_into().unwrap());
        let e = call(&fns, &mut mem, "fd_filestat_get", &[Val::I32(fd), Val::I32(200)]);
        assert_eq!(e, errno::SUCCESS);
        lines += &format!("{fd} {} {base} {}\n", mem[100], mem[216]);
    }
    // Read stdin (a file: seekable) and echo it to stdout and stderr.
    mem[0..4].copy_from_slice(&512u32.to_le_bytes());
    mem[4..8].copy_from_slice(&64u32.to_le_bytes());
    assert_eq!(
        call(
            &fns,
            &mut mem,
            "fd_read",
            &[Val::I32(0), Val::I32(0), Val::I32(1), Val::I32(8)]
        ),
        errno::SUCCESS
    );
    let n = u32::from_le_bytes(mem[8..12].try_into().unwrap());
    mem[4..8].copy_from_slice(&n.to_le_bytes());
    for fd in [1, 2] {
        let e = call(
            &fns,
            &mut mem,
            "fd_write",
            &[Val::I32(fd), Val::I32(0), Val::I32(1), Val::I32(8)],
        );
        assert_eq!(e, errno::SUCCESS);
    }
    let e = call(
        &fns,
        &mut mem,
        "fd_seek",
        &[Val::I32(0), Val::I64(0), Val::I32(0), Val::I32(16)],
    );
    lines += &format!("seek0 {e}\n");
    let e = call(
        &fns,
        &mut mem,
        "fd_seek",
        &[Val::I32(1), Val::I64(0), Val::I32(0), Val::I32(16)],
    );
    lines += &format!("seek1 {e}\n");
    std::fs::write(report, lines).unwrap();
}

#[test]
fn inherited_stdio_reports_its_real_file_type() {
    if let Ok(report) = std::env::var(CHILD) {
        return child(&report);
    }
    let dir = std::env::temp_dir().join(format!("capjit-wasi-stdio-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("in"), "from-stdin").unwrap();
    let report = dir.join("report");
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "inherited_stdio_reports_its_real_file_type",
            "--test-threads=1",
            "--nocapture",
        ])
        .env(CHILD, &report)
        .stdin(std::fs::File::open(dir.join("in")).unwrap())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join("err")).unwrap())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let text = std::fs::read_to_string(&report).unwrap();
    let lines: Vec<Vec<u64>> = text
        .lines()
        .take(3)
        .map(|l| l.split(' ').map(|w| w.parse().unwrap()).collect())
        .collect();
    let seekable = rights::FD_SEEK | rights::FD_TELL;
    // fd 0: a regular file, readable, seekable.
    assert_eq!(lines[0][1], filetype::REGULAR_FILE as u64, "{text}");
    assert_eq!(lines[0][2] & (seekable | rights::FD_READ), seekable | rights::FD_READ);
    assert_eq!(lines[0][3], filetype::REGULAR_FILE as u64);
    // fd 1: a pipe: not a terminal, no seek/tell.
    assert_eq!(lines[1][1], filetype::UNKNOWN as u64, "{text}");
    assert_eq!(lines[1][2] & seekable, 0);
    assert_ne!(lines[1][2] & rights::FD_WRITE, 0);
    assert_eq!(lines[1][3], filetype::UNKNOWN as u64);
    // fd 2: a regular file.
    assert_eq!(lines[2][1], filetype::REGULAR_FILE as u64, "{text}");
    assert_eq!(lines[2][2] & seekable, seekable);
    assert!(text.contains("seek0 0\n"), "{text}");
    assert!(text.contains(&format!("seek1 {}\n", errno::SPIPE)), "{text}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("from-stdin"));
    assert_eq!(std::fs::read_to_string(dir.join("err")).unwrap(), "from-stdin");
    let _ = std::fs::remove_dir_all(&dir);
}
