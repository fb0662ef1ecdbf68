//! What the node shows: the [`Snapshot`] `wackatrl -l`/`-j` read, and
//! the one-line STATUS= systemd is told when it changes.

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::time::Instant;

use super::node::Node;
use crate::cluster::msg::Priority;
use crate::config::VifId;
use crate::control::{MemberInfo, NodeState, QuorumInfo, Snapshot, VifInfo};

impl Node {
    pub(super) fn snapshot(&self) -> Snapshot {
        let held: HashSet<VifId> = self.engine.held().collect();
        let connected = self.link.is_up();
        Snapshot {
            node: Some(self.me),
            node_source: self.me_source.clone(),
            private_group: self.link.me().map(str::to_string),
            spread: self.link.address(),
            membership: self.cfg.membership().name().to_string(),
            group: self.cfg.group().to_string(),
            connected,
            failure_simulated: self.gate.operator_out(),
            state: if connected {
                NodeState::In(self.engine.phase())
            } else {
                NodeState::Disconnected
            },
            mature: self.engine.is_mature(),
            view_id: self.engine.view_id(),
            members: self
                .engine
                .members()
                .iter()
                .map(|m| MemberInfo {
                    name: m.name.clone(),
                    addr: m.addr,
                    count: m.count,
                })
                .collect(),
            vifs: self
                .cfg
                .vifs()
                .iter()
                .map(|v| {
                    let slot = self.engine.slot(v.id());
                    VifInfo {
                        addrs: v.addrs.clone(),
                        owner: slot.map_or(Ipv4Addr::UNSPECIFIED, |s| s.owner),
                        priority: slot.map_or(Priority::Unclaimed, |s| s.priority),
                        held_here: held.contains(&v.id()),
                    }
                })
                .collect(),
            last_change: self.exec.last_change().map(str::to_string),
            quorum: self.cfg.quorum().map(|needed| QuorumInfo {
                needed,
                members: self.engine.view_size(),
                below: self.engine.below_quorum(),
            }),
            checks: self.checks.status(Instant::now()),
        }
    }

    /// Tells systemd (when it watches) what the node does, if that
    /// changed since it was last told.
    pub(super) fn tell_systemd(&mut self) {
        let Some(n) = &self.systemd else {
            return;
        };
        let snap = self.snapshot();
        let held = snap.vifs.iter().filter(|v| v.held_here).count();
        let below = if snap.quorum.is_some_and(|q| q.below) {
            ", below quorum"
        } else {
            ""
        };
        // Why a node is out of its group, when it is out on purpose.
        let down: Vec<&str> = snap
            .checks
            .iter()
            .filter(|c| c.state == crate::health::State::Down)
            .map(|c| c.run.as_str())
            .collect();
        let why = match (snap.failure_simulated, down.is_empty()) {
            (true, _) => ", out by wackatrl -f".to_string(),
            (false, false) => format!(", out: check down ({})", down.join(" ")),
            (false, true) => String::new(),
        };
        let status = format!(
            "{}, holding {held} of {} VIFs, {} members{below}{why}",
            snap.state,
            snap.vifs.len(),
            snap.members.len()
        );
        if status != self.systemd_status {
            n.send(&format!("STATUS={status}"));
            self.systemd_status = status;
        }
    }
}
