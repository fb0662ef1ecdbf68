//! The daemon: one `mio` poll loop over the Spread connection, the
//! control socket and its sessions, and a signalfd, with a timer queue
//! setting the poll timeout; the executor that turns the engine's
//! actions into calls on `net`, `hooks` and the Spread client; process
//! life (detaching, the pid file, logging) and reloads.
//!
//! Owns: process life and the glue between the pure core and the
//! edges. No threads, no busy loops, no blocking call after start-up
//! (but a Spread host name's resolution): an idle daemon wakes only for
//! its timers.

pub mod logging;
mod node;
pub mod process;
pub mod sdnotify;
pub mod timers;

use std::fmt;
use std::net::Ipv4Addr;
use std::path::PathBuf;

pub use node::Node;

use crate::config::Config;
use crate::spread::addr::SpreadAddr;

/// What the command line says, beyond the config.
#[derive(Debug, Clone)]
pub struct Options {
    /// `-d`: stay in the foreground, log to stderr.
    pub debug: bool,
    /// `-s`: wins over `Spread =`.
    pub spread: Option<SpreadAddr>,
    /// `-u`: the Spread private name (default `wack<pid>`, cut to 10).
    pub user: Option<String>,
    /// `-a`: wins over `NodeAddress`.
    pub node_address: Option<Ipv4Addr>,
    pub pidfile: PathBuf,
    /// The control socket, made absolute where the daemon started (as C
    /// created it before leaving its working directory).
    pub control: PathBuf,
}

/// Why the daemon could not start.
#[derive(Debug)]
pub enum StartError {
    NotRoot,
    Identity(String),
    Control(String),
    Setup(String),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::NotRoot => write!(
                f,
                "must run as root: it adds and removes interface addresses (use -t to check a configuration)"
            ),
            StartError::Identity(e) => write!(f, "no identity for this node: {e}"),
            StartError::Control(e) => write!(f, "control socket: {e}"),
            StartError::Setup(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for StartError {}

/// The default Spread private name: `wack<pid>`, within Spread's 10 bytes.
pub fn default_user() -> String {
    let mut s = format!("wack{}", std::process::id());
    s.truncate(10);
    s
}

/// Runs the daemon until a signal stops it. `cfg` was read already.
pub fn run(cfg: Config, opts: Options) -> Result<(), StartError> {
    let mut node = Node::start(cfg, opts)?;
    node.run();
    Ok(())
}
