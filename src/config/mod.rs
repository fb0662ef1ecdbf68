//! The configuration: reading `wackamole.conf` (the legacy braces
//! grammar of C wackamole 2.1.4) into one validated, immutable
//! [`Config`] value, with errors that name file, line and column.
//!
//! Owns: the lexer ([`lexer`]), the parser, the semantic checks, the
//! Prefer expansion, the effective defaults of the C code, and the
//! summary printed by `wackamole -t`. Nothing here touches the network
//! or keeps global state; reading the file is the only I/O.

pub mod addr;
mod diff;
pub mod error;
pub mod lexer;
mod parser;
mod prefer;
mod summary;
mod validate;

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use addr::{If6Addr, IfAddr, VipAddr};
pub use diff::{Diff, Reconnect, Setting};
pub use error::{Error, ErrorKind, Errors, Pos, Warning, WarningKind};

use crate::spread::addr::SpreadAddr;

/// Where the config is looked for when `-c` is not given. The build sets
/// `WACKAMOLE_SYSCONFDIR` (the Makefile's `SYSCONFDIR`).
pub const SYSCONFDIR: &str = match option_env!("WACKAMOLE_SYSCONFDIR") {
    Some(d) => d,
    None => "/usr/local/etc",
};

/// The control socket when the config names none (C had no default).
pub const DEFAULT_CONTROL: &str = match option_env!("WACKAMOLE_CONTROL") {
    Some(p) => p,
    None => "/var/run/wackamole.sock",
};

/// Effective defaults of C wackamole 2.1.4 (its code, not its man page).
pub mod defaults {
    use std::time::Duration;
    pub const MATURE: Duration = Duration::from_secs(300);
    pub const BALANCE_INTERVAL: Duration = Duration::from_secs(300);
    pub const ACQUISITIONS_PER_ROUND: u32 = 1;
    pub const ARP_CACHE: Duration = Duration::from_secs(60);
    pub const SPREAD_RETRY_INTERVAL: Duration = Duration::from_secs(5);
    /// Not in C: a state exchange still open this long after this
    /// node's own STATE is closed without the members that sent none.
    pub const GATHER_TIMEOUT: Duration = Duration::from_secs(1);
    pub const MODULE_DIR: &str = ".";
    /// Not in C (which ran the Perl it was linked with): the Perl for
    /// Perl hooks, never looked up through `PATH`.
    pub const PERL_PATH: &str = "/usr/bin/perl";
    /// Not in C: hook processes running at once.
    pub const HOOK_LIMIT: u32 = 8;
    /// Not in C: how often a `Check` runs (its `Timeout` defaults to
    /// its `Interval`).
    pub const CHECK_INTERVAL: Duration = Duration::from_secs(2);
    /// Not in C: failures in a row that take a check down.
    pub const CHECK_FALL: u32 = 3;
    /// Not in C: passes in a row that bring a check back up.
    pub const CHECK_RISE: u32 = 2;
}

/// A VIF's identity, the same on every node and across reloads: the
/// 4-byte name STATE and BALANCE carry (the first address if IPv4, as in
/// C, else [`addr::wire_id_v6`] of it). The engine's actions, the notify
/// scheduler, hooks and the status name VIFs by it, never by position,
/// so that a reload that reorders the file moves nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VifId(Ipv4Addr);

impl VifId {
    /// The identity a VIF with this wire name has.
    pub const fn new(wire: Ipv4Addr) -> VifId {
        VifId(wire)
    }
    /// As STATE and BALANCE carry it.
    pub const fn wire(self) -> Ipv4Addr {
        self.0
    }
    /// The identity of a VIF whose first address is `first`.
    pub fn of(first: &VipAddr) -> VifId {
        VifId(match first {
            VipAddr::V4(a) => a.addr,
            VipAddr::V6(a) => addr::wire_id_v6(a.addr),
        })
    }
}

