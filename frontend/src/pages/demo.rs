//! The demo company's guide, at the top of an administrator's portal while `gatehouse serve
//! --demo`'s company is there: what to try first, whom to sign in as (with the demo
//! password), and removing the company in one action.

use gatehouse_shared::demo::{DemoGuide, DemoPerson};
use leptos::prelude::*;

use crate::api;
use crate::components::alert::{ErrorAlert, Notice};
use crate::components::confirm::ConfirmAction;
use crate::components::copy::CopyButton;
use crate::components::form::FormState;
use crate::components::table::DataTable;

/// Shows nothing when there is no demo company (or the viewer may not see it).
#[component]
pub fn DemoGuideCard() -> impl IntoView {
    let guide = LocalResource::new(api::demo_guide);
    let page = FormState::new();
    let removed = move |r: gatehouse_shared::demo::DemoRemoved| {
        let gone = if r.already_gone > 0 {
            format!(" ({} were already gone)", r.already_gone)
        } else {
            String::new()
        };
        page.succeed(Some(format!(
            "The demo company was removed: {} things{gone}. The audit trail keeps its history.",
            r.removed
        )));
        guide.refetch();
    };
    view! {
        <Notice message=page.notice />
        {move || match guide.get() {
            Some(Ok(Some(g))) => view! { <Guide guide=g page removed /> }.into_any(),
            _ => ().into_any(),
        }}
    }
}

#[component]
fn Guide(
    guide: DemoGuide,
    page: FormState,
    removed: impl Fn(gatehouse_shared::demo::DemoRemoved) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let password = guide.password.clone();
    let steps = guide
        .try_first
        .into_iter()
        .map(|s| {
            // Pages of the other bundles load as a new document.
            let external = s.href.starts_with("/admin/") || s.href.starts_with("/audit");
            view! {
                <li>
                    <a href=s.href rel=external.then_some("external")>{s.page}</a>
                    " — "{s.what}
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="card demo-guide" aria-labelledby="demo-heading">
            <h2 id="demo-heading">"A demo company to try things with"</h2>
            <p>
                "Gatehouse made an example company on first start: seven people in six groups, three accounts that work without a cloud, permission sets, policies, a root vault entry and three days of history. Every demo person's password is "
                <code>{password.clone()}</code>" "
                <CopyButton text=password label="Copy the demo password" />
            </p>
            <h3>"Try first"</h3>
            <ul class="demo-steps">{steps}</ul>
            <DataTable caption="Sign in as" headers=&["Username", "Who", "What you see"]>
                {guide.people.into_iter().map(|p| view! { <Person person=p /> }).collect_view()}
            </DataTable>
            <div class="demo-remove">
                <ErrorAlert error=page.error />
                <ConfirmAction
                    label="Remove the demo company"
                    question="Remove every person, group, account, permission set, policy, vault entry and endpoint the demo made? Grants in force are revoked; your own users and settings stay."
                    confirm="Remove"
                    page
                    action=api::remove_demo
                    done=removed
                />
            </div>
        </section>
    }
}

#[component]
fn Person(person: DemoPerson) -> impl IntoView {
    view! {
        <tr>
            <td><code>{person.username}</code></td>
            <td>{person.display_name}<span class="hint block">{person.role}</span></td>
            <td>{person.shows}</td>
        </tr>
    }
}
