//! Tests of the option table.

use super::*;

#[test]
fn every_flag_and_key_is_named_once() {
    let mut seen = std::collections::BTreeSet::new();
    for o in OPTIONS {
        for name in [o.short, o.long, o.key] {
            assert!(seen.insert(name), "{name} appears twice");
        }
        assert!(!UNSUPPORTED.contains(&o.short) && !UNSUPPORTED.contains(&o.long));
    }
}

#[test]
fn every_example_parses_as_its_option() {
    for o in OPTIONS {
        let words = shlex::split(o.example).unwrap();
        assert_eq!(find(&words[0]).map(|f| f.key), Some(o.key), "{}", o.example);
        let mut i = 1;
        let values = take_values(o.kind, &words, &mut i);
        assert_eq!(i, words.len(), "{}", o.example);
        o.kind
            .parse(&values)
            .unwrap_or_else(|e| panic!("{}: {e}", o.example));
    }
}

#[test]
fn only_extra_engine_settings_may_come_from_raw() {
    for o in raw_allowed() {
        assert_eq!(o.slot, Slot::Extra, "{}", o.short);
    }
}

#[test]
fn values_are_read_by_kind() {
    let w = |s: &str| shlex::split(s).unwrap();
    assert_eq!(
        Kind::Count.parse(&w("0")),
        Err("a whole number of 1 or more".into())
    );
    assert_eq!(
        Kind::Numbers.parse(&w("0.5 -1")),
        Ok(Value::Numbers(vec![0.5, -1.0]))
    );
    assert_eq!(
        Kind::Paths.parse(&w("a.png|b.png:2")),
        Ok(Value::Texts(vec!["a.png".into(), "b.png:2".into()]))
    );
    assert!(Kind::Choice(OPTIMISERS).parse(&w("adam")).is_err());
    assert_eq!(
        Kind::PositiveNumber.parse(&w("inf")),
        Err("a number above 0".into())
    );
}