impl std::fmt::Display for VifId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A virtual interface: addresses that are always held together. The
/// first names it cluster-wide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vif {
    /// Every address in config order (1 to 30), IPv4 or IPv6.
    pub addrs: Vec<VipAddr>,
    /// Where it is written.
    pub pos: Pos,
}

impl Vif {
    /// The first address, which names the VIF.
    pub fn first(&self) -> &VipAddr {
        &self.addrs[0]
    }

    /// Its identity: the first address if IPv4 (as in C), else
    /// [`addr::wire_id_v6`] of it.
    pub fn id(&self) -> VifId {
        VifId::of(self.first())
    }

    /// A standby placeholder: a VIF whose one address is 0.0.0.0. It is
    /// dealt out like any VIF (so that a cluster can have fewer VIPs
    /// than hosts, as the original's README says), but holding it puts
    /// no address up and announces nothing. Every placeholder has the
    /// wire id 0.0.0.0; see `cluster::engine` for how they are told
    /// apart (as C: by the first of them).
    pub fn is_placeholder(&self) -> bool {
        matches!(self.addrs.as_slice(), [VipAddr::V4(a)] if a.addr.is_unspecified())
    }

    /// The same VIF with the same addresses (where it is written in the
    /// file does not matter).
    pub fn same_addrs(&self, other: &Vif) -> bool {
        self.addrs == other.addrs
    }

    /// The IPv4 addresses, in order.
    pub fn v4(&self) -> impl Iterator<Item = &IfAddr> {
        self.addrs.iter().filter_map(|a| match a {
            VipAddr::V4(a) => Some(a),
            VipAddr::V6(_) => None,
        })
    }

    /// The IPv6 addresses, in order.
    pub fn v6(&self) -> impl Iterator<Item = &If6Addr> {
        self.addrs.iter().filter_map(|a| match a {
            VipAddr::V6(a) => Some(a),
            VipAddr::V4(_) => None,
        })
    }
}

/// One `Prefer` item, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreferEntry {
    /// `Prefer None`: sent as 0.0.0.0.
    None,
    /// `Prefer ADDR` (`braced` false) or an item of `Prefer { ... }`.
    Range { addr: IfAddr, braced: bool },
    /// An IPv6 address: the VIF it is the first address of.
    Exact6 { addr: std::net::Ipv6Addr },
}

/// What a Notify entry points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyTarget {
    /// A CIDR block; with an interface name or without (then the VIP's).
    Block(IfAddr),
    /// Every address of the cluster's shared ARP cache.
    ArpCache,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyEntry {
    pub target: NotifyTarget,
    /// Destinations per second; 0 means no limit.
    pub throttle: u32,
    /// Also send an ICMP echo from the VIP.
    pub ping: bool,
    pub pos: Pos,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HookEvent {
    OnUp,
    OnDown,
    PostUp,
    PostDown,
    /// Not in C: a `Check` went down (failed `Fall` times in a row, or
    /// at its first run).
    CheckDown,
    /// Not in C: a `Check` that was down passed `Rise` times in a row.
    CheckUp,
}

impl HookEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            HookEvent::OnUp => "on up",
            HookEvent::OnDown => "on down",
            HookEvent::PostUp => "post up",
            HookEvent::PostDown => "post down",
            HookEvent::CheckDown => "check down",
            HookEvent::CheckUp => "check up",
        }
    }

    /// An event of one VIF (`on up`, `on down`): the others concern
    /// no single VIF.
    pub fn is_per_vif(self) -> bool {
        matches!(self, HookEvent::OnUp | HookEvent::OnDown)
    }
}

/// A `Check { ... }` block: a program whose exit status says whether
/// this node's service is healthy. Not in C 2.1.4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// `Run`: absolute, run without a shell and without arguments.
    pub run: PathBuf,
    /// Between the starts of two runs.
    pub interval: Duration,
    /// A run still going after this long is killed and counts as a
    /// failure (at most `interval`: checked).
    pub timeout: Duration,
    /// Failures in a row that take the check down.
    pub fall: u32,
    /// Passes in a row that bring it back up.
    pub rise: u32,
    /// Where the block opens.
    pub pos: Pos,
}

