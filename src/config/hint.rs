//! A hint for the most confusing `runvqgan.toml` mistake: a general setting written below a
//! `[models.NAME]` heading. TOML reads every line after a heading as part of that table, so
//! `max_each = 10` written at the end of the file becomes a key of `[models.default]`, and the
//! parser's "unknown field `max_each`" (with the "did you mean `max_each`?" the nearest-name
//! hint would add) makes no sense to the person who wrote it.

/// When `message` (the TOML parser's error for `text`) is about an unknown key that sits
/// under a `[heading]` and would be a valid general setting (`valid_at_top(line)`: the key's
/// own line, parsed alone as a whole configuration file, is accepted), the explanation and
/// the fix.
pub fn misplaced_key(
    text: &str,
    message: &str,
    valid_at_top: &dyn Fn(&str) -> bool,
) -> Option<String> {
    let start = message.find("unknown field `")? + "unknown field `".len();
    let key = message[start..].split('`').next()?;
    let mut heading: Option<&str> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            heading = Some(trimmed);
            continue;
        }
        let Some((name, _)) = trimmed.split_once('=') else {
            continue;
        };
        if name.trim().trim_matches('"') != key {
            continue;
        }
        let heading = heading?;
        if !valid_at_top(trimmed) {
            return None;
        }
        return Some(format!(
            "\n`{key}` sits under {heading} because it comes after that heading (every line after a [heading] belongs to it, up to the next heading). `{key}` is a general setting: move the line `{trimmed}` above the first [heading], to the top of the file."
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_general_setting_under_a_model_heading_is_explained() {
        let text =
            "model = \"default\"\n[models.default]\nclip_model = \"ViT-B/32\"\nmax_each = 10\n";
        let hint = misplaced_key(
            text,
            "unknown field `max_each`, expected one of `vqgan_config`",
            &|line| line.starts_with("max_each"),
        )
        .unwrap();
        assert!(
            hint.contains(
                "`max_each` sits under [models.default] because it comes after that heading"
            ),
            "{hint}"
        );
        assert!(hint.contains("move the line `max_each = 10` above the first [heading]"));
        // A typo inside the table is not a misplaced setting.
        assert_eq!(
            misplaced_key(
                "[models.default]\nclip_modl = \"x\"\n",
                "unknown field `clip_modl`",
                &|_| false
            ),
            None
        );
    }
}
