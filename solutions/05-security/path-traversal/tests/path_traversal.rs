extern crate security_path_traversal_solution as security_path_traversal;
#[path = "../../../../lessons/05-security/path-traversal/tests/path_traversal.rs"]
mod path_traversal;
