//! Connect links and connect rounds (`docs/PROTOCOL.md` §5.3–§5.4.1).
//!
//! * A **link** (`connect_links`) is remembered from its first opening until
//!   it expires, with the round it started: a second opening is refused and
//!   cancels that round.
//! * A **round** (`connect_attempts`, keyed by the broker's OAuth `state`)
//!   moves through [`AttemptStage`]s: `consent` (the interstitial, bound to a
//!   browser cookie by its SHA-256) → `exchanging` (Stora came back; one
//!   callback claims it) → `authorized` (Stora's tokens, sealed, and the
//!   account, kept with the round; a connect code, by SHA-256) →
//!   `completed` (the plugin exchanged the code: the tokens became the
//!   installation's grant; the row stays, tokens wiped, so that a retry
//!   with the same `Idempotency-Key` can be answered).
//!
//! Rows whose time is up are taken by [`Store::sweep_connect_attempts`],
//! which hands back the refresh tokens of rounds that obtained a grant and
//! were never completed, for the caller to revoke at Stora.

use zeroize::Zeroizing;

use super::db::{Arg, Row, args};
use super::{GrantSource, NewTokens, Result, Store, undecryptable, upsert_grant};

/// Where a connect round is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptStage {
    /// The interstitial was shown; the browser may continue to Stora.
    Consent,
    /// Stora came back to the broker's callback, which is exchanging the code.
    Exchanging,
    /// Stora's tokens are held with the round; a connect code was issued.
    Authorized,
    /// The plugin exchanged the connect code: the tokens are the
    /// installation's grant.
    Completed,
}

impl AttemptStage {
    /// Database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptStage::Consent => "consent",
            AttemptStage::Exchanging => "exchanging",
            AttemptStage::Authorized => "authorized",
            AttemptStage::Completed => "completed",
        }
    }

    fn parse(s: &str) -> AttemptStage {
        match s {
            "consent" => AttemptStage::Consent,
            "exchanging" => AttemptStage::Exchanging,
            "authorized" => AttemptStage::Authorized,
            _ => AttemptStage::Completed,
        }
    }
}

/// A connect round (one opening of a connect link).
#[derive(Clone, Debug)]
pub struct ConnectAttempt {
    /// Installation that started it.
    pub install_id: String,
    /// The plugin's own `state`, handed back on the return URL.
    pub plugin_state: String,
    /// Where to send the browser afterwards.
    pub return_url: String,
    /// Scope asked of Stora.
    pub scope: String,
    /// Unix time after which the consent part of the round is void.
    pub expires_at: i64,
    /// SHA-256 of the browser cookie the round is bound to.
    pub browser_hash: Vec<u8>,
    /// Where the round is ([`AttemptStage::Consent`] when inserted).
    pub stage: AttemptStage,
}

/// What opening a connect link found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkClaim {
    /// First opening: the link is now used.
    Fresh,
    /// Opened before; `broker_state` is the round that opening started, if any.
    Used {
        /// The first opening's round.
        broker_state: Option<String>,
    },
}

/// What the broker's callback obtained from Stora for a round.
pub struct Obtained {
    /// Stora's tokens.
    pub tokens: NewTokens,
    /// Stora account id.
    pub account_id: String,
    /// Stora account display name.
    pub account_name: String,
    /// SHA-256 of the connect code.
    pub code_hash: Vec<u8>,
    /// Unix time after which the code no longer exchanges.
    pub code_expires_at: i64,
}

/// A round found by its connect code.
#[derive(Clone, Debug)]
pub struct CodedAttempt {
    /// The broker's OAuth state (the round's key).
    pub broker_state: String,
    /// Installation the code is bound to.
    pub install_id: String,
    /// Plugin state the code is bound to.
    pub plugin_state: String,
    /// [`AttemptStage::Authorized`] or [`AttemptStage::Completed`].
    pub stage: AttemptStage,
    /// Stora account id.
    pub account_id: String,
    /// Stora account display name.
    pub account_name: String,
    /// Unix time after which the code no longer answers.
    pub code_expires_at: i64,
    /// `Idempotency-Key` of the exchange that completed the round.
    pub completion_key: Option<String>,
}