impl Check {
    /// The same check, wherever it is written: a reload leaves it
    /// running as it is.
    pub fn same_as(&self, other: &Check) -> bool {
        (&self.run, self.interval, self.timeout, self.fall, self.rise)
            == (
                &other.run,
                other.interval,
                other.timeout,
                other.fall,
                other.rise,
            )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookTarget {
    /// `module:func`: a shared object in `module_dir` (the `ModuleDir` in
    /// effect where the hook is written, resolved against the config
    /// file's directory).
    Shared {
        module: String,
        func: String,
        module_dir: PathBuf,
    },
    /// `Package::func` (or a bare name): a Perl sub.
    Perl { sub_name: String },
    /// `RunScript PATH`: a program, run without a shell (absolute).
    Script { path: PathBuf },
}

/// A `RunDynamic` or `RunScript` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    pub target: HookTarget,
    pub event: HookEvent,
    pub pos: Pos,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BalanceRate {
    /// At most this many moves per round, every `Interval`.
    PerRound(u32),
    /// Rebalance completely right after every state exchange.
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balance {
    pub rate: BalanceRate,
    pub interval: Duration,
}

impl Balance {
    /// The moves per round C actually makes: `all` is half the VIFs, a
    /// number is capped at half the VIFs.
    pub fn effective_rate(&self, vifs: usize) -> u32 {
        let half = u32::try_from(vifs / 2).unwrap_or(u32::MAX);
        match self.rate {
            BalanceRate::All => half,
            BalanceRate::PerRound(n) => n.min(half),
        }
    }

    /// The balance timer: none with `all` (it runs after each exchange).
    pub fn timer(&self) -> Option<Duration> {
        match self.rate {
            BalanceRate::All => None,
            BalanceRate::PerRound(_) => Some(self.interval),
        }
    }
}

/// Syslog facilities accepted by `LogFacility`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogFacility {
    Kern,
    User,
    Mail,
    Daemon,
    Auth,
    Syslog,
    Lpr,
    News,
    Uucp,
    Cron,
    AuthPriv,
    Ftp,
    Local(u8),
}

impl LogFacility {
    const NAMES: [(&'static str, LogFacility); 20] = [
        ("kern", LogFacility::Kern),
        ("user", LogFacility::User),
        ("mail", LogFacility::Mail),
        ("daemon", LogFacility::Daemon),
        ("auth", LogFacility::Auth),
        ("syslog", LogFacility::Syslog),
        ("lpr", LogFacility::Lpr),
        ("news", LogFacility::News),
        ("uucp", LogFacility::Uucp),
        ("cron", LogFacility::Cron),
        ("authpriv", LogFacility::AuthPriv),
        ("ftp", LogFacility::Ftp),
        ("local0", LogFacility::Local(0)),
        ("local1", LogFacility::Local(1)),
        ("local2", LogFacility::Local(2)),
        ("local3", LogFacility::Local(3)),
        ("local4", LogFacility::Local(4)),
        ("local5", LogFacility::Local(5)),
        ("local6", LogFacility::Local(6)),
        ("local7", LogFacility::Local(7)),
    ];

    /// Case-insensitive, with or without a `LOG_` prefix.
    pub fn from_name(s: &str) -> Option<Self> {
        let lower = s.to_ascii_lowercase();
        let name = lower.strip_prefix("log_").unwrap_or(&lower);
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, f)| f)
    }

    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|&&(_, f)| f == self)
            .map_or("daemon", |&(n, _)| n)
    }
}

/// A group system that can carry the membership (`Membership =`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Spread,
    /// Corosync's closed process groups (cargo feature `corosync`).
    Corosync,
}

