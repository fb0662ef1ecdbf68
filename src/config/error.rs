//! What can be wrong with a config file, in the operator's terms: every
//! error and warning carries the file and, where it has one, the line and
//! column of the token at fault.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

pub use super::lexer::Pos;
use super::summary::duration;
use crate::net::identity::AddressError;
use crate::spread::name::MAX_GROUP_LEN;
use crate::trust::{Changeable, Kind};

/// A config that cannot be used. `Display` gives
/// `FILE:LINE:COL: message` (or `FILE: message` when no place applies).
#[derive(Debug)]
pub struct Error {
    pub file: String,
    pub pos: Option<Pos>,
    pub kind: ErrorKind,
}

#[derive(Debug)]
pub enum ErrorKind {
    /// The file could not be read.
    Io(std::io::Error),
    /// No `-c` was given and none of the default places has a config.
    NotFound {
        tried: Vec<PathBuf>,
    },
    /// Not a regular file (a FIFO would block the reader).
    NotRegular {
        kind: Kind,
    },
    /// `./wackamole.conf`, found without `-c`, could be changed by
    /// somebody besides root and the running user.
    Untrusted(Changeable),
    /// The file is not valid UTF-8 where it matters (inside a value).
    InvalidUtf8,
    /// The grammar wanted something else here.
    Syntax {
        expected: String,
        found: String,
    },
    /// A block ran into something that cannot be inside it.
    Unclosed {
        block: &'static str,
        opened: u32,
        found: String,
    },
    UnknownDirective {
        word: String,
        suggestion: Option<&'static str>,
    },
    /// A word where an address was expected, and why it is not one.
    BadAddress {
        word: String,
        reason: String,
    },
    InterfaceNameTooLong {
        name: String,
    },
    NumberTooLarge {
        word: String,
    },
    TimeTooLarge {
        word: String,
    },
    DuplicateVip {
        addr: IpAddr,
        first: Pos,
    },
    /// Two VIFs with one 4-byte identity on the wire (an IPv6 first
    /// address hashing to another VIF's identity).
    WireIdClash {
        id: Ipv4Addr,
        first: Pos,
    },
    NoVifs,
    EmptyBlock {
        block: &'static str,
    },
    TooManyExtras {
        count: usize,
    },
    MissingGroup,
    GroupTooLong {
        group: String,
    },
    EmptyValue {
        directive: &'static str,
    },
    ControlPathTooLong {
        path: String,
    },
    BadSpreadAddress {
        value: String,
        reason: String,
    },
    /// `Membership =` names no backend.
    BadMembership {
        value: String,
    },
    /// `Membership =` names a backend this binary was built without.
    BackendNotBuilt {
        backend: super::Backend,
    },
    BadHook {
        spec: String,
        reason: String,
    },
    /// A `RunScript` path that is not absolute.
    RelativeScript {
        path: String,
    },
    /// A path that must be absolute (`PerlPath`).
    NotAbsolute {
        directive: &'static str,
        value: String,
    },
    /// So many VIFs that a STATE naming them all does not fit in one
    /// Spread message.
    StateTooLarge {
        vifs: usize,
        bytes: usize,
        limit: usize,
        fits: usize,
    },
    /// A count that must be at least 1 (`HookLimit`).
    Zero {
        directive: &'static str,
    },
    /// A `NodeAddress` value that cannot identify this node.
    BadNodeAddress {
        value: String,
        problem: AddressError,
    },
    /// A `Check` block that names no program.
    CheckWithoutRun,
    /// Words after a check's `Run` path on its line: the program runs
    /// without a shell and without arguments.
    CheckArguments {
        run: String,
        word: String,
    },
    /// A time that must be at least 1s (a check's `Interval`, `Timeout`).
    ZeroTime {
        directive: &'static str,
    },
    /// A check's `Timeout` longer than its `Interval`.
    TimeoutOverInterval {
        timeout: Duration,
        interval: Duration,
        /// The interval is the default, not written.
        default_interval: bool,
    },
    /// Two `Check` blocks with one `Run` program.
    DuplicateCheck {
        run: PathBuf,
        first: u32,
    },
}

