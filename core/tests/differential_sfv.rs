//! Our RFC 8941 parser (`core/src/sfv.rs`, the one the verifier and the pure-PHP
//! port share) against the `sfv` crate, a well-kept RFC 9651 implementation:
//! dictionaries generated and serialised by the crate, then mutated.
//!
//! The rule: whenever we accept a field, the crate accepts it too and both
//! read the same members, items and parameters. Where the crate accepts and
//! we refuse, the reason must be one of the profile's deliberate refusals:
//! a byte sequence that is not canonical padded base64 (§6.5: one encoding per
//! value, so a MAC cannot be presented two ways), RFC 9651's newer types
//! (dates `@…`, display strings `%"…"`), or our bounds (field length,
//! members, inner-list items, parameters, key length).
//!
//! Cases: `CASES` generated dictionaries, each parsed as serialised and after
//! one mutation; the count is printed.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use sfv::{BareItem, Dictionary, FieldType, Item, ListEntry, Parser};
use tessera_core::internals::sfv as ours;

const CASES: u32 = 1000;

fn key() -> impl Strategy<Value = String> {
    "[a-z*][a-z0-9_.*-]{0,8}"
}

fn bare() -> impl Strategy<Value = BareItem> {
    prop_oneof![
        (-999_999_999_999_999i64..=999_999_999_999_999).prop_map(|n| BareItem::Integer(n.try_into().unwrap())),
        (-999_999_999i64..=999_999_999).prop_map(|n| {
            BareItem::Decimal(sfv::Decimal::try_from(n as f64 / 1000.0).unwrap_or_else(|_| sfv::Decimal::from(0)))
        }),
        "[ -~&&[^\"\\\\]]{0,12}".prop_map(|s| BareItem::String(sfv::String::from_string(s).unwrap())),
        "[A-Za-z*][A-Za-z0-9:/!#$%&'*+.^_`|~-]{0,8}".prop_map(|s| BareItem::Token(sfv::Token::from_string(s).unwrap())),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(BareItem::ByteSequence),
        any::<bool>().prop_map(BareItem::Boolean),
    ]
}

fn params() -> impl Strategy<Value = sfv::Parameters> {
    prop::collection::vec((key(), bare()), 0..3)
        .prop_map(|ps| ps.into_iter().map(|(k, v)| (sfv::Key::from_string(k).unwrap(), v)).collect())
}

fn item() -> impl Strategy<Value = Item> {
    (bare(), params()).prop_map(|(bare_item, params)| Item { bare_item, params })
}

fn entry() -> impl Strategy<Value = ListEntry> {
    prop_oneof![
        item().prop_map(ListEntry::Item),
        (prop::collection::vec(item(), 0..4), params())
            .prop_map(|(items, params)| ListEntry::InnerList(sfv::InnerList { items, params })),
    ]
}

fn dictionary() -> impl Strategy<Value = Dictionary> {
    prop::collection::vec((key(), entry()), 1..5)
        .prop_map(|ms| ms.into_iter().map(|(k, v)| (sfv::Key::from_string(k).unwrap(), v)).collect())
}

/// One edit of the serialised text: whitespace where RFC 9651 allows or
/// forbids it, a byte changed, dropped or doubled, padding removed.
#[derive(Clone, Debug)]
enum Mutation {
    None,
    Space(usize),
    Tab(usize),
    Replace(usize, u8),
    Drop(usize),
    Double(usize),
    DropPadding,
    Upper,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => Just(Mutation::None),
        1 => any::<usize>().prop_map(Mutation::Space),
        1 => any::<usize>().prop_map(Mutation::Tab),
        2 => (any::<usize>(), 0x20u8..0x7f).prop_map(|(i, b)| Mutation::Replace(i, b)),
        1 => any::<usize>().prop_map(Mutation::Drop),
        1 => any::<usize>().prop_map(Mutation::Double),
        1 => Just(Mutation::DropPadding),
        1 => Just(Mutation::Upper),
    ]
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut b = text.as_bytes().to_vec();
    let at = |i: usize| if b.is_empty() { 0 } else { i % b.len() };
    match *m {
        Mutation::None => {}
        Mutation::Space(i) => b.insert(at(i), b' '),
        Mutation::Tab(i) => b.insert(at(i), b'\t'),
        Mutation::Replace(i, c) if !b.is_empty() => {
            let i = at(i);
            b[i] = c;
        }
        Mutation::Drop(i) if !b.is_empty() => {
            b.remove(at(i));
        }
        Mutation::Double(i) if !b.is_empty() => {
            let i = at(i);
            b.insert(i, b[i]);
        }
        Mutation::DropPadding => return text.replacen("=:", ":", 1),
        Mutation::Upper => return text.to_ascii_uppercase(),
        _ => {}
    }
    String::from_utf8(b).unwrap_or_default()
}

fn same_bare(a: &ours::BareItem, b: &BareItem) -> bool {
    match (a, b) {
        (ours::BareItem::Integer(x), BareItem::Integer(y)) => *x == i64::from(*y),
        (ours::BareItem::Decimal(x), BareItem::Decimal(y)) => *x == i64::from(y.as_integer_scaled_1000()),
        (ours::BareItem::String(x), BareItem::String(y)) => x == y.as_str(),
        (ours::BareItem::Token(x), BareItem::Token(y)) => x == y.as_str(),
        (ours::BareItem::ByteSeq(x), BareItem::ByteSequence(y)) => x == y,
        (ours::BareItem::Boolean(x), BareItem::Boolean(y)) => x == y,
        _ => false,
    }
}

