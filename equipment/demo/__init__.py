"""A deterministic synthetic Xiangyang: organisations and units for trying and benchmarking."""
