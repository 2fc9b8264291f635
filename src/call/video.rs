//! Which video a job makes, from its options: the same arithmetic as the engine's
//! `vendor/vqgan_clip/video.py` (`VideoPlan`), so that `validate`, `plan`, the estimate and
//! the run agree with the frames the engine writes. The options themselves are rows of the
//! option table ([`crate::call::options`]: `-vid`, `-zvid`, `-zse`, `-cpe`, `-vl`, ...).

use crate::call::job::EngineOptions;
use crate::call::options::Value;

/// generate.py's defaults for `-zse` and `-vl`.
pub const DEFAULT_ZOOM_EVERY: u32 = 10;
/// `-vl`'s default, seconds.
pub const DEFAULT_SECONDS: f64 = 10.0;
/// generate.py's bounds on the frame rate.
pub const FPS_RANGE: (f64, f64) = (10.0, 60.0);

/// A progress video (a frame every iteration) or a zoom video (a frame every `-zse`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoMode {
    /// `-vid`.
    Progress,
    /// `-zvid` (wins over `-vid`, as in generate.py).
    Zoom,
}

/// The video of one job.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VideoPlan {
    /// Which video.
    pub mode: VideoMode,
    /// Iterations between frames (1 for a progress video).
    pub every: u32,
    /// Frames in the MP4.
    pub frames: u32,
    /// Its frame rate: frames / `-vl`, within [`FPS_RANGE`].
    pub fps: f64,
    /// `-vl`.
    pub seconds: f64,
}

impl VideoPlan {
    /// The video a job with these options and iterations makes, or `None` (a still only).
    pub fn of(options: &EngineOptions, iterations: u32) -> Option<VideoPlan> {
        let on = |key| options.get(key) == Some(&Value::Switch);
        let mode = if on("make_zoom_video") {
            VideoMode::Zoom
        } else if on("make_video") {
            VideoMode::Progress
        } else {
            return None;
        };
        let every = match (mode, options.get("zoom_frequency")) {
            (VideoMode::Progress, _) => 1,
            (_, Some(Value::Int(n))) => u32::try_from(*n).unwrap_or(u32::MAX).max(1),
            _ => DEFAULT_ZOOM_EVERY,
        };
        let seconds = match options.get("video_length") {
            Some(Value::Number(s)) => *s,
            _ => DEFAULT_SECONDS,
        };
        // generate.py saves frames 0, 1, ... and its video takes 1 .. i - 1 (progress: every
        // iteration from 0 to i is saved) or 1 .. j - 1 (zoom: j frames saved)
        let frames = match mode {
            VideoMode::Progress => iterations.saturating_sub(1),
            VideoMode::Zoom => iterations / every,
        };
        let fps = (f64::from(frames) / seconds).clamp(FPS_RANGE.0, FPS_RANGE.1);
        Some(VideoPlan {
            mode,
            every,
            frames,
            fps,
            seconds,
        })
    }

    /// How long the MP4 plays, seconds.
    pub fn duration(&self) -> f64 {
        f64::from(self.frames) / self.fps
    }

    /// The extra work of the video, counted in iterations for the estimate: a zoom frame
    /// decodes the image, re-encodes it into the latent and encodes an H.264 frame (counted
    /// as one iteration, which does all that and CLIP's forward and backward passes); a
    /// progress frame only adds the H.264 frame (counted as a tenth of one).
    pub fn extra_iterations(&self) -> u32 {
        match self.mode {
            VideoMode::Zoom => self.frames,
            VideoMode::Progress => self.frames.div_ceil(10),
        }
    }
}

/// The iterations an image's work counts as, for the estimate and the night's time budget:
/// its iterations plus its video's [`VideoPlan::extra_iterations`].
pub fn work_iterations(options: &EngineOptions, iterations: u32) -> u32 {
    let extra = VideoPlan::of(options, iterations).map_or(0, |v| v.extra_iterations());
    iterations.saturating_add(extra)
}

/// Story mode's `-cpe`: the next `^` phrase every this many iterations, if set.
pub fn story_every(options: &EngineOptions) -> Option<u32> {
    match options.get("prompt_frequency") {
        Some(Value::Int(n)) if *n > 0 => u32::try_from(*n).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::options;

    fn plan(flags: &str, iterations: u32) -> Option<VideoPlan> {
        let words: Vec<String> = flags.split(' ').map(str::to_string).collect();
        let mut set = EngineOptions::default();
        let mut i = 0;
        while i < words.len() {
            let option = options::find(&words[i]).unwrap();
            i += 1;
            let values = options::take_values(option.kind, &words, &mut i);
            set.set(option, option.kind.parse(&values).unwrap());
        }
        VideoPlan::of(&set, iterations)
    }

    #[test]
    fn frames_are_those_of_generate_py() {
        // measured against generate.py by scripts/compare_upstream.py (docs/method.md)
        assert_eq!(plan("-vid", 8).unwrap().frames, 7);
        assert_eq!(plan("-zvid -zse 3", 8).unwrap().frames, 2);
        assert_eq!(plan("-zvid -zse 2", 8).unwrap().frames, 4);
        assert_eq!(plan("-zvid", 200).unwrap().frames, 20);
        assert_eq!(plan("-vid -zvid -zse 4", 8).unwrap().mode, VideoMode::Zoom);
        assert_eq!(plan("-lr 0.2", 8), None);
    }

    #[test]
    fn the_estimate_counts_a_video_as_extra_iterations() {
        assert_eq!(plan("-zvid -zse 10", 100).unwrap().extra_iterations(), 10);
        assert_eq!(plan("-vid", 100).unwrap().extra_iterations(), 10); // 99 frames / 10
        assert_eq!(work_iterations(&EngineOptions::default(), 100), 100);
    }

    #[test]
    fn frame_rate_is_frames_over_length_within_10_to_60() {
        assert_eq!(plan("-vid", 8).unwrap().fps, 10.0);
        assert_eq!(plan("-vid -vl 0.25", 8).unwrap().fps, 28.0);
        assert_eq!(plan("-vid", 2000).unwrap().fps, 60.0);
        assert_eq!(plan("-vid -vl 20", 401).unwrap().fps, 20.0);
    }
}
