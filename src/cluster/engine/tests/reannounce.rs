//! The re-announce after a network change: once the exchange of a view
//! caused by a split or a merge ends, each node announces again what it
//! still holds; after other views, nothing.

use super::group::*;
use super::*;
/// After a view caused by a split or a merge, once the exchange ends,
/// each node re-announces what it held before it and still holds (what
/// it just acquired, the acquire announces), with one line per view;
/// nothing at the view itself.
#[test]
fn a_network_view_reannounces_what_is_still_held_when_the_exchange_ends() {
    let mut g = Group::settled(|_| {});
    let before: Vec<Vec<usize>> = (0..3).map(|i| g.held(i)).collect();
    for (members, cause) in [(vec![0], Cause::Network), (vec![1, 2], Cause::Network)] {
        // At the view: nothing yet.
        let names: Vec<String> = members.iter().map(|&i| name(i)).collect();
        let acts = g.e[members[0]].handle(Event::View(View {
            id: [9, 9, members.len() as u32],
            members: names,
            my_index: 0,
            cause,
        }));
        assert!(reannounced(&acts).is_empty(), "{acts:?}");
    }
    let mut g = Group::settled(|_| {});
    g.view(&[0], Cause::Network);
    g.view(&[1, 2], Cause::Network);
    let log = g.take_log();
    for i in 0..3 {
        assert_eq!(
            reannounced(&log[i]),
            [before[i].clone()],
            "n{}: {:?}",
            i + 1,
            log[i]
        );
        assert_eq!(
            logged(
                &log[i],
                &format!("network change: re-announcing {} VIPs", before[i].len())
            ),
            1
        );
        // After the claims of the exchange.
        let at = log[i]
            .iter()
            .position(|a| matches!(a, Action::Reannounce(_)))
            .unwrap();
        assert!(!log[i][at..]
            .iter()
            .any(|a| matches!(a, Action::Acquire(..))));
    }
    assert_eq!(g.counts(), [6, 3, 3]);

    // The merge: each keeps what it won, and says so again.
    let before: Vec<Vec<usize>> = (0..3).map(|i| g.held(i)).collect();
    g.view(&[0, 1, 2], Cause::Network);
    let log = g.take_log();
    g.assert_each_once(&[0, 1, 2]);
    let mut told = 0;
    for i in 0..3 {
        // Lost in the merge's conflicts or not (the balance that
        // follows moves some, each announced by its new holder).
        let at = (log[i].iter())
            .position(|a| matches!(a, Action::Reannounce(_)))
            .unwrap_or(log[i].len());
        let lost = released(&log[i][..at]);
        let kept: Vec<usize> = before[i]
            .iter()
            .copied()
            .filter(|v| !lost.contains(v))
            .collect();
        let r = reannounced(&log[i]);
        if kept.is_empty() {
            assert!(r.is_empty(), "{:?}", log[i]);
        } else {
            assert_eq!(r, [kept], "once per view: {:?}", log[i]);
            told += r[0].len();
        }
    }
    assert!(
        told >= 6,
        "every VIF that stayed put was re-announced: {told}"
    );
}

/// JOIN, LEAVE and DISCONNECT views re-announce nothing.
#[test]
fn membership_views_do_not_reannounce() {
    let mut g = Group::settled(|_| {});
    g.view(&[0, 1], Cause::Leave);
    g.view(&[0, 1, 2], Cause::Join);
    g.view(&[1, 2], Cause::Disconnect);
    for (i, l) in g.take_log().iter().enumerate() {
        assert!(reannounced(l).is_empty(), "n{}: {l:?}", i + 1);
        assert_eq!(logged(l, "re-announcing"), 0);
    }
}

/// A network view whose exchange a join overtakes: the re-announce comes
/// when the next exchange ends, once.
#[test]
fn a_network_change_is_not_lost_to_a_view_that_follows_at_once() {
    let mut g = Group::settled(|_| {});
    let had = g.held(1);
    // n2's view of the merge, then a join, before any STATE is in.
    for (id, cause) in [(20, Cause::Network), (21, Cause::Join)] {
        let acts = g.e[1].handle(Event::View(View {
            id: [1, 1, id],
            members: names(3),
            my_index: 1,
            cause,
        }));
        assert!(reannounced(&acts).is_empty());
    }
    let body = |from: u8, held: &[usize]| {
        msg::State {
            group_id: [1, 1, 21],
            real: node(from),
            index: i32::from(from) - 1,
            mature: true,
            held: held
                .iter()
                .map(|&v| (vip(v as u8), Priority::Claimed))
                .collect(),
            prefer: vec![],
        }
        .encode()
    };
    let mut acts = Vec::new();
    for n in 1..=3u8 {
        acts = deliver(&mut g.e[1], n, MessType::Hello, &hello(&[]));
        assert!(reannounced(&acts).is_empty());
        let held = g.held(usize::from(n) - 1);
        let held = if n == 2 { had.clone() } else { held };
        acts = deliver(&mut g.e[1], n, MessType::State, &body(n, &held));
    }
    assert_eq!(reannounced(&acts), [had], "{acts:?}");
    // And not again at the next view.
    g.view(&[0, 1, 2], Cause::Join);
    assert!(reannounced(&g.take_log()[1]).is_empty());
}

/// An immature node holds nothing: nothing to re-announce.
#[test]
fn an_immature_node_reannounces_nothing() {
    let mut g = Group::new(2, 2, &[]);
    g.view(&[0, 1], Cause::Network);
    for l in g.take_log() {
        assert!(reannounced(&l).is_empty());
        assert_eq!(logged(&l, "re-announcing"), 0);
    }
}
