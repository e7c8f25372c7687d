//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("auth/extractor is not written yet");
}
