//! `RunDynamic SPEC EVENT` and `RunScript PATH EVENT`: which hook, which
//! event.

use std::path::PathBuf;

use super::{PResult, Parser};
use crate::config::error::{ErrorKind, Pos};
use crate::config::lexer::TokenKind;
use crate::config::{Hook, HookEvent, HookTarget};

/// The first word of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum When {
    On,
    Post,
    Check,
}

impl Parser<'_> {
    /// The two words of an event, on one line: `on up`, `on down`,
    /// `post up`, `post down`, and (not in C) `check up` and `check
    /// down`. `c_knows` is false for a directive C rejects anyway (no
    /// warning about the blanks then).
    fn hook_event(&mut self, directive: &str, c_knows: bool) -> PResult<HookEvent> {
        let expected = format!(
            "'on up', 'on down', 'post up', 'post down', 'check up' or 'check down' after {directive}"
        );
        let when = self.next();
        let word = |w: &str| when.text.eq_ignore_ascii_case(w);
        let kind = [
            ("on", When::On),
            ("post", When::Post),
            ("check", When::Check),
        ]
        .into_iter()
        .find(|&(w, _)| word(w))
        .map(|(_, k)| k);
        let Some(kind) = kind.filter(|_| when.kind == TokenKind::Bare) else {
            return Err(self.syntax(&when, expected));
        };
        let what = self.next();
        let gap = self.src.get(when.end..what.start).unwrap_or("\n");
        let is_up = what.text.eq_ignore_ascii_case("up");
        if what.kind != TokenKind::Bare
            || !(is_up || what.text.eq_ignore_ascii_case("down"))
            || gap.contains('\n')
        {
            return Err(self.syntax(
                &what,
                format!("'up' or 'down' after '{}' on the same line", when.text),
            ));
        }
        // C rejects a check event whatever the blanks: no word on them.
        if gap != " " && c_knows && kind != When::Check {
            self.c_rejects(
                when.pos,
                format!(
                    "'{}' and '{}' not separated by exactly one space",
                    when.text, what.text
                ),
                format!("write '{} {}'", when.text, what.text),
            );
        }
        Ok(match (kind, is_up) {
            (When::On, true) => HookEvent::OnUp,
            (When::On, false) => HookEvent::OnDown,
            (When::Post, true) => HookEvent::PostUp,
            (When::Post, false) => HookEvent::PostDown,
            (When::Check, true) => HookEvent::CheckUp,
            (When::Check, false) => HookEvent::CheckDown,
        })
    }

    pub(super) fn run_dynamic(&mut self, key: Pos) -> PResult<()> {
        let (spec, spec_pos) =
            self.string("a module:function or Perl::sub after RunDynamic", false)?;
        let event = self.hook_event("RunDynamic", true)?;
        let target = if spec.contains("::") || !spec.contains(':') {
            if spec.is_empty() {
                self.record(
                    spec_pos,
                    ErrorKind::BadHook {
                        spec,
                        reason: "empty".into(),
                    },
                );
                return Ok(());
            }
            HookTarget::Perl { sub_name: spec }
        } else {
            let (module, func) = spec.split_once(':').expect("contains ':'");
            let is_symbol = func.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && func.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if module.is_empty() || !is_symbol {
                let reason = if module.is_empty() {
                    "no module before ':'".to_string()
                } else if func.is_empty() {
                    "no function after ':'".to_string()
                } else {
                    format!("'{func}' is not a C function name")
                };
                self.record(
                    spec_pos,
                    ErrorKind::BadHook {
                        spec: spec.clone(),
                        reason,
                    },
                );
                return Ok(());
            }
            HookTarget::Shared {
                module: module.to_string(),
                func: func.to_string(),
                module_dir: self
                    .d
                    .module_dir_path
                    .clone()
                    .unwrap_or_else(|| self.base.to_path_buf()),
            }
        };
        self.d.hooks.push(Hook {
            target,
            event,
            pos: key,
        });
        Ok(())
    }

    /// `RunScript PATH EVENT`: beyond C, which rejects the directive.
    /// The path is taken as written and must be absolute: the daemon
    /// runs it long after start, from `/`.
    pub(super) fn run_script(&mut self, key: Pos) -> PResult<()> {
        let (path, path_pos) =
            self.string("the absolute path of a program after RunScript", false)?;
        let event = self.hook_event("RunScript", false)?;
        if path.is_empty() {
            self.record(
                path_pos,
                ErrorKind::EmptyValue {
                    directive: "RunScript",
                },
            );
            return Ok(());
        }
        if !path.starts_with('/') {
            self.record(path_pos, ErrorKind::RelativeScript { path });
            return Ok(());
        }
        self.d.hooks.push(Hook {
            target: HookTarget::Script {
                path: PathBuf::from(path),
            },
            event,
            pos: key,
        });
        Ok(())
    }
}
