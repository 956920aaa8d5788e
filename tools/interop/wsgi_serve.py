"""Serve one OpenStack WSGI application on a loopback port, without uwsgi.

Run with the interop venv's Python:  python wsgi_serve.py MODULE[:ATTR] HOST PORT
The module is imported after the caller has set the project's config environment variables
(OS_NOVA_CONFIG_DIR, OS_PLACEMENT_CONFIG_DIR, ...); ATTR defaults to ``application``.
Werkzeug's threaded server is used because it reads chunked request bodies (image uploads).
"""

import importlib
import sys


def main(argv: list[str]) -> int:
    target, host, port = argv[1], argv[2], int(argv[3])
    modname, _, attr = target.partition(":")
    del sys.argv[1:]  # the apps parse sys.argv with oslo.config on import
    app = getattr(importlib.import_module(modname), attr or "application")
    if app is None:
        print(f"wsgi_serve: {target} has no application", file=sys.stderr)
        return 1
    from werkzeug.serving import make_server

    server = make_server(host, port, app, threaded=True)
    print(f"wsgi_serve: {target} on http://{host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
