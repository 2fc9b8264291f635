//! A sidecar's provenance: the `# key: value` lines after its generate call, written from a
//! [`Provenance`] and read back whole ([`Provenance::parse`]) or, where only the image's
//! origin matters (which task, which content, which image of it), just that ([`Origin`]).

use super::{ImageIndex, Provenance};

/// The key of the task file's path.
const TASK: &str = "task";
/// The key of the task file's content hash.
const TASK_SHA256: &str = "task-sha256";
/// The key of the image's place in the task's expansion (`k of N`).
const IMAGE: &str = "image";

/// The `# key: value` lines of `rest` (the part of a sidecar after its call) as (key,
/// value), both trimmed, in order; other lines are skipped.
pub fn provenance_lines(rest: &str) -> impl Iterator<Item = (&str, &str)> {
    rest.lines().filter_map(|line| {
        let kv = line.trim_end_matches('\r').strip_prefix('#')?;
        let (k, v) = kv.split_once(':')?;
        Some((k.trim(), v.trim()))
    })
}

impl Provenance {
    pub(super) fn lines(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut add = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                out.push((k.to_string(), v));
            }
        };
        add("runvqgan", self.runvqgan.clone());
        add(TASK, self.task.clone());
        add(TASK_SHA256, self.task_sha256.clone());
        add(
            IMAGE,
            self.image.map(|i| format!("{} of {}", i.index, i.total)),
        );
        add("model-set", self.model_set.clone());
        add("device", self.device.clone());
        add("started", self.started.clone());
        add("seconds", self.seconds.map(|s| format!("{s:.1}")));
        add("final-loss", self.final_loss.map(|l| format!("{l}")));
        add("root", self.root.clone());
        out.extend(self.extra.iter().cloned());
        out
    }

    /// Reads the `# key: value` lines that follow the call; other lines are ignored.
    pub fn parse(rest: &str) -> Provenance {
        let mut p = Provenance::default();
        for (k, v) in provenance_lines(rest) {
            let v = v.to_string();
            match k {
                "runvqgan" => p.runvqgan = Some(v),
                TASK => p.task = Some(v),
                TASK_SHA256 => p.task_sha256 = Some(v),
                IMAGE => p.image = parse_image(&v),
                "model-set" => p.model_set = Some(v),
                "device" => p.device = Some(v),
                "started" => p.started = Some(v),
                "seconds" => p.seconds = v.parse().ok(),
                "final-loss" => p.final_loss = v.parse().ok(),
                "root" => p.root = Some(v),
                _ => p.extra.push((k.to_string(), v)),
            }
        }
        p
    }
}

/// Where a sidecar's image comes from, borrowed from its text: what [`Provenance::parse`]
/// would give for the task, its hash and the image, and the first value of one other line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Origin<'a> {
    /// `task`: the task file, relative to the root.
    pub task: Option<&'a str>,
    /// `task-sha256`: hex SHA-256 of the task file's bytes.
    pub task_sha256: Option<&'a str>,
    /// `image`: `k of N`.
    pub image: Option<ImageIndex>,
    /// The value of the first line with the key asked for (as [`Provenance::extra`] would
    /// have it first).
    pub extra: Option<&'a str>,
}

impl<'a> Origin<'a> {
    /// Reads the origin of the image from `rest` (the part of a sidecar after its call),
    /// with the value of the first line `extra_key` (a key other than the ones
    /// [`Provenance`] has a field for).
    pub fn parse(rest: &'a str, extra_key: &str) -> Origin<'a> {
        let mut o = Origin::default();
        for (k, v) in provenance_lines(rest) {
            match k {
                TASK => o.task = Some(v),
                TASK_SHA256 => o.task_sha256 = Some(v),
                IMAGE => o.image = parse_image(v),
                k if k == extra_key && o.extra.is_none() => o.extra = Some(v),
                _ => {}
            }
        }
        o
    }
}

fn parse_image(v: &str) -> Option<ImageIndex> {
    let (k, n) = v.split_once(" of ")?;
    Some(ImageIndex {
        index: k.trim().parse().ok()?,
        total: n.trim().parse().ok()?,
    })
}
