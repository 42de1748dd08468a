//! An Alibaba Cloud account's setup kit (`/admin/accounts/{id}/setup`): what its owner runs
//! once so that Gatehouse can provision roles and issue credentials there without an
//! AccessKey: the SAML provider and provisioner role it creates, Gatehouse's IdP metadata,
//! and the same steps as `aliyun` CLI commands, a Terraform file and a ROS template, each
//! to copy or download.

use gatehouse_shared::cloud::{SetupKit, SetupStep};
use gatehouse_shared::directory::Account;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use crate::api::{self, ApiError};
use crate::components::code::CodeFile;
use crate::components::copy::CopyButton;
use crate::components::loaded::Loaded;
use crate::components::set_page_title;

/// What each download is saved as.
const METADATA_FILE: &str = "gatehouse-idp-metadata.xml";
const CLI_FILE: &str = "gatehouse-setup.sh";
const TERRAFORM_FILE: &str = "gatehouse.tf";
const ROS_FILE: &str = "gatehouse-ros.json";

#[component]
pub fn SetupKitPage() -> impl IntoView {
    set_page_title("Setup kit");
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").unwrap_or_default()));
    // The account (for its name) and its kit; a missing account is "not found".
    let loaded = LocalResource::new(move || {
        let id = id.get();
        async move {
            let kit = api::setup_kit(&id).await?;
            let account = api::accounts()
                .await
                .ok()
                .and_then(|list| list.into_iter().find(|a| a.id == id));
            Ok::<_, ApiError>((kit, account))
        }
    });
    view! {
        <section class="page">
            <p class="crumbs"><A href="/admin/accounts">"← All accounts"</A></p>
            <Loaded data=move || loaded.get() loading="Loading the setup kit…" not_found="account" let:loaded>
                {
                    let (kit, account) = loaded;
                    view! { <Kit kit account /> }
                }
            </Loaded>
        </section>
    }
}

#[component]
fn Kit(kit: SetupKit, account: Option<Account>) -> impl IntoView {
    let title = match &account {
        Some(a) => format!("Setup kit for {} ({})", a.name, kit.account_id),
        None => format!("Setup kit for account {}", kit.account_id),
    };
    set_page_title(&title);
    let metadata_url = kit.metadata_url.clone();
    view! {
        <h1>{title}</h1>
        <p class="lead">
            "Run this once as the account's owner. Gatehouse then needs no AccessKey: it signs in to the account through the SAML provider below, like every employee, and gets short-lived credentials for the provisioner role each time it provisions."
        </p>
        <section class="card" aria-labelledby="kit-creates-heading">
            <h2 id="kit-creates-heading">"What it creates"</h2>
            <dl class="facts">
                <dt>"Site"</dt>
                <dd>{kit.site.label()}</dd>
                <dt>"SAML provider"</dt>
                <dd><code>{kit.saml_provider_name.clone()}</code></dd>
                <dt>"SAML provider ARN"</dt>
                <dd>
                    <code class="break">{kit.saml_provider_arn.clone()}</code>
                    " "
                    <CopyButton text=kit.saml_provider_arn.clone() label="Copy SAML provider ARN" />
                </dd>
                <dt>"Provisioner role ARN"</dt>
                <dd>
                    <code class="break">{kit.provisioner_role_arn.clone()}</code>
                    " "
                    <CopyButton text=kit.provisioner_role_arn.clone() label="Copy provisioner role ARN" />
                </dd>
                <dt>"IdP metadata URL"</dt>
                <dd>
                    <a href=metadata_url.clone() target="_blank" rel="noopener" class="break">{metadata_url.clone()}</a>
                    " "
                    <CopyButton text=metadata_url label="Copy IdP metadata URL" />
                </dd>
            </dl>
            <p class="hint">
                "The provisioner role may manage only roles and policies named GatehouseSSO-*: the ones Gatehouse makes from permission sets."
            </p>
            <Steps steps=kit.steps />
        </section>
        <section class="card" aria-labelledby="kit-metadata-heading">
            <h2 id="kit-metadata-heading">"Gatehouse's IdP metadata"</h2>
            <p class="hint">"What the SAML provider is created from: Gatehouse's entity ID and signing certificates, as of now."</p>
            <CodeFile id="kit-metadata" label="IdP metadata" file_name=METADATA_FILE mime="application/xml" text=kit.metadata_xml />
        </section>
        <section class="card" aria-labelledby="kit-run-heading">
            <h2 id="kit-run-heading">"Run it"</h2>
            <p class="hint">"The same steps in three forms: use the one that fits how the account is managed."</p>
            <CodeFile
                id="kit-cli"
                label="aliyun CLI commands"
                file_name=CLI_FILE
                mime="text/x-shellscript"
                text=kit.cli
                hint="For the Alibaba Cloud CLI (aliyun), configured with the owner's credentials."
            />
            <CodeFile
                id="kit-terraform"
                label="Terraform"
                file_name=TERRAFORM_FILE
                mime="text/plain"
                text=kit.terraform
                hint="For Terraform with the alicloud provider: terraform init, then terraform apply."
            />
            <CodeFile
                id="kit-ros"
                label="ROS template"
                file_name=ROS_FILE
                mime="application/json"
                text=kit.ros_template
                hint="For Resource Orchestration Service: create a stack from this template."
            />
        </section>
        <section class="card" aria-labelledby="kit-next-heading">
            <h2 id="kit-next-heading">"Then"</h2>
            <p>
                "Assign permission sets on this account and provision them from their pages under "
                <A href="/admin/permission-sets">"Permission sets"</A>
                ". If provisioning fails, the role's row shows what Alibaba Cloud answered."
            </p>
        </section>
    }
}

/// A parameter's value as a step shows it: a long one (a whole metadata document) by its
/// start and length; the files above hold it in full.
fn shortened(value: String) -> String {
    const SHOWN: usize = 96;
    let count = value.chars().count();
    if count <= SHOWN * 2 {
        return value;
    }
    let start: String = value.chars().take(SHOWN).collect();
    format!("{start}… ({count} characters)")
}

/// The kit's API calls in order: what the three forms do.
#[component]
fn Steps(steps: Vec<SetupStep>) -> impl IntoView {
    if steps.is_empty() {
        return ().into_any();
    }
    view! {
        <h3 class="subhead">"The steps"</h3>
        <ol class="steps">
            {steps
                .into_iter()
                .map(|step| {
                    let call = format!("{} {} ({})", step.product.to_uppercase(), step.action, step.version);
                    let has_parameters = !step.parameters.is_empty();
                    view! {
                        <li>
                            <code>{call}</code>
                            " · "
                            {step.description}
                            {has_parameters.then(|| view! {
                                <details>
                                    <summary>"Parameters"</summary>
                                    <dl class="facts">
                                        {step
                                            .parameters
                                            .into_iter()
                                            .map(|(k, v)| view! {
                                                <dt><code>{k}</code></dt>
                                                <dd><code class="break">{shortened(v)}</code></dd>
                                            })
                                            .collect_view()}
                                    </dl>
                                </details>
                            })}
                        </li>
                    }
                })
                .collect_view()}
        </ol>
    }
    .into_any()
}
