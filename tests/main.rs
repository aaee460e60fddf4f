//! Integration tests: one binary (see STYLE.md).

mod callrail;
mod cli;
mod golden;
mod incidents;
mod report;
mod validate;
