//! The payment gateway's client (lesson api/upstream).

// TODO: a charge is POST {SHOP_PAYMENT_URL}/charges with the API key as a
// bearer token, the gateway key "{customer_id}:{checkout key}" as its
// Idempotency-Key, and the amount, the payment token exactly as received
// and a reference in its body.
// TODO: each attempt gets at most SHOP_PAYMENT_TIMEOUT_MS, from connecting
// to the last byte of the answer.
// TODO: a decline (402) is final: 402 payment-declined. A 503, a refused or
// broken connection, or a timeout is tried again, up to 3 attempts in all,
// with a jittered wait of at most a second between them; the last attempt
// decides 502 payment-failed or 504 payment-timeout. Any other answer, or
// a 201 that is not a charge, is 502 at once.
// TODO: nothing the gateway sends reaches the shop's clients.
