//! Grants: the Stora tokens of a connected installation, sealed, with the
//! generation every token write compares (the fencing number) and the mark
//! of a refresh under way ([`crate::refresh`] tells how they are used).

use zeroize::Zeroizing;

use super::db::{self, Result, args};
use super::{Store, undecryptable};
use crate::crypto::Vault;

/// Fresh tokens from Stora.
pub struct NewTokens {
    /// Access token.
    pub access_token: Zeroizing<String>,
    /// Refresh token.
    pub refresh_token: Zeroizing<String>,
    /// Unix time the access token expires.
    pub expires_at: i64,
    /// Granted scope.
    pub scope: String,
}

/// A stored grant (tokens opened).
pub struct Grant {
    /// Installation.
    pub install_id: String,
    /// Current access token (empty once revoked).
    pub access_token: Zeroizing<String>,
    /// Current refresh token (empty once revoked).
    pub refresh_token: Zeroizing<String>,
    /// Unix time the access token expires.
    pub access_expires_at: i64,
    /// Granted scope.
    pub scope: String,
    /// Whether Stora said the grant is gone.
    pub revoked: bool,
    /// Bumped on every rotation; [`Store::rotate_tokens`] compares it.
    pub generation: i64,
    /// The Stora account (operator) the grant belongs to, as Stora named it
    /// at connect time. `None` for grants stored before schema version 3.
    pub account_id: Option<String>,
    /// When a refresh of this grant was begun and not finished
    /// ([`Store::begin_refresh`]); `None` when none is under way.
    pub refresh_started_at: Option<i64>,
}

impl Store {
    /// Stores the grant of a (re)connected installation, replacing any
    /// previous one and its broker token (a new generation). `connect_round`
    /// is the broker state of the connect round that produced it.
    pub fn save_grant(
        &self,
        install_id: &str,
        broker_token_hash: &[u8],
        grant: &GrantSource<'_>,
        now: i64,
    ) -> Result<()> {
        upsert_grant(&mut *self.conn()?, &self.vault, install_id, broker_token_hash, grant, now)
    }

    /// The installation a broker token (by hash) belongs to.
    pub fn install_for_token(&self, broker_token_hash: &[u8]) -> Result<Option<String>> {
        let row = self
            .conn()?
            .query_opt("SELECT install_id FROM grants WHERE broker_token_hash = $1", args![broker_token_hash])?;
        row.map(|r| r.text(0)).transpose()
    }

    /// Loads the grant of an installation.
    pub fn grant(&self, install_id: &str) -> Result<Option<Grant>> {
        let Some(row) = self.conn()?.query_opt(
            "SELECT access_token, refresh_token, access_expires_at, scope, status, generation, account_id,
                    refresh_started_at
             FROM grants WHERE install_id = $1",
            args![install_id],
        )?
        else {
            return Ok(None);
        };
        let revoked = row.text(4)? == "revoked";
        let open = |column: &str, sealed: Vec<u8>| -> Result<Zeroizing<String>> {
            if revoked {
                return Ok(Zeroizing::new(String::new()));
            }
            self.vault.open_string(column, install_id, &sealed).ok_or_else(|| undecryptable(column))
        };
        Ok(Some(Grant {
            install_id: install_id.to_string(),
            access_token: open("access_token", row.bytes(0)?)?,
            refresh_token: open("refresh_token", row.bytes(1)?)?,
            access_expires_at: row.int(2)?,
            scope: row.text(3)?,
            revoked,
            generation: row.int(5)?,
            account_id: row.opt_text(6)?,
            refresh_started_at: row.opt_int(7)?,
        }))
    }

    /// Notes, before a refresh token is spent, that a refresh of the grant
    /// at `generation` has begun: a write that proves the database takes
    /// writes (a refresh whose rotated pair cannot be saved loses the
    /// grant) and that the grant is still at that generation (fencing).
    /// `false`: the grant moved on (or is gone); re-read instead. The mark
    /// stays until [`Store::rotate_tokens`] clears it: one found on a grant
    /// whose refresh Stora then refuses tells of a rotation lost by a crash.
    pub fn begin_refresh(&self, install_id: &str, generation: i64, now: i64) -> Result<bool> {
        Ok(self.conn()?.execute(
            "UPDATE grants SET refresh_started_at = $3 WHERE install_id = $1 AND generation = $2 AND status = 'active'",
            args![install_id, generation, now],
        )? == 1)
    }

