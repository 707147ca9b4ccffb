"""Who did it: the actor a service receives, and the user row an audit record stores."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User

# What views and commands pass to services: request.user, or None for the system.
Actor = AbstractBaseUser | AnonymousUser | None


def actor_user(actor: Actor) -> User | None:
    """The user to record as the actor; None for the system or an anonymous request."""
    return actor if isinstance(actor, User) else None
