//! Accounts (lessons auth/register-login, auth/hashing, auth/extractor,
//! auth/authorization, security/rate-limiting).

// TODO: POST /register makes a customer from exactly `email`, `name` and
// `password`, under the contract's rules (trimmed email and name, a password
// of 12 to 1024 characters taken as sent); an email taken in any ASCII case
// is 409 email-taken.
// TODO: passwords are stored only as argon2id hashes; no response and no
// log line ever holds a password or a hash.
// TODO: POST /login answers the token body with Cache-Control: no-store;
// an unknown email and a wrong password get the very same 401.
// TODO: the login limit: per account (the email trimmed, in lower case),
// 5 attempts in a window of 900 seconds from the first, then 429 with
// Retry-After; counted exactly when attempts arrive at once; a success
// starts the count again.
// TODO: the admin account exists from the first start, made from
// SHOP_ADMIN_EMAIL and SHOP_ADMIN_PASSWORD, and is left as it is on a
// restart.
// TODO: a route that needs a customer answers 401 with the contract's
// WWW-Authenticate (with error="invalid_token" when a token was sent but is
// not valid); an admin route answers 403 to a customer who is not an admin.
// The role always comes from the database, never from the token.
// TODO: GET /me answers the caller as stored now.
