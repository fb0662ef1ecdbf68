//! What a reload changes: two configurations in, a [`Diff`] out. Pure;
//! the engine turns the VIF part into actions
//! (`cluster::Engine::reconfigure`), the daemon the rest (hooks, a
//! reconnect) and logs [`Diff::summary`].

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::{BalanceRate, Check, Config, Vif, VifId};

/// Why a reload must leave the group and join again: the node would be
/// another member (another group, Spread daemon or identity).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconnect {
    Group,
    /// Another group system (`Membership =`).
    Membership,
    Spread,
    NodeAddress,
}

/// A setting that changed and takes effect without reconnecting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setting {
    Mature(Duration, Duration),
    GatherTimeout(Option<Duration>, Option<Duration>),
    ArpCache(Duration, Duration),
    SpreadRetryInterval(Duration, Duration),
    BalanceInterval(Duration, Duration),
    AcquisitionsPerRound(BalanceRate, BalanceRate),
    /// Sent at the next membership, as STATE carries it.
    Prefer,
    Notify,
    /// Hooks, PerlUse, PerlUseLib or PerlPath.
    Hooks,
    /// Another key file (the keys are read again at every reload).
    SharedSecretFile,
    /// Who may use the control socket (its group and mode follow).
    ControlGroup,
    /// Who may own the Spread socket (checked at the next connect).
    SpreadUser,
    /// How many hook processes may run at once.
    HookLimit(usize, usize),
    /// How often held VIPs are announced again (`None`: never).
    ArpRefresh(Option<Duration>, Option<Duration>),
    /// The members a view needs for this node to hold VIPs (`None`:
    /// off); applied at once to the current view.
    Quorum(Option<usize>, Option<usize>),
    /// `Check` blocks added, removed or changed (by `Run` path): those
    /// restart, the others run on untouched.
    Checks {
        added: Vec<PathBuf>,
        removed: Vec<PathBuf>,
        changed: Vec<PathBuf>,
    },
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Setting::Mature(a, b) => write!(f, "Mature {a:?} -> {b:?}"),
            Setting::GatherTimeout(a, b) => write!(f, "GatherTimeout {a:?} -> {b:?}"),
            Setting::ArpCache(a, b) => write!(f, "Arp-Cache {a:?} -> {b:?}"),
            Setting::SpreadRetryInterval(a, b) => {
                write!(f, "SpreadRetryInterval {a:?} -> {b:?}")
            }
            Setting::BalanceInterval(a, b) => write!(f, "Balance Interval {a:?} -> {b:?}"),
            Setting::AcquisitionsPerRound(a, b) => {
                write!(f, "AcquisitionsPerRound {a:?} -> {b:?}")
            }
            Setting::Prefer => f.write_str("Prefer changed (sent at the next membership)"),
            Setting::Notify => f.write_str("Notify changed"),
            Setting::Hooks => f.write_str("hooks changed"),
            Setting::SharedSecretFile => f.write_str("SharedSecretFile changed"),
            Setting::ControlGroup => f.write_str("ControlGroup changed"),
            Setting::SpreadUser => f.write_str("SpreadUser changed"),
            Setting::HookLimit(a, b) => write!(f, "HookLimit {a} -> {b}"),
            Setting::ArpRefresh(a, b) => {
                let show = |d: &Option<Duration>| match d {
                    Some(d) => super::summary::duration(*d),
                    None => "off".to_string(),
                };
                write!(f, "ArpRefresh {} -> {}", show(a), show(b))
            }
            Setting::Quorum(a, b) => {
                let n = |q: &Option<usize>| q.map_or_else(|| "off".to_string(), |n| n.to_string());
                write!(f, "Quorum {} -> {}", n(a), n(b))
            }
            Setting::Checks {
                added,
                removed,
                changed,
            } => {
                let mut parts = Vec::new();
                for (what, list) in [("added", added), ("changed", changed), ("removed", removed)] {
                    if !list.is_empty() {
                        let paths: Vec<String> =
                            list.iter().map(|p| p.display().to_string()).collect();
                        parts.push(format!("{what} {}", paths.join(" ")));
                    }
                }
                write!(f, "checks {}", parts.join(", "))
            }
        }
    }
}

