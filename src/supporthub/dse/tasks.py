"""The engagement's rhythm as a periodic job of `supporthub worker`: check-in reminders and
the monthly case reports, each written once (the rows decide, so several workers may run it)."""

from __future__ import annotations

from supporthub.dse.report_mail import monthly_reports_send
from supporthub.dse.rhythm import check_in_reminders_send
from supporthub.worker.registry import register

# Reminders are due on a date and reports on a business day: every ten minutes is prompt.
RHYTHM_EVERY = 600.0


def run_rhythm() -> dict[str, int]:
    return {
        "check_in_reminders": check_in_reminders_send(),
        "monthly_reports": monthly_reports_send(),
    }


register("dse rhythm", every=RHYTHM_EVERY, run=run_rhythm)
