"""Domain of the LEZ: types, plate grammar, zones, policies, registry, decision engine. Pure: no I/O at import."""
