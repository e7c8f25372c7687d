//! POST /checkout (lessons database/transactions, api/idempotency).

// TODO: the checks run in the contract's order: credentials, the key, a
// replay, the body, an empty cart (409 cart-empty), the discount code (422
// invalid-discount-code with `reason`), the stock (409 out-of-stock with
// `product_id` and `available`), then the price and the payment.
// TODO: a 201 means all of it happened together: the paid order (with its
// pending and paid events), the stock down, the code's use counted, the
// cart empty, one charge, the confirmation job stored. Any other answer
// means none of it did.
// TODO: prices are integer cents; a percent discount is rounded down; a
// total of 0 is paid without calling the gateway.
// TODO: stock is never oversold, also with 200 checkouts at once, and no
// transaction holds the database's write lock while the gateway is called.
