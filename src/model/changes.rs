//! Scheduled changes: at its time a change puts a new, already validated table in force (a
//! carrier, a source's behaviour, the backup policy, a stage, a dependency) or resets blocked
//! accounts.
//!
//! Part of the model (an `impl Model` block). `apply_change` is the one exhaustive match over
//! the closed `ChangeKind`: a new changeable table is a new variant and a new arm here (the
//! compiler lists the place), with no catch-all anywhere.

use super::config::*;
use super::{ArrivalStream, Model};
use crate::time::SimTime;

impl Model<'_> {
    pub(super) fn apply_change(&mut self, now: SimTime, index: usize) {
        let cfg = self.cfg;
        match &cfg.changes[index].kind {
            ChangeKind::Carrier(i, c) => self.change_carrier(now, *i, c),
            ChangeKind::Source(i, b) => self.change_source(now, *i, b),
            ChangeKind::Backup {
                cfg,
                platform,
                sources,
            } => self.change_backup(cfg, *platform, sources, now),
            ChangeKind::Stage(i, s) => self.change_stage(now, *i, s),
            ChangeKind::Dependency(i, d, primary_set) => {
                self.change_dependency(now, *i, d, *primary_set)
            }
            ChangeKind::ResetAccounts => self.reset_accounts(now),
        }
    }

    /// A carrier's limits change: queued legs are drained under the new ones at once.
    fn change_carrier(&mut self, now: SimTime, i: usize, c: &CarrierConfig) {
        self.carriers[i].reconfigure(c, now);
        self.drain(now, i as u32);
    }

    /// A source's behaviour changes for calls arriving from now on; a new rate scale redraws
    /// the pending arrival of a profile source.
    fn change_source(&mut self, now: SimTime, i: usize, b: &SourceBehaviour) {
        let scale_changed = self.sources[i].behaviour.rate_scale != b.rate_scale;
        self.sources[i].behaviour = b.clone();
        self.refresh_source_terms();
        if scale_changed {
            if let ArrivalStream::Nhpp(a) = &mut self.sources[i].arrivals {
                a.restart(b.rate_scale, now);
                let s = &mut self.sources[i];
                s.arrival_gen.bump();
                self.schedule_next_arrival(i as u32);
            }
        }
    }
}
