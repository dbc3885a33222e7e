//! TAXII "Add Objects": check the envelope's bounds, hand its objects to the ingest path
//! (which asks the policy whether the org may submit them, at this instant and for these
//! types), and record the outcome as a status resource any server node can serve.
//!
//! Ingest runs inside the request, so the status is `complete` when the 202 is sent; the
//! status resource is kept so clients that poll it (as the spec invites) find it.

use serde_json::{json, Value};

use super::super::error::Problem;
use super::super::limits::{MAX_BODY_BYTES, MAX_JSON_DEPTH, MAX_OBJECTS_PER_POST};
use crate::model::{stix_time, Org};
use crate::store::Store;

/// The deepest nesting of arrays and objects in `bytes`, stopping early past `limit`.
/// Strings are skipped (brackets inside them do not count).
pub fn json_depth_exceeds(bytes: &[u8], limit: usize) -> bool {
    let mut depth = 0usize;
    let mut in_str = false;
    let mut escaped = false;
    for &b in bytes {
        if in_str {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_str = false;
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Parse a TAXII envelope body into its objects, enforcing the size, depth and count limits.
pub fn parse_envelope(body: &[u8]) -> Result<Vec<Value>, Problem> {
    if body.len() > MAX_BODY_BYTES {
        return Err(Problem::too_large(format!(
            "the envelope is {} bytes; at most {MAX_BODY_BYTES} are accepted (the API root's max_content_length): split it into several requests",
            body.len()
        )));
    }
    if json_depth_exceeds(body, MAX_JSON_DEPTH) {
        return Err(Problem::bad_request(format!(
            "the envelope nests deeper than {MAX_JSON_DEPTH} levels; STIX objects do not need that, check the input"
        )));
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        Problem::bad_request(format!(
            "the body is not JSON: {e} (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let Value::Object(mut m) = v else {
        return Err(Problem::bad_request(
            "the body must be a TAXII envelope: a JSON object with an \"objects\" array",
        ));
    };
    let objects = match m.remove("objects") {
        None => vec![],
        Some(Value::Array(a)) => a,
        Some(_) => {
            return Err(Problem::bad_request(
                "/objects must be an array of STIX objects",
            ))
        }
    };
    if objects.len() > MAX_OBJECTS_PER_POST {
        return Err(Problem::too_large(format!(
            "the envelope holds {} objects; at most {MAX_OBJECTS_PER_POST} per request are accepted: split it",
            objects.len()
        )));
    }
    Ok(objects)
}

/// Store `objects` as `org`'s submission and build the status resource (also stored).
pub fn submit(
    store: &Store,
    org: &Org,
    collection: &str,
    objects: Vec<Value>,
) -> Result<Value, Problem> {
    let now = chrono::Utc::now();
    let status_id = uuid::Uuid::new_v4().to_string();
    // What each object claims to be, for the failure list if the whole request is refused.
    let idents: Vec<(String, String)> = objects
        .iter()
        .map(|o| {
            let id = o
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let version = o
                .get("modified")
                .or_else(|| o.get("created"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            (id, version)
        })
        .collect();
    let total = objects.len();
    let mut successes = vec![];
    let mut failures = vec![];
    match ingest_envelope(store, org, &format!("taxii:{collection}"), objects) {
        Ok(outcomes) => {
            for (i, outcome) in outcomes.into_iter().enumerate() {
                let (id, version) = &idents[i.min(total.saturating_sub(1))];
                let mut entry = json!({ "id": id, "version": version });
                match outcome {
                    None => successes.push(entry),
                    Some(why) => {
                        entry["message"] = why.into();
                        failures.push(entry);
                    }
                }
            }
        }
        Err(why) => {
            for (id, version) in &idents {
                failures.push(json!({ "id": id, "version": version, "message": why }));
            }
        }
    }
    let mut status = json!({
        "id": status_id,
        "status": "complete",
        "request_timestamp": stix_time(now),
        "total_count": total,
        "success_count": successes.len(),
        "failure_count": failures.len(),
        "pending_count": 0,
    });
    if !successes.is_empty() {
        status["successes"] = successes.into();
    }
    if !failures.is_empty() {
        status["failures"] = failures.into();
    }
    store.put_taxii_status(&status_id, org.id, &status.to_string())?;
    Ok(status)
}

/// Store the objects as one submission of `org`. Returns each object's outcome (`None`:
/// stored or already stored; `Some(reason)`: refused), or one reason refusing them all.
///
/// This is the seam to the ingest path: [`crate::ingest::ingest_stix_objects`] checks the
/// agreement with the policy at this instant and normalises the objects exactly like a
/// file (claims on observables, markings), keeping the valid objects of an envelope with
/// bad ones (`partial`), as TAXII reports per object.
pub fn ingest_envelope(
    store: &Store,
    org: &Org,
    name: &str,
    objects: Vec<Value>,
) -> Result<Vec<Option<String>>, String> {
    let total = objects.len();
    let opts = crate::ingest::IngestOptions {
        partial: true,
        ..Default::default()
    };
    let report = crate::ingest::ingest_stix_objects(store, org, name, objects.into_iter(), &opts)
        .map_err(|e| e.to_string())?;
    let mut outcomes: Vec<Option<String>> =
        vec![
            Some("not processed: an earlier object in the envelope stopped the submission".into());
            total
        ];
    for o in report.objects {
        if o.index < total {
            outcomes[o.index] = o.error.map(|e| format!("/objects/{}: {e}", o.index));
        }
    }
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_structure_not_strings() {
        assert!(!json_depth_exceeds(br#"{"a":[{"b":"[[[[[["}]}"#, 3));
        assert!(json_depth_exceeds(br#"{"a":[{"b":[1]}]}"#, 3));
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert!(json_depth_exceeds(deep.as_bytes(), MAX_JSON_DEPTH));
    }

    #[test]
    fn envelope_shape_is_checked() {
        assert!(parse_envelope(b"[]").is_err());
        assert!(parse_envelope(br#"{"objects": 3}"#).is_err());
        assert_eq!(
            parse_envelope(br#"{"objects": [{"type":"x"}]}"#)
                .unwrap()
                .len(),
            1
        );
        assert!(parse_envelope(b"{not json").is_err());
    }
}
