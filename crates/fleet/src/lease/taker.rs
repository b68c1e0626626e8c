//! [`LeaseTaker`]: the sans-IO decisions of the lease protocol, after KCL's
//! `DynamoDBLeaseTaker`. It owns two things: which leases have expired, inferred only from
//! how their counters move between scans, and the plan of what this worker should take.
//!
//! It does no I/O and reads no clock: the coordinator passes each scan and the [`Instant`]
//! it was made. Wall clocks of different machines are never compared: a lease is expired
//! when *this* worker has seen its counter stand still for the failover time, whatever the
//! owner's clock says. It does not write anything either: a [`Take`] is a proposal that the
//! table's conditional write may still refuse (another worker was faster).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use super::{Lease, WORKER_KEY_PREFIX};

/// Why a lease is in a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TakeKind {
    /// Nobody holds it: available at once.
    Unowned,
    /// Its owner stopped renewing it: its counter stood still for the failover time.
    Expired,
    /// Held by a live worker that has more than its share.
    Steal {
        /// That worker.
        from: String,
    },
}

/// A lease this worker should try to take, as it was scanned (the conditional write
/// expects its counter and owner).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Take {
    /// The lease as scanned.
    pub lease: Lease,
    /// Why.
    pub kind: TakeKind,
}

/// When this taker first saw a lease's current counter.
#[derive(Debug, Clone, Copy)]
struct Seen {
    counter: u64,
    since: Instant,
}

/// Decides, from successive scans of the lease table, which leases this worker takes.
///
/// Call order: after each scan, [`observe`](Self::observe) it, then [`plan`](Self::plan)
/// with the same scan (or the part of it that is wanted), and try each [`Take`] with a
/// conditional write. One instant for both is fine; to be exact when a scan takes long,
/// observe with the instant it ended and plan with the one it began. Scans should be at
/// least the failover time apart (KCL: twice), or nothing owned ever looks expired.
///
/// ```
/// use std::time::{Duration, Instant};
/// use kvs_fleet::lease::{Lease, LeaseTaker, TakeKind};
///
/// let mut taker = LeaseTaker::new("me", Duration::from_secs(10));
/// let mut dead = Lease::new("door");
/// dead.owner = Some("crashed".into());
/// dead.counter = 7;
/// let scan = vec![dead, Lease::new("garage")];
///
/// let t0 = Instant::now();
/// taker.observe(&scan, t0);
/// // Only the unowned lease is available: the other one has just been seen.
/// let plan = taker.plan(&scan, t0);
/// assert_eq!(plan.len(), 1);
/// assert_eq!(plan[0].kind, TakeKind::Unowned);
///
/// // 20 s later door's counter has not moved: its owner is gone.
/// let t1 = t0 + Duration::from_secs(20);
/// taker.observe(&scan, t1);
/// assert!(taker.plan(&scan, t1).iter().any(|t| t.lease.key == "door" && t.kind == TakeKind::Expired));
/// ```
#[derive(Debug, Clone)]
pub struct LeaseTaker {
    worker_id: String,
    failover: Duration,
    seen: HashMap<String, Seen>,
}

impl LeaseTaker {
    /// A taker for worker `worker_id`; a lease whose counter stands still for longer than
    /// `failover` is expired.
    pub fn new(worker_id: impl Into<String>, failover: Duration) -> Self {
        Self { worker_id: worker_id.into(), failover, seen: HashMap::new() }
    }

    /// This worker's id.
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// Remembers, for each lease of `scan` (finished at `now`), when its current counter
    /// was first seen. Leases absent from the scan are forgotten (they were deleted).
    pub fn observe(&mut self, scan: &[Lease], now: Instant) {
        let mut seen = HashMap::with_capacity(scan.len());
        for lease in scan {
            let since = match self.seen.get(&lease.key) {
                Some(old) if old.counter == lease.counter => old.since,
                // A new lease, or one whose counter moved: it was alive at some point
                // since the last scan, and `now` is the latest that point can be (the
                // conservative end: expiry is never inferred early).
                _ => now,
            };
            seen.insert(lease.key.clone(), Seen { counter: lease.counter, since });
        }
        self.seen = seen;
    }

