extern crate auth_hashing_solution as auth_hashing;
#[path = "../../../../lessons/04-auth/hashing/tests/hashing.rs"]
mod hashing;
