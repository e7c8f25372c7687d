//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("production/jobs is not written yet");
}