fn same_params(a: &ours::Params, b: &sfv::Parameters) -> bool {
    // Both keep the last value of a repeated key; compare as maps.
    let last = |k: &str| a.iter().rev().find(|(ak, _)| ak == k).map(|(_, v)| v);
    b.len() == a.iter().map(|(k, _)| k).collect::<std::collections::BTreeSet<_>>().len()
        && b.iter().all(|(k, v)| last(k.as_str()).is_some_and(|ours| same_bare(ours, v)))
}

fn same_item(a: &ours::Item, b: &Item) -> bool {
    same_bare(&a.bare, &b.bare_item) && same_params(&a.params, &b.params)
}

fn same(a: &ours::Dictionary, b: &Dictionary) -> bool {
    let last = |k: &str| a.iter().rev().find(|(ak, _)| ak == k).map(|(_, v)| v);
    b.len() == a.iter().map(|(k, _)| k).collect::<std::collections::BTreeSet<_>>().len()
        && b.iter().all(|(k, v)| match (last(k.as_str()), v) {
            (Some(ours::Member::Item(x)), ListEntry::Item(y)) => same_item(x, y),
            (Some(ours::Member::InnerList(x)), ListEntry::InnerList(y)) => {
                x.items.len() == y.items.len()
                    && x.items.iter().zip(&y.items).all(|(x, y)| same_item(x, y))
                    && same_params(&x.params, &y.params)
            }
            _ => false,
        })
}

/// The canonical padded base64 of every byte sequence the crate read.
fn canonical_byte_seqs(theirs: &Dictionary) -> Vec<String> {
    let mut out = Vec::new();
    let mut bare = |b: &BareItem| {
        if let BareItem::ByteSequence(v) = b {
            out.push(tessera_core::internals::encoding::b64_encode(v));
        }
    };
    for e in theirs.values() {
        let items: Vec<&Item> = match e {
            ListEntry::Item(i) => vec![i],
            ListEntry::InnerList(l) => {
                l.params.values().for_each(&mut bare);
                l.items.iter().collect()
            }
        };
        for i in items {
            bare(&i.bare_item);
            i.params.values().for_each(&mut bare);
        }
    }
    out
}

/// A refusal the profile makes on purpose (see the module doc).
fn deliberate(text: &str, theirs: &Dictionary) -> bool {
    let over_bounds = text.len() > ours::MAX_FIELD_LEN
        || theirs.len() > 64
        || theirs.keys().any(|k| k.as_str().len() > 64)
        || theirs.values().any(|e| match e {
            ListEntry::Item(i) => i.params.len() > 32,
            ListEntry::InnerList(l) => l.items.len() > 64 || l.params.len() > 32,
        });
    let newer_types = theirs.values().any(|e| {
        let bare = |b: &BareItem| matches!(b, BareItem::Date(_) | BareItem::DisplayString(_));
        let item = |i: &Item| bare(&i.bare_item) || i.params.values().any(bare);
        match e {
            ListEntry::Item(i) => item(i),
            ListEntry::InnerList(l) => l.items.iter().any(item) || l.params.values().any(bare),
        }
    });
    let non_canonical = canonical_byte_seqs(theirs).iter().any(|b64| !text.contains(&format!(":{b64}:")));
    over_bounds || newer_types || non_canonical
}

#[test]
fn our_structured_field_parser_agrees_with_the_sfv_crate() {
    let mut runner = TestRunner::new(Config { cases: CASES, failure_persistence: None, ..Config::default() });
    let (mut accepted, mut both_refused, mut deliberate_refusals) = (0u32, 0u32, 0u32);
    let counts = std::cell::RefCell::new((0u32, 0u32, 0u32));
    runner
        .run(&(dictionary(), mutation()), |(dict, m)| {
            let canonical = dict.serialize().expect("a generated dictionary serialises");
            for text in [canonical.clone(), apply(&canonical, &m)] {
                let theirs = Parser::new(&text).parse::<Dictionary>();
                let mine = ours::parse_dictionary(&text);
                let mut c = counts.borrow_mut();
                match (&mine, &theirs) {
                    (Ok(a), Ok(b)) => {
                        prop_assert!(same(a, b), "different readings of {text:?}: {a:?} vs {b:?}");
                        c.0 += 1;
                    }
                    (Ok(a), Err(e)) => prop_assert!(false, "we accept what the crate refuses: {text:?} -> {a:?} ({e})"),
                    (Err(reason), Ok(b)) => {
                        prop_assert!(
                            deliberate(&text, b),
                            "we refuse what the crate accepts: {text:?} ({reason}) -> {b:?}"
                        );
                        c.2 += 1;
                    }
                    (Err(_), Err(_)) => c.1 += 1,
                }
            }
            Ok(())
        })
        .unwrap();
    let c = counts.into_inner();
    (accepted, both_refused, deliberate_refusals) = (accepted + c.0, both_refused + c.1, deliberate_refusals + c.2);
    eprintln!(
        "sfv differential: {CASES} dictionaries, {} fields: {accepted} read alike, {both_refused} refused by both, \
         {deliberate_refusals} refused only by the profile (non-canonical base64, RFC 9651 types, bounds)",
        2 * CASES
    );
    assert!(accepted > CASES, "too few accepted fields to mean anything: {accepted}");
}
