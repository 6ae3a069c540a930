//! The table of requests waiting for an answer, with their deadlines.
//!
//! Pure bookkeeping. It enforces the "at most once" half of the engine's
//! invariant: an id leaves the table exactly once (resolved, expired, drained
//! on close or forgotten by `cancel`), and only the call that removed it may
//! report an outcome. The client supplies the other half by draining the
//! table when the connection closes.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

/// Pending requests by id, plus a deadline index kept exactly in step (no
/// lazy deletion: every entry knows its deadline, so removal is exact).
#[derive(Debug, Default)]
pub(crate) struct Pending {
    /// Id to deadline. A `BTreeMap` so that closing resolves in id order.
    entries: BTreeMap<u64, Option<Instant>>,
    /// `(deadline, id)` for every entry that has a deadline.
    deadlines: BTreeSet<(Instant, u64)>,
}

impl Pending {
    /// Number of pending requests.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Starts tracking `id`. Ids are never reused by the client.
    pub(crate) fn insert(&mut self, id: u64, deadline: Option<Instant>) {
        let previous = self.entries.insert(id, deadline);
        debug_assert!(previous.is_none(), "request id {id} reused");
        if let Some(at) = deadline {
            self.deadlines.insert((at, id));
        }
    }

    /// Stops tracking `id`; true if it was pending. The caller that gets
    /// `true` owns the request's one outcome.
    pub(crate) fn remove(&mut self, id: u64) -> bool {
        match self.entries.remove(&id) {
            Some(deadline) => {
                if let Some(at) = deadline {
                    self.deadlines.remove(&(at, id));
                }
                true
            }
            None => false,
        }
    }

    /// Replaces the deadline of a pending request; false if it is not pending.
    pub(crate) fn set_deadline(&mut self, id: u64, at: Instant) -> bool {
        let Some(deadline) = self.entries.get_mut(&id) else {
            return false;
        };
        if let Some(old) = deadline.replace(at) {
            self.deadlines.remove(&(old, id));
        }
        self.deadlines.insert((at, id));
        true
    }

    /// The earliest deadline, if any request has one.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.first().map(|&(at, _)| at)
    }

    /// Removes every request whose deadline is `<= now`, earliest first, and
    /// hands each id to `on_expired`.
    pub(crate) fn expire(&mut self, now: Instant, mut on_expired: impl FnMut(u64)) {
        while let Some(&(at, id)) = self.deadlines.first()
            && at <= now
        {
            self.deadlines.pop_first();
            self.entries.remove(&id);
            on_expired(id);
        }
    }

    /// Removes every request, in id order, and hands each id to `on_removed`.
    pub(crate) fn drain(&mut self, on_removed: impl FnMut(u64)) {
        self.deadlines.clear();
        std::mem::take(&mut self.entries)
            .into_keys()
            .for_each(on_removed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ids(f: impl FnOnce(&mut dyn FnMut(u64))) -> Vec<u64> {
        let mut out = Vec::new();
        f(&mut |id| out.push(id));
        out
    }

    #[test]
    fn remove_succeeds_once() {
        let mut p = Pending::default();
        p.insert(1, None);
        assert_eq!(p.len(), 1);
        assert!(p.remove(1));
        assert!(!p.remove(1));
        assert_eq!(p.len(), 0);
    }

    #[test]
    fn expire_takes_due_deadlines_in_order_and_only_once() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut p = Pending::default();
        p.insert(1, Some(t0 + s(3)));
        p.insert(2, Some(t0 + s(1)));
        p.insert(3, None);
        p.insert(4, Some(t0 + s(1)));
        assert_eq!(p.next_deadline(), Some(t0 + s(1)));
        assert_eq!(ids(|f| p.expire(t0, f)), Vec::<u64>::new());
        assert_eq!(ids(|f| p.expire(t0 + s(2), f)), [2, 4]);
        assert_eq!(ids(|f| p.expire(t0 + s(2), f)), Vec::<u64>::new());
        assert_eq!(p.next_deadline(), Some(t0 + s(3)));
        assert_eq!(ids(|f| p.expire(t0 + s(3), f)), [1]);
        assert_eq!(p.next_deadline(), None);
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn removing_an_entry_removes_its_deadline() {
        let t0 = Instant::now();
        let mut p = Pending::default();
        p.insert(1, Some(t0));
        assert!(p.remove(1));
        assert_eq!(p.next_deadline(), None);
        assert_eq!(ids(|f| p.expire(t0, f)), Vec::<u64>::new());
    }

    #[test]
    fn set_deadline_replaces_the_old_one() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut p = Pending::default();
        assert!(!p.set_deadline(9, t0));
        p.insert(1, Some(t0 + s(1)));
        p.insert(2, None);
        assert!(p.set_deadline(1, t0 + s(5)));
        assert!(p.set_deadline(2, t0 + s(4)));
        assert_eq!(p.next_deadline(), Some(t0 + s(4)));
        assert_eq!(ids(|f| p.expire(t0 + s(4), f)), [2]);
        assert_eq!(ids(|f| p.expire(t0 + s(9), f)), [1]);
    }

    #[test]
    fn drain_empties_everything_in_id_order() {
        let t0 = Instant::now();
        let mut p = Pending::default();
        for id in [5, 1, 3] {
            p.insert(id, Some(t0));
        }
        assert_eq!(ids(|f| p.drain(f)), [1, 3, 5]);
        assert_eq!(p.len(), 0);
        assert_eq!(p.next_deadline(), None);
    }
}
