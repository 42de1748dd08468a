//! Identity providers (administrators only): the list (name, kind, enabled, JIT), adding a
//! SAML IdP from its metadata (pasted, uploaded or fetched from a URL) or an OIDC provider
//! from its issuer and client, and for the chosen one: what its administrator needs from
//! Gatehouse (with copy buttons), its settings and attribute mapping (with presets), enable
//! or disable, delete. Input is checked with the server's own `gatehouse_shared` rules.

use gatehouse_shared::federation::{
    check_mapping, check_oidc, parse_http_url, parse_idp_name, AttributeMapping, IdentityProvider,
    IdentityProviderChange, IdpKind, MappingPreset, NewIdentityProvider, OidcSettingsInput,
    SHA1_WARNING,
};
use gatehouse_shared::validate::Faults;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;

use crate::api::{self, ErrorCode};
use crate::components::alert::{ErrorAlert, Notice};
use crate::components::badge::{Badge, Tone};
use crate::components::copy::CopyBlock;
use crate::components::field::{CheckboxField, SelectField, TextField};
use crate::components::form::FormState;
use crate::components::loaded::{Empty, Loaded};
use crate::components::set_page_title;
use crate::components::table::DataTable;

#[component]
pub fn IdpsPage() -> impl IntoView {
    set_page_title("Identity providers");
    let idps = LocalResource::new(api::idps);
    let page = FormState::new();
    let selected = RwSignal::new(None::<String>);
    let reload = move || idps.refetch();
    view! {
        <section class="page">
            <h1>"Identity providers"</h1>
            <p class="lead">
                "People sign in with their organisation's SAML 2.0 or OpenID Connect identity provider; each enabled one is a button on the sign-in page."
            </p>
            <ErrorAlert error=page.error />
            <Notice message=page.notice />
            <Loaded data=move || idps.get() loading="Loading identity providers…" let:list
                empty=Empty::list(|| view! { <p class="card empty-state">"No identity providers yet. Add one below."</p> })>
                {
                    let chosen = list.clone();
                    view! {
                        <IdpTable list selected />
                        {move || {
                            selected
                                .get()
                                .and_then(|id| chosen.iter().find(|i| i.id == id).cloned())
                                .map(|idp| view! { <IdpDetail idp page selected reload /> })
                        }}
                    }
                }
            </Loaded>
            <AddIdpForm on_created=move |idp: IdentityProvider| {
                page.notice.set(Some(format!("Added {}. Give its administrator the details below.", idp.name)));
                selected.set(Some(idp.id));
                idps.refetch();
            } />
        </section>
    }
}

fn kind_label(kind: IdpKind) -> &'static str {
    match kind {
        IdpKind::Saml => "SAML 2.0",
        IdpKind::Oidc => "OpenID Connect",
    }
}

#[component]
fn IdpTable(list: Vec<IdentityProvider>, selected: RwSignal<Option<String>>) -> impl IntoView {
    let headers: &'static [&'static str] = &["Name", "Kind", "Status", "Accounts", "Actions"];
    view! {
        <DataTable caption="Identity providers" headers>
            {list.into_iter().map(|idp| {
                let id = idp.id.clone();
                let label = format!("Manage {}", idp.name);
                view! {
                    <tr>
                        <th scope="row">{idp.name.clone()}</th>
                        <td>{kind_label(idp.kind)}</td>
                        <td>
                            {if idp.enabled {
                                view! { <Badge tone=Tone::Good text="enabled" /> }
                            } else {
                                view! { <Badge tone=Tone::Neutral text="disabled" /> }
                            }}
                            {idp.allow_sha1.then(|| view! { <Badge tone=Tone::Warn text="SHA-1 allowed" /> })}
                        </td>
                        <td>{if idp.jit_create { "created on first sign-in (JIT)" } else { "existing accounts only" }}</td>
                        <td class="row-actions">
                            <button type="button" class="secondary small" aria-label=label on:click=move |_| selected.set(Some(id.clone()))>
                                "Manage"
                            </button>
                        </td>
                    </tr>
                }
            }).collect_view()}
        </DataTable>
    }
}

