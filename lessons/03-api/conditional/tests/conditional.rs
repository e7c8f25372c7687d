//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("api/conditional is not written yet");
}
