//! The serializer of [`super::pretty`] against serde_json's pretty print made safe: the same
//! text for tricky strings of every length, every form of serde's data model, and random
//! JSON values; the same errors.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde::Serialize;

use super::{json_safe, pretty};

/// What [`pretty::write`] writes, or its error's text.
fn mine<T: Serialize + ?Sized>(value: &T) -> Result<String, String> {
    let mut out = Vec::new();
    pretty::write(value, &mut out).map_err(|e| e.to_string())?;
    Ok(String::from_utf8(out).expect("UTF-8"))
}

/// serde_json's pretty print made safe ([`json_safe`]), or its error's text.
fn theirs<T: Serialize + ?Sized>(value: &T) -> Result<String, String> {
    let json = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    Ok(json_safe(&json))
}

/// Asserts that both write `value` the same, and returns the text.
fn same<T: Serialize + ?Sized>(value: &T) -> Result<String, String> {
    let (m, t) = (mine(value), theirs(value));
    assert_eq!(m, t);
    m
}

#[test]
fn every_character_up_to_u_0100_at_every_place_of_strings_of_every_length() {
    let tricky = (0..=0x100u32)
        .filter_map(char::from_u32)
        .chain(['\u{2028}', '\u{2029}', 'é', '€', '😀', '\u{feff}']);
    for c in tricky {
        for len in 0..40usize {
            for at in [0, len / 2, len.saturating_sub(1)] {
                let mut text: String = "abcdefghijklmnopqrstuvwxyz0123456789ABCD"[..len].into();
                if len > 0 {
                    text.replace_range(at..at + 1, c.encode_utf8(&mut [0; 4]));
                }
                let json = same(&text).unwrap();
                assert!(!json.chars().any(char::is_control), "{json:?}");
                assert_eq!(serde_json::from_str::<String>(&json).unwrap(), text);
            }
        }
    }
    for text in [
        "",
        "\"",
        "\\",
        "\"\\\"",
        "a\"b\\c",
        "\u{9b}[2J",
        "\u{c2}\u{9f}",
        "\u{a0}",
    ] {
        same(text).unwrap();
    }
}

/// A unit struct.
#[derive(Serialize)]
struct Unit;

/// A newtype struct.
#[derive(Serialize)]
struct Newtype(u8);

/// A tuple struct.
#[derive(Serialize)]
struct Tuple(i8, String);

/// A struct of no field.
#[derive(Serialize)]
struct Empty {}

/// A unit variant as a map key.
#[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    A,
}

/// Each form of variant, some empty.
#[derive(Serialize)]
enum Shapes {
    Unit,
    Newtype(Vec<u8>),
    Tuple(u8, Option<f32>),
    EmptyTuple(),
    Struct { a: Option<String>, b: [f64; 0] },
    EmptyStruct {},
}

/// Maps with keys of each kind JSON turns into strings.
type Keys = (
    BTreeMap<i64, u8>,
    BTreeMap<bool, u8>,
    BTreeMap<char, u8>,
    BTreeMap<Key, u8>,
);

/// Every form of serde's data model.
#[derive(Serialize)]
struct All<'a> {
    unit: (),
    unit_struct: Unit,
    newtype: Newtype,
    tuple: Tuple,
    empty: Empty,
    shapes: Vec<Shapes>,
    floats: [f64; 7],
    float32: [f32; 3],
    ints: (i8, i16, i32, i64, i128, u8, u16, u32, u64, u128),
    chars: [char; 3],
    bytes: &'a serde_bytes::Bytes,
    no_bytes: &'a serde_bytes::Bytes,
    none: Option<u8>,
    some: Option<Option<bool>>,
    empty_list: Vec<u8>,
    empty_map: BTreeMap<String, u8>,
    keys: Keys,
    deep: serde_json::Value,
}

