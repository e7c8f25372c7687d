//! The checker's JSON documents, read by the end-to-end tests. Included with
//! `#[path]` by the test binaries that read them.

use serde_json::Value;

/// The document a run printed on stdout; a run that printed none fails the
/// test with what it said instead.
pub fn parse(stdout: &str, stderr: &str) -> Value {
    serde_json::from_str(stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{stdout}\n{stderr}"))
}

/// The exercise `id` of a `check --format json` document.
pub fn exercise<'a>(document: &'a Value, id: &str) -> &'a Value {
    document["exercises"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {document:#}"))
}
