//! Backup routing: the policies in force (off, manual windows, or automatic on a measured
//! signal), switching them on and off with their time accounted, and the automatic policies'
//! evaluations.
//!
//! There is one policy slot for the platform (slot 0, `[backup]`) and one per source (slot
//! 1 + source index, `[backup.sources.NAME]`), each with its own state: a call is backup-routed
//! while slot 0 or its source's slot is on (`SourceState::backup` caches that). `backup_on`,
//! `backup_on_s` and `backup_switches` describe "some policy is on".
//!
//! Part of the model (an `impl Model` block). A new policy in a slot (at the start or by a
//! scheduled change) raises that slot's generation, so the events of the policy it replaces are
//! stale.

use super::carriers::LegState;
use super::config::*;
use super::slab::{CallId, Gen};
use super::{Event, Model};
use crate::time::{SimDuration, SimTime};
use std::collections::VecDeque;

/// Bound on an auto policy's sample window (entries), so memory stays bounded whatever the
/// dial rate; beyond it the oldest samples are dropped.
const AUTO_WINDOW_MAX: usize = 1 << 20;

/// The platform-wide slot.
pub(super) const PLATFORM: u32 = 0;

struct AutoState {
    cfg: AutoBackup,
    /// (dial time, delay) of legs dialled within the window (of the slot's source, or all).
    recent: VecDeque<(SimTime, SimDuration)>,
}

/// One policy's state.
struct Slot {
    on: bool,
    /// When it last switched on.
    on_since: SimTime,
    /// Generation of the policy in force; events of replaced policies are stale.
    gen: Gen,
    auto: Option<AutoState>,
}

/// The backup policies' state: slot 0 for the platform, then one per source.
pub(super) struct BackupState {
    slots: Vec<Slot>,
    /// Slots that are on.
    on_count: u32,
    /// Slots with an automatic policy in force (dial samples are kept only when some are).
    autos: u32,
}

impl BackupState {
    pub(super) fn new(sources: usize, start: SimTime) -> Self {
        let slot = || Slot {
            on: false,
            on_since: start,
            gen: Gen::FIRST,
            auto: None,
        };
        BackupState {
            slots: (0..=sources).map(|_| slot()).collect(),
            on_count: 0,
            autos: 0,
        }
    }

    /// Whether an event of slot `slot` carrying `gen` belongs to the policy in force.
    pub(super) fn fresh(&self, slot: u32, gen: Gen) -> bool {
        self.slots[slot as usize].gen == gen
    }
}

