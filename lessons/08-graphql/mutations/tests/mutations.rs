//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("graphql/mutations is not written yet");
}
