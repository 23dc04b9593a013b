"""/docs works offline: Swagger UI's page and assets come from the installed package, not a CDN."""

from __future__ import annotations

import re

from adapter_fixtures import make_manager
from fastapi.testclient import TestClient

from bot.adapters.http import create_app
from bot.config.server import ServerConfig


def test_docs_page_loads_swagger_ui_from_this_server_only() -> None:
    with TestClient(create_app(make_manager(), ServerConfig())) as client:
        page = client.get("/docs")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert sorted(sources) == ["/docs/assets/favicon-32x32.png", "/docs/assets/swagger-ui-bundle.js",
                                   "/docs/assets/swagger-ui.css"]
        assert "url: '/openapi.json'" in page.text
        for source in sources:
            assert client.get(source).status_code == 200, source
        script = client.get("/docs/assets/swagger-ui-bundle.js")
        assert "javascript" in script.headers["content-type"] and "SwaggerUIBundle" in script.text
        assert client.get("/openapi.json").json()["openapi"].startswith("3.1")  # Swagger UI 5 renders 3.1
        assert client.get("/redoc").status_code == 404  # ReDoc would load from a CDN: not offered