/// A completed round.
pub struct Completed {
    /// The refresh token of the grant it replaced (to revoke at Stora), if
    /// that grant was still active.
    pub previous_refresh: Option<Zeroizing<String>>,
}

/// A round removed from the store.
pub struct Forgotten {
    /// Installation.
    pub install_id: String,
    /// Where it was.
    pub stage: AttemptStage,
    /// Stora's refresh token when the round held a grant (revoke it).
    pub refresh_token: Option<Zeroizing<String>>,
}

const ATTEMPT_COLUMNS: &str = "install_id, plugin_state, return_url, scope, expires_at, browser_hash, stage";

fn attempt_row(r: &Row) -> Result<ConnectAttempt> {
    Ok(ConnectAttempt {
        install_id: r.text(0)?,
        plugin_state: r.text(1)?,
        return_url: r.text(2)?,
        scope: r.text(3)?,
        expires_at: r.int(4)?,
        browser_hash: r.bytes(5)?,
        stage: AttemptStage::parse(&r.text(6)?),
    })
}

impl Store {
    // ---- links ------------------------------------------------------------------

    /// Marks the link `(install_id, plugin_state)` used until `expires_at`,
    /// or reports that it was (and which round its first opening started).
    pub fn claim_connect_link(
        &self,
        install_id: &str,
        plugin_state: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<LinkClaim> {
        let mut conn = self.conn()?;
        conn.execute("DELETE FROM connect_links WHERE expires_at < $1", args![now])?;
        let inserted = conn.execute(
            "INSERT INTO connect_links (install_id, plugin_state, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT (install_id, plugin_state) DO NOTHING",
            args![install_id, plugin_state, expires_at],
        )?;
        if inserted == 1 {
            return Ok(LinkClaim::Fresh);
        }
        let broker_state = conn
            .query_opt(
                "SELECT broker_state FROM connect_links WHERE install_id = $1 AND plugin_state = $2",
                args![install_id, plugin_state],
            )?
            .map(|r| r.opt_text(0))
            .transpose()?
            .flatten();
        Ok(LinkClaim::Used { broker_state })
    }

    /// Records the round a link's first opening started.
    pub fn set_link_round(&self, install_id: &str, plugin_state: &str, broker_state: &str) -> Result<()> {
        self.conn()?.execute(
            "UPDATE connect_links SET broker_state = $3 WHERE install_id = $1 AND plugin_state = $2",
            args![install_id, plugin_state, broker_state],
        )?;
        Ok(())
    }

    // ---- rounds -----------------------------------------------------------------

    /// Stores a new round (stage `consent`) under the broker's OAuth `state`.
    pub fn insert_connect_attempt(&self, broker_state: &str, attempt: &ConnectAttempt) -> Result<()> {
        self.conn()?.execute(
            "INSERT INTO connect_attempts (broker_state, install_id, plugin_state, return_url, scope, expires_at,
                                           browser_hash, stage)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'consent')",
            args![
                broker_state,
                &attempt.install_id,
                &attempt.plugin_state,
                &attempt.return_url,
                &attempt.scope,
                attempt.expires_at,
                &attempt.browser_hash
            ],
        )?;
        Ok(())
    }

    /// Reads a round.
    pub fn connect_attempt(&self, broker_state: &str) -> Result<Option<ConnectAttempt>> {
        self.conn()?
            .query_opt(
                &format!("SELECT {ATTEMPT_COLUMNS} FROM connect_attempts WHERE broker_state = $1"),
                args![broker_state],
            )?
            .map(|r| attempt_row(&r))
            .transpose()
    }

    /// Removes a round that is not completed (cancelled, refused, or ended
    /// in an error): its connect code, if any, no longer exchanges. A
    /// completed round is left alone (`None`).
    pub fn cancel_connect_attempt(&self, broker_state: &str) -> Result<Option<Forgotten>> {
        let rows = self.take_attempts("broker_state = $1 AND stage != 'completed'", args![broker_state])?;
        Ok(rows.into_iter().next())
    }

    /// Removes every round of an installation (it is being deleted).
    pub fn forget_connect_attempts_of(&self, install_id: &str) -> Result<Vec<Forgotten>> {
        self.take_attempts("install_id = $1", args![install_id])
    }

    /// Removes the rounds whose time is up: a connect code past its expiry
    /// (exchanged or not), and rounds that never got one an hour after their
    /// own expiry (until then a late callback is told `connect_expired`).
    pub fn sweep_connect_attempts(&self, now: i64) -> Result<Vec<Forgotten>> {
        self.take_attempts(
            "(stage IN ('consent', 'exchanging') AND expires_at < $1 - 3600)
             OR (stage IN ('authorized', 'completed') AND code_expires_at < $1)",
            args![now],
        )
    }

    fn take_attempts(&self, condition: &str, args: &[Arg<'_>]) -> Result<Vec<Forgotten>> {
        let rows = self.conn()?.query(
            &format!(
                "DELETE FROM connect_attempts WHERE {condition} RETURNING broker_state, install_id, stage, refresh_token"
            ),
            args,
        )?;
        let mut out = Vec::new();
        for row in rows {
            let (broker_state, install_id, stage, sealed) =
                (row.text(0)?, row.text(1)?, row.text(2)?, row.opt_bytes(3)?);
            let refresh_token = match sealed {
                Some(sealed) if !sealed.is_empty() => Some(
                    self.vault
                        .open_string("attempt_refresh_token", &broker_state, &sealed)
                        .ok_or_else(|| undecryptable("connect_attempts.refresh_token"))?,
                ),
                _ => None,
            };
            out.push(Forgotten { install_id, stage: AttemptStage::parse(&stage), refresh_token });
        }
        Ok(out)
    }

    /// Claims the round for its one callback (`consent` → `exchanging`).
    /// `false`: it is no longer waiting for one (used, or cancelled).
    pub fn begin_exchange(&self, broker_state: &str) -> Result<bool> {
        Ok(self.conn()?.execute(
            "UPDATE connect_attempts SET stage = 'exchanging' WHERE broker_state = $1 AND stage = 'consent'",
            args![broker_state],
        )? == 1)
    }

    /// Keeps Stora's tokens and account with the round and records its
    /// connect code (`exchanging` → `authorized`). `false`: the round was
    /// cancelled meanwhile (the caller revokes the tokens).
    pub fn authorize_attempt(&self, broker_state: &str, obtained: &Obtained) -> Result<bool> {
        let tokens = &obtained.tokens;
        let access = self.vault.seal("attempt_access_token", broker_state, tokens.access_token.as_bytes());
        let refresh = self.vault.seal("attempt_refresh_token", broker_state, tokens.refresh_token.as_bytes());
        Ok(self.conn()?.execute(
            "UPDATE connect_attempts SET stage = 'authorized', access_token = $2, refresh_token = $3,
                    access_expires_at = $4, granted_scope = $5, account_id = $6, account_name = $7,
                    code_hash = $8, code_expires_at = $9
             WHERE broker_state = $1 AND stage = 'exchanging'",
            args![
                broker_state,
                &access,
                &refresh,
                tokens.expires_at,
                &tokens.scope,
                &obtained.account_id,
                &obtained.account_name,
                &obtained.code_hash,
                obtained.code_expires_at
            ],
        )? == 1)
    }

    /// The round a connect code (by SHA-256) belongs to.
    pub fn attempt_by_code(&self, code_hash: &[u8]) -> Result<Option<CodedAttempt>> {
        let Some(r) = self.conn()?.query_opt(
            "SELECT broker_state, install_id, plugin_state, stage, account_id, account_name, code_expires_at,
                    completion_key
             FROM connect_attempts WHERE code_hash = $1 AND stage IN ('authorized', 'completed')",
            args![code_hash],
        )?
        else {
            return Ok(None);
        };
        Ok(Some(CodedAttempt {
            broker_state: r.text(0)?,
            install_id: r.text(1)?,
            plugin_state: r.text(2)?,
            stage: AttemptStage::parse(&r.text(3)?),
            account_id: r.text(4)?,
            account_name: r.text(5)?,
            code_expires_at: r.int(6)?,
            completion_key: r.opt_text(7)?,
        }))
    }

    /// Completes an `authorized` round in one transaction: its tokens become
    /// the installation's grant (a new generation, `broker_token_hash` its
    /// broker token, replacing the previous grant and token), and the round
    /// is `completed` — tokens wiped, the exchange's `Idempotency-Key`
    /// recorded, kept until `keep_until` for a retry. `None`: the round is
    /// not `authorized` (any more). Callers hold the refresh lock.
    pub fn complete_attempt(
        &self,
        broker_state: &str,
        idempotency_key: &str,
        broker_token_hash: &[u8],
        keep_until: i64,
        now: i64,
    ) -> Result<Option<Completed>> {
        self.conn()?.transaction(|tx| {
            let Some(row) = tx.query_opt(
                "SELECT install_id, access_token, refresh_token, access_expires_at, granted_scope, account_id
                 FROM connect_attempts WHERE broker_state = $1 AND stage = 'authorized' FOR UPDATE",
                args![broker_state],
            )?
            else {
                return Ok(None);
            };
            let install_id = row.text(0)?;
            let open = |column: &str, sealed: Vec<u8>| {
                self.vault.open_string(column, broker_state, &sealed).ok_or_else(|| undecryptable(column))
            };
            let tokens = NewTokens {
                access_token: open("attempt_access_token", row.bytes(1)?)?,
                refresh_token: open("attempt_refresh_token", row.bytes(2)?)?,
                expires_at: row.int(3)?,
                scope: row.text(4)?,
            };
            let account_id = row.opt_text(5)?;
            let previous = tx.query_opt(
                "SELECT refresh_token FROM grants WHERE install_id = $1 AND status = 'active' FOR UPDATE",
                args![&install_id],
            )?;
            let previous_refresh = match previous {
                Some(sealed) => Some(
                    self.vault
                        .open_string("refresh_token", &install_id, &sealed.bytes(0)?)
                        .ok_or_else(|| undecryptable("grants"))?,
                ),
                None => None,
            };
            let source =
                GrantSource { tokens: &tokens, connect_round: Some(broker_state), account_id: account_id.as_deref() };
            upsert_grant(tx, &self.vault, &install_id, broker_token_hash, &source, now)?;
            tx.execute(
                "UPDATE connect_attempts SET stage = 'completed', access_token = NULL, refresh_token = NULL,
                        completion_key = $2,
                        code_expires_at = CASE WHEN code_expires_at > $3 THEN code_expires_at ELSE $3 END
                 WHERE broker_state = $1",
                args![broker_state, idempotency_key, keep_until],
            )?;
            Ok(Some(Completed { previous_refresh }))
        })
    }

    /// A new broker token for the grant a completed round produced (the
    /// plugin's retry of a completion whose answer it lost); the previous
    /// token dies. `false` when the installation's grant is no longer that
    /// round's (replaced or disconnected since).
    pub fn reissue_broker_token(&self, install_id: &str, broker_state: &str, broker_token_hash: &[u8]) -> Result<bool> {
        Ok(self.conn()?.execute(
            "UPDATE grants SET broker_token_hash = $3 WHERE install_id = $1 AND connect_round = $2",
            args![install_id, broker_state, broker_token_hash],
        )? == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{InstallStatus, NewInstallation};
    use super::*;

    #[test]
    fn a_round_from_link_to_grant() {
        for store in super::super::tests::engines() {
            a_round_on(&store);
        }
    }

    fn a_round_on(store: &Store) {
        let id = crate::crypto::random_id("ins_", 12);
        let (ins_x, bs, bs2) =
            (id.as_str(), &*crate::crypto::random_id("bs_", 12), &*crate::crypto::random_id("bs_", 12));
        let (code, code2) =
            (crate::crypto::random_id("", 16).into_bytes(), crate::crypto::random_id("", 16).into_bytes());
        let new = NewInstallation {
            install_id: ins_x.into(),
            site_url: "https://shop.example".into(),
            admin_email: "a@example.com".into(),
            platform: "wordpress".into(),
            plugin_version: "1.0".into(),
            secret: Zeroizing::new(vec![9u8; 32]),
        };
        store.insert_installation(&new, InstallStatus::Active, None, 1).unwrap();

        assert_eq!(store.claim_connect_link(ins_x, "ps", 700, 100).unwrap(), LinkClaim::Fresh);
        let attempt = ConnectAttempt {
            install_id: ins_x.into(),
            plugin_state: "ps".into(),
            return_url: "https://shop.example/cb".into(),
            scope: "public.order:read".into(),
            expires_at: 700,
            browser_hash: vec![1; 32],
            stage: AttemptStage::Consent,
        };
        store.insert_connect_attempt(bs, &attempt).unwrap();
        store.set_link_round(ins_x, "ps", bs).unwrap();
        assert_eq!(
            store.claim_connect_link(ins_x, "ps", 700, 100).unwrap(),
            LinkClaim::Used { broker_state: Some(bs.to_string()) }
        );
        assert!(store.begin_exchange(bs).unwrap());
        assert!(!store.begin_exchange(bs).unwrap(), "one callback");
        let obtained = Obtained {
            tokens: NewTokens {
                access_token: Zeroizing::new("sat_a".into()),
                refresh_token: Zeroizing::new("srt_a".into()),
                expires_at: 4000,
                scope: "public.order:read".into(),
            },
            account_id: "opr_a".into(),
            account_name: "A".into(),
            code_hash: code.clone(),
            code_expires_at: 400,
        };
        assert!(store.authorize_attempt(bs, &obtained).unwrap());
        let coded = store.attempt_by_code(&code).unwrap().unwrap();
        assert_eq!((coded.stage, coded.account_id.as_str()), (AttemptStage::Authorized, "opr_a"));
        assert!(store.sweep_connect_attempts(399).unwrap().is_empty());

        let (token, token2, token3) = (format!("{bs}:1"), format!("{bs}:2"), format!("{bs}:3"));
        let (token, token2, token3) = (token.as_bytes(), token2.as_bytes(), token3.as_bytes());
        let done = store.complete_attempt(bs, "key", token, 500, 150).unwrap().unwrap();
        assert!(done.previous_refresh.is_none());
        assert!(store.complete_attempt(bs, "key", token, 500, 150).unwrap().is_none(), "once");
        assert_eq!(store.grant(ins_x).unwrap().unwrap().refresh_token.as_str(), "srt_a");
        assert!(store.reissue_broker_token(ins_x, bs, token2).unwrap());
        assert!(!store.reissue_broker_token(ins_x, "other", token3).unwrap());
        assert_eq!(store.install_for_token(token2).unwrap().as_deref(), Some(ins_x));

        // An unexchanged round past its code's expiry hands back its refresh token.
        store.insert_connect_attempt(bs2, &attempt).unwrap();
        assert!(store.begin_exchange(bs2).unwrap());
        let obtained = Obtained { code_hash: code2, ..obtained };
        assert!(store.authorize_attempt(bs2, &obtained).unwrap());
        let swept: Vec<_> =
            store.sweep_connect_attempts(501).unwrap().into_iter().filter(|f| f.install_id == ins_x).collect();
        assert_eq!(swept.len(), 2, "the completed round and the unexchanged one");
        let revoke: Vec<_> = swept.iter().filter_map(|f| f.refresh_token.as_deref().map(String::as_str)).collect();
        assert_eq!(revoke, ["srt_a"]);
    }
}
