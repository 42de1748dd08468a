//! The comparison is only honest if both engines decide alike: every request of the table
//! must get the same effect *and* the same deciding statements from Gatehouse and from
//! both Cedar policy sets, and that must be the expected one.

use std::collections::BTreeSet;

use policy_vs_cedar::{cases, Cedar, CedarStyle, Gatehouse, Outcome, ACTION_CATALOGUE};

#[test]
fn all_engines_decide_every_case_alike() {
    let gatehouse = Gatehouse::new();
    let cedars = [
        Cedar::new(CedarStyle::Like),
        Cedar::new(CedarStyle::ActionGroups),
    ];
    let table = cases();
    assert!(table.len() >= 12);
    for case in &table {
        let expected = Outcome::from(case.expect);
        let got = gatehouse.outcome(&Gatehouse::request(case));
        assert_eq!(got, expected, "gatehouse: {}", case.name);
        for cedar in &cedars {
            let got = cedar.outcome(&cedar.request(case));
            assert_eq!(got, expected, "{}: {}", cedar.name(), case.name);
        }
    }
}

#[test]
fn the_table_exercises_every_statement_and_outcome() {
    let mut deciding = BTreeSet::new();
    let (mut allows, mut denies, mut implicit) = (0, 0, 0);
    for case in cases() {
        match Outcome::from(case.expect) {
            Outcome::Allow(s) => {
                allows += 1;
                deciding.extend(s);
            }
            Outcome::ExplicitDeny(s) => {
                denies += 1;
                deciding.extend(s);
            }
            Outcome::ImplicitDeny => implicit += 1,
        }
    }
    assert_eq!(deciding, (1..=20).collect::<BTreeSet<_>>());
    assert!(allows > 0 && denies > 0 && implicit > 0);
    assert_eq!(Gatehouse::new().policy.statements().len(), 20);
    assert_eq!(Cedar::new(CedarStyle::Like).policies.policies().count(), 20);
    assert_eq!(
        Cedar::new(CedarStyle::ActionGroups)
            .policies
            .policies()
            .count(),
        20
    );
}

#[test]
fn every_action_of_the_table_is_in_the_group_catalogue() {
    let catalogue: BTreeSet<String> = ACTION_CATALOGUE
        .iter()
        .map(|a| a.to_ascii_lowercase())
        .collect();
    for case in cases() {
        assert!(
            catalogue.contains(&case.action.to_ascii_lowercase()),
            "{}",
            case.action
        );
    }
}
