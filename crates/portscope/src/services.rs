//! The IANA service registry (stub, being written).