/// Linux IFNAMSIZ less the NUL.
pub const MAX_IFNAME: usize = 15;
/// sun_path less the NUL.
pub const MAX_SOCKET_PATH: usize = 107;
/// Extras per VIF (C has room for 30 but never plumbs the 30th).
pub const MAX_EXTRAS: usize = 29;

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Io(e) => write!(f, "cannot read: {e}"),
            ErrorKind::NotFound { tried } => {
                write!(f, "no configuration file found (tried")?;
                for (i, p) in tried.iter().enumerate() {
                    let sep = if i == 0 { " " } else { ", " };
                    write!(f, "{sep}{}", p.display())?;
                }
                write!(f, "); give one with -c FILE")
            }
            ErrorKind::NotRegular { kind } => {
                write!(f, "cannot read: it is {kind}, not a regular file")
            }
            ErrorKind::Untrusted(why) => write!(
                f,
                "refusing a configuration found in the working directory: {why}; \
                 without -c one is used only if root (or the user running wackamole) \
                 owns it and nobody else may write it: {}, or name the file with -c FILE",
                why.fix()
            ),
            ErrorKind::InvalidUtf8 => write!(f, "value is not valid UTF-8"),
            ErrorKind::Syntax { expected, found } => {
                write!(f, "expected {expected}, found {found}")
            }
            ErrorKind::Unclosed {
                block,
                opened,
                found,
            } => write!(
                f,
                "expected '}}' to close {block} opened at line {opened}, found {found}"
            ),
            ErrorKind::UnknownDirective { word, suggestion } => {
                write!(f, "unknown directive '{word}'")?;
                if let Some(s) = suggestion {
                    write!(f, " (did you mean '{s}'?)")?;
                }
                Ok(())
            }
            ErrorKind::BadAddress { word, reason } => {
                write!(f, "'{word}' is not a valid address: {reason}")
            }
            ErrorKind::InterfaceNameTooLong { name } => write!(
                f,
                "interface name '{name}' is {} bytes long; Linux allows at most {MAX_IFNAME}",
                name.len()
            ),
            ErrorKind::NumberTooLarge { word } => {
                write!(f, "number '{word}' is too large (at most {})", u32::MAX)
            }
            ErrorKind::TimeTooLarge { word } => write!(f, "time '{word}' is too large"),
            ErrorKind::DuplicateVip { addr, first } => write!(
                f,
                "address {addr} is configured twice (first at {}:{}); each address may appear once",
                first.line, first.col
            ),
            ErrorKind::WireIdClash { id, first } => write!(
                f,
                "this VIF's identity on the wire ({id}) is that of the VIF at line {}; reorder its addresses or pick another IPv6 first address",
                first.line
            ),
            ErrorKind::NoVifs => write!(
                f,
                "no virtual interfaces configured: add a VirtualInterfaces {{ ... }} block"
            ),
            ErrorKind::EmptyBlock { block } => write!(f, "empty {block} block"),
            ErrorKind::TooManyExtras { count } => write!(
                f,
                "this VIF has {count} extra addresses; at most {MAX_EXTRAS} may follow the first"
            ),
            ErrorKind::MissingGroup => write!(
                f,
                "no Group configured: add 'Group = NAME' (the Spread group all nodes of the cluster join)"
            ),
            ErrorKind::GroupTooLong { group } => write!(
                f,
                "group name '{group}' is {} bytes long; Spread allows at most {MAX_GROUP_LEN}",
                group.len()
            ),
            ErrorKind::EmptyValue { directive } => write!(f, "{directive} must not be empty"),
            ErrorKind::NotAbsolute { directive, value } => {
                write!(f, "{directive} must be an absolute path, not '{value}'")
            }
            ErrorKind::Zero { directive } => write!(f, "{directive} must be at least 1"),
            ErrorKind::StateTooLarge {
                vifs,
                bytes,
                limit,
                fits,
            } => write!(
                f,
                "{vifs} VIFs: a node holding them all would send a STATE of {bytes} bytes, more than one Spread message carries ({limit}); at most {fits} VIFs fit"
            ),
            ErrorKind::ControlPathTooLong { path } => write!(
                f,
                "control socket path '{path}' is {} bytes long; a Unix socket path may have at most {MAX_SOCKET_PATH}",
                path.len()
            ),
            ErrorKind::BadSpreadAddress { value, reason } => {
                write!(f, "invalid Spread address '{value}': {reason}")
            }
            ErrorKind::BadMembership { value } => write!(
                f,
                "Membership must be spread or corosync, not '{value}'"
            ),
            ErrorKind::BackendNotBuilt { backend } => write!(
                f,
                "Membership = {}: {}",
                backend.name(),
                backend.not_built_sentence()
            ),
            ErrorKind::BadHook { spec, reason } => {
                write!(f, "invalid RunDynamic '{spec}': {reason}")
            }
            ErrorKind::RelativeScript { path } => write!(
                f,
                "RunScript path '{path}' is not absolute; write the full path (/usr/local/sbin/...)"
            ),
            ErrorKind::BadNodeAddress { value, problem } => {
                write!(f, "invalid NodeAddress '{value}': {problem}")
            }
            ErrorKind::CheckWithoutRun => write!(
                f,
                "Check block without Run: name the program that checks the service (Run = /usr/local/sbin/check-web)"
            ),
            ErrorKind::CheckArguments { run, word } => write!(
                f,
                "'{word}' after Run = {run}: a check runs its program without a shell and without arguments; put the command line in a script and name the script"
            ),
            ErrorKind::ZeroTime { directive } => write!(f, "{directive} must be at least 1s"),
            ErrorKind::TimeoutOverInterval {
                timeout,
                interval,
                default_interval,
            } => write!(
                f,
                "Timeout {} is longer than the check's Interval ({}{}): a run must end before the next one starts; make Timeout at most Interval",
                duration(*timeout),
                duration(*interval),
                if *default_interval { ", the default" } else { "" }
            ),
            ErrorKind::DuplicateCheck { run, first } => write!(
                f,
                "a Check of {} is configured already (at line {first}); each program may be checked once",
                run.display()
            ),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pos {
            Some(p) => write!(f, "{}:{}:{}: {}", self.file, p.line, p.col, self.kind),
            None => write!(f, "{}: {}", self.file, self.kind),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// Every error found in one file (syntax stops at the first; semantic
/// checks report all; `errors` is never empty), and the warnings found
/// on the way.
#[derive(Debug)]
pub struct Errors {
    pub errors: Vec<Error>,
    pub warnings: Vec<Warning>,
}

impl Errors {
    /// The I/O error, when the file could not be read at all (the one
    /// error there is); else these errors.
    pub fn into_io(mut self) -> Result<std::io::Error, Errors> {
        if let [Error {
            kind: ErrorKind::Io(_),
            ..
        }] = &self.errors[..]
        {
            if let Some(Error {
                kind: ErrorKind::Io(e),
                ..
            }) = self.errors.pop()
            {
                return Ok(e);
            }
        }
        Err(self)
    }

    /// Errors and warnings as lines, in file order.
    pub fn lines(&self) -> Vec<String> {
        let mut all: Vec<(Option<Pos>, String)> = self
            .errors
            .iter()
            .map(|e| (e.pos, e.to_string()))
            .chain(self.warnings.iter().map(|w| (w.pos, w.to_string())))
            .collect();
        // Placeless messages (a missing Group) after the placed ones.
        all.sort_by_key(|(p, _)| p.map_or((u32::MAX, 0), |p| (p.line, p.col)));
        all.into_iter().map(|(_, s)| s).collect()
    }
}

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Errors {}

/// A config that works but deserves the operator's attention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub file: String,
    pub pos: Option<Pos>,
    pub kind: WarningKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WarningKind {
    /// C 2.1.4 reads `Nh` as N seconds; we read hours.
    HoursWereSeconds {
        word: String,
    },
    /// Accepted here, but C 2.1.4 rejects the file: matters while C and
    /// Rust nodes share a config during an upgrade.
    CRejects {
        what: String,
        fix: String,
    },
    /// `/0` and `n0` are read as `/32` and `n32`, as C does on x86.
    ZeroPrefix {
        word: String,
    },
    /// A Prefer entry that covers no configured VIP.
    PreferMatchesNothing {
        entry: String,
    },
    /// C 2.1.4 expands this Prefer entry to other addresses than we do.
    PreferDiffersFromC {
        entry: String,
        ours: Vec<Ipv4Addr>,
        c: Vec<Ipv4Addr>,
    },
    /// A directive that takes one value was given again; the last wins.
    Repeated {
        directive: &'static str,
        previous: u32,
    },
    UnknownLogFacility {
        name: String,
    },
    /// A repeating timer of 0s would spin; 1s is used instead.
    ZeroInterval {
        directive: &'static str,
    },
    /// A Notify block outside every VIP's `nNET` network on its
    /// interface: it never sends anything.
    NotifyReachesNoVip {
        entry: String,
    },

    /// More of something than a C 2.1.4 node can hold.
    CLimit {
        what: &'static str,
        count: usize,
        limit: usize,
    },
    /// A file given with `-c` (or the one in SYSCONFDIR) that somebody
    /// besides root and the running user could change: used, as chosen,
    /// but its hooks run as root.
    Changeable(Changeable),
    /// A hook on `check up` or `check down` in a file without a `Check`
    /// block: it never runs.
    NoChecks {
        event: &'static str,
    },
}

fn addr_list(v: &[Ipv4Addr]) -> String {
    if v.is_empty() {
        return "nothing".to_string();
    }
    let shown: Vec<String> = v.iter().take(4).map(|a| a.to_string()).collect();
    if v.len() > 4 {
        format!("{} ... ({} addresses)", shown.join(" "), v.len())
    } else {
        shown.join(" ")
    }
}

impl fmt::Display for WarningKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WarningKind::HoursWereSeconds { word } => write!(
                f,
                "'{word}' is read as hours; C wackamole 2.1.4 read 'h' as seconds"
            ),
            WarningKind::CRejects { what, fix } => write!(
                f,
                "{what}: accepted here, but C wackamole 2.1.4 rejects it; {fix} for a file both accept"
            ),
            WarningKind::ZeroPrefix { word } => write!(
                f,
                "'{word}': a zero prefix is read as 32, as C wackamole did on x86; write 32"
            ),
            WarningKind::PreferMatchesNothing { entry } => {
                write!(f, "Prefer {entry} names no configured VIP")
            }
            WarningKind::PreferDiffersFromC { entry, ours, c } => write!(
                f,
                "Prefer {entry} covers {}; C wackamole 2.1.4 would send {} instead",
                addr_list(ours),
                addr_list(c)
            ),
            WarningKind::Repeated {
                directive,
                previous,
            } => write!(
                f,
                "{directive} is set again (first at line {previous}); the last value wins"
            ),
            WarningKind::UnknownLogFacility { name } => write!(
                f,
                "unknown LogFacility '{name}'; logging to facility daemon"
            ),
            WarningKind::ZeroInterval { directive } => write!(
                f,
                "{directive} = 0s would run its timer without pause; 1s is used"
            ),
            WarningKind::NotifyReachesNoVip { entry } => write!(
                f,
                "Notify {entry} lies outside the notification network (nNET) of every VIP on its interface, so it never fires"
            ),
            WarningKind::CLimit { what, count, limit } => write!(
                f,
                "{count} {what}; C wackamole 2.1.4 nodes hold at most {limit} and cannot share this cluster"
            ),
            WarningKind::Changeable(why) => write!(
                f,
                "{why}, and what it says runs as root (its hooks): {}",
                why.fix()
            ),
            WarningKind::NoChecks { event } => write!(
                f,
                "a hook on '{event}', but no Check block: it never runs"
            ),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pos {
            Some(p) => write!(
                f,
                "{}:{}:{}: warning: {}",
                self.file, p.line, p.col, self.kind
            ),
            None => write!(f, "{}: warning: {}", self.file, self.kind),
        }
    }
}
