"""One cog per feature: guessing, votes, info commands, admin commands."""

from bot.discord_app.cogs.admin import AdminCog
from bot.discord_app.cogs.guess import GuessCog
from bot.discord_app.cogs.info import InfoCog
from bot.discord_app.cogs.votes import VotesCog

__all__ = ["AdminCog", "GuessCog", "InfoCog", "VotesCog"]
