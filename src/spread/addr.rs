//! Spread daemon addresses as operators write them (`-s`, `Spread =`).

use std::fmt;
use std::path::PathBuf;

/// The port Spread listens on when nothing else is said.
pub const DEFAULT_PORT: u16 = 4803;

/// The directory a stock Spread daemon puts its Unix socket in.
pub const DEFAULT_SOCKET_DIR: &str = "/tmp";

/// Where a Spread daemon can be reached.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SpreadAddr {
    /// `4803`: the local daemon's Unix socket, `/tmp/4803`; or a full
    /// socket path, for daemons built with another socket directory.
    Unix { path: PathBuf },
    /// `4803@host`: TCP to a host name, IPv4 or IPv6 address (`[::1]`
    /// or `::1`).
    Tcp { host: String, port: u16 },
}

impl Default for SpreadAddr {
    fn default() -> Self {
        SpreadAddr::unix_port(DEFAULT_PORT)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadSpreadAddr(pub String);

impl fmt::Display for BadSpreadAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn port(s: &str) -> Result<u16, BadSpreadAddr> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BadSpreadAddr(format!(
            "'{s}' is not a port number (expected PORT, PORT@HOST or /path/to/socket)"
        )));
    }
    match s.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(BadSpreadAddr(format!("port {s} is out of range 1-65535"))),
    }
}

impl SpreadAddr {
    pub fn unix_port(port: u16) -> Self {
        SpreadAddr::Unix {
            path: PathBuf::from(format!("{DEFAULT_SOCKET_DIR}/{port}")),
        }
    }

    /// `PORT`, `PORT@HOST` or an absolute socket path; empty means 4803,
    /// as in Spread's own library.
    pub fn parse(s: &str) -> Result<Self, BadSpreadAddr> {
        if s.is_empty() {
            return Ok(SpreadAddr::default());
        }
        if s.starts_with('/') {
            return Ok(SpreadAddr::Unix {
                path: PathBuf::from(s),
            });
        }
        match s.split_once('@') {
            None => Ok(SpreadAddr::unix_port(port(s)?)),
            Some((p, host)) => {
                let port = port(p)?;
                let host = host
                    .strip_prefix('[')
                    .and_then(|h| h.strip_suffix(']'))
                    .unwrap_or(host);
                if host.is_empty() {
                    return Err(BadSpreadAddr("empty host after '@'".into()));
                }
                if host.chars().any(|c| c.is_whitespace() || c == '@') {
                    return Err(BadSpreadAddr(format!("'{host}' is not a host name")));
                }
                Ok(SpreadAddr::Tcp {
                    host: host.to_string(),
                    port,
                })
            }
        }
    }
}

impl fmt::Display for SpreadAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpreadAddr::Unix { path } => write!(f, "unix:{}", path.display()),
            SpreadAddr::Tcp { host, port } if host.contains(':') => {
                write!(f, "tcp:[{host}]:{port}")
            }
            SpreadAddr::Tcp { host, port } => write!(f, "tcp:{host}:{port}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(
            SpreadAddr::parse("4803").unwrap(),
            SpreadAddr::Unix {
                path: "/tmp/4803".into()
            }
        );
        assert_eq!(SpreadAddr::parse("").unwrap(), SpreadAddr::default());
        assert_eq!(
            SpreadAddr::parse("4804@127.0.0.1").unwrap(),
            SpreadAddr::Tcp {
                host: "127.0.0.1".into(),
                port: 4804
            }
        );
        assert_eq!(
            SpreadAddr::parse("4803@[::1]").unwrap(),
            SpreadAddr::Tcp {
                host: "::1".into(),
                port: 4803
            }
        );
        assert_eq!(
            SpreadAddr::parse("4803@::1").unwrap().to_string(),
            "tcp:[::1]:4803"
        );
        assert_eq!(
            SpreadAddr::parse("/run/spread/4803").unwrap(),
            SpreadAddr::Unix {
                path: "/run/spread/4803".into()
            }
        );
    }

    #[test]
    fn bad_forms() {
        for s in ["x", "0", "65536", "48a3@h", "4803@", "@h", "4803@a b", "-1"] {
            assert!(SpreadAddr::parse(s).is_err(), "{s}");
        }
    }
}
