//! Idempotent checkouts (lesson api/idempotency).

// TODO: Idempotency-Key is required: 1 to 255 characters from space to `~`,
// else 400 invalid-idempotency-key. Keys belong to the customer.
// TODO: the same key with the same method, path and body bytes gets the
// stored answer again (status, body, Location, Content-Type) with
// Idempotent-Replayed: true, and nothing else happens; with another body it
// is 422 idempotency-key-reused.
// TODO: every answer below 500 is the key's answer for good; a 5xx and 409
// idempotency-key-in-use are not stored, so a retry runs again.
// TODO: requests with one key that arrive while the first still runs make
// no second checkout.
