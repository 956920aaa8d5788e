"""Neutrino: a Neutron v2.0 compatible network control plane with highly available DHCP."""

import warnings

# oslo.messaging imports oslo.service, which imports eventlet only to warn that eventlet is
# deprecated. Neutrino never uses eventlet (threading executors everywhere), so the warning
# is noise on every command's stderr.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
