//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("auth/authorization is not written yet");
}
