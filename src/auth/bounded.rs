//! Keeping a map of per-client state from growing without bound.
//!
//! The session store and the login throttle both keep an entry per client,
//! and clients are whoever connects — including someone who logs in or fails
//! a login a million times. Each map therefore has a cap, and before a new
//! entry goes in, [`make_room`] first drops the entries that have gone stale
//! (an expired session, a throttle window long past) and, if the map is
//! still full, the one entry that matters least (the session least recently
//! used, the throttle record that is not a lockout and is oldest). Stale entries are found only
//! when the map is full, so the cost of the sweep is paid once per many
//! inserts, not on every one.
//!
//! Left out on purpose: a background thread sweeping on a timer, and an
//! index by age that would make eviction cheaper than a scan. At the caps
//! the kit uses (about 100,000 entries) a scan takes a few milliseconds.

use std::collections::HashMap;
use std::hash::Hash;

/// Makes room for one more entry in `map`, which should hold at most `cap`
/// entries: when it is full, removes every entry that `is_stale` says is
/// stale, then, if it is still full, the one that `rank` puts first (the
/// least recently used session, say). Returns how many entries it removed.
pub fn make_room<K, V, R>(
    map: &mut HashMap<K, V>,
    cap: usize,
    is_stale: impl Fn(&V) -> bool,
    rank: impl Fn(&V) -> R,
) -> usize
where
    K: Eq + Hash + Clone,
    R: Ord,
{
    if map.len() < cap {
        return 0;
    }
    let before = map.len();
    map.retain(|_, value| !is_stale(value));
    if map.len() >= cap {
        let oldest = map
            .iter()
            .min_by_key(|(_, value)| rank(value))
            .map(|(key, _)| key.clone());
        if let Some(key) = oldest {
            map.remove(&key);
        }
    }
    before - map.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// An entry of the cases below: name, seconds after the start when it
    /// was last active, and whether it is stale.
    type Entry = (&'static str, u64, bool);

    fn map_of(entries: &[Entry]) -> HashMap<&'static str, (Instant, bool)> {
        let start = Instant::now();
        entries
            .iter()
            .map(|&(name, secs, stale)| (name, (start + Duration::from_secs(secs), stale)))
            .collect()
    }

    #[test]
    fn room_is_made_only_when_full_and_stale_entries_go_first() {
        // (entries, cap, names expected to remain)
        let cases: &[(&[Entry], usize, &[&str])] = &[
            (&[("a", 1, true), ("b", 2, false)], 3, &["a", "b"]),
            (&[("a", 1, true), ("b", 2, false)], 2, &["b"]),
            (&[("a", 1, false), ("b", 2, false)], 2, &["b"]),
            (
                &[("a", 3, false), ("b", 2, false), ("c", 1, true)],
                3,
                &["a", "b"],
            ),
            (&[("a", 1, true), ("b", 2, true)], 2, &[]),
        ];
        for (entries, cap, expected) in cases {
            let mut map = map_of(entries);
            let removed = make_room(&mut map, *cap, |v| v.1, |v| v.0);
            let mut left: Vec<&str> = map.keys().copied().collect();
            left.sort_unstable();
            assert_eq!(
                &left, expected,
                "entries {entries:?} with cap {cap}: kept {left:?}, expected {expected:?}"
            );
            assert_eq!(
                removed,
                entries.len() - expected.len(),
                "entries {entries:?} with cap {cap}: wrong count of removed entries"
            );
        }
    }
}
