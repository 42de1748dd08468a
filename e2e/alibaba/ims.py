"""IMS 2019-08-15: SAML identity providers for role-based SSO (permission `ram:<Action>` on
acs:ram:*:<account>:saml-provider/<name>, as RAM authorises them)."""
import re

from common import ApiError, invalid, iso
from ram import description, need
import saml
from state import SamlProvider

NAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
METADATA_MAX = 102400


def provider_name(p):
    name = need(p, "SAMLProviderName")
    if len(name) > 128:
        raise invalid("InvalidParameter.SAMLProviderName.Length",
                      'The parameter - "SAMLProviderName" beyond the length limit (128).')
    if not NAME_RE.match(name):
        raise invalid("InvalidParameter.SAMLProviderName.InvalidChars",
                      'The parameter - "SAMLProviderName" may contain letters, digits, ".", "-", "_", '
                      "and must not start or end with . - _.")
    return name


def metadata(p, key):
    encoded = need(p, key)
    if len(encoded) > METADATA_MAX:
        raise invalid(f"InvalidParameter.{key}.Length", f'The parameter - "{key}" beyond the length limit.')
    try:
        return encoded, saml.parse_metadata(encoded)
    except ValueError as e:
        raise invalid(f"InvalidParameter.{key}", f'The parameter - "{key}" is not usable IdP metadata: {e}.') from None


def get(acct, name):
    prov = acct.providers.get(name.lower())
    if prov is None:
        raise ApiError(404, "EntityNotExist.SAMLProvider", f"The SAML provider does not exist: {name}.")
    return prov


def create_saml_provider(emu, acct, p):
    name = provider_name(p)
    encoded, md = metadata(p, "EncodedSAMLMetadataDocument")
    desc = description(p, "Description", 256) or ""
    if name.lower() in acct.providers:
        raise ApiError(409, "EntityAlreadyExists.SAMLProvider", f"The SAML provider does already EXIST: {name}.")
    prov = SamlProvider(acct.id, name, desc, encoded, md, emu.clock.now())
    acct.providers[name.lower()] = prov
    return {"SAMLProvider": prov.view()}


def get_saml_provider(emu, acct, p):
    return {"SAMLProvider": get(acct, provider_name(p)).view(with_document=True)}


def update_saml_provider(emu, acct, p):
    prov = get(acct, provider_name(p))
    new_md = metadata(p, "NewEncodedSAMLMetadataDocument") if p.get("NewEncodedSAMLMetadataDocument") else None
    desc = description(p, "NewDescription", 256)
    if new_md:
        prov.encoded, prov.metadata = new_md
    if desc is not None:
        prov.description = desc
    prov.updated = iso(emu.clock.now())
    return {"SAMLProvider": prov.view()}


def delete_saml_provider(emu, acct, p):
    prov = get(acct, provider_name(p))
    del acct.providers[prov.name.lower()]
    return {}


def list_saml_providers(emu, acct, p):
    from ram import _page
    items = [x.view() for x in sorted(acct.providers.values(), key=lambda x: x.name.lower())]
    return _page(items, p, "SAMLProviders", "SAMLProvider")


def _res(acct, p):
    return [f"acs:ram:*:{acct.id}:saml-provider/{p.get('SAMLProviderName', '')}"]


HANDLERS = {
    "CreateSAMLProvider": (create_saml_provider, _res),
    "GetSAMLProvider": (get_saml_provider, _res),
    "UpdateSAMLProvider": (update_saml_provider, _res),
    "DeleteSAMLProvider": (delete_saml_provider, _res),
    "ListSAMLProviders": (list_saml_providers, lambda a, p: [f"acs:ram:*:{a.id}:saml-provider/*"]),
}
