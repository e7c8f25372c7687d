//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("security/rate-limiting is not written yet");
}
