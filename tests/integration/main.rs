//! Integration tests.

mod model;
