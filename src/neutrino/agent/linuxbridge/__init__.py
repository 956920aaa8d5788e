"""The Linux bridge agent: plugs the host's taps into per-network bridges."""
