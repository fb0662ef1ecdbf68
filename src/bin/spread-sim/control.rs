//! The control language of spread-sim, without I/O: one command per
//! line (`partition A B | C`, `heal`, `crash A`, `restart A`, `hold`,
//! `release`, `groups`, `daemons`, `quit`), and the answer framing (the
//! text, then `OK`, or `ERR <reason>`). `shell.rs` carries the lines
//! and does the commands.

use std::fmt;

use super::model::PartitionError;

/// One control command, daemon names as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command<'a> {
    /// An empty line: answered `OK`.
    Nothing,
    /// The components, each a list of daemon names.
    Partition(Vec<Vec<&'a str>>),
    Heal,
    Crash(&'a str),
    Restart(&'a str),
    /// Multicasts wait, unordered, until `Release`.
    Hold,
    /// Order the held multicasts now (by sender in member order if
    /// `true`, else as they came); answers how many.
    Release(bool),
    Groups,
    Daemons,
    Quit,
}

/// Why a command failed; its text follows `ERR `.
#[derive(Debug)]
pub enum CommandError {
    Unknown(String),
    NoDaemon(String),
    Partition(PartitionError),
    /// A restarted daemon could not listen again.
    Listen(String),
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::Unknown(line) => write!(f, "unknown command '{line}'"),
            CommandError::NoDaemon(name) => write!(f, "no daemon '{name}'"),
            CommandError::Partition(e) => e.fmt(f),
            CommandError::Listen(e) => f.write_str(e),
        }
    }
}

impl From<PartitionError> for CommandError {
    fn from(e: PartitionError) -> Self {
        CommandError::Partition(e)
    }
}

/// Reads one line (without its newline).
pub fn parse(line: &str) -> Result<Command<'_>, CommandError> {
    let words: Vec<&str> = line.split_whitespace().collect();
    Ok(match words.as_slice() {
        [] => Command::Nothing,
        ["partition", rest @ ..] => {
            let mut comps = vec![Vec::new()];
            for w in rest {
                if *w == "|" {
                    comps.push(Vec::new());
                } else {
                    comps.last_mut().expect("one at least").push(*w);
                }
            }
            Command::Partition(comps)
        }
        ["heal"] => Command::Heal,
        ["crash", name] => Command::Crash(name),
        ["restart", name] => Command::Restart(name),
        ["hold"] => Command::Hold,
        ["release"] => Command::Release(false),
        ["release", "by-member"] => Command::Release(true),
        ["groups"] => Command::Groups,
        ["daemons"] => Command::Daemons,
        ["quit"] => Command::Quit,
        _ => return Err(CommandError::Unknown(line.to_string())),
    })
}

/// The answer to send: the text (newline-terminated), then `OK`; or
/// `ERR` and the reason.
pub fn answer(result: Result<String, CommandError>) -> String {
    match result {
        Ok(mut s) => {
            if !s.is_empty() && !s.ends_with('\n') {
                s.push('\n');
            }
            s + "OK\n"
        }
        Err(e) => format!("ERR {e}\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands() {
        assert_eq!(parse("").unwrap(), Command::Nothing);
        assert_eq!(parse("  heal ").unwrap(), Command::Heal);
        assert_eq!(
            parse("partition a b | c").unwrap(),
            Command::Partition(vec![vec!["a", "b"], vec!["c"]])
        );
        assert_eq!(
            parse("partition a |").unwrap(),
            Command::Partition(vec![vec!["a"], vec![]])
        );
        assert_eq!(parse("crash d1").unwrap(), Command::Crash("d1"));
        assert_eq!(parse("restart d1").unwrap(), Command::Restart("d1"));
        assert_eq!(parse("hold").unwrap(), Command::Hold);
        assert_eq!(parse("release").unwrap(), Command::Release(false));
        assert_eq!(parse("release by-member").unwrap(), Command::Release(true));
        assert_eq!(parse("groups").unwrap(), Command::Groups);
        assert_eq!(parse("daemons").unwrap(), Command::Daemons);
        assert_eq!(parse("quit").unwrap(), Command::Quit);
        for bad in ["crash", "crash a b", "heal now", "explode", "hold d1"] {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.to_string(), format!("unknown command '{bad}'"));
        }
    }

    #[test]
    fn answers() {
        assert_eq!(answer(Ok(String::new())), "OK\n");
        assert_eq!(answer(Ok("a".into())), "a\nOK\n");
        assert_eq!(answer(Ok("a\n".into())), "a\nOK\n");
        assert_eq!(
            answer(Err(CommandError::NoDaemon("x".into()))),
            "ERR no daemon 'x'\n"
        );
        assert_eq!(
            answer(Err(PartitionError::Empty.into())),
            "ERR an empty component\n"
        );
    }
}
