//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("security/csrf is not written yet");
}
