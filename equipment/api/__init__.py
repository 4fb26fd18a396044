"""HTTP adapter of the register: thin Litestar controllers over the services."""
