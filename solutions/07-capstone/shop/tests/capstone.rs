#[path = "../../../../lessons/07-capstone/shop/tests/capstone.rs"]
mod capstone;
