//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("production/scaling is not written yet");
}
