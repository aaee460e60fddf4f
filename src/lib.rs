//! callsim: a deterministic discrete-event simulator of telephony platforms under carrier rate
//! limits. See ARCHITECTURE.md for the module map, data flow and invariants.

pub mod alerts;
pub mod analytic;
pub mod batch;
pub mod budget;
pub mod cli;
pub mod dist;
pub mod engine;
pub mod error;
pub mod export;
pub mod fit;
pub mod grid;
pub mod input;
pub mod limiter;
pub mod metrics;
pub mod model;
pub mod plan;
pub mod report;
pub mod rng;
pub mod run;
pub mod scenario;
pub mod serve;
pub mod stats;
pub mod time;
pub mod validate;
