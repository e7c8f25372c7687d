//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("production/websocket is not written yet");
}
