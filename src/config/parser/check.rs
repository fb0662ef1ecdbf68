//! `Check { Run = PATH Interval = TIME Timeout = TIME Fall = N Rise = N }`:
//! a health check. Beyond C, which rejects the directive: so, as for
//! the other new directives, nothing is said about how it is written
//! (`Run=/x` is split silently). Everything a block can get wrong is
//! found here, where the block is read; the defaults are applied here
//! too, so that the draft holds finished [`Check`]s.

use std::path::PathBuf;
use std::time::Duration;

use super::{At, PResult, Parser};
use crate::config::defaults;
use crate::config::error::{ErrorKind, Pos};
use crate::config::lexer::{Token, TokenKind};
use crate::config::Check;

/// A parameter of the block. Words of the block only, matched without
/// regard to case: not keywords of the file (see `Keyword::Check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Param {
    Run,
    Interval,
    Timeout,
    Fall,
    Rise,
}

impl Param {
    const ALL: [(&'static str, Param); 5] = [
        ("Run", Param::Run),
        ("Interval", Param::Interval),
        ("Timeout", Param::Timeout),
        ("Fall", Param::Fall),
        ("Rise", Param::Rise),
    ];

    fn lookup(word: &str) -> Option<Param> {
        Self::ALL
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(word))
            .map(|&(_, p)| p)
    }

    fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|&&(_, p)| p == self)
            .map_or("?", |&(n, _)| n)
    }

    /// The parameter a word starts, `Run=/x` included.
    fn of_word(word: &str) -> Option<Param> {
        Param::lookup(word.split('=').next().unwrap_or(word))
    }
}

/// One block as written.
#[derive(Default)]
struct Block {
    run: At<String>,
    interval: At<Duration>,
    timeout: At<Duration>,
    fall: At<u32>,
    rise: At<u32>,
}

const EXPECTED: &str = "Run, Interval, Timeout, Fall, Rise or '}' in Check";

impl<'a> Parser<'a> {
    pub(super) fn check(&mut self) -> PResult<()> {
        let open = self.open_brace("Check")?;
        let mut b = Block::default();
        loop {
            let t = self.next();
            match t.kind {
                TokenKind::CloseBrace => break,
                TokenKind::Eof => return Err(self.unclosed(&t, "Check", open)),
                _ if Self::ends_block(&t) => return Err(self.unclosed(&t, "Check", open)),
                _ => {}
            }
            let key = t.pos;
            let param = self.check_param(t)?;
            self.equals_of(param.name(), false)?;
            let file = self.file;
            let name = param.name();
            match param {
                Param::Run => {
                    let v = self.check_run()?;
                    Self::set(&mut self.warnings, file, &mut b.run, v, key, name);
                }
                Param::Interval | Param::Timeout => {
                    let (d, pos) = self.time(name)?;
                    // A time too large reads as 0s, already reported.
                    let reported = self.errors.last().is_some_and(|e| e.pos == Some(pos));
                    if d.is_zero() && !reported {
                        self.record(pos, ErrorKind::ZeroTime { directive: name });
                    }
                    let slot = match param {
                        Param::Interval => &mut b.interval,
                        _ => &mut b.timeout,
                    };
                    Self::set(&mut self.warnings, file, slot, (d, pos), key, name);
                }
                Param::Fall | Param::Rise => {
                    let what = match param {
                        Param::Fall => "a number of failures in a row for Fall",
                        _ => "a number of passes in a row for Rise",
                    };
                    if let Some((n, vpos)) = self.count(what)? {
                        if n == 0 {
                            self.record(vpos, ErrorKind::Zero { directive: name });
                        }
                        let slot = match param {
                            Param::Fall => &mut b.fall,
                            _ => &mut b.rise,
                        };
                        Self::set(&mut self.warnings, file, slot, (n, vpos), key, name);
                    }
                }
            }
        }
        self.finish_check(b, open);
        Ok(())
    }

    /// The name of a parameter; `Name=value` is split (no warning: C
    /// rejects the whole directive anyway).
    fn check_param(&mut self, t: Token<'a>) -> PResult<Param> {
        if t.kind != TokenKind::Bare {
            return Err(self.syntax(&t, EXPECTED));
        }
        let Some(param) = Param::of_word(t.text) else {
            return Err(self.syntax(&t, EXPECTED));
        };
        if let Some(eq) = t.text.find('=') {
            let (_, rest) = Self::split(&t, eq);
            self.put_back(&rest);
        }
        Ok(param)
    }

    /// `Run`'s value: an absolute path, and nothing after it on its
    /// line but the next parameter or the block's end (an argument
    /// would be silently taken for something else).
    fn check_run(&mut self) -> PResult<(String, Pos)> {
        let (path, pos) = self.string("the absolute path of a program for Run", false)?;
        let after = self.peek().clone();
        let same_line = after.pos.line == pos.line;
        if same_line
            && after.kind == TokenKind::Bare
            && Param::of_word(after.text).is_none()
            && !Self::ends_block(&after)
        {
            return Err(self.error(
                after.pos,
                ErrorKind::CheckArguments {
                    run: path,
                    word: after.text.to_string(),
                },
            ));
        }
        if path.is_empty() {
            self.record(pos, ErrorKind::EmptyValue { directive: "Run" });
        } else if !path.starts_with('/') {
            self.record(
                pos,
                ErrorKind::NotAbsolute {
                    directive: "Run",
                    value: path.clone(),
                },
            );
        }
        Ok((path, pos))
    }

    /// The block with its defaults, checked as a whole and against the
    /// blocks before it; recorded errors leave it out.
    fn finish_check(&mut self, b: Block, open: Pos) {
        let Some((run, _)) = b.run else {
            self.record(open, ErrorKind::CheckWithoutRun);
            return;
        };
        let interval = b.interval.map_or(defaults::CHECK_INTERVAL, |(d, _)| d);
        let timeout = match b.timeout {
            Some((t, pos)) if t > interval => {
                self.record(
                    pos,
                    ErrorKind::TimeoutOverInterval {
                        timeout: t,
                        interval,
                        default_interval: b.interval.is_none(),
                    },
                );
                return;
            }
            Some((t, _)) => t,
            None => interval,
        };
        let run = PathBuf::from(run);
        if let Some(first) = self.d.checks.iter().find(|c| c.run == run) {
            let first = first.pos.line;
            self.record(open, ErrorKind::DuplicateCheck { run, first });
            return;
        }
        self.d.checks.push(Check {
            run,
            interval,
            timeout,
            fall: b.fall.map_or(defaults::CHECK_FALL, |(n, _)| n),
            rise: b.rise.map_or(defaults::CHECK_RISE, |(n, _)| n),
            pos: open,
        });
    }
}
