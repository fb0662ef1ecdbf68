//! Spread's error codes, as a typed enum with the numbers of `sp.h`.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpreadError {
    IllegalSpread,
    CouldNotConnect,
    RejectQuota,
    RejectNoName,
    RejectIllegalName,
    RejectNotUnique,
    RejectVersion,
    ConnectionClosed,
    RejectAuth,
    IllegalSession,
    IllegalService,
    IllegalMessage,
    IllegalGroup,
    BufferTooShort,
    GroupsTooShort,
    MessageTooLong,
    NetErrorOnSession,
    SpBug,
    IllegalTime,
    /// A code this library does not know.
    Other(i32),
}

impl SpreadError {
    pub fn code(self) -> i32 {
        match self {
            SpreadError::IllegalSpread => -1,
            SpreadError::CouldNotConnect => -2,
            SpreadError::RejectQuota => -3,
            SpreadError::RejectNoName => -4,
            SpreadError::RejectIllegalName => -5,
            SpreadError::RejectNotUnique => -6,
            SpreadError::RejectVersion => -7,
            SpreadError::ConnectionClosed => -8,
            SpreadError::RejectAuth => -9,
            SpreadError::IllegalSession => -11,
            SpreadError::IllegalService => -12,
            SpreadError::IllegalMessage => -13,
            SpreadError::IllegalGroup => -14,
            SpreadError::BufferTooShort => -15,
            SpreadError::GroupsTooShort => -16,
            SpreadError::MessageTooLong => -17,
            SpreadError::NetErrorOnSession => -18,
            SpreadError::SpBug => -19,
            SpreadError::IllegalTime => -20,
            SpreadError::Other(c) => c,
        }
    }

    pub fn from_code(code: i32) -> Self {
        const ALL: [SpreadError; 19] = [
            SpreadError::IllegalSpread,
            SpreadError::CouldNotConnect,
            SpreadError::RejectQuota,
            SpreadError::RejectNoName,
            SpreadError::RejectIllegalName,
            SpreadError::RejectNotUnique,
            SpreadError::RejectVersion,
            SpreadError::ConnectionClosed,
            SpreadError::RejectAuth,
            SpreadError::IllegalSession,
            SpreadError::IllegalService,
            SpreadError::IllegalMessage,
            SpreadError::IllegalGroup,
            SpreadError::BufferTooShort,
            SpreadError::GroupsTooShort,
            SpreadError::MessageTooLong,
            SpreadError::NetErrorOnSession,
            SpreadError::SpBug,
            SpreadError::IllegalTime,
        ];
        ALL.into_iter()
            .find(|e| e.code() == code)
            .unwrap_or(SpreadError::Other(code))
    }

    fn name(self) -> &'static str {
        match self {
            SpreadError::IllegalSpread => "ILLEGAL_SPREAD",
            SpreadError::CouldNotConnect => "COULD_NOT_CONNECT",
            SpreadError::RejectQuota => "REJECT_QUOTA",
            SpreadError::RejectNoName => "REJECT_NO_NAME",
            SpreadError::RejectIllegalName => "REJECT_ILLEGAL_NAME",
            SpreadError::RejectNotUnique => "REJECT_NOT_UNIQUE",
            SpreadError::RejectVersion => "REJECT_VERSION",
            SpreadError::ConnectionClosed => "CONNECTION_CLOSED",
            SpreadError::RejectAuth => "REJECT_AUTH",
            SpreadError::IllegalSession => "ILLEGAL_SESSION",
            SpreadError::IllegalService => "ILLEGAL_SERVICE",
            SpreadError::IllegalMessage => "ILLEGAL_MESSAGE",
            SpreadError::IllegalGroup => "ILLEGAL_GROUP",
            SpreadError::BufferTooShort => "BUFFER_TOO_SHORT",
            SpreadError::GroupsTooShort => "GROUPS_TOO_SHORT",
            SpreadError::MessageTooLong => "MESSAGE_TOO_LONG",
            SpreadError::NetErrorOnSession => "NET_ERROR_ON_SESSION",
            SpreadError::SpBug => "SP_BUG",
            SpreadError::IllegalTime => "ILLEGAL_TIME",
            SpreadError::Other(_) => "unknown Spread error",
        }
    }

    fn meaning(self) -> &'static str {
        match self {
            SpreadError::IllegalSpread => "malformed Spread address",
            SpreadError::CouldNotConnect => "could not reach the Spread daemon",
            SpreadError::RejectQuota => "the daemon has too many sessions",
            SpreadError::RejectNoName => "no private name given",
            SpreadError::RejectIllegalName => "the private name is not allowed",
            SpreadError::RejectNotUnique => "the private name is already in use on this daemon",
            SpreadError::RejectVersion => "the daemon does not speak this protocol version",
            SpreadError::ConnectionClosed => "the connection to the daemon was closed",
            SpreadError::RejectAuth => "the daemon refused authentication",
            SpreadError::IllegalSession => "no such session",
            SpreadError::IllegalService => "illegal service type",
            SpreadError::IllegalMessage => "malformed message",
            SpreadError::IllegalGroup => "illegal group name",
            SpreadError::BufferTooShort => "buffer too short",
            SpreadError::GroupsTooShort => "too many groups",
            SpreadError::MessageTooLong => "message too long",
            SpreadError::NetErrorOnSession => "network error on the session",
            SpreadError::SpBug => "Spread library bug",
            SpreadError::IllegalTime => "illegal time",
            SpreadError::Other(_) => "",
        }
    }
}

impl fmt::Display for SpreadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpreadError::Other(c) => write!(f, "unknown Spread error {c}"),
            e => write!(f, "{} ({}): {}", e.name(), e.code(), e.meaning()),
        }
    }
}

impl std::error::Error for SpreadError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for c in -25..=0 {
            assert_eq!(SpreadError::from_code(c).code(), c);
        }
        assert_eq!(SpreadError::from_code(-6), SpreadError::RejectNotUnique);
        assert_eq!(
            SpreadError::RejectNotUnique.to_string(),
            "REJECT_NOT_UNIQUE (-6): the private name is already in use on this daemon"
        );
        assert_eq!(SpreadError::from_code(-10), SpreadError::Other(-10));
    }
}
