"""sereg: composition root, settings and command line."""
