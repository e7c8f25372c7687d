//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("graphql/limits is not written yet");
}
