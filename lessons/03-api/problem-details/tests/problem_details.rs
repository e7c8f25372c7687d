//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("api/problem-details is not written yet");
}
