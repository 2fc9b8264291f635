//! Measured speeds, kept from run to run in `<root>/.runvqgan/speeds.json`, and the estimates
//! made from them: how long tonight's queue takes (`status`, `plan`) and what the first image
//! of a run costs before the run has measured one (the time budget).
//!
//! A speed is seconds per iteration of one image, per model set, device and engine size
//! (the size after rounding down to the VQGAN's factor): the same image size costs the same
//! whatever the task. A run updates the speeds from every image it writes (a batch of n
//! images costs each image its share), and records how long it took from its start to its
//! first image (Python, the models), which an estimate adds once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::process::text::escape;
use crate::records::events::{Event, Sink};
use crate::records::plausible;
use crate::shared_folder::files::SPEEDS_NAME;
use crate::shared_folder::files::{SPEEDS_FILE, STATE_DIR};

/// How much a new measurement counts against the stored one.
const WEIGHT_OF_NEW: f64 = 0.5;

/// The VQGAN factor assumed before a model set was ever loaded (every default set is f16).
pub const DEFAULT_FACTOR: u32 = 16;

/// What earlier runs measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Speeds {
    /// Seconds per image-iteration, by [`key`].
    #[serde(default)]
    pub per_iteration: BTreeMap<String, f64>,
    /// Seconds from the start of a run to its models being loaded, by model set and device
    /// (`default@cuda:0`).
    #[serde(default)]
    pub startup: BTreeMap<String, f64>,
    /// The VQGAN factor of each model set, as the engine reported it when it loaded it.
    #[serde(default)]
    pub factor: BTreeMap<String, u32>,
    /// The device the last run of each model set ran on (for runs that name none).
    #[serde(default)]
    pub last_device: BTreeMap<String, String>,
}

/// The key of a speed: `default@cuda:0@448x288`.
pub fn key(model_set: &str, device: &str, size: [u32; 2]) -> String {
    format!("{model_set}@{device}@{}x{}", size[0], size[1])
}

/// The size the engine makes for a requested size: each side rounded down to a multiple
/// of the VQGAN factor (450x300 -> 448x288 at f16).
pub fn engine_size(size: [u32; 2], factor: u32) -> [u32; 2] {
    let f = factor.max(1);
    size.map(|side| (side / f * f).max(f))
}

/// The device a run will use, as the engine names it: the configured one (`cuda` is
/// `cuda:0`), else the one the model set ran on last time.
pub fn expected_device(
    configured: Option<&str>,
    speeds: &Speeds,
    model_set: &str,
) -> Option<String> {
    match configured {
        Some("cuda") => Some("cuda:0".into()),
        Some(d) => Some(d.to_string()),
        None => speeds.last_device.get(model_set).cloned(),
    }
}

/// An estimate of how long a queue takes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// Seconds, start of the run included.
    pub seconds: f64,
    /// `about 4 h 10 min`.
    pub text: String,
    /// The model set and device it was made for.
    pub model_set: String,
    pub device: String,
    /// Images whose size was never measured, estimated from the nearest measured size by
    /// their number of pixels.
    pub images_scaled: usize,
}

impl Speeds {
    /// Reads the speeds of `root`; none (empty) when the file is missing or unreadable. A
    /// value no real run can have written ([`crate::records::plausible`]) is left out, with a
    /// warning naming it: the file is untrusted, and it steers the time budget.
    pub fn load(root: &Path) -> Speeds {
        let Some(bytes) = read_state_file(&root.join(SPEEDS_FILE)) else {
            return Speeds::default();
        };
        match serde_json::from_slice::<Speeds>(&bytes) {
            Ok(speeds) => speeds.plausible(),
            Err(e) => {
                tracing::warn!("ignoring {SPEEDS_FILE}: it is not a file of speeds: {e}");
                Speeds::default()
            }
        }
    }

    /// These speeds without the values a real run cannot have measured.
    fn plausible(mut self) -> Speeds {
        fn keep<V: std::fmt::Debug>(
            map: &mut BTreeMap<String, V>,
            what: &str,
            ok: impl Fn(&V) -> bool,
        ) {
            map.retain(|key, value| {
                let keep = ok(value);
                if !keep {
                    tracing::warn!(
                        "ignoring {SPEEDS_FILE}: {what} {} = {}, which no run can have measured",
                        escape(key),
                        escape(&format!("{value:?}"))
                    );
                }
                keep
            });
        }
        keep(&mut self.per_iteration, "per_iteration", |v| {
            plausible::seconds_per_iteration(*v)
        });
        keep(&mut self.startup, "startup", |v| {
            plausible::startup_seconds(*v)
        });
        keep(&mut self.factor, "factor", |v| plausible::factor(*v));
        keep(&mut self.last_device, "last_device", |v| {
            plausible::device(v)
        });
        self
    }

    /// Seconds per iteration of one image of `size` (engine size), when measured.
    pub fn seconds_per_iteration(
        &self,
        model_set: &str,
        device: &str,
        size: [u32; 2],
    ) -> Option<f64> {
        self.per_iteration
            .get(&key(model_set, device, size))
            .copied()
    }

