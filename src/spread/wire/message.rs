//! What a daemon delivers to a client: data messages, regular and
//! transitional memberships, the self-leave, and rejected messages.
//! [`Decoder`] takes a byte stream split at any point; the `encode_*`
//! functions write what a daemon writes (for the test daemon).

use super::{
    get_name, put_header, put_name, service, word, GroupId, Order, RawHeader, HEADER_LEN,
    MAX_GROUP_NAME,
};
use crate::spread::error::SpreadError;

/// Bounds past which a message is refused rather than buffered: far
/// above what Spread sends (100 groups, 144,000 bytes), low enough that
/// a corrupt length cannot exhaust memory.
const MAX_DELIVERED_GROUPS: usize = 100_000;
const MAX_DELIVERED_DATA: usize = 4 << 20;

/// Why a regular membership was delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cause {
    Join,
    Leave,
    Disconnect,
    Network,
}

impl Cause {
    pub fn bit(self) -> u32 {
        match self {
            Cause::Join => service::CAUSED_BY_JOIN,
            Cause::Leave => service::CAUSED_BY_LEAVE,
            Cause::Disconnect => service::CAUSED_BY_DISCONNECT,
            Cause::Network => service::CAUSED_BY_NETWORK,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Cause::Join => "JOIN",
            Cause::Leave => "LEAVE",
            Cause::Disconnect => "DISCONNECT",
            Cause::Network => "NETWORK",
        }
    }
}

/// A data message (or a rejected one: then `service_type` has REJECT).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataMessage {
    /// Service bits, endian flag cleared.
    pub service_type: u32,
    /// The sender's private group.
    pub sender: String,
    /// The destination groups.
    pub groups: Vec<String>,
    pub mess_type: i16,
    /// The original sender's byte order differs from ours (its payload
    /// integers need swapping).
    pub endian_mismatch: bool,
    pub data: Vec<u8>,
}

/// A regular membership of one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub group: String,
    pub cause: Cause,
    pub group_id: GroupId,
    /// Private group names, in Spread's order (the same at every member).
    pub members: Vec<String>,
    /// JOIN/LEAVE/DISCONNECT: one set holding who joined/left. NETWORK:
    /// one set per component that merged into this view.
    pub vs_sets: Vec<Vec<String>>,
    /// Which VS set holds the receiver's daemon.
    pub local_vs_set: usize,
}