impl Backend {
    const ALL: [Backend; 2] = [Backend::Spread, Backend::Corosync];

    /// The value `Membership =` takes (any case).
    pub fn named(word: &str) -> Option<Backend> {
        Backend::ALL
            .into_iter()
            .find(|b| b.name().eq_ignore_ascii_case(word))
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Spread => "spread",
            Backend::Corosync => "corosync",
        }
    }

    /// Whether this binary has it.
    pub fn built(self) -> bool {
        match self {
            Backend::Spread => true,
            Backend::Corosync => cfg!(feature = "corosync"),
        }
    }

    /// The backends this binary has, as `wackamole -v` lists them.
    pub fn built_list() -> String {
        Backend::ALL
            .into_iter()
            .filter(|b| b.built())
            .map(Backend::name)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Why a configuration naming this backend is refused by a binary
    /// without it.
    pub fn not_built_sentence(self) -> String {
        format!(
            "this wackamole was built without the {} backend (membership backends: {}); \
             build it with `make FEATURES={}`",
            self.name(),
            Backend::built_list(),
            self.name()
        )
    }
}

/// A validated configuration. Built only by [`parse`] and [`load`];
/// never changed afterwards (a reload builds a new one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    file: PathBuf,
    spread: SpreadAddr,
    spread_text: String,
    spread_retry_interval: Duration,
    group: String,
    control: PathBuf,
    control_is_default: bool,
    mature: Duration,
    arp_cache: Duration,
    balance: Balance,
    log_facility: LogFacility,
    module_dir: PathBuf,
    perl_use_lib: Vec<String>,
    perl_use: Vec<String>,
    hooks: Vec<Hook>,
    prefer: Vec<PreferEntry>,
    preferred: Vec<Ipv4Addr>,
    vifs: Vec<Vif>,
    /// Each VIF's place in `vifs`, by identity (unique: checked).
    vif_index: HashMap<VifId, usize>,
    notify: Vec<NotifyEntry>,
    notify_none: bool,
    node_address: Option<Ipv4Addr>,
    gather_timeout: Duration,
    shared_secret_file: Option<PathBuf>,
    control_group: Option<String>,
    spread_user: Option<String>,
    perl_path: PathBuf,
    hook_limit: u32,
    arp_refresh: Option<Duration>,
    quorum: u32,
    membership: Backend,
    checks: Vec<Check>,
    origin: Origin,
}

/// Where a configuration file was found, which says what it must be to
/// be used: the daemon runs as root and runs the hooks it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Named with `-c` (or text parsed directly). The operator chose the
    /// file: if somebody besides root and the running user could change
    /// it, it is used with a warning.
    Given,
    /// `SYSCONFDIR/wackamole.conf`, the installed place: as `Given`.
    SysConfDir,
    /// `./wackamole.conf`, the fallback of a daemon started without
    /// `-c` in whatever directory it was: used only if root (or the
    /// running user) owns it and nobody else may write it, at start and
    /// at every reload.
    WorkingDir,
}

