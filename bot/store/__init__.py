"""The SQLite feedback store: predictions, votes, model versions and retrain runs."""

from bot.store.core import (
    DB_NAME,
    RETRAIN_STALE_AFTER_S,
    Store,
    default_path,
    pid_alive,
)
from bot.store.records import (
    FeedbackRow,
    ModelVersion,
    PredictionRecord,
    RetrainRun,
    Stats,
    StoredPrediction,
)

__all__ = [
    "DB_NAME",
    "RETRAIN_STALE_AFTER_S",
    "FeedbackRow",
    "ModelVersion",
    "PredictionRecord",
    "RetrainRun",
    "Stats",
    "Store",
    "StoredPrediction",
    "default_path",
    "pid_alive",
]
