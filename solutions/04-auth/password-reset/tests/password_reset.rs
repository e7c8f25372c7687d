extern crate auth_password_reset_solution as auth_password_reset;
#[path = "../../../../lessons/04-auth/password-reset/tests/password_reset.rs"]
mod password_reset;
