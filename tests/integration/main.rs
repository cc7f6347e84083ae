//! Integration tests.

mod data_real;
