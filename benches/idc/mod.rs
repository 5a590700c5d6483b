//! Inter-domain call (IDC) figures, measured side by side in one run.
//!
//! [`measure`] returns flat `(key, value)` pairs for `target/headline.json`:
//!
//! - `idc_null_roundtrip_ns`: a loop in IR (domain `app`) doing N `call_cap` to
//!   `callee.id`, which returns its i64 argument. The loop is timed inside the IR
//!   with `host.clock_ns` around it, so the host-entry cost of `Instance::invoke`
//!   (a fresh thread per call) is left out; the figure is elapsed / N, loop
//!   bookkeeping included (nothing is subtracted).
//! - `loop_overhead_ns`: the same loop with the call removed (same blocks, same
//!   add, same backward branch with its fuel check).
//! - `direct_call_ns`: the same loop with an ordinary `call` to a function of `app`.
//! - `native_call_ns`: a Rust `#[inline(never)]` function called in a loop, through
//!   a function pointer passed through `std::hint::black_box` (so LLVM can neither
//!   inline it nor drop the call as pure); loop included, like the IR figures.
//! - `pipe_roundtrip_ns`, `unix_socket_roundtrip_ns`: an 8-byte request and an
//!   8-byte answer between this process and a copy of its own binary re-executed
//!   as an echo server, over its stdin/stdout pipes or a `UnixStream`; N round
//!   trips per repetition, mean per round trip.
//! - `idc_copy_{4k,64k,1m}_gbps`: `call_cap` with one `buf` argument of that size,
//!   copied into the callee's inbox (runtime path), timed in IR; GB/s is
//!   bytes x calls / ns. `memcpy_{..}_gbps`: Rust `copy_from_slice` of the same
//!   sizes between two heap buffers.
//! - `idc_transfer_1m_ns`: `call_cap` with a 1 MiB `region` that the callee
//!   returns, so each loop iteration (one round trip) is **two** transfers.
//!   `idc_transfer_4k_ns`: the same with a 4 KiB region (O(1): it should match).
//! - `*_min_ns`, `idc_vs_direct_min`: the fastest repetition of the four call
//!   loops, next to their medians. On a shared machine the call loops vary far
//!   more than the empty loop between repetitions (some run 2-10x slower); the
//!   minimum is the least disturbed run.
//! - ratios: `idc_vs_direct`, `idc_vs_native`, `ipc_pipe_vs_idc`,
//!   `ipc_socket_vs_idc`, `idc_copy_{..}_vs_memcpy`, `idc_transfer_vs_null`.
//!
//! Every figure is the median over several repetitions; the repetitions go round
//! every configuration in turn (after one warm-up round), so drift on a shared
//! machine hits them alike. Every loop's result is checked before it counts.
//! JIT backend, default `Config` except `limits.fuel = u64::MAX`.
//!
//! The echo server: the process re-executes `std::env::current_exe()` with
//! `CAPJIT_IDC_ECHO` set; every binary that includes this module (this bench, the
//! headline bench, the smoke test) calls `serve_echo_if_asked` first, which then
//! serves and exits instead of going on.

use std::hint::black_box;
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use capjit::ir::{parse_module, Val};
use capjit::{Backend, Config, Instance};

/// Set in the child's environment: `pipe`, or `socket:PATH`.
const ECHO_ENV: &str = "CAPJIT_IDC_ECHO";

const MIB: usize = 1 << 20;

/// The copy sizes: key suffix and bytes.
const COPY_SIZES: [(&str, usize); 3] = [("4k", 4096), ("64k", 64 << 10), ("1m", MIB)];

const MODULE: &str = r#"
domain callee {
  memory 17
  inbox 0 1048576
  export func id(i64) -> i64 {
  block0(v0: i64):
    return v0
  }
  export func sink(buf) -> i32 {
  block0(v0: buf):
    v1 = buf.len v0
    return v1
  }
  export func bounce(region) -> region {
  block0(v0: region):
    return v0
  }
}

