"""The extensions this server really implements, as `GET /v2.0/extensions` lists them.
Clients decide what to call from these aliases, so nothing is listed that is not served."""

from __future__ import annotations

from typing import Any

_EXTENSIONS = [
    ("agent", "agent", "The agent management extension.", "2013-02-03T10:00:00-00:00"),
    ("dhcp_agent_scheduler", "DHCP Agent Scheduler", "Schedule networks among dhcp agents",
     "2013-02-07T10:00:00-00:00"),
    ("provider", "Provider Network",
     "Expose mapping of virtual networks to physical networks", "2012-09-07T10:00:00-00:00"),
    ("binding", "Port Binding",
     "Expose port bindings of a virtual port to external application",
     "2014-02-03T10:00:00-00:00"),
    ("availability_zone", "Availability Zone", "The availability zone extension.",
     "2015-01-01T10:00:00-00:00"),
    ("network_availability_zone", "Network Availability Zone",
     "Availability zone support for network.", "2015-01-01T10:00:00-00:00"),
    ("standard-attr-description", "standard-attr-description",
     "Extension to add descriptions to standard attributes", "2016-02-10T10:00:00-00:00"),
    ("standard-attr-timestamp", "Resource timestamps",
     "Adds created_at and updated_at fields to all Neutron resources that have Neutron "
     "standard attributes.", "2016-09-12T10:00:00-00:00"),
    ("standard-attr-revisions", "Resource revision numbers",
     "This extension will display the revision number of neutron resources.",
     "2016-04-11T10:00:00-00:00"),
    ("project-id", "project_id field enabled",
     "Extension that indicates that project_id field is enabled.",
     "2016-09-09T09:09:09-09:09"),
    ("pagination", "Pagination support",
     "Extension that indicates that pagination is enabled.", "2016-06-12T00:00:00-00:00"),
    ("sorting", "Sorting support", "Extension that indicates that sorting is enabled.",
     "2016-06-12T00:00:00-00:00"),
    ("fields", "Fields support",
     "Extension that indicates that the fields query parameter selects attributes.",
     "2016-06-12T00:00:00-00:00"),
    ("net-mtu", "Network MTU", "Provides MTU attribute for a network resource.",
     "2015-03-25T10:00:00-00:00"),
    ("external-net", "Neutron external network",
     "Adds external network attribute to network resource.", "2013-01-14T10:00:00-00:00"),
    ("extra_dhcp_opt", "Neutron Extra DHCP options",
     "Extra options configuration for DHCP. For example PXE boot options to DHCP clients "
     "can be specified (e.g. tftp-server, server-ip-address, bootfile-name)",
     "2013-03-17T12:00:00-00:00"),
    ("dns-integration", "DNS Integration", "Provides integration with DNS.",
     "2015-08-15T18:00:00-00:00"),
    ("filter-validation", "Filter parameters validation",
     "Provides validation on filter parameters.", "2018-03-21T10:00:00-00:00"),
    ("multi-provider", "Multi Provider Network",
     "Expose mapping of virtual networks to multiple physical networks",
     "2013-06-27T10:00:00-00:00"),
    ("ip-substring-filtering", "IP address substring filtering",
     "Provides IP address substring filtering when listing ports",
     "2017-11-28T09:00:00-00:00"),
    ("binding-extended", "Port Bindings Extended", "Expose port bindings of a virtual port "
     "to external application", "2017-07-17T10:00:00-00:00"),
    ("empty-string-filtering", "Empty String Filtering Extension",
     "Allow filtering by attributes with empty string value", "2018-05-01T10:00:00-00:00"),
    ("quotas", "Quota management support", "Expose functions for quotas management per project",
     "2012-07-29T10:00:00-00:00"),
    ("quota_details", "Quota details management support",
     "Expose functions for quotas usage statistics per project", "2017-02-10T10:00:00-00:00"),
    ("standard-attr-tag", "Tag support for resources with standard attribute: subnet, "
     "network, port", "Enables to set tag on resources with standard attribute.",
     "2017-01-01T00:00:00-00:00"),
    ("security-group", "security-group", "The security groups extension.",
     "2012-10-05T10:00:00-00:00"),
    ("port-security", "Port Security", "Provides port security",
     "2012-07-23T10:00:00-00:00"),
    ("allowed-address-pairs", "Allowed Address Pairs",
     "Provides allowed address pairs", "2013-07-23T10:00:00-00:00"),
    ("stateful-security-group", "Stateful security group",
     "Indicates if the security group is stateful or not", "2019-11-26T09:00:00-00:00"),
    ("service-type", "Neutron Service Type Management",
     "API for retrieving service providers for Neutron advanced services",
     "2013-01-20T00:00:00-00:00"),
]

EXTENSIONS: dict[str, dict[str, Any]] = {
    alias: {"name": name, "alias": alias, "description": description, "updated": updated,
            "links": []}
    for alias, name, description, updated in _EXTENSIONS
}
