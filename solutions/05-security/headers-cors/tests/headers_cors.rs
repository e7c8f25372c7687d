extern crate security_headers_cors_solution as security_headers_cors;
#[path = "../../../../lessons/05-security/headers-cors/tests/headers_cors.rs"]
mod headers_cors;
