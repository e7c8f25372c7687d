//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("security/encryption is not written yet");
}
