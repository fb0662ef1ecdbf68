use super::*;

const SEC: Duration = Duration::from_secs(1);

/// A small seeded generator (xorshift64*), for late timers.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// Drives `r` as the daemon does, its one timer firing `late(k)` after
/// the `k`th send was due, until `until`; every send with its time. At
/// most one address is due at a time, and none before its time.
fn run(
    r: &mut Refresh<u32>,
    until: Instant,
    mut late: impl FnMut(usize) -> Duration,
) -> Vec<(Instant, u32)> {
    let mut out: Vec<(Instant, u32)> = Vec::new();
    while let Some(at) = r.next_due() {
        assert_eq!(r.due(at - Duration::from_nanos(1)), None, "early");
        // The clock never goes back, whatever was due.
        let now = (at + late(out.len())).max(out.last().map_or(at, |s| s.0));
        if now >= until {
            break;
        }
        let a = r.due(now).expect("due at its time");
        assert_eq!(r.due(now), None, "two at once");
        out.push((now, a));
    }
    out
}

/// The most sends any one-second window holds (windows starting at a
/// send are enough: moving a window's start up to the next send only
/// adds sends at its end).
fn max_per_second(sends: &[(Instant, u32)]) -> usize {
    (0..sends.len())
        .map(|i| {
            let end = sends[i].0 + SEC;
            sends[i..].iter().take_while(|(t, _)| *t < end).count()
        })
        .max()
        .unwrap_or(0)
}

/// How late the timer fires after the `k`th send was due.
type Late = Box<dyn FnMut(usize) -> Duration>;

fn bound(n: usize, interval: Duration) -> f64 {
    n as f64 / interval.as_secs_f64() + 1.0
}

fn held(n: u32) -> impl Iterator<Item = u32> {
    0..n
}

const COUNTS: [u32; 9] = [1, 2, 3, 5, 7, 10, 64, 250, 1000];
const INTERVALS: [u64; 6] = [1, 2, 3, 7, 60, 3600];

#[test]
fn no_second_carries_more_than_vips_per_interval_plus_one() {
    for n in COUNTS {
        for secs in INTERVALS {
            let interval = Duration::from_secs(secs);
            // Three passes, or 3,000 sends for the long intervals.
            let passes = interval * 3;
            let by_sends = interval / n * 3000;
            let t0 = Instant::now();
            let until = t0 + passes.min(by_sends);
            // On time; a little late (under a millisecond, as a poll
            // wakes); late up to a whole spacing and more; and a stall
            // of five seconds now and then.
            let mut rng = Rng(u64::from(n) * 7919 + secs);
            let spacing = (interval / n).as_nanos() as u64;
            let patterns: [(&str, Late); 4] = [
                ("on time", Box::new(|_| Duration::ZERO)),
                ("jitter", Box::new(|_| Duration::from_micros(999))),
                (
                    "late",
                    Box::new(move |_| Duration::from_nanos(rng.below(2 * spacing + 1))),
                ),
                (
                    "stalls",
                    Box::new(|k| {
                        if k % 97 == 13 {
                            Duration::from_secs(5)
                        } else {
                            Duration::ZERO
                        }
                    }),
                ),
            ];
            for (name, late) in patterns {
                let mut r = Refresh::new(interval);
                r.set(held(n), t0);
                let sends = run(&mut r, until, late);
                assert!(!sends.is_empty());
                let most = max_per_second(&sends);
                assert!(
                    most as f64 <= bound(n as usize, interval),
                    "{n} VIPs every {secs}s, {name}: {most} sends in one second"
                );
            }
        }
    }
}

#[test]
fn every_vip_once_per_interval_evenly_spread() {
    for n in COUNTS {
        for secs in [1, 2, 7, 60] {
            let interval = Duration::from_secs(secs);
            let t0 = Instant::now();
            let mut r = Refresh::new(interval);
            r.set(held(n), t0);
            // Not at once (the acquire has just announced them): one
            // spacing after the set is made.
            assert_eq!(r.next_due(), Some(t0 + interval / n));
            let sends = run(&mut r, t0 + interval * 3, |_| Duration::ZERO);
            // Evenly: one spacing between any two sends.
            for w in sends.windows(2) {
                assert_eq!(w[1].0 - w[0].0, interval / n, "{n} every {secs}s");
            }
            // Each pass holds every VIP once, in order.
            let first: Vec<u32> = sends.iter().take(n as usize).map(|s| s.1).collect();
            assert_eq!(first, held(n).collect::<Vec<_>>());
            // Each VIP comes back once an interval (less the nanoseconds
            // lost dividing it by n), never later.
            for v in 0..n {
                let times: Vec<Instant> = sends.iter().filter(|s| s.1 == v).map(|s| s.0).collect();
                assert!(times.len() >= 2, "{v} of {n} every {secs}s: {times:?}");
                for w in times.windows(2) {
                    let gap = w[1] - w[0];
                    assert!(gap <= interval, "{gap:?}");
                    assert!(interval - gap < Duration::from_nanos(u64::from(n)));
                }
            }
        }
    }
}

#[test]
fn a_slightly_late_timer_does_not_stretch_the_cycle() {
    // Ten VIPs every 2 s, each timer 1 ms late: made up at the next
    // send, so every VIP still comes back every 2 s exactly.
    let interval = Duration::from_secs(2);
    let t0 = Instant::now();
    let mut r = Refresh::new(interval);
    r.set(held(10), t0);
    let sends = run(&mut r, t0 + Duration::from_secs(60), |_| {
        Duration::from_millis(1)
    });
    for v in 0..10 {
        let times: Vec<Instant> = sends.iter().filter(|s| s.1 == v).map(|s| s.0).collect();
        assert!(times.len() >= 29);
        assert!(times.windows(2).all(|w| w[1] - w[0] == interval));
    }
}

