"""The report e-mail: text and HTML alternatives with the charts inline, PDF and CSV attached.

MIME layout: ``mixed[ related[ alternative[text, html], chart images ], PDF, CSV ]``; the
HTML refers to each chart by its Content-ID (``cid:``), which mail programs show inline.
"""

from __future__ import annotations

from email.mime.image import MIMEImage
from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import SafeMIMEMultipart

from kpiplatform.reports import charts, formats
from kpiplatform.reports.content import Report


class RelatedImagesMessage(EmailMultiAlternatives):
    """An ``EmailMultiAlternatives`` whose alternatives travel with inline images."""

    def __init__(self, *args, inline_images: list[tuple[str, bytes]] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.inline_images = list(inline_images)

    def _create_alternatives(self, msg):
        msg = super()._create_alternatives(msg)
        if not self.inline_images:
            return msg
        related = SafeMIMEMultipart(
            _subtype="related", encoding=self.encoding or settings.DEFAULT_CHARSET
        )
        related.attach(msg)
        for content_id, png in self.inline_images:
            image = MIMEImage(png, "png")
            image.add_header("Content-ID", f"<{content_id}>")
            image.add_header("Content-Disposition", "inline", filename=f"{content_id}.png")
            related.attach(image)
        return related


def content_id(index: int) -> str:
    # Numbered, not named after the KPI: a key from a plugin is not trusted in a header.
    return f"chart-{index + 1}@kpiplatform"


def build_message(report: Report, recipients: list[str], link: str) -> RelatedImagesMessage:
    pngs = [charts.chart_png(row) for row in report.rows]
    ids = [content_id(i) for i in range(len(pngs))]
    message = RelatedImagesMessage(
        subject=formats.subject(report),
        body=formats.text(report, link),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        headers={"Message-ID": make_msgid(domain=settings.KPI_BASE_DOMAIN)},
        inline_images=list(zip(ids, pngs, strict=True)),
    )
    message.attach_alternative(formats.html(report, [f"cid:{i}" for i in ids], link), "text/html")
    name = f"report-{report.period.label}"
    message.attach(f"{name}.pdf", formats.pdf_bytes(report, pngs), "application/pdf")
    message.attach(f"{name}.csv", formats.csv_bytes(report), "text/csv")
    return message
