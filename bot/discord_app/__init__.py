"""The Discord front end: `python -m bot discord`.

    serve(service, settings)   run the bot until cancelled (see bot.cli)
    sync_commands(settings)    register the slash commands (`python -m bot sync-commands`)

Thin by design: it turns discord objects into bot.replies types at the edge, calls the Service,
and renders its Replies as embeds. Layout: client.py (SleeveBot, intents, serve, sync),
embeds.py (Reply → Embed), views.py (the persistent "Correct genre…" menu), replying.py
(send + attach + vote reactions), cogs/ (guess, votes, info, admin).
"""

from bot.discord_app.client import SleeveBot, make_intents, serve, sync_commands

__all__ = ["SleeveBot", "make_intents", "serve", "sync_commands"]
