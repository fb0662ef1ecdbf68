//! The I/O of spread-sim: one mio loop over the simulated daemons'
//! listening sockets, their client connections and the control socket.
//! It decides nothing: client bytes go to the [`Server`], control lines
//! to [`control`], and the resulting actions come back here to be done.

use std::collections::HashMap;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::path::PathBuf;

use mio::net::{TcpListener, UnixListener, UnixStream};
use mio::{Events, Interest, Poll, Token};

use wackamole::io::WriteBuf;
use wackamole::spread::client::Socket;

use super::control::{self, Command, CommandError};
use super::model::{DaemonId, World};
use super::server::{Action, ConnId, Server};

/// A session more than this far behind is dropped, as Spread drops a
/// client 1,000 messages behind.
const MAX_BACKLOG: usize = 16 << 20;

const CONTROL: Token = Token(0);

pub enum Listen {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

impl std::fmt::Display for Listen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Listen::Unix(p) => p.display().fmt(f),
            Listen::Tcp(a) => a.fmt(f),
        }
    }
}

pub struct DaemonSpec {
    pub name: String,
    pub listen: Vec<Listen>,
}

enum Listener {
    Unix(UnixListener),
    Tcp(TcpListener),
}

/// A client connection: its socket and what waits to be written.
struct Conn {
    socket: Socket,
    out: WriteBuf,
    /// Closing once `out` is written (a refused handshake).
    closing: bool,
}

/// A control connection: lines in, answers out.
struct ControlConn {
    stream: UnixStream,
    inbuf: Vec<u8>,
    out: WriteBuf,
}

enum Source {
    Listener { daemon: DaemonId },
    Control,
    ControlConn,
    Conn,
}

pub struct Sim {
    poll: Poll,
    server: Server,
    specs: Vec<DaemonSpec>,
    listeners: HashMap<Token, Listener>,
    sources: HashMap<Token, Source>,
    conns: HashMap<Token, Conn>,
    control: UnixListener,
    control_path: PathBuf,
    control_conns: HashMap<Token, ControlConn>,
    next_token: usize,
    quit: bool,
}

impl Sim {
    /// Every daemon listening, then the control socket under its name.
    pub fn new(
        specs: Vec<DaemonSpec>,
        control_path: PathBuf,
        verbose: bool,
    ) -> Result<Sim, String> {
        let names: Vec<&str> = specs.iter().map(|d| d.name.as_str()).collect();
        let server = Server::new(World::new(&names), verbose);
        let poll = Poll::new().map_err(|e| e.to_string())?;
        // The control socket appears under its name only once every
        // daemon listens: its existence tells a harness it may connect.
        let binding = control_path.with_extension("binding");
        let _ = std::fs::remove_file(&control_path);
        let _ = std::fs::remove_file(&binding);
        let mut control = UnixListener::bind(&binding)
            .map_err(|e| format!("control socket {}: {e}", control_path.display()))?;
        poll.registry()
            .register(&mut control, CONTROL, Interest::READABLE)
            .map_err(|e| e.to_string())?;
        let mut sim = Sim {
            poll,
            server,
            specs,
            listeners: HashMap::new(),
            sources: HashMap::new(),
            conns: HashMap::new(),
            control,
            control_path,
            control_conns: HashMap::new(),
            next_token: 1,
            quit: false,
        };
        sim.sources.insert(CONTROL, Source::Control);
        for d in 0..sim.specs.len() {
            sim.listen(d)?;
        }
        std::fs::rename(&binding, &sim.control_path)
            .map_err(|e| format!("control socket {}: {e}", sim.control_path.display()))?;
        eprintln!(
            "spread-sim: a test double of {} Spread daemon(s); control socket {}",
            sim.specs.len(),
            sim.control_path.display()
        );
        Ok(sim)
    }

    fn token(&mut self) -> Token {
        self.next_token += 1;
        Token(self.next_token)
    }

    /// Opens daemon `d`'s listening sockets (at start and on restart).
    fn listen(&mut self, d: DaemonId) -> Result<(), String> {
        for i in 0..self.specs[d].listen.len() {
            let t = self.token();
            let mut l = match &self.specs[d].listen[i] {
                Listen::Unix(p) => {
                    let _ = std::fs::remove_file(p);
                    Listener::Unix(
                        UnixListener::bind(p).map_err(|e| format!("{}: {e}", p.display()))?,
                    )
                }
                Listen::Tcp(a) => {
                    Listener::Tcp(TcpListener::bind(*a).map_err(|e| format!("{a}: {e}"))?)
                }
            };
            let r = match &mut l {
                Listener::Unix(u) => self.poll.registry().register(u, t, Interest::READABLE),
                Listener::Tcp(x) => self.poll.registry().register(x, t, Interest::READABLE),
            };
            r.map_err(|e| e.to_string())?;
            self.listeners.insert(t, l);
            self.sources.insert(t, Source::Listener { daemon: d });
        }
        Ok(())
    }