#[test]
fn every_form_of_the_data_model_is_written_as_serde_json_writes_it() {
    let mut deep = serde_json::json!([1, {"x": []}]);
    for i in 0..70 {
        deep = serde_json::json!({ "level": i, "in": [deep, {}] });
    }
    let all = All {
        unit: (),
        unit_struct: Unit,
        newtype: Newtype(7),
        tuple: Tuple(-3, "t\u{7f}".into()),
        empty: Empty {},
        shapes: vec![
            Shapes::Unit,
            Shapes::Newtype(vec![1, 2]),
            Shapes::Tuple(1, Some(f32::NAN)),
            Shapes::EmptyTuple(),
            Shapes::Struct { a: None, b: [] },
            Shapes::EmptyStruct {},
        ],
        floats: [0.0, -0.0, 1.5, 1e300, 0.1, f64::INFINITY, f64::NAN],
        float32: [0.1, 3e38, f32::NEG_INFINITY],
        ints: (
            i8::MIN,
            -1,
            0,
            i64::MIN,
            i128::MIN,
            255,
            1,
            u32::MAX,
            u64::MAX,
            u128::MAX,
        ),
        chars: ['"', '\u{9b}', 'x'],
        bytes: serde_bytes::Bytes::new(&[0, 255]),
        no_bytes: serde_bytes::Bytes::new(&[]),
        none: None,
        some: Some(None),
        empty_list: vec![],
        empty_map: BTreeMap::new(),
        keys: (
            BTreeMap::from([(-5, 1), (7, 2)]),
            BTreeMap::from([(true, 1)]),
            BTreeMap::from([('\u{1b}', 1)]),
            BTreeMap::from([(Key::A, 1)]),
        ),
        deep,
    };
    let json = same(&all).unwrap();
    assert!(
        json.contains("\"t\\u007f\"") && json.contains("\"\\u009b\""),
        "{json}"
    );
    same(&Shapes::Newtype(vec![])).unwrap();
    same(&Unit).unwrap();
    same(&BTreeMap::from([(1.5f64.to_string(), Newtype(1))])).unwrap();
}

#[test]
fn keys_that_json_cannot_hold_fail_as_in_serde_json() {
    let err = same(&BTreeMap::from([(vec![1], 1)])).unwrap_err();
    assert!(err.contains("key must be a string"), "{err}");
    same(&BTreeMap::from([((), 1)])).unwrap_err();
    same(&BTreeMap::from([(Some(1), 1), (None, 2)])).unwrap_err();
    same(&BTreeMap::from([(Some("k"), 1)])).unwrap();
    /// A map with a float key, as f32 and f64.
    #[derive(Serialize)]
    struct FloatKeys(#[serde(serialize_with = "float_keys")] f64);
    /// Writes `v` as the keys of a map.
    fn float_keys<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry(&(*v as f32), &1)?;
        map.serialize_entry(v, &2)?;
        map.end()
    }
    same(&FloatKeys(0.1)).unwrap();
    let err = same(&FloatKeys(f64::NAN)).unwrap_err();
    assert!(err.contains("float key must be finite"), "{err}");
}

/// Strings made mostly of the characters that need escapes, and others.
fn nasty() -> impl Strategy<Value = String> {
    let c = prop_oneof![
        3 => prop::char::range('\0', '\u{a0}'),
        1 => Just('\u{2028}'),
        1 => any::<char>(),
    ];
    prop::collection::vec(c, 0..40).prop_map(|c| c.into_iter().collect())
}

/// JSON values of a few levels, their strings [`nasty`].
fn values() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        nasty().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::from),
            prop::collection::btree_map(nasty(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_value_is_written_as_serde_json_writes_it_made_safe(value in values()) {
        let (m, t) = (mine(&value), theirs(&value));
        prop_assert_eq!(&m, &t);
        let json = m.unwrap();
        prop_assert!(!json.chars().any(|c| c.is_control() && c != '\n'));
        let raw = serde_json::to_string(&value).unwrap();
        let read = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();
        prop_assert_eq!(read(&json), read(&raw));
    }
}
