//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("auth/sessions is not written yet");
}
