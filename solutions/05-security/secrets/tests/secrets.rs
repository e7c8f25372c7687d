extern crate security_secrets_solution as security_secrets;
#[path = "../../../../lessons/05-security/secrets/tests/secrets.rs"]
mod secrets;
