//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("api/openapi is not written yet");
}
