//! What Gatehouse trusts of a SAML IdP: its entity ID, its SSO URL and its signing
//! certificates, each with its SHA-256 fingerprint (to compare with what the IdP's console
//! shows). Certificate rollover: add the IdP's next certificate (both are accepted), and
//! remove the old one once the IdP signs with the new; or replace everything from the
//! IdP's metadata again.

use gatehouse_shared::federation::{
    check_saml, parse_http_url, IdentityProviderChange, MetadataImport, SamlSettings,
};
use gatehouse_shared::text::colon_hex;
use gatehouse_shared::validate::Faults;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen_futures::JsFuture;

use crate::api;
use crate::components::alert::ErrorAlert;
use crate::components::form::FormState;

/// The SHA-256 fingerprint of a base64 DER certificate, as IdP consoles print it
/// (`AB:CD:…`); `None` where the browser cannot compute it (no secure context).
async fn fingerprint(base64_der: String) -> Option<String> {
    let window = web_sys::window()?;
    let binary = window.atob(&base64_der).ok()?;
    let bytes: Vec<u8> = binary
        .chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect::<Option<_>>()?;
    let subtle = window.crypto().ok()?.subtle();
    let digest = subtle
        .digest_with_str_and_u8_array("SHA-256", &bytes)
        .ok()?;
    let buffer = JsFuture::from(digest).await.ok()?;
    Some(colon_hex(&js_sys::Uint8Array::new(&buffer).to_vec()))
}

