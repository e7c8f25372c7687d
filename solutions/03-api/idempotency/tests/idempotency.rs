extern crate api_idempotency_solution as api_idempotency;
#[path = "../../../../lessons/03-api/idempotency/tests/idempotency.rs"]
mod idempotency;