impl Model<'_> {
    /// Puts the scenario's policies in force at the start.
    pub(super) fn init_backup(&mut self, b: &BackupConfig, now: SimTime) {
        self.apply_backup_policy(PLATFORM, &b.policy, now);
        for (s, p) in &b.sources {
            self.apply_backup_policy(*s as u32 + 1, p, now);
        }
    }

    /// A scheduled change: the slots it touched get their new policy; the others keep theirs.
    pub(super) fn change_backup(
        &mut self,
        b: &BackupConfig,
        platform: bool,
        sources: &[usize],
        now: SimTime,
    ) {
        if platform {
            self.apply_backup_policy(PLATFORM, &b.policy, now);
        }
        for &s in sources {
            self.apply_backup_policy(s as u32 + 1, b.policy_of(s), now);
        }
    }

    /// Puts a policy in force in `slot`: events of the previous one become stale. A manual
    /// policy is on exactly inside its windows; an automatic one keeps the current state and
    /// decides at its next evaluation.
    fn apply_backup_policy(&mut self, slot: u32, policy: &BackupPolicy, now: SimTime) {
        let s = &mut self.backup.slots[slot as usize];
        if s.auto.take().is_some() {
            self.backup.autos -= 1;
        }
        s.gen.bump();
        let gen = s.gen;
        match policy {
            BackupPolicy::Off => self.set_backup(slot, false, now),
            BackupPolicy::Manual(windows) => {
                let mut on_now = false;
                for &(from, to) in windows {
                    if from <= now && now < to {
                        on_now = true;
                    }
                    if from > now {
                        let on = true;
                        self.sched.schedule(from, Event::Backup { on, gen, slot });
                    }
                    if to > now {
                        let on = false;
                        self.sched.schedule(to, Event::Backup { on, gen, slot });
                    }
                }
                self.set_backup(slot, on_now, now);
            }
            BackupPolicy::Auto(a) => {
                s.auto = Some(AutoState {
                    cfg: a.clone(),
                    recent: VecDeque::new(),
                });
                self.backup.autos += 1;
                let first = now.plus(a.evaluate_every);
                if first < self.cfg.end {
                    self.sched.schedule(first, Event::BackupEval { gen, slot });
                }
            }
        }
    }

    /// Switches one slot; the sources it covers route by it from now on, and the platform's
    /// "some policy on" state (timeline, `backup_on_s`, `backup_switches`) follows.
    pub(super) fn set_backup(&mut self, slot: u32, on: bool, now: SimTime) {
        let s = &mut self.backup.slots[slot as usize];
        if on == s.on {
            return;
        }
        s.on = on;
        if on {
            s.on_since = now;
            self.backup.on_count += 1;
        } else {
            self.backup.on_count -= 1;
        }
        let platform_on = self.backup.slots[PLATFORM as usize].on;
        if slot == PLATFORM {
            for (i, src) in self.sources.iter_mut().enumerate() {
                src.backup = on || self.backup.slots[i + 1].on;
            }
        } else {
            self.sources[slot as usize - 1].backup = on || platform_on;
        }
        let any = self.backup.on_count > 0;
        if any == self.backup_on {
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
        self.backup_on = any;
        if any {
            self.obs.timeline.note_backup_on();
        }
    }

    /// A leg of `call` was dialled after waiting `delay`: a sample for the automatic policies
    /// that watch it (the platform's, its source's), if any is in force.
    #[inline]
    pub(super) fn note_dial_for_auto(&mut self, now: SimTime, delay: SimDuration, call: CallId) {
        if self.backup.autos == 0 {
            return;
        }
        let source = self.calls.get(call).source;
        for slot in [PLATFORM, source + 1] {
            if let Some(a) = &mut self.backup.slots[slot as usize].auto {
                if a.recent.len() >= AUTO_WINDOW_MAX {
                    a.recent.pop_front();
                }
                a.recent.push_back((now, delay));
            }
        }
    }

    /// An automatic policy's evaluation: measure, switch if a threshold is crossed (and the
    /// minimum on-time has passed), and schedule the next evaluation.
    pub(super) fn evaluate_auto(&mut self, now: SimTime, slot: u32) {
        let s = &mut self.backup.slots[slot as usize];
        let Some(a) = &mut s.auto else { return };
        let cutoff = SimTime(now.as_ns().saturating_sub(a.cfg.window.as_ns()));
        while a.recent.front().is_some_and(|&(t, _)| t < cutoff) {
            a.recent.pop_front();
        }
        let cfg = a.cfg.clone();
        let metric = match cfg.metric {
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
            AutoMetric::OldestWait => Some(self.oldest_queued_wait(now, slot)),
        };
        let s = &self.backup.slots[slot as usize];
        let (on, on_since, gen) = (s.on, s.on_since, s.gen);
        match metric {
            Some(m) if !on && m > cfg.on_above => self.set_backup(slot, true, now),
            Some(m) if on && m < cfg.off_below && now.since(on_since) >= cfg.min_on => {
                self.set_backup(slot, false, now)
            }
            _ => {}
        }
        let next = now.plus(cfg.evaluate_every);
        if next < self.cfg.end {
            self.sched.schedule(next, Event::BackupEval { gen, slot });
        }
    }

    /// The longest wait of a leg still queued at a carrier (zero if none waits): any leg for
    /// the platform's slot; for a source's slot, the legs of that source's calls (legs left in
    /// a queue by calls that ended, `dial_and_hang_up`, belong to no source any more).
    fn oldest_queued_wait(&self, now: SimTime, slot: u32) -> SimDuration {
        let mut oldest = SimDuration::ZERO;
        for cs in &self.carriers {
            let head = cs.queue.iter().find_map(|&r| {
                self.legs.get_live(r).filter(|l| {
                    l.state == LegState::Queued
                        && (slot == PLATFORM
                            || (!l.orphan && self.calls.get(l.call).source + 1 == slot))
                })
            });
            if let Some(l) = head {
                oldest = oldest.max(now.since(l.requested));
            }
        }
        oldest
    }
}
