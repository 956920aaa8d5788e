"""The agent side of RPC: proxies for the server's APIs and the cast listener."""
