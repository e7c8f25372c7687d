//! The catalogue (lessons api/pagination, api/filtering, api/conditional,
//! security/sql-injection).

// TODO: GET /products answers a page of products in id order, with `next`
// (and a `Link` header) while more match, following the contract's rules
// for `limit`, `cursor`, `q`, `min_price`, `max_price` and `in_stock`; a bad
// value is 400 invalid-parameter naming the parameter.
// TODO: a cursor the shop did not give out (garbage, empty, changed) is
// refused; a walk sees every matching product once, even when products are
// created or changed between its pages.
// TODO: `q` is text, never a pattern or SQL: `%`, `_` and `\` are
// characters like any other, and only ASCII letters ignore case.
// TODO: GET /products/{id} answers the product with a strong ETag that
// changes whenever the product does (stock included); If-None-Match with
// the current tag is 304.
// TODO: POST /products and PUT /products/{id} are the admin's, with the
// contract's rules, Location on 201, and duplicate-sku; PUT needs If-Match
// (428 without, 412 for an old tag) and of several updates sent at once
// with one tag, exactly one wins.
