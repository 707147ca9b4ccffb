"""The monthly case report as a PDF (WeasyPrint, set in DejaVu Sans: `scripts/ensure-fonts`
installs it with pango) and as CSV (one row per figure: section, item, value, unit)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from django.template.loader import render_to_string

from supporthub.dse.report import ReportFigures

# The fonts the PDF's stylesheet names; scripts/ensure-fonts installs them (fonts-dejavu-core).
PDF_FONTS = ("DejaVu Sans", "DejaVu Sans Mono")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def report_pdf(figures: ReportFigures) -> bytes:
    """The report as PDF bytes (A4, page numbers in the footer)."""
    # Imported here: WeasyPrint takes about 1.5 s to import (it parses its stylesheets), which
    # every process that loads the URLs would otherwise pay at start.
    import weasyprint

    html = render_to_string("dse/report/pdf.html", {"figures": figures})
    css = render_to_string("dse/report/pdf.css", {"fonts": PDF_FONTS})
    document = weasyprint.HTML(string=html, base_url=None)
    pdf = document.write_pdf(stylesheets=[weasyprint.CSS(string=css)])
    if not isinstance(pdf, bytes):  # write_pdf returns the bytes when given no target
        raise TypeError("WeasyPrint returned no PDF")
    return pdf


def _rows(figures: ReportFigures) -> Iterator[tuple[str, str, str, str]]:
    yield ("engagement", "organisation", figures.organisation, "")
    yield ("engagement", "designated support engineer", figures.engineer, "")
    yield ("engagement", "sku", figures.sku, "")
    yield ("engagement", "month", f"{figures.month:%Y-%m}", "")
    yield ("engagement", "first day counted", figures.first_day.isoformat(), figures.zone)
    yield ("engagement", "last day counted", figures.last_day.isoformat(), figures.zone)
    yield ("engagement", "generated at", figures.generated_at.isoformat(), "UTC")
    for row in (*figures.severities, figures.total):
        label = row.name if row.severity else "all severities"
        yield ("cases", f"opened: {label}", str(row.opened), "cases")
        yield ("cases", f"closed: {label}", str(row.closed), "cases")
    for row in (*figures.severities, figures.total):
        label = row.name if row.severity else "all severities"
        yield ("first response", f"met: {label}", str(row.met), "cases")
        yield ("first response", f"breached: {label}", str(row.breached), "cases")
        yield ("first response", f"still in time: {label}", str(row.pending), "cases")
        yield ("first response", f"no target: {label}", str(row.no_target), "cases")
        shown = "" if row.attainment is None else str(row.attainment)
        yield ("first response", f"attainment: {label}", shown, "percent")
    yield ("hours", "used", f"{figures.hours_used}", "hours")
    yield ("hours", "monthly limit", f"{figures.limit_hours}", "hours")
    yield ("hours", "percent of limit", str(figures.percent_of_limit), "percent")
    yield ("hours", "entries over the limit", str(figures.entries_over_limit), "entries")
    for case in figures.cases:
        yield ("hours by case", f"{case.reference} {case.subject}", f"{case.hours}", "hours")
    yield ("check-ins", "held", str(len(figures.check_ins)), "check-ins")
    for held in figures.check_ins:
        what = held.kind + (f" ({held.milestone})" if held.milestone else "")
        yield ("check-ins", f"{held.date.isoformat()} {what}", held.attendees, "attendees")
    yield ("administrative days", "used", str(len(figures.administrative_days)), "days")
    for day in figures.administrative_days:
        yield ("administrative days", day.isoformat(), "1", "days")
    for item in figures.out_of_scope:
        yield ("out of scope", item, "", "")


def report_csv(figures: ReportFigures) -> str:
    """The report as CSV text: a header, then section, item, value, unit per figure."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(("section", "item", "value", "unit"))
    writer.writerows(tuple(_cell(value) for value in row) for row in _rows(figures))
    return out.getvalue()


def _cell(value: str) -> str:
    """A cell a spreadsheet will not run: text starting like a formula gets a quote first
    (OWASP's CSV injection advice); a ticket's subject is the customer's text."""
    return f"'{value}" if value[:1] in FORMULA_STARTS else value


def report_filename(figures: ReportFigures, extension: str) -> str:
    name = "".join(c if c.isalnum() else "-" for c in figures.organisation.lower()).strip("-")
    return f"dse-report-{name}-{figures.month:%Y-%m}.{extension}"
