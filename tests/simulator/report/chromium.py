"""Headless Chromium (Debian package `chromium`) opening a report file: a DOM dump after a probe
script measured every chart's rendered geometry, and a screenshot."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

# Appended to a copy of the report: after layout, record per chart the rendered size of the
# SVG, how many axes/legends it has and how many tick labels have a non-empty box.
PROBE = """<script>
for (const [i, fig] of document.querySelectorAll('figure.chart').entries()) {
  const svg = fig.querySelector('svg');
  const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
  const ticks = svg ? [...svg.querySelectorAll('.role-axis-label text')]
      .filter(t => t.getBBox().width > 0).length : 0;
  const out = document.createElement('pre');
  out.className = 'probe';
  out.textContent = [i, Math.round(box.width), Math.round(box.height),
      svg ? svg.querySelectorAll('.role-axis').length : 0,
      svg ? svg.querySelectorAll('.role-legend').length : 0, ticks].join(' ');
  document.body.appendChild(out);
}
</script>"""


def chromium() -> str:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed: run bash scripts/install-test-servers.sh")
        pytest.skip("chromium is not installed: run bash scripts/install-test-servers.sh")
    return binary


def _run(args: list[str], cwd: Path) -> str:
    base = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            f"--user-data-dir={cwd / 'chromium-profile'}"]
    done = subprocess.run(base + args, cwd=cwd, capture_output=True, text=True, timeout=180,
                          check=False)
    if done.returncode != 0:
        raise AssertionError(f"chromium exited {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


def dump_dom_with_probe(report: Path, work: Path) -> str:
    probed = work / "probed.html"
    probed.write_text(report.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"),
                      encoding="utf-8")
    return _run(["--dump-dom", probed.as_uri()], work)


def screenshot(report: Path, work: Path, size: tuple[int, int] = (1200, 2400)) -> Path:
    out = work / "shot.png"
    _run([f"--screenshot={out}", f"--window-size={size[0]},{size[1]}", report.as_uri()], work)
    return out