/// The chosen IdP: what its administrator needs, its settings, enable/disable, delete.
#[component]
fn IdpDetail(
    idp: IdentityProvider,
    page: FormState,
    selected: RwSignal<Option<String>>,
    reload: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let origin = web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default();
    let absolute = move |path: &str| {
        if path.starts_with('/') {
            format!("{origin}{path}")
        } else {
            path.to_string()
        }
    };
    let sp = idp.sp.clone();
    let mut endpoints: Vec<(&'static str, &'static str, String)> = Vec::new();
    if let Some(v) = &sp.redirect_uri {
        endpoints.push(("sp-redirect-uri", "Redirect URI", absolute(v)));
    }
    if let Some(v) = &sp.entity_id {
        endpoints.push(("sp-entity-id", "SP entity ID", absolute(v)));
    }
    if let Some(v) = &sp.acs_url {
        endpoints.push(("sp-acs-url", "ACS URL", absolute(v)));
    }
    if let Some(v) = &sp.metadata_url {
        endpoints.push(("sp-metadata-url", "SP metadata URL", absolute(v)));
    }
    endpoints.push(("sp-login-url", "Sign-in URL", absolute(&sp.login_url)));

    let id = idp.id.clone();
    let kind = idp.kind;
    let name = RwSignal::new(idp.name.clone());
    let jit = RwSignal::new(idp.jit_create);
    let link_email = RwSignal::new(idp.link_by_verified_email);
    let idp_initiated = RwSignal::new(idp.allow_idp_initiated);
    let sha1 = RwSignal::new(idp.allow_sha1);
    let map_email = RwSignal::new(idp.mapping.email.clone());
    let map_name = RwSignal::new(idp.mapping.display_name.clone());
    let map_username = RwSignal::new(idp.mapping.username.clone());
    let map_groups = RwSignal::new(idp.mapping.groups.clone());
    let oidc = idp.oidc.clone();
    let issuer = RwSignal::new(oidc.as_ref().map(|o| o.issuer.clone()).unwrap_or_default());
    let client_id = RwSignal::new(
        oidc.as_ref()
            .map(|o| o.client_id.clone())
            .unwrap_or_default(),
    );
    let client_secret = RwSignal::new(String::new());
    let scopes = RwSignal::new(
        oidc.as_ref()
            .map(|o| o.scopes.join(" "))
            .unwrap_or_default(),
    );
    let form = FormState::new();

    let apply_preset = move |preset: MappingPreset| {
        let m = preset.mapping(kind);
        map_email.set(m.email);
        map_name.set(m.display_name);
        map_username.set(m.username);
        map_groups.set(m.groups);
    };

    let save = {
        let id = id.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            if !form.start() {
                return;
            }
            let mut faults = Faults::new();
            let new_name = faults.check("name", parse_idp_name(&name.get_untracked()));
            let mapping = AttributeMapping {
                email: map_email.get_untracked().trim().to_string(),
                display_name: map_name.get_untracked().trim().to_string(),
                username: map_username.get_untracked().trim().to_string(),
                groups: map_groups.get_untracked().trim().to_string(),
            };
            check_mapping(&mapping, &mut faults);
            let oidc_input = (kind == IdpKind::Oidc).then(|| {
                let secret = client_secret.get_untracked();
                OidcSettingsInput {
                    issuer: issuer.get_untracked().trim().to_string(),
                    client_id: client_id.get_untracked().trim().to_string(),
                    client_secret: (!secret.is_empty()).then_some(secret),
                    scopes: split_scopes(&scopes.get_untracked()),
                }
            });
            if let Some(o) = &oidc_input {
                check_oidc(o, false, &mut faults);
            }
            if !form.check(faults) {
                return;
            }
            let saml = kind == IdpKind::Saml;
            let change = IdentityProviderChange {
                name: new_name,
                oidc: oidc_input,
                jit_create: Some(jit.get_untracked()),
                link_by_verified_email: Some(link_email.get_untracked()),
                allow_idp_initiated: saml.then(|| idp_initiated.get_untracked()),
                allow_sha1: saml.then(|| sha1.get_untracked()),
                mapping: Some(mapping),
                ..IdentityProviderChange::default()
            };
            let id = id.clone();
            spawn_local(async move {
                match api::update_idp(&id, &change).await {
                    Ok(updated) => {
                        client_secret.set(String::new());
                        form.succeed(None);
                        page.notice.set(Some(format!("Saved {}.", updated.name)));
                        reload();
                    }
                    Err(e) => form.fail(e),
                }
            });
        }
    };

    let enabled = idp.enabled;
    let toggle = {
        let id = id.clone();
        let who = idp.name.clone();
        move |_| {
            if !page.start() {
                return;
            }
            let id = id.clone();
            let who = who.clone();
            let change = IdentityProviderChange {
                enabled: Some(!enabled),
                ..IdentityProviderChange::default()
            };
            spawn_local(async move {
                match api::update_idp(&id, &change).await {
                    Ok(_) => {
                        let state = if enabled { "Disabled" } else { "Enabled" };
                        page.succeed(Some(format!("{state} {who}.")));
                        reload();
                    }
                    Err(e) => page.fail(e),
                }
            });
        }
    };

    let confirming = RwSignal::new(false);
    let delete = {
        let id = id.clone();
        let who = idp.name.clone();
        move |_| {
            if !page.start() {
                return;
            }
            let id = id.clone();
            let who = who.clone();
            spawn_local(async move {
                match api::delete_idp(&id).await {
                    Ok(()) => {
                        page.succeed(Some(format!("Deleted {who}.")));
                        selected.set(None);
                        reload();
                    }
                    Err(e) => {
                        confirming.set(false);
                        page.fail(e);
                    }
                }
            });
        }
    };

    let trust = idp.saml.clone().map(|saml| {
        let (id, name) = (idp.id.clone(), idp.name.clone());
        view! { <super::saml_trust::SamlTrust id name saml page reload /> }
    });
    let heading = idp.name.clone();
    let delete_label = format!("Delete {}", idp.name);
    let confirm_label = format!("Yes, delete {}", idp.name);
    let secret_hint = if idp.client_secret_set {
        "A secret is set. Leave this empty to keep it; it is never shown."
    } else {
        "No secret is set."
    };
    view! {
        <section class="card" aria-labelledby="idp-detail-heading">
            <div class="card-head">
                <h2 id="idp-detail-heading">{heading}</h2>
                <span>
                    {if enabled {
                        view! { <Badge tone=Tone::Good text="enabled" /> }
                    } else {
                        view! { <Badge tone=Tone::Neutral text="disabled" /> }
                    }}
                    " "
                    <button type="button" class="secondary small" disabled=move || page.busy.get() on:click=toggle>
                        {if enabled { "Disable" } else { "Enable" }}
                    </button>
                    " "
                    {move || if confirming.get() {
                        view! {
                            <span class="confirm">
                                "Delete this identity provider? People linked to it can no longer sign in with it."
                                <button type="button" class="danger small" aria-label=confirm_label.clone() disabled=move || page.busy.get() on:click=delete.clone()>
                                    "Delete"
                                </button>
                                <button type="button" class="secondary small" on:click=move |_| confirming.set(false)>"Cancel"</button>
                            </span>
                        }.into_any()
                    } else {
                        view! {
                            <button type="button" class="danger small" aria-label=delete_label.clone() on:click=move |_| confirming.set(true)>
                                "Delete"
                            </button>
                        }.into_any()
                    }}
                </span>
            </div>
            <h3 class="subhead">"For the identity provider's administrator"</h3>
            {endpoints.into_iter().map(|(eid, label, value)| view! {
                <CopyBlock id=eid label=label text=Signal::stored(value) inline=true />
            }).collect_view()}
            {trust}
            <h3 class="subhead">"Settings"</h3>
            <ErrorAlert error=form.error />
            <form on:submit=save novalidate class="grid-form">
                <TextField id="idp-name" label="Name on the sign-in button" value=name error=form.field_error("name") required=true />
                {(kind == IdpKind::Oidc).then(|| view! {
                    <TextField id="idp-issuer" label="Issuer URL" value=issuer error=form.field_error("oidc.issuer") required=true />
                    <TextField id="idp-client-id" label="Client ID" value=client_id error=form.field_error("oidc.client_id") required=true />
                    <TextField id="idp-client-secret" label="New client secret" kind="password" autocomplete="new-password" value=client_secret hint=secret_hint error=form.field_error("oidc.client_secret") />
                    <TextField id="idp-scopes" label="Extra scopes" value=scopes hint="Separated by spaces; openid is always asked for." error=form.field_error("oidc.scopes") />
                })}
                <fieldset class="mapping">
                    <legend>"Attribute mapping"</legend>
                    <p class="hint">
                        "Presets: "
                        {[MappingPreset::Okta, MappingPreset::EntraId, MappingPreset::Keycloak, MappingPreset::Generic].into_iter().map(|p| view! {
                            <button type="button" class="secondary small" on:click=move |_| apply_preset(p)>{p.label()}</button>
                            " "
                        }).collect_view()}
                    </p>
                    <TextField id="map-email" label="E-mail" value=map_email error=form.field_error("mapping.email") required=true />
                    <TextField id="map-display-name" label="Display name" value=map_name error=form.field_error("mapping.display_name") required=true />
                    <TextField id="map-username" label="Username" value=map_username error=form.field_error("mapping.username") required=true />
                    <TextField id="map-groups" label="Groups" value=map_groups error=form.field_error("mapping.groups") required=true />
                </fieldset>
                <CheckboxField id="idp-jit".to_string() label="Create an account on first sign-in (JIT)" checked=jit />
                <CheckboxField id="idp-link-email".to_string() label="Link to an existing account by verified e-mail" checked=link_email />
                {(kind == IdpKind::Saml).then(|| view! {
                    <CheckboxField id="idp-initiated".to_string() label="Allow IdP-initiated sign-in" checked=idp_initiated />
                    <CheckboxField id="idp-sha1".to_string() label="Accept SHA-1 signatures" checked=sha1 />
                    <Show when=move || sha1.get()>
                        <p class="alert alert-warn" role="alert">{SHA1_WARNING}</p>
                    </Show>
                })}
                <div class="actions">
                    <button type="submit" disabled=move || form.busy.get()>"Save"</button>
                </div>
            </form>
        </section>
    }
}

