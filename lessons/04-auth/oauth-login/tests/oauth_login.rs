//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("auth/oauth-login is not written yet");
}
