//! Watch mode, what `cargo checker` opens: the current exercise on screen,
//! checked again on every save, driven by single keys. One loop owns the
//! state; threads feed it events (keys, file changes, build progress,
//! results) through one channel, so nothing draws half a screen.

mod app;
mod screen;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use crossterm::event::{self, KeyEvent, KeyEventKind};
use notify::{RecursiveMode, Watcher};

use crate::commands::check::Checked;
use crate::commands::{Context, status};
use crate::outcome::Outcome;
use crate::run::BuildProgress;
use crate::term::screen::Terminal;
use app::{App, Flow};

/// Editors save in several steps (write a temp file, rename, touch): wait
/// this long after the last change before checking.
const DEBOUNCE: Duration = Duration::from_millis(25);
/// How often the screen refreshes while a build runs (for the elapsed time).
const TICK: Duration = Duration::from_millis(250);

/// Everything the loop reacts to.
pub enum Event {
    Key(KeyEvent),
    Resize,
    FileChanged,
    WatchFailed(String),
    Build(BuildProgress),
    Tested(Outcome),
    /// A check's outcomes, or why it could not run (cargo could not start, say).
    Finished(Result<Checked, String>),
    /// A line of news from work in the background (opening the book).
    Notice(String),
}

pub fn run(context: &Context, manual: bool) -> Result<ExitCode> {
    // Pipes and CI get a one-shot status: there is nobody to press keys.
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return status::run(context);
    }
    let context = Arc::new(context.clone());
    let (events, receiver) = mpsc::channel();
    let terminal = Terminal::enter().context("cannot put the terminal in watch mode")?;
    read_keys(events.clone());
    let mut app = App::new(Arc::clone(&context), manual)?;
    let mut watcher = if manual {
        None
    } else {
        start_watcher(&events, &mut app)
    };
    let mut watched = None;
    app.check_current(&events);
    let mut change_at: Option<Instant> = None;
    loop {
        if let Some(watcher) = watcher.as_mut() {
            rewatch(watcher, &mut watched, app.exercise_dir(), &mut app);
        }
        let (width, height) = Terminal::size();
        terminal.draw(&screen::render(&app, width, height))?;

        let wait = change_at.map_or(TICK, |at| {
            at.saturating_duration_since(Instant::now()).min(TICK)
        });
        let first = match receiver.recv_timeout(wait) {
            Ok(event) => Some(event),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        // Take everything that is waiting before drawing again: a burst of
        // build progress draws once.
        for event in first.into_iter().chain(receiver.try_iter()) {
            match event {
                Event::FileChanged => change_at = Some(Instant::now() + DEBOUNCE),
                event => {
                    if app.handle(event, &events)? == Flow::Quit {
                        return Ok(ExitCode::SUCCESS);
                    }
                }
            }
        }
        if change_at.is_some_and(|at| Instant::now() >= at) {
            change_at = None;
            app.file_changed(&events);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Keys and resizes, from a thread that blocks on the terminal.
fn read_keys(events: Sender<Event>) {
    thread::spawn(move || {
        while let Ok(event) = event::read() {
            let event = match event {
                // Some terminals also report releases; a key acts once.
                event::Event::Key(key) if key.kind != KeyEventKind::Release => Event::Key(key),
                event::Event::Resize(..) => Event::Resize,
                _ => continue,
            };
            if events.send(event).is_err() {
                break;
            }
        }
    });
}

fn start_watcher(events: &Sender<Event>, app: &mut App) -> Option<notify::RecommendedWatcher> {
    let sender = events.clone();
    let watcher = notify::recommended_watcher(move |result: notify::Result<notify::Event>| {
        let event = match result {
            Ok(event) if is_a_save(&event) => Event::FileChanged,
            Ok(_) => return,
            Err(error) => Event::WatchFailed(error.to_string()),
        };
        let _ = sender.send(event);
    });
    match watcher {
        Ok(watcher) => Some(watcher),
        Err(error) => {
            app.watch_failed(&error.to_string());
            None
        }
    }
}

/// A change to source a learner edits (not reads, not build output).
fn is_a_save(event: &notify::Event) -> bool {
    if matches!(event.kind, notify::EventKind::Access(_)) {
        return false;
    }
    event.paths.iter().any(|path| {
        let source = path
            .extension()
            .is_some_and(|ext| ext == "rs" || ext == "toml");
        source && !path.components().any(|part| part.as_os_str() == "target")
    })
}

/// Watches the current exercise's folder, and only it.
fn rewatch(
    watcher: &mut notify::RecommendedWatcher,
    watched: &mut Option<PathBuf>,
    dir: PathBuf,
    app: &mut App,
) {
    if watched.as_ref() == Some(&dir) {
        return;
    }
    if let Some(old) = watched.take() {
        let _ = watcher.unwatch(&old);
    }
    match watcher.watch(&dir, RecursiveMode::Recursive) {
        Ok(()) => *watched = Some(dir),
        Err(error) => {
            app.watch_failed(&error.to_string());
            *watched = Some(dir);
        }
    }
}
