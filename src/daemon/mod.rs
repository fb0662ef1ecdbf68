//! The daemon: the glue between the pure core (`config`, `cluster`) and
//! the edges (`group`, `net`, `control`, `hooks`).
//!
//! Owns, one room each:
//! - [`node`]: the `mio` loop and its dispatch (group socket, signals,
//!   control socket, timers), start and shutdown;
//! - [`link`]: the group link's life (connect, handshake deadline,
//!   reconnect, loss) around a `group::Membership` backend;
//! - [`executor`]: engine actions → addresses, announcements, hooks,
//!   multicasts, timers;
//! - [`reload`]: a new configuration read, diffed and applied;
//! - [`health`]: the health checks polled, their verdict and
//!   `wackatrl -f`/`-s` turned into leaving and joining the group;
//! - [`status`]: the snapshot `wackatrl` and systemd are told;
//! - [`timers`], [`process`] (detaching, pid file), [`logging`],
//!   [`sdnotify`].
//!
//! No threads, no busy loops, no blocking call after start-up (but a
//! Spread host name's resolution): an idle daemon wakes only for its
//! timers.

mod executor;
mod health;
mod link;
pub mod logging;
mod node;
pub mod process;
mod reload;
pub mod sdnotify;
mod status;
pub mod timers;

use std::fmt;
use std::io;
use std::net::Ipv4Addr;
use std::path::PathBuf;

pub use node::Node;
pub use reload::ReloadError;

use crate::auth::{KeyError, Keys};
use crate::config::Config;
use crate::control::{BindError, GroupError};
use crate::net::identity::IdentityError;
use crate::net::ifaddr::IfError;
use crate::spread::addr::SpreadAddr;
use crate::trust::{self, Owners, UserError};

/// What the command line says, beyond the config.
#[derive(Debug, Clone)]
pub struct Options {
    /// `-s`: wins over `Spread =`.
    pub spread: Option<SpreadAddr>,
    /// `-u`: the Spread private name (default `wack<pid>`, cut to 10).
    pub user: Option<String>,
    /// `-a`: wins over `NodeAddress`.
    pub node_address: Option<Ipv4Addr>,
    /// The control socket, made absolute where the daemon started (as C
    /// created it before leaving its working directory).
    pub control: PathBuf,
}

/// Why the daemon could not start.
#[derive(Debug)]
pub enum StartError {
    NotRoot,
    Identity(IdentityError),
    /// The control socket cannot be made.
    Control(BindError),
    /// `ControlGroup` names no group.
    ControlGroup(GroupError),
    /// The sockets for interface ioctls or frames.
    Interfaces(IfError),
    /// The poll instance or the signal descriptor.
    Setup(&'static str, io::Error),
    /// `SharedSecretFile` cannot be used.
    Keys(KeyError),
    /// `SpreadUser` names nobody on this host.
    SpreadUser(SpreadUserError),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::NotRoot => write!(
                f,
                "must run as root: it adds and removes interface addresses (use -t to check a configuration)"
            ),
            StartError::Identity(e) => write!(f, "no identity for this node: {e}"),
            StartError::Control(e) => write!(f, "{e}"),
            StartError::ControlGroup(e) => write!(f, "{e}"),
            StartError::Interfaces(e) => write!(f, "{e}"),
            StartError::Setup(what, e) => write!(f, "{what}: {e}"),
            StartError::Keys(e) => write!(f, "{e}"),
            StartError::SpreadUser(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::NotRoot => None,
            StartError::Identity(e) => Some(e),
            StartError::Control(e) => Some(e),
            StartError::ControlGroup(e) => Some(e),
            StartError::Setup(_, e) => Some(e),
            StartError::Interfaces(e) => Some(e),
            StartError::Keys(e) => Some(e),
            StartError::SpreadUser(e) => Some(e),
        }
    }
}

/// The keys `SharedSecretFile` names, if it is set.
pub fn load_keys(cfg: &Config) -> Result<Option<Keys>, KeyError> {
    cfg.shared_secret_file().map(Keys::load).transpose()
}

/// `SpreadUser` of a configuration names no user of this host.
#[derive(Debug)]
pub struct SpreadUserError {
    pub file: PathBuf,
    pub error: UserError,
}

impl fmt::Display for SpreadUserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: SpreadUser: {}", self.file.display(), self.error)
    }
}

impl std::error::Error for SpreadUserError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// Who may own and serve a local Spread socket: root, and the user
/// `SpreadUser` names (resolved now: at start, at each reload and by
/// `-t`, never at a reconnect).
pub fn spread_owners(cfg: &Config) -> Result<Owners, SpreadUserError> {
    match cfg.spread_user() {
        None => Ok(Owners::root()),
        Some(u) => trust::resolve_user(u)
            .map(Owners::root_and)
            .map_err(|error| SpreadUserError {
                file: cfg.file().to_path_buf(),
                error,
            }),
    }
}

/// The default Spread private name: `wack<pid>`, within Spread's 10 bytes.
pub fn default_user() -> String {
    let mut s = format!("wack{}", std::process::id());
    s.truncate(10);
    s
}
