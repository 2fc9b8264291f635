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

#[test]
fn the_origin_reads_what_the_whole_provenance_reads() {
    // repeated lines (the last task counts, the first `request`), blank space, CRLF
    let rest = "# task: a.txt\r\n#task-sha256:  ab \n# image: 2 of 4\n# request: 3 (rerun)\n\
                not a line\n# task: b.txt\n# request: 5\n# image: x of 4\n# device: cuda:0\n";
    let whole = Provenance::parse(rest);
    let origin = Origin::parse(rest, "request");
    assert_eq!(origin.task, whole.task.as_deref());
    assert_eq!(origin.task, Some("b.txt"));
    assert_eq!(origin.task_sha256, whole.task_sha256.as_deref());
    assert_eq!(origin.image, whole.image);
    assert_eq!(origin.image, None);
    let first = whole.extra.iter().find(|(k, _)| k == "request");
    assert_eq!(origin.extra, first.map(|(_, v)| v.as_str()));
    assert_eq!(origin.extra, Some("3 (rerun)"));
}

#[test]
fn a_sidecar_in_parts_parses_as_a_whole() {
    let text = "\u{feff}\n python generate.py -p 'a\nb' -i 1\r\n# task: x\n";
    let (call, rest) = parts(text).unwrap();
    assert_eq!(call, "python generate.py -p 'a\nb' -i 1");
    let whole = Sidecar::parse(text).unwrap();
    assert_eq!(GenerateCall::parse(call).unwrap(), whole.call);
    assert_eq!(Provenance::parse(rest), whole.provenance);
    assert!(matches!(parts(" \n"), Err(SidecarError::Empty)));
    assert!(matches!(
        parts("python 'x\n"),
        Err(SidecarError::Unterminated)
    ));
    assert!(GenerateCall::parse("cat generate.py").is_err());
}
