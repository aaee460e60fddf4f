//! Typed ids and the slab that holds calls, legs and jobs: dense storage with a free list, where
//! every slot carries a generation so an event that names a slot freed (and perhaps reused)
//! since it was scheduled is recognised as stale in one place, `Slab::get_live`.
//!
//! Knows nothing of telephony; depends on nothing.

use std::marker::PhantomData;

/// Made only in this module: an id can be made only by a slab (`Slab::insert`, and the id of a
/// slot it already has), so every id that exists indexes a slot of the slab that made it. The
/// slabs read their entries without a bounds check on that ground (see `Slab::new`).
#[derive(Clone, Copy)]
pub(super) struct Minted(());

mod sealed {
    /// Only this module's id types are ids: no other type can claim an index (`SlotId::index`)
    /// that no slab made.
    pub trait Sealed {}
}

/// An index into one slab, typed so a leg's index cannot be used as a call's. Sealed: the
/// three id types below are the only ones.
pub(super) trait SlotId: Copy + Eq + sealed::Sealed {
    fn from_index(index: u32, minted: Minted) -> Self;
    fn index(self) -> usize;
}

macro_rules! slot_ids {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(super) struct $name(u32);
        impl sealed::Sealed for $name {}
        impl SlotId for $name {
            #[inline]
            fn from_index(index: u32, _: Minted) -> Self {
                $name(index)
            }
            #[inline]
            fn index(self) -> usize {
                self.0 as usize
            }
        }
        impl $name {
            /// Slot 0, the placeholder every slab starts with: never live, so nothing is ever
            /// found there (fills unused entries; a `get` of it is a bug, caught in debug builds).
            #[allow(dead_code)] // not every id type has unused entries to fill
            pub(super) const NONE: $name = $name(0);
        }
        impl Ref<$name> {
            /// A reference to the placeholder slot: always stale (an odd generation, which the
            /// placeholder, never inserted, never has).
            #[allow(dead_code)] // only where an entry refers to another (a job to its call)
            pub(super) const NONE: Ref<$name> = Ref { id: $name::NONE, gen: 1 };
        }
    )*};
}

slot_ids! {
    /// A call (or API request) in `Model::calls`.
    CallId;
    /// A leg of a call in `Model::legs`.
    LegId;
    /// A platform job in `Model::jobs`.
    JobId;
}

/// The generation of something that is replaced rather than freed (a source's pending arrival,
/// a carrier's wake, the backup policy, a call's platform attempt, a pod's life): an event
/// carries the generation it was scheduled in, and is stale once the owner has moved on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Gen(u32);

impl Gen {
    pub(super) const FIRST: Gen = Gen(0);

    /// Moves on: events carrying the old generation become stale.
    #[inline]
    pub(super) fn bump(&mut self) {
        self.0 = self.0.wrapping_add(1);
    }
}

/// What an event holds of a slab entry: its slot and the slot's generation when the event was
/// scheduled. Stale once the entry is freed, even if the slot is reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Ref<I> {
    pub(super) id: I,
    gen: u32,
}

/// Slots are stored as two parallel arrays of equal length: `gens[i]` is slot i's generation, odd while the
/// slot holds a live entry and even while it is free, rising at every insert and remove (so one
/// comparison with a `Ref`'s odd generation checks both that the entry is live and that it is
/// the one the `Ref` was made for); `values[i]` is its entry (a free slot keeps its last one).
/// The generations are dense (4 bytes a slot), so the stale check of an event whose entry left
/// long ago (a client timeout of a request served seconds before) reads a cache line shared
/// with 15 other slots instead of the whole old entry.
pub(super) struct Slab<I, T> {
    gens: Vec<u32>,
    values: Vec<T>,
    free: Vec<u32>,
    in_use: usize,
    _id: PhantomData<I>,
}

impl<I: SlotId, T> Slab<I, T> {
    /// A slab whose slot 0 holds `placeholder`, never live (the slot of `NONE` ids).
    ///
    /// Entries are read without a bounds check (`get`, `get_mut`, `get_live`, `is_live`,
    /// `ref_of`: the hot path of every event), which is sound because every id indexes a slot
    /// that exists: ids are made only by slabs (`Minted`), each below the length of the slab
    /// that made it, a slab never shrinks, and the `NONE` ids index the placeholder, which
    /// every slab has from the start. Debug builds check the index on every access anyway.
    ///
    /// # Safety
    ///
    /// The caller must use the ids of type `I` with this slab only: with another slab of the
    /// same id type, an id made by the longer one could index past the shorter one. `Model`
    /// has one slab per id type; a test that makes several must not mix their ids.
    pub(super) unsafe fn new(placeholder: T) -> Self {
        Slab {
            gens: vec![0],
            values: vec![placeholder],
            free: Vec::new(),
            in_use: 0,
            _id: PhantomData,
        }
    }

    /// The generation of slot `i`, unchecked (see `new`).
    #[inline]
    fn gen_at(&self, i: usize) -> u32 {
        debug_assert!(i < self.gens.len(), "slot {i} out of range");
        // SAFETY: `i` is an id's index, below the length of both arrays (see `new`).
        unsafe { *self.gens.get_unchecked(i) }
    }

    /// The entry in slot `i`, unchecked (see `new`).
    #[inline]
    fn at(&self, i: usize) -> &T {
        debug_assert!(i < self.values.len(), "slot {i} out of range");
        // SAFETY: as `gen_at`.
        unsafe { self.values.get_unchecked(i) }
    }

    #[inline]
    fn at_mut(&mut self, i: usize) -> &mut T {
        debug_assert!(i < self.values.len(), "slot {i} out of range");
        // SAFETY: as `gen_at`.
        unsafe { self.values.get_unchecked_mut(i) }
    }

