extern crate security_csrf_solution as security_csrf;
#[path = "../../../../lessons/05-security/csrf/tests/csrf.rs"]
mod csrf;
