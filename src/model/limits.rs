//! Limits a run must stay within (the resource budget of `--max-events` and `--max-memory`):
//! checked from the run loop every 65,536 events; passing one stops the run with a message that
//! names what grew, when, and what to change.

use super::Model;
use crate::time::SimTime;

/// What one replication may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most events handled.
    pub max_events: u64,
    /// Most entries held at once: calls, legs and jobs in flight, pending events, and queue
    /// entries (cancelled ones included until they leave).
    pub max_in_flight: u64,
}

impl Limits {
    pub const NONE: Limits = Limits {
        max_events: u64::MAX,
        max_in_flight: u64::MAX,
    };
}

/// Starts the message of a run stopped by its limits (the CLI maps it to exit code 3).
pub const OVER_BUDGET: &str = "over budget: ";

/// Bytes an in-flight entry takes, about (a call or leg slot, its events, its queue entry):
/// converts a memory budget into `max_in_flight`.
pub const BYTES_PER_IN_FLIGHT: u64 = 256;

impl Model<'_> {
    pub(super) fn check_limits(&self, now: SimTime, l: &Limits) -> Result<(), String> {
        if self.obs.events > l.max_events {
            return Err(format!(
                "{OVER_BUDGET}the run passed {} events at {} (--max-events), with {} calls in flight: it does more work than estimated (a queue or retries grow); raise --max-events or find what grows in timeline.csv of a shorter run",
                l.max_events,
                now.clock_hhmmss(),
                self.calls.in_use()
            ));
        }
        // Queues hold cancelled entries until they reach the head: count them too.
        let queued: usize = self.carriers.iter().map(|c| c.queue.len()).sum::<usize>()
            + self.stages.iter().map(|s| s.waiting_len()).sum::<usize>();
        let in_flight = (self.calls.in_use()
            + self.legs.in_use()
            + self.jobs.in_use()
            + self.sched.pending()
            + queued) as u64;
        if in_flight <= l.max_in_flight {
            return Ok(());
        }
        Err(format!(
            "{OVER_BUDGET}stopped at {}: {in_flight} calls, legs, jobs, queue entries and pending events in flight (about {}), over this replication's share of the memory budget (--max-memory), {}: {}",
            now.clock_hhmmss(),
            crate::budget::bytes_text(in_flight as f64 * BYTES_PER_IN_FLIGHT as f64),
            crate::budget::bytes_text(l.max_in_flight as f64 * BYTES_PER_IN_FLIGHT as f64),
            self.what_grew()
        ))
    }

    /// The biggest holder of in-flight work, in words.
    fn what_grew(&self) -> String {
        let carrier = self
            .carriers
            .iter()
            .max_by_key(|c| c.queue_live)
            .filter(|c| c.queue_live > 0);
        let stage = self
            .stages
            .iter()
            .max_by_key(|s| s.waiting_len())
            .filter(|s| s.waiting_len() > 0);
        let calls = self.calls.in_use() as u64;
        match (carrier, stage) {
            (Some(c), s) if s.is_none_or(|s| c.queue_live >= s.waiting_len() as u64) => format!(
                "carrier `{}` holds {} queued legs: arrivals exceed its limit; set its queue_capacity or max_queue_wait, or lower the rate",
                c.name(),
                c.queue_live
            ),
            (_, Some(s)) => format!(
                "stage `{}` holds {} waiting attempts: arrivals (and retries) exceed its sessions; set its wait timeout, fewer retries, or more sessions",
                s.cfg.name,
                s.waiting_len()
            ),
            _ => format!("{calls} calls are in flight: arrivals outpace their completions; lower the rate or shorten talk and patience times"),
        }
    }
}
