//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("security/xss is not written yet");
}
