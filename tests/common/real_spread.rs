//! Real Spread 5.0.1 daemons for the cluster harness
//! ([`super::cluster::Cluster::new_on`] with [`super::cluster::Backend::Real`]):
//! one `spread` per host namespace, all in one segment on the bridge,
//! each with a private `/tmp` (its Unix socket is `/tmp/4803`, fixed at
//! compile time), so clients reach it over TCP (`4803@ADDR`). The
//! membership timeouts are lowered (see [`TIMEOUTS`]) so that a lost
//! daemon is noticed in about a second and a partition merges back in
//! about two. Every daemon is SIGKILLed on drop.

#![allow(dead_code)]

use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use wackamole::spread::addr::SpreadAddr;
use wackamole::spread::client::Client;
use wackamole::spread::wire::message::Message;

use super::thirdparty;

/// The port every daemon listens on (its own namespace each).
pub const PORT: u16 = 4803;

/// Spread's nine membership timeouts (ms), all set together as Spread
/// demands. Its defaults on one segment are Token 1250, Hurry 500,
/// Alive 250, Join 250, Rep 625, Seg 500, Gather 1250, Form 1250 and
/// Lookup 30000: a lost daemon was noticed after about 3 s and a healed
/// partition merged at the next lookup probe, up to 30 s later. These
/// keep the defaults' ratios at about 40 % and probe every 1.5 s; lower
/// ones made the ring lose its token on a loaded 2-core machine.
pub const TIMEOUTS: &str = "TokenTimeout = 500\nHurryTimeout = 200\nAliveTimeout = 100\n\
JoinTimeout = 100\nRepTimeout = 250\nSegTimeout = 200\nGatherTimeout = 500\nFormTimeout = 500\n\
LookupTimeout = 1500\n";

/// The daemons of one cluster.
pub struct RealSpread {
    bin: PathBuf,
    dir: PathBuf,
    /// Per host: its namespace, its address.
    hosts: Vec<(String, Ipv4Addr)>,
    daemons: Vec<Option<Child>>,
    /// spread.conf without the timeouts.
    conf: String,
}

impl RealSpread {
    /// Writes `dir/spread.conf` for `hosts` (namespace, address; daemon
    /// `hI` is host I from 1) on `subnet.0/24`. Starts nothing.
    ///
    /// `SocketPortReuse = ON`: a daemon restarted on its host (after
    /// [`RealSpread::kill`]) must bind TCP 4803 again while a session the
    /// old one closed first (a client's SP_disconnect: the daemon closes,
    /// e.g. [`RealSpread::wait_ring`]'s probes) is still in TIME-WAIT on
    /// that port for 60 s. Spread's default (AUTO) sets SO_REUSEADDR only
    /// when bound to one interface, not to 0.0.0.0, so the restart then
    /// failed with "Address already in use" (seen about once in ten runs
    /// of `tests/mixed.rs`'s failovers). Each daemon has a namespace of
    /// its own: no other user can bind the port twice.
    pub fn new(
        prefix: &Path,
        dir: &Path,
        subnet: &str,
        hosts: Vec<(String, Ipv4Addr)>,
    ) -> RealSpread {
        let members: Vec<String> = hosts
            .iter()
            .enumerate()
            .map(|(i, (_, a))| format!("  h{} {a}", i + 1))
            .collect();
        let conf = format!(
            "Spread_Segment {subnet}.255:{PORT} {{\n{}\n}}\nDaemonUser = root\nDaemonGroup = root\n\
             RuntimeDir = /tmp/run\nSocketPortReuse = ON\n",
            members.join("\n")
        );
        fs::write(dir.join("spread.conf"), format!("{conf}{TIMEOUTS}")).unwrap();
        RealSpread {
            bin: thirdparty::spread_daemon(prefix),
            dir: dir.to_path_buf(),
            daemons: hosts.iter().map(|_| None).collect(),
            hosts,
            conf,
        }
    }

    /// Spread's own membership timeouts instead of [`TIMEOUTS`], for the
    /// daemons started from now on (before any, in a cold cluster).
    pub fn use_default_timeouts(&self) {
        fs::write(self.dir.join("spread.conf"), &self.conf).unwrap();
    }