domain app {
  memory 17
  import clock = host.clock_ns : () -> i64
  import id = callee.id : (i64) -> i64
  import sink = callee.sink : (buf) -> i32
  import bounce = callee.bounce : (region) -> region

  func local_id(i64) -> i64 {
  block0(v0: i64):
    return v0
  }

  ; n IDCs to callee.id; (elapsed ns, sum of the results)
  export func idc_loop(i64) -> (i64, i64) {
  block0(v0: i64):
    v1 = cap.get clock
    v2 = cap.get id
    v3 = iconst.i64 0
    call_cap v1() -> ok(block1), fail(block7)
  block1(v4: i64):
    jump block2(v3, v3)
  block2(v5: i64, v6: i64):
    v7 = icmp.slt.i64 v5, v0
    brif v7, block3, block5
  block3:
    call_cap v2(v5) -> ok(block4), fail(block7)
  block4(v8: i64):
    v9 = iadd.i64 v6, v8
    v10 = iconst.i64 1
    v11 = iadd.i64 v5, v10
    jump block2(v11, v9)
  block5:
    call_cap v1() -> ok(block6), fail(block7)
  block6(v12: i64):
    v13 = isub.i64 v12, v4
    return v13, v6
  block7(v14: i32):
    trap
  }

  ; the same loop, an ordinary call to local_id
  export func direct_loop(i64) -> (i64, i64) {
  block0(v0: i64):
    v1 = cap.get clock
    v3 = iconst.i64 0
    call_cap v1() -> ok(block1), fail(block7)
  block1(v4: i64):
    jump block2(v3, v3)
  block2(v5: i64, v6: i64):
    v7 = icmp.slt.i64 v5, v0
    brif v7, block3, block5
  block3:
    v15 = call local_id(v5)
    jump block4(v15)
  block4(v8: i64):
    v9 = iadd.i64 v6, v8
    v10 = iconst.i64 1
    v11 = iadd.i64 v5, v10
    jump block2(v11, v9)
  block5:
    call_cap v1() -> ok(block6), fail(block7)
  block6(v12: i64):
    v13 = isub.i64 v12, v4
    return v13, v6
  block7(v14: i32):
    trap
  }

  ; the same loop without a call
  export func empty_loop(i64) -> (i64, i64) {
  block0(v0: i64):
    v1 = cap.get clock
    v3 = iconst.i64 0
    call_cap v1() -> ok(block1), fail(block7)
  block1(v4: i64):
    jump block2(v3, v3)
  block2(v5: i64, v6: i64):
    v7 = icmp.slt.i64 v5, v0
    brif v7, block3, block5
  block3:
    jump block4(v5)
  block4(v8: i64):
    v9 = iadd.i64 v6, v8
    v10 = iconst.i64 1
    v11 = iadd.i64 v5, v10
    jump block2(v11, v9)
  block5:
    call_cap v1() -> ok(block6), fail(block7)
  block6(v12: i64):
    v13 = isub.i64 v12, v4
    return v13, v6
  block7(v14: i32):
    trap
  }

  ; n IDCs copying `size` bytes of app's memory from `at` into callee's inbox;
  ; (elapsed ns, sum of the lengths the callee saw)
  export func copy_loop(i64, i32, i32) -> (i64, i64) {
  block0(v0: i64, v1: i32, v5: i32):
    v2 = cap.get clock
    v3 = cap.get sink
    v4 = iconst.i64 0
    v19 = iconst.i32 0x5a
    memory.fill v5, v19, v1          ; real pages, not the shared zero page
    v6 = buf.make v5, v1
    call_cap v2() -> ok(block1), fail(block7)
  block1(v7: i64):
    jump block2(v4, v4)
  block2(v8: i64, v9: i64):
    v10 = icmp.slt.i64 v8, v0
    brif v10, block3, block5
  block3:
    call_cap v3(v6) -> ok(block4), fail(block7)
  block4(v11: i32):
    v12 = uextend.i64.i32 v11
    v13 = iadd.i64 v9, v12
    v14 = iconst.i64 1
    v15 = iadd.i64 v8, v14
    jump block2(v15, v13)
  block5:
    call_cap v2() -> ok(block6), fail(block7)
  block6(v16: i64):
    v17 = isub.i64 v16, v7
    return v17, v9
  block7(v18: i32):
    trap
  }

  ; one region of `size` bytes, sent to callee.bounce and back n times;
  ; (elapsed ns, the region's length at the end)
  export func transfer_loop(i64, i32) -> (i64, i64) {
  block0(v0: i64, v1: i32):
    v2 = cap.get clock
    v3 = cap.get bounce
    v4 = iconst.i64 0
    v5 = region.new v1
    call_cap v2() -> ok(block1), fail(block7)
  block1(v6: i64):
    jump block2(v4, v5)
  block2(v7: i64, v8: region):
    v9 = icmp.slt.i64 v7, v0
    brif v9, block3, block5
  block3:
    call_cap v3(v8) -> ok(block4), fail(block7)
  block4(v10: region):
    v11 = iconst.i64 1
    v12 = iadd.i64 v7, v11
    jump block2(v12, v10)
  block5:
    call_cap v2() -> ok(block6), fail(block7)
  block6(v13: i64):
    v14 = isub.i64 v13, v6
    v15 = region.len v8
    region.free v8
    v16 = uextend.i64.i32 v15
    return v14, v16
  block7(v17: i32):
    trap
  }
}
"#;

/// Iteration counts and repetitions for one run. Repetitions are short (a few
/// ms each) and many, so that the median shrugs off those a shared machine
/// disturbs.
struct Plan {
    reps: usize,
    /// Loop iterations for the null IDC, direct, empty and native loops.
    calls: i64,
    /// Round trips for the transfer loops.
    transfers: i64,
    /// Round trips per repetition between processes.
    ipc: usize,
    /// Bytes copied per repetition, at every size.
    copy_bytes: usize,
}

impl Plan {
    fn new(quick: bool) -> Plan {
        if quick {
            Plan {
                reps: 5,
                calls: 100_000,
                transfers: 2_000,
                ipc: 200,
                copy_bytes: 8 * MIB,
            }
        } else {
            Plan {
                reps: 41,
                calls: 300_000,
                transfers: 10_000,
                ipc: 2_000,
                copy_bytes: 32 * MIB,
            }
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    assert!(!v.is_empty());
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn i64_of(v: &Val) -> i64 {
    match v {
        Val::I64(x) => *x,
        other => panic!("expected an i64, got {other:?}"),
    }
}

/// Run an IR loop: (elapsed ns as the IR measured it, its checked value).
fn ir_loop(inst: &mut Instance, func: &str, args: &[Val]) -> (f64, i64) {
    let out = inst
        .invoke("app", func, args)
        .unwrap_or_else(|e| panic!("app.{func} failed: {e:?}"));
    assert_eq!(out.len(), 2, "app.{func} returns (elapsed, check)");
    let ns = i64_of(&out[0]);
    assert!(ns > 0, "app.{func}: the clock did not move");
    (ns as f64, i64_of(&out[1]))
}

fn sum_below(n: i64) -> i64 {
    n * (n - 1) / 2
}

/// ns per iteration of one of the three call loops (idc, direct, empty).
fn call_loop(inst: &mut Instance, func: &str, n: i64) -> f64 {
    let (ns, sum) = ir_loop(inst, func, &[Val::I64(n)]);
    assert_eq!(sum, sum_below(n), "app.{func}: wrong sum");
    ns / n as f64
}

/// GB/s of `n` IDCs each copying `size` bytes from `at` in app's memory into
/// the callee's inbox.
fn copy_loop(inst: &mut Instance, size: usize, at: u32, n: i64) -> f64 {
    let args = [Val::I64(n), Val::I32(size as i32), Val::I32(at as i32)];
    let (ns, total) = ir_loop(inst, "copy_loop", &args);
    assert_eq!(total, n * size as i64, "copy_loop: the callee saw other lengths");
    (size as f64 * n as f64) / ns
}

/// ns per round trip (two transfers) of a `size`-byte region.
fn transfer_loop(inst: &mut Instance, size: usize, n: i64) -> f64 {
    let (ns, len) = ir_loop(inst, "transfer_loop", &[Val::I64(n), Val::I32(size as i32)]);
    assert_eq!(
        len, size as i64,
        "transfer_loop: the region came back with another length"
    );
    ns / n as f64
}

#[inline(never)]
fn native_id(x: i64) -> i64 {
    x
}

/// ns per iteration of a Rust loop calling `native_id`.
fn native_loop(n: i64) -> f64 {
    let f: fn(i64) -> i64 = black_box(native_id);
    let start = Instant::now();
    let mut acc = 0i64;
    for i in 0..n {
        acc = acc.wrapping_add(f(black_box(i)));
    }
    let ns = start.elapsed().as_nanos() as f64;
    assert_eq!(black_box(acc), sum_below(n));
    ns / n as f64
}

/// `len` bytes at the start of a 4 KiB page.
///
/// The IDC copy goes from offset 0 of app's memory to offset 0 of the callee's
/// (its inbox), and both memories start at the same offset within a page (they
/// are allocated alike), so the baseline copies between two page-aligned buffers
/// too: with glibc's `rep movsb` memcpy on AMD Zen 3 (this machine), a destination
/// 16 bytes further into its page than the source copies 50-100x slower (for
/// 4-64 KiB), and two plain `Vec`s of 64 KiB happen to land exactly so.
struct PageBuf {
    bytes: Vec<u8>,
    at: usize,
    len: usize,
}

impl PageBuf {
    fn new(len: usize, fill: u8) -> PageBuf {
        let bytes = vec![fill; len + 4096];
        let at = bytes.as_ptr().align_offset(4096);
        PageBuf { bytes, at, len }
    }

    fn get(&self) -> &[u8] {
        &self.bytes[self.at..self.at + self.len]
    }

    fn get_mut(&mut self) -> &mut [u8] {
        &mut self.bytes[self.at..self.at + self.len]
    }
}

/// GB/s of `copy_from_slice` of `src` into `dst`, `n` times.
fn memcpy_loop(src: &[u8], dst: &mut [u8], n: usize) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        black_box(&mut *dst).copy_from_slice(black_box(src));
    }
    let ns = start.elapsed().as_nanos() as f64;
    assert_eq!(black_box(&*dst)[src.len() - 1], src[src.len() - 1]);
    (src.len() as f64 * n as f64) / ns
}

// ---- the echo server in a child process -----------------------------------------

/// Request/response round trips with an echo child: the child answers each 8-byte
/// little-endian number with that number plus one.
fn roundtrips(tx: &mut impl Write, rx: &mut impl Read, first: u64, n: usize) -> f64 {
    let start = Instant::now();
    let mut buf = [0u8; 8];
    for i in 0..n as u64 {
        tx.write_all(&(first + i).to_le_bytes()).expect("echo: write");
        rx.read_exact(&mut buf).expect("echo: read");
        assert_eq!(u64::from_le_bytes(buf), first + i + 1, "echo: wrong answer");
    }
    start.elapsed().as_nanos() as f64 / n as f64
}

fn echo(mut rx: impl Read, mut tx: impl Write) -> std::io::Result<()> {
    let mut buf = [0u8; 8];
    loop {
        match rx.read_exact(&mut buf) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        let answer = u64::from_le_bytes(buf).wrapping_add(1);
        tx.write_all(&answer.to_le_bytes())?;
    }
}

fn serve(mode: &str) -> std::io::Result<()> {
    use std::os::fd::AsFd;
    if mode == "pipe" {
        // Unbuffered duplicates of stdin and stdout: one read and one write
        // system call per message.
        let input = std::fs::File::from(std::io::stdin().as_fd().try_clone_to_owned()?);
        let output = std::fs::File::from(std::io::stdout().as_fd().try_clone_to_owned()?);
        echo(input, output)
    } else if let Some(path) = mode.strip_prefix("socket:") {
        let stream = UnixStream::connect(path)?;
        echo(stream.try_clone()?, stream)
    } else {
        Err(std::io::Error::other(format!("unknown {ECHO_ENV} mode `{mode}`")))
    }
}

/// Call first thing in every binary (or test) that includes this module: when the
/// parent started this process as an echo server, serve and exit.
pub fn serve_echo_if_asked() {
    let Ok(mode) = std::env::var(ECHO_ENV) else {
        return;
    };
    let code = match serve(&mode) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("idc echo server ({mode}): {e}");
            1
        }
    };
    std::process::exit(code);
}

