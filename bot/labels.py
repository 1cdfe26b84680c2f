"""Moved to `training.labels` (retraining needs it, and `training` must not import `bot`)."""
from training.labels import *  # noqa: F403
from training.labels import __all__  # noqa: F401