#[component]
pub fn SamlTrust(
    /// The IdP's id and name.
    id: String,
    name: String,
    saml: SamlSettings,
    page: FormState,
    reload: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let id = StoredValue::new(id);
    let name = StoredValue::new(name);
    let form = FormState::new();
    let new_certificate = RwSignal::new(String::new());
    let metadata_xml = RwSignal::new(String::new());
    let metadata_url = RwSignal::new(String::new());
    let (entity_id, sso_url, shown) = (
        saml.entity_id.clone(),
        saml.sso_url.clone(),
        saml.certificates.clone(),
    );
    let current = StoredValue::new(saml);

    // Saves `certificates` in place of the current ones, with `done` as the notice.
    let save_certificates = move |certificates: Vec<String>, done: String| {
        let mut faults = Faults::new();
        let settings = current.with_value(|s| SamlSettings {
            certificates,
            ..s.clone()
        });
        let checked = check_saml(&settings, &mut faults);
        if !form.check(faults) {
            return;
        }
        let change = IdentityProviderChange {
            saml: checked,
            ..IdentityProviderChange::default()
        };
        spawn_local(async move {
            match api::update_idp(&id.get_value(), &change).await {
                Ok(_) => {
                    form.succeed(None);
                    new_certificate.set(String::new());
                    page.notice.set(Some(done));
                    reload();
                }
                Err(e) => form.fail(e),
            }
        });
    };
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !form.start() {
            return;
        }
        let mut certificates = current.with_value(|s| s.certificates.clone());
        certificates.push(new_certificate.get_untracked());
        let count = certificates.len();
        save_certificates(
            certificates,
            format!(
                "{} now trusts {count} signing certificates; remove the old one once the IdP signs with the new.",
                name.get_value()
            ),
        );
    };
    let reimport = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !form.start() {
            return;
        }
        let (xml, url) = (metadata_xml.get_untracked(), metadata_url.get_untracked());
        let mut faults = Faults::new();
        let import = match (xml.trim().is_empty(), url.trim().is_empty()) {
            (false, true) => Some(MetadataImport {
                xml: Some(xml),
                url: None,
            }),
            (true, false) => faults
                .check("metadata_url", parse_http_url(&url, "metadata URL"))
                .map(|u| MetadataImport {
                    xml: None,
                    url: Some(u),
                }),
            (true, true) => {
                faults.push("metadata_url", "Paste the IdP's metadata, or give its URL.");
                None
            }
            (false, false) => {
                faults.push("metadata_url", "Give the metadata or its URL, not both.");
                None
            }
        };
        if !form.check(faults) {
            return;
        }
        let Some(import) = import else { return };
        spawn_local(async move {
            match api::import_idp_metadata(&id.get_value(), &import).await {
                Ok(updated) => {
                    form.succeed(None);
                    let count = updated.saml.map_or(0, |s| s.certificates.len());
                    page.notice.set(Some(format!(
                        "Replaced the entity ID, SSO URL and certificates of {} from its metadata ({count} signing certificate(s)).",
                        updated.name
                    )));
                    reload();
                }
                Err(e) => form.fail(e),
            }
        });
    };

    let only_one = shown.len() == 1;
    let certificates = shown
        .iter()
        .enumerate()
        .map(|(i, der)| {
            let n = i + 1;
            let print = LocalResource::new({
                let der = der.clone();
                move || fingerprint(der.clone())
            });
            let remove = move |_| {
                if !form.start() {
                    return;
                }
                let mut rest = current.with_value(|s| s.certificates.clone());
                rest.remove(i);
                save_certificates(
                    rest,
                    format!("Removed certificate {n} of {}.", name.get_value()),
                );
            };
            view! {
                <li>
                    <span class="cert-label">{format!("Certificate {n}")}</span>
                    " SHA-256 "
                    <code class="wrap" aria-label=format!("Fingerprint of certificate {n}")>
                        {move || match print.get() {
                            None => "…".to_string(),
                            Some(Some(f)) => f,
                            Some(None) => "(needs HTTPS to compute)".to_string(),
                        }}
                    </code>
                    " "
                    <button
                        type="button"
                        class="secondary small"
                        aria-label=format!("Remove certificate {n}")
                        title=only_one.then_some("An IdP needs at least one certificate: add the new one first.")
                        disabled=move || only_one || form.busy.get()
                        on:click=remove
                    >
                        "Remove"
                    </button>
                </li>
            }
        })
        .collect_view();
    view! {
        <h3 class="subhead">"What Gatehouse trusts"</h3>
        <dl class="facts">
            <dt>"IdP entity ID"</dt>
            <dd><code class="wrap">{entity_id}</code></dd>
            <dt>"IdP SSO URL"</dt>
            <dd><code class="wrap">{sso_url}</code></dd>
        </dl>
        <ErrorAlert error=form.error />
        <ol class="certificates" aria-label="Signing certificates">{certificates}</ol>
        <form on:submit=add novalidate class="grid-form">
            <div class="field" class:field-invalid=move || form.field_error("saml.certificates").with(Option::is_some)>
                <label for="idp-new-certificate">"Add a signing certificate (rollover)"</label>
                <span class="hint">"PEM or base64 DER. Both certificates are accepted until you remove one."</span>
                <textarea
                    id="idp-new-certificate"
                    rows="4"
                    prop:value=move || new_certificate.get()
                    on:input=move |ev| new_certificate.set(event_target_value(&ev))
                ></textarea>
                {move || form.field_error("saml.certificates").get().map(|m| view! { <p class="field-error">{m}</p> })}
            </div>
            <div class="actions">
                <button type="submit" class="secondary" disabled=move || form.busy.get()>"Add certificate"</button>
            </div>
        </form>
        <form on:submit=reimport novalidate class="grid-form">
            <div class="field">
                <label for="idp-reimport-xml">"Replace from metadata XML"</label>
                <textarea
                    id="idp-reimport-xml"
                    rows="3"
                    prop:value=move || metadata_xml.get()
                    on:input=move |ev| metadata_xml.set(event_target_value(&ev))
                ></textarea>
            </div>
            <div class="field" class:field-invalid=move || form.field_error("metadata_url").with(Option::is_some)>
                <label for="idp-reimport-url">"…or from the metadata URL"</label>
                <input
                    id="idp-reimport-url"
                    type="url"
                    autocomplete="off"
                    prop:value=move || metadata_url.get()
                    on:input=move |ev| metadata_url.set(event_target_value(&ev))
                />
                {move || form.field_error("metadata_url").get().map(|m| view! { <p class="field-error">{m}</p> })}
            </div>
            <div class="actions">
                <button type="submit" class="secondary" disabled=move || form.busy.get()>"Replace from metadata"</button>
            </div>
        </form>
    }
}
