"""A VQGAN-CLIP engine: the method of nerdyrodent's ``generate.py``, written for reuse.

Importing this package does no work: models are loaded by :class:`vqgan_clip.engine.Engine`.
"""

__version__ = "0.1.0"
