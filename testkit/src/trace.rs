//! Recording what the server traces: the spans it opens and the events it
//! logs, for tests that check tracing is wired in and that errors are logged.
//!
//! A `#[tokio::test]` runs the test, the server and the client on one thread,
//! so a [`Recording`] started on the test's thread sees every span and event
//! the server makes for the test's requests, and none of the other tests',
//! which run on other threads.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::sync::{Arc, Mutex, Once};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// Spans and events recorded on one thread.
#[derive(Default)]
struct Recorded {
    /// Each span's id and its text, `name field=value ...`.
    spans: Vec<(Id, String)>,
    /// Each event's level and its text, ` field=value ...`.
    events: Vec<(Level, String)>,
}

type Shared = Arc<Mutex<Recorded>>;

thread_local! {
    /// Where [`ToThisThreadsRecording`] puts what is traced on this thread.
    static RECORDING: RefCell<Option<Shared>> = const { RefCell::new(None) };
}

/// What is traced on this thread while it is alive.
pub struct Recording {
    recorded: Shared,
}

impl Recording {
    /// Starts recording the spans and events of this thread.
    pub fn start() -> Recording {
        // One subscriber for the whole test binary, installed by the first
        // test that records, hands each span and event to the recording of
        // the thread that made it. (A per-thread subscriber, `set_default`,
        // is not enough: while only one exists, tracing caches "nobody is
        // interested" for a callsite first hit on any other thread, and the
        // recording would miss it.)
        static INSTALL: Once = Once::new();
        INSTALL.call_once(|| {
            let subscriber = tracing_subscriber::registry().with(ToThisThreadsRecording);
            tracing::subscriber::set_global_default(subscriber).expect(
                "the test could not install its tracing subscriber: does app() install \
                 one? Only main should.",
            );
        });
        // Callsites first hit before the subscriber was installed are cached
        // as uninteresting; ask tracing to look again.
        tracing::callsite::rebuild_interest_cache();
        let recorded = Shared::default();
        RECORDING.set(Some(Arc::clone(&recorded)));
        Recording { recorded }
    }

    /// The spans opened so far, each as `name field=value ...`.
    pub fn spans(&self) -> Vec<String> {
        let recorded = self.recorded.lock().unwrap();
        recorded
            .spans
            .iter()
            .map(|(_, text)| text.clone())
            .collect()
    }

    /// The spans opened so far that mention `text`.
    pub fn spans_mentioning(&self, text: &str) -> Vec<String> {
        let mut spans = self.spans();
        spans.retain(|span| span.contains(text));
        spans
    }

    /// The events logged so far at `level`, each as ` field=value ...`.
    pub fn events_at(&self, level: Level) -> Vec<String> {
        let recorded = self.recorded.lock().unwrap();
        recorded
            .events
            .iter()
            .filter(|(event_level, _)| *event_level == level)
            .map(|(_, text)| text.clone())
            .collect()
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        RECORDING.set(None);
    }
}

/// Spans or events, one a line, for a failure message.
pub fn list(lines: &[String]) -> String {
    if lines.is_empty() {
        return "  (none at all)\n".to_string();
    }
    lines
        .iter()
        .map(|line| format!("  {}\n", line.trim_start()))
        .collect()
}

/// The layer that writes each span and event, as text, into the recording of
/// the thread that made it, if that thread is recording.
struct ToThisThreadsRecording;

fn with_recording(record: impl FnOnce(&mut Recorded)) {
    RECORDING.with_borrow(|recording| {
        if let Some(recorded) = recording {
            record(&mut recorded.lock().unwrap());
        }
    });
}

impl<S: Subscriber> Layer<S> for ToThisThreadsRecording {
    fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let mut text = attributes.metadata().name().to_string();
        attributes.record(&mut FieldsAsText(&mut text));
        with_recording(|recorded| recorded.spans.push((id.clone(), text)));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        with_recording(|recorded| {
            // The registry reuses the ids of closed spans: the latest is ours.
            if let Some((_, text)) = recorded.spans.iter_mut().rev().find(|(span, _)| span == id) {
                values.record(&mut FieldsAsText(text));
            }
        });
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut text = String::new();
        event.record(&mut FieldsAsText(&mut text));
        let level = *event.metadata().level();
        with_recording(|recorded| recorded.events.push((level, text)));
    }
}

/// Appends ` name=value` to the text for every field it visits.
struct FieldsAsText<'a>(&'a mut String);

impl Visit for FieldsAsText<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={value}", field.name());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}
