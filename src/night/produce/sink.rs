//! What a night does at each step of an image: the progress display, the losses kept for
//! the sidecar's loss curve, and the `mid-image` test hook.

use std::sync::{Arc, Mutex};

use crate::call::sidecar::LOSS_CURVE_POINTS;
use crate::engine::ProgressSink;
use crate::process::testhook;
use crate::records::progress::ImageProgress;

/// The progress display of one image, with the `mid-image` test hook after iteration 2;
/// keeps the loss of every iteration for the sidecar's loss curve.
pub(super) struct HookedSink(pub(super) Arc<ImageProgress>, pub(super) Mutex<Vec<f64>>);

impl HookedSink {
    /// The losses at up to [`LOSS_CURVE_POINTS`] evenly spaced iterations (the last one
    /// included), as the sidecar's `loss-curve` value.
    pub(super) fn curve(&self) -> String {
        let losses = self.1.lock().unwrap_or_else(|e| e.into_inner());
        let n = losses.len();
        if n == 0 {
            return String::new();
        }
        let points = n.min(LOSS_CURVE_POINTS);
        (0..points)
            .map(|i| {
                losses[if points == 1 {
                    n - 1
                } else {
                    i * (n - 1) / (points - 1)
                }]
            })
            .map(|l| format!("{l:.4}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl ProgressSink for HookedSink {
    fn step(&self, iteration: u32, total: u32, loss: f64) {
        self.0.step(iteration, total, loss);
        if loss.is_finite() {
            self.1.lock().unwrap_or_else(|e| e.into_inner()).push(loss);
        }
        if iteration == 2 {
            testhook::reached("mid-image");
        }
    }
}
