"""Development tickets: tracker connections, engineering issues, their links to helpdesk
tickets (with each link's stage history), fixing pull requests, and inbound deliveries."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from supporthub import secrets
from supporthub.development.stages import CHOICES, Stage
from supporthub.tickets.models import Message, Ticket


class Tracker(models.TextChoices):
    GITHUB = "github", "GitHub"
    JIRA = "jira", "Jira"
    GENERIC = "generic", "Generic (signed JSON)"


class TrackerConnection(models.Model):
    """One repository or Jira site the product listens to; its secrets are stored encrypted."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(
        max_length=60, unique=True, help_text="The last part of the webhook's address"
    )
    kind = models.CharField(max_length=10, choices=Tracker.choices)
    # GitHub: https://github.com/OWNER/REPO; Jira: https://SITE.atlassian.net; generic: any.
    web_url = models.URLField(max_length=300, help_text="The repository's or Jira site's address")
    api_url = models.URLField(
        max_length=300,
        blank=True,
        help_text="REST API root (blank: https://api.github.com, or the Jira site itself)",
    )
    api_user = models.CharField(
        max_length=200, blank=True, help_text="Jira: the account email the API token belongs to"
    )
    webhook_secret_encrypted = models.TextField(blank=True, editable=False)
    api_token_encrypted = models.TextField(blank=True, editable=False)
    production_environment = models.CharField(
        max_length=100,
        default="production",
        help_text="GitHub: the deployment environment that is production",
    )
    default_branch = models.CharField(
        max_length=100, default="main", help_text="GitHub: the branch production deploys"
    )
    release_is_production = models.BooleanField(
        default=False,
        help_text="GitHub: a published release reaches production (no deployments are used)",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def repository(self) -> str:
        """GitHub: OWNER/REPO, read from the web address."""
        path = self.web_url.split("://", 1)[-1].split("/", 1)
        return path[1].strip("/") if len(path) > 1 else ""

    def webhook_secret(self) -> str:
        return secrets.decrypt(self.webhook_secret_encrypted, what=f"{self.slug}: webhook secret")

    def api_token(self) -> str:
        return secrets.decrypt(self.api_token_encrypted, what=f"{self.slug}: API token")

    def set_webhook_secret(self, plain: str) -> None:
        self.webhook_secret_encrypted = secrets.encrypt(plain)

    def set_api_token(self, plain: str) -> None:
        self.api_token_encrypted = secrets.encrypt(plain)


class EngineeringIssue(models.Model):
    """An issue in an engineering tracker, known by its stable id (a Jira issue's numeric id,
    a GitHub issue's OWNER/REPO#NUMBER); the key and URL follow it when it moves."""

    connection = models.ForeignKey(TrackerConnection, on_delete=models.PROTECT, related_name="+")
    tracker_id = models.CharField(max_length=200)
    key = models.CharField(max_length=200, help_text="What people call it: PROJ-12, owner/repo#7")
    url = models.URLField(max_length=500, blank=True)
    title = models.CharField(max_length=500, blank=True)
    state = models.CharField(max_length=100, blank=True)
    state_reason = models.CharField(max_length=100, blank=True)
    category = models.CharField(max_length=40, blank=True)
    labels = models.JSONField(default=list, blank=True)
    # Jira: the ids of the versions in fixVersions.
    fix_versions = models.JSONField(default=list, blank=True)
    # The tracker's time of the state stored: an older delivery does not overwrite it.
    state_at = models.DateTimeField(null=True, blank=True)
    in_production_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["connection", "key"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "tracker_id"], name="development_issue_unique"
            )
        ]

    def __str__(self) -> str:
        return self.key


class PullRequest(models.Model):
    """A GitHub pull request that fixes one or more issues (closing keywords or an agent's
    link), with its merge commit once merged."""

    connection = models.ForeignKey(TrackerConnection, on_delete=models.PROTECT, related_name="+")
    number = models.PositiveIntegerField()
    url = models.URLField(max_length=500, blank=True)
    title = models.CharField(max_length=500, blank=True)
    state = models.CharField(max_length=20, blank=True)  # open / closed
    base_branch = models.CharField(max_length=200, blank=True)
    merged_at = models.DateTimeField(null=True, blank=True)
    merge_commit_sha = models.CharField(max_length=64, blank=True)
    fixes = models.ManyToManyField(EngineeringIssue, related_name="pull_requests", blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["connection", "number"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "number"], name="development_pr_unique")
        ]

    def __str__(self) -> str:
        return f"PR #{self.number}"


