extern crate auth_oauth_login_solution as auth_oauth_login;
#[path = "../../../../lessons/04-auth/oauth-login/tests/oauth_login.rs"]
mod oauth_login;
