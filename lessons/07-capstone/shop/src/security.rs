//! The security headers (lesson security/headers-cors).

// TODO: every response, whatever its status (errors, 204, 304, the event
// stream, the fallback's 404, 405 included), carries each of the five
// headers of the contract exactly once, with exactly its value.
