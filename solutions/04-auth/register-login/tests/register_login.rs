extern crate auth_register_login_solution as auth_register_login;
#[path = "../../../../lessons/04-auth/register-login/tests/register_login.rs"]
mod register_login;
