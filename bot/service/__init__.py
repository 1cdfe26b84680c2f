"""The platform-agnostic chat service: see bot.service.core.Service."""

from bot.service.config import ServiceConfig
from bot.service.core import Service
from bot.service.factory import StartupError, load_predictor, model_directory, open_service

__all__ = ["Service", "ServiceConfig", "StartupError", "load_predictor", "model_directory", "open_service"]
