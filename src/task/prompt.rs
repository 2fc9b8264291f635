//! The prompt syntax of `text`, as `generate.py` reads it: `^` separates story phrases,
//! `|` separates the prompts of a phrase, and each prompt is `text`, `text:weight` or
//! `text:weight:stop`.
//!
//! Like `generate.py` (which splits each prompt with `rsplit(':', 2)` and converts the parts
//! after the text with `float`), a colon in a prompt always starts its weight: the last one
//! or two colon-separated parts must be numbers, and the text keeps any colons before them
//! (`a:b:1:0.5` is the text `a:b`, weight 1, stop 0.5). A prompt whose weight is not a
//! number (`dog:abc`, or `ratio 3:2 photo`) is refused here rather than crashing the engine
//! at night.

/// One prompt: its text and, as written, its weight and stop.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Segment {
    /// The text (may contain colons, see the module docs).
    pub text: String,
    /// The weight as written (a number).
    pub weight: Option<String>,
    /// The stop as written (a number).
    pub stop: Option<String>,
}

/// A parsed `text`: story phrases, each a list of prompts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Prompt {
    /// The story phrases (`^`-separated), each holding `|`-separated prompts.
    pub phrases: Vec<Vec<Segment>>,
}

const SYNTAX: &str = "A colon in a prompt starts its weight: write `text:weight` or `text:weight:stop` with numbers (as in `dog:1.5` or `dog:2:0.1`), or leave the colon out of the text";

/// The longest prompt accepted, in characters.
pub const MAX_TEXT_CHARS: usize = 5000;

/// The longest style accepted, in characters.
pub const MAX_STYLE_CHARS: usize = 500;

/// Parses `text`; on failure returns one sentence per malformed part.
pub fn parse(text: &str) -> Result<Prompt, Vec<String>> {
    let mut problems = Vec::new();
    if text.trim().is_empty() {
        return Err(vec![
            "the prompt is empty; describe the picture, e.g. \"text\": \"A painting of a dog\"."
                .to_string(),
        ]);
    }
    if text.contains('\0') {
        return Err(vec![
            "the prompt contains a NUL character (\\u0000); remove it.".to_string(),
        ]);
    }
    if let Some(c) = text
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(vec![format!(
            "the prompt contains the control character U+{:04X}, which cannot be part of a picture description; remove it.",
            u32::from(c)
        )]);
    }
    if let Some(fix) = noncharacter(text) {
        return Err(vec![format!("the prompt {fix}.")]);
    }
    let chars = text.chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err(vec![format!(
            "the prompt is {chars} characters long, but at most {MAX_TEXT_CHARS} are accepted (CLIP reads only about the first 75 words of each prompt); shorten it."
        )]);
    }
    let mut phrases = Vec::new();
    for phrase in text.split('^') {
        let mut segments = Vec::new();
        for seg in phrase.split('|') {
            match parse_segment(seg) {
                Ok(s) => segments.push(s),
                Err(p) => problems.push(p),
            }
        }
        phrases.push(segments);
    }
    if problems.is_empty() {
        Ok(Prompt { phrases })
    } else {
        Err(problems)
    }
}

fn parse_segment(seg: &str) -> Result<Segment, String> {
    let mut parts: Vec<&str> = seg.rsplitn(3, ':').collect();
    parts.reverse();
    let (text, weight, stop) = match parts.as_slice() {
        [t] => (*t, None, None),
        [t, w] => (*t, Some(*w), None),
        [t, w, s] => (*t, Some(*w), Some(*s)),
        _ => unreachable!("rsplitn(3) yields 1 to 3 parts"),
    };
    if text.trim().is_empty() {
        return Err(format!(
            "the prompt {seg:?} has no text{}; write a text there, or remove the extra `|` or `^`.",
            if weight.is_some() {
                " before its weight"
            } else {
                ""
            }
        ));
    }
    if let Some(w) = weight
        && !is_weight(w)
    {
        let which = if stop.is_some() { "weight" } else { "part" };
        return Err(format!(
            "in the prompt {seg:?}, the {which} {w:?} after the colon is not a number. {SYNTAX}."
        ));
    }
    if let Some(s) = stop
        && !is_stop(s)
    {
        return Err(format!(
            "in the prompt {seg:?}, the stop {s:?} after the last colon is not a number. {SYNTAX}."
        ));
    }
    Ok(Segment {
        text: text.to_string(),
        weight: weight.map(str::to_string),
        stop: stop.map(str::to_string),
    })
}

fn number(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty()
        || t.chars()
            .any(|c| c.is_ascii_alphabetic() && !"eE".contains(c))
    {
        // Rejects `inf`, `nan`, `infinity` and words; `1e-3` passes.
        return None;
    }
    t.parse::<f64>().ok().filter(|f| f.is_finite())
}