impl Config {
    /// The file this came from, as an absolute path.
    pub fn file(&self) -> &Path {
        &self.file
    }
    /// The Spread daemon to connect to (`Spread =`, default 4803).
    pub fn spread(&self) -> &SpreadAddr {
        &self.spread
    }
    /// The `Spread` value as written (or the default, `4803`).
    pub fn spread_text(&self) -> &str {
        &self.spread_text
    }
    pub fn spread_retry_interval(&self) -> Duration {
        self.spread_retry_interval
    }
    /// The group every node of the cluster joins (a Spread group, or a
    /// CPG group with `Membership = corosync`).
    pub fn group(&self) -> &str {
        &self.group
    }
    /// The group system that carries the membership (`Membership =`).
    pub fn membership(&self) -> Backend {
        self.membership
    }
    /// The control socket path, as written (relative paths resolve
    /// against the directory the daemon starts in).
    pub fn control(&self) -> &Path {
        &self.control
    }
    /// True when the config has no `Control` and the default is used.
    pub fn control_is_default(&self) -> bool {
        self.control_is_default
    }
    pub fn mature(&self) -> Duration {
        self.mature
    }
    /// How long a state exchange waits, after this node's own STATE,
    /// for members that send none (`GatherTimeout`); `None` for `0s`:
    /// wait for every member, as C does.
    pub fn gather_timeout(&self) -> Option<Duration> {
        Some(self.gather_timeout).filter(|d| !d.is_zero())
    }
    /// The key file of an authenticated group (`SharedSecretFile`,
    /// resolved against the config's directory); read by `auth::Keys`.
    pub fn shared_secret_file(&self) -> Option<&Path> {
        self.shared_secret_file.as_deref()
    }
    /// The group (name or number) whose members may use the control
    /// socket besides root (`ControlGroup`); resolved by the daemon.
    pub fn control_group(&self) -> Option<&str> {
        self.control_group.as_deref()
    }
    /// The user (name or number) Spread runs as, who may own its Unix
    /// socket besides root (`SpreadUser`); resolved by the daemon.
    pub fn spread_user(&self) -> Option<&str> {
        self.spread_user.as_deref()
    }
    /// The Perl interpreter of Perl hooks (`PerlPath`, absolute).
    pub fn perl_path(&self) -> &Path {
        &self.perl_path
    }
    /// At most this many hook processes at once (`HookLimit`, ≥ 1).
    pub fn hook_limit(&self) -> usize {
        self.hook_limit as usize
    }
    /// How often every held VIP is announced again, spread over the
    /// interval (`ArpRefresh`; not in C); `None`, the default, for off.
    pub fn arp_refresh(&self) -> Option<Duration> {
        self.arp_refresh
    }
    /// Fewer members than this in a view and this node holds no VIP
    /// (`Quorum`); `None` when off (0 or 1: every view has a member).
    pub fn quorum(&self) -> Option<usize> {
        Some(self.quorum as usize).filter(|&n| n > 1)
    }
    /// Where the file was found: a reload reads it under the same rules.
    pub fn origin(&self) -> Origin {
        self.origin
    }
    pub fn arp_cache(&self) -> Duration {
        self.arp_cache
    }
    pub fn balance(&self) -> Balance {
        self.balance
    }
    pub fn log_facility(&self) -> LogFacility {
        self.log_facility
    }
    /// The last `ModuleDir`, resolved against the config's directory.
    pub fn module_dir(&self) -> &Path {
        &self.module_dir
    }
    pub fn perl_use_lib(&self) -> &[String] {
        &self.perl_use_lib
    }
    pub fn perl_use(&self) -> &[String] {
        &self.perl_use
    }
    pub fn hooks(&self) -> &[Hook] {
        &self.hooks
    }
    /// The health checks (`Check` blocks), in file order; their `Run`
    /// paths are distinct (checked).
    pub fn checks(&self) -> &[Check] {
        &self.checks
    }
    /// The Prefer entries as written, in order.
    pub fn prefer(&self) -> &[PreferEntry] {
        &self.prefer
    }
    /// The addresses this node's STATE carries as its prefer list: empty
    /// without `Prefer`, 0.0.0.0 for `Prefer None`, the address of a /32
    /// entry, and the configured masters inside a wider entry.
    pub fn preferred(&self) -> &[Ipv4Addr] {
        &self.preferred
    }
    /// The VIF table, in config order (identical on every node).
    pub fn vifs(&self) -> &[Vif] {
        &self.vifs
    }
    /// The VIF named `id`, if this config has it.
    /// The VIF named `id`; of several placeholders (all named
    /// 0.0.0.0), the first.
    pub fn vif(&self, id: VifId) -> Option<&Vif> {
        self.vif_index.get(&id).map(|&i| &self.vifs[i])
    }
    /// The VIF named `id` and its place in the file, from 0.
    pub fn vif_at(&self, id: VifId) -> Option<(usize, &Vif)> {
        self.vif_index.get(&id).map(|&i| (i, &self.vifs[i]))
    }
    /// The VIFs that put addresses on interfaces (all but the standby
    /// placeholders), in config order.
    pub fn addressed_vifs(&self) -> impl Iterator<Item = &Vif> {
        self.vifs.iter().filter(|v| !v.is_placeholder())
    }
    /// Every IPv4 VIP of every VIF, in config order (what the node's
    /// identity must not be).
    pub fn vip_addrs(&self) -> Vec<Ipv4Addr> {
        self.addressed_vifs()
            .flat_map(|v| v.v4().map(|a| a.addr))
            .collect()
    }
    /// What changed from `self` to `new` (a reload).
    pub fn diff(&self, new: &Config) -> Diff {
        Diff::new(self, new)
    }
    pub fn notify(&self) -> &[NotifyEntry] {
        &self.notify
    }
    /// `Notify None` was written: an address that no Notify entry
    /// reaches is not announced at all after a takeover (IPv6 included),
    /// as in C; without it, such an address is told to the whole segment.
    pub fn notify_none(&self) -> bool {
        self.notify_none
    }
    /// This node's identity as `NodeAddress` sets it (checked: not
    /// loopback, 0.0.0.0, multicast or broadcast); `None` when not set,
    /// and then `-a` or the host's own addresses decide
    /// (`net::identity`).
    pub fn node_address(&self) -> Option<Ipv4Addr> {
        self.node_address
    }
    /// The `wackamole -t` summary, with the `NodeAddress` line as the
    /// file sets it.
    pub fn summary(&self) -> String {
        summary::render(self, None)
    }
    /// The summary with `identity` on the `NodeAddress` line: the
    /// effective identity and where it comes from, which only the
    /// running program knows (`-a`, the host name, the interfaces).
    pub fn summary_with_identity(&self, identity: &str) -> String {
        summary::render(self, Some(identity))
    }
}

