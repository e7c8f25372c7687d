extern crate security_limits_solution as security_limits;
#[path = "../../../../lessons/05-security/limits/tests/limits.rs"]
mod limits;
