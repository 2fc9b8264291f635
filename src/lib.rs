//! runvqgan: the nightly VQGAN-CLIP task runner for a shared lab folder.
