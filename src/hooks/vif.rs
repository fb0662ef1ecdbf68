//! What a hook is told about the VIF it runs for: the C records of
//! `RunDynamic` and the environment of `RunScript`.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::record::{CInterface, CallArgs, MAX_EXTRAS};
use crate::config::{HookEvent, Vif, VifId, VipAddr};

/// The `PATH` of every hook: nothing else of the daemon's environment
/// reaches a hook (a `PATH` the daemon was started with could name a
/// directory anyone may write).
pub const HOOK_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The environment variables a `RunScript` program may get, besides
/// [`HOOK_PATH`]; a hook gets nothing else.
pub const SCRIPT_VARS: [&str; 7] = [
    "WACKAMOLE_EVENT",
    "WACKAMOLE_VIP",
    "WACKAMOLE_ADDRESSES",
    "WACKAMOLE_IFNAME",
    "WACKAMOLE_OWNER",
    "WACKAMOLE_PREFIX",
    // `check up` and `check down` only: the check's program.
    "WACKAMOLE_CHECK",
];

/// One VIF as an `on up` or `on down` hook sees it: its addresses, and
/// the node that held it before the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookVif {
    id: VifId,
    addrs: Vec<VipAddr>,
    owner: Option<Ipv4Addr>,
    args: CallArgs,
}

impl HookVif {
    /// `owner` is the holder before the change (`None`, or 0.0.0.0, for
    /// an unclaimed VIF; the previous owner on a balance move; this node
    /// for a release).
    ///
    /// The C records hold IPv4 only: `master` is the first IPv4 address
    /// (the VIF's first address, unless that is IPv6), the extras the
    /// other IPv4 ones in order; IPv6 addresses reach `RunScript` alone.
    pub fn new(vif: &Vif, owner: Option<Ipv4Addr>) -> HookVif {
        let owner = owner.filter(|o| !o.is_unspecified());
        let mut args = CallArgs::ZERO;
        let mut v4 = vif.v4().map(CInterface::from_ifaddr);
        if let Some(m) = v4.next() {
            args.master = m;
        }
        for (slot, r) in args.extras.iter_mut().zip(v4.take(MAX_EXTRAS)) {
            *slot = r;
        }
        args.owner = CInterface::owner(owner);
        HookVif {
            id: vif.id(),
            addrs: vif.addrs.clone(),
            owner,
            args,
        }
    }

    /// The three arguments of the C call.
    pub fn args(&self) -> &CallArgs {
        &self.args
    }

    /// The VIF's identity.
    pub fn id(&self) -> VifId {
        self.id
    }

    /// The VIF's first address, which names it.
    pub fn master(&self) -> Option<&VipAddr> {
        self.addrs.first()
    }

    pub fn owner(&self) -> Option<Ipv4Addr> {
        self.owner
    }
}

/// `IF:ADDR/PREFIX`, IPv6 without brackets: `IF` is everything before
/// the first colon (interface names have none).
fn address_word(a: &VipAddr) -> String {
    match a {
        VipAddr::V4(a) => format!("{}:{}/{}", a.ifname, a.addr, a.prefix),
        VipAddr::V6(a) => format!("{}:{}/{}", a.ifname, a.addr, a.prefix),
    }
}

