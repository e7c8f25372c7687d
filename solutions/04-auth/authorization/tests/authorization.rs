extern crate auth_authorization_solution as auth_authorization;
#[path = "../../../../lessons/04-auth/authorization/tests/authorization.rs"]
mod authorization;
