# Deliberately empty: pysaml2 would otherwise rename "email" to urn:mace:dir:attribute-def:email.
