//! What clients send: JSON bodies and ids in paths (lessons api/validation,
//! security/mass-assignment).

// TODO: a body not sent as application/json is 415; one that is not JSON is
// 400 malformed-json; JSON that is not a valid request is 422 validation,
// whose `errors` list `{"field", "message"}` objects.
// TODO: when every member is present, of the right JSON type and known, but
// several break their rules, every broken member is listed.
// TODO: a member the route does not list is refused like a broken rule,
// with its name as `field`; a whole number is never a string or a float.
// TODO: an id in a path that is not a whole number fitting an i64 is 400
// invalid-id, checked after the credentials (401, 403).
