//! Network namespaces for tests: created and removed by the test itself
//! (never the host's own interfaces), and a way to run code inside one.
//! Shared by every test that touches interfaces or sends frames.

#![allow(dead_code)]

use std::fs::File;
use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::thread::JoinHandle;

/// Whether this process may create namespaces (root). Tests that need
/// them print why they skip when it may not.
pub fn can_run() -> bool {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIPPED: needs root to create network namespaces");
        return false;
    }
    if Command::new("ip").arg("-V").output().is_err() {
        eprintln!("SKIPPED: needs iproute2 ('ip')");
        return false;
    }
    true
}

/// Runs `ip ARGS`, panicking with its stderr on failure.
pub fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A network namespace, deleted (with its interfaces) on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(tag: &str) -> Netns {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("wkm{}-{tag}{n}", std::process::id());
        ip(&["netns", "add", &name]);
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// `ip -n NS ARGS`.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// Runs `cmd ARGS` inside the namespace.
    pub fn exec(&self, args: &[&str]) -> std::process::Output {
        Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(args)
            .output()
            .expect("ip netns exec")
    }

    /// Runs `f` on a thread that has entered the namespace (sockets it
    /// opens belong to the namespace; the test's own thread does not move).
    pub fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let fd = File::open(&path).expect("open the namespace");
            nix::sched::setns(fd, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            f()
        })
        .join()
        .expect("the thread in the namespace panicked")
    }

    /// Like [`Netns::run`], but returns at once: join the handle for the
    /// result.
    pub fn spawn<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<T> {
        let path = format!("/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let fd = File::open(&path).expect("open the namespace");
            nix::sched::setns(fd, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            f()
        })
    }

    /// The MAC address of `dev`.
    pub fn mac(&self, dev: &str) -> [u8; 6] {
        let out = self.ip(&["-o", "link", "show", "dev", dev]);
        let at = out.find("link/ether ").expect("an Ethernet link") + "link/ether ".len();
        super::hex::parse_mac(&out[at..at + 17])
    }

    /// The `ip -4 -o addr` lines of `dev`.
    pub fn addrs(&self, dev: &str) -> String {
        self.ip(&["-o", "addr", "show", "dev", dev])
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// A veth pair between two namespaces, with names `a` and `b`.
pub fn veth(a_ns: &Netns, a: &str, b_ns: &Netns, b: &str) {
    ip(&[
        "link", "add", a, "netns", &a_ns.name, "type", "veth", "peer", "name", b, "netns",
        &b_ns.name,
    ]);
    a_ns.ip(&["link", "set", a, "up"]);
    b_ns.ip(&["link", "set", b, "up"]);
}

/// The IPv4 addresses of several namespaces, sampled together: a thread
/// per namespace, which enters it once and answers each
/// [`AddrSampler::sample`] with `getifaddrs` (a netlink socket of that
/// namespace). Cheaper and closer in time than an `ip` per namespace
/// per sample, for tests that sample often.
pub struct AddrSampler {
    workers: Vec<(Sender<()>, Receiver<Vec<Ipv4Addr>>)>,
    threads: Vec<JoinHandle<()>>,
}

impl AddrSampler {
    pub fn new(namespaces: &[&Netns]) -> AddrSampler {
        let mut workers = Vec::new();
        let mut threads = Vec::new();
        for ns in namespaces {
            let (ask, asked) = channel::<()>();
            let (tell, told) = channel();
            threads.push(ns.spawn(move || {
                while asked.recv().is_ok() {
                    let addrs = wackamole::net::ifaddr::list_v4()
                        .expect("getifaddrs")
                        .into_iter()
                        .map(|(_, a)| a)
                        .collect();
                    if tell.send(addrs).is_err() {
                        return;
                    }
                }
            }));
            workers.push((ask, told));
        }
        AddrSampler { workers, threads }
    }

    /// Every IPv4 address up in each namespace now, in the order given.
    pub fn sample(&self) -> Vec<Vec<Ipv4Addr>> {
        for (ask, _) in &self.workers {
            ask.send(()).expect("a sampler thread is gone");
        }
        self.workers
            .iter()
            .map(|(_, told)| told.recv().expect("a sampler thread is gone"))
            .collect()
    }
}

impl Drop for AddrSampler {
    fn drop(&mut self) {
        // Closing the channels ends the threads.
        self.workers.clear();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