#[test]
fn a_stall_moves_the_cycle_instead_of_bursting() {
    let interval = Duration::from_secs(2);
    let t0 = Instant::now();
    let mut r = Refresh::new(interval);
    r.set(held(4), t0);
    let due = r.next_due().unwrap();
    // The daemon comes back 10 s late: one send, then the next a gap
    // later, not the four it "missed".
    let now = due + Duration::from_secs(10);
    assert_eq!(r.due(now), Some(0));
    assert_eq!(r.due(now), None);
    let next = r.next_due().unwrap();
    assert!(next > now);
    assert_eq!(r.due(next), Some(1));
    assert_eq!(r.next_due().unwrap() - next, interval / 4);
}

#[test]
fn changes_to_the_held_set_keep_the_turns() {
    let interval = Duration::from_secs(4);
    let t0 = Instant::now();
    let mut r = Refresh::new(interval);
    assert!(r.is_empty());
    assert_eq!(r.next_due(), None, "nothing held: no timer");
    assert!(r.set([10, 20, 30, 40], t0));
    assert_eq!(r.len(), 4);
    let at = r.next_due().unwrap();
    assert_eq!(r.due(at), Some(10));
    assert_eq!(r.due(r.next_due().unwrap()), Some(20));
    let last = r.next_due().unwrap() - interval / 4;

    // The same set again: nothing moves.
    let before = r.next_due();
    assert!(!r.set([40, 30, 20, 10], last + Duration::from_millis(1)));
    assert_eq!(r.next_due(), before);

    // 30 released, 25 acquired: the turn goes on after 20 (25 is next),
    // 30 never comes again, and the spacing stays T / 4.
    let now = last + Duration::from_millis(1);
    assert!(r.set([10, 20, 25, 40], now));
    assert_eq!(r.next_due(), Some(last + interval / 4));
    let sends = run(&mut r, now + interval * 2, |_| Duration::ZERO);
    let order: Vec<u32> = sends.iter().map(|s| s.1).collect();
    assert_eq!(order, [25, 40, 10, 20, 25, 40, 10, 20]);

    // Six more: the spacing is now T / 10, from the last send.
    let last = sends.last().unwrap().0;
    let now = last + Duration::from_millis(10);
    assert!(r.set([10, 20, 25, 40, 50, 60, 70, 80, 90, 99], now));
    assert_eq!(r.next_due(), Some(last + interval / 10));
    // One left, and the last send more than its spacing (all of T)
    // ago: due at once.
    let now = last + Duration::from_secs(5);
    assert!(r.set([10], now));
    assert_eq!(r.next_due(), Some(now));
    assert_eq!(r.due(now), Some(10));

    // Everything released: no timer; acquired again later: a spacing
    // after that, not at once.
    assert!(r.set([], now));
    assert_eq!(r.next_due(), None);
    assert_eq!(r.due(now + interval), None);
    let later = now + Duration::from_secs(100);
    assert!(r.set([7, 8], later));
    assert_eq!(r.next_due(), Some(later + interval / 2));
}

#[test]
fn the_bound_holds_while_the_set_changes() {
    // Acquires and releases at random moments: at every instant the
    // sends of the last second stay within the bound of the largest
    // set of that second.
    let interval = Duration::from_secs(2);
    let t0 = Instant::now();
    let mut rng = Rng(42);
    let mut r = Refresh::new(interval);
    let mut set: Vec<u32> = (0..8).collect();
    r.set(set.iter().copied(), t0);
    let mut sends: Vec<(Instant, u32)> = Vec::new();
    let mut now = t0;
    let mut largest = set.len();
    for step in 0..5000 {
        now += Duration::from_millis(rng.below(300) + 1);
        if rng.below(10) == 0 {
            if rng.below(2) == 0 && set.len() > 1 {
                let gone = set.remove(rng.below(set.len() as u64) as usize);
                r.set(set.iter().copied(), now);
                assert!(!set.contains(&gone));
            } else {
                set.push(100 + step);
                r.set(set.iter().copied(), now);
            }
            largest = largest.max(set.len());
        }
        while let Some(a) = r.due(now) {
            assert!(set.contains(&a), "{a} was released");
            sends.push((now, a));
        }
    }
    assert!(sends.len() > 1000);
    let most = max_per_second(&sends);
    assert!(most as f64 <= bound(largest, interval), "{most}");
    // Nobody waits much more than an interval for a turn (a set that
    // grows moves the others' turns back by a spacing or so each).
    for &v in &set {
        let last = sends.iter().rev().find(|s| s.1 == v);
        if let Some((t, _)) = last {
            assert!(now - *t <= interval * 2, "{v} last sent {:?} ago", now - *t);
        }
    }
}

#[test]
fn a_new_interval_respaces() {
    let t0 = Instant::now();
    let mut r = Refresh::new(Duration::from_secs(60));
    r.set(held(3), t0);
    assert_eq!(r.next_due(), Some(t0 + Duration::from_secs(20)));
    r.set_interval(Duration::from_secs(6), t0);
    assert_eq!(r.interval(), Duration::from_secs(6));
    assert_eq!(r.next_due(), Some(t0 + Duration::from_secs(2)));
}
