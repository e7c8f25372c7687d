//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("auth/password-change is not written yet");
}
