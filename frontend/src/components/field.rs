//! Labelled form controls whose fault is shown under them and tied to them with
//! `aria-describedby`/`aria-invalid`, so people and tests find each by its label.

use leptos::prelude::*;

/// A labelled `<input>` bound to `value`.
#[component]
pub fn TextField(
    /// The element id, unique on the page.
    id: &'static str,
    label: &'static str,
    value: RwSignal<String>,
    /// The current fault of this field, if any.
    #[prop(optional, into)]
    error: Option<Signal<Option<String>>>,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] autocomplete: Option<&'static str>,
    #[prop(optional)] inputmode: Option<&'static str>,
    #[prop(optional)] placeholder: Option<&'static str>,
    #[prop(optional)] maxlength: Option<u32>,
    /// A line of help under the label.
    #[prop(optional)]
    hint: Option<&'static str>,
    #[prop(optional)] required: bool,
    #[prop(optional)] node_ref: Option<NodeRef<leptos::html::Input>>,
    /// Suggestions the browser offers as the person types (a `<datalist>`); any text is
    /// still accepted.
    #[prop(optional)]
    suggestions: Option<Vec<String>>,
) -> impl IntoView {
    let error = error.unwrap_or_else(|| Signal::stored(None));
    let list_id = suggestions.as_ref().map(|_| format!("{id}-suggestions"));
    let hint_id = format!("{id}-hint");
    let error_id = format!("{id}-error");
    let described_by = {
        let hint_id = hint_id.clone();
        let error_id = error_id.clone();
        move || {
            let mut ids = Vec::new();
            if hint.is_some() {
                ids.push(hint_id.clone());
            }
            if error.with(Option::is_some) {
                ids.push(error_id.clone());
            }
            (!ids.is_empty()).then(|| ids.join(" "))
        }
    };
    let node_ref = node_ref.unwrap_or_default();
    view! {
        <div class="field" class:field-invalid=move || error.with(Option::is_some)>
            <label for=id>{label}</label>
            <input
                id=id
                name=id
                type=kind
                autocomplete=autocomplete
                inputmode=inputmode
                placeholder=placeholder
                maxlength=maxlength
                required=required
                node_ref=node_ref
                list=list_id.clone()
                aria-invalid=move || error.with(Option::is_some).then_some("true")
                aria-describedby=described_by
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))
            />
            {suggestions.map(|choices| view! {
                <datalist id=list_id>
                    {choices.into_iter().map(|c| view! { <option value=c></option> }).collect_view()}
                </datalist>
            })}
            {hint.map(|h| view! { <p class="hint" id=hint_id>{h}</p> })}
            {move || error.get().map(|message| view! { <p class="field-error" id=error_id.clone()>{message}</p> })}
        </div>
    }
}

/// A labelled `<select>` bound to `value`; `options` are `(value, label)` pairs.
#[component]
pub fn SelectField(
    id: &'static str,
    label: &'static str,
    value: RwSignal<String>,
    #[prop(into)] options: Signal<Vec<(String, String)>>,
    #[prop(optional, into)] error: Option<Signal<Option<String>>>,
) -> impl IntoView {
    let error = error.unwrap_or_else(|| Signal::stored(None));
    let error_id = format!("{id}-error");
    view! {
        <div class="field" class:field-invalid=move || error.with(Option::is_some)>
            <label for=id>{label}</label>
            <select
                id=id
                name=id
                aria-invalid=move || error.with(Option::is_some).then_some("true")
                aria-describedby={
                    let error_id = error_id.clone();
                    move || error.with(Option::is_some).then(|| error_id.clone())
                }
                prop:value=move || value.get()
                on:change=move |ev| value.set(event_target_value(&ev))
            >
                {move || {
                    options
                        .get()
                        .into_iter()
                        .map(|(v, l)| {
                            let selected = value.with_untracked(|current| *current == v);
                            view! { <option value=v selected=selected>{l}</option> }
                        })
                        .collect_view()
                }}
            </select>
            {move || error.get().map(|message| view! { <p class="field-error" id=error_id.clone()>{message}</p> })}
        </div>
    }
}

/// A labelled checkbox bound to `checked`.
#[component]
pub fn CheckboxField(
    id: String,
    #[prop(into)] label: String,
    checked: RwSignal<bool>,
    #[prop(optional)] hint: Option<&'static str>,
) -> impl IntoView {
    view! {
        <div class="check">
            <input
                type="checkbox"
                id=id.clone()
                prop:checked=move || checked.get()
                on:change=move |ev| checked.set(event_target_checked(&ev))
            />
            <label for=id>{label}</label>
            {hint.map(|h| view! { <span class="hint">{h}</span> })}
        </div>
    }
}
