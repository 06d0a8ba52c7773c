//! Key sets: loading from records, rotation, pruning and the JWKS.

use chrono::Duration;
use serde_json::json;

use super::*;
use crate::error::AuthError;
use crate::store::KeyRecord;

const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "k"];

fn record(alg: Algorithm, created_min: i64, retired_min: Option<i64>) -> KeyRecord {
    let mut record = key(alg).to_record(t0() + Duration::minutes(created_min));
    record.retired_at = retired_min.map(|m| t0() + Duration::minutes(m));
    record
}

fn kids(set: &KeySet) -> Vec<&str> {
    set.retired().iter().map(|(key, _)| key.kid()).collect()
}

#[test]
fn jwks_publishes_only_public_members_of_asymmetric_keys() {
    let hmac = key(Algorithm::HS256);
    let mut set = KeySet::new(hmac.clone());
    for alg in [Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256] {
        set.rotate(key(alg), t0()).unwrap();
    }
    set.rotate(key(Algorithm::HS256), t0()).unwrap();

    let jwks = set.jwks();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(jwks.as_object().unwrap().len(), 1);
    assert_eq!(keys.len(), 3);
    let expected = [
        (
            Algorithm::EdDSA,
            "OKP",
            &["kty", "crv", "x", "kid", "alg", "use"][..],
        ),
        (
            Algorithm::ES256,
            "EC",
            &["kty", "crv", "x", "y", "kid", "alg", "use"][..],
        ),
        (
            Algorithm::RS256,
            "RSA",
            &["kty", "n", "e", "kid", "alg", "use"][..],
        ),
    ];
    for (jwk, (alg, kty, members)) in keys.iter().zip(expected) {
        let obj = jwk.as_object().unwrap();
        assert_eq!(obj["kty"], json!(kty));
        assert_eq!(obj["alg"], json!(alg.as_str()));
        assert_eq!(obj["use"], json!("sig"));
        let mut names: Vec<&str> = obj.keys().map(String::as_str).collect();
        let mut want = members.to_vec();
        names.sort_unstable();
        want.sort_unstable();
        assert_eq!(names, want, "{alg}");
        for private in PRIVATE_MEMBERS {
            assert!(!obj.contains_key(private), "{alg} publishes {private}");
        }
        assert!(set.get(obj["kid"].as_str().unwrap()).is_some());
    }
    let text = jwks.to_string();
    assert!(!text.contains(hmac.kid()));
    assert!(!text.contains(set.current().kid()));
    assert_eq!(
        KeySet::new(key(Algorithm::HS256)).jwks(),
        json!({"keys": []})
    );
}

#[test]
fn from_records_picks_the_newest_unretired_key() {
    let records = vec![
        record(Algorithm::EdDSA, 0, None),
        record(Algorithm::ES256, 10, None),
        record(Algorithm::EdDSA, 5, Some(10)),
    ];
    let set = KeySet::from_records(&records, t0() + Duration::minutes(20), Duration::hours(1))
        .unwrap()
        .unwrap();
    assert_eq!(set.current().kid(), records[1].kid);
    assert_eq!(set.current().algorithm(), Algorithm::ES256);
    // The older unretired key (another instance's) and the retired one
    // both still verify; the unretired one counts as retired now.
    let retired = set.retired();
    assert_eq!(
        kids(&set),
        [records[2].kid.as_str(), records[0].kid.as_str()]
    );
    assert_eq!(retired[0].1, t0() + Duration::minutes(10));
    assert_eq!(retired[1].1, t0() + Duration::minutes(20));
}

