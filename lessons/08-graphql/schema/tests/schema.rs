//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("graphql/schema is not written yet");
}
