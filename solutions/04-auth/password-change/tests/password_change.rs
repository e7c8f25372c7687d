extern crate auth_password_change_solution as auth_password_change;
#[path = "../../../../lessons/04-auth/password-change/tests/password_change.rs"]
mod password_change;
