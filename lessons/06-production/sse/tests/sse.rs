//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("production/sse is not written yet");
}
