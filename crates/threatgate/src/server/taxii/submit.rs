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
/// This is the seam to the ingest path: it checks the agreement with
/// [`crate::policy::may_submit`] at this instant and stores through the store's submission
/// writer. Once `ingest::ingest_stix_objects` is available it replaces this body, so that
/// TAXII submissions are normalised exactly like files.
pub fn ingest_envelope(
    store: &Store,
    org: &Org,
    name: &str,
    objects: Vec<Value>,
) -> Result<Vec<Option<String>>, String> {
    use crate::store::{NewObject, SubmissionMeta};
    let now = chrono::Utc::now();
    let mut outcomes: Vec<Option<String>> = vec![];
    let mut good: Vec<(usize, NewObject)> = vec![];
    for (i, o) in objects.iter().enumerate() {
        match to_new_object(o, now) {
            Ok(n) => {
                good.push((i, n));
                outcomes.push(None);
            }
            Err(why) => outcomes.push(Some(format!("/objects/{i}: {why}"))),
        }
    }
    if good.is_empty() {
        return Ok(outcomes);
    }
    let types: std::collections::BTreeSet<String> = good
        .iter()
        .map(|(_, n)| n.stix_type.clone())
        .filter(|t| !META_TYPES.contains(&t.as_str()))
        .collect();
    let agreements = store.agreements(Some(org.id)).map_err(|e| e.to_string())?;
    let agreement = crate::policy::may_submit(org, &agreements, now, &types)
        .map_err(|r| format!("submission refused: {r}"))?
        .map(|a| a.id);
    let mut w = store
        .begin_submission(SubmissionMeta {
            org_id: org.id,
            agreement_id: agreement,
            format: "taxii".into(),
            source_name: name.to_string(),
        })
        .map_err(|e| e.to_string())?;
    for (_, n) in &good {
        w.add_object(n).map_err(|e| e.to_string())?;
    }
    let rejected = outcomes.iter().filter(|o| o.is_some()).count() as i64;
    w.finish(rejected, json!({"format": "taxii", "name": name}))
        .map_err(|e| e.to_string())?;
    Ok(outcomes)
}

/// Types that qualify other objects and are not subject to an agreement's scope.
const META_TYPES: &[&str] = &[
    "marking-definition",
    "extension-definition",
    "language-content",
];

/// TLP marking-definition ids (TLP 2.0 and the STIX 2.1 TLP 1.0 ones) and their levels.
const TLP_MARKINGS: &[(&str, crate::model::Tlp)] = {
    use crate::model::Tlp::*;
    &[
        (
            "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
            Clear,
        ),
        (
            "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
            Green,
        ),
        (
            "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
            Amber,
        ),
        (
            "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
            AmberStrict,
        ),
        (
            "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
            Red,
        ),
        (
            "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
            Clear,
        ),
        (
            "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
            Green,
        ),
        (
            "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
            Amber,
        ),
        (
            "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
            Red,
        ),
    ]
};

fn to_new_object(o: &Value, now: crate::model::Time) -> Result<crate::store::NewObject, String> {
    let m = o.as_object().ok_or("not a JSON object")?;
    let ty = m
        .get("type")
        .and_then(Value::as_str)
        .ok_or("no \"type\" property")?;
    let id = m
        .get("id")
        .and_then(Value::as_str)
        .ok_or("no \"id\" property")?;
    let ok_id = id
        .strip_prefix(ty)
        .and_then(|r| r.strip_prefix("--"))
        .is_some_and(|u| uuid::Uuid::parse_str(u).is_ok());
    if !ok_id {
        return Err(format!("id {id:?} is not {ty}--<UUID>"));
    }
    let spec = m
        .get("spec_version")
        .and_then(Value::as_str)
        .unwrap_or("2.1");
    if spec != "2.1" {
        return Err(format!(
            "spec_version {spec:?}: this collection takes STIX 2.1 objects"
        ));
    }
    let version = match m.get("modified").or_else(|| m.get("created")) {
        Some(Value::String(v)) => {
            crate::model::parse_stored_time(v)
                .ok_or_else(|| format!("modified/created {v:?} is not a timestamp"))?;
            v.clone()
        }
        Some(_) => return Err("modified/created must be a timestamp string".into()),
        None => stix_time(now),
    };
    let tlp = m
        .get("object_marking_refs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(|r| {
            TLP_MARKINGS
                .iter()
                .find(|(id, _)| *id == r)
                .map(|(_, t)| *t)
        })
        .max()
        .unwrap_or(crate::model::Tlp::Amber);
    Ok(crate::store::NewObject {
        stix_id: id.to_string(),
        stix_type: ty.to_string(),
        version,
        spec_version: spec.to_string(),
        tlp,
        json: serde_json::to_string(o).map_err(|e| e.to_string())?,
    })
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
