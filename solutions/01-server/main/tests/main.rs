#[path = "../../../../lessons/01-server/main/tests/main.rs"]
mod main;
