"""The shipped business processes (YAML), installed with the package."""
