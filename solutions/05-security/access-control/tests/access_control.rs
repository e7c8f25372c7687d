extern crate security_access_control_solution as security_access_control;
#[path = "../../../../lessons/05-security/access-control/tests/access_control.rs"]
mod access_control;
