//! Permission sets (CloudSSO "access configurations"): the table of permission sets and the
//! create form (system policies from the catalogue, an inline policy checked in place); and
//! one permission set's page: its settings (edit), who it is assigned to on which account
//! (add, remove), the RAM role it becomes in each of those accounts (provision), deletion.
//!
//! `list`: the list page and the create form; `detail`: one permission set's page, whose
//! cards are `settings`, `assignments` and `roles`; `fields`: the settings fields that the
//! create and the edit form share.

mod assignments;
mod detail;
mod fields;
mod list;
mod roles;
mod settings;

pub use detail::PermissionSetDetailPage;
pub use list::PermissionSetsPage;
