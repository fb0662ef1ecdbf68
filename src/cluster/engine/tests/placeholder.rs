//! Standby placeholders (0.0.0.0 VIFs): dealt out like VIFs, all with
//! one wire id, decided as C 2.1.4 decides them (issue 14, item 8).

use super::group::*;
use super::*;

const PH: VifId = VifId::new(Ipv4Addr::UNSPECIFIED);

/// 4 hosts, 2 VIPs, 2 placeholders; `c_nodes` decide as C.
fn four_hosts(c_nodes: &[usize]) -> Group {
    let mut g = Group::with(4, 4, &[], |s| {
        s.vifs = vec![vid(0), vid(1), PH, PH];
        s.balance_rate = 2;
    });
    for &i in c_nodes {
        g.make_c_node(i);
    }
    g.view(&[0, 1, 2, 3], Cause::Join);
    g.fire(0, Timer::Maturity);
    g
}

/// Who holds each real VIP (slots 0 and 1), among `among`.
fn vip_holders(g: &Group, among: &[usize]) -> Vec<Vec<usize>> {
    (0..2)
        .map(|v| {
            among
                .iter()
                .copied()
                .filter(|&i| g.e[i].held().any(|id| id == vid(v)))
                .collect()
        })
        .collect()
}

fn owners(e: &Engine) -> Vec<Ipv4Addr> {
    e.table().iter().map(|s| s.owner).collect()
}

#[test]
fn placeholders_are_dealt_like_vifs_and_each_host_gets_one() {
    let g = four_hosts(&[]);
    assert_eq!(
        owners(&g.e[0]),
        [node(1), node(2), node(3), node(4)],
        "one slot each"
    );
    for i in 0..4 {
        assert_eq!(g.e[i].held().count(), 1, "n{}", i + 1);
        assert_eq!(owners(&g.e[i]), owners(&g.e[0]));
    }
    assert_eq!(vip_holders(&g, &[0, 1, 2, 3]), [vec![0], vec![1]]);
}

/// A VIP's host fails: the standbys' STATEs both name 0.0.0.0, which
/// (as in C) is the first placeholder: the second standby loses it to
/// the tie, and the claims deal out what is left, VIP first. Every VIP
/// is held once, and C members compute the same table.
#[test]
fn a_vip_fails_over_to_a_standby_and_c_members_agree() {
    for c_nodes in [&[][..], &[2, 3], &[1, 3]] {
        let mut g = four_hosts(c_nodes);
        g.view(&[1, 2, 3], Cause::Disconnect);
        let t = owners(&g.e[1]);
        assert_eq!(
            t,
            [node(4), node(2), node(3), node(2)],
            "C nodes {c_nodes:?}"
        );
        for i in 2..4 {
            assert_eq!(owners(&g.e[i]), t, "n{}, C nodes {c_nodes:?}", i + 1);
        }
        assert_eq!(vip_holders(&g, &[1, 2, 3]), [vec![3], vec![1]]);
        // A Rust node holds exactly what the table gives it.
        for i in (1..4).filter(|i| !c_nodes.contains(i)) {
            let mine = t.iter().filter(|&&o| o == node(i as u8 + 1)).count();
            assert_eq!(g.e[i].held().count(), mine, "n{}", i + 1);
        }
        // The host comes back: still every VIP once, tables agree.
        g.view(&[0, 1, 2, 3], Cause::Join);
        let t = owners(&g.e[0]);
        for i in 1..4 {
            assert_eq!(owners(&g.e[i]), t, "n{}, C nodes {c_nodes:?}", i + 1);
        }
        let h = vip_holders(&g, &[0, 1, 2, 3]);
        assert!(h.iter().all(|x| x.len() == 1), "{h:?}, C nodes {c_nodes:?}");
    }
}

/// A STATE naming 0.0.0.0 twice keeps the first placeholder for its
/// sender without taking it down and up again.
#[test]
fn holding_two_placeholders_does_not_flap_the_first() {
    let mut g = Group::with(2, 3, &[], |s| {
        s.vifs = vec![vid(0), PH, PH];
        s.balance_rate = 1;
    });
    g.view(&[0], Cause::Join);
    g.fire(0, Timer::Maturity);
    assert_eq!(g.e[0].held().count(), 3);
    g.take_log();
    g.view(&[0, 1], Cause::Join);
    let log = g.take_log();
    assert!(
        !log[0]
            .iter()
            .any(|a| matches!(a, Action::Release(id) if *id == PH)
                && log[0]
                    .iter()
                    .any(|a| matches!(a, Action::Acquire(id, _) if *id == PH))),
        "{:?}",
        log[0]
    );
    assert!(!warned(&log[0], "is up here but"), "{:?}", log[0]);
    let t = owners(&g.e[0]);
    assert_eq!(owners(&g.e[1]), t);
    let counts: Vec<usize> = (0..2).map(|i| g.e[i].held().count()).collect();
    assert!(counts.iter().all(|&c| c >= 1), "{counts:?} {t:?}");
}

