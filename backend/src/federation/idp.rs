//! Administration of identity providers: create, change, import SAML metadata (pasted, or
//! fetched from an `http(s)` URL with a timeout and a size cap), disable and delete. A SAML
//! IdP is refused without a signing certificate (more than one is allowed for rollover);
//! an OIDC client secret is sealed under the master key and never returned.

use gatehouse_shared::audit::AuditAction;
use std::time::Duration;

use gatehouse_shared::federation::{
    check_clock_skew, check_mapping, check_max_response_bytes, check_oidc, check_saml, faults_or,
    parse_http_url, parse_idp_name, AttributeMapping, IdentityProvider, IdentityProviderChange,
    IdpKind, MappingPreset, MetadataImport, NewIdentityProvider, OidcSettings, PublicIdp,
    SamlSettings, SpEndpoints, CLOCK_SKEW_DEFAULT_SECS, MAX_RESPONSE_DEFAULT_BYTES, SHA1_WARNING,
};
use gatehouse_shared::validate::Faults;

use super::errors::IdpError;
use super::saml;
use super::Env;
use crate::audit::NewEvent;
use crate::auth::sessions::CurrentSession;
use crate::clock::{to_datetime, Millis};
use crate::config::Settings;
use crate::store::{IdpRecord, StoreError};

/// The purpose an IdP's client secret is sealed for.
pub fn secret_purpose(idp_id: &str) -> String {
    format!("idp-secret:{idp_id}")
}

/// Metadata documents larger than this are refused.
const METADATA_MAX_BYTES: usize = 1024 * 1024;
const METADATA_FETCH_TIMEOUT: Duration = Duration::from_secs(10);

pub fn saml_settings(idp: &IdpRecord) -> Option<SamlSettings> {
    (idp.kind == "saml")
        .then(|| serde_json::from_str(&idp.settings).ok())
        .flatten()
}

pub fn oidc_settings(idp: &IdpRecord) -> Option<OidcSettings> {
    (idp.kind == "oidc")
        .then(|| serde_json::from_str(&idp.settings).ok())
        .flatten()
}

pub fn mapping(idp: &IdpRecord) -> AttributeMapping {
    serde_json::from_str(&idp.mapping).unwrap_or_else(|_| {
        MappingPreset::Generic.mapping(IdpKind::parse(&idp.kind).unwrap_or(IdpKind::Oidc))
    })
}

/// Gatehouse's SAML SP identity for one IdP.
pub fn sp_settings(settings: &Settings, idp_id: &str) -> saml::SpSettings {
    let base = settings.public_url.trim_end_matches('/');
    saml::SpSettings {
        entity_id: format!("{base}/auth/saml/{idp_id}/metadata"),
        acs_url: format!("{base}/auth/saml/{idp_id}/acs"),
    }
}

pub fn oidc_redirect_uri(settings: &Settings, idp_id: &str) -> String {
    format!(
        "{}/auth/oidc/{idp_id}/callback",
        settings.public_url.trim_end_matches('/')
    )
}

pub fn login_url(idp: &IdpRecord) -> String {
    format!("/auth/{}/{}/login", idp.kind, idp.id)
}

pub fn to_dto(settings: &Settings, idp: &IdpRecord) -> IdentityProvider {
    let kind = IdpKind::parse(&idp.kind).unwrap_or(IdpKind::Oidc);
    let sp = match kind {
        IdpKind::Saml => {
            let sp = sp_settings(settings, &idp.id);
            SpEndpoints {
                login_url: login_url(idp),
                metadata_url: Some(sp.entity_id.clone()),
                entity_id: Some(sp.entity_id),
                acs_url: Some(sp.acs_url),
                redirect_uri: None,
            }
        }
        IdpKind::Oidc => SpEndpoints {
            login_url: login_url(idp),
            entity_id: None,
            acs_url: None,
            metadata_url: None,
            redirect_uri: Some(oidc_redirect_uri(settings, &idp.id)),
        },
    };
    IdentityProvider {
        id: idp.id.clone(),
        name: idp.name.clone(),
        kind,
        enabled: idp.enabled,
        saml: saml_settings(idp),
        oidc: oidc_settings(idp),
        client_secret_set: idp.client_secret_enc.is_some(),
        allow_sha1: idp.allow_sha1,
        warning: (kind == IdpKind::Saml && idp.allow_sha1).then(|| SHA1_WARNING.to_string()),
        allow_idp_initiated: idp.allow_idp_initiated,
        jit_create: idp.jit_create,
        link_by_verified_email: idp.link_by_verified_email,
        mapping: mapping(idp),
        clock_skew_secs: idp.clock_skew_secs,
        max_response_bytes: idp.max_response_bytes,
        sp,
        created_at: to_datetime(idp.created_at),
        updated_at: to_datetime(idp.updated_at),
    }
}

