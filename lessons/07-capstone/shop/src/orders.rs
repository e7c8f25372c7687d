//! Orders (lessons security/access-control, auth/authorization).

// TODO: GET /orders answers the caller's own orders in id order, whatever
// the query string or headers say; GET /admin/orders (admin) answers every
// order.
// TODO: GET /orders/{id} answers the order to its owner and to admins; to
// anybody else it is the 404 order-not-found of an order that does not
// exist, and every other order route behaves the same.
// TODO: cancel (owner or admin) turns a paid order into a cancelled one and
// gives its stock back; ship (admin) turns a paid order into a shipped one;
// any other status is 409 order-status-conflict with `order_status`.
// TODO: each status change is stored as an event, for the live streams.
