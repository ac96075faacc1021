"""Browser tests: Playwright driving Debian's Chromium against the app on 127.0.0.1 (conftest.py)."""
