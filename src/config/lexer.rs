//! The config lexer: bytes of `wackamole.conf` to tokens, reproducing the
//! word boundaries of the original flex scanner (`config_gram.l`).
//!
//! C's scanner picks the longest match among its rules, and every rule
//! except `{`, `}`, quoted strings and comments matches a run of
//! `[^ \t\r\n#{}]`. So a *word* here is exactly such a run, and what C
//! would call it (keyword, number, time, address or string) is decided
//! afterwards from the whole word by [`CClass::of`]. Quoted strings win
//! over a bare word only when they are at least as long, as in flex.

/// Where a token starts: 1-based line and column (columns count
/// characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    OpenBrace,
    CloseBrace,
    /// A lone `=`. (`=x` is a bare word in C; the parser splits it.)
    Equals,
    /// A run of `[^ \t\r\n#{}]`.
    Bare,
    /// `"…"` or `'…'`, no escapes, may span lines; text is the inside.
    Quoted,
    Eof,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token<'a> {
    pub kind: TokenKind,
    pub text: &'a str,
    pub pos: Pos,
    /// Byte offsets of the whole token in the source (quotes included).
    pub start: usize,
    pub end: usize,
}

pub struct Lexer<'a> {
    src: &'a str,
    at: usize,
    line: u32,
    col: u32,
}

fn is_word_byte(b: u8) -> bool {
    !matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'#' | b'{' | b'}')
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str) -> Self {
        Lexer {
            src,
            at: 0,
            line: 1,
            col: 1,
        }
    }

    /// Moves `at` forward to `to`, keeping line and column right.
    fn advance_to(&mut self, to: usize) {
        for &b in &self.src.as_bytes()[self.at..to] {
            if b == b'\n' {
                self.line += 1;
                self.col = 1;
            } else if b & 0xC0 != 0x80 {
                // Count characters, not UTF-8 continuation bytes.
                self.col += 1;
            }
        }
        self.at = to;
    }

    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            col: self.col,
        }
    }

    pub fn next_token(&mut self) -> Token<'a> {
        let bytes = self.src.as_bytes();
        loop {
            let Some(&b) = bytes.get(self.at) else {
                return Token {
                    kind: TokenKind::Eof,
                    text: "",
                    pos: self.pos(),
                    start: self.at,
                    end: self.at,
                };
            };
            match b {
                b' ' | b'\t' | b'\r' | b'\n' => self.advance_to(self.at + 1),
                b'#' => {
                    let end = bytes[self.at..]
                        .iter()
                        .position(|&c| c == b'\n')
                        .map_or(bytes.len(), |n| self.at + n);
                    self.advance_to(end);
                }
                _ => break,
            }
        }
        let start = self.at;
        let pos = self.pos();
        let b = bytes[start];
        let (kind, text, end) = match b {
            b'{' => (TokenKind::OpenBrace, &self.src[start..start + 1], start + 1),
            b'}' => (
                TokenKind::CloseBrace,
                &self.src[start..start + 1],
                start + 1,
            ),
            _ => {
                let bare_end = bytes[start..]
                    .iter()
                    .position(|&c| !is_word_byte(c))
                    .map_or(bytes.len(), |n| start + n);
                let quoted_end = if b == b'"' || b == b'\'' {
                    bytes[start + 1..]
                        .iter()
                        .position(|&c| c == b)
                        .map(|n| start + 1 + n + 1)
                } else {
                    None
                };
                match quoted_end {
                    // flex: longest match wins, and on a tie the quoted
                    // rule, which comes first in config_gram.l.
                    Some(q) if q >= bare_end => (TokenKind::Quoted, &self.src[start + 1..q - 1], q),
                    _ => {
                        let text = &self.src[start..bare_end];
                        let kind = if text == "=" {
                            TokenKind::Equals
                        } else {
                            TokenKind::Bare
                        };
                        (kind, text, bare_end)
                    }
                }
            }
        };
        self.advance_to(end);
        Token {
            kind,
            text,
            pos,
            start,
            end,
        }
    }
}

/// What C's scanner would have returned for a bare word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CClass {
    Keyword(Keyword),
    Number,
    Time,
    Address,
    String,
}

