//! The shop assembled: its state, its routes, its life from start to stop
//! (lessons server/state, server/routing, server/shutdown).

// TODO: every route of the contract's table is served, behind the layers
// every response goes through (problems, security headers).
// TODO: the shop binds SHOP_BIND_ADDR and then prints exactly one line
// `listening on http://ADDR` to standard output, with the address it
// really got (port 0 means any free port).
// TODO: SIGTERM and Ctrl-C stop the shop gracefully: it exits with status 0
// within 10 seconds, event streams included.
