extern crate security_ssrf_solution as security_ssrf;
#[path = "../../../../lessons/05-security/ssrf/tests/ssrf.rs"]
mod ssrf;
