//! Integration tests: one binary (see STYLE.md).

mod alerts;
mod callrail;
mod cli;
mod deploy;
mod fit;
mod fuzz;
mod fuzz_engine;
mod golden;
mod hardening;
mod incidents;
mod merge;
mod planning;
mod report;
mod schema;
mod serve;
mod validate;
