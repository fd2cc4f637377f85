//! A transaction suspended after phase 1 and resumed for phase 2 ends as
//! one run straight through: same detections, score and verdict.

use portcullis_waf_engine::{EngineMode, RequestHead, Transaction};

use crate::load_crs;
use crate::requests;

/// Rule ids detected, the inbound score and the interruption's status.
type Outcome = (Vec<u32>, Option<Vec<u8>>, Option<u16>);

fn outcome(transaction: &Transaction<'_>) -> Outcome {
    (
        transaction.detections().iter().map(|d| d.rule_id).collect(),
        transaction
            .tx("blocking_inbound_anomaly_score")
            .map(<[u8]>::to_vec),
        transaction.interruption().map(|i| i.status),
    )
}

#[test]
fn resuming_after_phase_one_ends_as_running_straight_through() {
    let rules = load_crs(
        r#"SecAction "id:9990001,phase:1,pass,nolog,setvar:tx.blocking_paranoia_level=1""#,
    );
    let attack_in_header = {
        let (mut head, body) = requests::benign();
        head.headers
            .push((b"User-Agent".to_vec(), b"sqlmap/1.7".to_vec()));
        (head, body)
    };
    for (name, (head, body)) in [
        ("benign", requests::benign()),
        ("attack in the body", requests::attack()),
        ("attack in a header", attack_in_header),
    ] {
        let straight = {
            let mut transaction = Transaction::new(&rules, head.clone(), EngineMode::On);
            transaction.request_headers();
            transaction.request_body(&body);
            outcome(&transaction)
        };
        let resumed = {
            let mut first = Transaction::new(&rules, head.clone(), EngineMode::On);
            first.request_headers();
            let suspended = first.suspend();
            assert_eq!(suspended.head(), &head as &RequestHead);
            let mut second = Transaction::resume(&rules, suspended);
            second.request_body(&body);
            outcome(&second)
        };
        assert_eq!(straight, resumed, "{name}");
        assert_eq!(
            straight.2.is_some(),
            name != "benign",
            "{name}: {straight:?}"
        );
    }
}
