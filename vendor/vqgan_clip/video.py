"""generate.py's video modes and story mode, as the engine follows them.

What generate.py does (nerdyrodent, 2022), read from its loop and written here anew:

- **progress video** (``-vid``, job key ``make_video``): every iteration's decoded image (the
  one CLIP sees in that iteration, before the optimiser's step) is a frame. Its loop runs
  iterations 0 to ``-i`` and saves ``steps/<i>.png`` for each; the video is made of frames
  1 to ``-i`` - 1 (it starts at 1 and stops before the last number): ``-i`` - 1 frames.
- **zoom video** (``-zvid``, ``make_zoom_video``; ``-vid`` is switched off when both are
  given): at the start of every iteration ``i`` that is a multiple of ``-zse``
  (``zoom_frequency``, 0 included) the current image is a frame, and when ``i`` >=
  ``-zs`` (``zoom_start``) it is zoomed about its centre by ``-zsc`` (``zoom_scale``: the
  centre 1/scale of each side is cropped and scaled back up with Lanczos; 1 leaves it),
  shifted by ``-zsx``/``-zsy`` pixels with wrap-around (``zoom_shift_x``/``_y``), encoded
  back into the latent (quantised, as the VQGAN's encoder gives it), and the optimiser is
  made anew (its moments and step count start again). Frames are numbered 0, 1, ...; the
  video is made of every frame but the first (generate.py counts them in ``j``, and the
  video takes 1 to ``j`` - 1).
- **story mode** (``-cpe N``, ``prompt_frequency``): the prompt string is split at ``^``
  into phrases, and only the first is used at the start. At every iteration ``i`` > 0 that
  is a multiple of N, before the iteration, the text prompts become those of the next phrase
  (after the last phrase: the first again). The new prompts are text prompts only: image and
  noise prompts are dropped at the first change, as in generate.py. Without ``-cpe`` only the
  first phrase is ever used.
- **frame rate** (``-vl``, ``video_length`` in seconds, default 10): frames / length,
  clamped to 10..60 frames per second.

generate.py encodes with the ffmpeg program (libx264, yuv420p, crf 17); here PyAV (FFmpeg's
libraries, in its wheels) encodes H.264 in MP4 with yuv420p, which browsers play, frame by
frame as the frames are made: nothing but the finished MP4 (and, if asked, the frames as
PNGs, for comparisons) is written.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageChops

#: generate.py's bounds on the frame rate of a video from ``-vl``.
MIN_FPS, MAX_FPS = 10.0, 60.0
#: The constant rate factor generate.py asks of libx264 (lower: better, larger).
CRF = 17


@dataclass(frozen=True)
class VideoPlan:
    """Which frames a job's video has; :func:`plan_of` makes it from the job."""

    mode: str  # "progress" or "zoom"
    iterations: int
    every: int  # 1 for progress; zoom_frequency for zoom
    length: float

    @property
    def saved_frames(self) -> int:
        """Frames generate.py saves (``steps/0.png`` ...)."""
        if self.mode == "progress":
            return self.iterations + 1
        return self.iterations // self.every + 1

    @property
    def last(self) -> int:
        """The number of the last saved frame in the video (the first is always 1)."""
        # the progress video stops before frame -i (generate.py's range(1, i)), the zoom
        # video takes every saved frame after the first (range(1, j))
        return self.saved_frames - (2 if self.mode == "progress" else 1)

    @property
    def frames(self) -> int:
        """Frames in the video."""
        return max(0, self.last)

    @property
    def fps(self) -> float:
        return float(np.clip(self.frames / self.length, MIN_FPS, MAX_FPS))

    def in_video(self, number: int) -> bool:
        """Whether saved frame ``number`` goes into the video."""
        return 1 <= number <= self.last


