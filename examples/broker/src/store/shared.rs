//! What several instances on one PostgreSQL database share besides grants:
//! the replay store's nonces ([`Store::record_nonce`]) and the per-operator
//! pacing log ([`Store::pace_slot`]). A single instance on SQLite keeps
//! both in memory instead (`tessera_core::MemoryReplayStore`,
//! [`crate::pacing::Pacer`]), where they cost nothing.

use std::collections::VecDeque;

use tessera_core::ReplayAnswer;

use super::Store;
use super::db::{Result, args};
use crate::pacing::{Pacing, Slot};

/// Expired nonces are swept by the instance that records a nonce whose
/// number (mod this) is zero: every few hundred recordings, on any instance.
const SWEEP_EVERY: u64 = 256;

impl Store {
    /// Records `(install_id, nonce)` until `expires_at` in the shared replay
    /// store (docs/PROTOCOL.md §7.2): `Fresh` when it was not live (an
    /// expired copy is replaced), `Seen` when it is, `Full` when the
    /// installation already holds `per_installation` live nonces. One
    /// statement: two instances recording the same nonce at once cannot
    /// both see it fresh (the primary key decides). The share check and the
    /// insert are one statement too, so the bound holds to within the
    /// requests of one instant. Nothing is recorded, and `None` answered,
    /// unless the installation's row is still at `version`: the caller
    /// checked the signature and the status against a row that may have come
    /// from its cache, and must read it again.
    pub fn record_nonce(
        &self,
        install_id: &str,
        nonce: &str,
        expires_at: i64,
        now: i64,
        per_installation: usize,
        version: i64,
    ) -> Result<Option<ReplayAnswer>> {
        let limit = i64::try_from(per_installation).unwrap_or(i64::MAX);
        let mut conn = self.conn()?;
        let recorded = conn.execute(
            "INSERT INTO nonces (install_id, nonce, expires_at)
             SELECT $1, $2, $3
             WHERE (SELECT COUNT(*) FROM nonces WHERE install_id = $1 AND expires_at >= $4) < $5
               AND EXISTS (SELECT 1 FROM installations WHERE install_id = $1 AND version = $6)
             ON CONFLICT (install_id, nonce) DO UPDATE SET expires_at = excluded.expires_at
                 WHERE nonces.expires_at < $4",
            args![install_id, nonce, expires_at, now, limit, version],
        )?;
        let answer = if recorded == 1 {
            Some(ReplayAnswer::Fresh)
        } else {
            let row = conn.query_opt(
                "SELECT (SELECT version FROM installations WHERE install_id = $1),
                        EXISTS (SELECT 1 FROM nonces WHERE install_id = $1 AND nonce = $2 AND expires_at >= $3)",
                args![install_id, nonce, now],
            )?;
            match row {
                Some(row) if row.opt_int(0)? == Some(version) => {
                    Some(if row.flag(1)? { ReplayAnswer::Seen } else { ReplayAnswer::Full })
                }
                // The row changed (or is gone) since the caller read it.
                _ => None,
            }
        };
        if self.sweeps.fetch_add(1, std::sync::atomic::Ordering::Relaxed).is_multiple_of(SWEEP_EVERY) {
            conn.execute("DELETE FROM nonces WHERE expires_at < $1", args![now])?;
        }
        Ok(answer)
    }

    /// Takes a slot for one call of `operator` from the pacing log every
    /// instance shares, at `now_ms` (unix milliseconds: the instances' clocks
    /// are one clock, or close). The schedule is [`Pacing::schedule`]'s, the
    /// one a single instance runs in memory, applied to the operator's log
    /// read and written in one transaction that holds the operator's
    /// advisory lock, so instances take turns per operator.
    pub fn pace_slot(&self, pacing: &Pacing, operator: &str, now_ms: u64) -> Result<Slot> {
        let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
        if !pacing.paces(operator) {
            return Ok(Slot::Now);
        }
        let horizon = now - 60_000 - i64::try_from(pacing.margin_ms).unwrap_or(0);
        self.conn()?.transaction(|tx| {
            let key = super::lock::advisory_key(&format!("pacing:{operator}"));
            tx.execute("SELECT pg_advisory_xact_lock($1)", args![key])?;
            tx.execute("DELETE FROM pacing_slots WHERE operator = $1 AND at_ms <= $2", args![operator, horizon])?;
            let rows =
                tx.query("SELECT at_ms FROM pacing_slots WHERE operator = $1 ORDER BY at_ms", args![operator])?;
            let mut slots =
                rows.iter().map(|r| r.int(0).map(|v| v.max(0) as u64)).collect::<Result<VecDeque<u64>>>()?;
            let slot = pacing.schedule(&mut slots, operator, now_ms);
            let taken = match slot {
                Slot::Now => Some(now),
                Slot::After(wait) => Some(now.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX))),
                Slot::Refused(_) => None,
            };
            if let Some(at) = taken {
                tx.execute("INSERT INTO pacing_slots (operator, at_ms) VALUES ($1, $2)", args![operator, at])?;
            }
            Ok(slot)
        })
    }

    /// Records a call made without a slot at `now_ms` in the shared log.
    pub fn pace_note(&self, operator: &str, now_ms: u64) -> Result<()> {
        let at = i64::try_from(now_ms).unwrap_or(i64::MAX);
        self.conn()?.execute("INSERT INTO pacing_slots (operator, at_ms) VALUES ($1, $2)", args![operator, at])?;
        Ok(())
    }
}
