//! The list directives: VirtualInterfaces (single and grouped VIFs),
//! Prefer and Notify, and the address tokens they are made of.

use super::{PResult, Parser};
use crate::config::addr::{self, AddrProblem, IfAddr, VipAddr};
use crate::config::error::{ErrorKind, Pos, WarningKind, MAX_EXTRAS};
use crate::config::lexer::{CClass, Keyword, Token, TokenKind};
use crate::config::{NotifyEntry, NotifyTarget, PreferEntry, Vif};

impl Parser<'_> {
    /// Reads an address token of either family. A word that is nothing
    /// like an address is a syntax error; a wrong address is recorded and
    /// `None` returned.
    fn address_any(&mut self, t: &Token<'_>, expected: &str) -> PResult<Option<VipAddr>> {
        if t.kind != TokenKind::Bare {
            return Err(self.syntax(t, expected));
        }
        let problem = match addr::parse_any(t.text) {
            Ok((a, zero_prefix)) => {
                if zero_prefix {
                    self.warn(
                        t.pos,
                        WarningKind::ZeroPrefix {
                            word: t.text.to_string(),
                        },
                    );
                }
                return Ok(Some(a));
            }
            Err(p) => p,
        };
        match problem {
            AddrProblem::NotAnAddress => return Err(self.syntax(t, expected)),
            AddrProblem::Invalid(reason) => self.record(
                t.pos,
                ErrorKind::BadAddress {
                    word: t.text.to_string(),
                    reason,
                },
            ),
            AddrProblem::InterfaceNameTooLong(name) => {
                self.record(t.pos, ErrorKind::InterfaceNameTooLong { name })
            }
            AddrProblem::Ipv6 => unreachable!("parse_any reads IPv6"),
        }
        Ok(None)
    }

    /// An IPv4 address (Notify entries).
    fn address(&mut self, t: &Token<'_>, expected: &str) -> PResult<Option<IfAddr>> {
        match self.address_any(t, expected)? {
            Some(VipAddr::V4(a)) => Ok(Some(a)),
            Some(VipAddr::V6(_)) => {
                self.record(
                    t.pos,
                    ErrorKind::BadAddress {
                        word: t.text.to_string(),
                        reason: "Notify takes IPv4 blocks; IPv6 VIPs are announced to all nodes (ff02::1)".into(),
                    },
                );
                Ok(None)
            }
            None => Ok(None),
        }
    }

    /// A VIF address, which must name its interface and appear once.
    fn vif_address(&mut self, t: &Token<'_>, expected: &str) -> PResult<Option<VipAddr>> {
        let a = self.address_any(t, expected)?;
        if let Some(a) = &a {
            // 0.0.0.0: a standby placeholder, as many as wanted.
            let placeholder = a.ip() == std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
            if let (false, Some(&first)) = (placeholder, self.seen.get(&a.ip())) {
                self.record(
                    t.pos,
                    ErrorKind::DuplicateVip {
                        addr: a.ip(),
                        first,
                    },
                );
                return Ok(None);
            }
            self.seen.insert(a.ip(), t.pos);
            if a.ifname().is_empty() {
                self.record(
                    t.pos,
                    ErrorKind::BadAddress {
                        word: t.text.to_string(),
                        reason: format!(
                            "a VIF address needs its interface (for example eth0:{})",
                            t.text
                        ),
                    },
                );
                return Ok(None);
            }
        }
        Ok(a)
    }

    pub(super) fn vifs(&mut self, _key: Pos) -> PResult<()> {
        self.d.saw_vifs = true;
        let open = self.open_brace("VirtualInterfaces")?;
        let expected = "an address (such as eth0:10.0.0.1/32), '{' or '}' in VirtualInterfaces";
        let mut count = 0;
        loop {
            let t = self.next();
            match t.kind {
                TokenKind::CloseBrace => break,
                _ if Self::ends_block(&t) => {
                    return Err(self.unclosed(&t, "VirtualInterfaces", open))
                }
                TokenKind::OpenBrace => {
                    if let Some(v) = self.vif_group(t.pos)? {
                        self.d.vifs.push(v);
                    }
                }
                _ => {
                    if let Some(a) = self.vif_address(&t, expected)? {
                        self.d.vifs.push(Vif {
                            addrs: vec![a],
                            pos: t.pos,
                        });
                    }
                }
            }
            count += 1;
        }
        if count == 0 {
            self.record(
                open,
                ErrorKind::EmptyBlock {
                    block: "VirtualInterfaces",
                },
            );
        }
        Ok(())
    }

    /// `{ ADDR ADDR ... }`: one VIF of several addresses. `None` when an
    /// address in it was wrong (already recorded).
    fn vif_group(&mut self, open: Pos) -> PResult<Option<Vif>> {
        let expected = "an address (such as eth0:10.0.0.1/32) or '}' in a VIF group";
        let mut addrs = Vec::new();
        let mut all_ok = true;
        loop {
            let t = self.next();
            match t.kind {
                TokenKind::CloseBrace => break,
                _ if Self::ends_block(&t) => return Err(self.unclosed(&t, "a VIF group", open)),
                _ => match self.vif_address(&t, expected)? {
                    Some(a) => addrs.push(a),
                    None => all_ok = false,
                },
            }
        }
        if addrs.is_empty() && all_ok {
            self.record(open, ErrorKind::EmptyBlock { block: "VIF group" });
            return Ok(None);
        }
        if addrs.len() > MAX_EXTRAS + 1 {
            self.record(
                open,
                ErrorKind::TooManyExtras {
                    count: addrs.len() - 1,
                },
            );
            return Ok(None);
        }
        if !all_ok {
            return Ok(None);
        }
        if let Some(a) = addrs.iter().find(|a| a.ip().is_unspecified()) {
            // C would plumb nothing from the 0.0.0.0 on: refuse rather
            // than hold half a VIF.
            self.record(
                open,
                ErrorKind::BadAddress {
                    word: a.to_string(),
                    reason:
                        "0.0.0.0 (a standby placeholder) must be a VIF of its own, not in a group"
                            .into(),
                },
            );
            return Ok(None);
        }
        Ok(Some(Vif { addrs, pos: open }))
    }

    /// A Prefer item: IPv4 as C reads it, or an IPv6 VIF's first address.
    fn prefer_item(&mut self, t: &Token<'_>, expected: &str, braced: bool) -> PResult<()> {
        match self.address_any(t, expected)? {
            Some(VipAddr::V4(addr)) => self
                .d
                .prefer
                .push((PreferEntry::Range { addr, braced }, t.pos)),
            Some(VipAddr::V6(a)) if a.prefix == 128 => self
                .d
                .prefer
                .push((PreferEntry::Exact6 { addr: a.addr }, t.pos)),
            Some(VipAddr::V6(_)) => self.record(
                t.pos,
                ErrorKind::BadAddress {
                    word: t.text.to_string(),
                    reason: "an IPv6 Prefer entry names one VIF by its first address: use /128"
                        .into(),
                },
            ),
            None => {}
        }
        Ok(())
    }

    pub(super) fn prefer(&mut self, key: Pos) -> PResult<()> {
        let t = self.next();
        if t.kind == TokenKind::OpenBrace {
            let open = t.pos;
            let expected = "an address (such as eth0:10.0.0.1/32) or '}' in Prefer";
            let mut any = false;
            loop {
                let t = self.next();
                match t.kind {
                    TokenKind::CloseBrace => break,
                    _ if Self::ends_block(&t) => return Err(self.unclosed(&t, "Prefer", open)),
                    _ => {
                        self.prefer_item(&t, expected, true)?;
                        any = true;
                    }
                }
            }
            if !any {
                self.record(open, ErrorKind::EmptyBlock { block: "Prefer" });
            }
            return Ok(());
        }
        if t.kind == TokenKind::Bare && CClass::of(t.text) == CClass::Keyword(Keyword::None) {
            self.d.prefer.push((PreferEntry::None, key));
            return Ok(());
        }
        let expected = "None, an address (such as eth0:10.0.0.1/32) or '{' after Prefer";
        self.prefer_item(&t, expected, false)
    }

    /// `ping` and `throttle N` after a notify entry, in either order (C
    /// accepts only throttle first).
    fn notify_options(&mut self, is_address: bool) -> PResult<(u32, bool)> {
        let (mut throttle, mut ping) = (None, None);
        loop {
            let t = self.peek().clone();
            if t.kind != TokenKind::Bare {
                break;
            }
            match CClass::of(t.text) {
                CClass::Keyword(Keyword::Ping) if ping.is_none() => {
                    self.next();
                    ping = Some(t.pos);
                }
                CClass::Keyword(Keyword::Throttle) if throttle.is_none() => {
                    self.next();
                    if !is_address {
                        return Err(self.syntax(
                            &t,
                            "an address, arp-cache or '}' ('throttle' applies to address entries only)",
                        ));
                    }
                    let v = self.count("a number after throttle")?.map_or(0, |(n, _)| n);
                    if let Some(p) = ping {
                        self.c_rejects(
                            p,
                            "'ping' before 'throttle'".into(),
                            "write 'throttle N ping'".into(),
                        );
                    }
                    throttle = Some(v);
                }
                _ => break,
            }
        }
        Ok((throttle.unwrap_or(0), ping.is_some()))
    }

    /// One Notify entry starting at `t` (`arp-cache` or an address),
    /// with its options.
    fn notify_entry(&mut self, t: &Token<'_>, expected: &str) -> PResult<()> {
        if t.kind == TokenKind::Bare && CClass::of(t.text) == CClass::Keyword(Keyword::ArpCache) {
            let (_, ping) = self.notify_options(false)?;
            self.d.notify.push(NotifyEntry {
                target: NotifyTarget::ArpCache,
                throttle: 0,
                ping,
                pos: t.pos,
            });
            return Ok(());
        }
        let a = self.address(t, expected)?;
        let (throttle, ping) = self.notify_options(true)?;
        if let Some(a) = a {
            self.d.notify.push(NotifyEntry {
                target: NotifyTarget::Block(a),
                throttle,
                ping,
                pos: t.pos,
            });
        }
        Ok(())
    }

    pub(super) fn notify(&mut self, _key: Pos) -> PResult<()> {
        let t = self.next();
        match t.kind {
            TokenKind::OpenBrace => {
                let expected = "an address (such as eth0:10.0.0.1/32), arp-cache or '}' in Notify";
                let open = t.pos;
                let mut any = false;
                loop {
                    let e = self.next();
                    match e.kind {
                        TokenKind::CloseBrace => break,
                        TokenKind::Bare
                            if CClass::of(e.text) == CClass::Keyword(Keyword::ArpCache) => {}
                        _ if Self::ends_block(&e) => return Err(self.unclosed(&e, "Notify", open)),
                        _ => {}
                    }
                    self.notify_entry(&e, expected)?;
                    any = true;
                }
                if !any {
                    self.record(open, ErrorKind::EmptyBlock { block: "Notify" });
                }
                Ok(())
            }
            TokenKind::Bare if CClass::of(t.text) == CClass::Keyword(Keyword::None) => {
                self.d.notify_none = true;
                Ok(())
            }
            _ => {
                let expected = "None, arp-cache, an address or '{' after Notify";
                let before = self.d.notify.len();
                let is_cache = t.kind == TokenKind::Bare
                    && CClass::of(t.text) == CClass::Keyword(Keyword::ArpCache);
                self.notify_entry(&t, expected)?;
                let plain_cache = is_cache && self.d.notify.get(before).is_some_and(|n| !n.ping);
                if !plain_cache {
                    self.c_rejects(
                        t.pos,
                        "a Notify entry outside braces".into(),
                        format!("write 'Notify {{ {} ... }}'", t.text),
                    );
                }
                Ok(())
            }
        }
    }
}
