"""The ward officers' web console: static files (HTML, ES modules, CSS, message catalogs) served by the hub.

No build step: the browser loads the modules as they are. Charts use the plotly.js bundle that the `plotly`
Python package ships, served from the hub (`/console/vendor/plotly.min.js`), never from a CDN.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable


def static_root() -> Traversable:
    """The console's static files (index.html, modules, styles, i18n catalogs)."""
    return files(__name__) / "static"


def plotly_bundle() -> Traversable:
    """plotly.js as bundled with the installed `plotly` package."""
    return files("plotly") / "package_data" / "plotly.min.js"
