//! Integration tests: one binary (see STYLE.md).

mod callrail;
mod cli;
mod fit;
mod golden;
mod incidents;
mod validate;
