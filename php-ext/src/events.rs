//! Stora's events pulled from the broker: `Companion::pullEvents()`'s page
//! as a PHP array, and its `$limit` parameter; the events of a push the
//! broker sent (`Companion::verifyPush()`), in the same shape. Conversion
//! only: the pull, the page's checks, the cursor and the push's signature are
//! the core's (`Companion::start_pull_events`, `acknowledge_events`,
//! `verify_push`).

use ext_php_rs::boxed::ZBox;
use ext_php_rs::convert::FromZval;
use ext_php_rs::flags::DataType;
use ext_php_rs::types::{ZendCallable, ZendHashTable, Zval};
use tessera_core::{Error, EventPage, StoraEvent};

use crate::convert::Assoc;
use crate::errors::{Failure, Res, invalid};
use crate::host::call_php;

/// `JSON_BIGINT_AS_STRING`: an integer beyond PHP's range stays exact, as text.
const JSON_BIGINT_AS_STRING: i64 = 2;

/// The most nesting `json_decode` is asked to accept (PHP's default; the
/// core's reader already bounds an event's data far below it).
const JSON_DEPTH: i64 = 512;

/// Events per pull when the host names none (the core's and the broker's default).
const DEFAULT_LIMIT: i64 = tessera_core::internals::events::DEFAULT_PULL_LIMIT as i64;

/// The `?int $limit = 50` parameter (`null`: the default). Any PHP value is
/// accepted, so a wrong one becomes an `InvalidInputException` (as in the
/// pure-PHP package) rather than ext-php-rs' own `TypeError`.
pub struct Limit(Result<i64, ()>);

impl FromZval<'_> for Limit {
    const TYPE: DataType = DataType::Long;
    const NULLABLE: bool = true;
    fn from_zval(zval: &Zval) -> Option<Self> {
        let zval = zval.dereference();
        Some(Limit(if zval.is_null() { Ok(DEFAULT_LIMIT) } else { zval.long().ok_or(()) }))
    }
}

impl From<i32> for Limit {
    fn from(limit: i32) -> Self {
        Limit(Ok(i64::from(limit)))
    }
}

impl ext_php_rs::convert::StubLiteral for Limit {
    fn stub_literal(&self) -> String {
        self.0.map_or_else(|()| "null".to_owned(), |n| n.to_string())
    }
}

impl Limit {
    /// The limit for the core, which refuses any outside 1 to 100 (an
    /// integer beyond `u32` becomes 0, refused the same way).
    pub fn get(&self) -> Res<u32> {
        match self.0 {
            Ok(n) => Ok(u32::try_from(n).unwrap_or(0)),
            Err(()) => Err(invalid("limit", "must be an integer")),
        }
    }
}

/// `data_json` decoded by PHP's own `json_decode($json, true, 512,
/// JSON_BIGINT_AS_STRING)`, as the pure-PHP package does
/// (`Convert::eventPageToPhp`), so both give the same array: keys in Stora's
/// order, numeric keys as PHP makes them, numbers as PHP reads them.
fn decode_data(json: &str) -> Res<Zval> {
    let decode = ZendCallable::try_from_name("json_decode")
        .map_err(|_| Failure::Core(Error::Internal("json_decode is missing")))?;
    let data = call_php(&decode, vec![&json, &true, &JSON_DEPTH, &JSON_BIGINT_AS_STRING], "json_decode")?;
    if data.is_array() { Ok(data) } else { Err(Failure::Core(Error::Internal("decoding an event's data"))) }
}

/// `['id' => …, 'type' => …, 'api_version' => …, 'created_at' => int,
/// 'data' => array, 'data_json' => string]`.
fn event_to_php(e: &StoraEvent) -> Res<Zval> {
    Ok(Assoc::new()
        .str("id", &e.id)
        .str("type", &e.event_type)
        .str("api_version", &e.api_version)
        .int("created_at", e.created_at)
        .with("data", decode_data(&e.data_json)?)
        .str("data_json", &e.data_json)
        .zval())
}

/// A list of events, each as `pullEvents()` gives it (`verifyPush()`'s result).
pub fn events_to_php(events: &[StoraEvent]) -> Res<ZBox<ZendHashTable>> {
    let mut list = ZendHashTable::with_capacity(u32::try_from(events.len()).unwrap_or(8));
    for e in events {
        // Pushing onto a list we own cannot fail.
        let _ = list.push(event_to_php(e)?);
    }
    Ok(list)
}

/// `['events' => [event, …], 'cursor' => string, 'has_more' => bool]`.
pub fn page_to_php(page: &EventPage) -> Res<Zval> {
    let mut list = Zval::new();
    list.set_hashtable(events_to_php(&page.events)?);
    let mut has_more = Zval::new();
    has_more.set_bool(page.has_more);
    Ok(Assoc::new().with("events", list).str("cursor", &page.cursor).with("has_more", has_more).zval())
}
