//! Where log lines go: stdout or a file rotated by size, written by a
//! thread of its own so a slow disk never holds a request. A request
//! appends its line to a shared buffer (a short, uncontended lock and a
//! copy) and never wakes the writer: the writer takes the whole buffer
//! every few milliseconds and writes it in one go. Waking a thread per
//! line would cost a context switch per request. A writer that finds
//! nothing to take sleeps until the next line, so an idle gateway does not
//! wake it 50 times a second. When the buffer is full
//! (the disk has fallen far behind) lines are dropped and counted, rather
//! than requests waiting.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Bytes buffered before new lines are dropped.
const MAX_BUFFERED: usize = 32 * 1024 * 1024;
/// How often the writer takes what was buffered.
const WRITE_EVERY: Duration = Duration::from_millis(20);

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

/// What requests have written and the writer has not yet taken.
#[derive(Default)]
struct Shared {
    buffer: Mutex<Vec<u8>>,
    dropped: AtomicU64,
    closed: AtomicBool,
    /// Set by the writer before it sleeps with nothing to take; the next
    /// line clears it and wakes the writer.
    asleep: AtomicBool,
}

/// A stream of log lines.
pub struct Sink {
    shared: Arc<Shared>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.close();
    }
}

impl Sink {
    /// Start the writer thread for `destination`.
    pub fn start(name: &str, destination: Destination) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let mut output = Output::open(destination)?;
        let writer = shared.clone();
        let handle = std::thread::Builder::new()
            .name(format!("portcullis-{name}-log"))
            .spawn(move || write_lines(&writer, &mut output))?;
        Ok(Self {
            shared,
            writer: Mutex::new(Some(handle)),
        })
    }

    /// Write what is buffered and stop the writer (at shutdown).
    pub fn close(&self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        let handle = self.writer.lock().ok().and_then(|mut w| w.take());
        if let Some(handle) = handle {
            handle.thread().unpark();
            let _ = handle.join();
        }
    }

    /// Buffer one line (without its newline).
    pub fn write(&self, line: &[u8]) {
        let Ok(mut buffer) = self.shared.buffer.lock() else {
            return;
        };
        if buffer.len() + line.len() + 1 > MAX_BUFFERED {
            drop(buffer);
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        buffer.extend_from_slice(line);
        buffer.push(b'\n');
        drop(buffer);
        // The writer sets `asleep` before it looks at the buffer under the
        // lock: either it saw this line, or this sees `asleep` and wakes it.
        if self.shared.asleep.load(Ordering::SeqCst)
            && self.shared.asleep.swap(false, Ordering::SeqCst)
        {
            self.wake_writer();
        }
    }

    fn wake_writer(&self) {
        if let Ok(writer) = self.writer.lock()
            && let Some(handle) = writer.as_ref()
        {
            handle.thread().unpark();
        }
    }

    /// Lines dropped because the writer fell behind.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }
}

enum Output {
    Stdout(BufWriter<std::io::Stdout>),
    /// Written unbuffered: the writer already hands over everything a
    /// request burst buffered, so one write per take is the fewest calls.
    File {
        file: File,
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
                    file,
                    path,
                    written,
                    rotate_bytes,
                    keep,
                }
            }
        })
    }

    /// Write whole lines (each ending in a newline), rotating a file
    /// between lines: as many lines as fit go in one write.
    fn write_lines(&mut self, lines: &[u8]) -> std::io::Result<()> {
        match self {
            Output::Stdout(out) => out.write_all(lines),
            Output::File {
                file,
                path,
                written,
                rotate_bytes,
                keep,
            } => {
                let mut rest = lines;
                while !rest.is_empty() {
                    let room = usize::try_from(rotate_bytes.saturating_sub(*written))
                        .unwrap_or(usize::MAX);
                    let cut = if rest.len() <= room {
                        rest.len()
                    } else {
                        match rest[..room].iter().rposition(|b| *b == b'\n') {
                            Some(last) => last + 1,
                            None if *written > 0 => {
                                rotate(path, *keep)?;
                                *file = append(path)?;
                                *written = 0;
                                continue;
                            }
                            // A single line longer than a whole file: it
                            // gets a file of its own rather than being lost.
                            None => rest
                                .iter()
                                .position(|b| *b == b'\n')
                                .map_or(rest.len(), |first| first + 1),
                        }
                    };
                    file.write_all(&rest[..cut])?;
                    *written += cut as u64;
                    rest = &rest[cut..];
                }
                Ok(())
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Output::Stdout(out) => out.flush(),
            Output::File { .. } => Ok(()),
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
    // A file moved away by someone else is already rotated: not an
    // error that would drop every line from now on.
    let gone = |result: std::io::Result<()>| match result {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    };
    if keep == 0 {
        return gone(std::fs::remove_file(path));
    }
    for n in (1..keep).rev() {
        let from = numbered(n);
        if from.exists() {
            std::fs::rename(&from, numbered(n + 1))?;
        }
    }
    gone(std::fs::rename(path, numbered(1)))
}

/// Take what requests buffered every [`WRITE_EVERY`] and write it, until
/// the sink is closed (then write what is left). After a take with nothing
/// in it, sleep until a line comes. Lines that cannot be written count as
/// dropped.
fn write_lines(shared: &Shared, output: &mut Output) {
    let mut taken = Vec::new();
    let mut found_nothing = false;
    loop {
        if found_nothing {
            // Parks only while `asleep` is still set: a line written since
            // the take cleared it (and unparked, which makes this return).
            std::thread::park();
        } else {
            std::thread::sleep(WRITE_EVERY);
        }
        // Read before taking the buffer: whatever was buffered before the
        // close is in this last take.
        let closing = shared.closed.load(Ordering::SeqCst);
        if let Ok(mut buffer) = shared.buffer.lock() {
            std::mem::swap(&mut *buffer, &mut taken);
            found_nothing = taken.is_empty() && !closing;
            if found_nothing {
                // Under the lock, so a line pushed after this take sees it.
                shared.asleep.store(true, Ordering::SeqCst);
            }
        }
        if !taken.is_empty() {
            if output
                .write_lines(&taken)
                .and_then(|()| output.flush())
                .is_err()
            {
                let lines = taken.iter().filter(|b| **b == b'\n').count();
                shared.dropped.fetch_add(lines as u64, Ordering::Relaxed);
            }
            taken.clear();
        }
        if closing {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::eventually;

    #[test]
    fn a_sleeping_writer_wakes_for_the_next_line_and_for_close() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("audit.log");
        let sink = Sink::start(
            "test",
            Destination::File {
                path: path.clone(),
                rotate_bytes: 1 << 20,
                keep: 1,
            },
        )
        .expect("start");
        let written = || std::fs::read_to_string(&path).unwrap_or_default();
        sink.write(b"first");
        eventually("the first line is written", || written() == "first\n");
        eventually("the writer sleeps with nothing to take", || {
            sink.shared.asleep.load(Ordering::SeqCst)
        });
        sink.write(b"second");
        eventually("the second line wakes the writer", || {
            written() == "first\nsecond\n"
        });
        eventually("the writer sleeps again", || {
            sink.shared.asleep.load(Ordering::SeqCst)
        });
        sink.close();
        assert_eq!(written(), "first\nsecond\n");
    }

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
        // Several takes, each holding several lines.
        for take in 0..6 {
            let lines: String = (0..5)
                .map(|i| format!("line {:02} .........\n", take * 5 + i))
                .collect();
            output.write_lines(lines.as_bytes()).expect("write");
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
