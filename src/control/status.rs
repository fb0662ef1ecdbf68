//! What the daemon shows through the control socket (`Snapshot`), and the
//! replies built from it that are not C's: the JSON status
//! (STATUS_JSON), the reload result (RELOAD) and the FAILURE / SUCCESS
//! acknowledgement.

use std::net::Ipv4Addr;

use super::json::Value;
use super::{frame, DecodeError};
use crate::cluster::engine::Phase;
use crate::cluster::msg::Priority;
use crate::config::{VifId, VipAddr};
use crate::health::CheckInfo;

/// Where the node stands: off the group, or in a phase of the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NodeState {
    #[default]
    Disconnected,
    In(Phase),
}

impl std::fmt::Display for NodeState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NodeState::Disconnected => f.write_str("DISCONNECTED"),
            NodeState::In(p) => p.fmt(f),
        }
    }
}

/// The daemon's state at the moment a request byte is read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// This node's identity (its real address), once known.
    pub node: Option<Ipv4Addr>,
    /// Where the identity comes from (`-a`, `NodeAddress`, the host
    /// name, an interface), in the operator's words.
    pub node_source: String,
    /// Our Spread private group name, while connected.
    pub private_group: Option<String>,
    /// The Spread daemon address as configured (`local` on Corosync).
    pub spread: String,
    /// The group system: `spread` or `corosync` (`Membership`).
    pub membership: String,
    /// The Spread group of the cluster.
    pub group: String,
    /// Connected to Spread.
    pub connected: bool,
    /// `wackatrl -f` is in force.
    pub failure_simulated: bool,
    /// BOOT, GATHER, RUN, BALANCE or DISCONNECTED.
    pub state: NodeState,
    pub mature: bool,
    /// The Spread group id of the current view.
    pub view_id: Option<[u32; 3]>,
    /// The members of the current view, in Spread's order.
    pub members: Vec<MemberInfo>,
    /// The allocation table, in config order.
    pub vifs: Vec<VifInfo>,
    /// The last change of ownership or state, in words, if any.
    pub last_change: Option<String>,
    /// Where the node stands against `Quorum`; `None` when it is off.
    pub quorum: Option<QuorumInfo>,
    /// The health checks, in config order.
    pub checks: Vec<CheckInfo>,
}

/// `Quorum` and the current view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuorumInfo {
    /// The members a view needs for this node to hold VIPs.
    pub needed: usize,
    /// The members of the current view, every member of the group
    /// counted (0 without a view).
    pub members: usize,
    /// The view has too few: this node holds nothing and claims nothing.
    pub below: bool,
}

impl QuorumInfo {
    /// The line `wackatrl -l` adds after C's listing when the node is
    /// below quorum (none otherwise, so that the listing stays C's).
    /// It starts with neither `Owner:` nor a tab, which is all a parser
    /// of C's listing looks at.
    pub fn note(&self) -> Option<String> {
        self.below.then(|| {
            format!(
                "Below quorum: {} of the {} members Quorum needs are in the view; this node holds no VIP\n",
                self.members, self.needed
            )
        })
    }

    /// From the `quorum` member of a JSON status (`None` when it is
    /// absent or null: quorum off, or a daemon that does not know it).
    pub fn from_status(v: &Value) -> Option<QuorumInfo> {
        let q = v.get("quorum")?;
        let n = |k: &str| {
            q.get(k)
                .and_then(Value::as_i64)
                .and_then(|n| usize::try_from(n).ok())
        };
        Some(QuorumInfo {
            needed: n("needed")?,
            members: n("members")?,
            below: q.get("below").and_then(Value::as_bool)?,
        })
    }
}

/// One member of the view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInfo {
    /// Its Spread private group name.
    pub name: String,
    /// Its real address.
    pub addr: Ipv4Addr,
    /// How many VIFs it holds.
    pub count: i32,
}

