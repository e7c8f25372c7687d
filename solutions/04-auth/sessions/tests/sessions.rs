extern crate auth_sessions_solution as auth_sessions;
#[path = "../../../../lessons/04-auth/sessions/tests/sessions.rs"]
mod sessions;
