//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("auth/hashing is not written yet");
}
