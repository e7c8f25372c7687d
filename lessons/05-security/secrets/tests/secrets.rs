//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("security/secrets is not written yet");
}
