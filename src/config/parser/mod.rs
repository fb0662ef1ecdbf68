//! The grammar of `wackamole.conf` (spec §11): tokens to a [`Draft`], the
//! directives as written. A syntax error stops the parse (it is returned
//! with everything found before it); a wrong value (an octet out of
//! range, say) is recorded and the parse goes on, so one run reports
//! them all. Cross-directive checks live in `validate`.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::{Error, ErrorKind, Pos, Warning, WarningKind};
use super::lexer::{CClass, Keyword, Lexer, Token, TokenKind};
use super::{Check, Hook, NotifyEntry, PreferEntry, Vif};
use crate::net::identity;

/// A value and where it was written.
pub(super) type At<T> = Option<(T, Pos)>;

/// The directives as written, before cross-checks and defaults.
#[derive(Debug, Default)]
pub(super) struct Draft {
    pub spread: At<String>,
    pub spread_retry_interval: At<Duration>,
    pub group: At<String>,
    pub log_facility: At<String>,
    pub control: At<String>,
    pub mature: At<Duration>,
    pub arp_cache: At<Duration>,
    pub balance_rate: At<u32>,
    /// `AcquisitionsPerRound = all` once seen stays (as in C).
    pub balance_all: Option<Pos>,
    pub balance_interval: At<Duration>,
    /// The last `ModuleDir`, resolved: each RunDynamic takes the one in
    /// effect where it is written, so setting it again is no mistake.
    pub module_dir_path: Option<PathBuf>,
    pub perl_use_lib: Vec<String>,
    pub perl_use: Vec<String>,
    pub hooks: Vec<Hook>,
    pub prefer: Vec<(PreferEntry, Pos)>,
    pub vifs: Vec<Vif>,
    /// A VirtualInterfaces block was written (even an empty one).
    pub saw_vifs: bool,
    pub notify: Vec<NotifyEntry>,
    /// `Notify None` was written.
    pub notify_none: bool,
    pub node_address: At<Ipv4Addr>,
    pub gather_timeout: At<Duration>,
    /// Resolved against the config's directory.
    pub shared_secret_file: Option<PathBuf>,
    pub control_group: At<String>,
    pub spread_user: At<String>,
    pub perl_path: At<PathBuf>,
    pub hook_limit: At<u32>,
    pub arp_refresh: At<Duration>,
    pub quorum: At<u32>,
    pub membership: At<super::Backend>,
    /// Complete and checked block by block (defaults applied).
    pub checks: Vec<Check>,
}

type PResult<T> = Result<T, Error>;

const DIRECTIVES: &[&str] = &[
    "Spread",
    "SpreadRetryInterval",
    "Group",
    "Control",
    "Mature",
    "Arp-Cache",
    "Balance",
    "Prefer",
    "VirtualInterfaces",
    "Notify",
    "RunDynamic",
    "ModuleDir",
    "PerlUse",
    "PerlUseLib",
    "LogFacility",
    "NodeAddress",
    "RunScript",
    "GatherTimeout",
    "SharedSecretFile",
    "ControlGroup",
    "SpreadUser",
    "PerlPath",
    "HookLimit",
    "ArpRefresh",
    "Quorum",
    "Membership",
    "Check",
];

fn starts_directive(k: Keyword) -> bool {
    !matches!(
        k,
        Keyword::None
            | Keyword::All
            | Keyword::Ping
            | Keyword::Throttle
            | Keyword::AcquisitionsPerRound
            | Keyword::Interval
    )
}

/// Directives written `KEY = VALUE` (so `KEY=VALUE` can be split).
fn takes_equals(k: Keyword, in_balance: bool) -> bool {
    if in_balance {
        return matches!(k, Keyword::AcquisitionsPerRound | Keyword::Interval);
    }
    matches!(
        k,
        Keyword::Spread
            | Keyword::SpreadRetryInterval
            | Keyword::Group
            | Keyword::LogFacility
            | Keyword::Control
            | Keyword::Mature
            | Keyword::ArpCache
            | Keyword::ModuleDir
            | Keyword::NodeAddress
            | Keyword::GatherTimeout
            | Keyword::SharedSecretFile
            | Keyword::ControlGroup
            | Keyword::SpreadUser
            | Keyword::PerlPath
            | Keyword::HookLimit
            | Keyword::ArpRefresh
            | Keyword::Quorum
            | Keyword::Membership
    )
}

