//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("security/sql-injection is not written yet");
}
