//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("api/validation is not written yet");
}
