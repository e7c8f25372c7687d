//! Following an order live (lesson production/sse).

// TODO: GET /orders/{id}/events streams the order's events as
// text/event-stream: those after Last-Event-ID first, oldest first, then
// each new one within 2 seconds of the change, each exactly once, each as
// `id`, `event: status` and one line of JSON `data`.
// TODO: after a final status (shipped, cancelled) the stream ends; a client
// that has already seen the final event gets 204.
// TODO: a stream never carries another order's events, and no open stream
// keeps the shop from stopping.
