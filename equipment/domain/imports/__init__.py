"""Pure parts of the register import: encoding detection, date parsing, the mapping
profile and the data-quality rules (equipment.services.imports runs them)."""
