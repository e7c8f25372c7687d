//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("security/webhooks is not written yet");
}
