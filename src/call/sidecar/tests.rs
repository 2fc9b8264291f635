//! Tests of `sidecar`.

use super::*;

#[test]
fn every_option_of_the_table_is_kept_by_a_call() {
    for option in OPTIONS {
        let words = shlex::split(option.example).unwrap();
        let value = option.kind.parse(&words[1..]).unwrap();
        let mut call = GenerateCall::default();
        call.set(option, value.clone());
        assert_eq!(call.value(option), Some(value), "{}", option.short);
        let back = GenerateCall::from_words(&call.words()).unwrap();
        assert_eq!(back, call, "{}", option.short);
    }
}

#[test]
fn the_call_ends_at_the_first_unquoted_line_break() {
    let (call, rest) = split_call("python generate.py -p 'a\nb' -i 1\n# task: x\n").unwrap();
    assert_eq!(call, "python generate.py -p 'a\nb' -i 1");
    assert_eq!(rest, "# task: x\n");
}

#[test]
fn prompts_starting_with_a_dash_use_the_long_form() {
    let call = GenerateCall {
        job: Job {
            prompts: Some("-dog".into()),
            ..Job::default()
        },
        ..GenerateCall::default()
    };
    assert!(call.render().unwrap().contains("--prompts=-dog"));
    let back = Sidecar::parse(&call.render().unwrap()).unwrap();
    assert_eq!(back.call, call);
}

#[test]
fn recognises_generate_calls_cheaply() {
    assert!(looks_like_generate_call(b"python generate.py -p x"));
    assert!(looks_like_generate_call(
        b"\xEF\xBB\xBFpython -m vqgan_clip.generate -p x"
    ));
    assert!(!looks_like_generate_call(
        b"{\"text\": \"python generate\"}"
    ));
}
