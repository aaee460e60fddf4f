//! The discrete-event core: a priority queue of events ordered by (time, sequence), so events at
//! the same instant leave in the order they were scheduled (FIFO). Knows nothing of telephony.
//!
//! Cancellation is lazy: the model embeds a generation in its event payloads and drops events
//! whose generation is stale when they are popped. Scheduling in the past is a bug and panics.

use crate::time::SimTime;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

struct Entry<E> {
    time: SimTime,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.time == other.time && self.seq == other.seq
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    // Reversed: BinaryHeap is a max-heap and we want the earliest (time, seq) first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

/// The event queue and the simulation clock.
pub struct Scheduler<E> {
    heap: BinaryHeap<Entry<E>>,
    now: SimTime,
    next_seq: u64,
    popped: u64,
    pending_max: usize,
}

impl<E> Scheduler<E> {
    pub fn new(start: SimTime) -> Self {
        Scheduler {
            heap: BinaryHeap::with_capacity(1024),
            now: start,
            next_seq: 0,
            popped: 0,
            pending_max: 0,
        }
    }

    /// The current simulated time: the time of the event being handled.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Schedules `event` at `time`, which must not be in the past.
    pub fn schedule(&mut self, time: SimTime, event: E) {
        assert!(
            time >= self.now,
            "event scheduled in the past: {} < now {}",
            time,
            self.now
        );
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Entry { time, seq, event });
        if self.heap.len() > self.pending_max {
            self.pending_max = self.heap.len();
        }
    }

    /// Removes and returns the earliest event, advancing the clock to its time.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        let e = self.heap.pop()?;
        debug_assert!(e.time >= self.now);
        self.now = e.time;
        self.popped += 1;
        Some((e.time, e.event))
    }

    /// Time of the earliest pending event.
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|e| e.time)
    }

    pub fn pending(&self) -> usize {
        self.heap.len()
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

    #[test]
    #[should_panic(expected = "in the past")]
    fn scheduling_in_the_past_panics() {
        let mut s = Scheduler::new(SimTime(0));
        s.schedule(SimTime(10), ());
        s.pop();
        s.schedule(SimTime(9), ());
    }
}
