//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("security/mass-assignment is not written yet");
}
