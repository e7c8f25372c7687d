//! The log events the code under test emits, as `tracing-subscriber`'s
//! `fmt` layer writes them, kept in memory.

use std::io;
use std::sync::{Arc, Mutex, OnceLock};

/// Everything logged since the first [`capture`], by every test.
pub type Log = Arc<Mutex<Vec<u8>>>;

/// Starts recording the log events of the whole test binary (once, for
/// every test: a subscriber for one thread would miss events of spans that
/// another thread's test made first) and returns the record.
pub fn capture() -> Log {
    static LOG: OnceLock<Log> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Log::default();
        let writer = Arc::clone(&log);
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || Writer(Arc::clone(&writer)))
            .try_init()
            .expect("no other test installs a subscriber");
        log
    })
    .clone()
}

/// The value of the field `field` of the event whose message is `message`:
/// the rest of its line after `field=`.
#[track_caller]
pub fn field(log: &Log, message: &str, field: &str) -> String {
    let text =
        String::from_utf8_lossy(&log.lock().expect("the log is never poisoned")).into_owned();
    let prefix = format!("{field}=");
    text.lines()
        .filter(|line| line.contains(message))
        .find_map(|line| line.split_once(&prefix).map(|(_, value)| value.to_string()))
        .unwrap_or_else(|| {
            panic!("no event `{message}` with a field `{field}` was logged:\n{text}")
        })
}

/// The first line logged whose text contains `message`, as the subscriber
/// wrote it (time, level, module, message and fields).
#[track_caller]
pub fn line(log: &Log, message: &str) -> String {
    let text =
        String::from_utf8_lossy(&log.lock().expect("the log is never poisoned")).into_owned();
    text.lines()
        .find(|line| line.contains(message))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no event `{message}` was logged:\n{text}"))
}

/// Appends what the subscriber writes to the record.
struct Writer(Log);

impl io::Write for Writer {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .expect("the log is never poisoned")
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
