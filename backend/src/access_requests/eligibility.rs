//! What a person may ask for: every account and permission set an eligibility policy
//! covers for them, with the limits the strictest matching policies set.

use gatehouse_shared::requests::{Eligibility, EligibleItem};

use super::{resolve_approval, resolve_eligibility, RequestError};
use crate::store::Store;

/// What `user_id` (a member of `groups`) may ask for: every account × permission set some
/// eligibility policy covers, with the limits that will apply (the strictest match) and,
/// where approval is needed, what the approval policy will demand.
pub async fn eligibility(
    store: &dyn Store,
    user_id: &str,
    groups: &[String],
) -> Result<Eligibility, RequestError> {
    let eps = store.list_eligibility_policies().await?;
    let aps = store.list_approval_policies().await?;
    let accounts = store.list_accounts().await?;
    let sets = store.list_permission_sets().await?;
    let mut items = Vec::new();
    for a in &accounts {
        for p in &sets {
            let Some(e) = resolve_eligibility(&eps, user_id, groups, &a.id, &p.id) else {
                continue;
            };
            let rule = if e.approval_required {
                resolve_approval(&aps, &a.id, &p.id)
            } else {
                None
            };
            items.push(EligibleItem {
                account_id: a.id.clone(),
                account_name: a.name.clone(),
                permission_set_id: p.id.clone(),
                permission_set_name: p.name.clone(),
                limits: e.limits(rule.as_ref()),
            });
        }
    }
    Ok(Eligibility { items })
}
