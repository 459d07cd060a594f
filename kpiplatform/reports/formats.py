"""A report in every format it is read in: HTML (e-mail and preview), plain text, PDF, CSV.

Company names, report names and KPI labels are text from people and plugins, so each format
escapes them its own way: Django's autoescaping in HTML, no markup interpretation in the
PDF (fpdf2 escapes PDF string syntax itself), a leading apostrophe before a spreadsheet
formula character in CSV, and no line breaks in e-mail headers (``formats.header_text``).
"""

from __future__ import annotations

import csv
import io
import re

from django.template.loader import render_to_string
from fpdf import FPDF

from kpiplatform.reports.content import Report, exact

# A CSV cell starting with one of these is read as a formula by spreadsheets (OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def header_text(text: str, limit: int = 250) -> str:
    """``text`` fit for an e-mail header: control characters (line breaks) become spaces."""
    return _CONTROL.sub(" ", text).strip()[:limit]


def spreadsheet_text(text: str) -> str:
    """A text cell that no spreadsheet evaluates as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def subject(report: Report) -> str:
    return header_text(f"{report.company_name}: {report.schedule_name}, {report.period.label}")


def html(report: Report, image_sources: list[str], link: str = "") -> str:
    """The HTML body; ``image_sources[i]`` is the ``src`` of row i's chart (``cid:...`` in
    the e-mail, a ``data:`` URI in the preview)."""
    return render_to_string(
        "reports/email.html",
        {
            "report": report,
            "rows": list(zip(report.rows, image_sources, strict=True)),
            "link": link,
        },
    )


def text(report: Report, link: str = "") -> str:
    lines = [f"{report.company_name}: {report.schedule_name}", f"Period {report.period.label}", ""]
    for row in report.rows:
        parts = [f"{row.name}: {row.value_text}", f"previous {row.previous_text}"]
        if row.change_text:
            parts.append(row.change_text)
        if report.has_goals and row.goal_text:
            parts.append(f"goal {row.goal_text}")
        lines.append(" · ".join(parts))
    if link:
        lines += ["", f"Open your reports: {link}"]
    return "\n".join(lines) + "\n"


CSV_COLUMNS = [
    "company",
    "report",
    "period",
    "period_start",
    "period_end",
    "kpi",
    "kpi_name",
    "unit",
    "value",
    "previous_value",
    "change",
    "change_ratio",
    "goal",
    "goal_met",
    "reason",
]


def csv_bytes(report: Report) -> bytes:
    """One row per KPI with the exact stored values (as the API writes them); the same
    columns whether or not there are goals."""
    columns = CSV_COLUMNS
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    for row in report.rows:
        record = {
            "company": spreadsheet_text(report.company_name),
            "report": spreadsheet_text(report.schedule_name),
            "period": report.period.label,
            "period_start": report.period.start.isoformat(),
            "period_end": report.period.end.isoformat(),
            "kpi": spreadsheet_text(row.key),
            "kpi_name": spreadsheet_text(row.name),
            "unit": row.unit,
            "value": exact(row.value),
            "previous_value": exact(row.previous),
            "change": exact(row.change),
            "change_ratio": exact(row.change_ratio),
            "goal": exact(row.goal),
            "goal_met": {True: "yes", False: "no"}.get(row.goal_met, ""),
            "reason": spreadsheet_text(row.reason),
        }
        writer.writerow({column: record[column] for column in columns})
    # A byte-order mark: spreadsheets then read the file as UTF-8.
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


# The PDF's built-in fonts cover Latin-1; other characters are replaced rather than dropped.
_PDF_REPLACEMENTS = {
    "\u2014": "-",  # em dash
    "\u2013": "-",  # en dash
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
}


def pdf_text(value: str) -> str:
    for old, new in _PDF_REPLACEMENTS.items():
        value = value.replace(old, new)
    return value.encode("latin-1", "replace").decode("latin-1")


def pdf_bytes(report: Report, charts: list[bytes]) -> bytes:
    """The table, then each KPI's chart, on A4 pages."""
    pdf = FPDF(format="A4")
    pdf.set_title(pdf_text(f"{report.company_name}: {report.schedule_name}"))
    pdf.set_creator("kpiplatform")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.multi_cell(0, 8, pdf_text(report.company_name), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 12)
    title = f"{report.schedule_name}: {report.period.label}"
    pdf.multi_cell(0, 7, pdf_text(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    span = f"{report.period.start.isoformat()} to {report.period.last_day.isoformat()}"
    pdf.multi_cell(0, 5, pdf_text(f"{span}, compared with {report.previous.label}"))
    pdf.ln(3)
    headings = ["KPI", report.period.label, report.previous.label, "Change"]
    if report.has_goals:
        headings.append("Goal")
    with pdf.table(text_align="LEFT", first_row_as_headings=True) as table:
        table.row([pdf_text(h) for h in headings])
        for row in report.rows:
            cells = [row.name, row.value_text, row.previous_text, row.change_text or "-"]
            if report.has_goals:
                cells.append(row.goal_text or "-")
            table.row([pdf_text(cell) for cell in cells])
    for row, png in zip(report.rows, charts, strict=True):
        pdf.ln(4)
        pdf.image(io.BytesIO(png), w=180)
        if row.reason:
            pdf.set_font("Helvetica", "I", 8)
            pdf.multi_cell(0, 4, pdf_text(f"{row.name}: {row.reason}"))
            pdf.set_font("Helvetica", "", 9)
    return bytes(pdf.output())
