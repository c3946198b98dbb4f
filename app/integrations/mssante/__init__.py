"""MSSanté: the IHE XDM archive, its XDS metadata and the CDA R2 level 1 wrapping (pure)."""