fn is_weight(s: &str) -> bool {
    number(s).is_some()
}

fn is_stop(s: &str) -> bool {
    number(s).is_some() || s.trim() == "-inf"
}

/// What a style adds to the text of a first prompt: `dog` with `Banksy` is
/// `dog in the style of Banksy`.
pub const STYLE_JOIN: &str = " in the style of ";

impl Segment {
    fn render(&self, style: Option<&str>) -> String {
        let mut out = String::new();
        self.render_into(style, &mut out);
        out
    }

    /// Appends the prompt to `out`: its text (with ` in the style of STYLE` when `style`),
    /// then its weight and stop as written.
    fn render_into(&self, style: Option<&str>, out: &mut String) {
        match style {
            Some(s) => {
                out.push_str(self.text.trim_end());
                out.push_str(STYLE_JOIN);
                out.push_str(s);
            }
            None => out.push_str(&self.text),
        }
        for part in [&self.weight, &self.stop].into_iter().flatten() {
            out.push(':');
            out.push_str(part);
        }
    }
}

impl Prompt {
    /// The prompt string for one image: with a non-empty `style`, ` in the style of STYLE` is
    /// appended to the text of the first prompt of every story phrase, before its weight
    /// (`dog:2|cat` with `Banksy` gives `dog in the style of Banksy:2|cat`). With an empty
    /// style the text comes back exactly as written.
    pub fn render(&self, style: &str) -> String {
        let style = style.trim();
        // one allocation: room for every text, weight, stop, separator and style
        let styled = if style.is_empty() {
            0
        } else {
            STYLE_JOIN.len() + style.len()
        };
        let room = self.phrases.iter().map(|phrase| {
            let parts = phrase
                .iter()
                .flat_map(|s| [Some(&s.text), s.weight.as_ref(), s.stop.as_ref()]);
            styled + parts.flatten().map(|t| t.len() + 1).sum::<usize>()
        });
        let mut out = String::with_capacity(room.sum());
        for (p, phrase) in self.phrases.iter().enumerate() {
            if p > 0 {
                out.push('^');
            }
            for (i, seg) in phrase.iter().enumerate() {
                if i > 0 {
                    out.push('|');
                }
                seg.render_into((i == 0 && !style.is_empty()).then_some(style), &mut out);
            }
        }
        out
    }
}

/// The style a rendered prompt string carries ([`Prompt::render`] read backwards): the text
/// after the last ` in the style of ` in the first prompt, without its weight; `None` for a
/// plain prompt or one that does not parse.
pub fn style_of(prompts: &str) -> Option<String> {
    let first = parse(prompts)
        .ok()?
        .phrases
        .into_iter()
        .next()?
        .into_iter()
        .next()?;
    let (_, style) = first.text.rsplit_once(STYLE_JOIN)?;
    let style = style.trim();
    (!style.is_empty()).then(|| style.to_string())
}

/// What is wrong with `text` when it holds a noncharacter ([`crate::process::text::is_noncharacter`],
/// such as U+FFFE), and the fix: which one, and where. Pasted into the prompt, it would make
/// the image's XMP metadata unreadable, and no keyboard types it: it came in unseen.
fn noncharacter(text: &str) -> Option<String> {
    let (i, c) = text
        .chars()
        .enumerate()
        .find(|(_, c)| crate::process::text::is_noncharacter(*c))?;
    let (code, position) = (u32::from(c), i + 1);
    Some(format!(
        "holds U+{code:04X}, a code point that is not a character, which the image's \
         metadata cannot carry; remove the invisible character U+{code:04X} at position \
         {position} (counting characters from 1)"
    ))
}

/// Checks a style name: it is pasted into the prompt, so it must not contain the prompt's
/// separators. Returns the reason (with the fix) when it cannot be used.
pub fn check_style(style: &str) -> Result<(), String> {
    if let Some(c) = style.chars().find(|c| matches!(c, '|' | '^' | ':')) {
        return Err(format!(
            "it contains `{c}`, which has a meaning in prompts; name one style per list entry, e.g. [\"\", \"Banksy\", \"Picasso\"]"
        ));
    }
    if style.chars().any(char::is_control) {
        return Err("it contains a line break or another control character; remove it".into());
    }
    if let Some(fix) = noncharacter(style) {
        return Err(format!("it {fix}"));
    }
    let chars = style.chars().count();
    if chars > MAX_STYLE_CHARS {
        return Err(format!(
            "it is {chars} characters long, but a style may have at most {MAX_STYLE_CHARS}; shorten it"
        ));
    }
    Ok(())
}

