//! Differential tests: the same scenario on an all-C cluster (C
//! wackamole 2.1.4 from `../shared/thirdparty/`) and an all-Rust one,
//! over spread-sim, and the final allocations compared. Where they
//! differ, the test says so and asserts the difference seen (issue 14
//! item 4; the engine fixes are items 5-8). Skipped without root or
//! without the thirdparty build.
//!
//! A scenario takes `&mut Cluster` and the kind of its nodes, so that it
//! can run again on another Spread backend.

mod common;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use common::c_node::{self, Kind, Reference};
use common::cluster::{vif_lines, Cluster, Conf};
use common::netns::can_run;

const SETTLE: Duration = Duration::from_secs(20);
/// An allocation is final once nothing moved for this long (over two
/// Balance intervals of 1 s).
const QUIET: Duration = Duration::from_millis(2500);

fn setup() -> Option<Reference> {
    if !can_run() {
        return None;
    }
    c_node::reference()
}

/// `n` hosts; host `i` gets `vifs(i)` and `extra(i)`; Balance Interval
/// 1 s with `rate`. Nothing started.
fn cluster(
    tag: &str,
    n: usize,
    vips: usize,
    rate: &str,
    vifs: impl Fn(&[Ipv4Addr], usize) -> Vec<Ipv4Addr>,
    extra: impl Fn(usize) -> String,
) -> Cluster {
    let c = Cluster::new(tag, n, vips, "");
    let balance = format!("AcquisitionsPerRound = {rate}\n  Interval = 1s");
    for i in 0..n {
        let extra = extra(i);
        c.write_conf_with(
            i,
            &Conf {
                vifs: vif_lines(&vifs(&c.vips, i)),
                balance: &balance,
                extra: &extra,
                ..Conf::default()
            },
        );
    }
    c
}