/// The keywords of `config_gram.l`, matched case-insensitively on the
/// whole word, and `NodeAddress`, which only this implementation knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    None,
    All,
    ArpCache,
    Ping,
    Control,
    Throttle,
    Spread,
    SpreadRetryInterval,
    RunDynamic,
    ModuleDir,
    PerlUseLib,
    PerlUse,
    LogFacility,
    Mature,
    Balance,
    AcquisitionsPerRound,
    Interval,
    Group,
    Prefer,
    Notify,
    /// `VirtualInterfaces`, `VIPs` or `VIFs`.
    Vifs,
    /// Not a keyword of C 2.1.4, which rejects the directive: this
    /// node's identity (spec §2).
    NodeAddress,
    /// Not a keyword of C 2.1.4 either: a program run on a hook event.
    RunScript,
    /// Not in C 2.1.4: how long a state exchange may wait for a member.
    GatherTimeout,
    /// Not in C 2.1.4: the key file of an authenticated group.
    SharedSecretFile,
    /// Not in C 2.1.4: the group whose members may use the control socket.
    ControlGroup,
    /// Not in C 2.1.4: the user Spread runs as (may own its socket).
    SpreadUser,
    /// Not in C 2.1.4: the Perl interpreter for Perl hooks.
    PerlPath,
    /// Not in C 2.1.4: at most this many hook processes at once.
    HookLimit,
    /// Not in C 2.1.4: how often every held VIP is announced again.
    ArpRefresh,
    /// Not in C 2.1.4: fewer members than this in a view, hold nothing.
    Quorum,
    /// Not in C 2.1.4: which group system carries the membership.
    Membership,
    /// Not in C 2.1.4: a health check, `Check { Run = /path ... }`. Its
    /// parameters (`Run`, `Timeout`, `Fall`, `Rise`; `Interval` is C's
    /// keyword) are words of the block only, not keywords: a value
    /// spelled `rise` elsewhere stays a plain string, as C reads it.
    Check,
}

/// Canonical spellings, used in messages and suggestions.
pub const KEYWORDS: &[(&str, Keyword)] = &[
    ("None", Keyword::None),
    ("all", Keyword::All),
    ("arp-cache", Keyword::ArpCache),
    ("ping", Keyword::Ping),
    ("Control", Keyword::Control),
    ("throttle", Keyword::Throttle),
    ("Spread", Keyword::Spread),
    ("SpreadRetryInterval", Keyword::SpreadRetryInterval),
    ("RunDynamic", Keyword::RunDynamic),
    ("ModuleDir", Keyword::ModuleDir),
    ("PerlUseLib", Keyword::PerlUseLib),
    ("PerlUse", Keyword::PerlUse),
    ("LogFacility", Keyword::LogFacility),
    ("Mature", Keyword::Mature),
    ("Balance", Keyword::Balance),
    ("AcquisitionsPerRound", Keyword::AcquisitionsPerRound),
    ("Interval", Keyword::Interval),
    ("Group", Keyword::Group),
    ("Prefer", Keyword::Prefer),
    ("Notify", Keyword::Notify),
    ("VirtualInterfaces", Keyword::Vifs),
    ("VIPs", Keyword::Vifs),
    ("VIFs", Keyword::Vifs),
    ("NodeAddress", Keyword::NodeAddress),
    ("RunScript", Keyword::RunScript),
    ("GatherTimeout", Keyword::GatherTimeout),
    ("SharedSecretFile", Keyword::SharedSecretFile),
    ("ControlGroup", Keyword::ControlGroup),
    ("SpreadUser", Keyword::SpreadUser),
    ("PerlPath", Keyword::PerlPath),
    ("HookLimit", Keyword::HookLimit),
    ("ArpRefresh", Keyword::ArpRefresh),
    ("Quorum", Keyword::Quorum),
    ("Membership", Keyword::Membership),
    ("Check", Keyword::Check),
];

impl Keyword {
    pub fn lookup(word: &str) -> Option<Keyword> {
        KEYWORDS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(word))
            .map(|&(_, k)| k)
    }

    pub fn name(self) -> &'static str {
        KEYWORDS
            .iter()
            .find(|&&(_, k)| k == self)
            .map_or("?", |&(name, _)| name)
    }
}

impl CClass {
    pub fn of(word: &str) -> CClass {
        if let Some(k) = Keyword::lookup(word) {
            return CClass::Keyword(k);
        }
        let b = word.as_bytes();
        if !b.is_empty() && b.iter().all(u8::is_ascii_digit) {
            return CClass::Number;
        }
        if b.len() >= 2
            && b[..b.len() - 1].iter().all(u8::is_ascii_digit)
            && matches!(b[b.len() - 1], b's' | b'S' | b'm' | b'M' | b'h' | b'H')
        {
            return CClass::Time;
        }
        if c_lexes_as_address(word) {
            return CClass::Address;
        }
        CClass::String
    }
}

