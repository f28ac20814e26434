//! Stora's events, pulled from the broker (docs/PROTOCOL.md §14.3): the
//! broker receives Stora's signed webhooks for the operator's connection and
//! keeps a queue per installation; the plugin pulls it with a signed
//! `GET {base}/events?after=<cursor>&limit=<n>`, so events reach sites that
//! accept no inbound request.
//!
//! [`crate::Companion::start_pull_events`] runs the pull through the step
//! machine (retries, clock skew, reconnect mapping) and ends with
//! [`crate::Completion::Events`]: an [`EventPage`] checked against the
//! documented shape. The cursor is kept in the installation's state, and
//! only moves when the host says it handled the page
//! ([`crate::Companion::acknowledge_events`]): a host that crashes between
//! the pull and its own write pulls the same events again (at least once;
//! de-duplicate by [`StoraEvent::id`]).

use crate::error::{Error, Result};
use crate::json::{self, Value, write_value};

/// The broker path the events are pulled from.
pub const EVENTS_PULL_PATH: &str = "/events";
/// Most events one pull may ask for.
pub const MAX_PULL_LIMIT: u32 = 100;
/// What a host usually asks for (the broker's default).
pub const DEFAULT_PULL_LIMIT: u32 = 50;
/// A cursor is 1 to this many decimal digits.
pub const MAX_CURSOR_DIGITS: usize = 18;
/// An event's `id` and `type`: 1 to this many bytes.
pub const MAX_EVENT_NAME: usize = 255;

/// One of Stora's events, as the broker received it from Stora's webhook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoraEvent {
    /// Stora's event id (`evt_…`): the same event may be pulled again after
    /// a crash, never under another id.
    pub id: String,
    /// The event type, e.g. `order.updated`.
    pub event_type: String,
    /// The API version the event was rendered in, e.g. `2025-09`.
    pub api_version: String,
    /// When Stora created it, unix seconds.
    pub created_at: i64,
    /// The event's `data` object as compact JSON (members in Stora's order,
    /// numbers as Stora wrote them).
    pub data_json: String,
}

/// One page of events: what [`crate::Completion::Events`] carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventPage {
    /// This installation's events, oldest first, each at most once.
    pub events: Vec<StoraEvent>,
    /// Where the next pull starts, once this page is handled: pass it to
    /// [`crate::Companion::acknowledge_events`].
    pub cursor: String,
    /// More events follow this page: pull again at once.
    pub has_more: bool,
}

/// A cursor's value: 1 to [`MAX_CURSOR_DIGITS`] ASCII digits.
pub(crate) fn cursor_value(cursor: &str) -> Option<u64> {
    let ok = !cursor.is_empty() && cursor.len() <= MAX_CURSOR_DIGITS && cursor.bytes().all(|b| b.is_ascii_digit());
    if ok { cursor.parse().ok() } else { None }
}

/// The path of a pull after `after` (none: from the start) of at most `limit` events.
pub(crate) fn pull_path(after: Option<&str>, limit: u32) -> Result<String> {
    if !(1..=MAX_PULL_LIMIT).contains(&limit) {
        return Err(Error::InvalidInput { field: "limit", reason: "must be 1 to 100" });
    }
    let mut path = String::with_capacity(48);
    path.push_str(EVENTS_PULL_PATH);
    path.push('?');
    if let Some(after) = after {
        path.push_str("after=");
        path.push_str(after);
        path.push('&');
    }
    path.push_str("limit=");
    path.push_str(&limit.to_string());
    Ok(path)
}

fn bad(why: &'static str) -> Error {
    Error::ResponseInvalid(why)
}

/// The member `key` of `obj`; a duplicate makes the answer ambiguous.
fn member<'a>(obj: &'a Value, key: &str) -> Result<Option<&'a Value>> {
    obj.get(key).map_err(|_| bad("a member appears twice"))
}

fn name(obj: &Value, key: &str, why: &'static str) -> Result<String> {
    match member(obj, key)?.and_then(Value::as_str) {
        Some(s) if !s.is_empty() && s.len() <= MAX_EVENT_NAME => Ok(s.to_owned()),
        _ => Err(bad(why)),
    }
}

/// Reads one event of a page (or of a push, `crate::push`).
pub(crate) fn event(v: &Value) -> Result<StoraEvent> {
    if !v.is_object() {
        return Err(bad("an event is not an object"));
    }
    let id = name(v, "id", "an event's id must be 1 to 255 bytes")?;
    let event_type = name(v, "type", "an event's type must be 1 to 255 bytes")?;
    let api_version = match member(v, "api_version")?.and_then(Value::as_str) {
        Some(s) if s.len() <= MAX_EVENT_NAME => s.to_owned(),
        _ => return Err(bad("an event's api_version must be a string of at most 255 bytes")),
    };
    let created_at =
        member(v, "created_at")?.and_then(Value::as_i64).ok_or(bad("an event's created_at must be an integer"))?;
    let data = member(v, "data")?.filter(|d| d.is_object()).ok_or(bad("an event's data must be an object"))?;
    // Written as sent, a member given twice included: every binding's
    // decoder (JSON.parse, json_decode, serde_json) keeps the last.
    let mut data_json = String::new();
    write_value(&mut data_json, data);
    Ok(StoraEvent { id, event_type, api_version, created_at, data_json })
}

