//! Stora metadata rules (core/src/metadata.rs): every limit at the limit and
//! one over, the check order, and merge-patch bodies.

use tessera_core::metadata::{MAX_KEYS, Metadata, MetadataPatch, apply_merge_patch, merge_patch_body, validate};

fn reason(r: tessera_core::Result<impl std::fmt::Debug>) -> &'static str {
    match r.unwrap_err() {
        tessera_core::Error::InvalidInput { field: "metadata", reason } => reason,
        other => panic!("{other:?}"),
    }
}

fn many(n: usize) -> Metadata {
    (0..n).map(|i| (format!("k{i:02}"), "v".to_owned())).collect()
}

fn one(k: &str, v: &str) -> Metadata {
    [(k.to_owned(), v.to_owned())].into()
}

#[test]
fn key_count_at_and_over_the_limit() {
    validate(&many(MAX_KEYS)).unwrap();
    assert_eq!(reason(validate(&many(MAX_KEYS + 1))), "more than 20 keys");
}

#[test]
fn key_length_and_characters() {
    validate(&one(&"k".repeat(40), "v")).unwrap();
    validate(&one("a", "v")).unwrap();
    validate(&one("az09._:-", "v")).unwrap();
    assert_eq!(reason(validate(&one(&"k".repeat(41), "v"))), "key must be 1 to 40 characters");
    assert_eq!(reason(validate(&one("", "v"))), "key must be 1 to 40 characters");
    for bad in ["A", "a b", "a/b", "é", "a\n", "a+b"] {
        assert_eq!(reason(validate(&one(bad, "v"))), "key may only contain a-z, 0-9, '.', '_', ':' and '-'", "{bad:?}");
    }
    // Characters, not bytes: 40 non-ASCII characters are refused for their characters.
    assert_eq!(reason(validate(&one(&"é".repeat(20), "v"))), "key may only contain a-z, 0-9, '.', '_', ':' and '-'");
}

#[test]
fn value_length_in_scalar_values() {
    validate(&one("k", &"😀".repeat(500))).unwrap();
    validate(&one("k", "")).unwrap();
    assert_eq!(reason(validate(&one("k", &"😀".repeat(501)))), "value is longer than 500 characters");
    assert_eq!(reason(validate(&one("k", &"a".repeat(501)))), "value is longer than 500 characters");
}

#[test]
fn count_is_checked_before_keys() {
    let mut m = many(MAX_KEYS + 1);
    m.insert("BAD".into(), "v".into());
    assert_eq!(reason(validate(&m)), "more than 20 keys");
}

