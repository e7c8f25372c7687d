//! Watch mode's state, and what each event and key does to it.

use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::thread;
use std::time::Instant;

use anyhow::Result;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::Event;
use crate::commands::check::Checked;
use crate::commands::{Context, check, hint, reset};
use crate::manifest::Exercise;
use crate::outcome::{Outcome, Status};
use crate::progress::Progress;
use crate::run::{self, BuildProgress, OnProgress};

#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Quit,
}

/// What the screen shows.
pub enum View {
    Exercise,
    List(ListState),
    Confirm(Confirm),
    Solution {
        lines: Vec<String>,
        scroll: usize,
    },
    /// The results of checking every exercise.
    Summary(Vec<Outcome>),
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Confirm {
    Reset,
    Solution,
}

#[derive(Default)]
pub struct ListState {
    pub cursor: usize,
    pub query: String,
    pub searching: bool,
    pub filter: Filter,
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    #[default]
    All,
    Pending,
    Done,
}

/// A check that is running.
pub struct Busy {
    pub all: bool,
    pub started: Instant,
    pub build: BuildProgress,
    /// With `all`: exercises tested so far, and the last one.
    pub tested: usize,
    pub last_tested: Option<String>,
}

pub enum Watching {
    Files,
    Manual,
    Failed(String),
}

pub struct App {
    pub context: Arc<Context>,
    pub progress: Progress,
    pub current: String,
    pub outcome: Option<Outcome>,
    pub busy: Option<Busy>,
    /// A file changed while a check ran: check again when it ends.
    rerun: bool,
    pub view: View,
    pub show_hints: bool,
    /// One line of news for the learner (the book's path, a key that waits).
    pub notice: Option<String>,
    /// Why the last check could not run at all (cargo's own words).
    pub error: Option<String>,
    pub watching: Watching,
}

impl App {
    pub fn new(context: Arc<Context>, manual: bool) -> Result<App> {
        let progress = context.store.load()?;
        let current = context
            .current(&progress)
            .map(|exercise| exercise.id.clone())
            .ok_or_else(|| anyhow::anyhow!("this workbook has no exercises yet"))?;
        Ok(App {
            context,
            progress,
            current,
            outcome: None,
            busy: None,
            rerun: false,
            view: View::Exercise,
            show_hints: false,
            notice: None,
            error: None,
            watching: if manual {
                Watching::Manual
            } else {
                Watching::Files
            },
        })
    }

    pub fn exercise(&self) -> &Exercise {
        self.context
            .workbook
            .exercise(&self.current)
            .expect("the current exercise is one of the workbook's")
    }

    pub fn exercise_dir(&self) -> std::path::PathBuf {
        self.context.workbook.path(&self.exercise().dir)
    }

    pub fn watch_failed(&mut self, error: &str) {
        self.watching = Watching::Failed(error.to_string());
    }

    pub fn file_changed(&mut self, events: &Sender<Event>) {
        if self.busy.is_some() {
            self.rerun = true;
        } else {
            self.check_current(events);
        }
    }

    pub fn check_current(&mut self, events: &Sender<Event>) {
        self.start(false, events);
    }

    /// Runs a check on a worker thread; its progress and result come back as events.
    fn start(&mut self, all: bool, events: &Sender<Event>) {
        let ids: Vec<String> = if all {
            self.progress
                .taken(&self.context.workbook)
                .map(|e| e.id.clone())
                .collect()
        } else {
            vec![self.current.clone()]
        };
        self.busy = Some(Busy {
            all,
            started: Instant::now(),
            build: BuildProgress::default(),
            tested: 0,
            last_tested: None,
        });
        let context = Arc::clone(&self.context);
        let events = events.clone();
        thread::spawn(move || {
            let selected: Vec<&Exercise> = ids
                .iter()
                .filter_map(|id| context.workbook.exercise(id))
                .collect();
            let progress_events = events.clone();
            let on_build: OnProgress = Arc::new(move |progress: &BuildProgress| {
                let _ = progress_events.send(Event::Build(progress.clone()));
            });
            let result = check::check(&context, &selected, None, Some(on_build), &mut |outcome| {
                let _ = events.send(Event::Tested(outcome.clone()));
            });
            let _ = events.send(Event::Finished(
                result.map_err(|error| format!("{error:#}")),
            ));
        });
    }

    pub fn handle(&mut self, event: Event, events: &Sender<Event>) -> Result<Flow> {
        match event {
            Event::Key(key) => return self.key(key, events),
            Event::Resize | Event::FileChanged => {}
            Event::WatchFailed(error) => self.watch_failed(&error),
            Event::Build(build) => {
                if let Some(busy) = &mut self.busy {
                    busy.build = build;
                }
            }
            Event::Tested(outcome) => {
                if let Some(busy) = &mut self.busy {
                    busy.tested += 1;
                    busy.last_tested = Some(outcome.id.clone());
                }
            }
            Event::Finished(result) => self.finished(result, events)?,
            Event::Notice(notice) => self.notice = Some(notice),
        }
        Ok(Flow::Continue)
    }