/// The variables a `RunScript` program gets, in a fixed order. `post`
/// events, and an `on` event without a VIF, get `WACKAMOLE_EVENT` only;
/// `check` events that and `WACKAMOLE_CHECK` (set by the caller, which
/// knows the check).
pub fn script_env(event: HookEvent, vif: Option<&HookVif>) -> Vec<(&'static str, String)> {
    let mut env = vec![("WACKAMOLE_EVENT", event.as_str().to_string())];
    let on = event.is_per_vif();
    let Some((vif, master)) = vif.filter(|_| on).and_then(|v| Some((v, v.master()?))) else {
        return env;
    };
    let (ip, prefix) = match master {
        VipAddr::V4(a) => (a.addr.to_string(), a.prefix),
        VipAddr::V6(a) => (Ipv6Addr::to_string(&a.addr), a.prefix),
    };
    let all: Vec<String> = vif.addrs.iter().map(address_word).collect();
    env.push(("WACKAMOLE_VIP", ip));
    env.push(("WACKAMOLE_ADDRESSES", all.join(" ")));
    env.push(("WACKAMOLE_IFNAME", master.ifname().to_string()));
    env.push((
        "WACKAMOLE_OWNER",
        vif.owner.map(|o| o.to_string()).unwrap_or_default(),
    ));
    env.push(("WACKAMOLE_PREFIX", prefix.to_string()));
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Pos;
    use crate::testutil::{vip4, vip6};

    fn vif(addrs: Vec<VipAddr>) -> Vif {
        Vif {
            addrs,
            pos: Pos { line: 1, col: 1 },
        }
    }

    #[test]
    fn records_of_a_grouped_vif() {
        let v = vif(vec![
            vip4("eth0", "192.0.2.10", 24, 24),
            vip6("eth0", "2001:db8::10", 64),
            vip4("eth1", "198.51.100.7", 32, 24),
        ]);
        let h = HookVif::new(&v, Some(Ipv4Addr::new(10, 0, 0, 2)));
        let a = h.args();
        assert_eq!(a.master.name(), "eth0");
        assert_eq!(a.master.ip(), Ipv4Addr::new(192, 0, 2, 10));
        assert_eq!(a.master.broadcast(), Ipv4Addr::new(192, 0, 2, 255));
        assert_eq!(a.extras[0].name(), "eth1");
        assert_eq!(a.extras[0].ip(), Ipv4Addr::new(198, 51, 100, 7));
        assert_eq!(a.used_extras().count(), 1);
        assert_eq!(a.owner.ip(), Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(a.owner.name(), "");
    }

    #[test]
    fn unspecified_owner_is_none() {
        let v = vif(vec![vip4("eth0", "192.0.2.10", 32, 24)]);
        let h = HookVif::new(&v, Some(Ipv4Addr::UNSPECIFIED));
        assert_eq!(h.owner(), None);
        assert_eq!(h.args().owner, CInterface::ZERO);
    }

    #[test]
    fn environment_of_an_on_event() {
        let v = vif(vec![
            vip4("eth0", "192.0.2.10", 24, 24),
            vip4("eth1", "198.51.100.7", 32, 24),
            vip6("eth0", "2001:db8::10", 64),
        ]);
        let h = HookVif::new(&v, Some(Ipv4Addr::new(10, 0, 0, 2)));
        assert_eq!(
            script_env(HookEvent::OnUp, Some(&h)),
            vec![
                ("WACKAMOLE_EVENT", "on up".to_string()),
                ("WACKAMOLE_VIP", "192.0.2.10".to_string()),
                (
                    "WACKAMOLE_ADDRESSES",
                    "eth0:192.0.2.10/24 eth1:198.51.100.7/32 eth0:2001:db8::10/64".to_string()
                ),
                ("WACKAMOLE_IFNAME", "eth0".to_string()),
                ("WACKAMOLE_OWNER", "10.0.0.2".to_string()),
                ("WACKAMOLE_PREFIX", "24".to_string()),
            ]
        );
        let unowned = HookVif::new(&v, None);
        let env = script_env(HookEvent::OnDown, Some(&unowned));
        assert_eq!(env[0].1, "on down");
        assert!(env.contains(&("WACKAMOLE_OWNER", String::new())));
        for (name, _) in &env {
            assert!(SCRIPT_VARS.contains(name), "{name}");
        }
    }

    #[test]
    fn environment_of_an_ipv6_vif() {
        let v = vif(vec![vip6("eth2", "2001:db8::1", 128)]);
        let h = HookVif::new(&v, None);
        let env = script_env(HookEvent::OnUp, Some(&h));
        assert!(env.contains(&("WACKAMOLE_VIP", "2001:db8::1".to_string())));
        assert!(env.contains(&("WACKAMOLE_PREFIX", "128".to_string())));
        assert!(env.contains(&("WACKAMOLE_IFNAME", "eth2".to_string())));
        // No IPv4 address: C's records stay zero.
        assert_eq!(*h.args(), CallArgs::ZERO);
    }

    #[test]
    fn post_events_get_the_event_only() {
        let v = vif(vec![vip4("eth0", "192.0.2.10", 32, 24)]);
        let h = HookVif::new(&v, None);
        for e in [HookEvent::PostUp, HookEvent::PostDown] {
            assert_eq!(
                script_env(e, Some(&h)),
                vec![("WACKAMOLE_EVENT", e.as_str().to_string())]
            );
            assert_eq!(script_env(e, None).len(), 1);
        }
    }
}
