"""Pure domain logic: plain values in, plain values out.

Nothing in this package may import piccolo, litestar or paho, read the clock or do I/O;
``tests/unit/test_domain_purity.py`` enforces it.
"""