    fn finished(&mut self, result: Result<Checked, String>, events: &Sender<Event>) -> Result<()> {
        let all = self.busy.take().is_some_and(|busy| busy.all);
        self.progress = self.context.store.load()?;
        self.error = None;
        match result {
            Ok(Checked {
                outcomes,
                not_saved,
            }) => {
                if let Some(error) = not_saved {
                    self.notice = Some(format!("This result was not recorded: {error:#}"));
                }
                if let Some(outcome) = outcomes.iter().find(|o| o.id == self.current) {
                    self.outcome = Some(outcome.clone());
                }
                if all {
                    self.view = View::Summary(outcomes);
                }
            }
            Err(error) => self.error = Some(error),
        }
        if std::mem::take(&mut self.rerun) {
            self.check_current(events);
        }
        Ok(())
    }

    fn key(&mut self, key: KeyEvent, events: &Sender<Event>) -> Result<Flow> {
        let ctrl_c =
            key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c');
        if ctrl_c {
            return Ok(self.quit());
        }
        if self.busy.is_some() {
            // Keys wait for the check: nothing may change under it. `q` still quits.
            if key.code == KeyCode::Char('q') {
                return Ok(self.quit());
            }
            self.notice = Some("Checking... keys work again when it is done (q quits).".into());
            return Ok(Flow::Continue);
        }
        self.notice = None;
        match std::mem::replace(&mut self.view, View::Exercise) {
            View::Exercise => return self.exercise_key(key.code, events),
            View::List(list) => self.list_key(list, key.code, events)?,
            View::Confirm(confirm) => self.confirm_key(confirm, key.code, events)?,
            View::Solution { lines, scroll } => {
                if let Some(scroll) = scrolled(scroll, lines.len(), key.code) {
                    self.view = View::Solution { lines, scroll };
                }
            }
            View::Summary(_) => {}
        }
        Ok(Flow::Continue)
    }

    fn quit(&self) -> Flow {
        if self.busy.is_some() {
            run::process::kill_all_children();
            // The check's own thread may be saving its results: let it end.
            crate::progress::close_saves();
        }
        Flow::Quit
    }

    pub fn is_done(&self) -> bool {
        self.outcome
            .as_ref()
            .is_some_and(|o| o.status == Status::Done)
    }

    fn exercise_key(&mut self, code: KeyCode, events: &Sender<Event>) -> Result<Flow> {
        match code {
            KeyCode::Char('q') => return Ok(Flow::Quit),
            KeyCode::Char('r') => self.check_current(events),
            KeyCode::Char('h') => {
                let exercise = self.exercise().clone();
                if exercise.hints.is_empty() {
                    self.notice =
                        Some("This exercise has no hints: its book section explains it.".into());
                } else {
                    hint::unlock_next(&self.context, &exercise)?;
                    self.progress = self.context.store.load()?;
                    self.show_hints = true;
                }
            }
            KeyCode::Char('n') if self.is_done() => {
                // As `next` does: an elective not taken is passed by.
                let ids: Vec<String> = self
                    .progress
                    .route(&self.context.workbook, &self.current)
                    .map(|e| e.id.clone())
                    .collect();
                match ids
                    .iter()
                    .position(|id| *id == self.current)
                    .and_then(|i| ids.get(i + 1))
                {
                    Some(next) => self.go_to(next.clone(), events)?,
                    None => {
                        self.notice =
                            Some("That was the last exercise. Press l to see them all.".into())
                    }
                }
            }
            KeyCode::Char('n') => {
                self.notice = Some(
                    "Next is offered once every test passes; press l to pick any exercise.".into(),
                );
            }
            KeyCode::Char('l') => {
                let cursor = self
                    .context
                    .workbook
                    .exercises()
                    .position(|e| e.id == self.current)
                    .unwrap_or(0);
                self.view = View::List(ListState {
                    cursor,
                    ..ListState::default()
                });
            }
            KeyCode::Char('c') => self.start(true, events),
            KeyCode::Char('x') => self.view = View::Confirm(Confirm::Reset),
            KeyCode::Char('s') if self.is_done() => self.show_solution(),
            KeyCode::Char('s') => self.view = View::Confirm(Confirm::Solution),
            KeyCode::Char('b') => self.open_book(false, events),
            KeyCode::Char('B') => self.open_book(true, events),
            _ => {}
        }
        Ok(Flow::Continue)
    }

    /// Opens the section in the browser, in the background: installing
    /// mdBook or building the book takes a while, and the screen says how
    /// it goes.
    fn open_book(&mut self, install: bool, events: &Sender<Event>) {
        let context = Arc::clone(&self.context);
        let exercise = self.exercise().clone();
        let events = events.clone();
        self.notice = Some("Opening the book...".into());
        std::thread::spawn(move || {
            let mut tell = |line: &str| {
                let _ = events.send(Event::Notice(line.to_string()));
            };
            let last = match crate::commands::book::open(&context, &exercise, install, &mut tell) {
                Ok(page) => format!("Opened {} in your browser.", page.display()),
                Err(error)
                    if !install && error.to_string() == crate::commands::book::NOT_INSTALLED =>
                {
                    format!(
                        "{error}: press B to install it (once, a few minutes, needs the network), or read the section in a terminal: `cargo checker book --print`."
                    )
                }
                Err(error) => format!(
                    "{error:#}. Read it in a terminal: `cargo checker book --print` (or {}).",
                    exercise.book_page()
                ),
            };
            tell(&last);
        });
    }

