//! Bearer tokens (lesson auth/tokens).

// TODO: a successful login gets an HS256 JWT signed with the bytes of
// SHOP_TOKEN_SECRET, whose claims are `sub` (the customer's id as a
// string), `iat` and `exp` = `iat` + 3600, in whole Unix seconds.
// TODO: a token is accepted only if its signature is HS256 with that
// secret (a header naming any other algorithm, `none` in any spelling
// included, is refused), its `exp` is in the future, and its `sub` names an
// account that exists. Other claims are never trusted.
