"""GraphiQL on every subgraph loads only assets its own service serves: the page works without internet."""

from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from devtools.services import subgraphs

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")  # Debian's `chromium` package


def graphiql_url(platform, service: str) -> str:
    config = next(s for s in subgraphs() if s["name"] == service)
    return platform.services[service] + config["graphql_path"]


class References(HTMLParser):
    """Every URL the page makes the browser load: script src, link href, img src."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline: list[str] = []  # inline script text (an import map would name hosts there)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href", "img": "src", "iframe": "src"}.get(tag)
        for name, value in attrs:
            if name == wanted and value:
                self.urls.append(value)

    def handle_data(self, data: str) -> None:
        if self.lasttag == "script" and data.strip():
            self.inline.append(data)


@pytest.mark.parametrize("service", [s["name"] for s in subgraphs()])
def test_graphiql_references_no_external_host_and_its_assets_are_served(platform, service):
    page_url = graphiql_url(platform, service)
    page = httpx.get(page_url, headers={"accept": "text/html"}, timeout=20)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), page.text[:300]
    references = References()
    references.feed(page.text)
    assert any(url.endswith(".js") for url in references.urls), references.urls  # GraphiQL's scripts are there
    own_host = urlsplit(page_url).netloc
    for reference in references.urls:
        url = urljoin(page_url, reference)
        assert urlsplit(url).netloc == own_host, f"{service} GraphiQL loads {url} from another host"
        asset = httpx.get(url, timeout=20)
        assert asset.status_code == 200 and asset.content, f"{url}: {asset.status_code}"
    for script in references.inline:
        assert "http://" not in script and "https://" not in script, script[:300]


# CI installs chromium (.ci/run) and must run this test; elsewhere a machine without it skips it.
@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                    reason="no headless chromium on this machine (apt-get install chromium)")
@pytest.mark.parametrize("service", [s["name"] for s in subgraphs()])
def test_graphiql_renders_in_a_browser(platform, service):
    """The page as a browser runs it (this machine has no internet: a CDN script would leave it blank)."""
    assert CHROMIUM, "CI without chromium: .ci/run installs Debian's package (apt-get install chromium)"
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000", "--dump-dom",
         graphiql_url(platform, service)],
        capture_output=True, text=True, timeout=120,
    )
    assert 'class="graphiql-container"' in result.stdout, result.stdout[-1000:] or result.stderr[-1000:]