/// One VIF of the allocation table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VifInfo {
    /// Its addresses in config order; the first names it.
    pub addrs: Vec<VipAddr>,
    /// The real address of its holder; 0.0.0.0 when nobody holds it.
    pub owner: Ipv4Addr,
    /// Its claim priority in the table.
    pub priority: Priority,
    /// This node holds it.
    pub held_here: bool,
}

impl VifInfo {
    /// Its identity (what STATE and BALANCE name it by).
    pub fn id(&self) -> Option<VifId> {
        self.addrs.first().map(VifId::of)
    }
}

/// An address as the status shows it: `IF:a.b.c.d/P` or `IF:[v6]/P`
/// (the config's syntax, without the `nNET` suffix).
pub fn address_text(a: &VipAddr) -> String {
    let ifname = a.ifname();
    let sep = if ifname.is_empty() { "" } else { ":" };
    match a {
        VipAddr::V4(a) => format!("{ifname}{sep}{}/{}", a.addr, a.prefix),
        VipAddr::V6(a) => format!("{ifname}{sep}[{}]/{}", a.addr, a.prefix),
    }
}

/// A Spread group id as `spuser` prints it (three signed integers).
pub fn view_id_text(id: [u32; 3]) -> String {
    crate::spread::wire::GroupId(id).to_string()
}

/// The status as a JSON value; the field names are part of the
/// interface (documented in wackatrl(8)).
pub fn status_value(s: &Snapshot) -> Value {
    let ip = |a: Ipv4Addr| Value::str(a.to_string());
    let members = s
        .members
        .iter()
        .map(|m| {
            Value::Object(vec![
                ("name".into(), Value::str(&m.name)),
                ("address".into(), ip(m.addr)),
                ("vifs".into(), Value::int(i64::from(m.count))),
            ])
        })
        .collect();
    let vifs = s
        .vifs
        .iter()
        .map(|v| {
            let owner = (!v.owner.is_unspecified()).then_some(v.owner);
            Value::Object(vec![
                (
                    "id".into(),
                    Value::opt(v.id(), |id| Value::str(id.to_string())),
                ),
                (
                    "addresses".into(),
                    Value::Array(
                        v.addrs
                            .iter()
                            .map(|a| Value::str(address_text(a)))
                            .collect(),
                    ),
                ),
                ("owner".into(), Value::opt(owner, ip)),
                ("priority".into(), Value::str(v.priority.to_string())),
                ("held_here".into(), Value::Bool(v.held_here)),
            ])
        })
        .collect();
    let held = s.vifs.iter().filter(|v| v.held_here).count();
    Value::Object(vec![
        ("node".into(), Value::opt(s.node, ip)),
        ("node_source".into(), Value::str(&s.node_source)),
        (
            "private_group".into(),
            Value::opt(s.private_group.as_deref(), Value::str),
        ),
        ("spread".into(), Value::str(&s.spread)),
        ("group".into(), Value::str(&s.group)),
        ("membership".into(), Value::str(&s.membership)),
        ("connected".into(), Value::Bool(s.connected)),
        ("failure_simulated".into(), Value::Bool(s.failure_simulated)),
        ("state".into(), Value::str(s.state.to_string())),
        ("mature".into(), Value::Bool(s.mature)),
        (
            "view_id".into(),
            Value::opt(s.view_id, |id| Value::str(view_id_text(id))),
        ),
        ("members".into(), Value::Array(members)),
        ("vifs".into(), Value::Array(vifs)),
        (
            "counts".into(),
            Value::Object(vec![
                ("vifs".into(), Value::int(s.vifs.len() as i64)),
                ("held_here".into(), Value::int(held as i64)),
            ]),
        ),
        (
            "last_change".into(),
            Value::opt(s.last_change.as_deref(), Value::str),
        ),
        (
            "quorum".into(),
            Value::opt(s.quorum, |q| {
                Value::Object(vec![
                    ("needed".into(), Value::int(q.needed as i64)),
                    ("members".into(), Value::int(q.members as i64)),
                    ("below".into(), Value::Bool(q.below)),
                ])
            }),
        ),
        (
            "checks".into(),
            Value::Array(s.checks.iter().map(super::check_value).collect()),
        ),
    ])
}

