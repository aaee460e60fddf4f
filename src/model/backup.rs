//! Backup routing: the policy in force (off, manual windows, or automatic on a measured signal),
//! switching it on and off with its time accounted, and the automatic policy's evaluations.
//!
//! Part of the model (an `impl Model` block). A new policy (at the start or by a scheduled
//! change) raises `backup_gen`, so the events of the policy it replaces are stale.

use super::carriers::LegState;
use super::config::*;
use super::{Event, Model};
use crate::time::{SimDuration, SimTime};
use std::collections::VecDeque;

/// Bound on the auto policy's sample window (entries), so memory stays bounded whatever the
/// dial rate; beyond it the oldest samples are dropped.
const AUTO_WINDOW_MAX: usize = 1 << 20;

pub(super) struct AutoState {
    cfg: AutoBackup,
    /// (dial time, delay) of legs dialled within the window.
    recent: VecDeque<(SimTime, SimDuration)>,
    on_since: SimTime,
}

impl Model<'_> {
    /// Puts a backup policy in force: events of the previous policy become stale. A manual
    /// policy is on exactly inside its windows; an automatic one keeps the current state and
    /// decides at its next evaluation.
    pub(super) fn apply_backup_config(&mut self, b: &BackupConfig, now: SimTime) {
        self.auto = None;
        self.backup_gen.bump();
        let gen = self.backup_gen;
        match &b.policy {
            BackupPolicy::Off => self.set_backup(false, now),
            BackupPolicy::Manual(windows) => {
                let mut on_now = false;
                for &(from, to) in windows {
                    if from <= now && now < to {
                        on_now = true;
                    }
                    if from > now {
                        self.sched.schedule(from, Event::Backup { on: true, gen });
                    }
                    if to > now {
                        self.sched.schedule(to, Event::Backup { on: false, gen });
                    }
                }
                self.set_backup(on_now, now);
            }
            BackupPolicy::Auto(a) => {
                self.auto = Some(AutoState {
                    cfg: a.clone(),
                    recent: VecDeque::new(),
                    on_since: if self.backup_on {
                        self.backup_on_since
                    } else {
                        now
                    },
                });
                let first = now.plus(a.evaluate_every);
                if first < self.cfg.end {
                    self.sched.schedule(first, Event::BackupEval { gen });
                }
            }
        }
    }

    pub(super) fn set_backup(&mut self, on: bool, now: SimTime) {
        if on == self.backup_on {
            return;
        }
        if self.backup_on {
            self.obs.backup_on_s += now.since(self.backup_on_since).as_secs_f64();
        } else {
            self.backup_on_since = now;
            self.obs.backup_switches += 1;
        }
        // Close earlier intervals with the state that held during them, then switch.
        let _ = self.obs.timeline.at(now, self.backup_on);
        self.backup_on = on;
        if on {
            self.obs.timeline.note_backup_on();
            if let Some(a) = &mut self.auto {
                a.on_since = now;
            }
        }
    }

    /// A leg was dialled after waiting `delay`: a sample for the automatic policy, if one is in
    /// force.
    #[inline]
    pub(super) fn note_dial_for_auto(&mut self, now: SimTime, delay: SimDuration) {
        if let Some(a) = &mut self.auto {
            if a.recent.len() >= AUTO_WINDOW_MAX {
                a.recent.pop_front();
            }
            a.recent.push_back((now, delay));
        }
    }

    /// The automatic policy's evaluation: measure, switch if a threshold is crossed (and the
    /// minimum on-time has passed), and schedule the next evaluation.
    pub(super) fn evaluate_auto(&mut self, now: SimTime) {
        let Some(a) = &mut self.auto else { return };
        let cutoff = SimTime(now.as_ns().saturating_sub(a.cfg.window.as_ns()));
        while a.recent.front().is_some_and(|&(t, _)| t < cutoff) {
            a.recent.pop_front();
        }
        let metric = match a.cfg.metric {
            AutoMetric::DialDelayP95 => {
                self.scratch.clear();
                self.scratch
                    .extend(a.recent.iter().map(|&(_, d)| d.as_ns()));
                if self.scratch.is_empty() {
                    // Nothing dialled in the window says nothing about delay (all channels may
                    // be busy): no sample, no switch.
                    None
                } else {
                    let k = ((self.scratch.len() as f64 * 0.95).ceil() as usize)
                        .clamp(1, self.scratch.len())
                        - 1;
                    let (_, v, _) = self.scratch.select_nth_unstable(k);
                    Some(SimDuration(*v))
                }
            }
            AutoMetric::OldestWait => Some(self.oldest_queued_wait(now)),
        };
        let a = self.auto.as_ref().expect("auto policy present");
        let (on_above, off_below, min_on, every) = (
            a.cfg.on_above,
            a.cfg.off_below,
            a.cfg.min_on,
            a.cfg.evaluate_every,
        );
        let on_since = a.on_since;
        match metric {
            Some(m) if !self.backup_on && m > on_above => self.set_backup(true, now),
            Some(m) if self.backup_on && m < off_below && now.since(on_since) >= min_on => {
                self.set_backup(false, now)
            }
            _ => {}
        }
        let next = now.plus(every);
        if next < self.cfg.end {
            let gen = self.backup_gen;
            self.sched.schedule(next, Event::BackupEval { gen });
        }
    }

    /// The longest wait of a leg at the head of a carrier queue (zero if none waits).
    fn oldest_queued_wait(&self, now: SimTime) -> SimDuration {
        let mut oldest = SimDuration::ZERO;
        for cs in &self.carriers {
            let head = cs.queue.iter().find_map(|&r| {
                self.legs
                    .get_live(r)
                    .filter(|l| l.state == LegState::Queued)
            });
            if let Some(l) = head {
                oldest = oldest.max(now.since(l.requested));
            }
        }
        oldest
    }
}
