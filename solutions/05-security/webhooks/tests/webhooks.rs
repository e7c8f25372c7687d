extern crate security_webhooks_solution as security_webhooks;
#[path = "../../../../lessons/05-security/webhooks/tests/webhooks.rs"]
mod webhooks;