/// The STATUS_JSON reply: 4-byte big-endian length, then the status as
/// compact UTF-8 JSON.
pub fn encode_status(s: &Snapshot) -> Vec<u8> {
    frame(status_value(s).to_string().as_bytes())
}

/// The RELOAD reply: 4-byte big-endian length, then
/// `{"ok":true|false,"message":"..."}`.
pub fn encode_reload(ok: bool, message: &str) -> Vec<u8> {
    let v = Value::Object(vec![
        ("ok".into(), Value::Bool(ok)),
        ("message".into(), Value::str(message)),
    ]);
    frame(v.to_string().as_bytes())
}

/// Reads a RELOAD reply body (after the length): `(ok, message)`.
pub fn decode_reload(body: &[u8]) -> Result<(bool, String), DecodeError> {
    let v = decode_json(body)?;
    let ok = v
        .get("ok")
        .and_then(Value::as_bool)
        .ok_or(DecodeError::MissingField("ok"))?;
    let message = v
        .get("message")
        .and_then(Value::as_str)
        .ok_or(DecodeError::MissingField("message"))?;
    Ok((ok, message.to_string()))
}

/// Reads a JSON reply body (STATUS_JSON or RELOAD).
pub fn decode_json(body: &[u8]) -> Result<Value, DecodeError> {
    let text = std::str::from_utf8(body).map_err(|_| DecodeError::NotUtf8)?;
    Value::parse(text).map_err(DecodeError::Json)
}

/// The FAILURE and SUCCESS reply, as C sends it once it has acted: a
/// 4-byte big-endian 0.
pub fn encode_ack() -> [u8; 4] {
    0i32.to_be_bytes()
}

/// The status of a SUCCESS refused because a health check keeps the
/// node out (C's wackatrl prints an error for any status but 0).
pub const REFUSED: i32 = 1;

