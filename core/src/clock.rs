//! Times the core accepts: unix seconds that every format it writes can carry.
//!
//! The host passes `now`; the core adds the learned clock offset and the
//! signature validity to it. Out-of-range values would overflow that
//! arithmetic or produce timestamps no verifier accepts, so they are refused
//! as `invalid_input` where a timestamp is produced, and arithmetic on
//! received timestamps saturates.

use crate::error::{Error, Result};

/// Latest time accepted: 9999-12-31T23:59:59Z (also the last HTTP-date).
pub const MAX_UNIX_SECS: i64 = 253_402_300_799;

/// Largest clock offset learned or restored: about a century either way.
pub const MAX_CLOCK_OFFSET_SECS: i64 = 100 * 365 * 86_400;

/// `now` as a timestamp to put on the wire: 1970 to 9999, else `invalid_input`.
pub(crate) fn wire_time(now: i64) -> Result<i64> {
    if (0..=MAX_UNIX_SECS).contains(&now) {
        Ok(now)
    } else {
        Err(Error::InvalidInput { field: "now", reason: "must be unix seconds from 1970 to 9999" })
    }
}

/// The local time corrected by the learned offset, as a wire timestamp.
pub(crate) fn corrected(now: i64, offset: i64) -> Result<i64> {
    wire_time(now.saturating_add(offset))
}

/// The offset to learn from a server's `Date`, bounded.
pub(crate) fn offset_from(server: i64, now: i64) -> i64 {
    server.saturating_sub(now).clamp(-MAX_CLOCK_OFFSET_SECS, MAX_CLOCK_OFFSET_SECS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extremes_are_refused_or_bounded() {
        assert_eq!(wire_time(0).unwrap(), 0);
        assert_eq!(wire_time(MAX_UNIX_SECS).unwrap(), MAX_UNIX_SECS);
        for bad in [-1, MAX_UNIX_SECS + 1, i64::MIN, i64::MAX] {
            assert_eq!(wire_time(bad).unwrap_err().code(), "invalid_input");
        }
        assert_eq!(corrected(i64::MAX, i64::MAX).unwrap_err().code(), "invalid_input");
        assert_eq!(corrected(1_700_000_000, -30).unwrap(), 1_699_999_970);
        assert_eq!(offset_from(i64::MAX, i64::MIN), MAX_CLOCK_OFFSET_SECS);
        assert_eq!(offset_from(0, i64::MAX), -MAX_CLOCK_OFFSET_SECS);
        assert_eq!(offset_from(1_700_000_100, 1_700_000_000), 100);
    }
}
