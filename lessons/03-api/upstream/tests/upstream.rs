//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("api/upstream is not written yet");
}
