//! The wire answer to a failed verification, so no broker decides statuses
//! itself (docs/PROTOCOL.md §7.2 and §8.2).

use std::fmt;

use crate::error::Error;

/// Why a request, a connect URL, an uninstall ticket or an ownership proof
/// did not verify, with the answer the broker sends for it: the status, the
/// `error` code, the headers (`Date` on `signature_expired`, from which the
/// plugin learns its clock offset) and the JSON body.
///
/// Every broker — the reference one, one on Node through the npm package, one
/// in PHP — answers a failed verification with exactly this, so the plugin
/// classifies the same failure the same way whoever runs the broker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    error: Error,
    /// Broker time of the verification (unix seconds), for `Date`.
    now: i64,
}

impl Refusal {
    /// The refusal of `error`, found at broker time `now`.
    pub fn new(error: Error, now: i64) -> Refusal {
        Refusal { error, now }
    }

    /// What went wrong.
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// What went wrong, by value.
    pub fn into_error(self) -> Error {
        self.error
    }

    /// The HTTP status to answer with (401 for a signature, 503 for a full
    /// replay store, 403 for an ownership proof, 400 for a malformed request).
    pub fn status(&self) -> u16 {
        self.error.wire_code().0
    }

    /// The `error` code of the answer's body (`signature_invalid`,
    /// `signature_expired`, `replayed`, …).
    pub fn code(&self) -> &'static str {
        self.error.wire_code().1
    }

    /// The headers to answer with, names in lowercase: `content-type`,
    /// `cache-control: no-store` and, on `signature_expired`, `date` (the
    /// broker's time as an IMF-fixdate), which a plugin needs to correct its
    /// clock (docs/PROTOCOL.md §7.2).
    pub fn headers(&self) -> Vec<(String, String)> {
        let mut headers = vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("cache-control".to_owned(), "no-store".to_owned()),
        ];
        if matches!(self.error, Error::SignatureExpired) {
            headers.push(("date".to_owned(), crate::httpdate::format(self.now)));
        }
        headers
    }

    /// The answer's body: `{"error": code, "error_description": message}`
    /// (docs/PROTOCOL.md §8.1). The message is the error's text, which never
    /// holds a secret.
    pub fn body(&self) -> Vec<u8> {
        let mut out = String::with_capacity(96);
        let mut obj = crate::json::ObjectWriter::new(&mut out);
        obj.str("error", self.code());
        obj.str("error_description", &self.error.to_string());
        obj.end();
        out.into_bytes()
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status(), self.code(), self.error)
    }
}

impl std::error::Error for Refusal {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl From<Refusal> for Error {
    fn from(refusal: Refusal) -> Error {
        refusal.error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_of_each_verification_error() {
        let now = 1_700_000_000;
        let expired = Refusal::new(Error::SignatureExpired, now);
        assert_eq!((expired.status(), expired.code()), (401, "signature_expired"));
        assert_eq!(
            expired.headers().last().map(|(k, v)| (k.as_str(), v.as_str())),
            Some(("date", "Tue, 14 Nov 2023 22:13:20 GMT"))
        );
        let full = Refusal::new(Error::ReplayStoreFull, now);
        assert_eq!((full.status(), full.code()), (503, "replay_store_full"));
        assert!(full.headers().iter().all(|(k, _)| k != "date"), "Date only on signature_expired");
        let proof = Refusal::new(Error::OwnershipProofInvalid, now);
        assert_eq!((proof.status(), proof.code()), (403, "ownership_proof_invalid"));
        let bad = Refusal::new(Error::TooLarge { field: "body", limit: 1 }, now);
        assert_eq!((bad.status(), bad.code()), (400, "invalid_request"));
        assert_eq!(
            String::from_utf8(Refusal::new(Error::Replayed, now).body()).unwrap(),
            r#"{"error":"replayed","error_description":"the request was already seen (replay)"}"#
        );
        assert_eq!(Error::from(full.clone()), Error::ReplayStoreFull);
        assert_eq!(full.to_string(), "503 replay_store_full: the replay store is full");
    }
}
