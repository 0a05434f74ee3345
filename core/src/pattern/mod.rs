//! EventBridge's event-pattern language (filled by the matcher work).