pub fn to_public(idp: &IdpRecord) -> PublicIdp {
    PublicIdp {
        id: idp.id.clone(),
        name: idp.name.clone(),
        kind: IdpKind::parse(&idp.kind).unwrap_or(IdpKind::Oidc),
        login_url: login_url(idp),
    }
}

/// Fetches a metadata document: `http(s)` only, redirects limited, time and size capped.
async fn fetch_metadata(env: Env<'_>, url_raw: &str) -> Result<String, IdpError> {
    let field = "saml_metadata_url";
    let url = parse_http_url(url_raw, "metadata URL").map_err(|m| IdpError::field(field, m))?;
    let fail = |m: String| IdpError::field(field, m);
    let mut resp = env
        .federation
        .http
        .get(&url)
        .timeout(METADATA_FETCH_TIMEOUT)
        .send()
        .await
        .map_err(|e| {
            fail(format!(
                "The metadata could not be fetched: {}",
                without_url(&e)
            ))
        })?;
    if !resp.status().is_success() {
        return Err(fail(format!(
            "The metadata URL answered with HTTP status {}.",
            resp.status().as_u16()
        )));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| fail(format!("The metadata download failed: {}", without_url(&e))))?
    {
        if body.len() + chunk.len() > METADATA_MAX_BYTES {
            return Err(fail("The metadata document is larger than 1 MB.".into()));
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| fail("The metadata document is not UTF-8 text.".into()))
}

fn without_url(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "the server did not answer in time".into()
    } else if e.is_connect() {
        "the server could not be reached".into()
    } else if e.is_redirect() {
        "too many redirects".into()
    } else {
        "the request failed".into()
    }
}

/// SAML settings from pasted XML or a URL.
async fn import_metadata(env: Env<'_>, m: &MetadataImport) -> Result<SamlSettings, IdpError> {
    let (xml, field) = match (&m.xml, &m.url) {
        (Some(x), _) if !x.trim().is_empty() => (x.clone(), "saml_metadata_xml"),
        (_, Some(u)) if !u.trim().is_empty() => {
            (fetch_metadata(env, u).await?, "saml_metadata_url")
        }
        _ => {
            return Err(IdpError::field(
                "saml_metadata_xml",
                "Paste the IdP's metadata XML or give its URL.",
            ))
        }
    };
    if xml.len() > METADATA_MAX_BYTES {
        return Err(IdpError::field(
            field,
            "The metadata document is larger than 1 MB.",
        ));
    }
    let md = saml::parse_idp_metadata(&xml)
        .map_err(|e| IdpError::field(field, format!("The metadata could not be read: {}", e.0)))?;
    let mut faults = Faults::new();
    let settings = check_saml(
        &SamlSettings {
            entity_id: md.entity_id,
            sso_url: md.sso_url,
            certificates: md.certificates,
        },
        &mut faults,
    );
    faults_or(faults, settings).map_err(|mut f| {
        for x in &mut f {
            x.message = format!("In the metadata: {}", x.message);
            x.field = field.to_string();
        }
        IdpError::Invalid(f)
    })
}

pub async fn list(env: Env<'_>) -> Result<Vec<IdentityProvider>, IdpError> {
    Ok(env
        .store
        .list_idps()
        .await?
        .iter()
        .map(|i| to_dto(env.settings, i))
        .collect())
}

pub async fn list_public(env: Env<'_>) -> Result<Vec<PublicIdp>, IdpError> {
    Ok(env
        .store
        .list_idps()
        .await?
        .iter()
        .filter(|i| i.enabled)
        .map(to_public)
        .collect())
}

pub async fn get(env: Env<'_>, id: &str) -> Result<IdentityProvider, IdpError> {
    let idp = load(env, id).await?;
    Ok(to_dto(env.settings, &idp))
}

async fn load(env: Env<'_>, id: &str) -> Result<IdpRecord, IdpError> {
    env.store
        .get_idp(id)
        .await
        .map_err(|e| e.or_not_found(IdpError::NotFound))
}

