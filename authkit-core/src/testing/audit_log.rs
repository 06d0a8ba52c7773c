//! Checks of [`AuditStore`](crate::store::AuditStore).

use uuid::Uuid;

use super::fixtures::{audit, now, secs};
use crate::audit::{AuditQuery, AuditRecord, AuthEvent};
use crate::store::Store;

/// Everything, newest first.
fn all() -> AuditQuery {
    AuditQuery {
        limit: 1000,
        ..AuditQuery::default()
    }
}

/// Records come back as appended, newest first by time then id.
pub async fn audit_records_come_newest_first(store: Store) {
    let t = now();
    let user_id = Uuid::now_v7();
    let mut records: Vec<AuditRecord> = [t, t + secs(2), t + secs(1), t + secs(3), t + secs(3)]
        .into_iter()
        .map(|at| audit(&AuthEvent::PasswordChanged { user_id }, at))
        .collect();
    // Appended out of order, the two records sharing a time included.
    for record in records.iter().rev() {
        store.audit.append_audit(record).await.unwrap();
    }
    records.sort_by_key(|r| std::cmp::Reverse((r.at, r.id)));
    assert_eq!(
        store.audit.audit_records(&all()).await.unwrap(),
        records,
        "records round-trip, newest first by (at, id)"
    );
}

/// Each filter of [`AuditQuery`] narrows the result.
pub async fn audit_queries_filter_by_user_event_and_time(store: Store) {
    let t = now();
    let (ann, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let events = [
        (AuthEvent::UserRegistered { user_id: ann }, t),
        (
            AuthEvent::LoginSucceeded {
                user_id: ann,
                session_id: Uuid::now_v7(),
            },
            t + secs(1),
        ),
        (
            AuthEvent::LoginFailed {
                user_id: Some(bob),
                reason: "invalid_credentials".into(),
            },
            t + secs(2),
        ),
        (
            AuthEvent::LoginFailed {
                user_id: None,
                reason: "invalid_credentials".into(),
            },
            t + secs(3),
        ),
        (
            AuthEvent::LoginSucceeded {
                user_id: bob,
                session_id: Uuid::now_v7(),
            },
            t + secs(4),
        ),
    ];
    let mut records = Vec::new();
    for (event, at) in &events {
        let record = audit(event, *at);
        store.audit.append_audit(&record).await.unwrap();
        records.push(record);
    }
    let expect = |indexes: &[usize]| -> Vec<AuditRecord> {
        indexes.iter().map(|i| records[*i].clone()).collect()
    };
    let query = |q: AuditQuery| {
        let store = store.clone();
        async move {
            store
                .audit
                .audit_records(&AuditQuery { limit: 1000, ..q })
                .await
                .unwrap()
        }
    };

    let by_user = query(AuditQuery {
        user_id: Some(ann),
        ..all()
    })
    .await;
    assert_eq!(by_user, expect(&[1, 0]), "filter by user");
    let by_event = query(AuditQuery {
        event: Some("login_failed".into()),
        ..all()
    })
    .await;
    assert_eq!(by_event, expect(&[3, 2]), "filter by event name");
    let both = query(AuditQuery {
        user_id: Some(bob),
        event: Some("login_succeeded".into()),
        ..all()
    })
    .await;
    assert_eq!(both, expect(&[4]), "filters combine");
    let window = query(AuditQuery {
        since: Some(t + secs(1)),
        until: Some(t + secs(3)),
        ..all()
    })
    .await;
    assert_eq!(
        window,
        expect(&[2, 1]),
        "since is inclusive, until exclusive"
    );
    let none = query(AuditQuery {
        event: Some("no_such_event".into()),
        ..all()
    })
    .await;
    assert!(none.is_empty(), "an unmatched filter returns nothing");
}

/// `offset` and `limit` page through the filtered, ordered records.
pub async fn audit_queries_page_with_offset_and_limit(store: Store) {
    let t = now();
    let user_id = Uuid::now_v7();
    let mut records = Vec::new();
    for i in 0..7 {
        let record = audit(&AuthEvent::VerificationSent { user_id }, t + secs(i));
        store.audit.append_audit(&record).await.unwrap();
        records.push(record);
    }
    store
        .audit
        .append_audit(&audit(&AuthEvent::SigningKeyRotated { kid: "k".into() }, t))
        .await
        .unwrap();
    records.reverse();

    let mut pages = Vec::new();
    for offset in [0, 3, 6, 9] {
        let query = AuditQuery {
            user_id: Some(user_id),
            offset,
            limit: 3,
            ..AuditQuery::default()
        };
        pages.push(store.audit.audit_records(&query).await.unwrap());
    }
    assert_eq!(pages[0], records[0..3], "first page");
    assert_eq!(pages[1], records[3..6], "second page");
    assert_eq!(pages[2], records[6..7], "a short last page");
    assert!(pages[3].is_empty(), "an offset past the end is empty");
    let nothing = AuditQuery {
        limit: 0,
        ..AuditQuery::default()
    };
    assert!(
        store
            .audit
            .audit_records(&nothing)
            .await
            .unwrap()
            .is_empty(),
        "limit 0"
    );
}

/// Reading never changes a record, and later appends leave earlier records
/// as they were.
pub async fn audit_records_are_immutable(store: Store) {
    let t = now();
    let user_id = Uuid::now_v7();
    let record = audit(
        &AuthEvent::ProfileUpdated {
            user_id,
            fields: vec!["display_name".into(), "avatar_url".into()],
        },
        t,
    );
    store.audit.append_audit(&record).await.unwrap();
    let mut first = store.audit.audit_records(&all()).await.unwrap();
    assert_eq!(
        first,
        vec![record.clone()],
        "the record round-trips, data included"
    );

    first[0].event = "tampered".into();
    for i in 1..=3 {
        let later = audit(&AuthEvent::DataExported { user_id }, t + secs(i));
        store.audit.append_audit(&later).await.unwrap();
    }
    let again = store.audit.audit_records(&all()).await.unwrap();
    assert_eq!(again.len(), 4, "appends add records");
    assert_eq!(
        again.last(),
        Some(&record),
        "an earlier record is unchanged by later appends"
    );
}
