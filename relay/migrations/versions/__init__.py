"""Migration scripts, applied in order by `relay db upgrade`."""
