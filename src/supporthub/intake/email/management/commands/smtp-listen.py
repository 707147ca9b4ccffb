"""`supporthub smtp-listen`: the spelling the documentation uses."""

from supporthub.intake.email.management.commands.smtp_listen import Command

__all__ = ["Command"]
