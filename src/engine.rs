//! The discrete-event core: a priority queue of events ordered by (time, sequence), so events at
//! the same instant leave in the order they were scheduled (FIFO). Knows nothing of telephony.
//!
//! ```
//! use callsim::engine::Scheduler;
//! use callsim::time::SimTime;
//! let mut s = Scheduler::new(SimTime(0));
//! s.schedule(SimTime(20), "later");
//! s.schedule(SimTime(10), "first");
//! s.schedule(SimTime(10), "second"); // same time: leaves after "first"
//! assert_eq!(s.pop(), Some((SimTime(10), "first")));
//! assert_eq!(s.pop(), Some((SimTime(10), "second")));
//! assert_eq!(s.now(), SimTime(10));
//! ```
//!
//! Three places hold pending events, all ordered by the same key (time << 64 | seq): the heap
//! (binary, or a radix heap while it holds more than `TO_RADIX` events);
//! "lanes" for recurring events with one pending each (a source's next arrival); and timer
//! queues, one FIFO per fixed delay (`schedule_after`), for timeouts and periods, whose keys
//! rise from front to back because both `now` and `seq` do. `pop` takes the smallest key of
//! the heap's top, the earliest lane and the earliest timer front, so the global order is
//! exactly the order of one heap holding everything; a timer costs O(1) in and out and a
//! timeout that is never needed no longer weighs on the heap's depth.
//!
//! Cancellation is lazy: the model embeds a generation in its event payloads and drops events
//! whose generation is stale when they are popped. Scheduling in the past is a bug and panics.

use crate::time::{SimDuration, SimTime};
use std::collections::VecDeque;

/// `key` = time << 64 | seq: one integer comparison orders by time, then scheduling order.
#[derive(Clone, Copy)]
struct Entry<E> {
    key: u128,
    event: E,
}

impl<E> Entry<E> {
    fn time(&self) -> SimTime {
        SimTime((self.key >> 64) as u64)
    }
}

/// A place in the order of events, taken by `Scheduler::reserve` for an event that may be
/// scheduled later (`Scheduler::schedule_reserved`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reserved(u128);

impl Reserved {
    /// No place: `reserve` never gives it (that would take 2^64 - 1 scheduling calls at the
    /// last representable instant), so a table of places can mark an empty entry with it in 16
    /// bytes instead of the 32 of an `Option`.
    pub const NONE: Reserved = Reserved(NO_KEY);

    /// The time the reserved event is due.
    pub fn time(self) -> SimTime {
        SimTime((self.0 >> 64) as u64)
    }
}

/// The key of an empty lane (no real key reaches it: that would take 2^64 - 1 events at the
/// last representable instant).
const NO_KEY: u128 = u128::MAX;

/// Children per node. Measured on the Erlang-A benchmark (calls/s, 5 runs each): arity 2 gave
/// 4.06-4.31 M, 4 gave 3.99-4.10 M, 8 gave 3.47-3.84 M, and std's BinaryHeap 3.71-3.88 M (fewer
/// instructions, slower). The heaps callsim sees are small, so depth matters less than
/// comparisons per level.
const ARITY: usize = 2;

/// Distinct fixed delays with a timer queue of their own (a run has a handful: client timeouts,
/// ring and queue timeouts, check periods); further delays share the heap.
const MAX_TIMER_QUEUES: usize = 16;

/// Where the earliest pending event waits.
#[derive(Clone, Copy)]
enum Place {
    Heap,
    Lane(usize),
    Timer(usize),
}

/// Bits per digit of the radix heap's keys: 16 buckets per digit, 32 digits in a 128-bit key.
/// Measured on Erlang-A at 100,000 calls in flight (callgrind, 400,000 calls): one bit per
/// digit moved each entry 5 to 8 times before it was taken; four bits, about 3.
const DIGIT_BITS: u32 = 4;
const DIGIT_VALUES: usize = 1 << DIGIT_BITS;
const BUCKETS: usize = 128 / DIGIT_BITS as usize * DIGIT_VALUES;
const OCCUPANCY_WORDS: usize = BUCKETS / 64;

