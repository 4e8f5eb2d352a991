"""Refresh docs/images/web.png: the web app with the bundled model, driven by Debian's Chromium.

    .venv/bin/python scripts/web_screenshot.py [PROMPT] [--out docs/images/web.png]

Needs `apt-get install chromium` and the dev extras (playwright); downloads nothing.
"""
from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("prompt", nargs="?", default="a person waves with the right hand")
    ap.add_argument("--out", default="docs/images/web.png")
    ap.add_argument("--samples", default="3")
    ap.add_argument("--seed", default="0")
    ap.add_argument("--frame", type=int, default=56, help="frame shown (paused)")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "t2mgpt", "serve", "--port", str(port), "--device", "cpu"])
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(url + "/api/health", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 760})
            page.goto(url + "/")
            page.wait_for_function("() => window.__t2mgpt && window.__t2mgpt.state.ready", timeout=60_000)
            page.fill("#prompt", args.prompt)
            page.click(f"#samples button:has-text('{args.samples}')")
            page.fill("#seed", args.seed)
            page.click("#generate")
            page.wait_for_function(f"() => window.__t2mgpt.state.samples === {int(args.samples)}", timeout=120_000)
            page.keyboard.press("Space")  # pause, then show one frame
            page.evaluate(f"() => {{ const s = document.getElementById('scrub'); s.value = '{args.frame}'; "
                          "s.dispatchEvent(new Event('input')); }")
            page.mouse.move(1, 1)
            page.wait_for_timeout(500)
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=args.out)
            browser.close()
    finally:
        server.terminate()
        server.wait(10)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
