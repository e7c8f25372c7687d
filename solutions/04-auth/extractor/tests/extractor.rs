extern crate auth_extractor_solution as auth_extractor;
#[path = "../../../../lessons/04-auth/extractor/tests/extractor.rs"]
mod extractor;
