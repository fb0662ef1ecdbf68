//! `Quorum` on whole groups of engines: below it nothing is held or
//! claimed by anyone, every node alike; at it, the usual claims.

use super::group::*;
use super::*;

/// The VIFs a STATE among `acts` claims.
fn claimed(acts: &[Action]) -> Vec<Ipv4Addr> {
    let s = msg::State::decode(&multicast_body(acts, MessType::State), false).unwrap();
    s.held.iter().map(|&(v, _)| v).collect()
}

/// A host cut off alone with `Quorum = 2` of 3 gives everything up at
/// the view, claims nothing, and the two others hold every VIF once;
/// when the split heals, the VIFs are dealt out again without a VIF
/// moving between the two that kept quorum.
#[test]
fn a_node_cut_off_alone_below_quorum_holds_nothing() {
    let mut g = Group::settled(|s| s.quorum = 2);
    let had = g.held(0);
    g.view(&[0], Cause::Network);
    g.view(&[1, 2], Cause::Network);
    let log = g.take_log();
    assert_eq!(released(&log[0]), had, "released at once: {:?}", log[0]);
    assert!(log[0].contains(&Action::PostDown));
    assert!(acquired(&log[0]).is_empty(), "{:?}", log[0]);
    assert!(claimed(&log[0]).is_empty(), "its STATE claims nothing");
    assert_eq!(
        logged(&log[0], "below quorum: 1 member in this view, Quorum = 2"),
        1
    );
    assert!(g.e[0].below_quorum());
    assert_eq!(g.e[0].phase(), Phase::Run);
    assert!(
        g.e[0].table().iter().all(|s| *s == FREE),
        "nobody holds anything in its view"
    );
    assert_eq!(multicasts(&log[0], MessType::Balance), 0);
    g.assert_each_once(&[1, 2]);
    assert_eq!(g.counts(), [0, 3, 3]);
    for i in [1, 2] {
        assert!(!g.e[i].below_quorum());
        assert!(released(&log[i]).is_empty(), "{:?}", log[i]);
        assert_eq!(logged(&log[i], "quorum"), 0, "{:?}", log[i]);
    }

    // A view below quorum again says nothing new.
    g.view(&[0], Cause::Network);
    assert_eq!(logged(&g.take_log()[0], "quorum"), 0);

    g.view(&[0, 1, 2], Cause::Network);
    let log = g.take_log();
    assert_eq!(
        logged(
            &log[0],
            "quorum regained: 3 members in this view (Quorum = 2)"
        ),
        1
    );
    g.assert_each_once(&[0, 1, 2]);
    assert_eq!(g.counts(), [2, 2, 2]);
    for i in [1, 2] {
        // Only what the balance gave n1 left them.
        for v in released(&log[i]) {
            assert!(g.held(0).contains(&v), "n{} released VIF {v}", i + 1);
        }
        assert!(acquired(&log[i]).is_empty(), "{:?}", log[i]);
    }
}

/// Every node of a view below quorum decides alike: nothing held,
/// nothing in any table, no BALANCE, preferences or not; a view that
/// reaches quorum gives everything out at once (they are mature), the
/// preferred VIF to its preferrer.
#[test]
fn every_node_of_a_view_below_quorum_agrees_and_quorum_deals_as_usual() {
    let mut g = Group::with(3, 6, &[&[], &[4]], |s| s.quorum = 3);
    g.view(&[0, 1], Cause::Join);
    g.fire(0, Timer::Maturity);
    let log = g.take_log();
    for i in [0, 1] {
        assert!(g.e[i].is_mature());
        assert!(g.e[i].below_quorum());
        assert!(g.held(i).is_empty(), "{:?}", log[i]);
        assert!(g.e[i].table().iter().all(|s| *s == FREE));
        assert_eq!(g.e[i].members()[1 - i].count, 0);
        assert_eq!(
            logged(&log[i], "below quorum: 2 members in this view, Quorum = 3"),
            1
        );
    }
    assert_eq!(multicasts(&log[0], MessType::Balance), 0);
    // The leader's balance timer moves nothing and is not re-armed.
    let acts = g.e[0].handle(Event::Timer(Timer::Balance));
    assert!(acts.is_empty(), "{acts:?}");

    g.view(&[0, 1, 2], Cause::Join);
    let log = g.take_log();
    g.assert_each_once(&[0, 1, 2]);
    assert_eq!(g.counts(), [2, 2, 2]);
    assert!(g.held(1).contains(&4), "n2 prefers VIF 4");
    for i in [0, 1] {
        assert_eq!(logged(&log[i], "quorum regained"), 1);
        assert!(released(&log[i]).is_empty());
    }
    assert_eq!(logged(&log[2], "quorum"), 0, "n3 was never below");
}