/// Checks matched by their `Run` path: one with the same path and
/// other parameters is changed; where a block is written does not
/// matter.
fn checks_diff(old: &[Check], new: &[Check]) -> Option<Setting> {
    fn find<'a>(list: &'a [Check], c: &Check) -> Option<&'a Check> {
        list.iter().find(|o| o.run == c.run)
    }
    let mut added = Vec::new();
    let mut changed = Vec::new();
    for c in new {
        match find(old, c) {
            None => added.push(c.run.clone()),
            Some(o) if !o.same_as(c) => changed.push(c.run.clone()),
            Some(_) => {}
        }
    }
    let removed: Vec<PathBuf> = old
        .iter()
        .filter(|o| find(new, o).is_none())
        .map(|o| o.run.clone())
        .collect();
    if added.is_empty() && removed.is_empty() && changed.is_empty() {
        return None;
    }
    Some(Setting::Checks {
        added,
        removed,
        changed,
    })
}

/// The difference between a running configuration and a new one. VIFs
/// are matched by [`VifId`]; where one is written does not matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diff {
    /// Their definitions, in the new file's order.
    pub added: Vec<Vif>,
    /// Their old definitions (what to take down), in the old file's order.
    pub removed: Vec<Vif>,
    /// Same identity, other addresses: `(old, new)`, in the new order.
    pub redefined: Vec<(Vif, Vif)>,
    /// Same identity, same addresses, in the new order.
    pub unchanged: Vec<VifId>,
    /// Settings that make the node another member of the group.
    pub reconnect: Vec<Reconnect>,
    /// Everything else that changed, in file-independent order.
    pub settings: Vec<Setting>,
}

impl Diff {
    pub fn new(old: &Config, new: &Config) -> Diff {
        let mut d = Diff {
            added: Vec::new(),
            removed: Vec::new(),
            redefined: Vec::new(),
            unchanged: Vec::new(),
            reconnect: Vec::new(),
            settings: Vec::new(),
        };
        for v in new.vifs() {
            match old.vif(v.id()) {
                None => d.added.push(v.clone()),
                Some(o) if o.same_addrs(v) => d.unchanged.push(v.id()),
                Some(o) => d.redefined.push((o.clone(), v.clone())),
            }
        }
        d.removed = old
            .vifs()
            .iter()
            .filter(|o| new.vif(o.id()).is_none())
            .cloned()
            .collect();
        if old.group() != new.group() {
            d.reconnect.push(Reconnect::Group);
        }
        if old.membership() != new.membership() {
            d.reconnect.push(Reconnect::Membership);
        }
        if old.spread() != new.spread() {
            d.reconnect.push(Reconnect::Spread);
        }
        if old.node_address() != new.node_address() {
            d.reconnect.push(Reconnect::NodeAddress);
        }
        let s = &mut d.settings;
        if old.mature() != new.mature() {
            s.push(Setting::Mature(old.mature(), new.mature()));
        }
        if old.gather_timeout() != new.gather_timeout() {
            s.push(Setting::GatherTimeout(
                old.gather_timeout(),
                new.gather_timeout(),
            ));
        }
        if old.arp_cache() != new.arp_cache() {
            s.push(Setting::ArpCache(old.arp_cache(), new.arp_cache()));
        }
        let (a, b) = (old.spread_retry_interval(), new.spread_retry_interval());
        if a != b {
            s.push(Setting::SpreadRetryInterval(a, b));
        }
        let (a, b) = (old.balance(), new.balance());
        if a.interval != b.interval {
            s.push(Setting::BalanceInterval(a.interval, b.interval));
        }
        if a.rate != b.rate {
            s.push(Setting::AcquisitionsPerRound(a.rate, b.rate));
        }
        if old.preferred() != new.preferred() {
            s.push(Setting::Prefer);
        }
        // Where an entry is written does not matter (a VIF added above
        // the Notify block moves it).
        let notify = |c: &Config| {
            let list: Vec<_> = c
                .notify()
                .iter()
                .map(|e| (e.target.clone(), e.throttle, e.ping))
                .collect();
            (list, c.notify_none())
        };
        if notify(old) != notify(new) {
            s.push(Setting::Notify);
        }
        let hooks = |c: &Config| {
            let list: Vec<_> = c
                .hooks()
                .iter()
                .map(|h| (h.target.clone(), h.event))
                .collect();
            (
                list,
                c.perl_use().to_vec(),
                c.perl_use_lib().to_vec(),
                c.perl_path().to_path_buf(),
            )
        };
        if hooks(old) != hooks(new) {
            s.push(Setting::Hooks);
        }
        if old.shared_secret_file() != new.shared_secret_file() {
            s.push(Setting::SharedSecretFile);
        }
        if old.control_group() != new.control_group() {
            s.push(Setting::ControlGroup);
        }
        if old.spread_user() != new.spread_user() {
            s.push(Setting::SpreadUser);
        }
        if old.hook_limit() != new.hook_limit() {
            s.push(Setting::HookLimit(old.hook_limit(), new.hook_limit()));
        }
        if old.arp_refresh() != new.arp_refresh() {
            s.push(Setting::ArpRefresh(old.arp_refresh(), new.arp_refresh()));
        }
        if old.quorum() != new.quorum() {
            s.push(Setting::Quorum(old.quorum(), new.quorum()));
        }
        if let Some(checks) = checks_diff(old.checks(), new.checks()) {
            s.push(checks);
        }
        d
    }

