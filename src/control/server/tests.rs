//! The server against real Unix sockets in a scratch directory, driven by
//! a mio `Poll` of the test's own (every loop bounded).

use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream as StdStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token};

use super::*;
use crate::control::{decode_state, encode_state, Snapshot, VifInfo};

struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!("wackamole-ctl-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        // Private whatever the umask: the server refuses a directory
        // others may write.
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700)).unwrap();
        Scratch(p)
    }

    fn sock(&self) -> PathBuf {
        self.0.join("ctl.sock")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const LISTENER: Token = Token(0);
const FIRST: usize = 100;

fn bind(path: &Path) -> Result<Server, BindError> {
    Server::bind(path, Access::owner_only())
}

struct Rig {
    poll: Poll,
    events: Events,
    server: Server,
    /// The time the server is told: the tests move it.
    now: Instant,
}

impl Rig {
    fn new(path: &Path) -> Rig {
        let poll = Poll::new().unwrap();
        let mut server = bind(path).unwrap();
        server.register(poll.registry(), LISTENER, FIRST).unwrap();
        Rig {
            poll,
            events: Events::with_capacity(128),
            server,
            now: Instant::now(),
        }
    }

    fn reply(&mut self, s: SessionId, bytes: &[u8]) {
        self.server.reply(s, bytes, self.now);
    }

    /// One poll round (at most 20 ms), events handed to the server.
    fn round(&mut self) -> Vec<(SessionId, Request)> {
        let mut reqs = Vec::new();
        self.poll
            .poll(&mut self.events, Some(Duration::from_millis(20)))
            .unwrap();
        for ev in self.events.iter() {
            let t = ev.token();
            assert!(self.server.owns(t), "foreign token {t:?}");
            if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                reqs.extend(self.server.ready(t, self.poll.registry(), self.now));
            }
            if ev.is_writable() {
                self.server.writable(t, self.now);
            }
        }
        reqs
    }

    /// Rounds until `n` requests have come (at most 2 s).
    fn requests(&mut self, n: usize) -> Vec<(SessionId, Request)> {
        let mut reqs = Vec::new();
        for _ in 0..100 {
            reqs.extend(self.round());
            if reqs.len() >= n {
                break;
            }
        }
        assert_eq!(reqs.len(), n, "{reqs:?}");
        reqs
    }

    /// A few rounds, for what needs no request to show (accepts, closes).
    fn settle(&mut self) -> Vec<(SessionId, Request)> {
        (0..5).flat_map(|_| self.round()).collect()
    }
}

fn client(path: &Path) -> StdStream {
    let c = StdStream::connect(path).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    c
}

fn read_exact(c: &mut StdStream, n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    c.read_exact(&mut b).unwrap();
    b
}

/// True when the server has closed its end (EOF, or a reset because
/// bytes were left unread).
fn closed(c: &mut StdStream) -> bool {
    let mut b = [0u8; 1];
    match c.read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() == ErrorKind::ConnectionReset,
    }
}

#[test]
fn bind_makes_a_0600_socket_and_remove_unlinks_it() {
    let d = Scratch::new("mode");
    let s = bind(&d.sock()).unwrap();
    let m = std::fs::metadata(d.sock()).unwrap();
    assert_eq!(m.permissions().mode() & 0o777, 0o600);
    // Nothing is left of the private directory it was made in.
    let left: Vec<_> = std::fs::read_dir(&d.0).unwrap().collect();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(s.path(), d.sock());
    s.remove();
    assert!(!d.sock().exists());
}

#[test]
fn a_stale_socket_is_replaced_a_live_one_or_a_file_is_not() {
    let d = Scratch::new("stale");
    drop(std::os::unix::net::UnixListener::bind(d.sock()).unwrap());
    assert!(d.sock().exists());
    let s = bind(&d.sock()).unwrap();
    // Ours is live now: a second daemon must not steal it.
    let e = bind(&d.sock()).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::AddrInUse);
    assert!(e.to_string().contains("already running"), "{e}");
    s.remove();

    let f = d.0.join("file");
    std::fs::write(&f, "precious").unwrap();
    let e = bind(&f).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::AlreadyExists);
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "precious");
}

#[test]
fn remove_leaves_a_successors_socket_alone() {
    let d = Scratch::new("succ");
    let old = bind(&d.sock()).unwrap();
    std::fs::remove_file(d.sock()).unwrap();
    let new = bind(&d.sock()).unwrap();
    old.remove();
    assert!(d.sock().exists());
    new.remove();
    assert!(!d.sock().exists());
}

