//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("security/headers-cors is not written yet");
}
