//! `spread-sim`: a TEST DOUBLE of a set of Spread daemons, for CI and
//! the demo. Production uses real Spread.
//!
//! One process simulates several daemons. Each listens on its own Unix
//! socket path and/or TCP address and speaks the Spread client protocol
//! (the handshake, requests and deliveries of `wackamole::spread::wire`).
//! What real Spread decides (total order, views, group ids) comes from
//! `wackamole::spread::model`, a pure model; this file is the sockets
//! around it.
//!
//! A control socket takes one command per line: `partition A B | C`,
//! `heal`, `crash A`, `restart A`, `groups`, `daemons`, `quit`; each
//! answer ends with a line `OK` or `ERR <reason>`. `spread-sim --ctl
//! PATH COMMAND...` sends one command and prints the answer.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use mio::net::{TcpListener, UnixListener, UnixStream};
use mio::{Events, Interest, Poll, Token};

use wackamole::spread::client::Socket;
use wackamole::spread::error::SpreadError;
use wackamole::spread::model::{self as world, Delivery, Out, Reject, SessionId, World};
use wackamole::spread::name::{self, MAX_DAEMON_NAME};
use wackamole::spread::wire::handshake::{self, AUTH_CHOICE_LEN};
use wackamole::spread::wire::message::{self, Cause, Membership};
use wackamole::spread::wire::request::{self, Request};
use wackamole::spread::wire::{GroupId, Order};

/// What this double announces: a 5.0.1 daemon.
const DAEMON_VERSION: (u8, u8, u8) = (5, 0, 1);
/// A session more than this far behind is dropped, as Spread drops a
/// client 1,000 messages behind.
const MAX_BACKLOG: usize = 16 << 20;

const HELP: &str = "\
spread-sim: a TEST DOUBLE of Spread daemons, for tests and demos only.
Production clusters use real Spread (www.spread.org).

Usage: spread-sim -d NAME=LISTEN[,LISTEN...] [-d ...] -c CONTROL [-v]
       spread-sim --ctl CONTROL COMMAND...

  -d NAME=LISTEN  a simulated daemon NAME (at most 19 bytes), listening on
                  each LISTEN: a Unix socket path (/...) or PORT@ADDR (TCP)
  -c CONTROL      the control socket path
  -v              log every connection and request on stderr
  --ctl           send one COMMAND to a running spread-sim and print the answer

Commands (one per line on the control socket):
  partition A B | C   split the live daemons into components
  heal                join all live daemons into one component
  crash A             daemon A dies: its clients' connections drop
  restart A           daemon A comes back, with no clients
  groups              every group and its members, per component
  daemons             every daemon, its state and listen addresses
  quit                stop spread-sim
";

