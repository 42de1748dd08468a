//! The state every form shares: per-field faults (from the shared validation rules or from
//! the server's `validation_failed`), one form-level error, a success notice and "busy".

use gatehouse_shared::error::FieldError;
use gatehouse_shared::validate::Faults;
use leptos::prelude::*;

use crate::api::{ApiError, ErrorCode};

#[derive(Debug, Clone, Copy)]
pub struct FormState {
    fields: RwSignal<Vec<FieldError>>,
    pub error: RwSignal<Option<String>>,
    pub notice: RwSignal<Option<String>>,
    pub busy: RwSignal<bool>,
}

impl Default for FormState {
    fn default() -> Self {
        Self::new()
    }
}

impl FormState {
    pub fn new() -> Self {
        Self {
            fields: RwSignal::new(Vec::new()),
            error: RwSignal::new(None),
            notice: RwSignal::new(None),
            busy: RwSignal::new(false),
        }
    }

    /// The fault of one field (tracked), by its API field name.
    pub fn field_error(self, field: &'static str) -> Signal<Option<String>> {
        Signal::derive(move || {
            self.fields.with(|faults| {
                faults
                    .iter()
                    .find(|f| f.field == field)
                    .map(|f| f.message.clone())
            })
        })
    }

    /// The fault of a field whose name is made at run time, such as `policies[2]` (tracked).
    pub fn field_message(self, field: &str) -> Option<String> {
        self.fields.with(|faults| {
            faults
                .iter()
                .find(|f| f.field == field)
                .map(|f| f.message.clone())
        })
    }

    /// Clears old messages and marks the form busy; returns false if it already was.
    pub fn start(self) -> bool {
        if self.busy.get_untracked() {
            return false;
        }
        self.fields.set(Vec::new());
        self.error.set(None);
        self.notice.set(None);
        self.busy.set(true);
        true
    }

    /// Shows the faults found before sending; returns true if there were none.
    pub fn check(self, faults: Faults) -> bool {
        if faults.is_empty() {
            return true;
        }
        self.fields.set(faults.into_vec());
        self.error
            .set(Some("Check the fields marked below.".into()));
        self.busy.set(false);
        false
    }

    /// Shows a failed request: field faults next to their fields, anything else as one message.
    pub fn fail(self, error: ApiError) {
        self.busy.set(false);
        if error.code == ErrorCode::ValidationFailed && !error.fields.is_empty() {
            self.fields.set(error.fields);
            self.error
                .set(Some("Check the fields marked below.".into()));
        } else {
            self.error.set(Some(error.message));
        }
    }

    pub fn set_field_error(self, field: &str, message: impl Into<String>) {
        self.fields.set(vec![FieldError::new(field, message)]);
    }

    pub fn succeed(self, notice: Option<String>) {
        self.busy.set(false);
        self.notice.set(notice);
    }
}