impl Membership {
    /// The receiver's index in `members`, as C's `SP_receive` returns it.
    pub fn index_of(&self, private_group: &str) -> Option<usize> {
        self.members.iter().position(|m| m == private_group)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Data(DataMessage),
    Membership(Membership),
    /// The current view is ending: messages until the next regular
    /// membership belong to the transitional view.
    Transition {
        group: String,
        group_id: GroupId,
    },
    /// This client left `group`.
    SelfLeave {
        group: String,
    },
    /// The daemon refused a message: `service_type` is the original
    /// service with REJECT added.
    Reject(DataMessage),
}

/// Decodes daemon → client messages from a byte stream.
#[derive(Debug)]
pub struct Decoder {
    buf: Vec<u8>,
    start: usize,
    daemon_major: u8,
}

impl Decoder {
    /// `daemon_major` from the accept reply: 3.x daemons send the older
    /// membership body.
    pub fn new(daemon_major: u8) -> Self {
        Decoder {
            buf: Vec::new(),
            start: 0,
            daemon_major,
        }
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received but not yet decoded.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next whole message, `Ok(None)` if more bytes are needed. An
    /// error leaves the stream unusable (close the session).
    pub fn next_message(&mut self) -> Result<Option<Message>, SpreadError> {
        let b = &self.buf[self.start..];
        if b.len() < HEADER_LEN {
            return Ok(None);
        }
        let h = RawHeader::parse(b);
        let order = h.order();
        let t = h.service_type();
        let ng = h.num_groups() as usize;
        let dl = h.data_len() as usize;
        if ng > MAX_DELIVERED_GROUPS || dl > MAX_DELIVERED_DATA {
            return Err(SpreadError::IllegalMessage);
        }
        // A reject carries the original type after the header, outside
        // data_len.
        let extra = if t & service::REJECT != 0 { 4 } else { 0 };
        let total = HEADER_LEN + extra + MAX_GROUP_NAME * ng + dl;
        if b.len() < total {
            return Ok(None);
        }
        let groups_at = HEADER_LEN + extra;
        let groups: Vec<String> = (0..ng)
            .map(|i| get_name(&b[groups_at + MAX_GROUP_NAME * i..][..MAX_GROUP_NAME]))
            .collect();
        let data = &b[groups_at + MAX_GROUP_NAME * ng..total];
        let msg = decode_body(&h, t, order, groups, data, self.daemon_major, b)?;
        self.start += total;
        Ok(Some(msg))
    }
}

fn decode_body(
    h: &RawHeader,
    t: u32,
    order: Order,
    groups: Vec<String>,
    data: &[u8],
    daemon_major: u8,
    whole: &[u8],
) -> Result<Message, SpreadError> {
    let data_message = |service_type: u32| DataMessage {
        service_type,
        sender: h.sender.clone(),
        groups: groups.clone(),
        mess_type: h.mess_type(),
        endian_mismatch: h.hint_order() != Order::NATIVE,
        data: data.to_vec(),
    };
    if t & service::REJECT != 0 {
        let old = order.get(word(whole, HEADER_LEN));
        return Ok(Message::Reject(data_message(
            super::clear_endian(old) | service::REJECT,
        )));
    }
    if t & service::REG_MEMB != 0 {
        let causes = [Cause::Join, Cause::Leave, Cause::Disconnect, Cause::Network];
        let mut found = causes.iter().filter(|c| t & c.bit() != 0);
        let (Some(&cause), None) = (found.next(), found.next()) else {
            return Err(SpreadError::IllegalMessage);
        };
        let (group_id, vs_sets, local_vs_set) = membership_body(data, order, daemon_major)?;
        return Ok(Message::Membership(Membership {
            group: h.sender.clone(),
            cause,
            group_id,
            members: groups,
            vs_sets,
            local_vs_set,
        }));
    }
    if t & service::TRANSITION != 0 {
        if data.len() < 12 {
            return Err(SpreadError::IllegalMessage);
        }
        return Ok(Message::Transition {
            group: h.sender.clone(),
            group_id: group_id(data, order),
        });
    }
    if t & service::CAUSED_BY_LEAVE != 0 {
        return Ok(Message::SelfLeave {
            group: h.sender.clone(),
        });
    }
    if t & service::REGULAR != 0 {
        return Ok(Message::Data(data_message(
            t & (service::REGULAR | service::SELF_DISCARD),
        )));
    }
    Err(SpreadError::IllegalMessage)
}

fn group_id(b: &[u8], order: Order) -> GroupId {
    GroupId([
        order.get(word(b, 0)),
        order.get(word(b, 4)),
        order.get(word(b, 8)),
    ])
}

/// Reads `count` names from `b` at `at`; checked against the length.
fn names(b: &[u8], at: usize, count: usize) -> Result<Vec<String>, SpreadError> {
    let need = count
        .checked_mul(MAX_GROUP_NAME)
        .and_then(|n| n.checked_add(at))
        .ok_or(SpreadError::IllegalMessage)?;
    if need > b.len() {
        return Err(SpreadError::IllegalMessage);
    }
    Ok((0..count)
        .map(|i| get_name(&b[at + MAX_GROUP_NAME * i..][..MAX_GROUP_NAME]))
        .collect())
}

/// Group id, VS sets and the local set's index. 4.x+: group id,
/// num_vs_sets, local offset, sets; 3.x: group id, one set.
fn membership_body(
    b: &[u8],
    order: Order,
    daemon_major: u8,
) -> Result<(GroupId, Vec<Vec<String>>, usize), SpreadError> {
    let int = |at: usize| -> Result<usize, SpreadError> {
        if at + 4 > b.len() {
            return Err(SpreadError::IllegalMessage);
        }
        Ok(order.get(word(b, at)) as i32 as usize)
    };
    if b.len() < 12 {
        return Err(SpreadError::IllegalMessage);
    }
    let gid = group_id(b, order);
    if daemon_major < 4 {
        let count = int(12)?;
        return Ok((gid, vec![names(b, 16, count)?], 0));
    }
    let num_sets = int(12)?;
    let local_offset = int(16)?;
    let first = 20;
    // Every set takes at least its 4-byte count.
    if num_sets > (b.len() - first.min(b.len())) / 4 {
        return Err(SpreadError::IllegalMessage);
    }
    let mut sets = Vec::with_capacity(num_sets);
    let mut local = None;
    let mut at = first;
    for i in 0..num_sets {
        if at - first == local_offset {
            local = Some(i);
        }
        let count = int(at)?;
        sets.push(names(b, at + 4, count)?);
        at += 4 + count * MAX_GROUP_NAME;
    }
    let local = match (local, num_sets) {
        (Some(i), _) => i,
        // No sets at all: nothing to point at.
        (None, 0) => 0,
        (None, _) => return Err(SpreadError::IllegalMessage),
    };
    Ok((gid, sets, local))
}

/// A data message as delivered: `hint` exactly as the sender wrote it.
pub fn encode_data(
    order: Order,
    service_type: u32,
    sender: &str,
    groups: &[String],
    hint: [u8; 4],
    data: &[u8],
) -> Vec<u8> {
    super::put_message(
        order,
        service_type,
        sender,
        groups.iter().map(String::as_str),
        hint,
        data,
    )
}

/// A regular membership, 4.x+ body.
pub fn encode_membership(order: Order, m: &Membership) -> Vec<u8> {
    let mut body = Vec::new();
    for w in m.group_id.0 {
        order.put(&mut body, w);
    }
    order.put(&mut body, m.vs_sets.len() as u32);
    let offset: usize = m.vs_sets[..m.local_vs_set.min(m.vs_sets.len())]
        .iter()
        .map(|s| 4 + MAX_GROUP_NAME * s.len())
        .sum();
    order.put(&mut body, offset as u32);
    for set in &m.vs_sets {
        order.put(&mut body, set.len() as u32);
        for name in set {
            put_name(&mut body, name);
        }
    }
    let t = service::REG_MEMB | m.cause.bit();
    encode_data(order, t, &m.group, &m.members, hint_flag(order), &body)
}

/// A transitional membership: the old group id.
pub fn encode_transition(order: Order, group: &str, gid: GroupId) -> Vec<u8> {
    let mut body = Vec::new();
    for w in gid.0 {
        order.put(&mut body, w);
    }
    encode_data(
        order,
        service::TRANSITION,
        group,
        &[],
        hint_flag(order),
        &body,
    )
}

/// The message a leaving client gets.
pub fn encode_self_leave(order: Order, group: &str) -> Vec<u8> {
    encode_data(
        order,
        service::CAUSED_BY_LEAVE,
        group,
        &[],
        hint_flag(order),
        &[],
    )
}

/// A rejected message: the original type after the header, outside
/// `data_len`.
pub fn encode_reject(order: Order, original: &DataMessage, hint: [u8; 4]) -> Vec<u8> {
    let mut v = Vec::new();
    let reject_type = service::REJECT | (original.service_type & service::SELF_DISCARD);
    put_header(
        &mut v,
        order,
        reject_type,
        &original.sender,
        original.groups.len() as u32,
        hint,
        original.data.len() as u32,
    );
    order.put(&mut v, original.service_type & !service::REJECT);
    for g in &original.groups {
        put_name(&mut v, g);
    }
    v.extend_from_slice(&original.data);
    v
}

fn hint_flag(order: Order) -> [u8; 4] {
    super::hint_for(order, 0)
}

#[cfg(test)]
mod tests;
