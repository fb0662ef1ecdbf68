//! The effective configuration in a few lines, for `wackamole -t`.

use std::fmt::Write;
use std::time::Duration;

use super::{BalanceRate, Config, HookTarget, NotifyTarget, PreferEntry, VipAddr};

/// `300s` as `5m`, `7200s` as `2h`, else seconds.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => "0s".to_string(),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// `identity`, when given, is the `NodeAddress` line's text.
pub(super) fn render(c: &Config, identity: Option<&str>) -> String {
    let mut o = String::new();
    let w = &mut o;
    let _ = writeln!(w, "{}: configuration is valid", c.file().display());
    match c.membership() {
        super::Backend::Spread => {
            let _ = writeln!(
                w,
                "  Spread               {} ({})",
                c.spread_text(),
                c.spread()
            );
        }
        super::Backend::Corosync => {
            let _ = writeln!(
                w,
                "  Membership           corosync (CPG group on the local corosync)"
            );
        }
    }
    let _ = writeln!(w, "  Group                {}", c.group());
    let node = match (identity, c.node_address()) {
        (Some(i), _) => i.to_string(),
        (None, Some(a)) => a.to_string(),
        (None, None) => "(not set: from the host name, else an interface)".to_string(),
    };
    let _ = writeln!(w, "  NodeAddress          {node}");
    let _ = writeln!(
        w,
        "  Control              {}{}",
        c.control().display(),
        if c.control_is_default() {
            " (default)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        w,
        "  ControlGroup         {}",
        c.control_group().map_or_else(
            || "(not set: root only, socket mode 0600)".to_string(),
            |g| format!("{g}: root and its members, socket mode 0660")
        )
    );
    if let Some(u) = c.spread_user() {
        let _ = writeln!(
            w,
            "  SpreadUser           {u}: may own the Spread socket besides root"
        );
    }
    let _ = writeln!(
        w,
        "  SpreadRetryInterval  {}",
        duration(c.spread_retry_interval())
    );
    let _ = writeln!(w, "  Mature               {}", duration(c.mature()));
    if let Some(p) = c.shared_secret_file() {
        let _ = writeln!(
            w,
            "  SharedSecretFile     {}: every message is authenticated (every node needs the key)",
            p.display()
        );
    }
    let _ = match c.gather_timeout() {
        Some(t) => writeln!(
            w,
            "  GatherTimeout        {}: a state exchange closes without members silent that long",
            duration(t)
        ),
        None => writeln!(
            w,
            "  GatherTimeout        never: every member's STATE is awaited (C)"
        ),
    };
    if let Some(q) = c.quorum() {
        let _ = writeln!(
            w,
            "  Quorum               {q}: in a view of fewer members this node holds no VIP (every node needs it; C nodes ignore it)"
        );
    }
    let b = c.balance();
    let n = c.vifs().len();
    let rate = b.effective_rate(n);
    match b.rate {
        BalanceRate::All => {
            let _ = writeln!(
                w,
                "  Balance              all: up to {rate} moves right after each state exchange, then every {} while unbalanced",
                duration(b.interval)
            );
        }
        BalanceRate::PerRound(k) => {
            let capped = if k > rate {
                format!(" (AcquisitionsPerRound = {k}, capped at VIFs/2)")
            } else {
                String::new()
            };
            let _ = writeln!(
                w,
                "  Balance              up to {rate} moves every {}{capped}",
                duration(b.interval)
            );
        }
    }
    let _ = writeln!(w, "  Arp-Cache            {}", duration(c.arp_cache()));
    let _ = match c.arp_refresh() {
        Some(t) => writeln!(
            w,
            "  ArpRefresh           {}: each held VIP announced again once per {}, spread over it",
            duration(t),
            duration(t)
        ),
        None => writeln!(w, "  ArpRefresh           off"),
    };
    let _ = writeln!(w, "  LogFacility          {}", c.log_facility().name());

    let prefer: Vec<String> = c
        .prefer()
        .iter()
        .map(|p| match p {
            PreferEntry::None => "None".to_string(),
            PreferEntry::Range { addr, .. } => addr.to_string(),
            PreferEntry::Exact6 { addr } => format!("[{addr}]/128"),
        })
        .collect();
    if prefer.is_empty() {
        let _ = writeln!(w, "  Prefer               (not set)");
    } else {
        let sent: Vec<String> = c.preferred().iter().map(|a| a.to_string()).collect();
        let _ = writeln!(
            w,
            "  Prefer               {} -> STATE carries [{}]",
            prefer.join(" "),
            sent.join(" ")
        );
    }

    let addrs: usize = c.vifs().iter().map(|v| v.addrs.len()).sum();
    let _ = writeln!(w, "  VirtualInterfaces    {n} VIFs, {addrs} addresses");
    for (i, v) in c.vifs().iter().enumerate() {
        if v.is_placeholder() {
            let _ = writeln!(
                w,
                "  {:>5}  {:<28} standby placeholder: allocated like a VIF, no address, nothing announced, no on up/on down hooks",
                i + 1,
                v.first().to_string()
            );
            continue;
        }
        for (j, a) in v.addrs.iter().enumerate() {
            let lead = if j == 0 {
                format!("{:>5}", i + 1)
            } else {
                "    +".to_string()
            };
            match a {
                VipAddr::V4(a) => {
                    let _ = writeln!(
                        w,
                        "  {lead}  {:<28} netmask {:<15} broadcast {:<15} notify within /{}",
                        a.to_string(),
                        a.netmask().to_string(),
                        a.broadcast().to_string(),
                        a.net_prefix
                    );
                }
                VipAddr::V6(a6) => {
                    let id = if j == 0 {
                        format!(" (on the wire as {})", v.id())
                    } else {
                        String::new()
                    };
                    let told = if c.notify_none() {
                        "not announced (Notify None)"
                    } else {
                        "announced to ff02::1"
                    };
                    let _ = writeln!(w, "  {lead}  {:<28} {told}{id}", a6.to_string());
                }
            }
        }
    }

    let unreached = if c.notify_none() {
        "is not announced (Notify None)"
    } else {
        "is told to the whole segment (gratuitous ARP)"
    };
    if c.notify().is_empty() {
        let _ = writeln!(
            w,
            "  Notify               (no entries): each VIP {unreached}"
        );
    } else {
        let _ = writeln!(
            w,
            "  Notify               {} entries; a VIP none reaches {unreached}",
            c.notify().len()
        );
        for e in c.notify() {
            let target = match &e.target {
                NotifyTarget::ArpCache => "arp-cache (the shared ARP cache)".to_string(),
                NotifyTarget::Block(a) if a.ifname.is_empty() => {
                    format!("{a} (on each VIP's interface)")
                }
                NotifyTarget::Block(a) => a.to_string(),
            };
            let throttle = if e.throttle > 0 {
                format!(", at most {}/s", e.throttle)
            } else {
                String::new()
            };
            let ping = if e.ping { ", with ping" } else { "" };
            let _ = writeln!(w, "         {target}{throttle}{ping}");
        }
    }

    if !c.checks().is_empty() {
        let _ = writeln!(
            w,
            "  Checks               {}: the node leaves the group while any is down",
            c.checks().len()
        );
        for k in c.checks() {
            let _ = writeln!(
                w,
                "    {}  every {}, killed after {}, down after {} failures in a row, up after {} passes",
                k.run.display(),
                duration(k.interval),
                duration(k.timeout),
                k.fall,
                k.rise
            );
        }
    }
    if !c.hooks().is_empty() {
        let _ = writeln!(
            w,
            "  Hooks                {}, at most {} processes at once",
            c.hooks().len(),
            c.hook_limit()
        );
        for h in c.hooks() {
            let what = match &h.target {
                HookTarget::Shared {
                    module,
                    func,
                    module_dir,
                } => format!("{func}() from {}/{module}[.so]", module_dir.display()),
                HookTarget::Perl { sub_name } => {
                    format!("Perl {sub_name} (run by {})", c.perl_path().display())
                }
                HookTarget::Script { path } => format!("program {}", path.display()),
            };
            let _ = writeln!(w, "    {:<10} {what}", h.event.as_str());
        }
    }
    for lib in c.perl_use_lib() {
        let _ = writeln!(w, "  PerlUseLib           {lib}");
    }
    for m in c.perl_use() {
        let _ = writeln!(w, "  PerlUse              {m}");
    }
    o
}