    /// The `Check` part of the diff, if any.
    pub fn checks_changed(&self) -> bool {
        self.settings
            .iter()
            .any(|s| matches!(s, Setting::Checks { .. }))
    }

    /// True when the new configuration needs a new connection, given
    /// that the command line may pin the Spread daemon (`-s`) and the
    /// identity (`-a`), which then no config change moves.
    pub fn needs_reconnect(&self, spread_pinned: bool, identity_pinned: bool) -> bool {
        self.reconnect.iter().any(|r| match r {
            Reconnect::Group | Reconnect::Membership => true,
            Reconnect::Spread => !spread_pinned,
            Reconnect::NodeAddress => !identity_pinned,
        })
    }

    pub fn hooks_changed(&self) -> bool {
        self.settings.contains(&Setting::Hooks)
    }

    /// What changed, in the words the reload log line and `wackatrl -r`
    /// use (without the reconnect, which the daemon decides).
    pub fn summary(&self) -> Vec<String> {
        let names = |ids: &mut dyn Iterator<Item = String>| ids.collect::<Vec<_>>().join(" ");
        let mut out = Vec::new();
        if !self.added.is_empty() {
            out.push(format!(
                "VIFs added: {}",
                names(&mut self.added.iter().map(|v| v.first().to_string()))
            ));
        }
        if !self.removed.is_empty() {
            out.push(format!(
                "VIFs removed: {}",
                names(&mut self.removed.iter().map(|v| v.first().to_string()))
            ));
        }
        if !self.redefined.is_empty() {
            out.push(format!(
                "VIFs redefined: {}",
                names(&mut self.redefined.iter().map(|(_, v)| v.first().to_string()))
            ));
        }
        out.extend(self.settings.iter().map(Setting::to_string));
        out
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn conf(body: &str) -> Config {
        let text = format!("Group = wack1\nMature = 5s\n{body}\n");
        crate::config::parse(&text, Path::new("t.conf"))
            .unwrap_or_else(|e| panic!("{e}"))
            .config
    }

    fn vifs(list: &str) -> Config {
        conf(&format!("VirtualInterfaces {{ {list} }}"))
    }

    fn id(a: &str) -> VifId {
        VifId::new(a.parse().unwrap())
    }

    #[test]
    fn the_same_file_changes_nothing() {
        let c = vifs("eth0:10.0.0.1/24 { eth0:10.0.0.2/24 eth0:10.0.0.3/24 }");
        let d = c.diff(&c.clone());
        assert!(d.added.is_empty() && d.removed.is_empty() && d.redefined.is_empty());
        assert_eq!(d.unchanged, [id("10.0.0.1"), id("10.0.0.2")]);
        assert!(d.reconnect.is_empty() && d.settings.is_empty());
        assert!(d.summary().is_empty());
    }

    #[test]
    fn vifs_are_matched_by_identity_not_position() {
        let old = vifs("eth0:10.0.0.1/24 eth0:10.0.0.2/24 eth0:10.0.0.3/24");
        // Reordered, one removed, one added, one regrouped (same first
        // address, more addresses).
        let new = vifs("eth0:10.0.0.9/24 { eth0:10.0.0.3/24 eth0:10.0.0.4/24 } eth0:10.0.0.1/24");
        let d = old.diff(&new);
        assert_eq!(
            d.added.iter().map(Vif::id).collect::<Vec<_>>(),
            [id("10.0.0.9")]
        );
        assert_eq!(
            d.removed.iter().map(Vif::id).collect::<Vec<_>>(),
            [id("10.0.0.2")]
        );
        assert_eq!(d.redefined.len(), 1);
        let (o, n) = &d.redefined[0];
        assert_eq!((o.id(), n.id()), (id("10.0.0.3"), id("10.0.0.3")));
        assert_eq!((o.addrs.len(), n.addrs.len()), (1, 2));
        assert_eq!(d.unchanged, [id("10.0.0.1")]);
        assert_eq!(
            d.summary(),
            [
                "VIFs added: eth0:10.0.0.9/24",
                "VIFs removed: eth0:10.0.0.2/24",
                "VIFs redefined: eth0:10.0.0.3/24",
            ]
        );
    }

    #[test]
    fn a_changed_prefix_or_interface_redefines() {
        let old = vifs("eth0:10.0.0.1/24 eth0:[2001:db8::10]/64");
        for new in [
            "eth0:10.0.0.1/25 eth0:[2001:db8::10]/64",
            "eth1:10.0.0.1/24 eth0:[2001:db8::10]/64",
            "eth0:10.0.0.1/24 eth0:[2001:db8::10]/112",
        ] {
            let d = old.diff(&vifs(new));
            assert_eq!(d.redefined.len(), 1, "{new}");
            assert_eq!(d.unchanged.len(), 1, "{new}");
        }
    }

    #[test]
    fn an_ipv6_vif_is_named_by_its_wire_id() {
        let old = vifs("eth0:[2001:db8::10]/64");
        let new = vifs("{ eth0:[2001:db8::10]/64 eth0:[2001:db8::11]/64 }");
        let d = old.diff(&new);
        let want = VifId::new(crate::config::addr::wire_id_v6(
            "2001:db8::10".parse().unwrap(),
        ));
        assert_eq!(d.redefined[0].1.id(), want);
        assert!(d.added.is_empty() && d.removed.is_empty());
    }

    #[test]
    fn another_membership_backend_forces_a_reconnect() {
        let base = "VirtualInterfaces { e0:10.0.0.1/32 }";
        let old = conf(base);
        let d = old.diff(&conf(&format!("{base}\nMembership = spread")));
        assert!(d.reconnect.is_empty(), "spread is the default");
        if cfg!(feature = "corosync") {
            let d = old.diff(&conf(&format!("{base}\nMembership = corosync")));
            assert_eq!(d.reconnect, [Reconnect::Membership]);
            assert!(d.needs_reconnect(true, true));
        }
    }

    #[test]
    fn group_spread_and_identity_force_a_reconnect_unless_pinned() {
        let base = "VirtualInterfaces { eth0:10.0.0.1/24 }";
        let old = conf(base);
        let d = old.diff(&conf(&format!("{base}\nSpread = 4804")));
        assert_eq!(d.reconnect, [Reconnect::Spread]);
        assert!(d.needs_reconnect(false, false));
        assert!(!d.needs_reconnect(true, false), "-s pins the daemon");
        let d = old.diff(&conf(&format!("{base}\nNodeAddress = 192.0.2.1")));
        assert_eq!(d.reconnect, [Reconnect::NodeAddress]);
        assert!(!d.needs_reconnect(false, true), "-a pins the identity");
        let text = format!("Group = other\nMature = 5s\n{base}\n");
        let other = crate::config::parse(&text, Path::new("t.conf"))
            .unwrap()
            .config;
        let d = old.diff(&other);
        assert_eq!(d.reconnect, [Reconnect::Group]);
        assert!(d.needs_reconnect(true, true));
    }

    #[test]
    fn moving_a_block_in_the_file_changes_nothing() {
        let old = conf("VirtualInterfaces { eth0:10.0.0.1/24 }\nNotify { eth0:10.0.0.0/24 }\nRunScript /bin/true on up");
        let new = conf("\n\nNotify { eth0:10.0.0.0/24 }\nRunScript /bin/true on up\n\nVirtualInterfaces {\n eth0:10.0.0.1/24\n}");
        assert!(old.diff(&new).settings.is_empty(), "{:?}", old.diff(&new));
        assert!(old.diff(&new).summary().is_empty());
    }

    #[test]
    fn settings_say_what_changed() {
        let base = "VirtualInterfaces { eth0:10.0.0.1/24 eth0:10.0.0.2/24 }";
        let old = conf(base);
        let new = conf(&format!(
            "{base}\nArp-Cache = 10s\nSpreadRetryInterval = 2s\n\
             Balance {{ Interval = 9s AcquisitionsPerRound = all }}\n\
             Prefer eth0:10.0.0.1/32\nNotify {{ eth0:10.0.0.0/24 }}\n\
             RunScript /bin/true on up"
        ));
        let d = old.diff(&new);
        assert!(d.reconnect.is_empty());
        let text = d.summary().join("; ");
        for want in [
            "Arp-Cache 60s -> 10s",
            "SpreadRetryInterval 5s -> 2s",
            "Balance Interval 300s -> 9s",
            "AcquisitionsPerRound PerRound(1) -> All",
            "Prefer changed",
            "Notify changed",
            "hooks changed",
        ] {
            assert!(text.contains(want), "{want} not in {text}");
        }
        assert!(d.hooks_changed());
        let seven = |c: Config| {
            let text = format!("Group = wack1\nMature = 7s\n{base}\n");
            let new = crate::config::parse(&text, Path::new("t.conf")).unwrap();
            c.diff(&new.config)
        };
        assert_eq!(seven(conf(base)).summary(), ["Mature 5s -> 7s"]);
    }

    #[test]
    fn arp_refresh_is_a_setting() {
        let base = "VirtualInterfaces { eth0:10.0.0.1/24 }";
        let d = conf(base).diff(&conf(&format!("{base}\nArpRefresh = 2s")));
        assert_eq!(
            d.settings,
            [Setting::ArpRefresh(None, Some(Duration::from_secs(2)))]
        );
        assert_eq!(d.summary(), ["ArpRefresh off -> 2s"]);
        assert!(d.reconnect.is_empty());
    }

    #[test]
    fn notify_none_alone_changes_notify() {
        // It decides whether a VIP no entry reaches is announced at all.
        let base = "VirtualInterfaces { eth0:10.0.0.1/24 }";
        let d = conf(base).diff(&conf(&format!("{base}\nNotify None")));
        assert_eq!(d.settings, [Setting::Notify]);
    }

    #[test]
    fn local_settings_are_reported() {
        let base = "VirtualInterfaces { eth0:10.0.0.1/24 }";
        let old = conf(base);
        let new = conf(&format!(
            "{base}\nControlGroup = adm\nSpreadUser = spread\nHookLimit = 3"
        ));
        let d = old.diff(&new);
        assert_eq!(
            d.settings,
            [
                Setting::ControlGroup,
                Setting::SpreadUser,
                Setting::HookLimit(8, 3)
            ]
        );
        let d = old.diff(&conf(&format!("{base}\nPerlPath = /opt/bin/perl")));
        assert!(d.hooks_changed(), "{d:?}");
    }

    #[test]
    fn a_quorum_change_is_reported_and_one_means_off() {
        let base = "VirtualInterfaces { eth0:10.0.0.1/24 }";
        let q = |n: &str| conf(&format!("{base}\nQuorum = {n}"));
        let d = conf(base).diff(&q("2"));
        assert_eq!(d.settings, [Setting::Quorum(None, Some(2))]);
        assert_eq!(d.summary(), ["Quorum off -> 2"]);
        assert_eq!(q("3").diff(&q("0")).summary(), ["Quorum 3 -> off"]);
        // 0, 1 and no Quorum at all are the same: nothing changed.
        assert!(q("1").diff(&q("0")).settings.is_empty());
        assert!(conf(base).diff(&q("1")).settings.is_empty());
        assert!(!d.needs_reconnect(false, false));
    }
}