#[test]
fn paths_over_107_bytes_are_refused() {
    let d = Scratch::new("long");
    let base = d.0.display().to_string();
    let name =
        |total: usize| PathBuf::from(format!("{base}/{}", "s".repeat(total - base.len() - 1)));
    let fits = name(107);
    assert_eq!(fits.as_os_str().len(), 107);
    bind(&fits).unwrap().remove();
    let e = bind(&name(108)).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("108 bytes"), "{e}");
    assert!(bind(Path::new("")).is_err());
}

#[test]
fn register_refuses_a_listener_token_among_the_sessions() {
    let d = Scratch::new("tok");
    let poll = Poll::new().unwrap();
    let mut s = bind(&d.sock()).unwrap();
    assert!(s
        .register(poll.registry(), Token(FIRST + 3), FIRST)
        .is_err());
    assert!(s
        .register(poll.registry(), Token(0), usize::MAX - 1)
        .is_err());
    s.register(poll.registry(), Token(FIRST + MAX_SESSIONS), FIRST)
        .unwrap();
    assert!(s.owns(Token(FIRST)) && s.owns(Token(FIRST + MAX_SESSIONS - 1)));
    assert!(!s.owns(Token(FIRST - 1)) && !s.owns(Token(0)));
    s.remove();
}

#[test]
fn several_requests_on_one_connection_are_answered_in_order() {
    let d = Scratch::new("order");
    let mut rig = Rig::new(&d.sock());
    let mut c = client(&d.sock());
    c.write_all(&[0, 1, 2, 3, 4]).unwrap();
    let reqs = rig.requests(5);
    let kinds: Vec<Request> = reqs.iter().map(|r| r.1).collect();
    assert_eq!(kinds, Request::ALL);
    assert!(reqs.iter().all(|r| r.0 == reqs[0].0));
    for (i, (sid, _)) in reqs.iter().enumerate() {
        rig.reply(*sid, &[i as u8; 3]);
    }
    assert_eq!(
        read_exact(&mut c, 15),
        [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]
    );
    // The session lives on for more.
    c.write_all(&[0]).unwrap();
    let reqs = rig.requests(1);
    rig.reply(reqs[0].0, b"x");
    assert_eq!(read_exact(&mut c, 1), b"x");
    assert_eq!(rig.server.session_count(), 1);
    rig.server.remove();
}

#[test]
fn get_state_round_trip_over_the_socket() {
    let d = Scratch::new("state");
    let mut rig = Rig::new(&d.sock());
    let snap = Snapshot {
        vifs: vec![VifInfo {
            addrs: vec![crate::config::VipAddr::V4(crate::config::IfAddr {
                ifname: "eth0".into(),
                addr: "192.0.2.10".parse().unwrap(),
                prefix: 24,
                net_prefix: 24,
            })],
            owner: "10.0.0.1".parse().unwrap(),
            priority: crate::cluster::msg::Priority::Claimed,
            held_here: true,
        }],
        ..Snapshot::default()
    };
    let mut c = client(&d.sock());
    c.write_all(&[0]).unwrap();
    let reqs = rig.requests(1);
    assert_eq!(reqs[0].1, Request::GetState);
    rig.reply(reqs[0].0, &encode_state(&snap));
    let len = u32::from_be_bytes(read_exact(&mut c, 4).try_into().unwrap()) as usize;
    assert_eq!(len, 900);
    let vifs = decode_state(&read_exact(&mut c, len)).unwrap();
    assert_eq!(
        vifs[0].owner,
        "10.0.0.1".parse::<std::net::Ipv4Addr>().unwrap()
    );
    assert_eq!(vifs[0].master.prefix(), 24);
    rig.server.remove();
}

#[test]
fn an_unknown_byte_closes_the_session_after_the_replies_before_it() {
    let d = Scratch::new("unknown");
    let mut rig = Rig::new(&d.sock());
    let mut c = client(&d.sock());
    c.write_all(&[9]).unwrap();
    assert!(rig.settle().is_empty());
    assert!(closed(&mut c));
    assert_eq!(rig.server.session_count(), 0);

    let mut c = client(&d.sock());
    c.write_all(&[0, 100, 0]).unwrap();
    let reqs = rig.requests(1);
    assert!(
        rig.settle().is_empty(),
        "nothing is read after the bad byte"
    );
    assert_eq!(rig.server.session_count(), 1, "open until answered");
    rig.reply(reqs[0].0, b"abcd");
    assert_eq!(read_exact(&mut c, 4), b"abcd");
    assert!(closed(&mut c));
    assert_eq!(rig.server.session_count(), 0);
    rig.server.remove();
}

