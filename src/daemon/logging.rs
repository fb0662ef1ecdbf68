//! Logging: to stderr with millisecond UTC timestamps under `-d`, else to
//! syslog (ident `wackamole`, with the pid, facility from LogFacility).

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use log::{Level, LevelFilter, Log, Metadata, Record};

use crate::config::LogFacility;

/// `2026-11-25T17:50:01.123Z` for a time since the epoch.
pub fn timestamp(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_millis()
    )
}

struct Stderr {
    level: LevelFilter,
}

impl Log for Stderr {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        m.level() <= self.level
    }

    fn log(&self, r: &Record<'_>) {
        if self.enabled(r.metadata()) {
            let level = match r.level() {
                Level::Error => "error: ",
                Level::Warn => "warning: ",
                _ => "",
            };
            let _ = writeln!(
                std::io::stderr().lock(),
                "{} wackamole[{}]: {level}{}",
                timestamp(SystemTime::now()),
                std::process::id(),
                r.args()
            );
        }
    }

    fn flush(&self) {}
}

fn facility(f: LogFacility) -> syslog::Facility {
    use syslog::Facility as F;
    match f {
        LogFacility::Kern => F::LOG_KERN,
        LogFacility::User => F::LOG_USER,
        LogFacility::Mail => F::LOG_MAIL,
        LogFacility::Daemon => F::LOG_DAEMON,
        LogFacility::Auth => F::LOG_AUTH,
        LogFacility::Syslog => F::LOG_SYSLOG,
        LogFacility::Lpr => F::LOG_LPR,
        LogFacility::News => F::LOG_NEWS,
        LogFacility::Uucp => F::LOG_UUCP,
        LogFacility::Cron => F::LOG_CRON,
        LogFacility::AuthPriv => F::LOG_AUTHPRIV,
        LogFacility::Ftp => F::LOG_FTP,
        LogFacility::Local(n) => match n {
            0 => F::LOG_LOCAL0,
            1 => F::LOG_LOCAL1,
            2 => F::LOG_LOCAL2,
            3 => F::LOG_LOCAL3,
            4 => F::LOG_LOCAL4,
            5 => F::LOG_LOCAL5,
            6 => F::LOG_LOCAL6,
            _ => F::LOG_LOCAL7,
        },
    }
}

/// Sets the process's logger. `debug`: stderr, every level; else syslog
/// at info and above (falling back to stderr when syslog is not there).
pub fn init(debug: bool, fac: LogFacility) {
    let level = if debug {
        LevelFilter::Debug
    } else {
        LevelFilter::Info
    };
    if !debug {
        let formatter = syslog::Formatter3164 {
            facility: facility(fac),
            hostname: None,
            process: "wackamole".into(),
            pid: std::process::id(),
        };
        if let Ok(logger) = syslog::unix(formatter) {
            if log::set_boxed_logger(Box::new(syslog::BasicLogger::new(logger))).is_ok() {
                log::set_max_level(level);
            }
            return;
        }
    }
    if log::set_boxed_logger(Box::new(Stderr { level })).is_ok() {
        log::set_max_level(level);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_795_627_072_123);
        assert_eq!(timestamp(t), "2026-11-25T17:17:52.123Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(timestamp(leap), "2000-02-29T00:00:00.000Z");
    }
}