fn split_scopes(raw: &str) -> Vec<String> {
    raw.split([' ', ','])
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[component]
fn AddIdpForm(
    on_created: impl Fn(IdentityProvider) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let kind = RwSignal::new("oidc".to_string());
    let name = RwSignal::new(String::new());
    let issuer = RwSignal::new(String::new());
    let client_id = RwSignal::new(String::new());
    let client_secret = RwSignal::new(String::new());
    let scopes = RwSignal::new(String::new());
    let metadata_xml = RwSignal::new(String::new());
    let metadata_url = RwSignal::new(String::new());
    let jit = RwSignal::new(false);
    let form = FormState::new();
    let kinds = Signal::stored(vec![
        ("oidc".to_string(), "OpenID Connect".to_string()),
        ("saml".to_string(), "SAML 2.0".to_string()),
    ]);

    let upload = move |ev: leptos::ev::Event| {
        let Some(input) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
        else {
            return;
        };
        let Some(file) = input.files().and_then(|f| f.get(0)) else {
            return;
        };
        spawn_local(async move {
            match wasm_bindgen_futures::JsFuture::from(file.text()).await {
                Ok(text) => metadata_xml.set(text.as_string().unwrap_or_default()),
                Err(_) => form.error.set(Some("The file could not be read.".into())),
            }
        });
    };

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !form.start() {
            return;
        }
        let mut faults = Faults::new();
        let idp_name = faults.check("name", parse_idp_name(&name.get_untracked()));
        let mut request = NewIdentityProvider::default();
        if kind.get_untracked() == "saml" {
            request.kind = Some(IdpKind::Saml);
            let xml = metadata_xml.get_untracked();
            let url = metadata_url.get_untracked();
            match (xml.trim().is_empty(), url.trim().is_empty()) {
                (false, true) => request.saml_metadata_xml = Some(xml),
                (true, false) => {
                    request.saml_metadata_url =
                        faults.check("saml_metadata_url", parse_http_url(&url, "metadata URL"));
                }
                (true, true) => faults.push(
                    "saml_metadata_xml",
                    "Paste or upload the IdP's metadata, or give its URL.",
                ),
                (false, false) => faults.push(
                    "saml_metadata_url",
                    "Give the metadata or its URL, not both.",
                ),
            }
        } else {
            request.kind = Some(IdpKind::Oidc);
            let o = OidcSettingsInput {
                issuer: issuer.get_untracked().trim().to_string(),
                client_id: client_id.get_untracked().trim().to_string(),
                client_secret: Some(client_secret.get_untracked()),
                scopes: split_scopes(&scopes.get_untracked()),
            };
            check_oidc(&o, true, &mut faults);
            request.oidc = Some(o);
        }
        if !form.check(faults) {
            return;
        }
        request.name = idp_name.unwrap_or_default();
        request.jit_create = jit.get_untracked();
        spawn_local(async move {
            match api::create_idp(&request).await {
                Ok(idp) => {
                    form.succeed(None);
                    for f in [
                        name,
                        issuer,
                        client_id,
                        client_secret,
                        scopes,
                        metadata_xml,
                        metadata_url,
                    ] {
                        f.set(String::new());
                    }
                    on_created(idp);
                }
                Err(e) if e.code == ErrorCode::Conflict => {
                    form.busy.set(false);
                    form.set_field_error("name", e.message);
                }
                Err(e) => form.fail(e),
            }
        });
    };
    let xml_error = form.field_error("saml_metadata_xml");
    view! {
        <section class="card" aria-labelledby="add-idp-heading">
            <h2 id="add-idp-heading">"Add an identity provider"</h2>
            <ErrorAlert error=form.error />
            <form on:submit=submit novalidate class="grid-form">
                <SelectField id="new-idp-kind" label="Kind" value=kind options=kinds />
                <TextField id="new-idp-name" label="Name" value=name hint="Shown on the sign-in button: \"Sign in with <name>\"." error=form.field_error("name") required=true />
                <Show
                    when=move || kind.get() == "saml"
                    fallback=move || view! {
                        <TextField id="new-idp-issuer" label="Issuer URL" value=issuer placeholder="https://login.example.com" error=form.field_error("oidc.issuer") required=true />
                        <TextField id="new-idp-client-id" label="Client ID" value=client_id error=form.field_error("oidc.client_id") required=true />
                        <TextField id="new-idp-client-secret" label="Client secret" kind="password" autocomplete="new-password" value=client_secret hint="Stored encrypted; never shown again." error=form.field_error("oidc.client_secret") required=true />
                        <TextField id="new-idp-scopes" label="Extra scopes" value=scopes hint="Separated by spaces, e.g. groups." error=form.field_error("oidc.scopes") />
                    }
                >
                    <div class="field">
                        <label for="new-idp-metadata">"Metadata XML"</label>
                        <span class="hint">"Paste the IdP's metadata, or upload its file."</span>
                        <textarea
                            id="new-idp-metadata"
                            rows="6"
                            prop:value=move || metadata_xml.get()
                            on:input=move |ev| metadata_xml.set(event_target_value(&ev))
                            aria-invalid=move || xml_error.get().is_some().then_some("true")
                        ></textarea>
                        <input type="file" accept=".xml,application/xml,text/xml" aria-label="Upload metadata file" on:change=upload />
                        {move || xml_error.get().map(|m| view! { <p class="field-error">{m}</p> })}
                    </div>
                    <TextField id="new-idp-metadata-url" label="…or metadata URL" value=metadata_url error=form.field_error("saml_metadata_url") />
                </Show>
                <CheckboxField id="new-idp-jit".to_string() label="Create an account on first sign-in (JIT)" checked=jit />
                <div class="actions">
                    <button type="submit" disabled=move || form.busy.get()>"Add identity provider"</button>
                </div>
            </form>
        </section>
    }
}