/// The binary heap gives way to the radix heap when it would hold more than `TO_RADIX`
/// events (1 MiB of entries), and takes over again when the radix heap falls below
/// `TO_BINARY`. The binary heap takes fewer instructions (Easycallnow, a 10-minute slice:
/// 3.20 G against 3.35 G all in a radix heap; Erlang-A c=100: 205 M against 214 M), but its
/// sift touches a random cache line per level: at 100,000 calls in flight (Erlang-A) the radix
/// heap took 220-320 ns per event against 420. Results do not depend on which holds the events.
/// Unit tests switch at a few events, so any scheduler or model unit test with more than 8
/// events in the heap at once crosses both ways.
const TO_RADIX: usize = if cfg!(test) { 8 } else { 1 << 15 };
const TO_BINARY: usize = if cfg!(test) { 3 } else { 1 << 13 };

/// A bucket emptied by `RadixHeap::pop` keeps its buffer up to this many entries (it will
/// refill without allocating); a larger buffer is freed, so the buckets together hold about
/// what is pending rather than each its own peak (which tripled the memory per call in flight
/// at 100,000 calls).
const KEEP_CAPACITY: usize = 128;

/// A radix heap (Ahuja, Mehlhorn, Orlin and Tarjan, "Faster algorithms for the shortest path
/// problem", J. ACM 37(2), 1990) with 16-way digits: a min-queue for keys that never fall
/// below the key taken last, which holds here (nothing is scheduled in the past, and `seq`
/// rises). An entry's bucket is (d, v): d is the highest 4-bit digit in which its key differs
/// from `last`, v its key's value of that digit (above `last`'s). Buckets in that order hold
/// ever larger keys, so the minimum is the kept minimum of the lowest non-empty bucket: a push
/// and a look at the minimum are O(1). Taking the minimum moves the rest of its bucket to lower
/// digits (relative to the new `last`); the other buckets stay valid, and an entry only ever
/// moves to a lower digit, so at most 32 times (about 3 in the workloads measured).
/// Entries are appended and scanned in order, so a large queue stays cache-friendly where a
/// binary heap's sift touches a random line per level. Keys are distinct (`seq`), so the
/// order of pops is that of any correct priority queue.
struct RadixHeap<E> {
    buckets: Vec<Vec<Entry<E>>>,
    /// `mins[b]`: the smallest key in bucket b (`u128::MAX` when it is empty).
    mins: Vec<u128>,
    /// Bit b % 64 of word b / 64 set: bucket b is not empty.
    occupied: [u64; OCCUPANCY_WORDS],
    /// The lowest non-empty bucket (`BUCKETS` when all are empty).
    low: usize,
    /// The key taken last (or, when the radix heap takes over, (now, seq 0)): every key pushed
    /// is above it.
    last: u128,
    len: usize,
}

impl<E: Copy> RadixHeap<E> {
    /// An empty radix heap that allocates nothing (a run that never needs it pays nothing).
    fn new() -> Self {
        RadixHeap {
            buckets: Vec::new(),
            mins: Vec::new(),
            occupied: [0; OCCUPANCY_WORDS],
            low: BUCKETS,
            last: 0,
            len: 0,
        }
    }

    /// An empty radix heap ready for pushes.
    fn with_buckets() -> Self {
        RadixHeap {
            buckets: (0..BUCKETS).map(|_| Vec::new()).collect(),
            mins: vec![u128::MAX; BUCKETS],
            ..RadixHeap::new()
        }
    }

    /// The bucket of `key`, which must be above `last`. A digit never straddles the two
    /// 64-bit halves (64 is a multiple of `DIGIT_BITS`), so each half is read as a `u64`.
    #[inline(always)]
    fn bucket_of(&self, key: u128) -> usize {
        let d = key ^ self.last;
        let (hi, lo) = ((d >> 64) as u64, d as u64);
        let (word, bit, base) = if hi != 0 {
            ((key >> 64) as u64, 63 - hi.leading_zeros(), 64 / DIGIT_BITS)
        } else {
            (key as u64, 63 - lo.leading_zeros(), 0)
        };
        let digit = base + bit / DIGIT_BITS;
        let value = (word >> (bit & !(DIGIT_BITS - 1))) as usize & (DIGIT_VALUES - 1);
        digit as usize * DIGIT_VALUES + value
    }

    /// The lowest non-empty bucket, found from the occupancy bits (`BUCKETS` if none).
    fn find_lowest(&self) -> usize {
        self.occupied
            .iter()
            .position(|&w| w != 0)
            .map_or(BUCKETS, |i| {
                i * 64 + self.occupied[i].trailing_zeros() as usize
            })
    }

