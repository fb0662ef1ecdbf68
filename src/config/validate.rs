//! Checks across directives, the C defaults, and the final [`Config`].

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::addr::mask;
use super::error::{Error, ErrorKind, Pos, Warning, WarningKind, MAX_SOCKET_PATH};
use super::parser::Draft;
use super::prefer::{self, C_MAX_PREFER};
use super::{
    defaults, Balance, BalanceRate, Config, HookEvent, LogFacility, NotifyTarget, PreferEntry,
    DEFAULT_CONTROL,
};
use crate::cluster::msg::state_len;
use crate::spread::addr::SpreadAddr;
use crate::spread::name::{self, NameError};
use crate::spread::wire::MAX_ONE_GROUP_DATA;

/// C's table sizes (MAX_PSEUDO, MAX_NOTIF): beyond them a C node in the
/// same cluster corrupts its memory.
const C_MAX_VIFS: usize = 254;
const C_MAX_NOTIFY: usize = 1024;

struct Ctx<'a> {
    file: &'a str,
    errors: &'a mut Vec<Error>,
    warnings: &'a mut Vec<Warning>,
}

impl Ctx<'_> {
    fn error(&mut self, pos: Option<Pos>, kind: ErrorKind) {
        self.errors.push(Error {
            file: self.file.to_string(),
            pos,
            kind,
        });
    }

    fn warn(&mut self, pos: Option<Pos>, kind: WarningKind) {
        self.warnings.push(Warning {
            file: self.file.to_string(),
            pos,
            kind,
        });
    }
}

/// Whether two CIDR blocks share an address.
fn overlap(a: Ipv4Addr, pa: u8, b: Ipv4Addr, pb: u8) -> bool {
    (u32::from(a) ^ u32::from(b)) & mask(pa.min(pb)) == 0
}

/// The interval of a repeating timer, at least 1s.
fn repeating(
    cx: &mut Ctx<'_>,
    slot: Option<(Duration, Pos)>,
    default: Duration,
    directive: &'static str,
) -> Duration {
    match slot {
        None => default,
        Some((t, pos)) if t.is_zero() => {
            cx.warn(Some(pos), WarningKind::ZeroInterval { directive });
            Duration::from_secs(1)
        }
        Some((t, _)) => t,
    }
}

