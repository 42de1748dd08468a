//! Refused documents: each fault must be reported at its line and column with what was
//! expected there.

use super::super::{
    check_json, version_position, PolicyParseError, RamPolicy, MAX_SESSION_POLICY_CHARS,
};

#[track_caller]
fn refused(text: &str) -> PolicyParseError {
    match RamPolicy::parse(text) {
        Ok(policy) => panic!("accepted: {policy:?}"),
        Err(e) => e,
    }
}

#[track_caller]
fn assert_fault(text: &str, line: usize, column: usize, message: &str) {
    let e = refused(text);
    assert_eq!(
        (e.line, e.column),
        (line, column),
        "wrong position for: {e}"
    );
    let shown = e.to_string();
    assert!(
        shown.contains(message),
        "{shown:?} does not mention {message:?}"
    );
}

#[test]
fn misspelled_effect() {
    let text = r#"{
  "Version": "1",
  "Statement": [{
      "Effect": "Alow",
      "Action": "ecs:*",
      "Resource": "*"
  }]
}"#;
    let e = refused(text);
    assert_eq!(
        e.to_string(),
        r#"line 4, column 17: expected "Allow" or "Deny", found "Alow""#
    );
}

#[test]
fn effect_is_case_sensitive() {
    let text =
        r#"{"Version": "1", "Statement": {"Effect": "allow", "Action": "*", "Resource": "*"}}"#;
    assert_fault(text, 1, 42, r#"found "allow""#);
}

#[test]
fn missing_comma_between_members() {
    let text = "{\n  \"Version\": \"1\"\n  \"Statement\": []\n}";
    assert_fault(text, 3, 3, r#"expected ',' or '}', found "Statement""#);
}

#[test]
fn trailing_comma_in_array() {
    let text = r#"{
  "Version": "1",
  "Statement": [
    {"Effect": "Allow", "Action": "*", "Resource": "*"},
  ]
}"#;
    assert_fault(text, 5, 3, "expected a JSON value, found ']'");
}

#[test]
fn unterminated_string() {
    let text = "{\n  \"Version\": \"1\",\n  \"Statement\": [{\"Effect\": \"Allow";
    assert_fault(text, 3, 34, "expected a closing '\"', found end of input");
}

#[test]
fn bad_escape() {
    let text = r#"{"Version": "1", "Statement": {"Sid": "a\qb"}}"#;
    assert_fault(text, 1, 42, "expected an escape");
}

#[test]
fn garbage_after_the_document() {
    let text = "{\"Version\": \"1\", \"Statement\": {\"Effect\": \"Allow\", \"Action\": \"*\", \"Resource\": \"*\"}}\n}";
    assert_fault(text, 2, 1, "expected end of input, found '}'");
}

#[test]
fn wrong_version() {
    let text =
        r#"{"Version": "2", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}"#;
    assert_fault(text, 1, 13, r#"expected "1" for "Version", found "2""#);
    let number =
        r#"{"Version": 1, "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}"#;
    assert_fault(number, 1, 13, r#"expected "1" for "Version", found 1"#);
}

#[test]
fn missing_version() {
    let text =
        "\n  {\"Statement\": {\"Effect\": \"Allow\", \"Action\": \"*\", \"Resource\": \"*\"}}";
    assert_fault(text, 2, 3, r#"expected a "Version": "1" in the policy"#);
}

#[test]
fn not_an_object() {
    assert_fault("[]", 1, 1, "expected a policy object, found an array");
    assert_fault("", 1, 1, "expected a JSON value, found end of input");
    assert_fault("  \n\n", 3, 1, "found end of input");
}

#[test]
fn unknown_top_level_key() {
    let text = r#"{"Version": "1", "Id": "x", "Statement": []}"#;
    assert_fault(
        text,
        1,
        18,
        r#"expected "Version" or "Statement", found "Id""#,
    );
}

#[test]
fn empty_statement_list() {
    let text = r#"{"Version": "1", "Statement": []}"#;
    assert_fault(
        text,
        1,
        31,
        "expected at least one statement, found an empty array",
    );
}

#[test]
fn unknown_statement_key() {
    let text = r#"{
  "Version": "1",
  "Statement": [
    {"Effect": "Allow", "Actions": ["ecs:*"], "Resource": "*"}
  ]
}"#;
    assert_fault(text, 4, 25, r#"found "Actions""#);
}

#[test]
fn principal_is_for_resource_policies() {
    let text = r#"{"Version": "1", "Statement": {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}}"#;
    assert_fault(text, 1, 51, "only resource-based policies");
}

#[test]
fn duplicate_key() {
    let text = r#"{
  "Version": "1",
  "Statement": {
    "Effect": "Allow",
    "Action": "*",
    "Effect": "Deny",
    "Resource": "*"
  }
}"#;
    assert_fault(
        text,
        6,
        5,
        r#"expected "Effect" only once, found it a second time"#,
    );
}

#[test]
fn both_action_and_not_action() {
    let text = r#"{"Version": "1", "Statement": {"Effect": "Allow", "Action": "*", "NotAction": "ram:*", "Resource": "*"}}"#;
    assert_fault(
        text,
        1,
        66,
        r#"expected only one of "Action" or "NotAction""#,
    );
}

#[test]
fn missing_action() {
    let text = "{\"Version\": \"1\",\n \"Statement\": [\n   {\"Effect\": \"Allow\", \"Resource\": \"*\"}]}";
    assert_fault(
        text,
        3,
        4,
        r#"expected "Action" or "NotAction" in the statement, found neither"#,
    );
}

#[test]
fn missing_resource() {
    let text = r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*"}]}"#;
    assert_fault(
        text,
        1,
        32,
        r#"expected "Resource" or "NotResource" in the statement"#,
    );
}

#[test]
fn missing_effect() {
    let text = r#"{"Version": "1", "Statement": [{"Action": "*", "Resource": "*"}]}"#;
    assert_fault(
        text,
        1,
        32,
        r#"expected "Effect" in the statement, found none"#,
    );
}

#[test]
fn empty_action_list() {
    let text =
        r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": [], "Resource": "*"}]}"#;
    assert_fault(
        text,
        1,
        62,
        r#"expected at least one entry in "Action", found an empty array"#,
    );
}

#[test]
fn action_without_service() {
    let text = r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": ["ecs:*", "DescribeInstances"], "Resource": "*"}]}"#;
    assert_fault(text, 1, 72, r#"found "DescribeInstances""#);
}

#[test]
fn resource_that_is_not_an_arn() {
    let text = r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "instance/i-1"}]}"#;
    assert_fault(text, 1, 79, r#"expected a resource like"#);
}

#[test]
fn action_that_is_not_a_string() {
    let text = r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": ["ecs:*", 42], "Resource": "*"}]}"#;
    assert_fault(text, 1, 72, r#"expected a string in "Action", found 42"#);
}

#[test]
fn unknown_condition_operator() {
    let text = r#"{
  "Version": "1",
  "Statement": {
    "Effect": "Allow", "Action": "*", "Resource": "*",
    "Condition": {
      "StringEqual": {"acs:SourceVpc": "vpc-1"}
    }
  }
}"#;
    assert_fault(
        text,
        6,
        7,
        r#"expected a condition operator such as "StringEquals""#,
    );
}

#[test]
fn operator_names_are_case_sensitive() {
    let text = r#"{"Version": "1", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"ipaddress": {"acs:SourceIp": "10.0.0.0/8"}}}}"#;
    assert_fault(text, 1, 97, r#"found "ipaddress""#);
}

#[test]
fn invalid_cidr() {
    let text = r#"{
  "Version": "1",
  "Statement": {
    "Effect": "Allow", "Action": "*", "Resource": "*",
    "Condition": {
      "IpAddress": {"acs:SourceIp": ["10.0.0.0/8", "192.168.0.0/33"]}
    }
  }
}"#;
    assert_fault(text, 6, 52, r#"for IpAddress, found "192.168.0.0/33""#);
}

#[test]
fn unparsable_date() {
    let text = r#"{
  "Version": "1",
  "Statement": {
    "Effect": "Allow", "Action": "*", "Resource": "*",
    "Condition": {"DateLessThan": {
        "acs:CurrentTime": "2025-13-01T00:00:00Z"}}
  }
}"#;
    assert_fault(
        text,
        6,
        28,
        r#"for DateLessThan, found "2025-13-01T00:00:00Z""#,
    );
}

#[test]
fn date_without_zone() {
    let text = r#"{"Version": "1", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"DateGreaterThanIfExists": {"acs:CurrentTime": "2025-01-01T00:00:00"}}}}"#;
    assert_fault(text, 1, 144, "for DateGreaterThan");
}

#[test]
fn unparsable_number() {
    let text = r#"{
  "Version": "1",
  "Statement": {
    "Effect": "Allow", "Action": "*", "Resource": "*",
    "Condition": {"NumericLessThan": {"sts:DurationSeconds": "ten"}}
  }
}"#;
    assert_fault(
        text,
        5,
        62,
        r#"expected a number for NumericLessThan, found "ten""#,
    );
}

#[test]
fn bool_that_is_not_a_boolean() {
    let text = r#"{"Version": "1", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"Bool": {"acs:MFAPresent": "yes"}}}}"#;
    assert_fault(
        text,
        1,
        124,
        r#"expected true or false for Bool, found "yes""#,
    );
}

#[test]
fn null_condition_value() {
    let text = r#"{"Version": "1", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringEquals": {"acs:SourceVpc": null}}}}"#;
    assert_fault(text, 1, 131, "expected a string, number or boolean value");
}

#[test]
fn empty_condition_values() {
    let text = r#"{"Version": "1", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringEquals": {"acs:SourceVpc": []}}}}"#;
    assert_fault(text, 1, 131, "expected at least one value");
    let no_keys = r#"{"Version": "1", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringEquals": {}}}}"#;
    assert_fault(no_keys, 1, 113, "expected at least one condition key");
}

#[test]
fn columns_count_characters_not_bytes() {
    // "é" and "😀" are 2 and 4 bytes, one column each.
    let text = r#"{"Version": "1", "Statement": {"Sid": "é😀", "Effect": "Alow", "Action": "*", "Resource": "*"}}"#;
    assert_fault(text, 1, 55, r#"found "Alow""#);
}

#[test]
fn too_long() {
    let statement = r#"{"Effect": "Allow", "Action": "ecs:DescribeInstances", "Resource": "*"}"#;
    let text = format!(
        "{{\"Version\": \"1\", \"Statement\": [\n{}\n]}}",
        vec![statement; 40].join(",\n")
    );
    assert!(RamPolicy::parse(&text).is_ok());
    let e = RamPolicy::parse_with_limit(&text, MAX_SESSION_POLICY_CHARS).unwrap_err();
    // Line 1 holds 32 characters with its newline, each statement line 73 (71 + ",\n");
    // character 2,049 is the 2,017th after line 1: 27 full lines (1,971), then the 46th
    // character of line 29.
    assert_eq!((e.line, e.column), (29, 46), "{e}");
    assert!(
        e.to_string()
            .contains("expected at most 2048 characters, found"),
        "{e}"
    );
    assert!(RamPolicy::parse_with_limit(&text, text.chars().count()).is_ok());
}

#[test]
fn hostile_nesting_is_refused_not_a_crash() {
    let text = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let e = refused(&text);
    assert!(e.to_string().contains("less deeply nested"), "{e}");
}

#[test]
fn lone_surrogate_escape() {
    let text = r#"{"Version": "1", "Statement": {"Sid": "\ud800x"}}"#;
    assert_fault(text, 1, 40, "low surrogate");
}

#[test]
fn another_languages_document_is_checked_for_json_only_and_its_version_found() {
    let iam = "{\n  \"Id\": \"x\",\n  \"Version\": \"2012-10-17\",\n  \"Statement\": []\n}";
    assert!(check_json(iam).is_ok());
    assert_eq!(version_position(iam), Some((3, 14)));
    let e = check_json("{\"Version\": \"2012-10-17\",\n \"Statement\": [}").unwrap_err();
    assert_eq!((e.line, e.column), (2, 16), "{e}");
    assert_eq!(version_position("{\"Statement\": []}"), None);
    assert_eq!(version_position("[1]"), None);
}
