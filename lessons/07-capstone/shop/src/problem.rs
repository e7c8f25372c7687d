//! Errors as RFC 9457 problem details (lesson api/problem-details).

// TODO: every error is sent as `application/problem+json`, exactly, with
// `type`, `title` and `status` (the response's status), plus the extension
// members the contract's table names for its type.
// TODO: the shop's own types are https://shop.example/problems/ followed by
// the table's name; the errors HTTP already names are `about:blank`, titled
// with the status's reason phrase.
// TODO: a path no route has is a 404 problem; a method the path does not
// have is a 405 problem with an `Allow` header listing the methods it has.
// TODO: a 500 says nothing of its cause (no SQL, no file name, nothing from
// the gateway); the cause goes to the log.