pub(super) fn finish(
    d: Draft,
    file: &Path,
    name: &str,
    errors: &mut Vec<Error>,
    warnings: &mut Vec<Warning>,
) -> Option<Config> {
    let mut cx = Ctx {
        file: name,
        errors,
        warnings,
    };

    let group = match d.group {
        None => {
            cx.error(None, ErrorKind::MissingGroup);
            String::new()
        }
        Some((g, pos)) => {
            if g.is_empty() {
                cx.error(Some(pos), ErrorKind::EmptyValue { directive: "Group" });
            } else if let Err(NameError::TooLong { .. }) = name::check_group(&g) {
                // Only the length is a config error; Spread refuses the
                // other bad names when the daemon joins.
                cx.error(Some(pos), ErrorKind::GroupTooLong { group: g.clone() });
            }
            g
        }
    };

    let (spread_text, spread) = match d.spread {
        None => ("4803".to_string(), SpreadAddr::default()),
        // Spread's own library reads an empty name as the default.
        Some((s, _)) if s.is_empty() => ("4803".to_string(), SpreadAddr::default()),
        Some((s, pos)) => match SpreadAddr::parse(&s) {
            Ok(a) => (s, a),
            Err(e) => {
                cx.error(
                    Some(pos),
                    ErrorKind::BadSpreadAddress {
                        value: s.clone(),
                        reason: e.0,
                    },
                );
                (s, SpreadAddr::default())
            }
        },
    };

    let (control, control_is_default) = match d.control {
        None => (PathBuf::from(DEFAULT_CONTROL), true),
        Some((c, pos)) => {
            if c.is_empty() {
                cx.error(
                    Some(pos),
                    ErrorKind::EmptyValue {
                        directive: "Control",
                    },
                );
            } else if c.len() > MAX_SOCKET_PATH {
                cx.error(Some(pos), ErrorKind::ControlPathTooLong { path: c.clone() });
            }
            (PathBuf::from(c), false)
        }
    };

    let log_facility = match d.log_facility {
        None => LogFacility::Daemon,
        Some((f, pos)) => LogFacility::from_name(&f).unwrap_or_else(|| {
            cx.warn(Some(pos), WarningKind::UnknownLogFacility { name: f });
            LogFacility::Daemon
        }),
    };

    if !d.saw_vifs {
        cx.error(None, ErrorKind::NoVifs);
    }
    if d.vifs.len() > C_MAX_VIFS {
        cx.warn(
            None,
            WarningKind::CLimit {
                what: "VIFs",
                count: d.vifs.len(),
                limit: C_MAX_VIFS,
            },
        );
    }
    if d.notify.len() > C_MAX_NOTIFY {
        cx.warn(
            None,
            WarningKind::CLimit {
                what: "Notify entries",
                count: d.notify.len(),
                limit: C_MAX_NOTIFY,
            },
        );
    }

    for n in &d.notify {
        if let NotifyTarget::Block(b) = &n.target {
            let reaches = d.vifs.iter().flat_map(|v| v.v4()).any(|a| {
                (b.ifname.is_empty() || b.ifname == a.ifname)
                    && overlap(b.addr, b.prefix, a.addr, a.net_prefix)
            });
            if !reaches {
                cx.warn(
                    Some(n.pos),
                    WarningKind::NotifyReachesNoVip {
                        entry: b.to_string(),
                    },
                );
            }
        }
    }

    // Each VIF's identity on the wire, once (placeholders all share
    // 0.0.0.0, as in C).
    let mut masters: HashMap<Ipv4Addr, Pos> = HashMap::new();
    for v in d.vifs.iter().filter(|v| !v.is_placeholder()) {
        if let Some(&first) = masters.get(&v.id().wire()) {
            cx.error(
                Some(v.pos),
                ErrorKind::WireIdClash {
                    id: v.id().wire(),
                    first,
                },
            );
        } else {
            masters.insert(v.id().wire(), v.pos);
        }
    }
    let mut preferred = Vec::new();
    let mut c_total = 0;
    for (entry, pos) in &d.prefer {
        let ours = prefer::ours(entry, &d.vifs);
        if let PreferEntry::Exact6 { addr } = entry {
            if ours.is_empty() {
                cx.warn(
                    Some(*pos),
                    WarningKind::PreferMatchesNothing {
                        entry: format!("[{addr}]/128"),
                    },
                );
            }
        }
        if let PreferEntry::Range { addr, .. } = entry {
            if !ours.iter().any(|a| masters.contains_key(a)) {
                cx.warn(
                    Some(*pos),
                    WarningKind::PreferMatchesNothing {
                        entry: addr.to_string(),
                    },
                );
            }
            let c = prefer::c_x86(entry, C_MAX_PREFER.saturating_sub(c_total));
            c_total += c.len();
            if c != ours {
                cx.warn(
                    Some(*pos),
                    WarningKind::PreferDiffersFromC {
                        entry: addr.to_string(),
                        ours: ours.clone(),
                        c,
                    },
                );
            }
        } else {
            c_total += 1;
        }
        preferred.extend(ours);
    }
    if preferred.len() > C_MAX_PREFER {
        cx.warn(
            None,
            WarningKind::CLimit {
                what: "prefer addresses",
                count: preferred.len(),
                limit: C_MAX_PREFER,
            },
        );
    }
    // A STATE names every VIF its sender holds, and one node may hold
    // them all: if that cannot be sent the node would lose its link at
    // every membership, so refuse the file instead.
    let tag = if d.shared_secret_file.is_some() {
        crate::auth::TAG_LEN
    } else {
        0
    };
    let room = MAX_ONE_GROUP_DATA - tag;
    let bytes = state_len(d.vifs.len(), preferred.len()) + tag;
    if bytes > MAX_ONE_GROUP_DATA {
        let per_vif = state_len(1, 0) - state_len(0, 0);
        let fits = room.saturating_sub(state_len(0, preferred.len())) / per_vif;
        cx.error(
            None,
            ErrorKind::StateTooLarge {
                vifs: d.vifs.len(),
                bytes,
                limit: MAX_ONE_GROUP_DATA,
                fits,
            },
        );
    }

    let rate = match (d.balance_all, d.balance_rate) {
        (Some(_), _) => BalanceRate::All,
        (None, Some((n, _))) => BalanceRate::PerRound(n),
        (None, None) => BalanceRate::PerRound(defaults::ACQUISITIONS_PER_ROUND),
    };
    // With `all` too: it spaces the rounds that follow the first while
    // members differ by more than one.
    let interval = repeating(
        &mut cx,
        d.balance_interval,
        defaults::BALANCE_INTERVAL,
        "Interval",
    );
    let balance = Balance { rate, interval };
    let spread_retry_interval = repeating(
        &mut cx,
        d.spread_retry_interval,
        defaults::SPREAD_RETRY_INTERVAL,
        "SpreadRetryInterval",
    );
    let arp_cache = repeating(&mut cx, d.arp_cache, defaults::ARP_CACHE, "Arp-Cache");

    if d.checks.is_empty() {
        for h in &d.hooks {
            if matches!(h.event, HookEvent::CheckUp | HookEvent::CheckDown) {
                cx.warn(
                    Some(h.pos),
                    WarningKind::NoChecks {
                        event: h.event.as_str(),
                    },
                );
            }
        }
    }

    let base = file.parent().unwrap_or(Path::new("."));
    if !cx.errors.is_empty() {
        return None;
    }
    Some(Config {
        file: file.to_path_buf(),
        spread,
        spread_text,
        spread_retry_interval,
        group,
        control,
        control_is_default,
        mature: d.mature.map_or(defaults::MATURE, |(t, _)| t),
        arp_cache,
        balance,
        log_facility,
        module_dir: d.module_dir_path.unwrap_or_else(|| base.to_path_buf()),
        perl_use_lib: d.perl_use_lib,
        perl_use: d.perl_use,
        hooks: d.hooks,
        prefer: d.prefer.into_iter().map(|(e, _)| e).collect(),
        preferred,
        vif_index: d
            .vifs
            .iter()
            .enumerate()
            .rev()
            // Several placeholders share the id 0.0.0.0: the first wins.
            .map(|(i, v)| (v.id(), i))
            .collect(),
        vifs: d.vifs,
        notify: d.notify,
        notify_none: d.notify_none,
        node_address: d.node_address.map(|(a, _)| a),
        gather_timeout: d
            .gather_timeout
            .map_or(defaults::GATHER_TIMEOUT, |(t, _)| t),
        shared_secret_file: d.shared_secret_file,
        control_group: d.control_group.map(|(g, _)| g),
        spread_user: d.spread_user.map(|(u, _)| u),
        perl_path: d
            .perl_path
            .map_or_else(|| PathBuf::from(defaults::PERL_PATH), |(p, _)| p),
        hook_limit: d.hook_limit.map_or(defaults::HOOK_LIMIT, |(n, _)| n),
        // 0s: off, as not writing it.
        arp_refresh: d.arp_refresh.map(|(t, _)| t).filter(|t| !t.is_zero()),
        quorum: d.quorum.map_or(0, |(n, _)| n),
        membership: d.membership.map_or(super::Backend::Spread, |(b, _)| b),
        checks: d.checks,
        origin: super::Origin::Given,
    })
}