/// Waits until the holders of `vips` stay the same for [`QUIET`] (at
/// most 30 s); the allocation as "v1:h2 v2:- v3:h1,h3" (by VIP order,
/// `-` for nobody).
fn steady(c: &Cluster, vips: &[Ipv4Addr]) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = c.holders(vips);
    let mut since = Instant::now();
    while since.elapsed() < QUIET && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        let now = c.holders(vips);
        if now != last {
            last = now;
            since = Instant::now();
        }
    }
    last.iter()
        .enumerate()
        .map(|(v, h)| {
            let who: Vec<String> = h.iter().map(|i| format!("h{}", i + 1)).collect();
            let who = if who.is_empty() {
                "-".to_string()
            } else {
                who.join(",")
            };
            format!("v{}:{who}", v + 1)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `scenario` on an all-C and an all-Rust cluster at once (tags
/// `TAGc`, `TAGr`); returns (C's allocation, Rust's).
fn both(
    r: &Reference,
    tag: &str,
    scenario: fn(&str, Kind, &Reference) -> String,
) -> (String, String) {
    let (c, rust) = std::thread::scope(|s| {
        let c = s.spawn(|| scenario(&format!("{tag}c"), Kind::C, r));
        let rust = s.spawn(|| scenario(&format!("{tag}r"), Kind::Rust, r));
        (c.join(), rust.join())
    });
    let (c, rust) = (
        c.expect("the C run failed"),
        rust.expect("the Rust run failed"),
    );
    eprintln!("{tag}: C    {c}\n{tag}: Rust {rust}");
    (c, rust)
}

fn start_all(c: &mut Cluster, kind: Kind, r: &Reference) {
    for i in 0..c.hosts.len() {
        c.start_as(i, kind, r);
    }
}

/// Polls spread-sim until group `wack` has `n` members.
fn wait_group_size(c: &Cluster, n: usize) {
    let deadline = Instant::now() + SETTLE;
    loop {
        let g = c.sim_ctl("groups");
        let members = g
            .lines()
            .find(|l| l.trim_start().starts_with("group wack "))
            .map_or(0, |l| {
                l.split(": ")
                    .nth(1)
                    .unwrap_or("")
                    .split_whitespace()
                    .count()
            });
        if members == n {
            return;
        }
        assert!(Instant::now() < deadline, "wack never had {n} members: {g}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

// (a) -----------------------------------------------------------------

/// A (h1), B (h2), C (h3) with v1-v4, only B prefers v2. A and B start
/// (A v1 v3, B v2 v4), then C (the leader moves v1 to it): A v3, B v2
/// v4, C v1. B restarts under the same identity while spread-sim holds
/// the messages: its leave and its new join are both ordered before the
/// STATEs of the view it left, so the round of {A, C} never ends and A
/// and C keep their old table (B with v4) as `Old`.
fn restart_mid_round(tag: &str, kind: Kind, r: &Reference) -> String {
    let mut c = cluster(
        tag,
        3,
        4,
        "all",
        |v, _| v.to_vec(),
        |i| {
            if i == 1 {
                "Prefer 10.80.0.102/32".into()
            } else {
                String::new()
            }
        },
    );
    let vips = c.vips.clone();
    c.start_as(0, kind, r);
    c.start_as(1, kind, r);
    c.wait_settled(&vips, &[0, 1], SETTLE);
    c.start_as(2, kind, r);
    let before = steady(&c, &vips);
    assert_eq!(before, "v1:h3 v2:h2 v3:h1 v4:h2", "{}", c.logs());
    c.sim_ctl("hold");
    c.signal(1, "TERM");
    assert!(c.wait_exit(1, SETTLE).is_some(), "{}", c.logs());
    wait_group_size(&c, 2);
    c.start_as(1, kind, r);
    wait_group_size(&c, 3);
    c.sim_ctl("release");
    steady(&c, &vips)
}

/// Issue 14: "pure C leaves v4 unheld until the next membership, pure
/// Rust gives it to A". C's counts come from the STATEs (B reports 0,
/// and A and C, whose `Old` still names B for v2, add nothing for its
/// preferred v2) so A and C give v4 to B; B, mature for the first time,
/// recounts from its table (B 1) and gives v4 to A. Rust counts from the
/// table everywhere: v4 to A, every VIP held. The all-Rust result is the
/// one the README's "Cluster engine" section states (in a view of Rust
/// nodes only, counts from the table); a view with a C node counts as C
/// (issue 14 item 5; `tests/cluster_sim.rs` checks mixed views).
#[test]
fn a_restart_in_the_middle_of_a_round() {
    let Some(r) = setup() else {
        return;
    };
    let (c, rust) = both(&r, "dfa", restart_mid_round);
    assert_eq!(c, "v1:h3 v2:h2 v3:h1 v4:-", "C");
    assert_eq!(rust, "v1:h3 v2:h2 v3:h1 v4:h1", "Rust");
}

// (b) -----------------------------------------------------------------

/// VIF lists that differ: h1 and h2 have v1-v4, h3 has v1-v3 and v5
/// (v4 only on h1 and h2, v5 only on h3). All start together.
fn differing_vifs(tag: &str, kind: Kind, r: &Reference) -> String {
    let mut c = cluster(
        tag,
        3,
        5,
        "all",
        |v, i| {
            if i == 2 {
                vec![v[0], v[1], v[2], v[4]]
            } else {
                v[..4].to_vec()
            }
        },
        |_| String::new(),
    );
    let vips = c.vips.clone();
    start_all(&mut c, kind, r);
    c.wait_for("a first claim", SETTLE, |c| {
        c.counts().iter().sum::<usize>() >= 3
    });
    steady(&c, &vips)
}

#[test]
fn vif_lists_that_differ_between_nodes() {
    let Some(r) = setup() else {
        return;
    };
    let (c, rust) = both(&r, "dfb", differing_vifs);
    // C leaves v5 (known to h3 alone) on nobody: h3's claim gives it to
    // the member with the fewest VIFs, which does not have it. An
    // all-Rust view knows every member's VIF list (HELLO) and gives a
    // VIF only to a member that has it (issue 14 item 7): v5 goes to
    // h3, its only host. The README's "Cluster engine" section states
    // this departure; a view with a C node decides as C.
    assert_eq!(c, "v1:h1 v2:h2 v3:h3 v4:h1 v5:-", "C");
    assert_eq!(rust, "v1:h1 v2:h2 v3:h3 v4:h1 v5:h3", "Rust");
}

// (c) -----------------------------------------------------------------

/// h2 says `Prefer 10.80.0.102/24`, a prefix wider than /32; 3 hosts,
/// v1-v4, all start together.
fn wide_prefer(tag: &str, kind: Kind, r: &Reference) -> String {
    let mut c = cluster(
        tag,
        3,
        4,
        "all",
        |v, _| v.to_vec(),
        |i| {
            if i == 1 {
                "Prefer 10.80.0.102/24".into()
            } else {
                String::new()
            }
        },
    );
    let vips = c.vips.clone();
    start_all(&mut c, kind, r);
    c.wait_settled(&vips, &[0, 1, 2], SETTLE);
    steady(&c, &vips)
}

#[test]
fn a_prefer_wider_than_32() {
    let Some(r) = setup() else {
        return;
    };
    let (c, rust) = both(&r, "dfc", wide_prefer);
    // Documented (README, Configuration): a Prefer wider than /32
    // prefers every configured VIP inside it here; C's expansion of
    // such entries is broken and it prefers only the address written.
    assert_eq!(c, "v1:h1 v2:h2 v3:h3 v4:h1", "C");
    assert_eq!(rust, "v1:h2 v2:h2 v3:h2 v4:h2", "Rust");
}

// (d) -----------------------------------------------------------------

/// h1 and h3 both prefer v1; 3 hosts, v1-v4. Split d1 | d2 d3: each side
/// holds every VIP (h1 all four, h3 v1). Healed: every VIP is claimed
/// twice and v1 by two preferrers; the STATEs are ordered h1, h2, h3
/// (spread-sim `release by-member`), the same for both kinds.
fn merge_of_preferrers(tag: &str, kind: Kind, r: &Reference) -> String {
    let mut c = cluster(
        tag,
        3,
        4,
        "all",
        |v, _| v.to_vec(),
        |i| {
            if i != 1 {
                "Prefer 10.80.0.101/32".into()
            } else {
                String::new()
            }
        },
    );
    let vips = c.vips.clone();
    start_all(&mut c, kind, r);
    c.wait_settled(&vips, &[0, 1, 2], SETTLE);
    steady(&c, &vips);
    c.spread_components(&[vec![0], vec![1, 2]]);
    c.wait_settled_among(&vips, &[0], SETTLE);
    c.wait_settled_among(&vips, &[1, 2], SETTLE);
    steady(&c, &vips);
    // The STATEs of the merged view conflict; who wins a tie depends on
    // their order, so it is fixed: held, then ordered h1, h2, h3.
    c.sim_ctl("hold");
    c.spread_components(&[vec![0, 1, 2]]);
    std::thread::sleep(Duration::from_millis(500));
    c.sim_ctl("release by-member");
    c.wait_settled(&vips, &[0, 1, 2], SETTLE);
    steady(&c, &vips)
}

#[test]
fn a_merge_where_two_preferrers_and_a_conflict_meet() {
    let Some(r) = setup() else {
        return;
    };
    let (c, rust) = both(&r, "dfd", merge_of_preferrers);
    assert_eq!(rust, c);
}

// (e) -----------------------------------------------------------------

/// `AcquisitionsPerRound = 2`, 3 hosts, v1-v4: h1 and h2 start (2 and
/// 2), then h3: the leader has one move to make, fewer than the rate.
fn rate_above_moves(tag: &str, kind: Kind, r: &Reference) -> String {
    let mut c = cluster(tag, 3, 4, "2", |v, _| v.to_vec(), |_| String::new());
    let vips = c.vips.clone();
    c.start_as(0, kind, r);
    c.start_as(1, kind, r);
    c.wait_settled(&vips, &[0, 1], SETTLE);
    steady(&c, &vips);
    c.start_as(2, kind, r);
    c.wait_for("h3 to get a VIP", SETTLE, |c| !c.held(2).is_empty());
    steady(&c, &vips)
}

#[test]
fn acquisitions_per_round_2_with_fewer_moves() {
    let Some(r) = setup() else {
        return;
    };
    let (c, rust) = both(&r, "dfe", rate_above_moves);
    assert_eq!(rust, c);
}
