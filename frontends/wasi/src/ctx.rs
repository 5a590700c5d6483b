//! What a program may reach through WASI ([`WasiCtx`], built with
//! [`WasiCtxBuilder`]): arguments, environment, stdio, and preopened directories
//! with their permission (read-write or read-only); and [`SharedBuffer`], a
//! `Write` to capture a program's output.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

/// A host directory granted to the program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preopen {
    /// The name the program sees (`fd_prestat_dir_name`).
    pub guest: String,
    /// The host directory; nothing outside it is reachable through it.
    pub host: PathBuf,
    /// Whether the program may change what is below it (create, write, rename,
    /// remove, set times). Without it every such call is `ENOTCAPABLE`.
    pub writable: bool,
}

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
    /// Which of fds 0, 1, 2 are the host process's own: those are read and
    /// written through the host descriptor itself (not the boxed stream above)
    /// and report the host descriptor's real file type. The others are streams
    /// of the embedder, never a terminal.
    pub inherited: [bool; 3],
    /// The directories granted, as fd 3, 4, ... in this order.
    pub preopens: Vec<Preopen>,
}

impl Default for WasiCtx {
    fn default() -> Self {
        WasiCtx {
            args: Vec::new(),
            env: Vec::new(),
            stdin: Box::new(io::empty()),
            stdout: Box::new(io::sink()),
            stderr: Box::new(io::sink()),
            inherited: [false; 3],
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
    ///     .preopened_dir_readonly("/etc-copy", std::env::temp_dir())
    ///     .build()?;
    /// assert_eq!(ctx.args.len(), 2);
    /// assert!(ctx.preopens[0].writable && !ctx.preopens[1].writable);
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

    /// fd 0 reads from `r` (never a terminal).
    pub fn stdin(mut self, r: impl Read + Send + 'static) -> Self {
        self.ctx.stdin = Box::new(r);
        self.ctx.inherited[0] = false;
        self
    }

    /// fd 1 writes to `w` (never a terminal).
    pub fn stdout(mut self, w: impl Write + Send + 'static) -> Self {
        self.ctx.stdout = Box::new(w);
        self.ctx.inherited[1] = false;
        self
    }

    /// fd 2 writes to `w` (never a terminal).
    pub fn stderr(mut self, w: impl Write + Send + 'static) -> Self {
        self.ctx.stderr = Box::new(w);
        self.ctx.inherited[2] = false;
        self
    }

    /// The host process's own stdin, stdout and stderr, reporting what they
    /// really are (a terminal, a pipe, a regular file).
    pub fn inherit_stdio(mut self) -> Self {
        self = self.stdin(io::stdin()).stdout(io::stdout()).stderr(io::stderr());
        self.ctx.inherited = [true; 3];
        self
    }

    /// Let the program read, create, write, rename and remove files below
    /// `host`, under the name `guest` (fd 3 for the first, 4 for the next, ...).
    pub fn preopened_dir(mut self, guest: impl Into<String>, host: impl Into<PathBuf>) -> Self {
        self.ctx.preopens.push(Preopen {
            guest: guest.into(),
            host: host.into(),
            writable: true,
        });
        self
    }

    /// Like [`preopened_dir`](Self::preopened_dir), but the program may only
    /// read, list and stat below `host`: anything that would change it is
    /// `ENOTCAPABLE`.
    pub fn preopened_dir_readonly(mut self, guest: impl Into<String>, host: impl Into<PathBuf>) -> Self {
        self.ctx.preopens.push(Preopen {
            guest: guest.into(),
            host: host.into(),
            writable: false,
        });
        self
    }

    /// The context; fails when a preopened directory is not a directory.
    pub fn build(mut self) -> io::Result<WasiCtx> {
        for Preopen { guest, host, .. } in &mut self.ctx.preopens {
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
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