    #[inline]
    fn push(&mut self, e: Entry<E>) {
        assert!(
            e.key > self.last,
            "an event scheduled before one already handled"
        );
        let b = self.bucket_of(e.key);
        self.put(b, e);
        self.len += 1;
    }

    #[inline(always)]
    fn put(&mut self, b: usize, e: Entry<E>) {
        self.buckets[b].push(e);
        if e.key < self.mins[b] {
            self.mins[b] = e.key;
        }
        self.occupied[b / 64] |= 1 << (b % 64);
        self.low = self.low.min(b);
    }

    #[inline(always)]
    fn min_key(&self) -> Option<u128> {
        (self.low < BUCKETS).then(|| self.mins[self.low])
    }

    /// Takes the minimum and moves the rest of its bucket down.
    #[inline]
    fn pop(&mut self) -> Option<Entry<E>> {
        let b = self.low;
        if b == BUCKETS {
            return None;
        }
        let min = self.mins[b];
        self.last = min;
        self.mins[b] = u128::MAX;
        self.occupied[b / 64] &= !(1 << (b % 64));
        self.len -= 1;
        if self.buckets[b].len() == 1 {
            // The others are all in higher buckets, which stay as they are.
            self.low = self.find_lowest();
            return self.buckets[b].pop();
        }
        // Every entry of bucket b moves below it (`put` lowers `low`), unless it is the minimum.
        self.low = BUCKETS;
        let mut taken = std::mem::take(&mut self.buckets[b]);
        let mut out = None;
        for &e in &taken {
            if e.key == min {
                out = Some(e);
            } else {
                let to = self.bucket_of(e.key);
                debug_assert!(to / DIGIT_VALUES < b / DIGIT_VALUES, "entries move down");
                self.put(to, e);
            }
        }
        if taken.capacity() <= KEEP_CAPACITY {
            taken.clear();
            self.buckets[b] = taken;
        }
        if self.low == BUCKETS {
            self.low = self.find_lowest();
        }
        out
    }

    fn len(&self) -> usize {
        self.len
    }

    fn iter(&self) -> impl Iterator<Item = &Entry<E>> {
        self.buckets.iter().flatten()
    }
}

/// The event queue and the simulation clock: an implicit d-ary min-heap on `key`, sifting
/// with a hole (entries move, the new or last entry is written once), which gives way to a
/// radix heap while it holds more than `TO_RADIX` events (see `RadixHeap`).
pub struct Scheduler<E: Copy> {
    heap: Vec<Entry<E>>,
    /// Holds the heap's events instead of `heap` while `in_radix`.
    radix: RadixHeap<E>,
    in_radix: bool,
    /// Lanes: recurring events with at most one pending each (a source's next arrival) kept
    /// beside the heap; `lane_min` caches the earliest. Ordering is the same (time, seq) as
    /// the heap's, so results do not depend on whether an event went to a lane.
    /// An empty lane holds its last event under the key `NO_KEY` (not an `Option`: taking an
    /// `Option<Entry>` out copied the event as 15 bytes in two overlapping moves, and the
    /// load that followed stalled on store forwarding, on every arrival).
    lanes: Vec<Entry<E>>,
    lane_min: Option<usize>,
    /// Timer queues: one FIFO per fixed delay (`delays[q]` in ns). Every entry of queue `q` was
    /// scheduled at `now + delays[q]` with a rising `now` and `seq`, so its keys rise from front
    /// to back and its front is its earliest; `timer_min` caches the queue with the earliest
    /// front. Same (time, seq) keys as the heap, so results do not depend on where an event went.
    timers: Vec<VecDeque<Entry<E>>>,
    /// `fronts[q]`: the key of queue q's front (`u128::MAX` when it is empty), kept beside the
    /// queues so finding the earliest front reads one short array, not every queue's buffer.
    fronts: Vec<u128>,
    delays: Vec<u64>,
    timer_min: Option<usize>,
    timers_len: usize,
    now: SimTime,
    /// The key of the event handled last (checked against reserved places in debug builds).
    last_key: u128,
    /// The latest time a place was reserved for (`reserve`), used or not.
    latest_reserved: SimTime,
    next_seq: u64,
    popped: u64,
    pending_max: usize,
}

