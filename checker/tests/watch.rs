//! Watch mode, driven as a learner drives it: the real binary in a
//! pseudo-terminal, keys typed one at a time, the screen read back through a
//! terminal emulator (vt100) and compared with snapshots.

mod common;
use common::copy_tree;
#[path = "common/git.rs"]
mod git;
#[path = "common/pty.rs"]
mod pty;

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use insta::assert_snapshot;
use portable_pty::{Child, CommandBuilder, MasterPty, PtySize};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/workbook");
/// How long to wait for a screen to appear (a first build of the fixture
/// takes seconds; this bounds a broken run, it is not a sleep).
const PATIENCE: Duration = Duration::from_secs(90);

/// A checker running in a pseudo-terminal.
struct Session {
    workbook: tempfile::TempDir,
    screen: Arc<Mutex<vt100::Parser>>,
    raw: Arc<Mutex<Vec<u8>>>,
    writer: Box<dyn Write + Send>,
    master: Box<dyn MasterPty + Send>,
    child: Box<dyn Child + Send + Sync>,
}

impl Session {
    fn start(env: &[(&str, &str)]) -> Session {
        Session::start_in(copy_fixture(), env, &[])
    }

    fn start_in(workbook: tempfile::TempDir, env: &[(&str, &str)], args: &[&str]) -> Session {
        let mut command = CommandBuilder::new(env!("CARGO_BIN_EXE_checker"));
        command.args(args);
        command.cwd(workbook.path());
        command.env("TERM", "xterm-256color");
        command.env_remove("CARGO_TARGET_DIR");
        command.env_remove("NO_COLOR");
        // No mdBook, whatever this machine has: `b` must say how to get it.
        command.env("WORKBOOK_MDBOOK", "/nonexistent/mdbook");
        for (name, value) in env {
            command.env(name, value);
        }
        let screen = Arc::new(Mutex::new(vt100::Parser::new(nonzero(24), nonzero(80), 0)));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let (screen_feed, raw_feed) = (Arc::clone(&screen), Arc::clone(&raw));
        let pty = pty::spawn(command, 24, 80, move |bytes| {
            screen_feed.lock().unwrap().process(bytes);
            raw_feed.lock().unwrap().extend_from_slice(bytes);
        });
        Session {
            workbook,
            screen,
            raw,
            writer: pty.writer,
            master: pty.master,
            child: pty.child,
        }
    }

    fn root(&self) -> &Path {
        self.workbook.path()
    }

    /// The screen as text, with elapsed times normalised.
    fn screen(&self) -> String {
        let text = self.screen.lock().unwrap().screen().contents();
        normalize(&text)
    }

