//! The usual mistakes of a task file written by hand (issue 24, item 4), each written as the
//! member writes it, and what the member then reads: `validate`'s report and the
//! `_ERROR.txt` that appears beside the task. Each gets its own plain message with the fix;
//! a JSON mistake shows its line with a caret under the place.

mod common;
use common::Shared;

/// `validate` of `json` written as `tasks/t.txt`, then `check`'s `_ERROR.txt` beside it:
/// (validate's report, the error file).
fn member_sees(json: &str) -> (String, String) {
    let s = Shared::new();
    s.write("tasks/t.txt", json);
    let (code, report) = s.validate("tasks/t.txt");
    assert_eq!(code, 1, "{report}");
    s.check();
    (report, s.read("tasks/t_ERROR.txt"))
}

#[test]
fn a_windows_path_with_single_backslashes_says_to_copy_the_picture_into_the_shared_folder() {
    let (report, error) = member_sees(
        "{\n  \"text\": \"a dog\",\n  \"out_file\": \"dog\",\n  \"in_file\": \"C:\\Users\\Student\\Pictures\\dog.jpg\"\n}\n",
    );
    insta::assert_snapshot!(report);
    insta::assert_snapshot!(error);
}

#[test]
fn an_rtf_file_from_textedit_says_to_make_it_plain_text() {
    let (report, _) = member_sees(
        "{\\rtf1\\ansi\\ansicpg1252\\cocoartf2639\n{\\fonttbl\\f0\\fswiss\\fcharset0 Helvetica;}\n\\f0\\fs24 \\cf0 \\{\"text\": \"a dog\", \"out_file\": \"dog\"\\}}",
    );
    insta::assert_snapshot!(report);
}

#[test]
fn a_comment_says_json_has_none_and_shows_it() {
    let (report, _) =
        member_sees("{\n  // my dog\n  \"text\": \"a dog\",\n  \"out_file\": \"dog\"\n}\n");
    insta::assert_snapshot!(report);
    let (report, _) =
        member_sees("{\n  \"text\": \"a dog\",\n  \"out_file\": \"dog\" # the name\n}\n");
    assert!(
        report.contains("line 3, column 21: the file is not valid JSON: a comment."),
        "{report}"
    );
}

#[test]
fn an_empty_file_says_it_is_empty() {
    for empty in ["", "\n  \n", "\u{feff}"] {
        let (report, _) = member_sees(empty);
        assert_eq!(
            report,
            "tasks/t.txt: the file is empty; a task file holds one JSON object, like {\"text\": \"A painting of a dog\", \"out_file\": \"dog\"}. Write the task into it and save it (if you did, the save did not reach the shared folder: save it again).\n"
        );
    }
}

#[test]
fn numbers_in_quotes_say_to_remove_the_quotes() {
    let (report, _) = member_sees(
        r#"{"text": "a dog", "out_file": "dog", "resolution": ["64","48"], "iterations": "300"}"#,
    );
    insta::assert_snapshot!(report);
}

#[test]
fn a_near_folder_name_is_suggested_whatever_the_capitals() {
    let s = Shared::new();
    s.mkdir("anna/pictures");
    for (folder, near) in [
        ("Output", "output"),
        ("outptu", "output"),
        ("ANNA/Pictures", "anna/pictures"),
        ("anna/pictrues", "anna/pictures"),
    ] {
        s.write(
            "tasks/t.txt",
            format!(r#"{{"text": "a dog", "out_file": "dog", "out_folder": "{folder}"}}"#),
        );
        let (code, report) = s.validate("tasks/t.txt");
        assert_eq!(code, 1);
        assert!(
            report.contains(&format!("`out_folder` \"{folder}\" cannot be used: it does not exist; did you mean \"{near}\"?")),
            "{report}"
        );
    }
    s.write(
        "tasks/t.txt",
        r#"{"text": "a dog", "out_file": "dog", "out_folder": "holidays"}"#,
    );
    let (_, report) = s.validate("tasks/t.txt");
    assert!(!report.contains("did you mean"), "{report}");
}

#[test]
fn raw_as_a_list_says_to_write_one_text() {
    let (report, _) = member_sees(r#"{"text": "a dog", "out_file": "dog", "raw": ["-lr","0.2"]}"#);
    assert_eq!(
        report,
        "tasks/t.txt: `raw`: it is a list of 2 texts, but `raw` is one text holding all the options, separated by spaces; write \"raw\": \"-lr 0.2\".\n"
    );
}

#[test]
fn a_missing_comma_names_the_end_of_its_line_and_shows_it() {
    let (report, error) = member_sees(
        "{\n  \"text\": \"a dog\",\n  \"out_file\": \"dog\",\n  \"iterations\": 20\n  \"each\": 2\n}\n",
    );
    insta::assert_snapshot!(report);
    insta::assert_snapshot!(error);
}

#[test]
fn a_caret_stays_under_its_place_after_tabs_and_accents() {
    let (report, _) = member_sees("{\n\t\"text\": \"café\" \"out_file\": \"dog\"\n}\n");
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(
        lines[1], "     \"text\": \"café\" \"out_file\": \"dog\"",
        "{report}"
    );
    assert_eq!(lines[2], format!("{}^", " ".repeat(20)), "{report}");
}

#[test]
fn an_out_file_ending_in_png_is_trimmed_with_a_warning() {
    let s = Shared::new();
    s.write(
        "tasks/t.txt",
        r#"{"text": "a lighthouse", "out_file": "student_lh.png", "each": 2}"#,
    );
    let (code, report) = s.validate("tasks/t.txt");
    assert_eq!(code, 0, "{report}");
    let warning = "`out_file` \"student_lh.png\" ends like a picture's name, but runvqgan adds the number and .png itself, so \"student_lh\" is used: the pictures are student_lh_1.png, student_lh_2.png, ... Write \"out_file\": \"student_lh\".";
    assert!(report.contains(warning), "{report}");
    assert_eq!(
        s.outputs("tasks/t.txt"),
        ["output/student_lh_1.png", "output/student_lh_2.png"]
    );
    s.check();
    assert!(s.read("tasks/t_WARNINGS.txt").contains(warning));
    s.write("tasks/t.txt", r#"{"text": "a", "out_file": "Dog.JPG"}"#);
    assert_eq!(s.outputs("tasks/t.txt"), ["output/Dog_1.png"]);
}
