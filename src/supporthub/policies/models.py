"""Policies and their versions; a version keeps the exact file it was loaded from."""

from __future__ import annotations

import hashlib

from django.db import models
from django.utils import timezone

from supporthub.policies import schema
from supporthub.policies.loader import load_policy

# Parsed documents by sha256 of their text: a version's text never changes once stored.
_DOCUMENTS: dict[str, schema.Policy] = {}


class Policy(models.Model):
    """A written support policy, known by a stable key; its content lives in versions."""

    key = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["key"]
        verbose_name_plural = "policies"

    def __str__(self) -> str:
        return f"{self.name} ({self.key})"


class PolicyVersion(models.Model):
    """One loaded policy file, in force from its effective date until the next version's."""

    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="versions")
    effective_date = models.DateField()
    sha256 = models.CharField(max_length=64)
    source_name = models.CharField(max_length=255)
    source_text = models.TextField()
    loaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["policy", "-effective_date"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "effective_date"], name="policies_version_one_per_date"
            ),
        ]
        indexes = [models.Index(fields=["policy", "sha256"], name="policies_version_sha256")]

    def __str__(self) -> str:
        return f"{self.policy.key} effective {self.effective_date.isoformat()}"

    def document(self) -> schema.Policy:
        """The parsed policy; parsed once per process for each distinct text."""
        cached = _DOCUMENTS.get(self.sha256)
        if cached is not None:
            return cached
        if hashlib.sha256(self.source_text.encode()).hexdigest() != self.sha256:
            raise ValueError(f"policy version {self.pk}: stored text does not match its sha256")
        document = load_policy(self.source_text, self.source_name)
        _DOCUMENTS[self.sha256] = document
        return document
