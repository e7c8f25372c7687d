extern crate security_rate_limiting_solution as security_rate_limiting;
#[path = "../../../../lessons/05-security/rate-limiting/tests/rate_limiting.rs"]
mod rate_limiting;
