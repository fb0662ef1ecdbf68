//! The Spread backend of the membership seam: a non-blocking
//! [`Connecting`] handshake, the join, and the session's deliveries
//! turned into [`GroupEvent`]s. Spread's own types stay in here.
//!
//! What is dropped here, with a log line: memberships of other groups
//! (and one of ours that lacks this node), transitional memberships of
//! other groups, self-leave notices, and messages Spread refused.

use log::{error, warn};

use super::{
    Cause, Delivered, Delivery, GroupError, GroupEvent, LinkState, Membership, Stage, View,
    MAX_BATCH,
};
use crate::spread::addr::SpreadAddr;
use crate::spread::client::{Client, Connecting};
use crate::spread::wire::message::Message;
use crate::spread::wire::{self, service};
use crate::trust::Owners;

enum Session {
    Down,
    Connecting(Connecting),
    Up(Client),
}

/// One node's link to its group over a Spread daemon.
pub struct SpreadLink {
    addr: SpreadAddr,
    /// The private name asked for (`-u`).
    user: String,
    group: String,
    /// Who may own and serve a local Spread socket: root, and
    /// `SpreadUser` if set.
    owners: Owners,
    session: Session,
    /// The last `ready` stopped at `MAX_BATCH` deliveries.
    backlog: bool,
}

impl SpreadLink {
    pub fn new(addr: SpreadAddr, user: String, group: String, owners: Owners) -> SpreadLink {
        SpreadLink {
            addr,
            user,
            group,
            owners,
            session: Session::Down,
            backlog: false,
        }
    }

    /// Turns one delivery into what the engine sees, if anything.
    fn event(&self, m: Message, me: &str) -> Option<GroupEvent> {
        match m {
            Message::Membership(mb) if mb.group == self.group => match mb.index_of(me) {
                Some(my_index) => Some(GroupEvent::View(View {
                    id: mb.group_id.0,
                    members: mb.members,
                    my_index,
                    cause: cause(mb.cause),
                })),
                None => {
                    error!(
                        "a membership of {} without this node in it; ignored",
                        self.group
                    );
                    None
                }
            },
            Message::Membership(mb) => {
                warn!("ignoring a membership of another group, {}", mb.group);
                None
            }
            Message::Transition { group, .. } if group == self.group => {
                Some(GroupEvent::Transition)
            }
            Message::Data(d) => Some(GroupEvent::Message {
                delivered: delivered(d.service_type, &d.groups, &self.group),
                sender: d.sender,
                mess_type: d.mess_type,
                swapped: d.endian_mismatch,
                body: d.data,
            }),
            Message::Reject(d) => {
                warn!(
                    "Spread refused a message of type {} to {:?}",
                    d.mess_type, d.groups
                );
                None
            }
            Message::Transition { .. } | Message::SelfLeave { .. } => None,
        }
    }
}

/// Why Spread delivered a membership, in the seam's words.
fn cause(c: wire::message::Cause) -> Cause {
    match c {
        wire::message::Cause::Join => Cause::Join,
        wire::message::Cause::Leave => Cause::Leave,
        wire::message::Cause::Disconnect => Cause::Disconnect,
        wire::message::Cause::Network => Cause::Network,
    }
}

/// In which order, and to whom, Spread delivered a message: AGREED and
/// SAFE are the group's total order.
fn delivered(service_type: u32, groups: &[String], group: &str) -> Delivered {
    if groups.len() != 1 || groups[0] != group {
        Delivered::Elsewhere
    } else if service_type & (service::AGREED | service::SAFE) != 0 {
        Delivered::Agreed
    } else {
        Delivered::Unordered
    }
}