fn check_limits(
    faults: &mut Faults,
    skew: Option<i64>,
    max: Option<i64>,
) -> (Option<i64>, Option<i64>) {
    (
        skew.and_then(|s| faults.check("clock_skew_secs", check_clock_skew(s))),
        max.and_then(|m| faults.check("max_response_bytes", check_max_response_bytes(m))),
    )
}

pub async fn create(
    env: Env<'_>,
    now: Millis,
    who: &CurrentSession,
    req: NewIdentityProvider,
) -> Result<IdentityProvider, IdpError> {
    let mut faults = Faults::new();
    let name = faults.check("name", parse_idp_name(&req.name));
    let Some(kind) = req.kind else {
        faults.push("kind", "Choose SAML or OIDC.");
        return Err(IdpError::Invalid(faults.into_vec()));
    };
    let id = uuid::Uuid::new_v4().to_string();
    let (skew, max) = check_limits(&mut faults, req.clock_skew_secs, req.max_response_bytes);
    let mapping = req
        .mapping
        .clone()
        .unwrap_or_else(|| req.preset.unwrap_or(MappingPreset::Generic).mapping(kind));
    check_mapping(&mapping, &mut faults);
    let (settings_json, secret_enc) = match kind {
        IdpKind::Saml => {
            if req.oidc.is_some() {
                faults.push("oidc", "A SAML IdP has no OIDC settings.");
            }
            let settings = if let Some(s) = &req.saml {
                check_saml(s, &mut faults)
            } else {
                match import_metadata(
                    env,
                    &MetadataImport {
                        xml: req.saml_metadata_xml.clone(),
                        url: req.saml_metadata_url.clone(),
                    },
                )
                .await
                {
                    Ok(s) => Some(s),
                    Err(IdpError::Invalid(f)) => {
                        for x in f {
                            faults.push(&x.field, x.message);
                        }
                        None
                    }
                    Err(e) => return Err(e),
                }
            };
            (settings.map(|s| json_of(&s)), None)
        }
        IdpKind::Oidc => {
            let Some(o) = &req.oidc else {
                faults.push("oidc", "Give the issuer, client ID and client secret.");
                return Err(IdpError::Invalid(faults.into_vec()));
            };
            let checked = check_oidc(o, true, &mut faults);
            (
                checked.as_ref().map(|(s, _)| json_of(s)),
                checked
                    .and_then(|(_, secret)| secret)
                    .map(|secret| env.master.seal(&secret_purpose(&id), secret.as_bytes())),
            )
        }
    };
    let (name, settings_json) = match (faults.into_result(), name, settings_json) {
        (Ok(()), Some(n), Some(s)) => (n, s),
        (Err(f), _, _) => return Err(IdpError::Invalid(f)),
        _ => return Err(IdpError::field("", "The request is incomplete.")),
    };
    let record = IdpRecord {
        id: id.clone(),
        name,
        kind: kind.as_str().into(),
        enabled: req.enabled.unwrap_or(true),
        settings: settings_json,
        client_secret_enc: secret_enc,
        allow_sha1: kind == IdpKind::Saml && req.allow_sha1,
        allow_idp_initiated: kind == IdpKind::Saml && req.allow_idp_initiated,
        jit_create: req.jit_create,
        link_by_verified_email: req.link_by_verified_email,
        mapping: json_of(&mapping),
        clock_skew_secs: skew.unwrap_or(CLOCK_SKEW_DEFAULT_SECS),
        max_response_bytes: max.unwrap_or(MAX_RESPONSE_DEFAULT_BYTES),
        created_at: now,
        updated_at: now,
    };
    let event = NewEvent::new(now, &who.ctx(), AuditAction::IdpCreate, "idp", Some(id));
    let created = env
        .store
        .create_idp(record, event)
        .await
        .map_err(conflict_as_field)?;
    Ok(to_dto(env.settings, &created))
}

fn conflict_as_field(e: StoreError) -> IdpError {
    match e {
        StoreError::Conflict(_) => IdpError::field(
            "name",
            "An identity provider with this name already exists.",
        ),
        other => other.into(),
    }
}

fn json_of<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "{}".into())
}

