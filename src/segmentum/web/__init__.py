"""The marketers' web UI: server-rendered pages (Jinja2) with a little plain JavaScript; every
asset is served by the app itself (no CDN), so it works offline."""