    /// `4803@ADDR`: how host `i`'s wackamole names its daemon.
    pub fn address(&self, i: usize) -> String {
        format!("{PORT}@{}", self.hosts[i].1)
    }

    pub fn log_path(&self, i: usize) -> PathBuf {
        self.dir.join(format!("spread{}.log", i + 1))
    }

    /// Host `i`'s daemon log.
    pub fn log(&self, i: usize) -> String {
        fs::read_to_string(self.log_path(i)).unwrap_or_default()
    }

    /// Starts host `i`'s daemon (appending to its log). Its `/tmp` is a
    /// fresh tmpfs in a mount namespace of its own; it reads its config
    /// through its working directory, which the tmpfs does not hide, and
    /// chroots into `/tmp/run` there.
    pub fn start(&mut self, i: usize) {
        assert!(self.daemons[i].is_none(), "h{}'s Spread runs", i + 1);
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(i))
            .unwrap();
        let script = format!(
            "cd '{}' && mount -t tmpfs none /tmp && mkdir /tmp/run && exec stdbuf -oL '{}' -n h{} -c spread.conf",
            self.dir.display(),
            self.bin.display(),
            i + 1
        );
        // `ip netns exec`, `unshare` (without --fork) and the shell's
        // `exec` all exec: the child's pid is the daemon's.
        let child = Command::new("ip")
            .args(["netns", "exec", &self.hosts[i].0])
            .args(["unshare", "-m", "--propagation", "private", "sh", "-c"])
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start spread");
        self.daemons[i] = Some(child);
    }

    /// SIGKILLs host `i`'s daemon and reaps it (a crash: its clients'
    /// connections drop, its peers notice by the token timeout).
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.daemons[i].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn running(&self, i: usize) -> bool {
        self.daemons[i].is_some()
    }

    /// Waits until the daemons of `hosts` are one ring: a client on each
    /// joins a probe group and sees every one of them in it. Panics
    /// with the daemons' logs after `within`.
    pub fn wait_ring(&self, hosts: &[usize], within: Duration) {
        let deadline = Instant::now() + within;
        let group = format!("ring{}", std::process::id());
        let threads: Vec<_> = hosts
            .iter()
            .map(|&i| {
                let (ns, addr) = self.hosts[i].clone();
                let group = group.clone();
                let want = hosts.len();
                in_netns(&ns, move || {
                    let addr = SpreadAddr::Tcp {
                        host: addr.to_string(),
                        port: PORT,
                    };
                    let mut c = connect_until(&addr, &format!("ring{i}"), deadline)?;
                    c.join(&group).map_err(|e| format!("join: {e}"))?;
                    while Instant::now() < deadline {
                        match c.receive() {
                            Ok(Some(Message::Membership(m))) if m.members.len() == want => {
                                c.disconnect();
                                return Ok(());
                            }
                            Ok(Some(_)) => {}
                            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                            Err(e) => return Err(format!("receive: {e}")),
                        }
                    }
                    Err("no full ring".to_string())
                })
            })
            .collect();
        let errs: Vec<String> = threads
            .into_iter()
            .zip(hosts)
            .filter_map(|(t, i)| t.join().unwrap().err().map(|e| format!("h{}: {e}", i + 1)))
            .collect();
        if !errs.is_empty() {
            let logs: Vec<String> = hosts
                .iter()
                .map(|&i| format!("--- spread h{}:\n{}", i + 1, self.log(i)))
                .collect();
            panic!(
                "the Spread daemons {hosts:?} formed no ring within {within:?}: {errs:?}\n{}",
                logs.join("\n")
            );
        }
    }
}

impl Drop for RealSpread {
    fn drop(&mut self) {
        for i in 0..self.daemons.len() {
            self.kill(i);
        }
    }
}

/// Runs `f` on a thread that has entered network namespace `ns`.
pub fn in_netns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let fd = fs::File::open(&path).expect("open the namespace");
        nix::sched::setns(fd, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        f()
    })
}

/// Connects as `name`, retrying while the daemon is not up yet.
pub fn connect_until(addr: &SpreadAddr, name: &str, deadline: Instant) -> Result<Client, String> {
    loop {
        match Client::connect(addr, name, true, Duration::from_secs(2)) {
            Ok(c) => return Ok(c),
            Err(e) if Instant::now() >= deadline => return Err(format!("connect: {e}")),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}