impl<E: Copy> Scheduler<E> {
    pub fn new(start: SimTime) -> Self {
        Scheduler {
            heap: Vec::with_capacity(1024),
            radix: RadixHeap::new(),
            in_radix: false,
            lanes: Vec::new(),
            lane_min: None,
            timers: Vec::new(),
            fronts: Vec::new(),
            delays: Vec::new(),
            timer_min: None,
            timers_len: 0,
            now: start,
            last_key: 0,
            latest_reserved: start,
            // From 1: no key is (time, 0), the radix heap's `last` when it takes over.
            next_seq: 1,
            popped: 0,
            pending_max: 0,
        }
    }

    /// The current simulated time: the time of the event being handled.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Schedules `event` at `time`, which must not be in the past.
    #[inline]
    pub fn schedule(&mut self, time: SimTime, event: E) {
        let key = self.key_for(time);
        self.push_heap(Entry { key, event });
    }

    /// The (time, seq) key of an event scheduled now at `time`, which must not be in the past.
    #[inline]
    fn key_for(&mut self, time: SimTime) -> u128 {
        assert!(
            time >= self.now,
            "event scheduled in the past: {} < now {}",
            time,
            self.now
        );
        let key = (time.as_ns() as u128) << 64 | self.next_seq as u128;
        self.next_seq += 1;
        key
    }

    #[inline]
    fn push_heap(&mut self, entry: Entry<E>) {
        if self.in_radix || self.heap.len() >= TO_RADIX {
            return self.push_radix(entry);
        }
        let key = entry.key;
        // Sift up with a hole: parents move down until the new key's place is found.
        self.heap.push(entry);
        let h = self.heap.as_mut_slice();
        let mut i = h.len() - 1;
        while i > 0 && i < h.len() {
            let parent = (i - 1) / ARITY;
            let p = h[parent];
            if p.key <= key {
                break;
            }
            h[i] = p;
            i = parent;
        }
        h[i] = entry;
        self.note_pending();
    }

    #[inline(never)]
    fn push_radix(&mut self, entry: Entry<E>) {
        if !self.in_radix {
            self.hand_to_radix();
        }
        self.radix.push(entry);
        self.note_pending();
    }

    #[inline(never)]
    fn pop_radix(&mut self) -> Entry<E> {
        let e = self.radix.pop().expect("earliest is in the heap");
        if self.radix.len() < TO_BINARY {
            self.hand_to_binary();
        }
        e
    }

    /// Moves the heap's events to the radix heap. Its `last` is (now, seq 0): every key pending
    /// or scheduled from now on is due now or later, and `seq` starts at 1.
    #[cold]
    fn hand_to_radix(&mut self) {
        if self.radix.buckets.is_empty() {
            self.radix = RadixHeap::with_buckets();
        }
        self.radix.last = (self.now.as_ns() as u128) << 64;
        for e in std::mem::take(&mut self.heap) {
            self.radix.push(e);
        }
        self.in_radix = true;
    }

    /// Moves the radix heap's events back to the binary heap: sorted by key, an array is a
    /// valid min-heap.
    #[cold]
    fn hand_to_binary(&mut self) {
        let mut all: Vec<Entry<E>> = Vec::with_capacity(TO_RADIX);
        all.extend(self.radix.iter().copied());
        all.sort_unstable_by_key(|e| e.key);
        self.radix = RadixHeap::new();
        self.heap = all;
        self.in_radix = false;
    }

    /// Events in the heap (binary or radix).
    #[inline(always)]
    fn heap_len(&self) -> usize {
        if self.in_radix {
            self.radix.len()
        } else {
            self.heap.len()
        }
    }

    #[inline]
    fn note_pending(&mut self) {
        let n = self.heap_len() + self.timers_len;
        if n > self.pending_max {
            self.pending_max = n;
        }
    }

    /// Reserves the place an event at `time` would take if it were scheduled now, without
    /// scheduling it: `schedule_reserved` later puts an event in exactly that place. A timer
    /// that is needed only in some cases (a client's timeout that most requests beat) is
    /// reserved when it is set and scheduled only once it may matter, so the order of events
    /// is the same as if it had been scheduled at once and dropped as stale when it came due.
    #[inline]
    pub fn reserve(&mut self, time: SimTime) -> Reserved {
        let r = Reserved(self.key_for(time));
        assert!(r != Reserved::NONE, "a reserved key never reaches NO_KEY");
        self.latest_reserved = self.latest_reserved.max(time);
        r
    }

    /// The latest time reserved so far, whether an event was put there or not. A run that
    /// ends when its events run out ends no earlier than this: a reserved place left unused
    /// stands for an event that would have been handled there, stale, had it been scheduled.
    pub fn latest_reserved(&self) -> SimTime {
        self.latest_reserved
    }

