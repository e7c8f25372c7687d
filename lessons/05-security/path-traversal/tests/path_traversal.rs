//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("security/path-traversal is not written yet");
}