class ProductionEvent(models.Model):
    """A deployment to production, a published release or a released Jira version, kept so
    that a merge that arrives after the release it is part of still reaches production."""

    class Kind(models.TextChoices):
        DEPLOYMENT = "deployment", "Deployment to production"
        RELEASE = "release", "Published release"
        VERSION = "version", "Released Jira version"

    connection = models.ForeignKey(TrackerConnection, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    ref = models.CharField(max_length=200, help_text="Commit, tag or Jira version id")
    name = models.CharField(max_length=200, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "kind", "ref"], name="development_production_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.name or self.ref}"


class TicketLink(models.Model):
    """A helpdesk ticket linked to an engineering issue; one issue links many tickets."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="development_links")
    issue = models.ForeignKey(EngineeringIssue, on_delete=models.PROTECT, related_name="links")
    stage = models.CharField(max_length=20, choices=CHOICES, default=Stage.LOGGED)
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    linked_at = models.DateTimeField(default=timezone.now)
    unlinked_at = models.DateTimeField(null=True, blank=True)
    unlinked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    unlink_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["linked_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["ticket", "issue"],
                condition=Q(unlinked_at__isnull=True),
                name="development_link_active_unique",
                violation_error_message="This ticket is already linked to that issue.",
            )
        ]
        indexes = [
            models.Index(
                fields=["issue"],
                condition=Q(unlinked_at__isnull=True),
                name="development_link_open",
            ),
            models.Index(
                fields=["stage"], condition=Q(unlinked_at__isnull=True), name="development_stage"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} -> {self.issue_id}"

    @property
    def active(self) -> bool:
        return self.unlinked_at is None


class StageMove(models.Model):
    """One move of a link to a new stage, with the customer-visible note it added."""

    link = models.ForeignKey(TicketLink, on_delete=models.CASCADE, related_name="moves")
    previous = models.CharField(max_length=20, choices=CHOICES, blank=True)
    stage = models.CharField(max_length=20, choices=CHOICES)
    at = models.DateTimeField()
    source = models.CharField(max_length=40, help_text="link, delivery:N or reconcile")
    note = models.ForeignKey(Message, on_delete=models.SET_NULL, null=True, blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.link_id}: {self.previous or '-'} -> {self.stage}"


class NoteTemplate(models.Model):
    """The back office's wording of a stage's note; it wins over the policy's and the
    built-in one. Fields: {key}, {stage}, {url}, {title}."""

    stage = models.CharField(max_length=20, choices=CHOICES, unique=True)
    text = models.TextField()

    class Meta:
        ordering = ["stage"]

    def __str__(self) -> str:
        return Stage(self.stage).label


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Waiting"
    SENDING = "sending", "Processing"
    SENT = "sent", "Processed"
    FAILED = "failed", "Failed"


class InboundDelivery(models.Model):
    """One webhook delivery as received (stored before it is answered), processed once on
    the durable queue (development.delivery)."""

    connection = models.ForeignKey(
        TrackerConnection, on_delete=models.PROTECT, related_name="deliveries"
    )
    delivery_id = models.CharField(max_length=200)
    event = models.CharField(max_length=100, blank=True)
    payload_sha256 = models.CharField(max_length=64)
    headers = models.JSONField(default=dict)
    body = models.TextField()
    received_at = models.DateTimeField(default=timezone.now)
    outcome = models.TextField(blank=True, help_text="What processing did with it")
    state = models.CharField(
        max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=300, blank=True)
    last_error = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        verbose_name_plural = "inbound deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "delivery_id"], name="development_delivery_id_unique"
            ),
            models.UniqueConstraint(
                fields=["connection", "payload_sha256"], name="development_delivery_hash_unique"
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state="pending"),
                name="development_delivery_due",
            ),
            models.Index(
                fields=["claimed_at"],
                condition=Q(state="sending"),
                name="development_delivery_sending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event or 'delivery'} {self.delivery_id}"
