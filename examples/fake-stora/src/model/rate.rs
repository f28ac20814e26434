//! Per-operator rate limits (shared decision 2): fixed one-second and
//! one-minute windows on the fake's clock, shared by every client and
//! installation of an operator. A refused request answers 429 with
//! `RateLimit-Limit` (the limit that was hit) and `RateLimit-Reset` (absolute
//! epoch seconds when that window ends), never `Retry-After`. When both
//! windows are full the minute limit is reported (waiting a second would not
//! help).

use super::Store;

/// The windows of one operator.
#[derive(Clone, Debug, Default)]
pub(crate) struct Window {
    second: i64,
    second_count: u32,
    minute: i64,
    minute_count: u32,
}

/// Per-operator limits set through `/_control/config`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateOverride {
    /// Requests per second (0 = unlimited); `None` = the global setting.
    pub rate_per_sec: Option<u32>,
    /// Requests per minute (0 = unlimited); `None` = the global setting.
    pub rate_per_min: Option<u32>,
}

/// A refused request: the limit that was hit and when its window resets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limited {
    /// The limit (`RateLimit-Limit`).
    pub limit: u32,
    /// Absolute epoch seconds (`RateLimit-Reset`).
    pub reset: i64,
}

impl Window {
    /// Spends one request, or says which limit refused it.
    fn spend(&mut self, per_sec: u32, per_min: u32, now: i64) -> Result<(), Limited> {
        if self.second != now {
            self.second = now;
            self.second_count = 0;
        }
        if self.minute != now.div_euclid(60) {
            self.minute = now.div_euclid(60);
            self.minute_count = 0;
        }
        if per_min > 0 && self.minute_count >= per_min {
            return Err(Limited { limit: per_min, reset: (self.minute + 1) * 60 });
        }
        if per_sec > 0 && self.second_count >= per_sec {
            return Err(Limited { limit: per_sec, reset: now + 1 });
        }
        self.second_count += 1;
        self.minute_count += 1;
        Ok(())
    }
}

impl Store {
    /// The (per second, per minute) limits of `operator`.
    pub fn limits_for(&self, operator: &str) -> (u32, u32) {
        let o = self.rate_overrides.get(operator).copied().unwrap_or_default();
        (o.rate_per_sec.unwrap_or(self.config.rate_per_sec), o.rate_per_min.unwrap_or(self.config.rate_per_min))
    }

    /// Sets (merges) per-operator limits.
    pub fn set_operator_limits(&mut self, operator: &str, rate_per_sec: Option<u32>, rate_per_min: Option<u32>) {
        let o = self.rate_overrides.entry(operator.to_string()).or_default();
        if rate_per_sec.is_some() {
            o.rate_per_sec = rate_per_sec;
        }
        if rate_per_min.is_some() {
            o.rate_per_min = rate_per_min;
        }
    }

    /// Spends one request of `operator`'s budget at `now`.
    pub fn spend(&mut self, operator: &str, now: i64) -> Result<(), Limited> {
        let (per_sec, per_min) = self.limits_for(operator);
        self.rate.entry(operator.to_string()).or_default().spend(per_sec, per_min, now)
    }

    /// Spends `count` requests as the operator's other integrations would;
    /// returns how many were accepted and how many refused.
    pub fn consume(&mut self, operator: &str, count: u32, now: i64) -> (u32, u32) {
        let accepted = (0..count).filter(|_| self.spend(operator, now).is_ok()).count() as u32;
        (accepted, count - accepted)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;

    #[test]
    fn windows_and_resets() {
        let mut s = Store::new(Config::default());
        let now = 6_000_030; // 30 s into a minute
        assert_eq!(s.consume("opr_a", 12, now), (10, 2));
        assert_eq!(s.spend("opr_a", now), Err(Limited { limit: 10, reset: now + 1 }));
        assert_eq!(s.spend("opr_b", now), Ok(()), "another operator has its own budget");
        let mut t = now + 1;
        assert_eq!(s.consume("opr_a", 10, t), (10, 0));
        t += 1;
        for _ in 0..4 {
            assert_eq!(s.consume("opr_a", 10, t).0, 10);
            t += 1;
        }
        assert_eq!(s.spend("opr_a", t), Err(Limited { limit: 60, reset: 6_000_060 }));
        assert_eq!(s.spend("opr_a", 6_000_060), Ok(()), "a new minute");
    }

    #[test]
    fn overrides() {
        let mut s = Store::new(Config::default());
        s.set_operator_limits("opr_x", Some(2), None);
        assert_eq!(s.limits_for("opr_x"), (2, 60));
        assert_eq!(s.limits_for("opr_y"), (10, 60));
        assert_eq!(s.consume("opr_x", 3, 100), (2, 1));
        s.set_operator_limits("opr_x", Some(0), Some(0));
        assert_eq!(s.consume("opr_x", 500, 100), (500, 0), "0 disables");
    }
}