/// Warnings for prompts that parse but probably do not say what the member meant: a
/// "weight" that came from text looking like a ratio or a time (`photo in ratio 3:2` is the
/// prompt `photo in ratio 3` with weight 2; `meeting at 10:30` is `meeting at 10` with weight
/// 30): the text before the colon ends in a digit and the weight is a whole number. A weight
/// written with a decimal point (`3:2.0`) is taken as meant.
pub fn warnings(prompt: &Prompt) -> Vec<String> {
    let mut out = Vec::new();
    for seg in prompt.phrases.iter().flatten() {
        let Some(weight) = &seg.weight else { continue };
        let digit_before = seg.text.chars().last().is_some_and(|c| c.is_ascii_digit());
        let whole = !weight.is_empty() && weight.chars().all(|c| c.is_ascii_digit());
        if !(digit_before && whole) {
            continue;
        }
        let written = seg.render(None);
        let before = seg
            .text
            .rsplit(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap_or_default();
        out.push(format!(
            "`text`: {written:?} is read as the prompt {:?} with weight {weight}{}, because a colon in a prompt starts its weight. If you meant a ratio or a time, write it without the colon (\"{before} to {weight}\", \"{before}.{weight}\"); if you meant the weight, write it with a decimal point (\"{}:{weight}.0\").",
            seg.text,
            seg.stop
                .as_ref()
                .map(|s| format!(" and stop {s}"))
                .unwrap_or_default(),
            seg.text,
        ));
    }
    out
}

/// A warning for a style that is probably a list written as one text: `"Picasso, Monet"` is
/// one style ("in the style of Picasso, Monet"), not one series per painter.
pub fn style_warning(style: &str) -> Option<String> {
    if !style.contains(',') {
        return None;
    }
    let parts: Vec<String> = style
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| format!("{p:?}"))
        .collect();
    if parts.len() < 2 {
        return None;
    }
    Some(format!(
        "`style`: {style:?} is one style: its images are made \"in the style of {style}\". For one series of images per style, write each as its own list entry: [{}].",
        parts.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_style_back_from_a_rendered_prompt() {
        let p = parse("a \"friendly\" robot:1.5|rust:-0.3").unwrap();
        assert_eq!(style_of(&p.render("Banksy")).as_deref(), Some("Banksy"));
        assert_eq!(style_of(&p.render("")), None);
        assert_eq!(
            style_of("dog in the style of Monet:1:0.5^cat").as_deref(),
            Some("Monet")
        );
    }

    #[test]
    fn style_goes_before_the_weight_of_the_first_prompt() {
        let p = parse("dog:2|cat").unwrap();
        assert_eq!(p.render("Banksy"), "dog in the style of Banksy:2|cat");
        assert_eq!(p.render(""), "dog:2|cat");
    }

    #[test]
    fn style_applies_to_each_story_phrase() {
        let p = parse("a dog:1:0.5^a cat").unwrap();
        assert_eq!(
            p.render("Monet"),
            "a dog in the style of Monet:1:0.5^a cat in the style of Monet"
        );
    }

    #[test]
    fn text_keeps_colons_before_weight_and_stop() {
        let p = parse("a:b:1:0.5").unwrap();
        let s = &p.phrases[0][0];
        assert_eq!(s.text, "a:b");
        assert_eq!(s.weight.as_deref(), Some("1"));
        assert_eq!(s.stop.as_deref(), Some("0.5"));
    }

    #[test]
    fn malformed_weight_names_the_part() {
        let e = parse("dog:abc|cat").unwrap_err();
        assert!(e[0].contains("\"abc\""), "{e:?}");
        let e = parse("dog:1:x").unwrap_err();
        assert!(e[0].contains("stop \"x\""), "{e:?}");
        assert!(parse("dog:-0.5|cat:1e-1:-inf").is_ok());
        assert!(parse("dog:nan").is_err());
        assert!(parse("dog||cat").is_err());
    }

    #[test]
    fn ratio_and_time_lookalikes_are_warned_about() {
        let w = warnings(&parse("photo in ratio 3:2").unwrap());
        assert_eq!(
            w,
            [
                "`text`: \"photo in ratio 3:2\" is read as the prompt \"photo in ratio 3\" with weight 2, because a colon in a prompt starts its weight. If you meant a ratio or a time, write it without the colon (\"3 to 2\", \"3.2\"); if you meant the weight, write it with a decimal point (\"photo in ratio 3:2.0\")."
            ]
        );
        assert_eq!(warnings(&parse("meeting at 10:30|clock").unwrap()).len(), 1);
        assert!(warnings(&parse("dog:2|cat:1.5|photo 3:2.0|x:-1").unwrap()).is_empty());
    }

    #[test]
    fn a_style_with_commas_is_warned_about() {
        let w = style_warning("Picasso, Monet").unwrap();
        assert!(w.contains("[\"Picasso\", \"Monet\"]"), "{w}");
        assert_eq!(style_warning("Banksy"), None);
        assert_eq!(style_warning("Banksy,"), None);
    }
}
