# pysaml2 attribute map with no entries, so names are sent as given.
MAP = {"identifier": "urn:oasis:names:tc:SAML:2.0:attrname-format:basic", "fro": {}, "to": {}}