/// Reads a 2xx answer to a pull sent `after` this cursor for at most
/// `limit` events, checking the documented shape: `events` an array of at
/// most `limit` events with distinct ids; `cursor` 1 to 18 digits, not
/// before `after`, and past it when events came; `has_more` a boolean, and
/// never `true` on an empty page (a host pulling again at once would loop).
/// Members not named here are ignored.
pub(crate) fn parse_page(body: &[u8], after: Option<u64>, limit: u32) -> Result<EventPage> {
    let root = json::parse(body).map_err(|_| bad("not JSON"))?;
    if !root.is_object() {
        return Err(bad("not an object"));
    }
    let Some(Value::Array(items)) = member(&root, "events")? else {
        return Err(bad("events must be an array"));
    };
    if items.len() > limit as usize {
        return Err(bad("more events than the limit asked for"));
    }
    let events = items.iter().map(event).collect::<Result<Vec<_>>>()?;
    // At most MAX_PULL_LIMIT ids: compared pairwise (no sort or hash code
    // in the browser module).
    if events.iter().enumerate().any(|(i, e)| events[..i].iter().any(|f| f.id == e.id)) {
        return Err(bad("an event appears twice"));
    }
    let cursor = member(&root, "cursor")?.and_then(Value::as_str).ok_or(bad("cursor must be a string"))?;
    let position = cursor_value(cursor).ok_or(bad("cursor must be 1 to 18 decimal digits"))?;
    let after = after.unwrap_or(0);
    if position < after || (!events.is_empty() && position == after) {
        return Err(bad("cursor went backwards"));
    }
    let has_more = member(&root, "has_more")?.and_then(Value::as_bool).ok_or(bad("has_more must be a boolean"))?;
    if has_more && events.is_empty() {
        return Err(bad("has_more on a page without events"));
    }
    Ok(EventPage { events, cursor: cursor.to_owned(), has_more })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(body: &str) -> Result<EventPage> {
        parse_page(body.as_bytes(), Some(5), 3)
    }

    const EVENT: &str = r#"{"id":"evt_1","type":"order.updated","api_version":"2025-09","created_at":1760000000,"data":{"b":[1.5e3,{"x":null}],"a":"\u00e9\n"}}"#;

    #[test]
    fn reads_a_page_and_keeps_the_data_as_sent() {
        let p = page(&format!(r#"{{"events":[{EVENT}],"cursor":"7","has_more":true,"extra":1}}"#)).unwrap();
        assert_eq!(p.cursor, "7");
        assert!(p.has_more);
        let e = &p.events[0];
        assert_eq!(
            (e.id.as_str(), e.event_type.as_str(), e.api_version.as_str()),
            ("evt_1", "order.updated", "2025-09")
        );
        assert_eq!(e.created_at, 1_760_000_000);
        assert_eq!(e.data_json, "{\"b\":[1.5e3,{\"x\":null}],\"a\":\"é\\n\"}");
        let empty = page(r#"{"events":[],"cursor":"5","has_more":false}"#).unwrap();
        assert!(empty.events.is_empty());
    }

    #[test]
    fn refuses_what_breaks_the_shape() {
        let cases = [
            ("[]", "not an object"),
            (r#"{"events":{},"cursor":"7","has_more":false}"#, "events must be an array"),
            (r#"{"events":[],"cursor":7,"has_more":false}"#, "cursor must be a string"),
            (r#"{"events":[],"cursor":"","has_more":false}"#, "cursor must be 1 to 18 decimal digits"),
            (
                r#"{"events":[],"cursor":"1234567890123456789","has_more":false}"#,
                "cursor must be 1 to 18 decimal digits",
            ),
            (r#"{"events":[],"cursor":"4","has_more":false}"#, "cursor went backwards"),
            (r#"{"events":[],"cursor":"5","has_more":true}"#, "has_more on a page without events"),
            (r#"{"events":[],"cursor":"5","has_more":"no"}"#, "has_more must be a boolean"),
            (r#"{"events":[],"events":[],"cursor":"5","has_more":false}"#, "a member appears twice"),
        ];
        for (body, why) in cases {
            assert_eq!(page(body), Err(Error::ResponseInvalid(why)), "{body}");
        }
        let with = |e: &str| page(&format!(r#"{{"events":[{e}],"cursor":"9","has_more":false}}"#));
        assert_eq!(with(&EVENT.replace("\"evt_1\"", "\"\"")), Err(bad("an event's id must be 1 to 255 bytes")));
        assert_eq!(with(&EVENT.replace("1760000000", "1.5")), Err(bad("an event's created_at must be an integer")));
        let twice = with(&EVENT.replace("\"x\":null", "\"x\":1,\"x\":2")).unwrap();
        assert!(twice.events[0].data_json.contains("\"x\":1,\"x\":2"), "written as sent");
        assert_eq!(with(&format!("{EVENT},{EVENT}")), Err(bad("an event appears twice")));
        assert_eq!(
            page(&format!(r#"{{"events":[{EVENT}],"cursor":"5","has_more":false}}"#)),
            Err(bad("cursor went backwards"))
        );
    }

    #[test]
    fn pull_paths_and_cursors() {
        assert_eq!(pull_path(None, 50).unwrap(), "/events?limit=50");
        assert_eq!(pull_path(Some("42"), 1).unwrap(), "/events?after=42&limit=1");
        assert!(pull_path(None, 0).is_err() && pull_path(None, 101).is_err());
        assert_eq!(cursor_value("007"), Some(7));
        assert_eq!(cursor_value("999999999999999999"), Some(999_999_999_999_999_999));
        assert_eq!(cursor_value("-1"), None);
    }
}