/// Directives C 2.1.4 knows. Its warnings about how a directive is
/// written would be misleading for the others: C rejects them whole.
fn c_knows(k: Keyword) -> bool {
    !matches!(
        k,
        Keyword::NodeAddress
            | Keyword::RunScript
            | Keyword::GatherTimeout
            | Keyword::SharedSecretFile
            | Keyword::ControlGroup
            | Keyword::SpreadUser
            | Keyword::PerlPath
            | Keyword::HookLimit
            | Keyword::ArpRefresh
            | Keyword::Quorum
            | Keyword::Membership
            | Keyword::Check
    )
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_ascii_lowercase().chars().collect();
    let b: Vec<char> = b.to_ascii_lowercase().chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == cb {
                prev
            } else {
                1 + prev.min(cur).min(row[j])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

fn suggest(word: &str) -> Option<&'static str> {
    if word.len() < 3 || word.len() > 40 {
        return None;
    }
    let lower = word.to_ascii_lowercase();
    DIRECTIVES
        .iter()
        .map(|d| (edit_distance(word, d), *d))
        .filter(|&(dist, d)| dist <= 2.max(d.len() / 4))
        .min()
        .map(|(_, d)| d)
        .or_else(|| {
            DIRECTIVES
                .iter()
                .find(|d| d.to_ascii_lowercase().starts_with(&lower))
                .copied()
        })
}

struct Parser<'a> {
    src: &'a str,
    lx: Lexer<'a>,
    /// Tokens put back (the halves of a split word), last out first.
    pending: Vec<Token<'a>>,
    file: &'a str,
    base: &'a Path,
    errors: Vec<Error>,
    warnings: Vec<Warning>,
    /// Every VIF address so far, for the duplicate check.
    seen: HashMap<IpAddr, Pos>,
    d: Draft,
}

pub(super) fn parse(
    src: &str,
    file: &str,
    base: &Path,
) -> (Option<Draft>, Vec<Error>, Vec<Warning>) {
    let mut p = Parser {
        src,
        lx: Lexer::new(src),
        pending: Vec::new(),
        file,
        base,
        errors: Vec::new(),
        warnings: Vec::new(),
        seen: HashMap::new(),
        d: Draft::default(),
    };
    match p.config() {
        Ok(()) => (Some(p.d), p.errors, p.warnings),
        Err(e) => {
            p.errors.push(e);
            (None, p.errors, p.warnings)
        }
    }
}

