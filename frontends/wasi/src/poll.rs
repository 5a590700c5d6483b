//! `poll_oneoff`: clock subscriptions (sleeping until the earliest deadline)
//! and fd readiness. A regular file is always ready (`nbytes`: what is left to
//! read), so is an embedder's stream and writing to stdout/stderr; a host stdin
//! that is a terminal or a pipe is really polled (`poll(2)`), with the earliest
//! clock as the timeout.

use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};

use crate::mem::{check, read_u32, read_u64, write_bytes, write_u32, WasiResult};
use crate::state::{io_errno, realtime_ns, Fd, State};
use crate::{errno, Errno};

const EVENTTYPE_CLOCK: u8 = 0;
const EVENTTYPE_FD_READ: u8 = 1;
const EVENTTYPE_FD_WRITE: u8 = 2;
const SUBCLOCK_ABSTIME: u16 = 1;
const CLOCK_REALTIME: u32 = 0;
const CLOCK_MONOTONIC: u32 = 1;

/// Most subscriptions one call may pass (each is 48 bytes of guest memory).
const MAX_SUBSCRIPTIONS: u32 = 4096;

enum Wait {
    /// A clock: fires at the deadline (`None`: too far to represent, never).
    Clock(Option<Instant>),
    /// Ready now, with `nbytes`.
    Ready(u64),
    /// Answered now with this error.
    Error(Errno),
    /// Host stdin (a terminal or a pipe) at this fd: ready when `poll` says so.
    HostRead(u32),
}

struct Sub {
    userdata: u64,
    kind: u8,
    wait: Wait,
}

impl State {
    fn subscription(&mut self, mem: &[u8], at: u32) -> Result<Sub, Errno> {
        let userdata = read_u64(mem, at)?;
        let kind = mem[at as usize + 8];
        let wait = match kind {
            EVENTTYPE_CLOCK => {
                let id = read_u32(mem, at + 16)?;
                let timeout = read_u64(mem, at + 24)?;
                let flags = u16::from_le_bytes([mem[at as usize + 40], mem[at as usize + 41]]);
                let now = Instant::now();
                let absolute = flags & SUBCLOCK_ABSTIME != 0;
                let after = |ns: u64| Wait::Clock(now.checked_add(Duration::from_nanos(ns)));
                match id {
                    CLOCK_MONOTONIC if absolute => after(timeout.saturating_sub(self.monotonic_ns())),
                    CLOCK_REALTIME if absolute => after(timeout.saturating_sub(realtime_ns()?)),
                    CLOCK_MONOTONIC | CLOCK_REALTIME => after(timeout),
                    _ => Wait::Error(errno::INVAL),
                }
            }
            EVENTTYPE_FD_READ | EVENTTYPE_FD_WRITE => {
                let fd = read_u32(mem, at + 16)?;
                let read = kind == EVENTTYPE_FD_READ;
                match self.fd(fd) {
                    Err(e) => Wait::Error(e),
                    Ok(Fd::File(f)) if read => {
                        let left = f.file.metadata().map(|m| m.len()).unwrap_or(0);
                        let pos = std::io::Seek::stream_position(&mut f.file).unwrap_or(0);
                        Wait::Ready(left.saturating_sub(pos))
                    }
                    Ok(Fd::File(_)) => Wait::Ready(0),
                    Ok(Fd::Stream { which: 0 }) if read => Wait::Ready(0),
                    Ok(Fd::Stream { which }) if !read && *which != 0 => Wait::Ready(0),
                    Ok(Fd::Host { which: 0, .. }) if read => Wait::HostRead(fd),
                    Ok(Fd::Host { which, .. }) if !read && *which != 0 => Wait::Ready(0),
                    Ok(_) => Wait::Error(errno::BADF),
                }
            }
            _ => return Err(errno::INVAL),
        };
        Ok(Sub { userdata, kind, wait })
    }

