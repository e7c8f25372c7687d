//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("security/limits is not written yet");
}
