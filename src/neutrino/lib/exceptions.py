"""Neutron's error types. The class name is the `type` of the API's NeutronError body and
`kind` decides the HTTP status; the API maps them, core and RPC only raise them."""

from __future__ import annotations

BAD_REQUEST = "bad_request"  # 400
FORBIDDEN = "forbidden"  # 403
NOT_FOUND = "not_found"  # 404
CONFLICT = "conflict"  # 409
SERVICE_UNAVAILABLE = "service_unavailable"  # 503


class NeutronException(Exception):
    kind = BAD_REQUEST
    message = "An unknown exception occurred."

    def __init__(self, message: str | None = None, **kwargs: object) -> None:
        self.kwargs = kwargs
        self.msg = message if message is not None else self.message % kwargs
        super().__init__(self.msg)

    @property
    def type(self) -> str:
        return type(self).__name__


class BadRequest(NeutronException):
    kind = BAD_REQUEST
    message = "Bad %(resource)s request: %(msg)s."


class InvalidInput(BadRequest):
    message = "Invalid input for operation: %(error_message)s."


class NotAuthorized(NeutronException):
    kind = FORBIDDEN
    message = "Not authorized."


class PolicyNotAuthorized(NotAuthorized):
    message = "Rule:%(action)s is disallowed by policy"


class NotFound(NeutronException):
    kind = NOT_FOUND
    message = "An unknown exception occurred."


class Conflict(NeutronException):
    kind = CONFLICT


class InUse(Conflict):
    message = "The resource is in use."


class ServiceUnavailable(NeutronException):
    kind = SERVICE_UNAVAILABLE
    message = "The service is unavailable."


class NetworkNotFound(NotFound):
    message = "Network %(net_id)s could not be found."


class TagNotFound(NotFound):
    message = "Tag %(tag)s could not be found."


class TagResourceNotFound(NotFound):
    message = "Resource %(resource)s %(resource_id)s could not be found."


class SubnetNotFound(NotFound):
    message = "Subnet %(subnet_id)s could not be found."


class PortNotFound(NotFound):
    message = "Port %(port_id)s could not be found."


class AgentNotFound(NotFound):
    message = "Agent %(id)s could not be found."


class InvalidDHCPAgent(AgentNotFound):
    message = "Agent %(id)s is not a valid DHCP Agent or has been disabled."


class NetworkHostedByDHCPAgent(Conflict):
    message = "The network %(network_id)s has been already hosted by the DHCP Agent %(agent_id)s."


class NetworkNotHostedByDhcpAgent(Conflict):
    message = "The network %(network_id)s is not hosted by the DHCP Agent %(agent_id)s."


class NetworkInUse(InUse):
    message = ("Unable to complete operation on network %(net_id)s. There are one or more "
               "ports still in use on the network.")


class SubnetInUse(InUse):
    message = ("Unable to complete operation on subnet %(subnet_id)s: One or more ports have "
               "an IP allocation from this subnet.")


class IpAddressInUse(InUse):
    message = ("Unable to complete operation for network %(net_id)s. The IP address "
               "%(ip_address)s is in use.")


class MacAddressInUse(InUse):
    message = ("Unable to complete operation for network %(net_id)s. The mac address %(mac)s "
               "is in use.")


class IpAddressGenerationFailure(Conflict):
    message = "No more IP addresses available on network %(net_id)s."


class MacAddressGenerationFailure(ServiceUnavailable):
    message = "Unable to generate unique mac on network %(net_id)s."


class NoNetworkAvailable(ServiceUnavailable):
    message = ("Unable to create the network. No tenant network is available for "
               "allocation.")


class VlanIdInUse(InUse):
    message = ("Unable to create the network. The VLAN %(vlan_id)s on physical network "
               "%(physical_network)s is in use.")


class FlatNetworkInUse(InUse):
    message = ("Unable to create the flat network. Physical network %(physical_network)s is "
               "in use.")


class AdminRequired(NotAuthorized):
    message = "User does not have admin privileges: %(reason)s."


class OverQuota(Conflict):
    message = "Quota exceeded for resources: %(overs)s."


class TenantQuotaNotFound(NotFound):
    message = "Quota for tenant %(tenant_id)s could not be found."


class QuotaMissingTenant(BadRequest):
    message = "Tenant-id was missing from quota request."


class AgentCreationNotSupported(BadRequest):
    message = "Agent creation using API is not supported."


# Resources (networks, subnets, ports): Neutron's names, kinds and messages.

class HTTPBadRequest(BadRequest):
    """What Neutron's API raises as webob's HTTPBadRequest (e.g. another project's id)."""
    message = "Bad request."


class InvalidSharedSetting(Conflict):
    message = ("Unable to reconfigure sharing settings for network %(network)s. Multiple "
               "tenants are using it.")


class InvalidAllocationPool(BadRequest):
    message = "The allocation pool %(pool)s is not valid."


class OutOfBoundsAllocationPool(BadRequest):
    message = "The allocation pool %(pool)s spans beyond the subnet cidr %(subnet_cidr)s."


class OverlappingAllocationPools(Conflict):
    message = ("Found overlapping allocation pools: %(pool_1)s %(pool_2)s for subnet "
               "%(subnet_cidr)s.")


class GatewayConflictWithAllocationPools(InUse):
    message = "Gateway ip %(ip_address)s conflicts with allocation pool %(pool)s."


class InvalidIpForNetwork(BadRequest):
    message = ("IP address %(ip_address)s is not a valid IP for any of the subnets on the "
               "specified network.")