    /// Waits until the screen shows `text`; fails with the screen otherwise.
    fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            if Instant::now() > deadline {
                panic!("the screen never showed {text:?}; it shows:\n{screen}");
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the screen no longer shows `text`.
    fn wait_until_gone(&self, text: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let screen = self.screen();
            if !screen.contains(text) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "the screen kept showing {text:?}:\n{screen}"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn press(&mut self, keys: &str) {
        self.writer.write_all(keys.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }

    fn write_file(&self, path: &str, text: &str) {
        std::fs::write(self.root().join(path), text).unwrap();
    }

    fn read_file(&self, path: &str) -> String {
        std::fs::read_to_string(self.root().join(path)).unwrap()
    }

    /// Waits for the checker to exit; returns whether it succeeded.
    fn exit(&mut self) -> bool {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            assert!(
                Instant::now() < deadline,
                "the checker did not exit:\n{}",
                self.screen()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether everything printed ends with the terminal given back: the
    /// alternate screen left and the cursor shown.
    fn terminal_restored(&self) -> bool {
        let raw = self.raw_output();
        let left_screen = raw.rfind("\x1b[?1049l") > raw.rfind("\x1b[?1049h");
        let cursor_shown = raw.rfind("\x1b[?25h") > raw.rfind("\x1b[?25l");
        left_screen && cursor_shown
    }

    fn raw_output(&self) -> String {
        String::from_utf8_lossy(&self.raw.lock().unwrap()).to_string()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn copy_fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(Path::new(FIXTURE), dir.path());
    dir
}

/// `(3 s)` and friends change from run to run.
fn normalize(screen: &str) -> String {
    let mut out = String::new();
    for line in screen.lines() {
        let mut line = line.to_string();
        let elapsed = line.rfind(" (").filter(|&open| {
            line.ends_with(" s)")
                && line[open + 2..line.len() - 3]
                    .chars()
                    .all(|c| c.is_ascii_digit())
        });
        if let Some(open) = elapsed {
            line.replace_range(open.., " (N s)");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.trim_end().to_string()
}

const TODO_SOLVED: &str =
    "pub fn greet(name: &str) -> String {\n    format!(\"Hello, {name}!\")\n}\n";

#[test]
fn watch_mode_checks_the_current_exercise_and_again_on_every_save() {
    let mut session = Session::start(&[("NO_COLOR", "1")]);
    let first = session.wait_for("0 of 2 tests pass");
    assert_snapshot!("watch_first_screen", first);

    session.write_file("lessons/01-basics/todo/src/lib.rs", TODO_SOLVED);
    let solved = session.wait_for("all 2 tests pass");
    assert_snapshot!("watch_after_a_save_that_solves_it", solved);

    session.press("n");
    session.wait_for("basics/passing · The passing exercise");
    session.wait_for("all 2 tests pass");
    session.press("q");
    assert!(session.exit(), "q quits with success");
    assert!(session.terminal_restored(), "the terminal is given back");
}

#[test]
fn hint_list_search_and_jump_work_with_single_keys() {
    let mut session = Session::start(&[("NO_COLOR", "1")]);
    session.wait_for("0 of 2 tests pass");
    session.press("n");
    session.wait_for("Next is offered once every test passes");

    session.press("h");
    session.wait_for("Hint 1 of 2:");
    session.press("h");
    let hints = session.wait_for("Hint 2 of 2:");
    assert!(hints.contains("nearly the answer"), "{hints}");

    session.press("l");
    let list = session.wait_for("Exercises ·");
    assert_snapshot!("watch_list", list);
    session.press("/fail");
    session.wait_for("search: fail");
    session.press("\r");
    let found = session.wait_until_gone("basics/passing");
    assert!(found.contains("basics/failing"), "{found}");
    session.press("\r");
    let failing = session.wait_for("1 of 3 tests pass");
    assert!(failing.contains("First failure: doubles_two"), "{failing}");
    assert!(failing.contains("Also failing:"), "{failing}");

    // No mdBook here: the notice says how to get it, or to read the
    // section in the terminal, wrapped rather than cut at 80 columns.
    session.press("b");
    session.wait_for("press B to install");
    session.wait_for("`cargo checker book --print`");
    session.press("q");
    assert!(session.exit());
}

#[test]
fn reset_asks_first_and_the_solution_warns_before_spoiling() {
    let workbook = copy_fixture();
    git::commit_all(workbook.path());
    let starter =
        std::fs::read_to_string(workbook.path().join("lessons/01-basics/todo/src/lib.rs")).unwrap();
    let mut session = Session::start_in(workbook, &[("NO_COLOR", "1")], &[]);
    session.wait_for("0 of 2 tests pass");

    session.press("s");
    session.wait_for("seeing the solution now spoils it");
    session.press("y");
    let solution = session.wait_for("Reference solution");
    assert!(
        solution.contains("format!(\"Hello, {name}!\")"),
        "{solution}"
    );
    session.press("\x1b");
    session.wait_for("0 of 2 tests pass");

    session.write_file("lessons/01-basics/todo/src/lib.rs", TODO_SOLVED);
    session.wait_for("all 2 tests pass");
    session.press("x");
    session.wait_for("Reset basics/todo to its starter?");
    session.press("n");
    session.wait_until_gone("Reset basics/todo to its starter?");
    assert_eq!(
        session.read_file("lessons/01-basics/todo/src/lib.rs"),
        TODO_SOLVED,
        "n keeps the work"
    );
    session.press("x");
    session.wait_for("Reset basics/todo to its starter?");
    session.press("y");
    session.wait_for("0 of 2 tests pass");
    assert_eq!(
        session.read_file("lessons/01-basics/todo/src/lib.rs"),
        starter
    );
    session.press("q");
    assert!(session.exit());
}

#[test]
fn check_all_shows_its_progress_then_every_verdict() {
    let mut session = Session::start(&[("NO_COLOR", "1")]);
    session.wait_for("0 of 2 tests pass");
    session.press("c");
    session.wait_for("⟳");
    let summary = session.wait_for("Every exercise, checked:");
    assert_snapshot!("watch_check_all", summary);
    session.press("x");
    session.wait_for("0 of 2 tests pass");
    session.press("q");
    assert!(session.exit());
}

#[test]
fn colour_is_on_in_a_terminal_and_off_with_no_color() {
    let mut coloured = Session::start(&[]);
    coloured.wait_for("0 of 2 tests pass");
    coloured.press("q");
    coloured.exit();
    assert!(
        coloured.raw_output().contains("\x1b[1m"),
        "bold and colours in a terminal"
    );

    let mut plain = Session::start(&[("NO_COLOR", "1")]);
    plain.wait_for("0 of 2 tests pass");
    plain.press("q");
    plain.exit();
    let raw = plain.raw_output();
    assert!(
        !raw.contains("\x1b[1m") && !raw.contains("\x1b[31m"),
        "NO_COLOR: no colour codes"
    );
}

#[test]
fn ctrl_c_and_a_kill_leave_the_terminal_as_they_found_it() {
    let mut session = Session::start(&[("NO_COLOR", "1")]);
    session.wait_for("0 of 2 tests pass");
    session.press("\x03");
    session.exit();
    assert!(session.terminal_restored(), "Ctrl-C restores the terminal");

    let mut session = Session::start(&[("NO_COLOR", "1")]);
    session.wait_for("0 of 2 tests pass");
    let pid = session.child.process_id().expect("the checker has a pid");
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    session.exit();
    assert!(session.terminal_restored(), "SIGTERM restores the terminal");
}

#[test]
fn the_screen_redraws_to_fit_a_resized_terminal() {
    let mut session = Session::start(&[("NO_COLOR", "1")]);
    session.wait_for("0 of 2 tests pass");
    session
        .master
        .resize(PtySize {
            rows: 30,
            cols: 100,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    session
        .screen
        .lock()
        .unwrap()
        .screen_mut()
        .set_size(nonzero(30), nonzero(100));
    let deadline = Instant::now() + PATIENCE;
    loop {
        let screen = session.screen();
        let last = screen.lines().count();
        if last == 30
            && screen
                .lines()
                .last()
                .is_some_and(|l| l.starts_with("h hint"))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the key line never moved to row 30:\n{screen}"
        );
        thread::sleep(Duration::from_millis(20));
    }
    session.press("q");
    assert!(session.exit());
}

#[test]
fn a_check_that_cannot_run_says_why_on_the_first_screen() {
    let workbook = copy_fixture();
    let manifest = workbook.path().join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, format!("{text}\n[broken\n")).unwrap();
    let mut session = Session::start_in(workbook, &[("NO_COLOR", "1")], &[]);
    let screen = session.wait_for("The check could not run");
    assert!(screen.contains("cargo could not build"), "{screen}");
    session.press("q");
    assert!(session.exit());
}

#[test]
fn a_result_that_cannot_be_saved_is_shown_and_says_so() {
    let workbook = copy_fixture();
    // Where the new progress file would be written, a folder: every save fails.
    std::fs::create_dir(workbook.path().join(".workbook-progress.json.tmp")).unwrap();
    let mut session = Session::start_in(workbook, &[("NO_COLOR", "1")], &[]);
    let screen = session.wait_for("This result was not recorded");
    assert!(screen.contains("0 of 2 tests pass"), "{screen}");
    assert!(screen.contains("cannot save progress"), "{screen}");
    session.press("q");
    assert!(session.exit());
}

#[test]
fn manual_run_checks_only_when_asked() {
    let mut session = Session::start_in(copy_fixture(), &[("NO_COLOR", "1")], &["--manual-run"]);
    session.wait_for("0 of 2 tests pass");
    session.wait_for("runs  when you press r");
    session.write_file("lessons/01-basics/todo/src/lib.rs", TODO_SOLVED);
    session.press("r");
    session.wait_for("all 2 tests pass");
    session.press("q");
    assert!(session.exit());
}

fn nonzero(n: u16) -> std::num::NonZeroU16 {
    std::num::NonZeroU16::new(n).expect("a terminal has rows and columns")
}