pub async fn update(
    env: Env<'_>,
    now: Millis,
    who: &CurrentSession,
    id: &str,
    req: IdentityProviderChange,
) -> Result<IdentityProvider, IdpError> {
    let mut idp = load(env, id).await?;
    let kind = IdpKind::parse(&idp.kind).unwrap_or(IdpKind::Oidc);
    let mut faults = Faults::new();
    if let Some(n) = &req.name {
        if let Some(n) = faults.check("name", parse_idp_name(n)) {
            idp.name = n;
        }
    }
    let (skew, max) = check_limits(&mut faults, req.clock_skew_secs, req.max_response_bytes);
    if let Some(m) = &req.mapping {
        check_mapping(m, &mut faults);
        idp.mapping = json_of(m);
    }
    match kind {
        IdpKind::Saml => {
            if req.oidc.is_some() {
                faults.push("oidc", "A SAML IdP has no OIDC settings.");
            }
            if let Some(s) = &req.saml {
                if let Some(s) = check_saml(s, &mut faults) {
                    idp.settings = json_of(&s);
                }
            }
            if let Some(v) = req.allow_sha1 {
                idp.allow_sha1 = v;
            }
            if let Some(v) = req.allow_idp_initiated {
                idp.allow_idp_initiated = v;
            }
        }
        IdpKind::Oidc => {
            if req.saml.is_some() {
                faults.push("saml", "An OIDC IdP has no SAML settings.");
            }
            if req.allow_sha1 == Some(true) || req.allow_idp_initiated == Some(true) {
                faults.push(
                    "allow_sha1",
                    "SHA-1 and IdP-initiated sign-in apply to SAML IdPs only.",
                );
            }
            if let Some(o) = &req.oidc {
                if let Some((s, secret)) = check_oidc(o, false, &mut faults) {
                    idp.settings = json_of(&s);
                    if let Some(secret) = secret {
                        idp.client_secret_enc =
                            Some(env.master.seal(&secret_purpose(id), secret.as_bytes()));
                    }
                }
            }
        }
    }
    faults.into_result().map_err(IdpError::Invalid)?;
    if let Some(v) = req.enabled {
        idp.enabled = v;
    }
    if let Some(v) = req.jit_create {
        idp.jit_create = v;
    }
    if let Some(v) = req.link_by_verified_email {
        idp.link_by_verified_email = v;
    }
    if let Some(s) = skew {
        idp.clock_skew_secs = s;
    }
    if let Some(m) = max {
        idp.max_response_bytes = m;
    }
    save(env, now, who, idp, AuditAction::IdpUpdate).await
}

async fn save(
    env: Env<'_>,
    now: Millis,
    who: &CurrentSession,
    mut idp: IdpRecord,
    action: AuditAction,
) -> Result<IdentityProvider, IdpError> {
    idp.updated_at = now;
    let event = NewEvent::new(now, &who.ctx(), action, "idp", Some(idp.id.clone()));
    let saved = env
        .store
        .update_idp(idp, event)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => IdpError::NotFound,
            other => conflict_as_field(other),
        })?;
    env.federation.forget(&saved.id);
    Ok(to_dto(env.settings, &saved))
}

/// Replaces a SAML IdP's entity ID, SSO URL and certificates from its metadata.
pub async fn import(
    env: Env<'_>,
    now: Millis,
    who: &CurrentSession,
    id: &str,
    req: MetadataImport,
) -> Result<IdentityProvider, IdpError> {
    let mut idp = load(env, id).await?;
    if idp.kind != "saml" {
        return Err(IdpError::field(
            "saml_metadata_xml",
            "Only a SAML IdP takes SAML metadata.",
        ));
    }
    let settings = import_metadata(env, &req).await?;
    idp.settings = json_of(&settings);
    save(env, now, who, idp, AuditAction::IdpMetadataImport).await
}

pub async fn delete(
    env: Env<'_>,
    now: Millis,
    who: &CurrentSession,
    id: &str,
) -> Result<(), IdpError> {
    let event = NewEvent::new(
        now,
        &who.ctx(),
        AuditAction::IdpDelete,
        "idp",
        Some(id.to_string()),
    );
    env.store
        .delete_idp(id, event)
        .await
        .map_err(|e| e.or_not_found(IdpError::NotFound))?;
    env.federation.forget(id);
    Ok(())
}

/// The opened OIDC client secret of an IdP.
pub fn oidc_client_secret(env: Env<'_>, idp: &IdpRecord) -> Option<String> {
    let sealed = idp.client_secret_enc.as_ref()?;
    let plain = env.master.open(&secret_purpose(&idp.id), sealed).ok()?;
    String::from_utf8(plain.to_vec()).ok()
}
