//! Where log lines go: stdout or a file rotated by size, written by a
//! thread of its own so a slow disk never holds a request. Lines are handed
//! over through a bounded queue; when it is full a line is dropped and
//! counted, rather than the request waiting.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::Duration;

/// Lines queued before new ones are dropped.
const QUEUE_LINES: usize = 65_536;

/// Where a stream of lines goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Standard output.
    Stdout,
    /// A file, rotated when it passes `rotate_bytes`, keeping `keep` old
    /// ones as `FILE.1` (newest) .. `FILE.N`.
    File {
        /// The file.
        path: PathBuf,
        /// Size that triggers rotation.
        rotate_bytes: u64,
        /// Rotated files kept.
        keep: u32,
    },
}

/// A stream of log lines.
pub struct Sink {
    queue: SyncSender<String>,
    dropped: Arc<AtomicU64>,
}

impl Sink {
    /// Start the writer thread for `destination`.
    pub fn start(name: &str, destination: Destination) -> std::io::Result<Self> {
        let (queue, lines) = std::sync::mpsc::sync_channel(QUEUE_LINES);
        let mut output = Output::open(destination)?;
        std::thread::Builder::new()
            .name(format!("portcullis-{name}-log"))
            .spawn(move || write_lines(&lines, &mut output))?;
        Ok(Self {
            queue,
            dropped: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Queue one line (without its newline).
    pub fn write(&self, line: String) {
        match self.queue.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Lines dropped because the writer fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

enum Output {
    Stdout(BufWriter<std::io::Stdout>),
    File {
        writer: BufWriter<File>,
        path: PathBuf,
        written: u64,
        rotate_bytes: u64,
        keep: u32,
    },
}

impl Output {
    fn open(destination: Destination) -> std::io::Result<Self> {
        Ok(match destination {
            Destination::Stdout => Output::Stdout(BufWriter::new(std::io::stdout())),
            Destination::File {
                path,
                rotate_bytes,
                keep,
            } => {
                let file = append(&path)?;
                let written = file.metadata().map_or(0, |m| m.len());
                Output::File {
                    writer: BufWriter::new(file),
                    path,
                    written,
                    rotate_bytes,
                    keep,
                }
            }
        })
    }

    fn write_line(&mut self, line: &str) -> std::io::Result<()> {
        match self {
            Output::Stdout(out) => {
                out.write_all(line.as_bytes())?;
                out.write_all(b"\n")
            }
            Output::File {
                writer,
                path,
                written,
                rotate_bytes,
                keep,
            } => {
                if *written > 0 && *written + line.len() as u64 + 1 > *rotate_bytes {
                    writer.flush()?;
                    rotate(path, *keep)?;
                    *writer = BufWriter::new(append(path)?);
                    *written = 0;
                }
                writer.write_all(line.as_bytes())?;
                writer.write_all(b"\n")?;
                *written += line.len() as u64 + 1;
                Ok(())
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Output::Stdout(out) => out.flush(),
            Output::File { writer, .. } => writer.flush(),
        }
    }
}

fn append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// `FILE.(keep-1)` → `FILE.keep`, ..., `FILE` → `FILE.1`.
fn rotate(path: &Path, keep: u32) -> std::io::Result<()> {
    let numbered = |n: u32| {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    };
    if keep == 0 {
        return std::fs::remove_file(path);
    }
    for n in (1..keep).rev() {
        let from = numbered(n);
        if from.exists() {
            std::fs::rename(&from, numbered(n + 1))?;
        }
    }
    std::fs::rename(path, numbered(1))
}

/// Write lines as they come; flush whenever the queue runs dry, so a line
/// is out within moments while bursts are written in large blocks.
fn write_lines(lines: &Receiver<String>, output: &mut Output) {
    loop {
        match lines.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                if output.write_line(&line).is_err() {
                    continue;
                }
                while let Ok(line) = lines.try_recv() {
                    let _ = output.write_line(&line);
                }
                let _ = output.flush();
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                let _ = output.flush();
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_rotate_and_keep_their_number() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("access.log");
        let mut output = Output::open(Destination::File {
            path: path.clone(),
            rotate_bytes: 100,
            keep: 2,
        })
        .expect("open");
        for i in 0..30 {
            output
                .write_line(&format!("line {i:02} ........."))
                .expect("write");
        }
        output.flush().expect("flush");
        assert!(path.with_extension("log.1").exists());
        assert!(path.with_extension("log.2").exists());
        assert!(!path.with_extension("log.3").exists());
        let current = std::fs::read_to_string(&path).expect("read");
        assert!(current.ends_with("line 29 .........\n"), "{current}");
        assert!(current.len() <= 100);
    }
}
