"""Who is who in a tenant: tenants, devices, users, groups, credentials."""
