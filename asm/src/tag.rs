//! The kernel program tag (to be completed).