class InvalidIpForSubnet(BadRequest):
    message = "IP address %(ip_address)s is not a valid IP for the specified subnet."


class AllocationOnAutoAddressSubnet(BadRequest):
    message = ("IPv6 address %(ip)s cannot be directly assigned to a port on subnet "
               "%(subnet_id)s as the subnet is configured for automatic addresses")


class DNSNameServersExhausted(BadRequest):
    message = ("Unable to complete operation for %(subnet_id)s. The number of DNS "
               "nameservers exceeds the limit %(quota)s.")


class HostRoutesExhausted(BadRequest):
    message = ("Unable to complete operation for %(subnet_id)s. The number of host routes "
               "exceeds the limit %(quota)s.")


class SegmentsSetInConjunctionWithProviders(InvalidInput):
    message = "Segments and provider values cannot both be set."


class SegmentsContainDuplicateEntry(InvalidInput):
    message = "Duplicate segment entry in request."


# binding-extended (port bindings), with neutron-lib's names and messages.

class PortBindingNotFound(NotFound):
    message = "Binding for port %(port_id)s for host %(host)s could not be found."


class PortBindingAlreadyActive(Conflict):
    message = "Binding for port %(port_id)s on host %(host)s is already active."


class PortBindingAlreadyExists(Conflict):
    message = "Binding for port %(port_id)s on host %(host)s already exists."


class PortBindingError(Conflict):
    """Neutron answers 500; a binding no agent can make is a conflict with the host's
    state, not a server fault (Nova treats any failure alike)."""
    message = "Binding for port %(port_id)s on host %(host)s could not be created or updated."


# Security groups, port security and allowed address pairs: Neutron's names, kinds and
# messages.

class SecurityGroupInvalidPortRange(InvalidInput):
    message = "For TCP/UDP protocols, port_range_min must be <= port_range_max"


class SecurityGroupInvalidProtocolForPort(InvalidInput):
    message = ("Ports cannot be specified for protocol %(protocol)s. Ports are only "
               "supported for %(valid_port_protocols)s.")


class SecurityGroupInvalidPortValue(InvalidInput):
    message = "Invalid value for port %(port)s"


class SecurityGroupInvalidIcmpValue(InvalidInput):
    message = "Invalid value for ICMP %(field)s (%(attr)s) %(value)s. It must be 0 to 255."


class SecurityGroupEthertypeConflictWithProtocol(InvalidInput):
    message = "Invalid ethertype %(ethertype)s for protocol %(protocol)s."


class SecurityGroupMissingIcmpType(InvalidInput):
    message = ("ICMP code (port-range-max) %(value)s is provided but ICMP type "
               "(port-range-min) is missing.")


class SecurityGroupInUse(InUse):
    message = "Security Group %(id)s in use."


class SecurityGroupCannotRemoveDefault(InUse):
    message = "Insufficient rights for removing default security group."


class SecurityGroupCannotUpdateDefault(InUse):
    message = "Updating default security group not allowed."


class SecurityGroupDefaultAlreadyExists(InUse):
    message = "Default security group already exists."


class SecurityGroupRuleInvalidProtocol(InvalidInput):
    message = ("Security group rule protocol %(protocol)s not supported. Only protocol "
               "values %(values)s and integer representations [0 to 255] are supported.")


class SecurityGroupRuleInvalidEtherType(InvalidInput):
    message = ("Security group rule for ethertype '%(ethertype)s' not supported. Allowed "
               "values are %(values)s.")


class SecurityGroupRulesNotSingleProject(InvalidInput):
    message = "Multiple project_ids in bulk security group rule create not allowed"


class SecurityGroupNotSingleGroupRules(InvalidInput):
    message = "Only allowed to update rules for one security profile at a time"


class SecurityGroupMultipleRemoteEntites(InvalidInput):
    message = ("Only one of remote_ip_prefix or remote_group_id or remote_address_group_id "
               "may be provided.")


class SecurityGroupProtocolRequiredWithPorts(InvalidInput):
    message = "Must also specify protocol if port range is given."


class SecurityGroupNotFound(NotFound):
    message = "Security group %(id)s does not exist"


class SecurityGroupRuleNotFound(NotFound):
    message = "Security group rule %(id)s does not exist"


class DuplicateSecurityGroupRuleInPost(InUse):
    message = "Duplicate Security Group Rule in POST."


class SecurityGroupRuleExists(InUse):
    message = "Security group rule already exists. Rule id is %(rule_id)s."


class SecurityGroupRuleParameterConflict(InvalidInput):
    message = "Conflicting value ethertype %(ethertype)s for CIDR %(cidr)s"


class InvalidCIDR(BadRequest):
    message = "Invalid CIDR %(input)s given as IP prefix."


class PortSecurityPortHasSecurityGroup(InUse):
    message = ("Port has security group associated. Cannot disable port security or IP "
               "address until security group is removed.")


class PortSecurityAndIPRequiredForSecurityGroups(InvalidInput):
    message = ("Port security must be enabled and port must have an IP address in order "
               "to use security groups.")


class AllowedAddressPairsMissingIP(InvalidInput):
    message = "AllowedAddressPair must contain ip_address"


class AddressPairAndPortSecurityRequired(Conflict):
    message = ("Port Security must be enabled in order to have allowed address pairs on a "
               "port.")


class DuplicateAddressPairInRequest(InvalidInput):
    message = ("Request contains duplicate address pair: mac_address %(mac_address)s "
               "ip_address %(ip_address)s.")


class AllowedAddressPairExhausted(BadRequest):
    message = "The number of allowed address pair exceeds the maximum %(quota)s."