fn echo_command(mode: &str) -> Command {
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = Command::new(exe);
    cmd.env(ECHO_ENV, mode).stderr(Stdio::inherit());
    cmd
}

/// An echo child on the other end of two pipes.
struct PipeEcho {
    child: Child,
    tx: std::process::ChildStdin,
    rx: std::process::ChildStdout,
}

impl PipeEcho {
    fn start() -> PipeEcho {
        let mut child = echo_command("pipe")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn the pipe echo child");
        let tx = child.stdin.take().expect("child stdin");
        let rx = child.stdout.take().expect("child stdout");
        PipeEcho { child, tx, rx }
    }

    fn roundtrip_ns(&mut self, n: usize) -> f64 {
        roundtrips(&mut self.tx, &mut self.rx, 1 << 40, n)
    }

    fn stop(self) {
        let PipeEcho { mut child, tx, rx } = self;
        drop(tx); // EOF: the child exits
        drop(rx);
        let status = child.wait().expect("wait for the pipe echo child");
        assert!(status.success(), "pipe echo child: {status}");
    }
}

/// An echo child on the other end of a Unix stream socket.
struct SocketEcho {
    child: Child,
    stream: UnixStream,
    path: std::path::PathBuf,
}

impl SocketEcho {
    fn start() -> SocketEcho {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!("capjit-idc-{}-{nanos}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).expect("bind the echo socket");
        let mut child = echo_command(&format!("socket:{}", path.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn the socket echo child");
        // Accept, but do not wait forever for a child that died.
        listener.set_nonblocking(true).expect("nonblocking listener");
        let deadline = Instant::now() + Duration::from_secs(30);
        let stream = loop {
            match listener.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if let Ok(Some(status)) = child.try_wait() {
                        panic!("socket echo child exited before connecting: {status}");
                    }
                    assert!(Instant::now() < deadline, "socket echo child did not connect");
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(e) => panic!("accept: {e}"),
            }
        };
        stream.set_nonblocking(false).expect("blocking stream");
        SocketEcho { child, stream, path }
    }

    fn roundtrip_ns(&mut self, n: usize) -> f64 {
        let mut rx = self.stream.try_clone().expect("clone the stream");
        roundtrips(&mut self.stream, &mut rx, 1 << 41, n)
    }

    fn stop(self) {
        let SocketEcho {
            mut child,
            stream,
            path,
        } = self;
        let _ = stream.shutdown(std::net::Shutdown::Both);
        drop(stream);
        let status = child.wait().expect("wait for the socket echo child");
        let _ = std::fs::remove_file(&path);
        assert!(status.success(), "socket echo child: {status}");
    }
}

// ---- the measurement ------------------------------------------------------------

/// Samples of every configuration, one per repetition.
#[derive(Default)]
struct Samples {
    idc: Vec<f64>,
    direct: Vec<f64>,
    empty: Vec<f64>,
    native: Vec<f64>,
    pipe: Vec<f64>,
    socket: Vec<f64>,
    idc_copy: [Vec<f64>; 3],
    memcpy: [Vec<f64>; 3],
    transfer_1m: Vec<f64>,
    transfer_4k: Vec<f64>,
}

/// Measure every IDC figure (see the module docs). `quick` keeps the whole run
/// under a few seconds, even in a debug build (for tests); the full run takes
/// well under a minute in release.
pub fn measure(quick: bool) -> Vec<(String, f64)> {
    let plan = Plan::new(quick);
    let module = parse_module(MODULE).expect("the IDC bench module parses");
    let mut config = Config {
        backend: Backend::Jit,
        ..Config::default()
    };
    config.limits.fuel = u64::MAX;
    let mut inst = Instance::new(&module, &config, Box::new(std::io::sink())).expect("the IDC bench module verifies");

    // Quick mode (the smoke test) leaves out the IPC figures: a test binary cannot
    // serve as its own echo child (the test harness writes to its stdout).
    let mut pipe = (!quick).then(PipeEcho::start);
    let mut socket = (!quick).then(SocketEcho::start);
    let sources: Vec<PageBuf> = COPY_SIZES.iter().map(|&(_, n)| PageBuf::new(n, 0x5a)).collect();
    let mut dests: Vec<PageBuf> = COPY_SIZES.iter().map(|&(_, n)| PageBuf::new(n, 0)).collect();

    let mut s = Samples::default();
    // Round 0 warms up (page faults, caches, branch predictors) and is dropped.
    for rep in 0..=plan.reps {
        let keep = rep > 0;
        let push = |v: &mut Vec<f64>, x: f64| {
            if keep {
                v.push(x)
            }
        };
        push(&mut s.idc, call_loop(&mut inst, "idc_loop", plan.calls));
        push(&mut s.direct, call_loop(&mut inst, "direct_loop", plan.calls));
        push(&mut s.empty, call_loop(&mut inst, "empty_loop", plan.calls));
        push(&mut s.native, native_loop(plan.calls));
        if let (Some(pipe), Some(socket)) = (pipe.as_mut(), socket.as_mut()) {
            push(&mut s.pipe, pipe.roundtrip_ns(plan.ipc));
            push(&mut s.socket, socket.roundtrip_ns(plan.ipc));
        }
        for (i, &(_, size)) in COPY_SIZES.iter().enumerate() {
            let n = (plan.copy_bytes / size).max(1);
            push(&mut s.idc_copy[i], copy_loop(&mut inst, size, 0, n as i64));
            push(&mut s.memcpy[i], memcpy_loop(sources[i].get(), dests[i].get_mut(), n));
        }
        push(&mut s.transfer_1m, transfer_loop(&mut inst, MIB, plan.transfers));
        push(&mut s.transfer_4k, transfer_loop(&mut inst, 4096, plan.transfers));
    }
    if let (Some(pipe), Some(socket)) = (pipe, socket) {
        pipe.stop();
        socket.stop();
    }
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let (idc_min, direct_min, empty_min, native_min) = (min(&s.idc), min(&s.direct), min(&s.empty), min(&s.native));
    let idc = median(s.idc);
    let direct = median(s.direct);
    let native = median(s.native);
    let ipc = (!s.pipe.is_empty()).then(|| (median(s.pipe), median(s.socket)));
    let transfer = median(s.transfer_1m);
    let mut out: Vec<(String, f64)> = vec![
        ("idc_null_roundtrip_ns".into(), idc),
        ("loop_overhead_ns".into(), median(s.empty)),
        ("direct_call_ns".into(), direct),
        ("native_call_ns".into(), native),
        ("idc_vs_direct".into(), idc / direct),
        ("idc_vs_native".into(), idc / native),
        ("idc_null_roundtrip_min_ns".into(), idc_min),
        ("loop_overhead_min_ns".into(), empty_min),
        ("direct_call_min_ns".into(), direct_min),
        ("native_call_min_ns".into(), native_min),
        ("idc_vs_direct_min".into(), idc_min / direct_min),
    ];
    let [c4, c64, c1m] = s.idc_copy;
    let [m4, m64, m1m] = s.memcpy;
    for ((name, _), (c, m)) in COPY_SIZES.iter().zip([(c4, m4), (c64, m64), (c1m, m1m)]) {
        let (c, m) = (median(c), median(m));
        out.push((format!("idc_copy_{name}_gbps"), c));
        out.push((format!("memcpy_{name}_gbps"), m));
        out.push((format!("idc_copy_{name}_vs_memcpy"), c / m));
    }
    out.push(("idc_transfer_1m_ns".into(), transfer));
    out.push(("idc_transfer_4k_ns".into(), median(s.transfer_4k)));
    out.push(("idc_transfer_vs_null".into(), transfer / idc));
    if let Some((pipe_ns, socket_ns)) = ipc {
        out.push(("pipe_roundtrip_ns".into(), pipe_ns));
        out.push(("unix_socket_roundtrip_ns".into(), socket_ns));
        out.push(("ipc_pipe_vs_idc".into(), pipe_ns / idc));
        out.push(("ipc_socket_vs_idc".into(), socket_ns / idc));
    }
    out
}

/// The figures as a table (one line per key, with what it means).
#[allow(dead_code)] // not every binary that includes this module prints it
pub fn table(figures: &[(String, f64)]) -> String {
    let mut t = String::new();
    for (k, v) in figures {
        let note = if k.ends_with("_ns") {
            "ns"
        } else if k.ends_with("_gbps") {
            "GB/s"
        } else {
            "x"
        };
        t.push_str(&format!("{k:<28} {v:>14.3} {note}\n"));
    }
    t
}