/// Placeholders and VIF lists (an all-Rust view): placeholders are in
/// no HELLO or VIFS list, every member has every placeholder, and none
/// becomes a shadow entry. 4 hosts, 2 VIPs, 2 placeholders; n4 also has
/// a VIP the others lack (between its VIPs: the claim order is still
/// the same everywhere). Every VIP is held once, the extra one by n4,
/// each placeholder by one host, and the tables agree; so after a
/// failover, and after n4 drops the extra VIP in a reload.
#[test]
fn placeholders_with_vif_lists_that_differ_are_each_held_once() {
    let mut g = Group::with(4, 4, &[], |s| {
        s.vifs = vec![vid(0), vid(1), PH, PH];
        s.balance_rate = 2;
    });
    let mut s = g.e[3].settings().clone();
    s.vifs = vec![vid(0), vid(4), vid(1), PH, PH];
    g.e[3] = Engine::new(s);
    g.e[3].handle(Event::Connected {
        private_group: &group::name(3),
    });
    let check = |g: &Group, among: &[usize], extra: bool| {
        for &i in among {
            assert!(g.e[i].rust_view(), "n{}", i + 1);
            assert!(
                g.e[i].shadow_table().all(|(a, _)| !a.is_unspecified()),
                "n{}: a placeholder shadow",
                i + 1
            );
        }
        let shared = [vid(0), vid(1)];
        let vips = if extra {
            vec![vid(0), vid(1), vid(4)]
        } else {
            shared.to_vec()
        };
        for v in vips {
            let holders: Vec<usize> = (among.iter().copied())
                .filter(|&i| g.e[i].held().any(|id| id == v))
                .collect();
            assert_eq!(holders.len(), 1, "{v} held by {holders:?}");
            if v == vid(4) {
                assert_eq!(holders, [3], "only n4 has {v}");
            }
            for &i in among {
                if let Some(slot) = g.e[i].slot(v) {
                    assert_eq!(slot.owner, node(holders[0] as u8 + 1), "n{}: {v}", i + 1);
                }
            }
        }
        // Each placeholder is one host's, and all agree who has which.
        let ph = |i: usize| -> Vec<Ipv4Addr> {
            let e = &g.e[i];
            (e.settings().vifs.iter().zip(e.table()))
                .filter(|(id, _)| **id == PH)
                .map(|(_, s)| s.owner)
                .collect()
        };
        let first = ph(among[0]);
        for &i in among {
            assert_eq!(ph(i), first, "n{}: placeholders", i + 1);
        }
        let held: usize = (among.iter())
            .map(|&i| g.e[i].held().filter(|&id| id == PH).count())
            .sum();
        assert_eq!(held, 2, "placeholders held: {first:?}");
        for (k, o) in first.iter().enumerate() {
            let i = among.iter().position(|&i| node(i as u8 + 1) == *o);
            let i = among[i.unwrap_or_else(|| panic!("placeholder {k} to {o}"))];
            assert!(g.e[i].held().any(|id| id == PH), "n{} holds {k}", i + 1);
        }
        // Within one of each other (5 or 4 entries, the union).
        let counts: Vec<usize> = among.iter().map(|&i| g.e[i].held().count()).collect();
        let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        assert!(max - min <= 1, "{counts:?}");
    };
    g.view(&[0, 1, 2, 3], Cause::Join);
    g.fire(0, Timer::Maturity);
    check(&g, &[0, 1, 2, 3], true);
    // n3's host fails.
    g.view(&[0, 1, 3], Cause::Disconnect);
    check(&g, &[0, 1, 3], true);
    g.view(&[0, 1, 2, 3], Cause::Join);
    check(&g, &[0, 1, 2, 3], true);
    // n4 drops the extra VIP; its VIFS deals the table out again.
    let mut s = g.e[3].settings().clone();
    s.vifs = vec![vid(0), vid(1), PH, PH];
    g.reconfigure(3, s, &diff(&[], &[4], &[], &[0, 1]));
    check(&g, &[0, 1, 2, 3], false);
    for i in 0..4 {
        assert!(
            g.e[i].shadow_table().all(|(_, s)| s.owner.is_unspecified()),
            "n{}: {v4} is nobody's now",
            i + 1,
            v4 = vip(4)
        );
    }
}
