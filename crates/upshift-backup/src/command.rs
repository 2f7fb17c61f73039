//! Running external tools (`pg_dump`, `mariadb`, `docker` …): secrets go in
//! the environment or in a private file, never in arguments (which `ps`
//! shows every user); failures name the store and carry the tool's standard
//! error.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tempfile::TempPath;

use crate::error::{BackupError, Result};

/// At most this much of a tool's stderr is kept.
const STDERR_LIMIT: usize = 16 * 1024;

/// A tool invocation on behalf of a store.
#[derive(Clone)]
pub(crate) struct Cmd {
    store: String,
    program: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    /// Files holding secrets for the tool, removed when the last clone of
    /// the command is dropped.
    files: Vec<Arc<TempPath>>,
    /// What must stay alive while the tool runs (a transaction whose
    /// snapshot the tool reads), released with the last clone.
    holds: Vec<Arc<dyn Send + Sync>>,
}

impl std::fmt::Debug for Cmd {
    /// Shows program and arguments; environment values (secrets) are hidden.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.program, self.args.join(" "))
    }
}

impl Cmd {
    pub(crate) fn new(store: &str, program: &str) -> Self {
        Cmd {
            store: store.to_string(),
            program: program.to_string(),
            args: Vec::new(),
            env: Vec::new(),
            files: Vec::new(),
            holds: Vec::new(),
        }
    }

    /// Keeps `held` alive as long as this command (or a clone) exists.
    pub(crate) fn holding(mut self, held: Arc<dyn Send + Sync>) -> Self {
        self.holds.push(held);
        self
    }

