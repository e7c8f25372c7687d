//! Prints the capstone's test file, one test per scenario of the grader:
//! `cargo run -q -p grader --example test_file > lessons/07-capstone/shop/tests/capstone.rs`

fn main() {
    print!("{}", grader::stages::test_file());
}