/// The Mature wait runs as usual below quorum: a lone node matures and
/// holds nothing; a second node is mature at once from its STATE and
/// the two claim in that exchange. An immature pair at quorum waits for
/// maturity as ever.
#[test]
fn maturity_runs_below_quorum_and_claims_wait_for_both() {
    let mut g = Group::with(2, 4, &[], |s| s.quorum = 2);
    g.view(&[0], Cause::Join);
    assert_eq!(g.e[0].phase(), Phase::Boot);
    g.fire(0, Timer::Maturity);
    assert!(g.e[0].is_mature());
    assert_eq!(g.e[0].phase(), Phase::Run);
    assert!(g.held(0).is_empty());
    g.view(&[0, 1], Cause::Join);
    assert!(g.e[1].is_mature());
    assert_eq!(g.counts(), [2, 2]);
    g.assert_each_once(&[0, 1]);

    let mut g = Group::with(2, 4, &[], |s| s.quorum = 2);
    g.view(&[0, 1], Cause::Join);
    assert!(!g.e[0].below_quorum());
    assert_eq!(g.counts(), [0, 0], "immature: nobody claims");
    g.fire(1, Timer::Maturity);
    assert_eq!(g.counts(), [2, 2]);
}

/// A reload that changes `Quorum` counts against the current view at
/// once: above the new one nothing changes; below it everything goes
/// (by the old definitions, before the swap) and the table empties;
/// back above, the claims (preferences first) give everything out again.
#[test]
fn a_reload_that_changes_quorum_applies_to_the_current_view() {
    let mut g = Group::new(2, 6, &[&[], &[5]]);
    g.view(&[0, 1], Cause::Join);
    g.fire(0, Timer::Maturity);
    assert_eq!(g.counts(), [3, 3]);
    let settings = |i: usize, quorum: usize| {
        let prefer: &[u8] = if i == 1 { &[5] } else { &[] };
        let mut s = small(i as u8 + 1, 6, prefer);
        s.quorum = quorum;
        s
    };
    let nothing = diff(&[], &[], &[], &[0, 1, 2, 3, 4, 5]);

    let step = g.e[0].reconfigure(settings(0, 2), &nothing);
    assert!(
        step.before.is_empty() && acquired(&step.after).is_empty(),
        "{step:?}"
    );
    assert_eq!(logged(&step.after, "quorum"), 0);

    for i in [0, 1] {
        let had = g.held(i);
        let step = g.e[i].reconfigure(settings(i, 3), &nothing);
        assert_eq!(released(&step.before), had, "{step:?}");
        assert_eq!(step.before.last(), Some(&Action::PostDown));
        assert!(released(&step.after).is_empty() && acquired(&step.after).is_empty());
        assert_eq!(
            logged(
                &step.after,
                "below quorum: 2 members in this view, Quorum = 3"
            ),
            1
        );
        assert!(g.held(i).is_empty());
        assert!(g.e[i].table().iter().all(|s| *s == FREE));
    }
    assert_eq!(g.e[0].table(), g.e[1].table());

    let mut got = Vec::new();
    for i in [0, 1] {
        let step = g.e[i].reconfigure(settings(i, 2), &nothing);
        assert!(step.before.is_empty());
        assert_eq!(logged(&step.after, "quorum regained"), 1);
        got.push(acquired(&step.after));
    }
    assert_eq!(got[0].len() + got[1].len(), 6, "{got:?}");
    assert!(got[1].contains(&5), "n2 prefers VIF 5: {got:?}");
    g.assert_each_once(&[0, 1]);
    assert_eq!(g.e[0].table(), g.e[1].table());

    // The next views run as usual.
    g.view(&[0, 1], Cause::Join);
    g.assert_each_once(&[0, 1]);
    assert_eq!(g.counts(), [3, 3]);
}

