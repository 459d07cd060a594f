"""A bounded crawl of a company's pages in a browser: from a start page, follow every link to
the same host (GET only: no form is ever submitted), and report each page that answered an
error status or logged a browser error. Pages added later are reached through the links to
them, so a crawl covers them without being told.

The bound keeps a crawl short where pages repeat a template many times (one page per KPI, per
period, per customer...): at most ``per_shape`` pages whose paths differ only after their
first segment, and ``per_path`` query variants of one path. A link of a shape not seen yet is
visited before the others, so every kind of page is reached within the bound.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from urllib.parse import urldefrag, urljoin, urlsplit

# Files rather than pages: the browser downloads them instead of showing them.
DOWNLOAD_SUFFIXES = (".csv", ".json", ".pdf", ".png", ".svg", ".ico", ".txt")

# After the load event: wait until every chart has been drawn (or has failed, see
# kpi_chart.js) and no htmx request is on its way, then two frames, so that the errors of
# deferred scripts' promises count. A page that never settles is left after 5 s, as one
# with nothing to wait for is left at once.
SETTLE_JS = """
() => new Promise(resolve => {
    const deadline = performance.now() + 5000;
    const pending = () => document.querySelector(
        '[data-chart]:not([data-drawn="drawn"]):not([data-drawn="failed"]), .htmx-request');
    const check = () => (!pending() || performance.now() > deadline)
        ? requestAnimationFrame(() => requestAnimationFrame(resolve))
        : setTimeout(check, 10);
    check();
})
"""

LINKS_JS = """
() => Array.from(document.querySelectorAll('a[href]'))
    .filter(a => !a.hasAttribute('download'))
    .map(a => a.href)
"""


@dataclass
class CrawlReport:
    visited: list[str] = field(default_factory=list)
    # url -> what went wrong there (status, browser errors).
    offending: dict[str, list[str]] = field(default_factory=dict)


def shape(path: str) -> str:
    """``/kpis/mrr/drill/`` -> ``/kpis/*/*/``: the first segment names the kind of page."""
    parts = path.strip("/").split("/")
    return (
        "/" + "/".join(parts[:1] + ["*"] * (len(parts) - 1)) + ("/" if path.endswith("/") else "")
    )


def crawl(
    page,
    errors,
    start_url: str,
    limit: int = 150,
    per_shape: int = 10,
    per_path: int = 2,
    skip_prefixes: tuple[str, ...] = (),
) -> CrawlReport:
    """Visit pages from ``start_url`` breadth first; ``errors`` is the page's
    :class:`~kpiplatform.testing.browser.BrowserErrors` (its messages are read per page)."""
    host = urlsplit(start_url).netloc
    fresh: deque[str] = deque([start_url])  # links of a shape not queued before
    queue: deque[str] = deque()
    seen = {start_url}
    shapes: Counter[str] = Counter()
    paths: Counter[str] = Counter()
    report = CrawlReport()
    while (fresh or queue) and len(report.visited) < limit:
        url = (fresh or queue).popleft()
        before = len(errors.messages)
        response = page.goto(url, wait_until="load")
        page.evaluate(SETTLE_JS)
        report.visited.append(url)
        problems = list(errors.messages[before:])
        if response is None or response.status >= 400:
            problems.insert(0, f"status {None if response is None else response.status}")
        if problems:
            report.offending[url] = problems
        for link in page.evaluate(LINKS_JS):
            link, _ = urldefrag(urljoin(url, link))
            parts = urlsplit(link)
            if parts.scheme not in ("http", "https") or parts.netloc != host or link in seen:
                continue
            if parts.path.endswith(DOWNLOAD_SUFFIXES) or parts.path.startswith(skip_prefixes):
                continue
            if shapes[shape(parts.path)] >= per_shape or paths[parts.path] >= per_path:
                continue
            seen.add(link)
            new_shape = shapes[shape(parts.path)] == 0
            if paths[parts.path] == 0:
                shapes[shape(parts.path)] += 1
            paths[parts.path] += 1
            (fresh if new_shape else queue).append(link)
    return report