def plan_of(job: Mapping[str, Any]) -> VideoPlan | None:
    """The job's video, or None for a still image only."""
    if job.get("make_zoom_video"):
        return VideoPlan("zoom", job["iterations"], job["zoom_frequency"], job["video_length"])
    if job.get("make_video"):
        return VideoPlan("progress", job["iterations"], 1, job["video_length"])
    return None


def video_path(output: str) -> str:
    """The MP4 beside the PNG ``output``: ``x_3.png`` -> ``x_3.mp4``, as generate.py names it."""
    stem, ext = os.path.splitext(output)
    return (stem if ext.lower() == ".png" else output) + ".mp4"


def frame_array(image: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) in [0, 1] -> (H, W, 3) uint8, scaled by 255 and truncated as generate.py."""
    array = image.detach()[0].mul(255).clamp(0, 255).to(torch.uint8)
    return array.permute(1, 2, 0).cpu().numpy()


def zoom_and_shift(frame: np.ndarray, scale: float, shift_x: int, shift_y: int) -> Image.Image:
    """generate.py's zoom: crop the centre 1/scale of each side, Lanczos back to size, then
    shift with wrap-around."""
    image = Image.fromarray(frame, "RGB")
    if scale != 1:
        w, h = image.size
        x, y, half = w / 2, h / 2, scale * 2
        image = image.crop((x - w / half, y - h / half, x + w / half, y + h / half))
        image = image.resize((w, h), Image.LANCZOS)
    if shift_x or shift_y:
        image = ImageChops.offset(image, shift_x, shift_y)
    return image


def story_phrases(prompts: str | None) -> list[str]:
    """The ``^``-separated phrases of a prompt string, stripped (one phrase without ``^``)."""
    return [phrase.strip() for phrase in (prompts or "").split("^")]


class VideoWriter:
    """Takes a job's saved frames in order; encodes those in the video into an MP4.

    The MP4 is written under a temporary name and renamed when complete; ``frames_dir``,
    if given, also gets every saved frame as ``<number>.png`` (generate.py's ``steps/``).
    """

    def __init__(self, plan: VideoPlan, output: str | None, frames_dir: str | None,
                 comment: str) -> None:
        self.plan, self.comment = plan, comment
        self.path = video_path(output) if output else None
        self.frames_dir = frames_dir
        self.saved = 0
        self.encoded = 0
        self._container: Any = None
        self._stream: Any = None
        if frames_dir:
            os.makedirs(frames_dir, exist_ok=True)

    def add(self, frame: np.ndarray) -> None:
        number = self.saved
        self.saved += 1
        if self.frames_dir:
            Image.fromarray(frame, "RGB").save(os.path.join(self.frames_dir, f"{number}.png"))
        if self.path is None or not self.plan.in_video(number):
            return
        if self._container is None:
            self._open(frame.shape[1], frame.shape[0])
        import av

        picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
        for packet in self._stream.encode(picture):
            self._container.mux(packet)
        self.encoded += 1

    def _open(self, width: int, height: int) -> None:
        from fractions import Fraction

        import av

        self._container = av.open(self.path + ".part", mode="w", format="mp4")
        self._container.metadata["comment"] = self.comment
        rate = Fraction(self.plan.fps).limit_denominator(1000)
        stream = self._container.add_stream("libx264", rate=rate)
        # yuv420p halves the colour planes: H.264 players need even sides
        stream.width, stream.height = width - width % 2, height - height % 2
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(CRF), "preset": "medium"}
        self._stream = stream

    def close(self) -> str | None:
        """Finish the MP4 and put it in place; its path, or None if it has no frames."""
        if self._container is None:
            return None
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()
        self._container = None
        os.replace(self.path + ".part", self.path)
        return self.path

    def abandon(self) -> None:
        """Stop without a video (the run failed or was stopped): remove the partial file."""
        if self._container is not None:
            try:
                self._container.close()
            finally:
                self._container = None
                if os.path.exists(self.path + ".part"):
                    os.remove(self.path + ".part")
