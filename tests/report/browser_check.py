#!/usr/bin/env python3
"""browser_check.py - checks an echoconf HTML report the way a reader gets it: headless
Chromium renders it (--dump-dom), and the rendered DOM must hold the matrix table, the
legend and at least one evidence panel with its SVG timeline (client and server lanes);
a screenshot is taken; and the file must reference no external URL (no src/href/url()
outside the document, no @import). Exit 0 pass, 1 fail, 77 no Chromium.

usage: browser_check.py REPORT.html SCREENSHOT.png [--cells N] [--no-url-only]
"""
import html.parser
import os
import re
import shutil
import subprocess
import sys
import tempfile

EXTERNAL = [
    (re.compile(r"""(?:src|href|action|poster|data|xlink:href)\s*=\s*["']?(?!#)[^"'\s>]+""", re.I),
     "an attribute that loads or links outside the document"),
    (re.compile(r"url\(\s*['\"]?(?!#)", re.I), "a CSS url() outside the document"),
    (re.compile(r"@import", re.I), "a CSS @import"),
    (re.compile(r"\b(?:https?|ftp)://", re.I), "an absolute URL"),
]


def external_urls(text):
    found = []
    for rx, what in EXTERNAL:
        for m in rx.finditer(text):
            found.append("%s: %s" % (what, m.group(0)[:80]))
    return found


class Dom(html.parser.HTMLParser):
    """Counts what the checks need from the rendered DOM."""

    def __init__(self):
        super().__init__()
        self.stack = []
        self.tables = 0
        self.cells = 0
        self.legend = False
        self.details = 0
        self.svg_in_details = 0
        self.lane_lines = 0
        self.circles = 0
        self.filters_shown = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = (a.get("class") or "").split()
        if tag == "table" and "matrix" in cls:
            self.tables += 1
        if tag == "td" and any(c.startswith("v-") for c in cls) and "matrix" in self.open_classes():
            self.cells += 1
        if a.get("id") == "legend":
            self.legend = True
        if a.get("id") == "filters":
            self.filters_shown = "hidden" not in a
        if tag == "details" and "ev" in cls:
            self.details += 1
        if tag == "svg" and "seq" in cls and "ev" in self.open_classes():
            self.svg_in_details += 1
        if tag == "line" and "lane" in cls:
            self.lane_lines += 1
        if tag == "circle":
            self.circles += 1
        if tag not in ("br", "meta", "line", "circle", "path", "input", "img"):
            self.stack.append(set(cls))

    def handle_endtag(self, tag):
        if tag not in ("br", "meta", "line", "circle", "path", "input", "img") and self.stack:
            self.stack.pop()

    def open_classes(self):
        out = set()
        for s in self.stack:
            out |= s
        return out


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


def run(cmd, timeout):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        print(__doc__)
        return 2
    report, shot = args[0], args[1]
    want_cells = None
    if "--cells" in args:
        want_cells = int(args[args.index("--cells") + 1])
    url_only = "--url-only" in args
    text = open(report, encoding="utf-8").read()
    bad = external_urls(text)
    for b in bad:
        print("FAIL: %s references %s" % (report, b))
    if url_only:
        return 1 if bad else 0
    exe = chromium()
    if not exe:
        print("SKIP: no chromium (tools/install-deps.sh installs it)")
        return 77
    mult = float(os.environ.get("ECHOCONF_TIMEOUT_MULTIPLIER", "1") or 1)
    limit = 60 * max(mult, 1.0)
    url = "file://" + os.path.abspath(report)

    def chrome(extra):
        # A profile directory per run: a second Chromium on the same profile hands its
        # work to the first one (which may still be exiting) and prints nothing.
        profile = tempfile.mkdtemp(prefix="echoconf-chromium.")
        try:
            return run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        "--user-data-dir=" + profile, "--no-first-run"] + extra + [url], limit)
        finally:
            shutil.rmtree(profile, ignore_errors=True)

    dom = chrome(["--dump-dom"])
    shotrun = chrome(["--window-size=1200,1600", "--screenshot=" + os.path.abspath(shot)])
    # With JavaScript off the DOM is the file's own markup. Headless Chromium cannot
    # show that here: with --blink-settings=scriptEnabled=false both --dump-dom and
    # --screenshot produce nothing (measured with Chromium 156), so the source is parsed.
    failures = list(bad)
    if dom.returncode != 0 or "<html" not in dom.stdout:
        failures.append("chromium --dump-dom failed (exit %d): %s" % (dom.returncode, dom.stderr[-400:]))
    d = Dom()
    d.feed(dom.stdout)
    print("rendered DOM: %d matrix table(s), %d verdict cells, legend %s, filters %s, %d evidence "
          "panels, %d SVG timelines inside them, %d lane lines, %d event marks"
          % (d.tables, d.cells, "yes" if d.legend else "no",
             "shown by the script" if d.filters_shown else "hidden", d.details,
             d.svg_in_details, d.lane_lines, d.circles))
    if d.tables != 1:
        failures.append("expected one table.matrix, found %d" % d.tables)
    if want_cells is not None and d.cells != want_cells:
        failures.append("expected %d verdict cells, found %d" % (want_cells, d.cells))
    if not d.legend:
        failures.append("no legend (#legend)")
    if d.filters_shown is not True:
        failures.append("the row filters are missing or still hidden: the inline script did not run")
    if d.details < 1 or d.svg_in_details < 1:
        failures.append("no evidence panel with an SVG timeline")
    if d.lane_lines < 2 or d.circles < 1:
        failures.append("the timeline has no client and server lanes or no events")
    n = Dom()
    n.feed(text)
    print("without JavaScript (the markup): %d matrix table(s), %d verdict cells, %d evidence panels, "
          "%d SVG timelines, filters %s" % (n.tables, n.cells, n.details, n.svg_in_details,
                                            "hidden" if n.filters_shown is False else "shown"))
    if n.tables != 1 or n.cells != d.cells or n.details != d.details or n.svg_in_details < 1:
        failures.append("without JavaScript the page lacks the table, cells or evidence")
    if n.filters_shown is not False:
        failures.append("without JavaScript the (useless) filters are shown")

    if shotrun.returncode != 0 or not os.path.exists(shot):
        failures.append("chromium --screenshot failed (exit %d)" % shotrun.returncode)
    else:
        with open(shot, "rb") as f:
            head = f.read(8)
        size = os.path.getsize(shot)
        print("screenshot: %s, %d bytes" % (shot, size))
        if head != b"\x89PNG\r\n\x1a\n" or size < 20000:
            failures.append("the screenshot is not a PNG of a rendered page (%d bytes)" % size)
    for f in failures:
        print("FAIL: " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
