//! Spread's rules for names: group names, private names and daemon
//! names (lengths and allowed bytes, as Spread 3.16 to 5.x enforce
//! them). The single authority: the wire codec, the client, the config
//! check, the command line and the test daemon all ask here, each
//! turning a [`NameError`] into its own error.

use std::fmt;

/// A group name slot on the wire, the NUL included (Spread's
/// MAX_GROUP_NAME); a group name has at most 31 bytes.
pub const MAX_GROUP_NAME: usize = 32;
/// The longest group name.
pub const MAX_GROUP_LEN: usize = MAX_GROUP_NAME - 1;
/// The longest private name (Spread's MAX_PRIVATE_NAME).
pub const MAX_PRIVATE_NAME: usize = 10;
/// A daemon name, the NUL included (Spread's MAX_PROC_NAME).
pub const MAX_PROC_NAME: usize = 20;
/// The longest daemon name.
pub const MAX_DAEMON_NAME: usize = MAX_PROC_NAME - 1;

/// Why a name breaks Spread's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    /// No bytes where a name is required.
    Empty,
    /// More bytes than the kind of name allows.
    TooLong { len: usize, max: usize },
    /// A byte outside `$` to `~` (or a `#` where none may be).
    BadByte(u8),
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameError::Empty => f.write_str("the name is empty"),
            NameError::TooLong { len, max } => {
                write!(
                    f,
                    "the name is {len} bytes long; Spread allows at most {max}"
                )
            }
            NameError::BadByte(b) => write!(
                f,
                "byte {b:#04x} is not allowed; a name has bytes '$' to '~'"
            ),
        }
    }
}

impl std::error::Error for NameError {}

/// Bytes allowed in group, private and daemon names: `$` to `~` (so
/// never `#`, which separates a private group's parts).
pub fn is_name_byte(b: u8) -> bool {
    (0x24..=0x7e).contains(&b)
}

/// 1 to `max` bytes, each a name byte or one `extra` allows. Length
/// first: a name both too long and badly spelled is too long.
fn check(name: &[u8], max: usize, extra: impl Fn(u8) -> bool) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > max {
        return Err(NameError::TooLong {
            len: name.len(),
            max,
        });
    }
    match name.iter().find(|&&b| !is_name_byte(b) && !extra(b)) {
        Some(&b) => Err(NameError::BadByte(b)),
        None => Ok(()),
    }
}

/// A group a client may join or send to: 1 to 31 name bytes, or a
/// private group `#name#daemon` (as a destination; its `#`s allowed).
pub fn check_group(name: &str) -> Result<(), NameError> {
    let private = name.starts_with('#');
    check(name.as_bytes(), MAX_GROUP_LEN, |b| private && b == b'#')
}

/// A private name a client asks for: 0 to 10 name bytes (empty: the
/// daemon invents one).
pub fn check_private_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Ok(());
    }
    check(name.as_bytes(), MAX_PRIVATE_NAME, |_| false)
}

/// A daemon's name (in a private group `#name#daemon`): 1 to 19 name
/// bytes.
pub fn check_daemon_name(name: &str) -> Result<(), NameError> {
    check(name.as_bytes(), MAX_DAEMON_NAME, |_| false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups() {
        assert_eq!(check_group("wack"), Ok(()));
        assert_eq!(check_group(&"g".repeat(31)), Ok(()));
        assert_eq!(
            check_group(&"g".repeat(32)),
            Err(NameError::TooLong { len: 32, max: 31 })
        );
        assert_eq!(check_group(""), Err(NameError::Empty));
        assert_eq!(check_group("a b"), Err(NameError::BadByte(b' ')));
        assert_eq!(check_group("a#b"), Err(NameError::BadByte(b'#')));
        assert_eq!(check_group("#wack1#cap"), Ok(()));
        assert_eq!(check_group("#wa k#cap"), Err(NameError::BadByte(b' ')));
        // Too long wins over a bad byte.
        assert_eq!(
            check_group(&" ".repeat(40)),
            Err(NameError::TooLong { len: 40, max: 31 })
        );
    }

    #[test]
    fn private_names() {
        assert_eq!(check_private_name(""), Ok(()));
        assert_eq!(check_private_name("wack1"), Ok(()));
        assert_eq!(check_private_name("tenbytes10"), Ok(()));
        assert_eq!(
            check_private_name("elevenbytes"),
            Err(NameError::TooLong { len: 11, max: 10 })
        );
        assert_eq!(check_private_name("a!"), Err(NameError::BadByte(b'!')));
        assert_eq!(check_private_name("a#"), Err(NameError::BadByte(b'#')));
    }

    #[test]
    fn daemon_names() {
        assert_eq!(check_daemon_name("d1"), Ok(()));
        assert_eq!(check_daemon_name(&"d".repeat(19)), Ok(()));
        assert_eq!(
            check_daemon_name(&"d".repeat(20)),
            Err(NameError::TooLong { len: 20, max: 19 })
        );
        assert_eq!(check_daemon_name(""), Err(NameError::Empty));
        assert_eq!(check_daemon_name("d#1"), Err(NameError::BadByte(b'#')));
    }

    #[test]
    fn name_bytes() {
        assert!(is_name_byte(b'$') && is_name_byte(b'~') && is_name_byte(b'a'));
        assert!(!is_name_byte(b'#') && !is_name_byte(b' ') && !is_name_byte(0x7f));
    }
}
