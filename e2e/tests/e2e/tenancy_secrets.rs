//! Secrets stay secret: a canary value put through every path appears nowhere in logs, events,
//! status, annotations or metrics.
