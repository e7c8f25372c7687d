//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("security/access-control is not written yet");
}
