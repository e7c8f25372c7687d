//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("api/resources is not written yet");
}
