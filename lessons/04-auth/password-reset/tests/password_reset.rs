//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("auth/password-reset is not written yet");
}
