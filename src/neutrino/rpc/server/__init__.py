"""The server side of RPC: endpoints calling core, listeners, the DHCP agent notifier."""