/// `([^ \t\r\n#{}:]+:)?D{1,3}.D{1,3}.D{1,3}.D{1,3}/D{1,2}(nD{1,2})?` on
/// the whole word.
pub fn c_lexes_as_address(word: &str) -> bool {
    let rest = match word.split_once(':') {
        Some((iface, rest)) => {
            if iface.is_empty() {
                return false;
            }
            rest
        }
        None => word,
    };
    let Some((quad, tail)) = rest.split_once('/') else {
        return false;
    };
    let octets: Vec<&str> = quad.split('.').collect();
    let digits = |s: &str, max: usize| {
        !s.is_empty() && s.len() <= max && s.bytes().all(|c| c.is_ascii_digit())
    };
    if octets.len() != 4 || !octets.iter().all(|o| digits(o, 3)) {
        return false;
    }
    match tail.split_once('n') {
        Some((prefix, net)) => digits(prefix, 2) && digits(net, 2),
        None => digits(tail, 2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex(src: &str) -> Vec<(TokenKind, String, u32, u32)> {
        let mut lx = Lexer::new(src);
        let mut out = Vec::new();
        loop {
            let t = lx.next_token();
            if t.kind == TokenKind::Eof {
                return out;
            }
            out.push((t.kind, t.text.to_string(), t.pos.line, t.pos.col));
        }
    }

    #[test]
    fn words_braces_and_equals() {
        use TokenKind::*;
        assert_eq!(
            lex("Group = wack1\nVIFs{ eth0:1.2.3.4/32 }"),
            vec![
                (Bare, "Group".into(), 1, 1),
                (Equals, "=".into(), 1, 7),
                (Bare, "wack1".into(), 1, 9),
                (Bare, "VIFs".into(), 2, 1),
                (OpenBrace, "{".into(), 2, 5),
                (Bare, "eth0:1.2.3.4/32".into(), 2, 7),
                (CloseBrace, "}".into(), 2, 23),
            ]
        );
    }

    #[test]
    fn equals_glued_to_a_word_is_part_of_it() {
        use TokenKind::*;
        assert_eq!(
            lex("Group=wack1 =x"),
            vec![
                (Bare, "Group=wack1".into(), 1, 1),
                (Bare, "=x".into(), 1, 13)
            ]
        );
    }

    #[test]
    fn comments_end_words_and_run_to_end_of_line() {
        use TokenKind::*;
        assert_eq!(
            lex("# full line\nGroup = a#b c\n  # x { }\n}"),
            vec![
                (Bare, "Group".into(), 2, 1),
                (Equals, "=".into(), 2, 7),
                (Bare, "a".into(), 2, 9),
                (CloseBrace, "}".into(), 4, 1),
            ]
        );
    }

    #[test]
    fn quoted_strings_follow_flex_longest_match() {
        use TokenKind::*;
        // A whole quoted string: quoted wins the tie.
        assert_eq!(lex("\"a b#c\""), vec![(Quoted, "a b#c".into(), 1, 1)]);
        assert_eq!(lex("'x'"), vec![(Quoted, "x".into(), 1, 1)]);
        // A bare run that goes past the closing quote is one bare word,
        // quotes included, as C reads it.
        assert_eq!(lex("\"ab\"cd"), vec![(Bare, "\"ab\"cd".into(), 1, 1)]);
        // Quoted longer than the bare run: quoted, then the rest.
        assert_eq!(
            lex("\"a b\"cd"),
            vec![(Quoted, "a b".into(), 1, 1), (Bare, "cd".into(), 1, 6)]
        );
        // No closing quote: a bare word.
        assert_eq!(lex("\"abc"), vec![(Bare, "\"abc".into(), 1, 1)]);
        // Spanning lines keeps the line count right.
        assert_eq!(
            lex("'a\nb' c"),
            vec![(Quoted, "a\nb".into(), 1, 1), (Bare, "c".into(), 2, 4)]
        );
        assert_eq!(lex("\"\""), vec![(Quoted, "".into(), 1, 1)]);
    }

    #[test]
    fn columns_count_characters() {
        let t = lex("# é\n  é x");
        assert_eq!(t[1], (TokenKind::Bare, "x".into(), 2, 5));
    }

    #[test]
    fn c_classes() {
        assert_eq!(CClass::of("vips"), CClass::Keyword(Keyword::Vifs));
        assert_eq!(CClass::of("VIFS"), CClass::Keyword(Keyword::Vifs));
        assert_eq!(CClass::of("ARP-CACHE"), CClass::Keyword(Keyword::ArpCache));
        assert_eq!(
            CClass::of("nodeaddress"),
            CClass::Keyword(Keyword::NodeAddress)
        );
        assert_eq!(CClass::of("RUNSCRIPT"), CClass::Keyword(Keyword::RunScript));
        assert_eq!(CClass::of("1234"), CClass::Number);
        assert_eq!(CClass::of("5s"), CClass::Time);
        assert_eq!(CClass::of("5H"), CClass::Time);
        assert_eq!(CClass::of("s"), CClass::String);
        assert_eq!(CClass::of("eth0:1.2.3.4/32"), CClass::Address);
        assert_eq!(CClass::of("1.2.3.4/32n24"), CClass::Address);
        assert_eq!(CClass::of("e:1.2.3.4/32N24"), CClass::String);
        assert_eq!(CClass::of("e:1.2.3.4"), CClass::String);
        assert_eq!(CClass::of("e:1.2.3.4/320"), CClass::String);
        assert_eq!(CClass::of("e:1.2.3.1000/32"), CClass::String);
        assert_eq!(CClass::of(":1.2.3.4/32"), CClass::String);
        assert_eq!(CClass::of("a:b:1.2.3.4/32"), CClass::String);
        assert_eq!(CClass::of("4803@host"), CClass::String);
        assert_eq!(CClass::of("Groupx"), CClass::String);
    }
}
