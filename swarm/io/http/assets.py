"""The dashboard page's files (swarm/io/http/dashboard/), read once at start
into the fixed map the server looks requests up in."""

from __future__ import annotations

from pathlib import Path

DASHBOARD_DIR = Path(__file__).resolve().parent / "dashboard"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}
PLACEHOLDER = (b"The swarm dashboard page is not installed (swarm/io/http/dashboard/ is empty).\n"
               b"/api/status, /api/events and /metrics work.\n")

Asset = tuple[bytes, str]  # body, content type


def load_assets(folder: Path) -> dict[str, Asset]:
    """Every visible file under ``folder``, by its path relative to it: the
    fixed map requests are looked up in, so no request path ever reaches the
    file system."""
    assets: dict[str, Asset] = {}
    if not folder.is_dir():
        return assets
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        content_type = CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
        assets[relative.as_posix()] = (path.read_bytes(), content_type)
    return assets