    fn confirm_key(
        &mut self,
        confirm: Confirm,
        code: KeyCode,
        events: &Sender<Event>,
    ) -> Result<()> {
        match (confirm, code) {
            (Confirm::Reset, KeyCode::Char('y')) => {
                let exercise = self.exercise().clone();
                match reset::restore(&self.context, &exercise) {
                    Ok(()) => {
                        self.notice = Some(format!("{} is back to its starter.", exercise.id));
                        self.check_current(events);
                    }
                    Err(error) => self.notice = Some(format!("Reset failed: {error:#}")),
                }
            }
            (Confirm::Solution, KeyCode::Char('y')) => self.show_solution(),
            (_, KeyCode::Char('n') | KeyCode::Esc) => {}
            _ => self.view = View::Confirm(confirm),
        }
        Ok(())
    }

    fn show_solution(&mut self) {
        let exercise = self.exercise().clone();
        let mut lines = Vec::new();
        for file in &exercise.edit {
            let relative = file.strip_prefix(&exercise.dir).unwrap_or(file);
            let path = exercise.solution_dir.join(relative);
            lines.push(format!("── {} ──", path.display()));
            match std::fs::read_to_string(self.context.workbook.path(&path)) {
                Ok(text) => lines.extend(
                    text.lines()
                        .enumerate()
                        .map(|(n, line)| format!("{:>4} {line}", n + 1)),
                ),
                Err(error) => lines.push(format!("cannot read it: {error}")),
            }
            lines.push(String::new());
        }
        self.view = View::Solution { lines, scroll: 0 };
    }

    fn go_to(&mut self, id: String, events: &Sender<Event>) -> Result<()> {
        let exercise = self.context.workbook.exercise(&id).cloned();
        self.context.store.update(|progress| {
            progress.current = Some(id.clone());
            if let Some(exercise) = &exercise {
                progress.take(exercise);
            }
        })?;
        self.progress = self.context.store.load()?;
        self.current = id;
        self.outcome = None;
        self.show_hints = false;
        self.view = View::Exercise;
        self.check_current(events);
        Ok(())
    }

    /// The exercises the list shows, with its search and filter applied.
    pub fn listed(&self, list: &ListState) -> Vec<Exercise> {
        let query = list.query.to_lowercase();
        self.context
            .workbook
            .exercises()
            .filter(|e| {
                let done = self.progress.is_done(&e.id);
                let wanted = match list.filter {
                    Filter::All => true,
                    Filter::Done => done,
                    Filter::Pending => !done,
                };
                wanted && (e.id.contains(&query) || e.title.to_lowercase().contains(&query))
            })
            .cloned()
            .collect()
    }

    fn list_key(
        &mut self,
        mut list: ListState,
        code: KeyCode,
        events: &Sender<Event>,
    ) -> Result<()> {
        if list.searching {
            match code {
                KeyCode::Char(c) => list.query.push(c),
                KeyCode::Backspace => {
                    list.query.pop();
                }
                KeyCode::Enter | KeyCode::Esc => list.searching = false,
                _ => {}
            }
            list.cursor = 0;
            self.view = View::List(list);
            return Ok(());
        }
        let shown = self.listed(&list);
        match code {
            KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('l') => return Ok(()),
            KeyCode::Char('/') => {
                list.searching = true;
                list.query.clear();
            }
            KeyCode::Char('f') => {
                list.filter = match list.filter {
                    Filter::All => Filter::Pending,
                    Filter::Pending => Filter::Done,
                    Filter::Done => Filter::All,
                };
                list.cursor = 0;
            }
            KeyCode::Enter => {
                if let Some(exercise) = shown.get(list.cursor) {
                    return self.go_to(exercise.id.clone(), events);
                }
            }
            code => list.cursor = scrolled(list.cursor, shown.len(), code).unwrap_or(list.cursor),
        }
        self.view = View::List(list);
        Ok(())
    }
}

/// The position after a movement key, `None` for a key that leaves.
fn scrolled(position: usize, len: usize, code: KeyCode) -> Option<usize> {
    let last = len.saturating_sub(1);
    Some(match code {
        KeyCode::Up | KeyCode::Char('k') => position.saturating_sub(1),
        KeyCode::Down | KeyCode::Char('j') => (position + 1).min(last),
        KeyCode::PageUp => position.saturating_sub(10),
        KeyCode::PageDown | KeyCode::Char(' ') => (position + 10).min(last),
        KeyCode::Home | KeyCode::Char('g') => 0,
        KeyCode::End | KeyCode::Char('G') => last,
        KeyCode::Esc | KeyCode::Char('q') => return None,
        _ => position,
    })
}