    /// Closes daemon `d`'s listening sockets: connecting then fails, as
    /// with a dead daemon.
    fn unlisten(&mut self, d: DaemonId) {
        let tokens: Vec<Token> = self
            .sources
            .iter()
            .filter(|(_, s)| matches!(s, Source::Listener { daemon } if *daemon == d))
            .map(|(t, _)| *t)
            .collect();
        for t in tokens {
            self.sources.remove(&t);
            if let Some(mut l) = self.listeners.remove(&t) {
                let _ = match &mut l {
                    Listener::Unix(u) => self.poll.registry().deregister(u),
                    Listener::Tcp(x) => self.poll.registry().deregister(x),
                };
            }
        }
    }

    /// Runs until `quit`; then removes the sockets' paths.
    pub fn run(&mut self) -> Result<(), String> {
        let mut events = Events::with_capacity(256);
        while !self.quit {
            match self.poll.poll(&mut events, None) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.to_string()),
            }
            for ev in events.iter() {
                let t = ev.token();
                match self.sources.get(&t) {
                    Some(Source::Listener { daemon }) => {
                        let d = *daemon;
                        self.accept(t, d);
                    }
                    Some(Source::Control) => self.accept_control(),
                    Some(Source::ControlConn) => self.control_io(t),
                    Some(Source::Conn) => self.conn_io(t),
                    None => {}
                }
            }
        }
        let _ = std::fs::remove_file(&self.control_path);
        for d in &self.specs {
            for l in &d.listen {
                if let Listen::Unix(p) = l {
                    let _ = std::fs::remove_file(p);
                }
            }
        }
        Ok(())
    }

    fn accept(&mut self, t: Token, d: DaemonId) {
        loop {
            let sock = match self.listeners.get(&t) {
                Some(Listener::Unix(u)) => u.accept().map(|(s, _)| Socket::Unix(s)),
                Some(Listener::Tcp(x)) => x.accept().map(|(s, _)| {
                    let _ = s.set_nodelay(true);
                    Socket::Tcp(s)
                }),
                None => return,
            };
            let mut socket = match sock {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    eprintln!("spread-sim: accept on {}: {e}", self.specs[d].name);
                    return;
                }
            };
            let ct = self.token();
            let interest = Interest::READABLE | Interest::WRITABLE;
            if self
                .poll
                .registry()
                .register(&mut socket, ct, interest)
                .is_err()
            {
                continue;
            }
            self.sources.insert(ct, Source::Conn);
            let out = WriteBuf::new();
            let closing = false;
            self.conns.insert(
                ct,
                Conn {
                    socket,
                    out,
                    closing,
                },
            );
            self.server.accepted(ct.0, d);
        }
    }

    /// Reads what a client sent and hands it to the server; writes what
    /// is queued.
    fn conn_io(&mut self, t: Token) {
        let Some(c) = self.conns.get_mut(&t) else {
            return;
        };
        let (bytes, eof) = read_all(&mut c.socket);
        let actions = self.server.received(t.0, &bytes);
        self.apply(actions);
        if eof {
            let actions = self.server.closed(t.0, "connection closed");
            self.apply(actions);
            return;
        }
        self.flush(t);
    }

    /// Does the server's actions in order, then writes to every
    /// connection that got bytes.
    fn apply(&mut self, actions: Vec<Action>) {
        let mut touched = Vec::new();
        for a in actions {
            match a {
                Action::Send { conn, bytes } => {
                    if let Some(c) = self.conns.get_mut(&Token(conn)) {
                        c.out.push(&bytes);
                        touched.push(conn);
                    }
                }
                Action::CloseWhenSent { conn } => {
                    if let Some(c) = self.conns.get_mut(&Token(conn)) {
                        c.closing = true;
                        touched.push(conn);
                    }
                }
                Action::Close { conn } => self.remove(conn),
                Action::Log(line) => eprintln!("spread-sim: {line}"),
            }
        }
        touched.sort_unstable();
        touched.dedup();
        for conn in touched {
            self.flush(Token(conn));
        }
    }

    fn remove(&mut self, conn: ConnId) {
        let t = Token(conn);
        if let Some(mut c) = self.conns.remove(&t) {
            self.sources.remove(&t);
            let _ = self.poll.registry().deregister(&mut c.socket);
        }
    }

    fn flush(&mut self, t: Token) {
        let Some(c) = self.conns.get_mut(&t) else {
            return;
        };
        let failed = c.out.write_to(&mut c.socket).is_err();
        let backlog = c.out.len();
        if failed {
            let actions = self.server.closed(t.0, "write failed");
            self.apply(actions);
        } else if c.closing && backlog == 0 {
            // A refused handshake: close without a disconnect.
            self.remove(t.0);
        } else if backlog > MAX_BACKLOG {
            let actions = self.server.closed(t.0, "too far behind");
            self.apply(actions);
        }
    }

    fn accept_control(&mut self) {
        while let Ok((mut stream, _)) = self.control.accept() {
            let t = self.token();
            let interest = Interest::READABLE | Interest::WRITABLE;
            if self
                .poll
                .registry()
                .register(&mut stream, t, interest)
                .is_ok()
            {
                self.sources.insert(t, Source::ControlConn);
                let (inbuf, out) = (Vec::new(), WriteBuf::new());
                self.control_conns
                    .insert(t, ControlConn { stream, inbuf, out });
            }
        }
    }

    fn control_io(&mut self, t: Token) {
        let Some(cc) = self.control_conns.get_mut(&t) else {
            return;
        };
        let (bytes, mut eof) = read_all(&mut cc.stream);
        cc.inbuf.extend_from_slice(&bytes);
        let mut lines = Vec::new();
        while let Some(i) = cc.inbuf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = cc.inbuf.drain(..=i).collect();
            lines.push(String::from_utf8_lossy(&line).trim().to_string());
        }
        for line in lines {
            let answer = control::answer(self.command(&line));
            if let Some(cc) = self.control_conns.get_mut(&t) {
                cc.out.push(answer.as_bytes());
            }
        }
        if let Some(cc) = self.control_conns.get_mut(&t) {
            eof |= cc.out.write_to(&mut cc.stream).is_err();
        }
        if eof {
            if let Some(mut cc) = self.control_conns.remove(&t) {
                let _ = self.poll.registry().deregister(&mut cc.stream);
            }
            self.sources.remove(&t);
        }
    }

    fn daemon_id(&self, name: &str) -> Result<DaemonId, CommandError> {
        let world = self.server.world();
        world
            .daemon_by_name(name)
            .ok_or_else(|| CommandError::NoDaemon(name.to_string()))
    }

    /// One control command; its answer's text.
    fn command(&mut self, line: &str) -> Result<String, CommandError> {
        match control::parse(line)? {
            Command::Nothing => {}
            Command::Partition(names) => {
                let mut comps = Vec::new();
                let mut err = None;
                for comp in names {
                    let ids = comp.iter().filter_map(|n| match self.daemon_id(n) {
                        Ok(d) => Some(d),
                        Err(e) => {
                            err = Some(e);
                            None
                        }
                    });
                    comps.push(ids.collect::<Vec<_>>());
                }
                if let Some(e) = err {
                    return Err(e);
                }
                let actions = self.server.partition(&comps)?;
                self.apply(actions);
            }
            Command::Heal => {
                let actions = self.server.heal();
                self.apply(actions);
            }
            Command::Crash(name) => {
                let d = self.daemon_id(name)?;
                self.unlisten(d);
                let actions = self.server.crash(d);
                self.apply(actions);
            }
            Command::Restart(name) => {
                let d = self.daemon_id(name)?;
                let actions = self.server.restart(d);
                self.apply(actions);
                self.unlisten(d);
                self.listen(d).map_err(CommandError::Listen)?;
            }
            Command::Hold => self.server.hold(),
            Command::Release(by_member) => {
                let (n, actions) = self.server.release(by_member);
                self.apply(actions);
                return Ok(format!("released {n}"));
            }
            Command::Groups => return Ok(self.server.world().describe()),
            Command::Daemons => return Ok(self.daemons()),
            Command::Quit => self.quit = true,
        }
        Ok(String::new())
    }

    /// Every daemon, its state and listen addresses, a line each.
    fn daemons(&self) -> String {
        let world = self.server.world();
        let line = |(i, d): (usize, &DaemonSpec)| {
            let addrs: Vec<String> = d.listen.iter().map(Listen::to_string).collect();
            let state = if world.is_up(i) { "up" } else { "down" };
            format!("{} {state} {}\n", d.name, addrs.join(" "))
        };
        self.specs.iter().enumerate().map(line).collect()
    }
}

/// Everything readable now; `true` once the peer closed (or the socket
/// failed).
fn read_all(r: &mut impl Read) -> (Vec<u8>, bool) {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return (bytes, true),
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return (bytes, false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return (bytes, true),
        }
    }
}
