"""Back ends: compiled artifacts for machines other than the host (``aarch64``: objects, libraries, a C header)."""
