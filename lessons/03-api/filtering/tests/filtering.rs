//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("api/filtering is not written yet");
}
