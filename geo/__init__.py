"""Areas, coordinates and spatial queries. Knows nothing of inspections."""
