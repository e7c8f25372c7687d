//! The terminal in watch mode: raw keys, the alternate screen, and a promise
//! to leave it as it was found, on quit, on Ctrl-C, on a signal and on a panic.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::cursor::{Hide, MoveTo, Show};
use crossterm::terminal::{self, Clear, ClearType, EnterAlternateScreen, LeaveAlternateScreen};
use crossterm::{execute, queue};

/// Whether the terminal is in watch mode's state and must be restored.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// While alive, the terminal is raw and on the alternate screen.
pub struct Terminal;

impl Terminal {
    pub fn enter() -> io::Result<Terminal> {
        terminal::enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        execute!(io::stdout(), EnterAlternateScreen, Hide)?;
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
        Ok(Terminal)
    }

    /// The size in columns and rows (80x24 when the terminal will not say,
    /// as some pseudo-terminals answer 0x0).
    pub fn size() -> (u16, u16) {
        match terminal::size() {
            Ok((columns, rows)) if columns > 0 && rows > 0 => (columns, rows),
            _ => (80, 24),
        }
    }

    /// Draws `lines` over the whole screen, each cut to the width already.
    pub fn draw(&self, lines: &[String]) -> io::Result<()> {
        let mut out = io::stdout().lock();
        for (row, line) in lines.iter().enumerate() {
            queue!(out, MoveTo(0, row as u16))?;
            out.write_all(line.as_bytes())?;
            queue!(out, Clear(ClearType::UntilNewLine))?;
        }
        // Moving below the last row would land on it and wipe it.
        if lines.len() < usize::from(Terminal::size().1) {
            queue!(
                out,
                MoveTo(0, lines.len() as u16),
                Clear(ClearType::FromCursorDown)
            )?;
        }
        out.flush()
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        restore();
    }
}

/// Leaves raw mode and the alternate screen, once; safe from any thread.
pub fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = execute!(io::stdout(), Show, LeaveAlternateScreen);
        let _ = terminal::disable_raw_mode();
    }
}