    /// Clears the mark of [`Store::begin_refresh`] when Stora answered
    /// without rotating (a refusal that is not about the token).
    pub fn end_refresh(&self, install_id: &str, generation: i64) -> Result<()> {
        self.conn()?.execute(
            "UPDATE grants SET refresh_started_at = NULL WHERE install_id = $1 AND generation = $2",
            args![install_id, generation],
        )?;
        Ok(())
    }

    /// Writes a rotated token pair if the grant is still at `generation`
    /// (compare-and-set on the fencing number). Returns `false` when another
    /// writer got there first; the caller then re-reads.
    pub fn rotate_tokens(&self, install_id: &str, generation: i64, tokens: &NewTokens, now: i64) -> Result<bool> {
        let access = self.vault.seal("access_token", install_id, tokens.access_token.as_bytes());
        let refresh = self.vault.seal("refresh_token", install_id, tokens.refresh_token.as_bytes());
        Ok(self.conn()?.execute(
            "UPDATE grants SET access_token = $3, refresh_token = $4, access_expires_at = $5,
                               scope = $6, generation = generation + 1, refreshed_at = $7,
                               refresh_started_at = NULL
             WHERE install_id = $1 AND generation = $2 AND status = 'active'",
            args![install_id, generation, &access, &refresh, tokens.expires_at, &tokens.scope, now],
        )? == 1)
    }

    /// Stora said the grant is gone: wipe the tokens, keep the row so the
    /// plugin's broker token maps to `stora_reconnect_required`. Only the
    /// grant still at `generation` is marked (compare-and-set): a reconnect
    /// or a rotation that landed since the caller read it is a different
    /// grant, and Stora's answer was not about it. Returns whether it was
    /// marked. Callers hold the grant's lock.
    pub fn mark_grant_revoked(&self, install_id: &str, generation: i64) -> Result<bool> {
        let empty: &[u8] = &[];
        Ok(self.conn()?.execute(
            "UPDATE grants SET status = 'revoked', access_token = $3, refresh_token = $3,
                               generation = generation + 1, refresh_started_at = NULL
             WHERE install_id = $1 AND generation = $2 AND status = 'active'",
            args![install_id, generation, empty],
        )? == 1)
    }

    /// Deletes the grant and with it the broker token (disconnect).
    pub fn delete_grant(&self, install_id: &str) -> Result<bool> {
        Ok(self.conn()?.execute("DELETE FROM grants WHERE install_id = $1", args![install_id])? == 1)
    }
}

/// What a grant is made of when it is stored: the tokens, the connect round
/// that produced it and the Stora account it belongs to.
#[derive(Clone, Copy)]
pub struct GrantSource<'a> {
    /// Stora's tokens.
    pub tokens: &'a NewTokens,
    /// Broker state of the connect round that produced the grant.
    pub connect_round: Option<&'a str>,
    /// The Stora account (operator) id.
    pub account_id: Option<&'a str>,
}

/// The statement behind [`Store::save_grant`], on a given connection (the
/// connect completion runs it inside its transaction).
pub(crate) fn upsert_grant(
    conn: &mut db::Conn,
    vault: &Vault,
    install_id: &str,
    broker_token_hash: &[u8],
    grant: &GrantSource<'_>,
    now: i64,
) -> Result<()> {
    let GrantSource { tokens, connect_round, account_id } = *grant;
    let access = vault.seal("access_token", install_id, tokens.access_token.as_bytes());
    let refresh = vault.seal("refresh_token", install_id, tokens.refresh_token.as_bytes());
    conn.execute(
        "INSERT INTO grants (install_id, broker_token_hash, access_token, refresh_token, access_expires_at,
                             scope, status, generation, connected_at, refreshed_at, connect_round, account_id)
         VALUES ($1, $2, $3, $4, $5, $6, 'active', 0, $7, NULL, $8, $9)
         ON CONFLICT (install_id) DO UPDATE SET
             broker_token_hash = excluded.broker_token_hash,
             access_token = excluded.access_token,
             refresh_token = excluded.refresh_token,
             access_expires_at = excluded.access_expires_at,
             scope = excluded.scope,
             status = 'active',
             generation = grants.generation + 1,
             connected_at = excluded.connected_at,
             refreshed_at = NULL,
             connect_round = excluded.connect_round,
             account_id = excluded.account_id,
             refresh_started_at = NULL",
        args![
            install_id,
            broker_token_hash,
            &access,
            &refresh,
            tokens.expires_at,
            &tokens.scope,
            now,
            connect_round,
            account_id
        ],
    )?;
    Ok(())
}
