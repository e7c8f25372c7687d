//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("security/ssrf is not written yet");
}