impl<'a> Parser<'a> {
    fn next(&mut self) -> Token<'a> {
        self.pending.pop().unwrap_or_else(|| self.lx.next_token())
    }

    fn peek(&mut self) -> &Token<'a> {
        if self.pending.is_empty() {
            let t = self.lx.next_token();
            self.pending.push(t);
        }
        self.pending.last().expect("just pushed")
    }

    fn error(&self, pos: Pos, kind: ErrorKind) -> Error {
        Error {
            file: self.file.to_string(),
            pos: Some(pos),
            kind,
        }
    }

    fn record(&mut self, pos: Pos, kind: ErrorKind) {
        let e = self.error(pos, kind);
        self.errors.push(e);
    }

    fn warn(&mut self, pos: Pos, kind: WarningKind) {
        self.warnings.push(Warning {
            file: self.file.to_string(),
            pos: Some(pos),
            kind,
        });
    }

    fn c_rejects(&mut self, pos: Pos, what: String, fix: String) {
        self.warn(pos, WarningKind::CRejects { what, fix });
    }

    /// A token as the user wrote it, for "found ..." in messages.
    fn found(&self, t: &Token<'_>) -> String {
        match t.kind {
            TokenKind::Eof => "end of file".to_string(),
            TokenKind::Quoted => self.src[t.start..t.end].to_string(),
            _ => format!("'{}'", t.text),
        }
    }

    fn syntax(&self, t: &Token<'_>, expected: impl Into<String>) -> Error {
        self.error(
            t.pos,
            ErrorKind::Syntax {
                expected: expected.into(),
                found: self.found(t),
            },
        )
    }

    /// Splits a bare token at byte `at` of its text.
    fn split(t: &Token<'a>, at: usize) -> (Token<'a>, Token<'a>) {
        let part = |text: &'a str, start: usize, pos: Pos| Token {
            kind: if text == "=" {
                TokenKind::Equals
            } else {
                TokenKind::Bare
            },
            text,
            pos,
            start,
            end: start + text.len(),
        };
        let (l, r) = t.text.split_at(at);
        let rpos = Pos {
            line: t.pos.line,
            col: t.pos.col + l.chars().count() as u32,
        };
        (part(l, t.start, t.pos), part(r, t.start + at, rpos))
    }

    /// A token that ends a block without its `}`: end of file or the
    /// start of the next directive.
    fn ends_block(t: &Token<'_>) -> bool {
        match t.kind {
            TokenKind::Eof => true,
            TokenKind::Bare => {
                matches!(CClass::of(t.text), CClass::Keyword(k) if starts_directive(k))
            }
            _ => false,
        }
    }

    fn unclosed(&self, t: &Token<'_>, block: &'static str, opened: Pos) -> Error {
        self.error(
            t.pos,
            ErrorKind::Unclosed {
                block,
                opened: opened.line,
                found: self.found(t),
            },
        )
    }

    fn config(&mut self) -> PResult<()> {
        loop {
            let t = self.next();
            if t.kind == TokenKind::Eof {
                return Ok(());
            }
            self.directive(t)?;
        }
    }

    /// Reads the keyword of a directive (or of a Balance parameter),
    /// splitting `KEY=VALUE` words, which C rejects.
    fn keyword(&mut self, t: Token<'a>, in_balance: bool, expected: &str) -> PResult<Keyword> {
        if t.kind != TokenKind::Bare {
            return Err(self.syntax(&t, expected));
        }
        if let CClass::Keyword(k) = CClass::of(t.text) {
            return Ok(k);
        }
        if let Some(eq) = t.text.find('=') {
            if let Some(k) = Keyword::lookup(&t.text[..eq]).filter(|&k| takes_equals(k, in_balance))
            {
                let (key, rest) = Self::split(&t, eq);
                let value = match &rest.text[1..] {
                    "" => "...",
                    v => v,
                };
                if c_knows(k) {
                    self.c_rejects(
                        t.pos,
                        format!("'{}' without blanks around '='", t.text),
                        format!("write '{} = {value}'", key.text),
                    );
                }
                // The warning is given; the '=' half must not give another.
                self.put_back(&rest);
                return Ok(k);
            }
        }
        if in_balance {
            return Err(self.syntax(&t, expected));
        }
        Err(self.error(
            t.pos,
            ErrorKind::UnknownDirective {
                word: t.text.to_string(),
                suggestion: suggest(t.text),
            },
        ))
    }

    /// Puts `=value`, the rest of a `KEY=value` word, back as an `=`
    /// and the value (if any), to be read next.
    fn put_back(&mut self, rest: &Token<'a>) {
        let (eq_tok, value) = Self::split(rest, 1);
        if !value.text.is_empty() {
            self.pending.push(value);
        }
        self.pending.push(eq_tok);
    }

    fn equals(&mut self, after: &str) -> PResult<()> {
        self.equals_of(after, true)
    }

    /// The `=` after a directive; `c_knows` is false for one C rejects
    /// anyway (no warning about the blanks then).
    fn equals_of(&mut self, after: &str, c_knows: bool) -> PResult<()> {
        let t = self.next();
        match t.kind {
            TokenKind::Equals => Ok(()),
            TokenKind::Bare if t.text.starts_with('=') => {
                let (_, value) = Self::split(&t, 1);
                if c_knows {
                    self.c_rejects(
                        t.pos,
                        format!("'{}' with no blank after '='", t.text),
                        format!("write '= {}'", value.text),
                    );
                }
                self.pending.push(value);
                Ok(())
            }
            _ => Err(self.syntax(&t, format!("'=' after {after}"))),
        }
    }

    /// A string value: a quoted string, or a bare word. A bare word C
    /// would read as a keyword, number, time or address is accepted with
    /// a warning — except a directive keyword, which means the value is
    /// missing.
    fn string(&mut self, what: &str, number_ok: bool) -> PResult<(String, Pos)> {
        let t = self.next();
        match t.kind {
            TokenKind::Quoted => {}
            TokenKind::Bare => {
                let class = CClass::of(t.text);
                match class {
                    CClass::String => {}
                    CClass::Number if number_ok => {}
                    CClass::Keyword(k) if starts_directive(k) => {
                        return Err(
                            self.syntax(&t, format!("{what} (quote it if '{}' is meant)", t.text))
                        );
                    }
                    _ => {
                        let kind = match class {
                            CClass::Keyword(_) => "a keyword",
                            CClass::Number => "a number",
                            CClass::Time => "a time",
                            _ => "an address",
                        };
                        self.c_rejects(
                            t.pos,
                            format!("'{}' is read by C as {kind}, not a string", t.text),
                            format!("quote it (\"{}\")", t.text),
                        );
                    }
                }
            }
            _ => return Err(self.syntax(&t, what)),
        }
        if t.text.contains('\u{FFFD}') {
            return Err(self.error(t.pos, ErrorKind::InvalidUtf8));
        }
        Ok((t.text.to_string(), t.pos))
    }

    /// A user or group name (or number): a non-empty string. A bare
    /// word that is also a directive (`spread`) is the name unless an
    /// `=` follows it, which means the value is missing.
    fn name(&mut self, what: &str, directive: &'static str) -> PResult<(String, Pos)> {
        let t = self.next();
        if let (TokenKind::Bare, CClass::Keyword(_)) = (t.kind, CClass::of(t.text)) {
            let after = self.next();
            let missing = after.kind == TokenKind::Equals
                || (after.kind == TokenKind::Bare && after.text.starts_with('='));
            self.pending.push(after);
            if missing {
                return Err(self.syntax(&t, what));
            }
            return Ok((t.text.to_string(), t.pos));
        }
        self.pending.push(t);
        let (v, pos) = self.string(what, true)?;
        if v.is_empty() {
            self.record(pos, ErrorKind::EmptyValue { directive });
        }
        Ok((v, pos))
    }

    /// A bare number (`expected` names it in the syntax error); `None`
    /// when it is recorded as too large.
    fn count(&mut self, expected: &str) -> PResult<Option<(u32, Pos)>> {
        let v = self.next();
        if v.kind != TokenKind::Bare || CClass::of(v.text) != CClass::Number {
            return Err(self.syntax(&v, expected));
        }
        Ok(self.number_value(&v).map(|n| (n, v.pos)))
    }

    fn number_value(&mut self, t: &Token<'_>) -> Option<u32> {
        match t.text.parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                self.record(
                    t.pos,
                    ErrorKind::NumberTooLarge {
                        word: t.text.to_string(),
                    },
                );
                None
            }
        }
    }

    fn time(&mut self, what: &str) -> PResult<(Duration, Pos)> {
        self.time_of(what, true)
    }

    /// A time; `c_knows`: the directive is one of C's, whose `h` C read
    /// as seconds (worth a warning while C and Rust nodes share a file).
    fn time_of(&mut self, what: &str, c_knows: bool) -> PResult<(Duration, Pos)> {
        let t = self.next();
        let expected = format!("a time such as 30s, 5m or 1h for {what}");
        if t.kind != TokenKind::Bare {
            return Err(self.syntax(&t, expected));
        }
        match CClass::of(t.text) {
            CClass::Time => {}
            CClass::Number => {
                return Err(self.syntax(&t, format!("{expected} (a unit is required)")));
            }
            _ => return Err(self.syntax(&t, expected)),
        }
        let (n, unit) = t.text.split_at(t.text.len() - 1);
        let scale = match unit {
            "s" | "S" => 1,
            "m" | "M" => 60,
            _ => {
                if c_knows {
                    self.warn(
                        t.pos,
                        WarningKind::HoursWereSeconds {
                            word: t.text.to_string(),
                        },
                    );
                }
                3600
            }
        };
        let secs = n
            .parse::<u64>()
            .ok()
            .and_then(|v| v.checked_mul(scale))
            .filter(|&v| v <= u64::from(u32::MAX));
        match secs {
            Some(s) => Ok((Duration::from_secs(s), t.pos)),
            None => {
                self.record(
                    t.pos,
                    ErrorKind::TimeTooLarge {
                        word: t.text.to_string(),
                    },
                );
                Ok((Duration::ZERO, t.pos))
            }
        }
    }

    /// Sets a one-value directive; the value's position is kept, for
    /// the checks that come later.
    fn set<T>(
        warnings: &mut Vec<Warning>,
        file: &str,
        slot: &mut At<T>,
        (v, value_pos): (T, Pos),
        key_pos: Pos,
        directive: &'static str,
    ) {
        if let Some((_, prev)) = slot {
            warnings.push(Warning {
                file: file.to_string(),
                pos: Some(key_pos),
                kind: WarningKind::Repeated {
                    directive,
                    previous: prev.line,
                },
            });
        }
        *slot = Some((v, value_pos));
    }

    fn directive(&mut self, t: Token<'a>) -> PResult<()> {
        let pos = t.pos;
        let k = self.keyword(t.clone(), false, "a directive")?;
        let t = &t;
        let file = self.file;
        macro_rules! set {
            ($field:ident, $v:expr, $name:expr) => {{
                let v = $v;
                Self::set(&mut self.warnings, file, &mut self.d.$field, v, pos, $name)
            }};
        }
        match k {
            Keyword::Spread => {
                self.equals("Spread")?;
                let v = self.string("a Spread address (PORT or PORT@HOST)", true)?;
                set!(spread, v, "Spread");
            }
            Keyword::SpreadRetryInterval => {
                self.equals("SpreadRetryInterval")?;
                let v = self.time("SpreadRetryInterval")?;
                set!(spread_retry_interval, v, "SpreadRetryInterval");
            }
            Keyword::Group => {
                self.equals("Group")?;
                let v = self.string("a group name", false)?;
                set!(group, v, "Group");
            }
            Keyword::LogFacility => {
                self.equals("LogFacility")?;
                let v = self.string("a syslog facility", false)?;
                set!(log_facility, v, "LogFacility");
            }
            Keyword::Control => {
                self.equals("Control")?;
                let v = self.string("a control socket path", false)?;
                set!(control, v, "Control");
            }
            Keyword::Mature => {
                self.equals("Mature")?;
                let v = self.time("Mature")?;
                set!(mature, v, "Mature");
            }
            Keyword::ArpCache => {
                self.equals("Arp-Cache")?;
                let v = self.time("Arp-Cache")?;
                set!(arp_cache, v, "Arp-Cache");
            }
            Keyword::ModuleDir => {
                self.equals("ModuleDir")?;
                let (v, vpos) = self.string("a directory", false)?;
                if v.is_empty() {
                    self.record(
                        vpos,
                        ErrorKind::EmptyValue {
                            directive: "ModuleDir",
                        },
                    );
                }
                let path = if v == "." {
                    self.base.to_path_buf()
                } else {
                    self.base.join(&v)
                };
                self.d.module_dir_path = Some(path);
            }
            Keyword::PerlUse => {
                let (v, _) = self.string("a Perl module name after PerlUse", false)?;
                self.d.perl_use.push(v);
            }
            Keyword::PerlUseLib => {
                let (v, _) = self.string("a directory after PerlUseLib", false)?;
                self.d.perl_use_lib.push(v);
            }
            Keyword::NodeAddress => {
                self.equals_of("NodeAddress", c_knows(k))?;
                if let Some(v) = self.node_address()? {
                    set!(node_address, v, "NodeAddress");
                }
            }
            Keyword::SharedSecretFile => {
                self.equals_of("SharedSecretFile", c_knows(k))?;
                let (v, vpos) = self.string("the path of a key file", false)?;
                if v.is_empty() {
                    self.record(
                        vpos,
                        ErrorKind::EmptyValue {
                            directive: "SharedSecretFile",
                        },
                    );
                }
                self.d.shared_secret_file = Some(self.base.join(&v));
            }
            Keyword::ControlGroup => {
                self.equals_of("ControlGroup", c_knows(k))?;
                let v = self.name("a group name (or number) for ControlGroup", "ControlGroup")?;
                set!(control_group, v, "ControlGroup");
            }
            Keyword::SpreadUser => {
                self.equals_of("SpreadUser", c_knows(k))?;
                let v = self.name("a user name (or number) for SpreadUser", "SpreadUser")?;
                set!(spread_user, v, "SpreadUser");
            }
            Keyword::PerlPath => {
                self.equals_of("PerlPath", c_knows(k))?;
                let (v, vpos) = self.string("the absolute path of perl for PerlPath", false)?;
                if !v.starts_with('/') {
                    self.record(
                        vpos,
                        ErrorKind::NotAbsolute {
                            directive: "PerlPath",
                            value: v.clone(),
                        },
                    );
                }
                set!(perl_path, (PathBuf::from(v), vpos), "PerlPath");
            }
            Keyword::HookLimit => {
                self.equals_of("HookLimit", c_knows(k))?;
                if let Some((n, vpos)) = self.count("a number of hook processes for HookLimit")? {
                    if n == 0 {
                        self.record(
                            vpos,
                            ErrorKind::Zero {
                                directive: "HookLimit",
                            },
                        );
                    }
                    set!(hook_limit, (n, vpos), "HookLimit");
                }
            }
            Keyword::Quorum => {
                self.equals_of("Quorum", c_knows(k))?;
                // 0 and 1 both mean off: every view has a member.
                if let Some(v) = self.count("a number of members for Quorum")? {
                    set!(quorum, v, "Quorum");
                }
            }
            Keyword::Membership => {
                self.equals_of("Membership", c_knows(k))?;
                let (v, vpos) = self.name("spread or corosync after Membership =", "Membership")?;
                match super::Backend::named(&v) {
                    Some(b) if b.built() => set!(membership, (b, vpos), "Membership"),
                    Some(b) => self.record(vpos, ErrorKind::BackendNotBuilt { backend: b }),
                    None => self.record(vpos, ErrorKind::BadMembership { value: v }),
                }
            }
            Keyword::GatherTimeout => {
                self.equals_of("GatherTimeout", c_knows(k))?;
                let v = self.time("GatherTimeout")?;
                set!(gather_timeout, v, "GatherTimeout");
            }
            Keyword::ArpRefresh => {
                self.equals_of("ArpRefresh", c_knows(k))?;
                let v = self.time_of("ArpRefresh", c_knows(k))?;
                set!(arp_refresh, v, "ArpRefresh");
            }
            Keyword::RunDynamic => self.run_dynamic(pos)?,
            Keyword::RunScript => self.run_script(pos)?,
            Keyword::Balance => self.balance(pos)?,
            Keyword::Check => self.check()?,
            Keyword::Prefer => self.prefer(pos)?,
            Keyword::Notify => self.notify(pos)?,
            Keyword::Vifs => self.vifs(pos)?,
            Keyword::None
            | Keyword::All
            | Keyword::Ping
            | Keyword::Throttle
            | Keyword::AcquisitionsPerRound
            | Keyword::Interval => {
                let place = match k {
                    Keyword::None => "only after Prefer or Notify",
                    Keyword::Ping | Keyword::Throttle => "only inside Notify",
                    Keyword::All => "only as AcquisitionsPerRound = all",
                    _ => "only inside Balance { }",
                };
                return Err(self.syntax(t, format!("a directive ('{}' belongs {place})", k.name())));
            }
        }
        Ok(())
    }

    /// The value of `NodeAddress`: a dotted IPv4 address, bare or
    /// quoted. `None` when it is recorded as wrong.
    fn node_address(&mut self) -> PResult<Option<(Ipv4Addr, Pos)>> {
        let t = self.next();
        let expected = "an IPv4 address (a.b.c.d) for NodeAddress";
        match t.kind {
            TokenKind::Bare if Self::ends_block(&t) => return Err(self.syntax(&t, expected)),
            TokenKind::Bare | TokenKind::Quoted => {}
            _ => return Err(self.syntax(&t, expected)),
        }
        match identity::parse_node_address(t.text) {
            Ok(a) => Ok(Some((a, t.pos))),
            Err(problem) => {
                self.record(
                    t.pos,
                    ErrorKind::BadNodeAddress {
                        value: t.text.to_string(),
                        problem,
                    },
                );
                Ok(None)
            }
        }
    }

    fn open_brace(&mut self, after: &str) -> PResult<Pos> {
        let t = self.next();
        if t.kind == TokenKind::OpenBrace {
            Ok(t.pos)
        } else {
            Err(self.syntax(&t, format!("'{{' after {after}")))
        }
    }

    fn balance(&mut self, _key: Pos) -> PResult<()> {
        let open = self.open_brace("Balance")?;
        let expected = "AcquisitionsPerRound, Interval or '}' in Balance";
        let mut any = false;
        loop {
            let t = self.next();
            match t.kind {
                TokenKind::CloseBrace => break,
                TokenKind::Eof => return Err(self.unclosed(&t, "Balance", open)),
                _ if Self::ends_block(&t) => return Err(self.unclosed(&t, "Balance", open)),
                _ => {}
            }
            let pos = t.pos;
            let file = self.file;
            match self.keyword(t.clone(), true, expected)? {
                Keyword::AcquisitionsPerRound => {
                    self.equals("AcquisitionsPerRound")?;
                    let v = self.next();
                    match (v.kind, CClass::of(v.text)) {
                        (TokenKind::Bare, CClass::Keyword(Keyword::All)) => {
                            self.d.balance_all = Some(pos);
                        }
                        (TokenKind::Bare, CClass::Number) => {
                            if let Some(n) = self.number_value(&v) {
                                Self::set(
                                    &mut self.warnings,
                                    file,
                                    &mut self.d.balance_rate,
                                    (n, v.pos),
                                    pos,
                                    "AcquisitionsPerRound",
                                );
                            }
                        }
                        _ => {
                            return Err(
                                self.syntax(&v, "a number or 'all' for AcquisitionsPerRound")
                            )
                        }
                    }
                }
                Keyword::Interval => {
                    self.equals("Interval")?;
                    let v = self.time("Interval")?;
                    Self::set(
                        &mut self.warnings,
                        file,
                        &mut self.d.balance_interval,
                        v,
                        pos,
                        "Interval",
                    );
                }
                _ => return Err(self.syntax(&t, expected)),
            }
            any = true;
        }
        if !any {
            self.record(open, ErrorKind::EmptyBlock { block: "Balance" });
        }
        Ok(())
    }
}

mod check;
mod lists;
mod run_dynamic;