/// A config and what deserves a warning in it.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Warning>,
}

/// Parses config text. `file` names it in messages and anchors a
/// relative `ModuleDir`.
///
/// ```
/// use std::path::Path;
/// use std::time::Duration;
///
/// let text = "Group = wack1\nVirtualInterfaces { eth0:192.0.2.10/32 }\nMature = 5s\n";
/// let loaded = wackamole::config::parse(text, Path::new("wackamole.conf")).unwrap();
/// assert_eq!(loaded.config.group(), "wack1");
/// assert_eq!(loaded.config.mature(), Duration::from_secs(5));
/// assert_eq!(loaded.config.vifs()[0].first().to_string(), "eth0:192.0.2.10/32");
///
/// let bad = "Group = wack1\nVirtualInterfaces {\n eth0:192.0.2.10/32\nNotify None\n";
/// let errors = wackamole::config::parse(bad, Path::new("wackamole.conf")).unwrap_err();
/// assert_eq!(
///     errors.to_string(),
///     "wackamole.conf:4:1: expected '}' to close VirtualInterfaces opened at line 2, found 'Notify'"
/// );
/// ```
pub fn parse(text: &str, file: &Path) -> Result<Loaded, Errors> {
    let name = file.display().to_string();
    // Absolute, so that the daemon can chdir("/") and still reload it.
    let file = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    let base = file.parent().unwrap_or(Path::new("/"));
    let (draft, mut errors, mut warnings) = parser::parse(text, &name, base);
    let config = draft.and_then(|d| validate::finish(d, &file, &name, &mut errors, &mut warnings));
    // Checks across directives warn late: put everything in file order.
    warnings.sort_by_key(|w| w.pos.map_or((u32::MAX, 0), |p| (p.line, p.col)));
    match config {
        Some(config) if errors.is_empty() => Ok(Loaded { config, warnings }),
        _ => Err(Errors { errors, warnings }),
    }
}