    /// Seconds per iteration for `size`: measured, else scaled by pixels from the measured
    /// size of the same model set and device nearest to it. `(seconds, scaled)`.
    fn rate_for(&self, model_set: &str, device: &str, size: [u32; 2]) -> Option<(f64, bool)> {
        if let Some(r) = self.seconds_per_iteration(model_set, device, size) {
            return Some((r, false));
        }
        let prefix = format!("{model_set}@{device}@");
        let pixels = |[w, h]: [u32; 2]| f64::from(w) * f64::from(h);
        let want = pixels(size);
        self.per_iteration
            .iter()
            .filter_map(|(k, r)| {
                let (w, h) = k.strip_prefix(&prefix)?.split_once('x')?;
                let have = pixels([w.parse().ok()?, h.parse().ok()?]);
                Some((have, *r))
            })
            .min_by(|a, b| (a.0 - want).abs().total_cmp(&(b.0 - want).abs()))
            .map(|(have, r)| (r * want / have.max(1.0), true))
    }

    /// The seconds one image of `size` (as requested) and `iterations` takes with
    /// `model_set` on `device` ([`Speeds::estimate`] without the start of the run).
    pub fn image_seconds(
        &self,
        model_set: &str,
        device: &str,
        size: [u32; 2],
        iterations: u32,
    ) -> Option<f64> {
        let factor = self
            .factor
            .get(model_set)
            .copied()
            .unwrap_or(DEFAULT_FACTOR);
        let (rate, _) = self.rate_for(model_set, device, engine_size(size, factor))?;
        Some(rate * f64::from(iterations))
    }

    /// How long making `images` (`(requested size, iterations)`) takes with `model_set` on
    /// `device`, start of the run included; `None` when nothing of that model set on that
    /// device was ever measured.
    pub fn estimate(
        &self,
        model_set: &str,
        device: &str,
        images: &[([u32; 2], u32)],
    ) -> Option<Estimate> {
        let factor = self
            .factor
            .get(model_set)
            .copied()
            .unwrap_or(DEFAULT_FACTOR);
        let mut seconds = if images.is_empty() {
            0.0
        } else {
            self.startup
                .get(&format!("{model_set}@{device}"))
                .copied()
                .unwrap_or(0.0)
        };
        let mut images_scaled = 0;
        for (size, iterations) in images {
            let (rate, scaled) = self.rate_for(model_set, device, engine_size(*size, factor))?;
            images_scaled += usize::from(scaled);
            seconds += rate * f64::from(*iterations);
        }
        Some(Estimate {
            seconds,
            text: about(seconds),
            model_set: model_set.to_string(),
            device: device.to_string(),
            images_scaled,
        })
    }

    fn record(&mut self, key: String, value: f64) {
        if !plausible::seconds_per_iteration(value) {
            tracing::debug!("not recording {value} s per iteration for {}", escape(&key));
            return;
        }
        let v = self.per_iteration.entry(key).or_insert(value);
        *v = WEIGHT_OF_NEW * value + (1.0 - WEIGHT_OF_NEW) * *v;
    }
}

/// A file of `.runvqgan/` (written by runvqgan): read without following a link, at most
/// 4 MiB; `None` when missing or unreadable.
pub fn read_state_file(path: &Path) -> Option<Vec<u8>> {
    crate::shared_folder::confined::read_own_file(path, 4 << 20)
}

/// A duration as people say it: `about 4 h 10 min`, `about 12 min`, `about 40 s`.
pub fn about(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    if s < 60 {
        return format!("about {s} s");
    }
    let minutes = (s + 30) / 60;
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("about {m} min"),
        (h, 0) => format!("about {h} h"),
        (h, m) => format!("about {h} h {m} min"),
    }
}

/// Keeps the speeds of a run: every written image updates its size's speed, the models'
/// loading updates the start-up time; the file is rewritten (atomically) after each.
pub struct SpeedSink {
    root: PathBuf,
    model_set: String,
    started: SystemTime,
    state: Mutex<SinkState>,
}

struct SinkState {
    device: Option<String>,
    factor: u32,
}

impl SpeedSink {
    /// A sink for a run of `model_set` on `root` that started at `started`.
    pub fn new(root: &Path, model_set: &str, started: SystemTime) -> SpeedSink {
        SpeedSink {
            root: root.to_path_buf(),
            model_set: model_set.to_string(),
            started,
            state: Mutex::new(SinkState {
                device: None,
                factor: DEFAULT_FACTOR,
            }),
        }
    }

    /// Reads the file again (another run on the root may have written it), changes it,
    /// writes it back.
    fn update(&self, change: impl FnOnce(&mut Speeds)) {
        let mut speeds = Speeds::load(&self.root);
        change(&mut speeds);
        let bytes = serde_json::to_vec_pretty(&speeds).expect("speeds always serialise");
        let written = crate::shared_folder::state::StateDir::open(&self.root)
            .map_err(std::io::Error::from)
            .and_then(|state| state.write_atomic(SPEEDS_NAME, &bytes, 0o644));
        if let Err(e) = written {
            tracing::warn!(
                "cannot write {}/{STATE_DIR}/speeds.json: {e}",
                self.root.display()
            );
        }
    }
}