/// The SUCCESS reply when it is refused: [`REFUSED`], 4 bytes
/// big-endian; the status (STATUS_JSON) says which checks.
pub fn encode_refused() -> [u8; 4] {
    REFUSED.to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{vip4, vip6};

    fn sample() -> Snapshot {
        Snapshot {
            node: Some("10.0.0.1".parse().unwrap()),
            node_source: "NodeAddress in /etc/wackamole.conf".into(),
            private_group: Some("#wack1#n1".into()),
            spread: "4803".into(),
            membership: "spread".into(),
            group: "wack1".into(),
            connected: true,
            failure_simulated: false,
            state: NodeState::In(Phase::Run),
            mature: true,
            view_id: Some([1, 0xffff_fffe, 3]),
            members: vec![MemberInfo {
                name: "#wack1#n1".into(),
                addr: "10.0.0.1".parse().unwrap(),
                count: 1,
            }],
            vifs: vec![
                VifInfo {
                    addrs: vec![
                        vip4("eth0", "192.0.2.10", 24, 16),
                        vip6("eth0", "2001:db8::10", 64),
                    ],
                    owner: "10.0.0.1".parse().unwrap(),
                    priority: Priority::PreferClaimed,
                    held_here: true,
                },
                VifInfo {
                    addrs: vec![vip4("eth1", "192.0.2.20", 32, 16)],
                    owner: Ipv4Addr::UNSPECIFIED,
                    priority: Priority::Unclaimed,
                    held_here: false,
                },
            ],
            last_change: Some("acquired eth0:192.0.2.10/24 \"now\"".into()),
            quorum: Some(QuorumInfo {
                needed: 2,
                members: 1,
                below: true,
            }),
            checks: Vec::new(),
        }
    }

    #[test]
    fn the_status_has_stable_names_and_order() {
        let text = status_value(&sample()).to_string();
        assert_eq!(
            text,
            concat!(
                r#"{"node":"10.0.0.1","node_source":"NodeAddress in /etc/wackamole.conf","#,
                r##""private_group":"#wack1#n1","spread":"4803","group":"wack1","membership":"spread","##,
                r#""connected":true,"failure_simulated":false,"state":"RUN","mature":true,"#,
                r#""view_id":"1:-2:3","#,
                r##""members":[{"name":"#wack1#n1","address":"10.0.0.1","vifs":1}],"##,
                r#""vifs":[{"id":"192.0.2.10","addresses":["eth0:192.0.2.10/24","eth0:[2001:db8::10]/64"],"#,
                r#""owner":"10.0.0.1","priority":"PREFER_CLAIMED","held_here":true},"#,
                r#"{"id":"192.0.2.20","addresses":["eth1:192.0.2.20/32"],"owner":null,"#,
                r#""priority":"UNCLAIMED","#,
                r#""held_here":false}],"counts":{"vifs":2,"held_here":1},"#,
                r#""last_change":"acquired eth0:192.0.2.10/24 \"now\"","#,
                r#""quorum":{"needed":2,"members":1,"below":true},"checks":[]}"#
            )
        );
        let framed = encode_status(&sample());
        let len = u32::from_be_bytes(framed[..4].try_into().unwrap()) as usize;
        assert_eq!(len, framed.len() - 4);
        assert_eq!(decode_json(&framed[4..]).unwrap(), status_value(&sample()));
    }

    #[test]
    fn an_empty_snapshot_uses_null() {
        let s = Snapshot {
            state: NodeState::Disconnected,
            ..Snapshot::default()
        };
        let v = status_value(&s);
        for k in ["node", "private_group", "view_id", "last_change", "quorum"] {
            assert!(v.get(k).unwrap().is_null(), "{k}");
        }
        assert_eq!(v.get("state").and_then(Value::as_str), Some("DISCONNECTED"));
    }

    #[test]
    fn below_quorum_is_noted_after_the_listing_and_read_back() {
        let v = decode_json(&encode_status(&sample())[4..]).unwrap();
        let q = QuorumInfo::from_status(&v).expect("quorum in the status");
        assert_eq!(q, sample().quorum.unwrap());
        assert_eq!(
            q.note().as_deref(),
            Some("Below quorum: 1 of the 2 members Quorum needs are in the view; this node holds no VIP\n")
        );
        let above = QuorumInfo {
            members: 3,
            below: false,
            ..q
        };
        assert_eq!(above.note(), None, "the listing stays C's");
        // Quorum off, or a daemon that does not know it.
        let off = status_value(&Snapshot::default());
        assert_eq!(QuorumInfo::from_status(&off), None);
        assert_eq!(QuorumInfo::from_status(&Value::Object(vec![])), None);
    }

    #[test]
    fn priority_names() {
        // As the status shows them (Display); no name outside 0..=5.
        let names: Vec<String> = (0..=6)
            .map(|p| Priority::from_wire(p).map_or("UNKNOWN".into(), |p| p.to_string()))
            .collect();
        assert_eq!(
            names,
            [
                "UNCLAIMED",
                "CLAIMED_BOOT",
                "CLAIMED",
                "PREFER_BOOT",
                "PREFER",
                "PREFER_CLAIMED",
                "UNKNOWN"
            ]
        );
    }

    #[test]
    fn reload_replies_round_trip() {
        for (ok, msg) in [
            (true, "reloaded: 2 VIFs"),
            (false, "w.conf:3:1: \"x\"\nmore"),
        ] {
            let b = encode_reload(ok, msg);
            assert_eq!(
                u32::from_be_bytes(b[..4].try_into().unwrap()) as usize,
                b.len() - 4
            );
            assert_eq!(decode_reload(&b[4..]).unwrap(), (ok, msg.to_string()));
        }
        assert_eq!(
            decode_reload(br#"{"ok":1,"message":"x"}"#),
            Err(DecodeError::MissingField("ok"))
        );
        assert_eq!(decode_reload(b"\xff"), Err(DecodeError::NotUtf8));
        assert!(matches!(decode_reload(b"{"), Err(DecodeError::Json(_))));
        assert_eq!(encode_ack(), [0, 0, 0, 0]);
        assert_eq!(encode_refused(), [0, 0, 0, 1]);
    }
}