impl Membership for SpreadLink {
    fn system(&self) -> &'static str {
        "Spread"
    }

    fn address(&self) -> String {
        self.addr.to_string()
    }

    fn group(&self) -> &str {
        &self.group
    }

    fn state(&self) -> LinkState {
        match self.session {
            Session::Down => LinkState::Down,
            Session::Connecting(_) => LinkState::Connecting,
            Session::Up(_) => LinkState::Up,
        }
    }

    fn me(&self) -> Option<&str> {
        match &self.session {
            Session::Up(c) => Some(c.private_group()),
            _ => None,
        }
    }

    fn connect(&mut self) -> Result<(), GroupError> {
        let c = Connecting::start_trusting(&self.addr, &self.user, true, &self.owners)
            .map_err(|e| GroupError::new(Stage::Connect, e))?;
        self.session = Session::Connecting(c);
        Ok(())
    }

    fn set_owners(&mut self, owners: Owners) {
        self.owners = owners;
    }

    fn source(&mut self) -> Option<&mut dyn mio::event::Source> {
        match &mut self.session {
            Session::Down => None,
            Session::Connecting(c) => Some(c.socket()),
            Session::Up(c) => Some(c.socket()),
        }
    }

    fn ready(&mut self, out: &mut Vec<GroupEvent>) -> Result<(), GroupError> {
        if let Session::Connecting(c) = &mut self.session {
            if !c
                .advance()
                .map_err(|e| GroupError::new(Stage::Connect, e))?
            {
                return Ok(());
            }
            let Session::Connecting(c) = std::mem::replace(&mut self.session, Session::Down) else {
                unreachable!("matched above");
            };
            let mut client = c.finish();
            client
                .join(&self.group)
                .map_err(|e| GroupError::new(Stage::Join, e))?;
            out.push(GroupEvent::Joined {
                me: client.private_group().to_string(),
            });
            // Deliveries may already be buffered: read them below.
            self.session = Session::Up(client);
        }
        let Session::Up(client) = &mut self.session else {
            return Ok(());
        };
        let me = client.private_group().to_string();
        let mut msgs = Vec::new();
        self.backlog = false;
        let result = loop {
            if msgs.len() == MAX_BATCH {
                self.backlog = true;
                break client.flush();
            }
            match client.receive() {
                Ok(Some(m)) => msgs.push(m),
                Ok(None) => break client.flush(),
                Err(e) => break Err(e),
            }
        };
        out.extend(msgs.into_iter().filter_map(|m| self.event(m, &me)));
        result.map_err(|e| GroupError::new(Stage::Session, e))
    }

    fn backlog(&self) -> bool {
        self.backlog && matches!(self.session, Session::Up(_))
    }

    fn multicast(&mut self, how: Delivery, mess_type: i16, body: &[u8]) -> Result<(), GroupError> {
        let service = match how {
            Delivery::Agreed => service::AGREED,
            Delivery::Reliable => service::RELIABLE,
        };
        match &mut self.session {
            Session::Up(c) => c
                .multicast(service, &[&self.group], mess_type, body)
                .map_err(|e| GroupError::new(Stage::Session, e)),
            // Nothing to send to: the engine learns of the loss anyway.
            _ => Ok(()),
        }
    }

    fn close(&mut self) {
        if let Session::Up(c) = std::mem::replace(&mut self.session, Session::Down) {
            c.disconnect();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_agreed_or_safe_to_the_group_alone_is_agreed() {
        let g = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let wack = g(&["wack"]);
        for (service, want) in [
            (service::AGREED, Delivered::Agreed),
            (service::SAFE, Delivered::Agreed),
            (service::RELIABLE, Delivered::Unordered),
            (service::FIFO, Delivered::Unordered),
            (service::CAUSAL, Delivered::Unordered),
            (service::UNRELIABLE, Delivered::Unordered),
        ] {
            assert_eq!(delivered(service, &wack, "wack"), want, "{service:#x}");
        }
        for groups in [g(&["#x#d1"]), g(&["wack", "other"]), g(&[]), g(&["other"])] {
            assert_eq!(
                delivered(service::AGREED, &groups, "wack"),
                Delivered::Elsewhere,
                "{groups:?}"
            );
        }
    }

    /// A flood is served in batches: no `ready` hands over more than
    /// `MAX_BATCH` deliveries, and `backlog` says when to come back.
    #[test]
    fn a_flood_is_read_in_batches() {
        use crate::spread::wire::message::encode_data;
        use crate::spread::wire::{hint_for, Order};
        use std::io::{Read, Write};
        use std::os::unix::net::UnixListener;
        use std::time::{Duration, Instant};

        const FLOOD: usize = 2 * MAX_BATCH + 22;
        let path = std::env::temp_dir().join(format!("wkm-flood-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let daemon = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            crate::testutil::accept_spread_x(&mut s);
            let mut join = [0u8; 80];
            s.read_exact(&mut join).unwrap();
            let mut flood = Vec::new();
            for i in 0..FLOOD {
                flood.extend(encode_data(
                    Order::NATIVE,
                    service::AGREED,
                    "#y#d",
                    &["wack".to_string()],
                    hint_for(Order::NATIVE, 1),
                    &(i as u32).to_be_bytes(),
                ));
            }
            s.write_all(&flood).unwrap();
            let _ = done_rx.recv_timeout(Duration::from_secs(30));
        });
        let addr = SpreadAddr::Unix { path: path.clone() };
        let mut link = SpreadLink::new(
            addr,
            "x".into(),
            "wack".into(),
            crate::trust::Owners::root(),
        );
        link.connect().unwrap();
        let mut bodies = Vec::new();
        let mut calls = 0;
        let deadline = Instant::now() + Duration::from_secs(10);
        while bodies.len() < FLOOD && Instant::now() < deadline {
            let mut out = Vec::new();
            link.ready(&mut out).unwrap();
            let n = out.len();
            for ev in out {
                if let GroupEvent::Message { body, .. } = ev {
                    bodies.push(u32::from_be_bytes(body[..4].try_into().unwrap()));
                }
            }
            assert!(n <= MAX_BATCH + 1, "{n} events in one call");
            if n >= MAX_BATCH {
                calls += 1;
                assert!(link.backlog(), "a full batch says more may wait");
            }
            if !link.backlog() {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        assert_eq!(bodies, (0..FLOOD as u32).collect::<Vec<_>>());
        assert!(calls >= 2, "{calls} full batches");
        assert!(!link.backlog());
        link.close();
        done_tx.send(()).unwrap();
        daemon.join().unwrap();
        let _ = std::fs::remove_file(&path);
    }
}
