extern crate auth_tokens_solution as auth_tokens;
#[path = "../../../../lessons/04-auth/tokens/tests/tokens.rs"]
mod tokens;