#[test]
fn a_client_that_shuts_down_its_side_still_gets_its_reply() {
    let d = Scratch::new("halfclose");
    let mut rig = Rig::new(&d.sock());
    let mut c = client(&d.sock());
    c.write_all(&[3]).unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    let reqs = rig.requests(1);
    rig.settle();
    rig.reply(reqs[0].0, b"{}");
    assert_eq!(read_exact(&mut c, 2), b"{}");
    assert!(closed(&mut c));
    assert_eq!(rig.server.session_count(), 0);
    // A client that goes away before its reply: the reply is dropped.
    let c = client(&d.sock());
    (&c).write_all(&[1]).unwrap();
    drop(c);
    let reqs = rig.requests(1);
    rig.reply(reqs[0].0, &[0; 4]);
    rig.settle();
    assert_eq!(rig.server.session_count(), 0);
    rig.server.remove();
}

#[test]
fn a_flood_of_requests_drops_the_session() {
    let d = Scratch::new("flood");
    let mut rig = Rig::new(&d.sock());
    let mut c = client(&d.sock());
    c.write_all(&[0; MAX_PENDING + 1]).unwrap();
    assert!(rig.settle().is_empty());
    assert!(closed(&mut c));
    assert_eq!(rig.server.session_count(), 0);
    // The limit itself is served.
    let mut c = client(&d.sock());
    c.write_all(&[2; MAX_PENDING]).unwrap();
    let reqs = rig.requests(MAX_PENDING);
    for (sid, _) in &reqs {
        rig.reply(*sid, &[0; 4]);
    }
    assert_eq!(
        read_exact(&mut c, 4 * MAX_PENDING),
        vec![0; 4 * MAX_PENDING]
    );
    rig.server.remove();
}

#[test]
fn a_client_that_never_reads_is_dropped_without_blocking() {
    let d = Scratch::new("slow");
    let mut rig = Rig::new(&d.sock());
    let mut c = client(&d.sock());
    let big = vec![7u8; 400_000];
    let mut dropped = false;
    for _ in 0..10 {
        c.write_all(&[0]).unwrap();
        let reqs = rig.requests(1);
        rig.reply(reqs[0].0, &big);
        if rig.server.session_count() == 0 {
            dropped = true;
            break;
        }
    }
    assert!(dropped, "never dropped");
    rig.server.remove();
}