impl Sink for SpeedSink {
    fn event(&self, event: &Event, at: SystemTime, _follow: &mut Vec<Event>) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match event {
            Event::ModelSetLoaded { device, factor, .. } => {
                state.device = Some(device.clone());
                state.factor = *factor;
                let startup = at
                    .duration_since(self.started)
                    .unwrap_or_default()
                    .as_secs_f64();
                let (set, device, factor) = (self.model_set.clone(), device.clone(), *factor);
                self.update(|s| {
                    if plausible::startup_seconds(startup) {
                        s.startup.insert(format!("{set}@{device}"), startup);
                    }
                    s.factor.insert(set.clone(), factor);
                    s.last_device.insert(set, device);
                });
            }
            Event::ImageWritten {
                seconds,
                iterations,
                batch_size,
                size,
                ..
            } => {
                let Some(device) = state.device.clone() else {
                    return;
                };
                let per_image =
                    seconds / f64::from((*iterations).max(1)) / f64::from((*batch_size).max(1));
                let k = key(&self.model_set, &device, *size);
                self.update(|s| s.record(k, per_image));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured() -> Speeds {
        let mut s = Speeds::default();
        s.per_iteration
            .insert(key("default", "cuda:0", [448, 288]), 0.1);
        s.startup.insert("default@cuda:0".into(), 20.0);
        s.factor.insert("default".into(), 16);
        s
    }

    #[test]
    fn the_engine_rounds_each_side_down_to_its_factor() {
        assert_eq!(engine_size([450, 300], 16), [448, 288]);
        assert_eq!(engine_size([300, 450], 16), [288, 448]);
        assert_eq!(engine_size([450, 300], 8), [448, 296]);
        assert_eq!(engine_size([10, 10], 16), [16, 16]);
    }

    #[test]
    fn an_estimate_adds_the_start_once_and_every_image_at_its_measured_speed() {
        let e = measured()
            .estimate(
                "default",
                "cuda:0",
                &[([450, 300], 500), ([450, 300], 1000)],
            )
            .unwrap();
        assert!((e.seconds - (20.0 + 50.0 + 100.0)).abs() < 1e-9, "{e:?}");
        assert_eq!(e.text, "about 3 min");
        assert_eq!(e.images_scaled, 0);
    }

    #[test]
    fn an_unmeasured_size_is_scaled_by_pixels_and_an_unmeasured_device_has_no_estimate() {
        let s = measured();
        let e = s
            .estimate("default", "cuda:0", &[([224, 144], 100)])
            .unwrap();
        assert!(
            (e.seconds - (20.0 + 0.1 * 100.0 / 4.0)).abs() < 1e-9,
            "{e:?}"
        );
        assert_eq!(e.images_scaled, 1);
        assert_eq!(s.estimate("default", "cuda:1", &[([450, 300], 100)]), None);
        assert_eq!(s.estimate("big", "cuda:0", &[([450, 300], 100)]), None);
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(about(15_000.0), "about 4 h 10 min");
        assert_eq!(about(7200.0), "about 2 h");
        assert_eq!(about(89.0), "about 1 min");
        assert_eq!(about(91.0), "about 2 min");
        assert_eq!(about(42.4), "about 42 s");
    }

    #[test]
    fn a_new_measurement_moves_the_stored_speed_halfway() {
        let mut s = measured();
        s.record(key("default", "cuda:0", [448, 288]), 0.2);
        assert!(
            (s.seconds_per_iteration("default", "cuda:0", [448, 288])
                .unwrap()
                - 0.15)
                .abs()
                < 1e-12
        );
        s.record(key("default", "cuda:0", [448, 288]), f64::NAN);
        assert!(
            (s.seconds_per_iteration("default", "cuda:0", [448, 288])
                .unwrap()
                - 0.15)
                .abs()
                < 1e-12
        );
    }

    #[test]
    fn values_no_run_can_have_measured_are_left_out() {
        let mut s = measured();
        s.per_iteration.insert(key("default", "cpu", [32, 32]), 1e9);
        s.per_iteration
            .insert(key("default", "cpu", [16, 16]), -1.0);
        s.startup.insert("default@cpu".into(), 1e12);
        s.factor.insert("big".into(), 100_000);
        s.last_device
            .insert("default".into(), "cpu\u{1b}[31m".into());
        assert_eq!(s.plausible(), measured());
    }

    #[test]
    fn the_configured_device_wins_and_cuda_means_gpu_0() {
        let mut s = measured();
        s.last_device.insert("default".into(), "cpu".into());
        assert_eq!(
            expected_device(Some("cuda"), &s, "default").as_deref(),
            Some("cuda:0")
        );
        assert_eq!(expected_device(None, &s, "default").as_deref(), Some("cpu"));
        assert_eq!(expected_device(None, &s, "big"), None);
    }
}
