//! The job description handed to the engine: a plain struct whose field names are the
//! `dest` names of the `generate.py` flags (docs/interfaces.md section 1). It serialises to
//! the job dict; keys left `None` or empty are left out, so the engine uses upstream's default.

use std::path::Path;

use serde::Serialize;

use crate::call::options::{GenOption, JobValue, Slot, Value};

/// Extra engine settings (a task's `raw`, or a sidecar's call), by job key. Which keys exist
/// and how their values are read is decided by the option table, [`crate::call::options::OPTIONS`]
/// (the options of [`Slot::Extra`]); keys left out take the engine's default. A list sorted
/// by key (a task sets a few, and every planned image carries a copy): it serialises as a map.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EngineOptions(Vec<(&'static str, Value)>);

impl EngineOptions {
    /// The value of the option with job key `key`, if set.
    pub fn get(&self, key: &str) -> Option<&Value> {
        let at = self.0.binary_search_by(|(k, _)| (*k).cmp(key)).ok()?;
        Some(&self.0[at].1)
    }

    /// Sets an option; given again, a list adds up and anything else is replaced.
    pub fn set(&mut self, option: &GenOption, value: Value) {
        debug_assert_eq!(
            option.slot,
            Slot::Extra,
            "{} is not an extra option",
            option.key
        );
        match self.0.binary_search_by(|(k, _)| (*k).cmp(option.key)) {
            Ok(at) => {
                let earlier = std::mem::replace(&mut self.0[at].1, Value::Switch);
                self.0[at].1 = earlier.combine(value);
            }
            Err(at) => self.0.insert(at, (option.key, value)),
        }
    }

    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The job dict's form: a map from job key to [`JobValue`].
impl Serialize for EngineOptions {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, JobValue(v))))
    }
}

/// [`EngineOptions`] as the owner's indexes keep them (`#[serde(with = "stored_options")]`):
/// each key with its value, the variant named. A key the option table does not hold (an
/// index of another version) fails to load, and the index is read as empty.
pub mod stored_options {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::EngineOptions;
    use crate::call::options::{Value, by_key};

    /// Writes the options as a list of (key, value).
    pub fn serialize<S: Serializer>(options: &EngineOptions, s: S) -> Result<S::Ok, S::Error> {
        options.0.serialize(s)
    }

    /// Reads what [`serialize`] wrote.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<EngineOptions, D::Error> {
        let pairs = Vec::<(String, Value)>::deserialize(d)?;
        let mut options = Vec::with_capacity(pairs.len());
        for (key, value) in pairs {
            let option = by_key(&key)
                .ok_or_else(|| serde::de::Error::custom(format!("no option {key:?}")))?;
            options.push((option.key, value));
        }
        options.sort_by(|a, b| a.0.cmp(b.0));
        Ok(EngineOptions(options))
    }
}

/// One image to generate, as the engine takes it. Paths (`image_prompts`, `init_image`,
/// `output`) are relative to the root, as sidecars record them; [`Job::resolved`] makes
/// them absolute for the engine.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Job {
    /// `-p`: the whole prompt string (`a:1|b:0.5^c`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompts: Option<String>,
    /// `-ip`: image prompt paths.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub image_prompts: Vec<String>,
    /// `-i`: iterations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iterations: Option<u32>,
    /// `-s`: `[width, height]` in pixels, before the engine rounds down to multiples of f.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<[u32; 2]>,
    /// `-ii`: initial image path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_image: Option<String>,
    /// `-sd`: the seed; `None` lets the engine pick one (it reports it back).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// `-o`: the PNG to write.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Extra engine settings, from `raw`.
    #[serde(flatten)]
    pub options: EngineOptions,
}

impl Job {
    /// The same job with its root-relative paths (`image_prompts`, `init_image`, `output`)
    /// joined to `root`, for handing to the engine. Absolute paths (old R sidecars) stay.
    pub fn resolved(&self, root: &Path) -> Job {
        let abs = |p: &String| root.join(p).to_string_lossy().into_owned();
        Job {
            image_prompts: self.image_prompts.iter().map(abs).collect(),
            init_image: self.init_image.as_ref().map(abs),
            output: self.output.as_ref().map(abs),
            ..self.clone()
        }
    }

    /// The value of an option of the job ([`Slot::Job`] or [`Slot::Extra`]), if set.
    pub fn value(&self, option: &GenOption) -> Option<Value> {
        match (option.slot, option.key) {
            (Slot::Extra, key) => self.options.get(key).cloned(),
            (_, "prompts") => self.prompts.clone().map(Value::Text),
            (_, "image_prompts") if !self.image_prompts.is_empty() => {
                Some(Value::Texts(self.image_prompts.clone()))
            }
            (_, "init_image") => self.init_image.clone().map(Value::Text),
            (_, "iterations") => self.iterations.map(|n| Value::Int(n.into())),
            (_, "size") => self.size.map(Value::Size),
            (_, "seed") => self.seed.map(Value::Seed),
            (_, "output") => self.output.clone().map(Value::Text),
            _ => None,
        }
    }

    /// Sets an option of the job from a value its kind produced; `false` when the option
    /// is not part of the job ([`Slot::Call`]).
    pub fn set(&mut self, option: &GenOption, value: Value) -> bool {
        match (option.slot, option.key, value) {
            (Slot::Extra, _, value) => self.options.set(option, value),
            (_, "prompts", Value::Text(t)) => self.prompts = Some(t),
            (_, "image_prompts", Value::Texts(t)) => self.image_prompts.extend(t),
            (_, "init_image", Value::Text(t)) => self.init_image = Some(t),
            (_, "iterations", Value::Int(n)) => self.iterations = u32::try_from(n).ok(),
            (_, "size", Value::Size(s)) => self.size = Some(s),
            (_, "seed", Value::Seed(n)) => self.seed = Some(n),
            (_, "output", Value::Text(t)) => self.output = Some(t),
            _ => return false,
        }
        true
    }
}