/// [`load`] for the command-line tools: warnings and errors go to
/// stderr, in file order; `None` when the config cannot be used.
pub fn load_and_report(path: Option<&Path>) -> Option<Config> {
    match load(path) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                eprintln!("{w}");
            }
            Some(loaded.config)
        }
        Err(failed) => {
            for line in failed.lines() {
                eprintln!("{line}");
            }
            None
        }
    }
}

/// Reads and parses the config: `path` if given (it must exist), else the
/// first of `SYSCONFDIR/wackamole.conf` and `./wackamole.conf` (see
/// [`Origin`] for what each must be).
pub fn load(path: Option<&Path>) -> Result<Loaded, Errors> {
    let candidates: Vec<(PathBuf, Origin)> = match path {
        Some(p) => vec![(p.to_path_buf(), Origin::Given)],
        None => vec![
            (
                Path::new(SYSCONFDIR).join("wackamole.conf"),
                Origin::SysConfDir,
            ),
            (PathBuf::from("./wackamole.conf"), Origin::WorkingDir),
        ],
    };
    for (c, origin) in &candidates {
        match read(c, *origin) {
            // Not there: the next place, if -c did not name it.
            Err(e) if path.is_none() && is_missing(&e) => continue,
            done => return done,
        }
    }
    let candidates = candidates.into_iter().map(|(c, _)| c).collect();
    Err(Errors {
        errors: vec![Error {
            file: "wackamole".into(),
            pos: None,
            kind: ErrorKind::NotFound { tried: candidates },
        }],
        warnings: Vec::new(),
    })
}

/// Reading failed because there is no such file.
fn is_missing(e: &Errors) -> bool {
    matches!(&e.errors[..], [Error { kind: ErrorKind::Io(io), .. }]
        if io.kind() == std::io::ErrorKind::NotFound)
}

/// Reads and parses the config file `path`, found as `origin` says. The
/// file is opened without blocking (a FIFO is refused, not waited on),
/// and judged by what was opened, not by its name: a regular file, and
/// one that nobody but root and the running user could change (else an
/// error for `./wackamole.conf`, a warning for the others).
pub fn read(path: &Path, origin: Origin) -> Result<Loaded, Errors> {
    use std::io::Read;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let fail = |kind| Errors {
        errors: vec![Error {
            file: path.display().to_string(),
            pos: None,
            kind,
        }],
        warnings: Vec::new(),
    };
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| fail(ErrorKind::Io(e)))?;
    let meta = f.metadata().map_err(|e| fail(ErrorKind::Io(e)))?;
    let kind = crate::trust::Kind::of(&meta);
    if kind != crate::trust::Kind::Regular {
        return Err(fail(ErrorKind::NotRegular { kind }));
    }
    let euid = nix::unistd::geteuid().as_raw();
    let doubt = crate::trust::changeable(meta.uid(), meta.mode(), euid).map(|c| c.named());
    let doubt = match (doubt, origin) {
        (Some(why), Origin::WorkingDir) => return Err(fail(ErrorKind::Untrusted(why))),
        (doubt, _) => doubt.map(|why| Warning {
            file: path.display().to_string(),
            pos: None,
            kind: WarningKind::Changeable(why),
        }),
    };
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)
        .map_err(|e| fail(ErrorKind::Io(e)))?;
    // The warning about the file itself comes first.
    let first = |mut warnings: Vec<Warning>| {
        warnings.splice(0..0, doubt.clone());
        warnings
    };
    match parse(&String::from_utf8_lossy(&bytes), path) {
        Ok(mut loaded) => {
            loaded.config.origin = origin;
            loaded.warnings = first(loaded.warnings);
            Ok(loaded)
        }
        Err(mut e) => {
            e.warnings = first(e.warnings);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests;