enum Listen {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

struct DaemonSpec {
    name: String,
    listen: Vec<Listen>,
}

enum Listener {
    Unix(UnixListener),
    Tcp(TcpListener),
}

#[derive(Debug)]
enum Phase {
    /// Waiting for the connect request.
    Request,
    /// The auth list went out; waiting for the 90-byte choice.
    Auth {
        version: (u8, u8, u8),
        membership: bool,
        name: String,
    },
    Open(SessionId),
}

struct Conn {
    socket: Socket,
    daemon: usize,
    phase: Phase,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    out_start: usize,
    private_group: String,
    /// Closing once `out` is written (a rejection, a kill).
    closing: bool,
}

enum Source {
    Listener { daemon: usize },
    Control,
    ControlConn,
    Conn,
}

struct Sim {
    poll: Poll,
    world: World,
    specs: Vec<DaemonSpec>,
    listeners: HashMap<Token, Listener>,
    sources: HashMap<Token, Source>,
    conns: HashMap<Token, Conn>,
    by_session: HashMap<SessionId, Token>,
    control: UnixListener,
    control_path: PathBuf,
    control_conns: HashMap<Token, (UnixStream, Vec<u8>, Vec<u8>)>,
    next_token: usize,
    verbose: bool,
    quit: bool,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--ctl") {
        return ctl(&args[1..]);
    }
    let mut o = getopts::Options::new();
    o.optmulti("d", "", "a simulated daemon", "NAME=LISTEN[,LISTEN...]");
    o.optopt("c", "", "control socket", "PATH");
    o.optflag("v", "", "verbose");
    o.optflag("h", "help", "help");
    let m = match o.parse(&args) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("spread-sim: {e}\n{HELP}");
            return ExitCode::from(2);
        }
    };
    if m.opt_present("h") {
        print!("{HELP}");
        return ExitCode::SUCCESS;
    }
    let specs = match m
        .opt_strs("d")
        .iter()
        .map(|d| parse_daemon(d))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(s) if !s.is_empty() => s,
        Ok(_) => {
            eprintln!("spread-sim: at least one -d is needed\n{HELP}");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("spread-sim: {e}");
            return ExitCode::from(2);
        }
    };
    for (i, d) in specs.iter().enumerate() {
        if specs[..i].iter().any(|e| e.name == d.name) {
            eprintln!("spread-sim: daemon '{}' is given twice", d.name);
            return ExitCode::from(2);
        }
    }
    let Some(control) = m.opt_str("c") else {
        eprintln!("spread-sim: -c CONTROL is needed\n{HELP}");
        return ExitCode::from(2);
    };
    match Sim::new(specs, PathBuf::from(control), m.opt_present("v")).and_then(|mut s| s.run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("spread-sim: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse_daemon(s: &str) -> Result<DaemonSpec, String> {
    let (name, listens) = s
        .split_once('=')
        .ok_or_else(|| format!("-d {s}: expected NAME=LISTEN"))?;
    if name::check_daemon_name(name).is_err() {
        return Err(format!(
            "-d {s}: a daemon name has 1 to {MAX_DAEMON_NAME} bytes of '$' to '~', no '#'"
        ));
    }
    let mut listen = Vec::new();
    for l in listens.split(',') {
        if l.starts_with('/') {
            listen.push(Listen::Unix(PathBuf::from(l)));
        } else if let Some((port, host)) = l.split_once('@') {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let ip: std::net::IpAddr = host
                .parse()
                .map_err(|_| format!("-d {s}: '{host}' is not an IP address"))?;
            let port: u16 = port
                .parse()
                .map_err(|_| format!("-d {s}: '{port}' is not a port"))?;
            listen.push(Listen::Tcp(SocketAddr::new(ip, port)));
        } else {
            return Err(format!(
                "-d {s}: '{l}' is neither /socket/path nor PORT@ADDR"
            ));
        }
    }
    Ok(DaemonSpec {
        name: name.to_string(),
        listen,
    })
}

/// `--ctl PATH COMMAND...`: one command, its answer on stdout.
fn ctl(args: &[String]) -> ExitCode {
    let [path, cmd @ ..] = args else {
        eprintln!("{HELP}");
        return ExitCode::from(2);
    };
    let run = || -> io::Result<String> {
        let mut s = std::os::unix::net::UnixStream::connect(path)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        writeln!(s, "{}", cmd.join(" "))?;
        let mut answer = String::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = s.read(&mut buf)?;
            if n == 0 {
                break;
            }
            answer.push_str(&String::from_utf8_lossy(&buf[..n]));
            if answer.ends_with("OK\n")
                || answer.lines().last().is_some_and(|l| l.starts_with("ERR"))
            {
                break;
            }
        }
        Ok(answer)
    };
    match run() {
        Ok(a) => {
            print!("{a}");
            if a.lines().last().is_some_and(|l| l == "OK") {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("spread-sim --ctl {path}: {e}");
            ExitCode::FAILURE
        }
    }
}

const CONTROL: Token = Token(0);

impl Sim {
    fn new(specs: Vec<DaemonSpec>, control_path: PathBuf, verbose: bool) -> Result<Sim, String> {
        let names: Vec<&str> = specs.iter().map(|d| d.name.as_str()).collect();
        let world = World::new(&names);
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
            world,
            specs,
            listeners: HashMap::new(),
            sources: HashMap::new(),
            conns: HashMap::new(),
            by_session: HashMap::new(),
            control,
            control_path,
            control_conns: HashMap::new(),
            next_token: 1,
            verbose,
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
    fn listen(&mut self, d: usize) -> Result<(), String> {
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
    fn unlisten(&mut self, d: usize) {
        let tokens: Vec<Token> = self
            .sources
            .iter()
            .filter(|(_, s)| matches!(s, Source::Listener { daemon, .. } if *daemon == d))
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

    fn run(&mut self) -> Result<(), String> {
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
                    Some(Source::Listener { daemon, .. }) => {
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

    fn accept(&mut self, t: Token, d: usize) {
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
            if self
                .poll
                .registry()
                .register(&mut socket, ct, Interest::READABLE | Interest::WRITABLE)
                .is_err()
            {
                continue;
            }
            self.sources.insert(ct, Source::Conn);
            self.conns.insert(
                ct,
                Conn {
                    socket,
                    daemon: d,
                    phase: Phase::Request,
                    inbuf: Vec::new(),
                    out: Vec::new(),
                    out_start: 0,
                    private_group: String::new(),
                    closing: false,
                },
            );
        }
    }

    fn log(&self, what: impl FnOnce() -> String) {
        if self.verbose {
            eprintln!("spread-sim: {}", what());
        }
    }

    /// Reads what a client sent and acts on it; writes what is queued.
    fn conn_io(&mut self, t: Token) {
        let mut eof = false;
        let mut fresh = 0;
        if let Some(c) = self.conns.get_mut(&t) {
            let mut buf = [0u8; 16 * 1024];
            loop {
                match c.socket.read(&mut buf) {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(n) => {
                        c.inbuf.extend_from_slice(&buf[..n]);
                        fresh += n;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => {
                        eof = true;
                        break;
                    }
                }
            }
        } else {
            return;
        }
        if fresh > 0 {
            self.process(t);
        }
        if eof {
            self.drop_conn(t, "connection closed");
            return;
        }
        self.flush(t);
    }

    /// Handles every whole request in the connection's buffer.
    fn process(&mut self, t: Token) {
        loop {
            let Some(c) = self.conns.get_mut(&t) else {
                return;
            };
            if c.closing {
                c.inbuf.clear();
                return;
            }
            match &c.phase {
                Phase::Request => {
                    // The daemon reads the request with single recvs: it
                    // must arrive whole, and alone.
                    match handshake::parse_connect_request(&c.inbuf) {
                        Ok(Some((r, n))) if n == c.inbuf.len() => {
                            c.inbuf.clear();
                            if (r.version.0, r.version.1) < (3, 16) {
                                // Older clients get no auth step; out of scope.
                                self.reject(t, SpreadError::RejectVersion);
                                return;
                            }
                            c.out.extend(handshake::auth_list(&["NULL"]));
                            c.phase = Phase::Auth {
                                version: r.version,
                                membership: r.membership,
                                name: r.name,
                            };
                            return;
                        }
                        Ok(_) => {
                            self.reject(t, SpreadError::RejectIllegalName);
                            return;
                        }
                        Err(e) => {
                            self.reject(t, e);
                            return;
                        }
                    }
                }
                Phase::Auth { .. } => {
                    if c.inbuf.len() != AUTH_CHOICE_LEN || !handshake::chooses_null(&c.inbuf) {
                        self.reject(t, SpreadError::RejectAuth);
                        return;
                    }
                    c.inbuf.clear();
                    let Phase::Auth {
                        version,
                        membership,
                        name,
                    } = std::mem::replace(&mut c.phase, Phase::Request)
                    else {
                        unreachable!()
                    };
                    let d = c.daemon;
                    match self.world.connect(d, &name, membership) {
                        Ok((sid, private_group)) => {
                            let c = self.conns.get_mut(&t).expect("still there");
                            c.out.extend(handshake::accept_reply(
                                version,
                                DAEMON_VERSION,
                                &private_group,
                            ));
                            c.phase = Phase::Open(sid);
                            c.private_group = private_group.clone();
                            self.by_session.insert(sid, t);
                            self.log(|| format!("{private_group} connected"));
                        }
                        Err(r) => {
                            let e = match r {
                                Reject::NotUnique => SpreadError::RejectNotUnique,
                                Reject::IllegalName => SpreadError::RejectIllegalName,
                                Reject::DaemonDown => SpreadError::ConnectionClosed,
                            };
                            self.reject(t, e);
                        }
                    }
                    return;
                }
                Phase::Open(sid) => {
                    let sid = *sid;
                    let parsed = request::parse(&c.inbuf);
                    let (sender, req, n) = match parsed {
                        Ok(Some(x)) => x,
                        Ok(None) => return,
                        Err(e) => {
                            self.drop_conn(t, &format!("bad request: {e}"));
                            return;
                        }
                    };
                    c.inbuf.drain(..n);
                    if sender != c.private_group {
                        self.drop_conn(
                            t,
                            &format!("request from '{sender}', not its own private group"),
                        );
                        return;
                    }
                    self.log(|| format!("{sender}: {}", describe_request(&req)));
                    let outs = match req {
                        Request::Join(g) => self.world.join(sid, &g),
                        Request::Leave(g) => self.world.leave(sid, &g),
                        Request::Multicast {
                            service_type,
                            groups,
                            hint,
                            data,
                        } => self.world.multicast(
                            sid,
                            service_type,
                            &groups,
                            u32::from_ne_bytes(hint),
                            &data,
                        ),
                        Request::Kill => {
                            self.drop_conn(t, "disconnected");
                            return;
                        }
                    };
                    self.deliver(outs);
                }
            }
        }
    }

    /// A handshake refused: the code byte, then close.
    fn reject(&mut self, t: Token, e: SpreadError) {
        self.log(|| format!("handshake refused: {e}"));
        if let Some(c) = self.conns.get_mut(&t) {
            c.out.push(handshake::reject(e));
            c.closing = true;
            self.flush(t);
        }
    }

    /// The session ends; the others hear of it.
    fn drop_conn(&mut self, t: Token, why: &str) {
        let Some(mut c) = self.conns.remove(&t) else {
            return;
        };
        self.sources.remove(&t);
        let _ = self.poll.registry().deregister(&mut c.socket);
        if let Phase::Open(sid) = c.phase {
            self.log(|| format!("{}: {why}", c.private_group));
            self.by_session.remove(&sid);
            let outs = self.world.disconnect(sid);
            self.deliver(outs);
        }
    }

    fn deliver(&mut self, outs: Vec<Out>) {
        let mut touched = Vec::new();
        for o in outs {
            match o {
                Out::Deliver { to, msg } => {
                    let Some(&t) = self.by_session.get(&to) else {
                        continue;
                    };
                    let Some(c) = self.conns.get_mut(&t) else {
                        continue;
                    };
                    c.out.extend(encode(&msg));
                    touched.push(t);
                }
                Out::Close { session } => {
                    if let Some(t) = self.by_session.remove(&session) {
                        if let Some(mut c) = self.conns.remove(&t) {
                            self.sources.remove(&t);
                            let _ = self.poll.registry().deregister(&mut c.socket);
                            self.log(|| format!("{}: its daemon crashed", c.private_group));
                        }
                    }
                }
            }
        }
        touched.sort();
        touched.dedup();
        for t in touched {
            self.flush(t);
        }
    }

    fn flush(&mut self, t: Token) {
        let Some(c) = self.conns.get_mut(&t) else {
            return;
        };
        let mut failed = false;
        while c.out_start < c.out.len() {
            match c.socket.write(&c.out[c.out_start..]) {
                Ok(0) => {
                    failed = true;
                    break;
                }
                Ok(n) => c.out_start += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
        if c.out_start == c.out.len() {
            c.out.clear();
            c.out_start = 0;
        } else if c.out_start > c.out.len() / 2 {
            c.out.drain(..c.out_start);
            c.out_start = 0;
        }
        let backlog = c.out.len() - c.out_start;
        let done = c.closing && backlog == 0;
        if failed || done {
            if done {
                // A refused handshake: close without a disconnect.
                if let Some(mut c) = self.conns.remove(&t) {
                    self.sources.remove(&t);
                    let _ = self.poll.registry().deregister(&mut c.socket);
                }
            } else {
                self.drop_conn(t, "write failed");
            }
        } else if backlog > MAX_BACKLOG {
            self.drop_conn(t, "too far behind");
        }
    }

    fn accept_control(&mut self) {
        loop {
            match self.control.accept() {
                Ok((mut s, _)) => {
                    let t = self.token();
                    if self
                        .poll
                        .registry()
                        .register(&mut s, t, Interest::READABLE | Interest::WRITABLE)
                        .is_ok()
                    {
                        self.sources.insert(t, Source::ControlConn);
                        self.control_conns.insert(t, (s, Vec::new(), Vec::new()));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => return,
            }
        }
    }

    fn control_io(&mut self, t: Token) {
        let mut eof = false;
        let mut lines = Vec::new();
        if let Some((s, inbuf, _)) = self.control_conns.get_mut(&t) {
            let mut buf = [0u8; 4096];
            loop {
                match s.read(&mut buf) {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(n) => inbuf.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => {
                        eof = true;
                        break;
                    }
                }
            }
            while let Some(i) = inbuf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = inbuf.drain(..=i).collect();
                lines.push(String::from_utf8_lossy(&line).trim().to_string());
            }
        }
        for line in lines {
            let answer = self.command(&line);
            if let Some((_, _, out)) = self.control_conns.get_mut(&t) {
                out.extend_from_slice(answer.as_bytes());
            }
        }
        if let Some((s, _, out)) = self.control_conns.get_mut(&t) {
            while !out.is_empty() {
                match s.write(out) {
                    Ok(n) if n > 0 => {
                        out.drain(..n);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    _ => {
                        eof = true;
                        break;
                    }
                }
            }
        }
        if eof {
            if let Some((mut s, _, _)) = self.control_conns.remove(&t) {
                let _ = self.poll.registry().deregister(&mut s);
            }
            self.sources.remove(&t);
        }
    }

    fn daemon_id(&self, name: &str) -> Result<usize, String> {
        self.specs
            .iter()
            .position(|d| d.name == name)
            .ok_or_else(|| format!("no daemon '{name}'"))
    }

    /// One control command; the answer ends with `OK` or `ERR ...`.
    fn command(&mut self, line: &str) -> String {
        let words: Vec<&str> = line.split_whitespace().collect();
        let result: Result<String, String> = match words.as_slice() {
            [] => Ok(String::new()),
            ["partition", rest @ ..] => {
                let mut comps = vec![Vec::new()];
                let mut err = None;
                for w in rest {
                    if *w == "|" {
                        comps.push(Vec::new());
                    } else {
                        match self.daemon_id(w) {
                            Ok(d) => comps.last_mut().expect("one").push(d),
                            Err(e) => err = Some(e),
                        }
                    }
                }
                match err {
                    Some(e) => Err(e),
                    None => self.world.partition(&comps).map(|outs| {
                        self.deliver(outs);
                        String::new()
                    }),
                }
            }
            ["heal"] => {
                let outs = self.world.heal();
                self.deliver(outs);
                Ok(String::new())
            }
            ["crash", name] => self.daemon_id(name).map(|d| {
                self.unlisten(d);
                let outs = self.world.crash(d);
                self.deliver(outs);
                String::new()
            }),
            ["restart", name] => match self.daemon_id(name) {
                Ok(d) => {
                    let outs = self.world.restart(d);
                    self.deliver(outs);
                    self.unlisten(d);
                    self.listen(d).map(|()| String::new())
                }
                Err(e) => Err(e),
            },
            ["groups"] => Ok(self.world.describe()),
            ["daemons"] => Ok(self
                .specs
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    let addrs: Vec<String> = d
                        .listen
                        .iter()
                        .map(|l| match l {
                            Listen::Unix(p) => p.display().to_string(),
                            Listen::Tcp(a) => a.to_string(),
                        })
                        .collect();
                    let state = if self.world.is_up(i) { "up" } else { "down" };
                    format!("{} {state} {}\n", d.name, addrs.join(" "))
                })
                .collect()),
            ["quit"] => {
                self.quit = true;
                Ok(String::new())
            }
            _ => Err(format!("unknown command '{line}'")),
        };
        match result {
            Ok(mut s) => {
                if !s.is_empty() && !s.ends_with('\n') {
                    s.push('\n');
                }
                s + "OK\n"
            }
            Err(e) => format!("ERR {e}\n"),
        }
    }
}

fn describe_request(r: &Request) -> String {
    match r {
        Request::Join(g) => format!("join {g}"),
        Request::Leave(g) => format!("leave {g}"),
        Request::Kill => "kill".into(),
        Request::Multicast {
            service_type,
            groups,
            data,
            ..
        } => format!(
            "multicast {} to {} ({} bytes)",
            wackamole::spread::wire::service::name(*service_type),
            groups.join(","),
            data.len()
        ),
    }
}

/// A delivery in this daemon's byte order (the hint as the sender wrote it).
fn encode(d: &Delivery) -> Vec<u8> {
    let o = Order::NATIVE;
    match d {
        Delivery::Regular {
            service,
            sender,
            groups,
            hint,
            data,
        } => message::encode_data(o, *service, sender, groups, hint.to_ne_bytes(), data),
        Delivery::Membership {
            group,
            cause,
            group_id,
            members,
            vs_sets,
            local_vs_set,
        } => message::encode_membership(
            o,
            &Membership {
                group: group.clone(),
                cause: match cause {
                    world::Cause::Join => Cause::Join,
                    world::Cause::Leave => Cause::Leave,
                    world::Cause::Disconnect => Cause::Disconnect,
                    world::Cause::Network => Cause::Network,
                },
                group_id: GroupId(*group_id),
                members: members.clone(),
                vs_sets: vs_sets.clone(),
                local_vs_set: *local_vs_set,
            },
        ),
        Delivery::Transition { group, group_id } => {
            message::encode_transition(o, group, GroupId(*group_id))
        }
        Delivery::SelfLeave { group } => message::encode_self_leave(o, group),
    }
}
