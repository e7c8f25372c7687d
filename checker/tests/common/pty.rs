//! The checker in a pseudo-terminal, as a learner runs it. Included with
//! `#[path]` by the test binaries that drive a terminal.

use std::io::{Read, Write};
use std::thread;

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};

/// A program running in a pseudo-terminal. The master is kept: closing it
/// hangs the terminal up.
pub struct Pty {
    pub child: Box<dyn Child + Send + Sync>,
    pub writer: Box<dyn Write + Send>,
    pub master: Box<dyn MasterPty + Send>,
}

/// Starts `command` in a `rows` x `cols` pseudo-terminal; `feed` gets what
/// it draws, as it comes, from a thread of its own.
pub fn spawn(
    command: CommandBuilder,
    rows: u16,
    cols: u16,
    mut feed: impl FnMut(&[u8]) + Send + 'static,
) -> Pty {
    let pair = native_pty_system()
        .openpty(PtySize {
            rows,
            cols,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("a pseudo-terminal");
    let child = pair
        .slave
        .spawn_command(command)
        .expect("the checker starts");
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().unwrap();
    let writer = pair.master.take_writer().unwrap();
    thread::spawn(move || {
        let mut buffer = [0u8; 8192];
        while let Ok(read) = reader.read(&mut buffer) {
            if read == 0 {
                break;
            }
            feed(&buffer[..read]);
        }
    });
    Pty {
        child,
        writer,
        master: pair.master,
    }
}
