//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("auth/tokens is not written yet");
}
