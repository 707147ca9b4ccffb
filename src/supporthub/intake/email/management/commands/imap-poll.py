"""`supporthub imap-poll`: the spelling the documentation uses."""

from supporthub.intake.email.management.commands.imap_poll import Command

__all__ = ["Command"]
