//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("api/idempotency is not written yet");
}