    /// Stores `value` in a free slot (the most recently freed first) or a new one.
    #[inline]
    pub(super) fn insert(&mut self, value: T) -> Ref<I> {
        self.in_use += 1;
        let (idx, gen) = match self.free.pop() {
            Some(idx) => {
                let gen = &mut self.gens[idx as usize];
                assert!(*gen & 1 == 0, "slot {idx} on the free list is live");
                *gen = gen.wrapping_add(1);
                let gen = *gen;
                self.values[idx as usize] = value;
                (idx, gen)
            }
            None => {
                let idx = u32::try_from(self.gens.len()).expect("fewer than 2^32 slots");
                self.gens.push(1);
                self.values.push(value);
                (idx, 1)
            }
        };
        Ref {
            id: I::from_index(idx, Minted(())),
            gen,
        }
    }

    /// The entry `r` was made for, or None if it has been removed since (a stale reference).
    #[inline]
    pub(super) fn get_live(&self, r: Ref<I>) -> Option<&T> {
        let i = r.id.index();
        (self.gen_at(i) == r.gen).then(|| self.at(i))
    }

    /// A reference to the live entry in `id`, for an event to carry.
    #[inline]
    pub(super) fn ref_of(&self, id: I) -> Ref<I> {
        let gen = self.gen_at(id.index());
        debug_assert!(gen & 1 == 1, "ref_of a free slot");
        Ref { id, gen }
    }

    #[inline]
    pub(super) fn is_live(&self, id: I) -> bool {
        self.gen_at(id.index()) & 1 == 1
    }

    /// The entry in `id`, which the caller knows to be live (it holds the id of an entry it
    /// owns: a leg's call, a call's current leg). Checked in debug builds only: this is the
    /// hot path, and every id here came from a live `Ref` or a live owner.
    #[inline]
    pub(super) fn get(&self, id: I) -> &T {
        debug_assert!(self.is_live(id), "get of a free slot");
        self.at(id.index())
    }

    /// As `get`, mutably.
    #[inline]
    pub(super) fn get_mut(&mut self, id: I) -> &mut T {
        debug_assert!(self.is_live(id), "get_mut of a free slot");
        self.at_mut(id.index())
    }

    /// Frees the entry in `id`: every `Ref` to it becomes stale. Freeing a free slot panics.
    #[inline]
    pub(super) fn remove(&mut self, id: I) {
        let idx = id.index();
        let gen = &mut self.gens[idx];
        assert!(*gen & 1 == 1, "double free of slot {idx}");
        *gen = gen.wrapping_add(1);
        self.free.push(idx as u32);
        self.in_use = self
            .in_use
            .checked_sub(1)
            .expect("slab: more frees than inserts");
    }

    /// Entries in use now.
    pub(super) fn in_use(&self) -> usize {
        self.in_use
    }

    /// The live entries, in slot order (end-of-run accounting; not a simulation path).
    pub(super) fn iter_live(&self) -> impl Iterator<Item = (I, &T)> + '_ {
        self.gens
            .iter()
            .zip(&self.values)
            .enumerate()
            .filter(|(_, (g, _))| **g & 1 == 1)
            .map(|(i, (_, v))| (I::from_index(i as u32, Minted(())), v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ref_goes_stale_when_its_slot_is_freed_and_reused() {
        // SAFETY: the test's only slab of this id type.
        let mut s: Slab<CallId, u8> = unsafe { Slab::new(0) };
        let a = s.insert(1);
        assert_eq!(s.get_live(a), Some(&1));
        s.remove(a.id);
        assert_eq!(s.get_live(a), None);
        let b = s.insert(2);
        assert_eq!(b.id, a.id, "the freed slot is reused");
        assert_eq!(s.get_live(a), None, "the old reference stays stale");
        assert_eq!(s.get_live(b), Some(&2));
        assert_eq!(s.in_use(), 1);
    }

    /// Slot 0 is the placeholder: never handed out, never live, its references always stale;
    /// the live entries and their count leave it out.
    #[test]
    fn the_placeholder_slot_is_never_live() {
        // SAFETY: the test's only slab of this id type.
        let mut s: Slab<JobId, u8> = unsafe { Slab::new(9) };
        assert!(!s.is_live(JobId::NONE));
        assert_eq!(s.get_live(Ref::<JobId>::NONE), None);
        let ids: Vec<JobId> = (0..3).map(|i| s.insert(i).id).collect();
        assert!(ids.iter().all(|&id| id != JobId::NONE));
        s.remove(ids[1]);
        assert_eq!(
            s.insert(7).id,
            ids[1],
            "a freed slot is reused, never slot 0"
        );
        assert_eq!(s.in_use(), 3);
        assert_eq!(
            s.iter_live().map(|(_, v)| *v).collect::<Vec<_>>(),
            vec![0, 7, 2]
        );
        assert_eq!(s.get_live(Ref::<JobId>::NONE), None);
    }

    /// Debug builds (the test profile) check every unchecked access: reading the placeholder
    /// is a bug and panics there.
    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "get of a free slot")]
    fn reading_the_placeholder_panics_in_debug_builds() {
        // SAFETY: the test's only slab of this id type.
        let s: Slab<LegId, u8> = unsafe { Slab::new(0) };
        let _ = s.get(LegId::NONE);
    }

    #[test]
    #[should_panic(expected = "double free")]
    fn freeing_twice_panics() {
        // SAFETY: the test's only slab of this id type.
        let mut s: Slab<LegId, u8> = unsafe { Slab::new(0) };
        let a = s.insert(1);
        s.remove(a.id);
        s.remove(a.id);
    }
}
