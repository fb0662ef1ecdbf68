//! A reload (SIGHUP, `wackatrl -r`): the file is read and parsed again.
//! One that does not parse is refused and the running configuration
//! kept. A valid one is compared with the running one
//! ([`Config::diff`](crate::config::Config::diff)) and applied:
//! - a new group, Spread daemon or identity makes the node another
//!   member: it leaves (releasing everything under the old
//!   configuration) and joins again;
//! - otherwise the engine turns the VIF changes into actions
//!   ([`Engine::reconfigure`]): held VIFs that go or change are released
//!   by their old definitions, the configuration is swapped, changed
//!   ones come up again by their new definitions and are announced by
//!   the same path as any acquire (IPv6 included); an unchanged VIF is
//!   not touched.
//!
//! Changed `Check` blocks go to the health runner last
//! (`Runner::reconfigure`: an unchanged check runs on), so that a node
//! the new checks let in joins under the new configuration.
//!
//! A `ControlGroup` is looked up before anything is applied (a group
//! that does not exist refuses the reload); a new one gives the control
//! socket its group and mode (see `Node::set_control_access`).

use std::fmt;
use std::io;
use std::path::PathBuf;

use log::{error, info, warn};

use super::link::Lost;
use super::node::Node;
use super::SpreadUserError;
use crate::auth::KeyError;
use crate::cluster::engine::{Engine, Settings};
use crate::config::{self, Config, Diff, Setting};
use crate::control::{Access, GroupError};
use crate::net::identity;
use crate::trust::Owners;

/// Why a reload was refused (the running configuration stays).
#[derive(Debug)]
pub enum ReloadError {
    Read {
        file: PathBuf,
        source: io::Error,
    },
    /// The errors were logged, one per line.
    Invalid {
        errors: usize,
    },
    /// The new `SharedSecretFile` cannot be used.
    Keys(KeyError),
    /// The new `ControlGroup` names no group.
    ControlGroup(GroupError),
    /// The new `SpreadUser` names nobody on this host.
    SpreadUser(SpreadUserError),
}

impl fmt::Display for ReloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReloadError::Read { file, source } => {
                write!(
                    f,
                    "reload refused: cannot read {}: {source}",
                    file.display()
                )
            }
            ReloadError::Invalid { errors } => write!(
                f,
                "reload refused: {errors} error(s); the running configuration is kept"
            ),
            ReloadError::Keys(e) => {
                write!(f, "reload refused: {e}; the running configuration is kept")
            }
            ReloadError::ControlGroup(e) => {
                write!(f, "reload refused: {e}; the running configuration is kept")
            }
            ReloadError::SpreadUser(e) => {
                write!(f, "reload refused: {e}; the running configuration is kept")
            }
        }
    }
}

impl std::error::Error for ReloadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReloadError::Read { source, .. } => Some(source),
            ReloadError::Invalid { .. } => None,
            ReloadError::Keys(e) => Some(e),
            ReloadError::ControlGroup(e) => Some(e),
            ReloadError::SpreadUser(e) => Some(e),
        }
    }
}

impl Node {
    /// Reads the config again and applies it. Returns what changed, in
    /// words (logged too).
    pub fn reload(&mut self) -> Result<String, ReloadError> {
        let new = self.read_config().inspect_err(|e| error!("{e}"))?;
        // Read again at every reload, so that a rolled key takes effect.
        let keys = super::load_keys(&new)
            .map_err(ReloadError::Keys)
            .inspect_err(|e| error!("{e}"))?;
        let access = Access::resolve(new.control_group())
            .map_err(ReloadError::ControlGroup)
            .inspect_err(|e| error!("{e}"))?;
        let owners = super::spread_owners(&new)
            .map_err(ReloadError::SpreadUser)
            .inspect_err(|e| error!("{e}"))?;
        let diff = self.cfg.diff(&new);
        let mut changes = diff.summary();
        self.link.set_keys(keys);
        // Checked at the next connect (a link refused for its socket's
        // owner is retrying: the next attempt trusts the new user).
        self.link.set_owners(owners.clone());
        let pinned = (self.opts.spread.is_some(), self.opts.node_address.is_some());
        if diff.needs_reconnect(pinned.0, pinned.1) {
            changes.push("Group, Spread or NodeAddress changed: reconnecting".into());
            self.rejoin_with(new, &diff, owners);
        } else {
            self.apply(new, &diff);
        }
        // Last: the checks may let the node join, which must be under
        // the new configuration and on the new link.
        if diff.checks_changed() {
            self.reconfigure_checks();
        }
        changes.extend(self.set_control_access(access));
        self.reconfigure_refresh();
        let summary = if changes.is_empty() {
            "reloaded: nothing changed".to_string()
        } else {
            format!("reloaded: {}", changes.join("; "))
        };
        info!("{summary}");
        Ok(summary)
    }

    /// The file again, under the rules it was found by (a fallback
    /// `./wackamole.conf` that somebody else could now change is
    /// refused, as at start).
    fn read_config(&self) -> Result<Config, ReloadError> {
        let file = self.cfg.file();
        match config::read(file, self.cfg.origin()) {
            Ok(loaded) => {
                for w in &loaded.warnings {
                    warn!("{w}");
                }
                Ok(loaded.config)
            }
            Err(e) => match e.into_io() {
                Ok(source) => Err(ReloadError::Read {
                    file: file.to_path_buf(),
                    source,
                }),
                Err(e) => {
                    for line in e.lines() {
                        error!("{line}");
                    }
                    Err(ReloadError::Invalid {
                        errors: e.errors.len(),
                    })
                }
            },
        }
    }

    /// The same membership: only what changed is touched.
    fn apply(&mut self, new: Config, diff: &Diff) {
        let step = self.engine.reconfigure(Settings::new(&new, self.me), diff);
        // Releases by the definitions the VIFs were brought up with.
        self.run_under_old_config(step.before);
        self.cfg = new;
        self.settings_changed(diff);
        self.execute(step.after);
    }

    /// Another group, Spread daemon or identity: leave under the old
    /// configuration, join again under the new.
    fn rejoin_with(&mut self, new: Config, diff: &Diff, owners: Owners) {
        self.lose(Lost::Reload);
        self.link.close(self.poll.registry(), &mut self.timers);
        self.cfg = new;
        match identity::for_config(self.opts.node_address, &self.cfg) {
            Ok((me, source)) => {
                self.me = me;
                self.me_source = source.to_string();
                self.exec.set_me(me);
            }
            Err(e) => error!("no new identity ({e}); keeping {}", self.me),
        }
        self.engine = Engine::new(Settings::new(&self.cfg, self.me));
        self.settings_changed(diff);
        self.link
            .replace(super::node::backend(&self.cfg, &self.opts, owners));
        self.connect();
    }

    fn settings_changed(&mut self, diff: &Diff) {
        let hook_limit = diff
            .settings
            .iter()
            .any(|s| matches!(s, Setting::HookLimit(..)));
        if diff.hooks_changed() || hook_limit {
            self.exec.reconfigure_hooks(&self.cfg, &mut self.timers);
        }
        self.link.set_retry(self.cfg.spread_retry_interval());
    }
}
