//! Random operations on the World, checked for virtual synchrony after
//! every step: the model's property test.

use super::*;

/// xorshift64*: deterministic test randomness.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }
}

/// Follows every membership-enabled session through its views and checks
/// virtual synchrony on what the World delivered.
/// A view as delivered: members and VS sets.
type View = (Vec<String>, Vec<Vec<String>>);

#[derive(Default)]
struct Checker {
    /// Every view delivered: (group, id) → its members and VS sets.
    views: HashMap<(String, GroupId), View>,
    /// What each view delivered after its regular membership, in order.
    seqs: HashMap<(String, GroupId), Vec<Delivery>>,
    /// (session, group) → (its current view, how much of it it got).
    at: HashMap<(SessionId, String), (GroupId, usize)>,
    networks: usize,
    merges: usize,
    transitions: usize,
}

fn member_key(w: &World, private: &str) -> (DaemonId, String) {
    let (name, daemon) = private[1..].split_once('#').unwrap();
    (w.daemon_by_name(daemon).unwrap(), name.to_string())
}

impl Checker {
    fn event(&mut self, to: SessionId, g: &str, msg: &Delivery) {
        let (id, pos) = self.at.get_mut(&(to, g.to_string())).unwrap();
        let seq = self.seqs.get_mut(&(g.to_string(), *id)).unwrap();
        if *pos < seq.len() {
            assert_eq!(seq[*pos], *msg, "members of one view disagree");
        } else {
            seq.push(msg.clone());
        }
        *pos += 1;
    }

    /// Moves `to` off its current view of `g`, which it must have seen whole.
    fn close_view(&mut self, to: SessionId, g: &str) -> Option<GroupId> {
        let (id, pos) = self.at.remove(&(to, g.to_string()))?;
        assert_eq!(
            pos,
            self.seqs[&(g.to_string(), id)].len(),
            "left a view before its end"
        );
        Some(id)
    }

    fn feed(&mut self, w: &World, outs: &[Out]) {
        let mut self_fed = BTreeSet::new(); // one multicast per batch
        for o in outs {
            let Out::Deliver { to, msg } = o else {
                continue;
            };
            let sess = w.sessions.get(to).expect("deliveries go to live sessions");
            let me = &sess.private;
            if !matches!(msg, Delivery::Regular { .. }) {
                assert!(sess.membership, "membership message to a data-only session");
            }
            match msg {
                Delivery::Membership {
                    group,
                    cause,
                    group_id,
                    members,
                    vs_sets,
                    local_vs_set,
                } => {
                    let keys: Vec<_> = members.iter().map(|m| member_key(w, m)).collect();
                    assert!(
                        keys.windows(2).all(|k| k[0] < k[1]),
                        "member order {members:?}"
                    );
                    assert!(members.contains(me) && group_id.iter().all(|&x| x != 0));
                    if *cause == Cause::Network {
                        assert!(vs_sets[*local_vs_set].contains(me));
                        let mut flat: Vec<String> = vs_sets.concat();
                        flat.sort_by_key(|m| member_key(w, m));
                        assert_eq!(flat, *members);
                        self.networks += 1;
                        self.merges += usize::from(vs_sets.len() > 1);
                    } else {
                        assert!(*local_vs_set == 0 && vs_sets.len() == 1 && vs_sets[0].len() == 1);
                        assert_eq!(members.contains(&vs_sets[0][0]), *cause == Cause::Join);
                    }
                    // A TRANSITION came just before iff our old view lost members.
                    if let Some(&(old, pos)) = self.at.get(&(*to, group.clone())) {
                        let key = (group.clone(), old);
                        let got_t = pos > 0
                            && matches!(self.seqs[&key][pos - 1], Delivery::Transition { .. });
                        let lost = *cause == Cause::Network
                            && self.views[&key].0 != vs_sets[*local_vs_set];
                        assert_eq!(got_t, lost, "{msg:?}");
                    }
                    let prev = self.close_view(*to, group);
                    let joiner = *cause == Cause::Join && vs_sets[0][0] == *me;
                    assert_eq!(prev.is_none(), joiner, "{msg:?}");
                    let view = (members.clone(), vs_sets.clone());
                    let seen = self
                        .views
                        .entry((group.clone(), *group_id))
                        .or_insert(view.clone());
                    assert_eq!(*seen, view, "group id {group_id:?} reused for another view");
                    self.seqs.entry((group.clone(), *group_id)).or_default();
                    self.at.insert((*to, group.clone()), (*group_id, 0));
                }
                Delivery::Transition { group, group_id } => {
                    assert_eq!(
                        self.at[&(*to, group.clone())].0,
                        *group_id,
                        "transition of another view"
                    );
                    self.event(*to, group, msg);
                    self.transitions += 1;
                }
                Delivery::SelfLeave { group } => {
                    self.close_view(*to, group)
                        .expect("self-leave of a group not joined");
                }
                Delivery::Regular {
                    groups,
                    service,
                    sender,
                    ..
                } => {
                    let from = w.by_name[&member_key(w, sender)];
                    for g in groups.iter().collect::<BTreeSet<_>>() {
                        // A SELF_DISCARD sender counts as having seen it.
                        let discarded = service & SELF_DISCARD != 0 && self_fed.insert(g.clone());
                        if discarded && self.at.contains_key(&(from, g.clone())) {
                            self.event(from, g, msg);
                        }
                        if self.at.contains_key(&(*to, g.clone())) {
                            self.event(*to, g, msg);
                        }
                    }
                }
            }
        }
    }