    /// Whether `lease` is owned and its counter has stood still for longer than the
    /// failover time, as of `now`. A lease never observed with this counter is not expired.
    pub fn is_expired(&self, lease: &Lease, now: Instant) -> bool {
        lease.owner.is_some()
            && self.seen.get(&lease.key).is_some_and(|seen| {
                seen.counter == lease.counter && now.saturating_duration_since(seen.since) > self.failover
            })
    }

    /// What this worker should try to take from `scan`, as of `now`.
    ///
    /// The workers are the owners of unexpired leases and of unexpired presence items
    /// (keys `#worker:<id>`, never taken) plus this one; each should hold
    /// `target = ceil(leases / workers)`. Below target, this worker takes available leases
    /// (unowned first, then expired), in random order so that workers starting together do
    /// not all race for the same items. Only when none is available does it steal, and then
    /// exactly one lease, from the most loaded worker, provided that worker holds more than
    /// the target and more than one more than this worker: a fleet within one of balance
    /// stays put, and moving a lease never just moves the imbalance.
    pub fn plan(&self, scan: &[Lease], now: Instant) -> Vec<Take> {
        let mut held: HashMap<&str, Vec<&Lease>> = HashMap::new();
        held.insert(self.worker_id.as_str(), Vec::new());
        let mut unowned = Vec::new();
        let mut expired = Vec::new();
        // A worker whose leases stand still is gone, even if its presence item has not
        // been seen standing for long enough yet: both stop together when it dies.
        let gone: HashSet<&str> = scan
            .iter()
            .filter(|l| !l.key.starts_with(WORKER_KEY_PREFIX) && self.is_expired(l, now))
            .filter_map(|l| l.owner.as_deref())
            .collect();
        let mut leases = 0usize;
        for lease in scan {
            if lease.key.starts_with(WORKER_KEY_PREFIX) {
                // A worker present (its item's counter moves), holding leases or not.
                if let Some(owner) = &lease.owner
                    && !self.is_expired(lease, now)
                    && !gone.contains(owner.as_str())
                {
                    held.entry(owner.as_str()).or_default();
                }
                continue;
            }
            leases += 1;
            match &lease.owner {
                None => unowned.push(lease),
                Some(_) if self.is_expired(lease, now) => expired.push(lease),
                Some(owner) => held.entry(owner.as_str()).or_default().push(lease),
            }
        }
        if leases == 0 {
            return Vec::new();
        }
        let target = leases.div_ceil(held.len());
        let mine = held.get(self.worker_id.as_str()).map_or(0, Vec::len);
        if mine >= target {
            return Vec::new();
        }

        fastrand::shuffle(&mut unowned);
        fastrand::shuffle(&mut expired);
        let available = unowned
            .into_iter()
            .map(|l| (l, TakeKind::Unowned))
            .chain(expired.into_iter().map(|l| (l, TakeKind::Expired)));
        let takes: Vec<Take> =
            available.take(target - mine).map(|(lease, kind)| Take { lease: lease.clone(), kind }).collect();
        if !takes.is_empty() {
            return takes;
        }

        // Nothing free: steal one. Among equally loaded workers pick at random, so that
        // several new workers do not all drain the same one.
        let most =
            held.iter().filter(|(w, _)| **w != self.worker_id).map(|(_, l)| l.len()).max().unwrap_or(0);
        if most <= target || most <= mine + 1 {
            return Vec::new();
        }
        let victims: Vec<(&str, &Vec<&Lease>)> = held
            .iter()
            .filter(|(w, l)| **w != self.worker_id && l.len() == most)
            .map(|(w, l)| (*w, l))
            .collect();
        let Some((from, leases)) = fastrand::choice(victims) else {
            return Vec::new();
        };
        let Some(lease) = fastrand::choice(leases) else {
            return Vec::new();
        };
        vec![Take { lease: (*lease).clone(), kind: TakeKind::Steal { from: from.to_owned() } }]
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    const F: Duration = Duration::from_secs(10);

    fn lease(key: &str, owner: Option<&str>, counter: u64) -> Lease {
        Lease { owner: owner.map(Into::into), counter, ..Lease::new(key) }
    }

    /// `n` leases named `{prefix}{i}` held by `owner`.
    fn leases(prefix: &str, owner: Option<&str>, n: usize) -> Vec<Lease> {
        (0..n).map(|i| lease(&format!("{prefix}{i}"), owner, 1)).collect()
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn expiry_needs_a_counter_that_stood_still_for_the_failover_time() {
        // (name, second observation: after, counter then, expired when asked at that time)
        let cases: &[(&str, Duration, u64, bool)] = &[
            ("just seen", ms(0), 5, false),
            ("before failover", F - ms(1), 5, false),
            ("at failover exactly", F, 5, false),
            ("just after failover", F + ms(1), 5, true),
            ("long after", 10 * F, 5, true),
            ("counter moved", F + ms(1), 6, false),
            ("counter moved long after", 10 * F, 6, false),
        ];
        for &(name, after, counter, expired) in cases {
            let t0 = Instant::now();
            let mut taker = LeaseTaker::new("me", F);
            taker.observe(&[lease("a", Some("other"), 5)], t0);
            let now = t0 + after;
            let scanned = [lease("a", Some("other"), counter)];
            taker.observe(&scanned, now);
            assert_eq!(taker.is_expired(&scanned[0], now), expired, "{name}");
        }
    }

    /// Three workers started together see each other's presence before any lease is
    /// held: each takes its share of 30, not all of them.
    #[test]
    fn present_workers_count_before_they_hold_anything() {
        let t0 = Instant::now();
        let mut taker = LeaseTaker::new("me", F);
        let mut scan = leases("s", None, 30);
        for w in ["me", "w2", "w3"] {
            scan.push(lease(&format!("{WORKER_KEY_PREFIX}{w}"), Some(w), 1));
        }
        taker.observe(&scan, t0);
        let plan = taker.plan(&scan, t0);
        assert_eq!(plan.len(), 10);
        assert!(plan.iter().all(|t| !t.lease.key.starts_with(WORKER_KEY_PREFIX)));
        // A presence item that stands still is a worker gone: the share grows again.
        for l in scan.iter_mut().filter(|l| l.key.ends_with("w2") || l.key.ends_with("me")) {
            l.counter += 1;
        }
        let later = t0 + 2 * F;
        taker.observe(&scan, later);
        assert_eq!(taker.plan(&scan, later).len(), 15);
    }

    /// A worker that died holding leases is not counted, though its presence item was
    /// first seen too recently to look expired: its leases are shared at once.
    #[test]
    fn a_dead_worker_with_leases_does_not_count_by_its_presence() {
        let t0 = Instant::now();
        let mut taker = LeaseTaker::new("me", F);
        let mut scan = leases("dead-", Some("dead"), 10);
        scan.extend(leases("mine-", Some("me"), 10));
        scan.push(lease(&format!("{WORKER_KEY_PREFIX}dead"), Some("dead"), 5));
        taker.observe(&scan, t0);
        // Mine move on; the dead worker's leases stand still; its presence item is new to
        // this taker (say it started just now).
        for l in scan.iter_mut().filter(|l| l.key.starts_with("mine-")) {
            l.counter += 1;
        }
        let later = t0 + 2 * F;
        // The presence item is out of one scan (forgotten), then back with a new counter.
        taker.observe(&scan[..20], later);
        scan[20] = lease(&format!("{WORKER_KEY_PREFIX}dead"), Some("dead"), 6);
        taker.observe(&scan, later);
        let plan = taker.plan(&scan, later);
        assert_eq!(plan.len(), 10, "all of the dead worker's leases: {plan:?}");
        assert!(plan.iter().all(|t| t.kind == TakeKind::Expired));
    }

    #[test]
    fn a_counter_that_keeps_moving_never_expires() {
        let t0 = Instant::now();
        let mut taker = LeaseTaker::new("me", F);
        for round in 0..20u32 {
            // Scans 2 x failover apart, one renewal in between each time.
            let now = t0 + 2 * F * round;
            let scan = [lease("a", Some("other"), u64::from(round))];
            taker.observe(&scan, now);
            assert!(!taker.is_expired(&scan[0], now), "round {round}");
            assert!(taker.plan(&scan, now).is_empty(), "round {round}");
        }
    }

    #[test]
    fn expiry_is_measured_from_when_the_counter_last_moved() {
        let t0 = Instant::now();
        let mut taker = LeaseTaker::new("me", F);
        taker.observe(&[lease("a", Some("other"), 1)], t0);
        // It moved at t0 + F/2; F after t0 it is not expired, F after the move it is.
        taker.observe(&[lease("a", Some("other"), 2)], t0 + F / 2);
        let scan = [lease("a", Some("other"), 2)];
        taker.observe(&scan, t0 + F + ms(1));
        assert!(!taker.is_expired(&scan[0], t0 + F + ms(1)));
        assert!(taker.is_expired(&scan[0], t0 + F / 2 + F + ms(1)));
    }

    #[test]
    fn a_lease_seen_for_the_first_time_is_not_expired_and_unowned_is_available_at_once() {
        let t0 = Instant::now();
        let taker = LeaseTaker::new("me", F);
        let scan = [lease("owned", Some("other"), 3), lease("free", None, 3)];
        // Not even observed: nothing owned can be expired.
        assert!(!taker.is_expired(&scan[0], t0 + 100 * F));
        let plan = taker.plan(&scan, t0);
        assert_eq!(plan, vec![Take { lease: scan[1].clone(), kind: TakeKind::Unowned }]);
    }

    #[test]
    fn forgotten_leases_start_over() {
        let t0 = Instant::now();
        let mut taker = LeaseTaker::new("me", F);
        taker.observe(&[lease("a", Some("other"), 1)], t0);
        taker.observe(&[], t0 + F);
        // Deleted and created again with the same counter: seen anew.
        let scan = [lease("a", Some("other"), 1)];
        taker.observe(&scan, t0 + 2 * F);
        assert!(!taker.is_expired(&scan[0], t0 + 2 * F + ms(1)));
    }

    /// What one plan does, in counts.
    #[derive(Debug, PartialEq, Eq)]
    struct Counts {
        unowned: usize,
        expired: usize,
        steals: usize,
    }

    fn counts(plan: &[Take]) -> Counts {
        Counts {
            unowned: plan.iter().filter(|t| t.kind == TakeKind::Unowned).count(),
            expired: plan.iter().filter(|t| t.kind == TakeKind::Expired).count(),
            steals: plan.iter().filter(|t| matches!(t.kind, TakeKind::Steal { .. })).count(),
        }
    }

    /// A table-driven plan case: how many leases each worker holds (live), how many are
    /// unowned, how many belong to a dead worker, and what "me" should take.
    macro_rules! plan_case {
        ($name:literal, held: [$($w:literal => $n:expr),*], unowned: $u:expr, dead: $d:expr,
         expect: ($eu:expr, $ee:expr, $es:expr)) => {{
            let t0 = Instant::now();
            let mut scan = Vec::new();
            $(scan.extend(leases(concat!($w, "-"), Some($w), $n));)*
            scan.extend(leases("free-", None, $u));
            scan.extend(leases("dead-", Some("dead"), $d));
            let mut taker = LeaseTaker::new("me", F);
            taker.observe(&scan, t0);
            // The live workers renewed in between; the dead one did not.
            for l in scan.iter_mut().filter(|l| l.owner.as_deref() != Some("dead")) {
                l.counter += 1;
            }
            let now = t0 + 2 * F;
            taker.observe(&scan, now);
            let plan = taker.plan(&scan, now);
            assert_eq!(counts(&plan), Counts { unowned: $eu, expired: $ee, steals: $es }, $name);
            let keys: std::collections::HashSet<_> = plan.iter().map(|t| &t.lease.key).collect();
            assert_eq!(keys.len(), plan.len(), "{}: a lease planned twice", $name);
            assert!(plan.iter().all(|t| t.lease.owner.as_deref() != Some("me") || t.kind == TakeKind::Expired), $name);
        }};
    }

    #[test]
    fn plans() {
        plan_case!("empty table", held: [], unowned: 0, dead: 0, expect: (0, 0, 0));
        plan_case!("alone, all free", held: [], unowned: 30, dead: 0, expect: (30, 0, 0));
        plan_case!("third of 30 joins free leases", held: ["a" => 10, "b" => 10], unowned: 10, dead: 0,
            expect: (10, 0, 0));
        plan_case!("fair share of 30 with 3 workers", held: ["a" => 10, "b" => 10, "me" => 5], unowned: 5, dead: 0,
            expect: (5, 0, 0));
        plan_case!("at target takes nothing", held: ["a" => 5, "b" => 5, "me" => 10], unowned: 10, dead: 0,
            expect: (0, 0, 0));
        // 30 leases, target 10: the 4 wanted are the 4 unowned ones, not the expired ones.
        plan_case!("unowned before expired", held: ["a" => 8, "b" => 8, "me" => 6], unowned: 4, dead: 4,
            expect: (4, 0, 0));
        plan_case!("then expired", held: ["a" => 8, "b" => 8, "me" => 4], unowned: 4, dead: 6,
            expect: (4, 2, 0));
        // Dead workers are not workers: 30 leases, a, b and me -> 10 each.
        plan_case!("takes over a dead worker's share", held: ["a" => 10, "b" => 10], unowned: 0, dead: 10,
            expect: (0, 10, 0));
        plan_case!("steals exactly one", held: ["a" => 20, "b" => 10], unowned: 0, dead: 0,
            expect: (0, 0, 1));
        plan_case!("no steal while anything is free", held: ["a" => 20, "b" => 9], unowned: 1, dead: 0,
            expect: (1, 0, 0));
        plan_case!("no steal within one of balance", held: ["a" => 11, "b" => 10, "me" => 10], unowned: 0,
            dead: 0, expect: (0, 0, 0));
        // 7 leases, target 4: a holds the target, not more.
        plan_case!("no steal from a worker at target", held: ["a" => 4, "me" => 3], unowned: 0, dead: 0,
            expect: (0, 0, 0));
        // 9 leases, target 5: moving one would only swap 5/4 for 4/5.
        plan_case!("no steal that swaps the imbalance", held: ["a" => 5, "me" => 4], unowned: 0, dead: 0,
            expect: (0, 0, 0));
        plan_case!("steal from one above target and two above me", held: ["a" => 5, "me" => 3], unowned: 0,
            dead: 0, expect: (0, 0, 1));
    }

    #[test]
    fn steals_from_the_most_loaded_worker() {
        let t0 = Instant::now();
        let mut scan = leases("a-", Some("a"), 12);
        scan.extend(leases("b-", Some("b"), 15));
        scan.extend(leases("c-", Some("c"), 3));
        let mut taker = LeaseTaker::new("me", F);
        taker.observe(&scan, t0);
        for _ in 0..20 {
            let plan = taker.plan(&scan, t0);
            assert_eq!(plan.len(), 1);
            assert_eq!(plan[0].kind, TakeKind::Steal { from: "b".into() });
            assert_eq!(plan[0].lease.owner.as_deref(), Some("b"));
        }
    }

    #[test]
    fn takes_are_spread_at_random() {
        // Two workers starting together on 100 free leases, each wanting 100: their first
        // picks should rarely collide.
        let scan = leases("free-", None, 100);
        let t0 = Instant::now();
        let firsts: std::collections::HashSet<String> =
            (0..20).map(|_| LeaseTaker::new("me", F).plan(&scan, t0)[0].lease.key.clone()).collect();
        assert!(firsts.len() > 5, "{firsts:?}");
    }

    /// An in-memory lease table and workers that scan it in turn, 2 x failover apart, like
    /// the coordinator. Takes are conditional on counter and owner, as in DynamoDB.
    struct Sim {
        leases: BTreeMap<String, Lease>,
        workers: Vec<(LeaseTaker, bool)>,
        now: Instant,
        /// Owner changes per lease.
        moves: BTreeMap<String, Vec<(String, TakeKind)>>,
    }

    impl Sim {
        fn new(leases: Vec<Lease>, workers: &[&str]) -> Self {
            Self {
                leases: leases.into_iter().map(|l| (l.key.clone(), l)).collect(),
                workers: workers.iter().map(|w| (LeaseTaker::new(*w, F), true)).collect(),
                now: Instant::now(),
                moves: BTreeMap::new(),
            }
        }

        fn join(&mut self, worker: &str) {
            self.workers.push((LeaseTaker::new(worker, F), true));
        }

        fn kill(&mut self, worker: &str) {
            for (t, alive) in &mut self.workers {
                if t.worker_id() == worker {
                    *alive = false;
                }
            }
        }

        fn round(&mut self) {
            // Live workers renew (several times per round in reality; once is enough).
            for (taker, alive) in &self.workers {
                for lease in self.leases.values_mut() {
                    if *alive && lease.owner.as_deref() == Some(taker.worker_id()) {
                        lease.counter += 1;
                    }
                }
            }
            for i in 0..self.workers.len() {
                let (taker, alive) = &mut self.workers[i];
                if !*alive {
                    continue;
                }
                let scan: Vec<Lease> = self.leases.values().cloned().collect();
                taker.observe(&scan, self.now);
                for take in taker.plan(&scan, self.now) {
                    let stored = self.leases.get_mut(&take.lease.key).expect("planned from the scan");
                    if stored.counter == take.lease.counter && stored.owner == take.lease.owner {
                        stored.owner = Some(taker.worker_id().to_owned());
                        stored.counter += 1;
                        self.moves
                            .entry(take.lease.key.clone())
                            .or_default()
                            .push((taker.worker_id().to_owned(), take.kind));
                    }
                }
            }
            self.now += 2 * F;
        }

        fn held(&self) -> BTreeMap<String, usize> {
            let mut held = BTreeMap::new();
            for lease in self.leases.values() {
                *held.entry(lease.owner.clone().unwrap_or_default()).or_default() += 1;
            }
            held
        }
    }

    fn counts_of(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
        pairs.iter().map(|(w, n)| ((*w).to_owned(), *n)).collect()
    }

    #[test]
    fn a_new_worker_joining_two_converges_to_ten_each_without_ping_pong() {
        let mut initial = leases("a-", Some("a"), 15);
        initial.extend(leases("b-", Some("b"), 15));
        let mut sim = Sim::new(initial, &["a", "b"]);
        sim.round();
        sim.join("c");
        let mut rounds = 0;
        while sim.held() != counts_of(&[("a", 10), ("b", 10), ("c", 10)]) {
            sim.round();
            rounds += 1;
            assert!(rounds <= 10, "not converged after {rounds} rounds: {:?}", sim.held());
        }
        // One steal per round: ten rounds at most, and never more than the ten needed.
        assert_eq!(sim.moves.len(), 10);
        for (key, moves) in &sim.moves {
            assert_eq!(moves.len(), 1, "{key} moved more than once: {moves:?}");
            assert_eq!(moves[0].0, "c");
            assert!(matches!(moves[0].1, TakeKind::Steal { .. }));
        }
        // Balanced: it stays put.
        for _ in 0..10 {
            sim.round();
        }
        assert_eq!(sim.moves.len(), 10);
        assert_eq!(sim.held(), counts_of(&[("a", 10), ("b", 10), ("c", 10)]));
    }

    #[test]
    fn uneven_fleet_settles_within_one() {
        // All start together: the first to scan takes everything, the others steal one per
        // round each.
        let mut sim = Sim::new(leases("s", None, 31), &["a", "b", "c"]);
        for _ in 0..20 {
            sim.round();
        }
        let settled = sim.moves.clone();
        for _ in 0..10 {
            sim.round();
        }
        assert_eq!(sim.moves, settled, "leases kept moving");
        let counts: Vec<usize> = sim.held().values().copied().collect();
        assert_eq!(counts.iter().sum::<usize>(), 31);
        assert!(counts.iter().max().unwrap() - counts.iter().min().unwrap() <= 1, "{:?}", sim.held());
    }

    #[test]
    fn a_dead_workers_leases_are_taken_after_they_expire() {
        let mut initial = leases("a-", Some("a"), 5);
        initial.extend(leases("b-", Some("b"), 5));
        let mut sim = Sim::new(initial, &["a", "b"]);
        sim.round();
        assert_eq!(sim.held(), counts_of(&[("a", 5), ("b", 5)]));
        // b dies right after a scan saw its last renewal: the next scan, 2 x failover later,
        // sees its counters stand still.
        sim.kill("b");
        sim.round();
        assert_eq!(sim.held(), counts_of(&[("a", 10)]));
        assert!(sim.moves.values().flatten().all(|(w, k)| w == "a" && *k == TakeKind::Expired));
    }
}