    /// Schedules `event` in the place `reserve` gave. The place must still be ahead: an event
    /// already handled would have come after it (checked in debug builds; a reserved event
    /// scheduled too late would have been handled out of order).
    pub fn schedule_reserved(&mut self, at: Reserved, event: E) {
        assert!(
            at.time() >= self.now,
            "event scheduled in the past: {} < now {}",
            at.time(),
            self.now
        );
        assert!(at != Reserved::NONE, "scheduled in no reserved place");
        debug_assert!(
            at.0 > self.last_key,
            "a reserved event scheduled after its place was passed"
        );
        self.push_heap(Entry { key: at.0, event });
    }

    /// Schedules `event` after the fixed `delay` from now (a timeout, a periodic check): it
    /// goes to the FIFO queue of that delay, O(1) in and out, and leaves in exactly the order
    /// `schedule(now + delay, event)` would give. Meant for delays that repeat (a handful per
    /// run); past `MAX_TIMER_QUEUES` distinct delays the rest go to the heap.
    pub fn schedule_after(&mut self, delay: SimDuration, event: E) {
        let time = self.now.plus(delay);
        let key = self.key_for(time);
        let delay_ns = time.as_ns() - self.now.as_ns();
        let q = match self.delays.iter().position(|&d| d == delay_ns) {
            Some(q) => q,
            None if self.delays.len() < MAX_TIMER_QUEUES => {
                self.delays.push(delay_ns);
                self.timers.push(VecDeque::new());
                self.fronts.push(u128::MAX);
                self.delays.len() - 1
            }
            None => return self.push_heap(Entry { key, event }),
        };
        let queue = &mut self.timers[q];
        debug_assert!(queue.back().is_none_or(|b| b.key < key), "timer keys rise");
        let was_empty = queue.is_empty();
        queue.push_back(Entry { key, event });
        self.timers_len += 1;
        if was_empty {
            self.fronts[q] = key;
            if self.timer_min.is_none_or(|m| key < self.fronts[m]) {
                self.timer_min = Some(q);
            }
        }
        self.note_pending();
    }

    /// Schedules `event` in `lane`, which must be empty (one pending event per lane).
    pub fn schedule_lane(&mut self, lane: usize, time: SimTime, event: E) {
        assert!(
            time >= self.now,
            "event scheduled in the past: {} < now {}",
            time,
            self.now
        );
        if lane >= self.lanes.len() {
            self.lanes.resize(lane + 1, Entry { key: NO_KEY, event });
        }
        assert!(
            self.lanes[lane].key == NO_KEY,
            "lane {lane} already has a pending event"
        );
        let key = (time.as_ns() as u128) << 64 | self.next_seq as u128;
        assert!(key != NO_KEY, "a lane's key never reaches NO_KEY");
        self.next_seq += 1;
        self.lanes[lane] = Entry { key, event };
        if self.lane_min.is_none_or(|m| key < self.lanes[m].key) {
            self.lane_min = Some(lane);
        }
    }

    /// The earliest lane once lane `emptied` has just been emptied. Lane `emptied` is skipped
    /// by its index, not read: its key was just written with two 8-byte stores, and reading it
    /// back as one 16-byte load would stall on store forwarding (perf showed it on every
    /// arrival).
    fn recompute_lane_min(&mut self, emptied: usize) {
        self.lane_min = self
            .lanes
            .iter()
            .enumerate()
            .filter(|&(i, e)| i != emptied && e.key != NO_KEY)
            .map(|(i, e)| (e.key, i))
            .min()
            .map(|(_, i)| i);
    }

    /// The queue with the earliest front once queue `changed`'s front became `front` (already
    /// stored in `fronts`, but passed in so it is not read back: the same store-forwarding
    /// stall as in `recompute_lane_min`, on every timer taken).
    fn recompute_timer_min(&mut self, changed: usize, front: u128) {
        let mut best: Option<(u128, usize)> = (front != u128::MAX).then_some((front, changed));
        for (q, &k) in self.fronts.iter().enumerate() {
            // Keys are distinct (`seq`), so the order of the scan decides no tie.
            if q != changed && k != u128::MAX && best.is_none_or(|(b, _)| k < b) {
                best = Some((k, q));
            }
        }
        self.timer_min = best.map(|(_, q)| q);
    }