#[test]
fn a_big_reply_goes_out_in_pieces_as_the_client_reads() {
    let d = Scratch::new("big");
    let mut rig = Rig::new(&d.sock());
    let mut c = client(&d.sock());
    c.write_all(&[0]).unwrap();
    let reqs = rig.requests(1);
    let big: Vec<u8> = (0..900_000u32).map(|i| (i % 251) as u8).collect();
    rig.reply(reqs[0].0, &big);
    c.set_nonblocking(true).unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    for _ in 0..500 {
        match c.read(&mut buf) {
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
        if got.len() == big.len() {
            break;
        }
        rig.round();
    }
    assert!(got == big, "{} of {} bytes", got.len(), big.len());
    assert_eq!(rig.server.session_count(), 1);
    rig.server.remove();
}

#[test]
fn sessions_are_capped_and_replies_to_gone_sessions_are_dropped() {
    let d = Scratch::new("cap");
    let mut rig = Rig::new(&d.sock());
    let mut clients: Vec<StdStream> = (0..MAX_SESSIONS).map(|_| client(&d.sock())).collect();
    rig.settle();
    assert_eq!(rig.server.session_count(), MAX_SESSIONS);
    // One more: the oldest session makes room for it.
    let mut extra = client(&d.sock());
    rig.settle();
    assert_eq!(rig.server.session_count(), MAX_SESSIONS);
    assert!(closed(&mut clients[0]));
    clients.remove(0);
    extra.write_all(&[0]).unwrap();
    let e = rig.requests(1)[0].0;
    rig.reply(e, b"EEEE");
    assert_eq!(read_exact(&mut extra, 4), b"EEEE");

    // Session A asks and goes away: its session waits for the reply,
    // which then fails and frees the slot.
    clients[0].write_all(&[0]).unwrap();
    let a = rig.requests(1)[0].0;
    drop(clients.remove(0));
    rig.settle();
    assert_eq!(rig.server.session_count(), MAX_SESSIONS);
    rig.reply(a, b"AAAA");
    assert_eq!(rig.server.session_count(), MAX_SESSIONS - 1);
    // B takes the slot; a late second reply for A goes nowhere.
    let mut b = client(&d.sock());
    b.write_all(&[0]).unwrap();
    let bid = rig.requests(1)[0].0;
    assert_ne!(a, bid);
    rig.reply(a, b"AAAA");
    rig.reply(bid, b"BBBB");
    assert_eq!(read_exact(&mut b, 4), b"BBBB");

    rig.server.close_all();
    assert_eq!(rig.server.session_count(), 0);
    assert!(closed(&mut b));
    assert!(closed(&mut clients[5]));
    rig.server.remove();
}

#[test]
fn a_directory_others_may_write_is_refused_and_nothing_is_made() {
    let d = Scratch::new("opendir");
    std::fs::set_permissions(&d.0, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let e = bind(&d.sock()).err().unwrap();
    assert_eq!(
        e.to_string(),
        format!(
            "control socket directory {} is writable by others (mode 1777); put Control in a directory only root can write, such as /var/run",
            d.0.display()
        )
    );
    std::fs::set_permissions(&d.0, std::fs::Permissions::from_mode(0o770)).unwrap();
    let e = bind(&d.sock()).err().unwrap();
    assert!(
        e.to_string().contains("writable by its group (mode 0770)"),
        "{e}"
    );
    assert_eq!(std::fs::read_dir(&d.0).unwrap().count(), 0);
    std::fs::set_permissions(&d.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    bind(&d.sock()).unwrap().remove();
}

#[test]
fn a_link_a_directory_or_a_fifo_at_the_path_is_left_alone() {
    let d = Scratch::new("squat");
    let target = d.0.join("target");
    std::fs::write(&target, "precious").unwrap();
    std::os::unix::fs::symlink(&target, d.sock()).unwrap();
    let e = bind(&d.sock()).err().unwrap();
    assert!(
        e.to_string().contains("is a symbolic link, not a socket"),
        "{e}"
    );
    assert!(std::fs::symlink_metadata(d.sock())
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
    // A link to a socket is not followed either.
    std::fs::remove_file(d.sock()).unwrap();
    let real = d.0.join("real.sock");
    let live = std::os::unix::net::UnixListener::bind(&real).unwrap();
    std::os::unix::fs::symlink(&real, d.sock()).unwrap();
    assert_eq!(
        bind(&d.sock()).err().unwrap().kind(),
        ErrorKind::AlreadyExists
    );
    drop(live);
    std::fs::remove_file(d.sock()).unwrap();

    std::fs::create_dir(d.sock()).unwrap();
    let e = bind(&d.sock()).err().unwrap();
    assert!(
        e.to_string().contains("is a directory, not a socket"),
        "{e}"
    );
    std::fs::remove_dir(d.sock()).unwrap();
    nix::unistd::mkfifo(&d.sock(), nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let e = bind(&d.sock()).err().unwrap();
    assert!(e.to_string().contains("is a FIFO, not a socket"), "{e}");
}

/// A group this process may give its files (any, as root).
fn some_group() -> crate::control::ControlGroup {
    let gid = if nix::unistd::geteuid().is_root() {
        65534
    } else {
        nix::unistd::getegid().as_raw()
    };
    crate::control::ControlGroup {
        name: "g".into(),
        gid,
    }
}

fn mode_and_group(p: &Path) -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(p).unwrap();
    (m.mode() & 0o7777, m.gid())
}

#[test]
fn with_a_group_the_socket_is_0660_and_a_reload_changes_it() {
    let d = Scratch::new("group");
    let me = nix::unistd::geteuid().as_raw();
    let egid = nix::unistd::getegid().as_raw();
    let g = some_group();
    let mut s = Server::bind(&d.sock(), Access::new(me, Some(g.clone()))).unwrap();
    assert_eq!(mode_and_group(&d.sock()), (0o660, g.gid));
    s.set_access(Access::new(me, None)).unwrap();
    assert_eq!(mode_and_group(&d.sock()), (0o600, egid));
    s.set_access(Access::new(me, Some(g.clone()))).unwrap();
    assert_eq!(mode_and_group(&d.sock()), (0o660, g.gid));
    assert_eq!(s.access().group(), Some(&g));
    // A socket someone replaced is not touched.
    std::fs::remove_file(d.sock()).unwrap();
    drop(std::os::unix::net::UnixListener::bind(d.sock()).unwrap());
    std::fs::set_permissions(d.sock(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = s.set_access(Access::new(me, None)).err().unwrap();
    assert!(e.to_string().contains("removed or replaced"), "{e}");
    assert_eq!(mode_and_group(&d.sock()).0, 0o644);
    assert_eq!(s.access().group(), Some(&g), "the old policy stays");
    s.remove();
    assert!(d.sock().exists(), "not ours: left alone");
}

#[test]
fn a_session_that_sends_nothing_is_closed_at_its_deadline() {
    let d = Scratch::new("idle");
    let mut rig = Rig::new(&d.sock());
    assert_eq!(rig.server.next_deadline(), None, "no sessions, no timer");
    let t0 = rig.now;
    let mut idle = client(&d.sock());
    rig.settle();
    assert_eq!(rig.server.session_count(), 1);
    assert_eq!(rig.server.next_deadline(), Some(t0 + SESSION_DEADLINE));
    assert_eq!(
        rig.server
            .expire(t0 + SESSION_DEADLINE - Duration::from_millis(1)),
        0
    );
    assert_eq!(rig.server.session_count(), 1);
    assert_eq!(rig.server.expire(t0 + SESSION_DEADLINE), 1);
    assert_eq!(rig.server.session_count(), 0);
    assert!(closed(&mut idle));
    assert_eq!(rig.server.next_deadline(), None);
}

#[test]
fn each_request_and_reply_moves_the_deadline() {
    let d = Scratch::new("busy");
    let mut rig = Rig::new(&d.sock());
    let t0 = rig.now;
    let mut c = client(&d.sock());
    let mut late = client(&d.sock());
    rig.settle();
    // Four seconds on, c asks; late never does.
    rig.now = t0 + Duration::from_secs(4);
    c.write_all(&[3]).unwrap();
    let reqs = rig.requests(1);
    assert_eq!(rig.server.next_deadline(), Some(t0 + SESSION_DEADLINE));
    assert_eq!(rig.server.expire(t0 + SESSION_DEADLINE), 1);
    assert!(closed(&mut late));
    assert_eq!(rig.server.next_deadline(), Some(rig.now + SESSION_DEADLINE));
    // The reply comes a second later: the deadline runs from there.
    rig.now += Duration::from_secs(1);
    rig.reply(reqs[0].0, b"{}");
    assert_eq!(read_exact(&mut c, 2), b"{}");
    assert_eq!(rig.server.next_deadline(), Some(rig.now + SESSION_DEADLINE));
    assert_eq!(rig.server.expire(rig.now + Duration::from_secs(4)), 0);
    assert_eq!(rig.server.session_count(), 1);
    assert_eq!(rig.server.expire(rig.now + SESSION_DEADLINE), 1);
    assert!(closed(&mut c));
    rig.server.remove();
}

#[test]
fn a_client_taking_a_long_reply_is_not_idle() {
    let d = Scratch::new("drain");
    let mut rig = Rig::new(&d.sock());
    let mut c = client(&d.sock());
    c.write_all(&[0]).unwrap();
    let reqs = rig.requests(1);
    let big = vec![5u8; 900_000];
    rig.reply(reqs[0].0, &big);
    let mut got = 0;
    let mut steps = 0;
    let mut buf = vec![0u8; 65536];
    c.set_nonblocking(true).unwrap();
    for _ in 0..100 {
        // The client takes what is there, every 3 s: each piece the
        // server then writes moves the deadline, so the session outlives
        // 5 s several times over.
        loop {
            match c.read(&mut buf) {
                Ok(n) => got += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        if got == big.len() {
            break;
        }
        rig.settle();
        rig.now += Duration::from_secs(3);
        assert_eq!(rig.server.expire(rig.now), 0, "closed after {got} bytes");
        steps += 1;
    }
    assert!(steps >= 2, "the reply went in {steps} pieces");
    assert_eq!(got, big.len());
    rig.server.remove();
}
