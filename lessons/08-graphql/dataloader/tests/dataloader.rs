//! PLACEHOLDER

#[test]
fn placeholder() {
    panic!("graphql/dataloader is not written yet");
}