    /// `poll_oneoff(in, out, nsubscriptions, nevents_ptr)`: subscriptions are 48
    /// bytes (userdata u64 @0, tag u8 @8; clock: id u32 @16, timeout u64 @24,
    /// precision u64 @32, flags u16 @40; fd: fd u32 @16), events 32 bytes
    /// (userdata u64 @0, error u16 @8, type u8 @10, nbytes u64 @16, flags u16 @24).
    pub fn poll_oneoff(&mut self, mem: &mut [u8], input: u32, output: u32, nsubs: u32, nevents_ptr: u32) -> WasiResult {
        if nsubs == 0 || nsubs > MAX_SUBSCRIPTIONS {
            return Err(errno::INVAL);
        }
        check(mem, input, nsubs as u64 * 48)?;
        check(mem, output, nsubs as u64 * 32)?;
        check(mem, nevents_ptr, 4)?;
        let subs = (0..nsubs)
            .map(|i| self.subscription(mem, input + i * 48))
            .collect::<Result<Vec<_>, _>>()?;
        loop {
            let now = Instant::now();
            let mut ready: Vec<(usize, u16, u64)> = Vec::new();
            for (i, s) in subs.iter().enumerate() {
                match s.wait {
                    Wait::Clock(Some(t)) if t <= now => ready.push((i, 0, 0)),
                    Wait::Ready(n) => ready.push((i, 0, n)),
                    Wait::Error(e) => ready.push((i, e as u16, 0)),
                    _ => {}
                }
            }
            if ready.is_empty() {
                let deadline = subs
                    .iter()
                    .filter_map(|s| match s.wait {
                        Wait::Clock(t) => t,
                        _ => None,
                    })
                    .min();
                let timeout = deadline.map(|t| t.saturating_duration_since(now));
                let readable = self.wait_host_stdin(&subs, timeout)?;
                ready.extend(readable.into_iter().map(|i| (i, 0, 0)));
            }
            if ready.is_empty() {
                continue; // a deadline passed (checked again above)
            }
            for (n, &(i, error, nbytes)) in ready.iter().enumerate() {
                let mut event = [0u8; 32];
                event[0..8].copy_from_slice(&subs[i].userdata.to_le_bytes());
                event[8..10].copy_from_slice(&error.to_le_bytes());
                event[10] = subs[i].kind;
                event[16..24].copy_from_slice(&nbytes.to_le_bytes());
                write_bytes(mem, output + n as u32 * 32, &event)?;
            }
            return write_u32(mem, nevents_ptr, ready.len() as u32);
        }
    }

    /// Wait at most `timeout` (`None`: without end) for a host stdin among
    /// `subs` to be readable; the indices of those that are. With none to
    /// wait for, sleep.
    fn wait_host_stdin(&self, subs: &[Sub], timeout: Option<Duration>) -> Result<Vec<usize>, Errno> {
        let waiting: Vec<(usize, &std::fs::File)> = subs
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s.wait {
                Wait::HostRead(fd) => match self.fds.get(fd as usize) {
                    Some(Some(Fd::Host { file, .. })) => Some((i, file)),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        if waiting.is_empty() {
            std::thread::sleep(timeout.unwrap_or(Duration::MAX));
            return Ok(Vec::new());
        }
        let mut pollfds: Vec<PollFd<'_>> = waiting.iter().map(|(_, f)| PollFd::new(*f, PollFlags::IN)).collect();
        let spec = timeout.map(|d| Timespec {
            tv_sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: d.subsec_nanos().into(),
        });
        match rustix::event::poll(&mut pollfds, spec.as_ref()) {
            Ok(_) => {}
            Err(e) if e == rustix::io::Errno::INTR => return Ok(Vec::new()),
            Err(e) => return Err(io_errno(&e.into())),
        }
        Ok(waiting
            .iter()
            .zip(&pollfds)
            .filter(|(_, p)| !p.revents().is_empty())
            .map(|((i, _), _)| *i)
            .collect())
    }
}
