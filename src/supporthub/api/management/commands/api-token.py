"""`supporthub api-token ...`: the spelling the documentation and benchmarks use."""

from supporthub.api.management.commands.api_token import Command

__all__ = ["Command"]
