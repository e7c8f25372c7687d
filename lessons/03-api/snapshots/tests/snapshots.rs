//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("api/snapshots is not written yet");
}