#[test]
fn patch_bodies_and_limits() {
    let changes: MetadataPatch = [("b".to_owned(), None), ("a".to_owned(), Some("1".to_owned()))].into();
    assert_eq!(merge_patch_body(&changes, None).unwrap(), r#"{"metadata":{"a":"1","b":null}}"#);
    // Without current: 20 set keys pass, 21 do not; deletions do not count.
    let set = |n: usize| many(n).into_iter().map(|(k, v)| (k, Some(v))).collect::<MetadataPatch>();
    merge_patch_body(&set(20), None).unwrap();
    assert_eq!(reason(merge_patch_body(&set(21), None)), "more than 20 keys");
    let mut with_deletes = set(20);
    with_deletes.insert("zz".into(), None);
    merge_patch_body(&with_deletes, None).unwrap();
    // With current: the merged result counts.
    let full = many(20);
    let add: MetadataPatch = [("new".to_owned(), Some("1".to_owned()))].into();
    assert_eq!(reason(merge_patch_body(&add, Some(&full))), "more than 20 keys");
    merge_patch_body(&add, Some(&many(19))).unwrap();
    let swap: MetadataPatch = [("new".to_owned(), Some("1".to_owned())), ("k00".to_owned(), None)].into();
    merge_patch_body(&swap, Some(&full)).unwrap();
    // Keys of deletions and values of sets are checked.
    let bad_key: MetadataPatch = [("Bad".to_owned(), None)].into();
    assert_eq!(reason(merge_patch_body(&bad_key, None)), "key may only contain a-z, 0-9, '.', '_', ':' and '-'");
    let long: MetadataPatch = [("k".to_owned(), Some("x".repeat(501)))].into();
    assert_eq!(reason(merge_patch_body(&long, None)), "value is longer than 500 characters");
    let at: MetadataPatch = [("k".to_owned(), Some("x".repeat(500)))].into();
    merge_patch_body(&at, Some(&many(19))).unwrap();
}

#[test]
fn apply_sets_replaces_and_deletes() {
    let current: Metadata = [("a".to_owned(), "1".to_owned()), ("b".to_owned(), "2".to_owned())].into();
    let changes: MetadataPatch = [
        ("a".to_owned(), None),
        ("b".to_owned(), Some("3".to_owned())),
        ("c".to_owned(), Some("4".to_owned())),
        ("x".to_owned(), None),
    ]
    .into();
    let want: Metadata = [("b".to_owned(), "3".to_owned()), ("c".to_owned(), "4".to_owned())].into();
    assert_eq!(apply_merge_patch(&current, &changes), want);
}

#[test]
fn pair_forms_match_the_map_forms_and_refuse_repeated_keys() {
    let pairs = |m: &Metadata| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<Vec<_>>();
    let mut reversed = pairs(&many(20));
    reversed.reverse();
    tessera_core::metadata::validate_pairs(&reversed).unwrap();
    let over = pairs(&many(21));
    assert_eq!(reason(tessera_core::metadata::validate_pairs(&over)), "more than 20 keys");
    let twice = vec![("a".to_owned(), "1".to_owned()), ("a".to_owned(), "2".to_owned())];
    assert_eq!(reason(tessera_core::metadata::validate_pairs(&twice)), "a key appears twice");
    let changes =
        vec![("z".to_owned(), Some("1".to_owned())), ("k00".to_owned(), None), ("a".to_owned(), Some("2".to_owned()))];
    let map_changes: MetadataPatch = changes.iter().cloned().collect();
    let full = many(20);
    assert_eq!(
        tessera_core::metadata::merge_patch_body_pairs(&changes, Some(&pairs(&full))),
        merge_patch_body(&map_changes, Some(&full))
    );
    assert_eq!(
        reason(tessera_core::metadata::merge_patch_body_pairs(&changes, Some(&pairs(&full)))),
        "more than 20 keys"
    );
    let one_in_one_out = vec![("k00".to_owned(), None), ("new".to_owned(), Some("1".to_owned()))];
    assert_eq!(
        tessera_core::metadata::merge_patch_body_pairs(&one_in_one_out, Some(&pairs(&full))).unwrap(),
        r#"{"metadata":{"k00":null,"new":"1"}}"#
    );
    let dup = vec![("a".to_owned(), None), ("a".to_owned(), Some("x".to_owned()))];
    assert_eq!(reason(tessera_core::metadata::merge_patch_body_pairs(&dup, None)), "a key appears twice");
}

#[test]
fn patch_against_an_empty_or_exhausted_current_map() {
    let changes: MetadataPatch = [("b".into(), Some("2".into())), ("c".into(), None)].into();
    // An empty current map: every change is checked on its own.
    assert_eq!(merge_patch_body(&changes, Some(&Metadata::new())).unwrap(), r#"{"metadata":{"b":"2","c":null}}"#);
    // Current keys all before the changes' keys: the merged map is a then b.
    assert_eq!(merge_patch_body(&changes, Some(&one("a", "1"))).unwrap(), r#"{"metadata":{"b":"2","c":null}}"#);
    // Twenty current keys before the change: the merge has 21 and is refused.
    let add: MetadataPatch = [("zz".into(), Some("v".into()))].into();
    assert_eq!(reason(merge_patch_body(&add, Some(&many(20)))), "more than 20 keys");
}
