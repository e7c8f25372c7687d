extern crate security_xss_solution as security_xss;
#[path = "../../../../lessons/05-security/xss/tests/xss.rs"]
mod xss;
