//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("auth/register-login is not written yet");
}
