//! `AcquisitionsPerRound = all` keeps balancing until the members are
//! within one of each other (issue 14, item 6), and C peers follow.

use super::group::*;
use super::*;

/// Each of three nodes alone, mature, holding all 12 VIFs; then the
/// merge, in which n1's STATE comes first and keeps all 12 (the others
/// lose theirs to the tie): 12/0/0, which one round of VIFs/2 = 6 moves
/// cannot balance. `c_nodes`: the nodes that decide as C.
fn merged_after_claiming_alone(c_nodes: &[usize]) -> Group {
    let mut g = Group::new(3, 12, &[]);
    for &i in c_nodes {
        g.make_c_node(i);
    }
    for i in 0..3 {
        g.view(&[i], Cause::Join);
        g.fire(i, Timer::Maturity);
        assert_eq!(g.held(i).len(), 12, "n{} alone", i + 1);
    }
    g.take_log();
    g.view(&[0, 1, 2], Cause::Network);
    g
}

fn balances_sent(acts: &[Action]) -> Vec<usize> {
    acts.iter()
        .filter_map(|a| match a {
            Action::Multicast {
                mess_type: MessType::Balance,
                body,
            } => Some(msg::Balance::decode(body, false).unwrap().moves.len()),
            _ => None,
        })
        .collect()
}

fn armed(acts: &[Action]) -> Vec<Duration> {
    acts.iter()
        .filter_map(|a| match a {
            Action::StartTimer(Timer::Balance, d) => Some(*d),
            _ => None,
        })
        .collect()
}

/// The first round is C's (6 moves, right after the exchange); the
/// leader then re-arms at `Interval` and the next round finishes.
#[test]
fn with_all_the_leader_keeps_balancing_at_the_interval() {
    let mut g = merged_after_claiming_alone(&[]);
    let log = g.take_log();
    assert_eq!(balances_sent(&log[0]), [6]);
    assert_eq!(g.counts(), [6, 3, 3]);
    // Zero for the round after the exchange, then the follow-up.
    assert_eq!(armed(&log[0]), [Duration::ZERO, Duration::from_secs(60)]);
    for other in &log[1..] {
        assert!(balances_sent(other).is_empty());
    }
    g.fire(0, Timer::Balance);
    let log = g.take_log();
    assert_eq!(balances_sent(&log[0]), [2]);
    assert_eq!(g.counts(), [4, 4, 4]);
    g.assert_each_once(&[0, 1, 2]);
    // Balanced: no further round is armed.
    assert!(armed(&log[0]).is_empty(), "{:?}", log[0]);
}

/// C applies a BALANCE whenever it is in RUN, from anyone: C peers of a
/// Rust leader apply the follow-up rounds too, and every table agrees.
#[test]
fn c_peers_apply_the_follow_up_rounds_of_a_rust_leader() {
    let mut g = merged_after_claiming_alone(&[1, 2]);
    assert_eq!(g.counts(), [6, 3, 3]);
    g.fire(0, Timer::Balance);
    assert_eq!(g.counts(), [4, 4, 4]);
    g.assert_each_once(&[0, 1, 2]);
    for i in 1..3 {
        assert_eq!(g.e[i].table(), g.e[0].table(), "n{}", i + 1);
        let counts: Vec<i32> = g.e[i].members().iter().map(|m| m.count).collect();
        assert_eq!(counts, [4, 4, 4], "n{}'s member counts", i + 1);
    }
}

/// A C leader stops after its one round, as C 2.1.4 does; the Rust
/// members follow it and agree.
#[test]
fn a_c_leader_balances_once_and_rust_members_follow() {
    let mut g = merged_after_claiming_alone(&[0]);
    let log = g.take_log();
    assert_eq!(balances_sent(&log[0]), [6]);
    assert_eq!(armed(&log[0]), [Duration::ZERO]);
    assert_eq!(g.counts(), [6, 3, 3]);
    g.assert_each_once(&[0, 1, 2]);
    for i in 1..3 {
        assert_eq!(g.e[i].table(), g.e[0].table(), "n{}", i + 1);
    }
}

/// A round never runs on a table that the leader's own last BALANCE
/// has not reached yet: it waits another interval.
#[test]
fn no_round_while_the_last_balance_is_in_flight() {
    let (mut e, _) = in_view(small(1, 12, &[]), 3);
    let p = Priority::Claimed;
    let all: Vec<(u8, Priority)> = (0..12).map(|v| (v, p)).collect();
    deliver(&mut e, 1, MessType::State, &state(1, true, &all, &[]));
    deliver(&mut e, 2, MessType::State, &state(2, true, &[], &[]));
    deliver(&mut e, 3, MessType::State, &state(3, true, &[], &[]));
    let first = e.handle(Event::Timer(Timer::Balance));
    assert_eq!(balances_sent(&first), [6]);
    let early = e.handle(Event::Timer(Timer::Balance));
    assert!(balances_sent(&early).is_empty(), "{early:?}");
    assert_eq!(armed(&early), [Duration::from_secs(60)]);
    deliver(
        &mut e,
        1,
        MessType::Balance,
        &multicast_body(&first, MessType::Balance),
    );
    let next = e.handle(Event::Timer(Timer::Balance));
    assert_eq!(balances_sent(&next), [2]);
}
