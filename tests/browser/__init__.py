"""Browser tests: real headless Chromium (Debian's package) driven by Playwright."""
