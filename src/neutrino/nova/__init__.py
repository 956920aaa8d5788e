"""Telling Nova: the HTTP client of its os-server-external-events API (keystoneauth) and the
sender that drains core's outbox of events into it."""