#[test]
fn from_records_keeps_retired_keys_only_within_grace() {
    let now = t0() + Duration::hours(2);
    let grace = Duration::minutes(30);
    let records = vec![
        record(Algorithm::EdDSA, 0, None),
        record(Algorithm::EdDSA, -60, Some(120 - 30)), // exactly at the cutoff
        record(Algorithm::EdDSA, -60, Some(120 - 10)),
        record(Algorithm::EdDSA, -60, Some(120 - 31)),
        KeyRecord {
            // Dropped, so never parsed.
            private_material: "corrupt".into(),
            ..record(Algorithm::EdDSA, -90, Some(0))
        },
    ];
    let set = KeySet::from_records(&records, now, grace).unwrap().unwrap();
    assert_eq!(set.current().kid(), records[0].kid);
    assert_eq!(
        kids(&set),
        [records[1].kid.as_str(), records[2].kid.as_str()]
    );
    assert!(set.get(&records[3].kid).is_none());
    assert!(set.get(&records[4].kid).is_none());
}

#[test]
fn from_records_is_none_without_an_unretired_key() {
    assert!(
        KeySet::from_records(&[], t0(), Duration::hours(1))
            .unwrap()
            .is_none()
    );
    let records = [record(Algorithm::EdDSA, 0, Some(1))];
    assert!(
        KeySet::from_records(&records, t0(), Duration::hours(1))
            .unwrap()
            .is_none()
    );
}

#[test]
fn from_records_ties_break_by_kid() {
    let mut records = vec![
        record(Algorithm::EdDSA, 0, None),
        record(Algorithm::HS256, 0, None),
    ];
    let expected = records.iter().map(|r| r.kid.clone()).max().unwrap();
    for _ in 0..2 {
        let set = KeySet::from_records(&records, t0(), Duration::hours(1))
            .unwrap()
            .unwrap();
        assert_eq!(set.current().kid(), expected);
        records.reverse();
    }
}

#[test]
fn from_records_refuses_corrupt_or_duplicate_records() {
    let current = record(Algorithm::EdDSA, 0, None);
    let retired = record(Algorithm::ES256, -10, Some(0));
    let cases = [
        vec![KeyRecord {
            private_material: "corrupt".into(),
            ..current.clone()
        }],
        vec![
            current.clone(),
            KeyRecord {
                algorithm: "HS512".into(),
                ..retired.clone()
            },
        ],
        vec![
            current.clone(),
            KeyRecord {
                kid: current.kid.clone(),
                ..retired
            },
        ],
    ];
    for records in cases {
        match KeySet::from_records(&records, t0(), Duration::hours(1)) {
            Err(err @ AuthError::Internal(_)) => {
                let message = err.report().to_string();
                assert!(!message.contains(&current.private_material));
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn rotate_retires_the_current_key_and_refuses_known_kids() {
    let first = key(Algorithm::EdDSA);
    let second = key(Algorithm::EdDSA);
    let mut set = KeySet::new(first.clone());
    set.rotate(second.clone(), t0()).unwrap();
    assert_eq!(set.current().kid(), second.kid());
    assert_eq!(kids(&set), [first.kid()]);
    assert_eq!(set.retired()[0].1, t0());
    assert!(set.get(first.kid()).is_some() && set.get(second.kid()).is_some());
    assert_eq!(set.jwks()["keys"].as_array().unwrap().len(), 2);

    for again in [first, second] {
        assert!(matches!(
            set.rotate(again, t0()),
            Err(AuthError::Internal(_))
        ));
    }
    assert_eq!(set.retired().len(), 1);
}

#[test]
fn prune_drops_keys_retired_before_the_grace_period() {
    let mut set = KeySet::new(key(Algorithm::EdDSA));
    for minute in 0..3 {
        set.rotate(key(Algorithm::EdDSA), t0() + Duration::minutes(minute))
            .unwrap();
    }
    let oldest = set.retired()[0].0.kid().to_owned();
    let now = t0() + Duration::minutes(11);
    assert_eq!(set.prune(now, Duration::minutes(10)), 1);
    assert!(set.get(&oldest).is_none());
    assert_eq!(set.retired().len(), 2);
    assert_eq!(set.prune(now, Duration::minutes(10)), 0);
    assert_eq!(set.prune(now, Duration::zero()), 2);
    assert!(set.retired().is_empty());
    assert_eq!(set.prune(now, Duration::MAX), 0);
    assert!(set.get(set.current().kid()).is_some());
}
