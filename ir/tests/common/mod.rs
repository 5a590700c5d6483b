//! Helpers shared by the integration tests (`mod common;`); not every test uses all of them.
#![allow(dead_code)]

pub mod gen;
