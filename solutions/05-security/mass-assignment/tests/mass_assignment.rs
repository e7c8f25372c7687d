extern crate security_mass_assignment_solution as security_mass_assignment;
#[path = "../../../../lessons/05-security/mass-assignment/tests/mass_assignment.rs"]
mod mass_assignment;