    /// Where the earliest pending event is, and its key.
    #[inline(always)]
    fn earliest(&self) -> Option<(Place, u128)> {
        let top = if self.in_radix {
            self.radix.min_key()
        } else {
            self.heap.first().map(|e| e.key)
        };
        let mut best = top.map(|k| (Place::Heap, k));
        if let Some(m) = self.lane_min {
            let k = self.lanes[m].key;
            debug_assert!(k != NO_KEY, "lane_min points at a pending event");
            if best.is_none_or(|(_, b)| k < b) {
                best = Some((Place::Lane(m), k));
            }
        }
        if let Some(q) = self.timer_min {
            let k = self.fronts[q];
            debug_assert_eq!(Some(k), self.timers[q].front().map(|e| e.key));
            if best.is_none_or(|(_, b)| k < b) {
                best = Some((Place::Timer(q), k));
            }
        }
        best
    }

    /// Removes and returns the earliest event, advancing the clock to its time.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        let (from, _) = self.earliest()?;
        Some(self.take(from))
    }

    /// As `pop`, but only if the earliest event is due at or before `limit`.
    #[inline]
    pub fn pop_until(&mut self, limit: SimTime) -> Option<(SimTime, E)> {
        let (from, key) = self.earliest()?;
        if (key >> 64) as u64 > limit.as_ns() {
            return None;
        }
        Some(self.take(from))
    }

    #[inline]
    fn take(&mut self, from: Place) -> (SimTime, E) {
        let e = match from {
            Place::Heap if self.in_radix => self.pop_radix(),
            Place::Heap => self.pop_heap().expect("earliest is in the heap"),
            Place::Lane(m) => {
                let e = self.lanes[m];
                debug_assert!(e.key != NO_KEY, "lane_min points at a pending event");
                self.lanes[m].key = NO_KEY;
                self.recompute_lane_min(m);
                e
            }
            Place::Timer(q) => {
                let queue = &mut self.timers[q];
                let e = queue.pop_front().expect("pending");
                let front = queue.front().map_or(u128::MAX, |f| f.key);
                self.fronts[q] = front;
                self.timers_len -= 1;
                // Another queue's front may now be earlier than this queue's new front.
                if self.timers.len() > 1 || front == u128::MAX {
                    self.recompute_timer_min(q, front);
                }
                e
            }
        };
        self.advance(e)
    }

    fn advance(&mut self, e: Entry<E>) -> (SimTime, E) {
        let t = e.time();
        debug_assert!(t >= self.now);
        self.now = t;
        if cfg!(debug_assertions) {
            self.last_key = e.key;
        }
        self.popped += 1;
        (t, e.event)
    }

    /// Removes the heap's top, bottom-up (Floyd): the hole left at the root walks down to a
    /// leaf, the smaller child moving up each level, chosen without a branch (which child is
    /// smaller is a coin toss the predictor cannot learn); then the last entry, which belongs
    /// near the bottom, sifts up from that leaf. One comparison per level instead of two, and
    /// no mispredicted branch per level. Keys are distinct (`seq`), so the order of pops is the
    /// same as with any other correct heap.
    fn pop_heap(&mut self) -> Option<Entry<E>> {
        const _: () = assert!(ARITY == 2, "pop_heap is written for a binary heap");
        let last = self.heap.pop()?;
        let h = self.heap.as_mut_slice();
        let Some(&top) = h.first() else {
            return Some(last);
        };
        let n = h.len();
        let mut i = 0;
        loop {
            let first = 2 * i + 1;
            if first + 1 >= n {
                if first + 1 == n {
                    // One child only (the last entry of the array).
                    h[i] = h[first];
                    i = first;
                }
                break;
            }
            let min = first + usize::from(h[first + 1].key < h[first].key);
            h[i] = h[min];
            i = min;
        }
        while i > 0 {
            let parent = (i - 1) / ARITY;
            let p = h[parent];
            if p.key < last.key {
                break;
            }
            h[i] = p;
            i = parent;
        }
        h[i] = last;
        Some(top)
    }

    /// Time of the earliest pending event.
    pub fn peek_time(&self) -> Option<SimTime> {
        self.earliest().map(|(_, k)| SimTime((k >> 64) as u64))
    }

    /// Events pending: in the heap, the lanes and the timer queues.
    pub fn pending(&self) -> usize {
        self.heap_len() + self.lanes.iter().filter(|l| l.key != NO_KEY).count() + self.timers_len
    }
    /// Every pending event, in no particular order (for end-of-run balance checks).
    pub fn pending_events(&self) -> impl Iterator<Item = &E> {
        let lanes = self.lanes.iter().filter(|l| l.key != NO_KEY);
        let timers = self.timers.iter().flatten();
        self.heap
            .iter()
            .chain(self.radix.iter())
            .chain(lanes)
            .chain(timers)
            .map(|e| &e.event)
    }

    /// Most events pending at once: the queue's memory follows in-flight work.
    pub fn pending_max(&self) -> usize {
        self.pending_max
    }
    /// Events popped so far (including stale ones the model then dropped).
    pub fn popped(&self) -> u64 {
        self.popped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_time_events_leave_in_fifo_order() {
        let mut s = Scheduler::new(SimTime(0));
        s.schedule(SimTime(5), 'c');
        s.schedule(SimTime(1), 'a');
        s.schedule(SimTime(5), 'd');
        s.schedule(SimTime(1), 'b');
        let order: Vec<char> = std::iter::from_fn(|| s.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, vec!['a', 'b', 'c', 'd']);
        assert_eq!(s.now(), SimTime(5));
        assert_eq!(s.popped(), 4);
    }

    proptest::proptest! {
        /// Pops come out sorted by (time, scheduling order), whatever the pushes and
        /// interleaved pops: checked against a sort of the same entries.
        #[test]
        fn pops_follow_time_then_fifo(ops in proptest::collection::vec((0u64..50, proptest::bool::weighted(0.3)), 1..400)) {
            let mut s = Scheduler::new(SimTime(0));
            let mut reference: Vec<(u64, u64)> = Vec::new();
            // Half the events go to one of three lanes when it is free, as arrivals do.
            let mut lanes: [Option<u64>; 3] = [None; 3];
            let check = |s: &mut Scheduler<u64>, reference: &mut Vec<(u64, u64)>, lanes: &mut [Option<u64>; 3]| {
                let Some((t, id)) = s.pop() else { return Ok(false) };
                for l in lanes.iter_mut() {
                    if *l == Some(id) {
                        *l = None;
                    }
                }
                let k = reference.iter().enumerate().min_by_key(|(_, r)| **r).map(|(j, _)| j).unwrap();
                proptest::prop_assert_eq!(reference.remove(k), (t.0, id));
                Ok(true)
            };
            for (i, (dt, pop)) in ops.iter().enumerate() {
                if *pop {
                    check(&mut s, &mut reference, &mut lanes)?;
                } else {
                    let mut t = s.now().0 + dt;
                    let lane = i % 3;
                    if i % 2 == 0 && lanes[lane].is_none() {
                        s.schedule_lane(lane, SimTime(t), i as u64);
                        lanes[lane] = Some(i as u64);
                    } else if i % 3 == 1 {
                        // Timers: a few fixed delays (more than the queues, so some share the
                        // heap), each delay's FIFO interleaved with the heap and lanes.
                        let delay = dt % (MAX_TIMER_QUEUES as u64 + 4);
                        t = s.now().0 + delay;
                        s.schedule_after(SimDuration(delay), i as u64);
                    } else {
                        s.schedule(SimTime(t), i as u64);
                    }
                    reference.push((t, i as u64));
                    proptest::prop_assert_eq!(s.pending(), reference.len());
                }
            }
            while check(&mut s, &mut reference, &mut lanes)? {}
            proptest::prop_assert!(reference.is_empty());
        }
    }

    proptest::proptest! {
        /// The radix heap alone, with keys spread over every digit (times up to 2^50 ns and
        /// the low half too): pops come out in key order, checked against a sorted reference.
        #[test]
        fn radix_heap_pops_in_key_order(ops in proptest::collection::vec((0u32..50, 0u64..1 << 20, proptest::bool::weighted(0.4)), 1..600)) {
            let mut h: RadixHeap<u32> = RadixHeap::with_buckets();
            let mut reference: Vec<u128> = Vec::new();
            let mut last = 0u128;
            let mut seq = 1u128;
            for (i, &(shift, low, pop)) in ops.iter().enumerate() {
                if pop {
                    let got = h.pop().map(|e| e.key);
                    reference.sort_unstable();
                    let want = (!reference.is_empty()).then(|| reference.remove(0));
                    proptest::prop_assert_eq!(got, want);
                    if let Some(k) = got {
                        last = k;
                    }
                } else {
                    // Above the last key taken: the same time with a higher seq, or later.
                    let time = (last >> 64) as u64 + if shift == 0 { 0 } else { low << (shift % 31) };
                    let key = (time as u128) << 64 | (seq + (last & u64::MAX as u128));
                    seq += 1;
                    h.push(Entry { key, event: i as u32 });
                    reference.push(key);
                }
                proptest::prop_assert_eq!(h.len(), reference.len());
                reference.sort_unstable();
                proptest::prop_assert_eq!(h.min_key(), reference.first().copied());
            }
        }
    }

    #[test]
    fn the_heap_hands_over_to_the_radix_heap_and_back_in_order() {
        let mut s = Scheduler::new(SimTime(0));
        let n = 4 * TO_RADIX as u64;
        for i in 0..n {
            s.schedule(SimTime((i * 7919) % 1000), i); // times repeat: FIFO decides ties
        }
        assert!(s.in_radix, "more than TO_RADIX events pending");
        let mut prev = (0, 0);
        let mut switched_back = false;
        for _ in 0..n {
            let (t, i) = s.pop().expect("pending");
            let key = (t.0, i);
            assert!(key > prev || prev == (0, 0), "{key:?} after {prev:?}");
            prev = key;
            switched_back |= !s.in_radix;
        }
        assert!(
            switched_back,
            "fewer than TO_BINARY pending: back to the binary heap"
        );
        assert_eq!(s.pop(), None);
    }

    #[test]
    fn timers_leave_in_time_then_scheduling_order_with_the_heap() {
        let mut s = Scheduler::new(SimTime(0));
        s.schedule_after(SimDuration(10), 'c'); // due 10
        s.schedule(SimTime(10), 'd'); // due 10, scheduled after 'c'
        s.schedule_after(SimDuration(5), 'a'); // due 5
        s.schedule(SimTime(7), 'b');
        assert_eq!(s.pop(), Some((SimTime(5), 'a')));
        s.schedule_after(SimDuration(5), 'e'); // due 10, after 'c' and 'd'
        let order: Vec<char> = std::iter::from_fn(|| s.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, vec!['b', 'c', 'd', 'e']);
        assert_eq!(s.pending(), 0);
        assert_eq!(s.pop_until(SimTime(100)), None);
    }

    #[test]
    fn a_reserved_event_takes_the_place_it_would_have_had() {
        let mut s = Scheduler::new(SimTime(0));
        s.schedule(SimTime(10), 'a');
        let r = s.reserve(SimTime(10)); // after 'a', before 'c'
        s.schedule(SimTime(10), 'c');
        let never = s.reserve(SimTime(3)); // never scheduled: leaves no trace
        s.schedule(SimTime(2), 'x');
        assert_eq!(r.time(), SimTime(10));
        assert_eq!(never.time(), SimTime(3));
        assert_eq!(s.pop(), Some((SimTime(2), 'x')));
        s.schedule_reserved(r, 'b');
        let order: Vec<char> = std::iter::from_fn(|| s.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, vec!['a', 'b', 'c']);
        assert_eq!(s.latest_reserved(), SimTime(10));
    }

    #[test]
    fn pending_events_lists_the_heap_lanes_and_timers() {
        let mut s = Scheduler::new(SimTime(0));
        s.schedule(SimTime(4), 'h');
        s.schedule_lane(1, SimTime(3), 'l');
        s.schedule_after(SimDuration(2), 't');
        let _ = s.reserve(SimTime(1)); // a reserved place is not an event
        let mut all: Vec<char> = s.pending_events().copied().collect();
        all.sort();
        assert_eq!(all, vec!['h', 'l', 't']);
        assert_eq!(s.pop(), Some((SimTime(2), 't')));
        let mut all: Vec<char> = s.pending_events().copied().collect();
        all.sort();
        assert_eq!(all, vec!['h', 'l']);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "after its place was passed")]
    fn a_reserved_place_already_passed_panics() {
        let mut s = Scheduler::new(SimTime(0));
        let r = s.reserve(SimTime(10));
        s.schedule(SimTime(10), 'a');
        s.pop(); // 'a' came after the reserved place
        s.schedule_reserved(r, 'b');
    }

    #[test]
    #[should_panic(expected = "in the past")]
    fn scheduling_in_the_past_panics() {
        let mut s = Scheduler::new(SimTime(0));
        s.schedule(SimTime(10), ());
        s.pop();
        s.schedule(SimTime(9), ());
    }
}
