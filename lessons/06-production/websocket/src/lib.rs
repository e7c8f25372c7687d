//! PLACEHOLDER: production/websocket is being written.
