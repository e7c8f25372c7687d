//! The cart: one per customer, stored.

// TODO: GET /cart answers the caller's lines in product_id order, at the
// products' current prices, with line totals and the subtotal.
// TODO: PUT /cart/items/{product_id} sets a line's quantity (1 to 100, the
// body's only member) after checking the body, then the product (404).
// TODO: DELETE /cart/items/{product_id} and DELETE /cart answer 204.
// TODO: a customer only ever sees and changes their own cart.