    pub(crate) fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }

    pub(crate) fn args<S: Into<String>>(mut self, a: impl IntoIterator<Item = S>) -> Self {
        self.args.extend(a.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable (used for passwords: never printed).
    pub(crate) fn env(mut self, k: &str, v: impl Into<String>) -> Self {
        self.env.push((k.to_string(), v.into()));
        self
    }

    /// Writes `contents` (a secret) to a file only the current user can
    /// read and passes it as `{flag}=PATH`. The file is removed when the
    /// command (and every clone of it) is dropped.
    pub(crate) fn secret_file(mut self, flag: &str, contents: &str) -> Result<Self> {
        let dir = std::env::temp_dir();
        let cannot =
            |e: std::io::Error| BackupError::io("cannot write a credentials file in", &dir, e);
        let mut f = tempfile::Builder::new()
            .prefix("upshift-credentials-")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .tempfile_in(&dir)
            .map_err(cannot)?;
        f.write_all(contents.as_bytes()).map_err(cannot)?;
        f.as_file().sync_all().map_err(cannot)?;
        let path = f.into_temp_path();
        self.args.push(format!("{flag}={}", path.display()));
        self.files.push(Arc::new(path));
        Ok(self)
    }

    /// The arguments the tool is started with (what `ps` would show).
    #[cfg(test)]
    pub(crate) fn argv(&self) -> &[String] {
        &self.args
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.program);
        // Its own process group: Ctrl-C on the terminal reaches upshift only.
        c.process_group(0);
        c.args(&self.args);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    /// The command line, for the record of a running child (no secrets:
    /// those are in the environment).
    fn shown(&self) -> String {
        format!("{self:?}")
    }

    fn missing(&self, e: std::io::Error) -> BackupError {
        BackupError::ToolMissing {
            store: self.store.clone(),
            tool: self.program.clone(),
            source: e,
        }
    }

    pub(crate) fn failed(&self, status: ExitStatus, stderr: &[u8]) -> BackupError {
        BackupError::Tool {
            store: self.store.clone(),
            tool: self.program.clone(),
            status: status.to_string(),
            stderr: String::from_utf8_lossy(stderr).trim().to_string(),
        }
    }

    /// Runs to completion and returns stdout.
    pub(crate) fn output(&self) -> Result<String> {
        let (child, _tracked) = self.spawn_tracked(Stdio::null())?;
        let out = child.wait_with_output().map_err(|e| self.missing(e))?;
        if !out.status.success() {
            return Err(self.failed(out.status, &out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Starts the tool with every standard stream piped, for a caller that
    /// talks to it; it is recorded as a running child until `Tracked` drops.
    pub(crate) fn spawn_piped(&self) -> Result<(Child, crate::children::Tracked)> {
        self.spawn_tracked(Stdio::piped())
    }

    /// Starts the tool (stdout and stderr piped, `stdin` as given) and
    /// records it as a running child until the returned `Tracked` drops.
    fn spawn_tracked(&self, stdin: Stdio) -> Result<(Child, crate::children::Tracked)> {
        let child = self
            .command()
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| self.missing(e))?;
        let tracked = crate::children::track(child.id(), &self.shown());
        Ok((child, tracked))
    }

    /// Runs with `feed` writing the tool's stdin; returns stdout.
    /// When the tool fails, its stderr is reported rather than a broken pipe.
    pub(crate) fn run_with_stdin(
        &self,
        feed: impl FnOnce(&mut dyn Write) -> Result<()>,
    ) -> Result<String> {
        let (mut child, _tracked) = self.spawn_tracked(Stdio::piped())?;
        let stdout = collect(child.stdout.take().expect("piped"), usize::MAX);
        let stderr = collect(child.stderr.take().expect("piped"), STDERR_LIMIT);
        let mut stdin = child.stdin.take().expect("piped");
        let fed = feed(&mut stdin);
        drop(stdin);
        let status = child.wait().map_err(|e| self.missing(e))?;
        let out = stdout.join().unwrap_or_default();
        let err = stderr.join().unwrap_or_default();
        if !status.success() {
            return Err(self.failed(status, &err));
        }
        fed?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// Starts the tool and returns a reader over its stdout that fails at the
    /// end when the tool exits unsuccessfully, recording the failure.
    pub(crate) fn spawn_reader(&self, failures: Failures) -> Result<ChildReader> {
        let (mut child, tracked) = self.spawn_tracked(Stdio::null())?;
        let stdout = child.stdout.take().expect("piped");
        let stderr = collect(child.stderr.take().expect("piped"), STDERR_LIMIT);
        Ok(ChildReader {
            cmd: self.clone(),
            child,
            stdout,
            stderr: Some(stderr),
            failures,
            done: false,
            _tracked: tracked,
        })
    }
}

/// Reads a tool's stderr to the end on a thread, keeping its beginning.
pub(crate) fn collect_stderr(r: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    collect(r, STDERR_LIMIT)
}

/// Reads a pipe to the end on a thread, keeping at most `limit` bytes.
fn collect(mut r: impl Read + Send + 'static, limit: usize) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0u8; 8192];
        while let Ok(n) = r.read(&mut buf) {
            if n == 0 {
                break;
            }
            let room = limit.saturating_sub(kept.len()).min(n);
            kept.extend_from_slice(&buf[..room]);
        }
        kept
    })
}

/// Failures seen while the archiver read sources (it only logs read errors,
/// so they are collected here and the snapshot is discarded).
pub(crate) type Failures = Arc<Mutex<Vec<BackupError>>>;

/// A tool's stdout; at EOF it checks the exit status.
pub(crate) struct ChildReader {
    cmd: Cmd,
    child: Child,
    stdout: ChildStdout,
    stderr: Option<JoinHandle<Vec<u8>>>,
    failures: Failures,
    done: bool,
    _tracked: crate::children::Tracked,
}

impl Read for ChildReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        let n = self.stdout.read(buf)?;
        if n > 0 || buf.is_empty() {
            return Ok(n);
        }
        self.done = true;
        let status = self.child.wait()?;
        let stderr = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        if status.success() {
            return Ok(0);
        }
        let err = self.cmd.failed(status, &stderr);
        let msg = err.to_string();
        self.failures.lock().expect("failures lock").push(err);
        Err(std::io::Error::other(msg))
    }
}

impl Drop for ChildReader {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
