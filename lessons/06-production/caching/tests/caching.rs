//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("production/caching is not written yet");
}