    fn check_state(&mut self, w: &World) {
        self.at.retain(|(s, _), _| w.sessions.contains_key(s));
        for (&(s, ref g), _) in self.at.iter() {
            assert!(w.sessions[&s].groups.contains(g), "stale view of {g}");
        }
        for (&s, sess) in &w.sessions {
            let c = w.comp_of[sess.daemon].unwrap();
            for g in &sess.groups {
                let key = (s, g.clone());
                if !sess.membership {
                    assert!(!self.at.contains_key(&key));
                    continue;
                }
                let Some(&(id, pos)) = self.at.get(&key) else {
                    panic!("{} missed its view of {g}", sess.private)
                };
                assert_eq!(
                    w.comps[c].groups.get(g),
                    Some(&id),
                    "member's view is not the group's"
                );
                assert_eq!(self.views[&(g.clone(), id)].0, w.privates(&w.members(c, g)));
                assert_eq!(
                    pos,
                    self.seqs[&(g.clone(), id)].len(),
                    "a member missed a message"
                );
            }
        }
        for (c, comp) in w.comps.iter().enumerate() {
            for g in comp.groups.keys() {
                assert!(!w.members(c, g).is_empty(), "empty group {g} kept");
            }
        }
    }
}

/// Expected receivers of a multicast, computed per destination.
fn expected_receivers(
    w: &World,
    s: SessionId,
    service: u32,
    dests: &[String],
) -> BTreeSet<SessionId> {
    let c = w.comp_of[w.sessions[&s].daemon].unwrap();
    let mut to = BTreeSet::new();
    for d in dests {
        if d.starts_with('#') {
            let key = member_key(w, d);
            if w.comp_of[key.0] == Some(c) {
                to.extend(w.by_name.get(&key));
            }
        } else {
            to.extend(w.members(c, d));
        }
    }
    if service & SELF_DISCARD != 0 {
        to.remove(&s);
    }
    to
}

fn random_step(w: &mut World, rng: &mut Rng, step: usize) -> Vec<Out> {
    const NAMES: [&str; 5] = ["a", "b", "c", "d", ""];
    const GROUPS: [&str; 3] = ["g1", "g2", "g3"];
    let n = w.daemons.len();
    let sessions: Vec<SessionId> = w.sessions.keys().copied().collect();
    let op = rng.below(100);
    // Keep a crowd: connect more while there are few sessions.
    if op < 12 || sessions.len() < 6 && rng.below(3) == 0 || sessions.is_empty() {
        let d = rng.below(n);
        let _ = w.connect(d, NAMES[rng.below(NAMES.len())], rng.below(5) != 0);
        return Vec::new();
    }
    let s = sessions[rng.below(sessions.len())];
    let group = GROUPS[rng.below(GROUPS.len())];
    match op {
        12..=36 => w.join(s, group),
        37..=48 => w.leave(s, group),
        49..=73 => {
            let mut dests = Vec::new();
            for _ in 0..=rng.below(3) {
                dests.push(match rng.below(4) {
                    0 => w.sessions[&sessions[rng.below(sessions.len())]]
                        .private
                        .clone(),
                    1 if rng.below(4) == 0 => "#nobody#n1".to_string(),
                    _ => GROUPS[rng.below(GROUPS.len())].to_string(),
                });
            }
            let service = (1 << rng.below(6)) | if rng.below(3) == 0 { SELF_DISCARD } else { 0 };
            let data = step.to_le_bytes();
            let want = expected_receivers(w, s, service, &dests);
            let outs = w.multicast(s, service, &dests, HINT, &data);
            let got: Vec<SessionId> = outs
                .iter()
                .map(|o| {
                    if let Out::Deliver { to, .. } = o {
                        *to
                    } else {
                        0
                    }
                })
                .collect();
            assert_eq!(got.iter().copied().collect::<BTreeSet<_>>(), want);
            assert_eq!(got.len(), want.len(), "someone got it twice");
            outs
        }
        74..=81 => w.disconnect(s),
        82..=84 if (0..n).filter(|&d| w.daemons[d].up).count() > 1 => w.crash(rng.below(n)),
        85..=89 => w.restart(rng.below(n)),
        90..=94 => {
            let k = 1 + rng.below(3);
            let mut parts = vec![Vec::new(); k];
            for d in (0..n).filter(|&d| w.daemons[d].up) {
                parts[rng.below(k)].push(d);
            }
            parts.retain(|p| !p.is_empty());
            w.partition(&parts).expect("valid partition")
        }
        _ => w.heal(),
    }
}

#[test]
fn random_operations_keep_virtual_synchrony() {
    for seed in [0x9e37_79b9_7f4a_7c15_u64, 42, 0xdead_beef, 7] {
        let mut w = World::new(&["n1", "n2", "n3", "n4"]);
        let mut rng = Rng(seed);
        let mut checker = Checker::default();
        for step in 0..3000 {
            let outs = random_step(&mut w, &mut rng, step);
            checker.feed(&w, &outs);
            checker.check_state(&w);
        }
        let (n, m, t) = (checker.networks, checker.merges, checker.transitions);
        assert!(
            n > 100 && m > 30 && t > 50,
            "seed {seed}: too tame ({n} {m} {t})"
        );
    }
}
