//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("api/pagination is not written yet");
}