/// Below quorum a STATE that claims VIFs (a node with another Quorum, or
/// none) and a leader's BALANCE are not counted, and said so once.
#[test]
fn claims_and_balances_below_quorum_are_not_counted() {
    let mut s = small(2, 4, &[]);
    s.quorum = 3;
    let (mut e, _) = in_view(s, 2);
    let p = Priority::Claimed;
    deliver(
        &mut e,
        1,
        MessType::State,
        &state(1, true, &[(0, p), (1, p)], &[2]),
    );
    let acts = deliver(&mut e, 2, MessType::State, &state(2, true, &[], &[]));
    assert_eq!(e.phase(), Phase::Run);
    assert!(e.table().iter().all(|s| *s == FREE), "{:?}", e.table());
    assert_eq!(e.members()[0].count, 0);
    assert!(acquired(&acts).is_empty());
    let b = msg::Balance {
        moves: vec![(node(2), vip(3))],
    }
    .encode();
    let acts = deliver(&mut e, 1, MessType::Balance, &b);
    assert!(acquired(&acts).is_empty(), "{acts:?}");
    assert!(warned(&acts, "this view is below quorum"), "{acts:?}");
    assert_eq!(e.held().count(), 0);
}

#[test]
fn quorum_off_at_0_and_1() {
    for q in [0, 1] {
        let mut g = Group::with(2, 4, &[], |s| s.quorum = q);
        g.view(&[0], Cause::Join);
        g.fire(0, Timer::Maturity);
        assert!(!g.e[0].below_quorum());
        assert_eq!(g.counts(), [4, 0], "Quorum = {q}");
    }
}

/// Below quorum there is nothing to re-announce after a network change.
#[test]
fn below_quorum_nothing_is_reannounced() {
    let mut g = Group::settled(|s| s.quorum = 2);
    g.view(&[0], Cause::Network);
    let log = g.take_log();
    assert!(reannounced(&log[0]).is_empty(), "{:?}", log[0]);
    assert_eq!(logged(&log[0], "re-announcing"), 0);
}

/// A reload that takes a node below quorum in the middle of an exchange:
/// it releases at once, its own STATE (sent before, with claims) is not
/// counted, and nobody is warned about it.
#[test]
fn a_reload_below_quorum_mid_exchange_releases_and_counts_nothing() {
    let (mut e, _) = in_view(small(1, 4, &[]), 2);
    e.old = vec![
        Slot {
            owner: node(1),
            priority: Priority::Claimed
        };
        4
    ];
    e.held = vec![true; 4];
    let mut s = small(1, 4, &[]);
    s.quorum = 3;
    let step = e.reconfigure(s, &diff(&[], &[], &[], &[0, 1, 2, 3]));
    assert_eq!(released(&step.before), [0, 1, 2, 3]);
    let p = Priority::Claimed;
    let mine = state(1, true, &[(0, p), (1, p), (2, p), (3, p)], &[]);
    let acts = deliver(&mut e, 1, MessType::State, &mine);
    assert!(!warned(&acts, "below quorum"), "{acts:?}");
    let acts = deliver(&mut e, 2, MessType::State, &state(2, true, &[], &[]));
    assert!(acquired(&acts).is_empty(), "{acts:?}");
    assert!(e.table().iter().all(|s| *s == FREE));
    assert_eq!(e.held().count(), 0);
}
