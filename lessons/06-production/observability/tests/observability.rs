//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("production/observability is not written yet");
}
