"""The builtin, Keystone-compatible identity service (`auth_strategy = builtin`)."""
