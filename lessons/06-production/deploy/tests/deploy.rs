//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("production/deploy is not written yet");
}
