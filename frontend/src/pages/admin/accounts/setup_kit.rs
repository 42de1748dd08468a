//! A cloud account's setup kit (`/admin/accounts/{id}/setup`): what its owner runs once so
//! that Gatehouse can provision roles and issue credentials there without an access key:
//! the SAML provider and provisioner role it creates, Gatehouse's IdP metadata (with a
//! warning when its URL is this machine's only), and the same steps as CLI commands, a
//! Terraform file and a template (ROS for Alibaba Cloud, CloudFormation for AWS), each to
//! copy or download.

use gatehouse_shared::cloud::{Provider, SetupKit, SetupStep};
use gatehouse_shared::directory::Account;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use crate::api::{self, ApiError};
use crate::components::code::CodeFile;
use crate::components::copy::CopyButton;
use crate::components::loaded::Loaded;
use crate::components::set_page_title;

/// What the metadata download is saved as (the Terraform files read it by this name).
const METADATA_FILE: &str = "gatehouse-idp-metadata.xml";
const CLI_FILE: &str = "gatehouse-setup.sh";
const TERRAFORM_FILE: &str = "gatehouse.tf";

/// How one provider's kit names its three forms.
struct Forms {
    cli_label: &'static str,
    cli_hint: &'static str,
    terraform_hint: &'static str,
    template_label: &'static str,
    template_file: &'static str,
    template_hint: &'static str,
}

fn forms(provider: Provider) -> Forms {
    match provider {
        Provider::Alibaba => Forms {
            cli_label: "aliyun CLI commands",
            cli_hint: "For the Alibaba Cloud CLI (aliyun), configured with the owner's credentials.",
            terraform_hint: "For Terraform with the alicloud provider: terraform init, then terraform apply.",
            template_label: "ROS template",
            template_file: "gatehouse-ros.json",
            template_hint: "For Resource Orchestration Service: create a stack from this template.",
        },
        // Every other provider with a kit is AWS (a `local` account has none).
        _ => Forms {
            cli_label: "aws CLI commands",
            cli_hint: "For the AWS CLI (aws), configured with the owner's credentials.",
            terraform_hint: "For Terraform with the aws provider: terraform init, then terraform apply.",
            template_label: "CloudFormation template",
            template_file: "gatehouse-cloudformation.json",
            template_hint: "For CloudFormation: create a stack from this template, acknowledging that it creates named IAM resources.",
        },
    }
}

/// The host of `url`, in lower case, with the brackets of an IPv6 address.
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host_port.starts_with('[') {
        host_port
            .find(']')
            .map_or(host_port, |end| &host_port[..=end])
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    host.to_ascii_lowercase()
}

/// Whether `url` names this machine only, so no cloud can fetch it or should trust it.
fn is_loopback(url: &str) -> bool {
    matches!(host_of(url).as_str(), "127.0.0.1" | "localhost" | "[::1]")
}

/// What to know about the metadata URL: a note, or a warning when it is this machine's.
#[component]
fn MetadataUrlNote(url: String) -> impl IntoView {
    const NOTE: &str = "The entity ID is this URL: Alibaba Cloud and AWS trust it by name. Set GATEHOUSE_PUBLIC_URL to Gatehouse's lasting address before running the kit.";
    if is_loopback(&url) {
        view! {
            <p class="alert alert-warn kit-url-note" role="note">
                <strong>{format!("Warning: {} is this machine's own address. ", host_of(&url))}</strong>
                {NOTE}
            </p>
        }
        .into_any()
    } else {
        view! { <p class="hint kit-url-note">{NOTE}</p> }.into_any()
    }
}

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
    let forms = forms(kit.provider);
    let provider = kit.provider;
    let site = (provider == Provider::Alibaba).then(|| {
        view! {
            <dt>"Site"</dt>
            <dd>{kit.site.label()}</dd>
        }
    });
    view! {
        <h1>{title}</h1>
        <p class="lead">
            "Run this once as the account's owner. Gatehouse then needs no access key: it signs in to the account through the SAML provider below, like every employee, and gets short-lived credentials for the provisioner role each time it provisions."
        </p>
        <section class="card" aria-labelledby="kit-creates-heading">
            <h2 id="kit-creates-heading">"What it creates"</h2>
            <dl class="facts kit-facts">
                {site}
                <dt>"SAML provider"</dt>
                <dd><code>{kit.saml_provider_name.clone()}</code></dd>
                <dt>"SAML provider ARN"</dt>
                <dd class="kit-value">
                    <code class="break">{kit.saml_provider_arn.clone()}</code>
                    <CopyButton text=kit.saml_provider_arn.clone() label="Copy SAML provider ARN" />
                </dd>
                <dt>"Provisioner role ARN"</dt>
                <dd class="kit-value">
                    <code class="break">{kit.provisioner_role_arn.clone()}</code>
                    <CopyButton text=kit.provisioner_role_arn.clone() label="Copy provisioner role ARN" />
                </dd>
                <dt>"IdP metadata URL"</dt>
                <dd>
                    <div class="kit-value">
                        <a href=metadata_url.clone() target="_blank" rel="noopener" class="break">{metadata_url.clone()}</a>
                        <CopyButton text=metadata_url.clone() label="Copy IdP metadata URL" />
                    </div>
                    <MetadataUrlNote url=metadata_url />
                </dd>
            </dl>
            <p class="hint kit-scope">
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
            <div class="kit-files">
                <CodeFile
                    id="kit-cli"
                    label=forms.cli_label
                    file_name=CLI_FILE
                    mime="text/x-shellscript"
                    text=kit.cli
                    hint=forms.cli_hint
                />
                <CodeFile
                    id="kit-terraform"
                    label="Terraform"
                    file_name=TERRAFORM_FILE
                    mime="text/plain"
                    text=kit.terraform
                    hint=forms.terraform_hint
                />
                <CodeFile
                    id="kit-ros"
                    label=forms.template_label
                    file_name=forms.template_file
                    mime="application/json"
                    text=kit.ros_template
                    hint=forms.template_hint
                />
            </div>
        </section>
        <section class="card" aria-labelledby="kit-next-heading">
            <h2 id="kit-next-heading">"Then"</h2>
            <p>
                "Assign permission sets on this account and provision them from their pages under "
                <A href="/admin/permission-sets">"Permission sets"</A>
                {format!(". If provisioning fails, the role's row shows what {} answered.", provider.label())}
            </p>
        </section>
    }
}

/// A step's parameters are shown open when there are at most this many.
const OPEN_PARAMETERS: usize = 4;

/// A parameter's value as a step shows it: a JSON document (a policy) in full, wrapped;
/// another long one (a whole metadata document) by its start and length, since the files
/// above hold it in full.
fn shortened(value: String) -> String {
    const SHOWN: usize = 96;
    let count = value.chars().count();
    let json = value.trim_start().starts_with(['{', '[']);
    if json || count <= SHOWN * 2 {
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
                    let count = step.parameters.len();
                    let has_parameters = count > 0;
                    view! {
                        <li>
                            <code>{call}</code>
                            " · "
                            {step.description}
                            {has_parameters.then(|| view! {
                                <details open=count <= OPEN_PARAMETERS>
                                    <summary>{format!("Parameters ({count})")}</summary>
                                    <dl class="facts step-parameters">
                                        {step
                                            .parameters
                                            .into_iter()
                                            .map(|(k, v)| view! {
                                                <dt><code>{k}</code></dt>
                                                <dd><code class="param-value">{shortened(v)}</code></dd>
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
