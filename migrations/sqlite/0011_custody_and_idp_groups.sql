-- Issue 17, the review's findings on split custody and IdP group sync.

-- A pending request keeps the custody settings it was made under: the custodian groups,
-- M and N, and the window are copied onto the request when it is made, so changing the
-- vault entry afterwards makes it neither easier nor harder. Existing requests take their
-- entry's current settings.
ALTER TABLE breakglass_requests ADD COLUMN password_group_id TEXT NOT NULL DEFAULT '';
ALTER TABLE breakglass_requests ADD COLUMN mfa_group_id TEXT NOT NULL DEFAULT '';
ALTER TABLE breakglass_requests ADD COLUMN password_approvals BIGINT NOT NULL DEFAULT 1;
ALTER TABLE breakglass_requests ADD COLUMN mfa_approvals BIGINT NOT NULL DEFAULT 1;
ALTER TABLE breakglass_requests ADD COLUMN window_secs BIGINT NOT NULL DEFAULT 900;
UPDATE breakglass_requests SET
    password_group_id  = (SELECT v.password_group_id FROM vault_entries v WHERE v.id = breakglass_requests.vault_entry_id),
    mfa_group_id       = (SELECT v.mfa_group_id FROM vault_entries v WHERE v.id = breakglass_requests.vault_entry_id),
    password_approvals = (SELECT v.password_approvals FROM vault_entries v WHERE v.id = breakglass_requests.vault_entry_id),
    mfa_approvals      = (SELECT v.mfa_approvals FROM vault_entries v WHERE v.id = breakglass_requests.vault_entry_id),
    window_secs        = (SELECT v.window_secs FROM vault_entries v WHERE v.id = breakglass_requests.vault_entry_id);

-- Who set each half of a root credential by a recorded rotation (user IDs; NULL: set when
-- the entry was created). The two current halves never come from one custodian.
ALTER TABLE vault_entries ADD COLUMN password_set_by_id TEXT;
ALTER TABLE vault_entries ADD COLUMN totp_set_by_id TEXT;

-- An IdP's groups claim may put people into a group that gives a Gatehouse role, approves
-- access requests or holds root-credential custody only if an administrator marked the
-- group IdP-managed. Off for every existing group.
ALTER TABLE user_groups ADD COLUMN idp_managed INTEGER NOT NULL DEFAULT 0;
