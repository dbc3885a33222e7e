//! Creating and finding operations.

use super::filter::Filter;
use super::{Operation, OpsError, Result};
use crate::model::{parse_time, Org, OrgKind, Time};
use crate::store::Store;

/// Longest operation name accepted (it appears in file names and report titles).
pub const MAX_NAME_LEN: usize = 100;

/// Create an operation. Only the hub runs operations (DESIGN: "created by the hub").
/// The filter is parsed here so that a bad one is refused before anything is stored.
pub fn create(
    store: &Store,
    actor: &Org,
    name: &str,
    window: (Time, Time),
    filter: &str,
) -> Result<Operation> {
    if actor.kind != OrgKind::Hub {
        return Err(OpsError::NotAllowed(format!(
            "{} is a {}; only the hub creates operations",
            actor.name, actor.kind
        )));
    }
    check_name(name)?;
    if window.0 >= window.1 {
        return Err(OpsError::Invalid(format!(
            "the window starts at {} and ends at {}: FROM must be before TO (--window 2024-01-01..2024-06-30)",
            crate::model::stix_time(window.0),
            crate::model::stix_time(window.1)
        )));
    }
    Filter::parse(filter)?;
    Ok(store.create_operation(name, window, filter.trim(), actor.id)?)
}

fn check_name(name: &str) -> Result<()> {
    let ok = !name.trim().is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ' '));
    if ok {
        Ok(())
    } else {
        Err(OpsError::Invalid(format!(
            "{name:?} is not a usable operation name: use 1 to {MAX_NAME_LEN} letters, digits, spaces, '-', '_' or '.'"
        )))
    }
}

/// Parse `FROM..TO` (each `YYYY-MM-DD` or RFC 3339). A date-only TO means the whole day.
pub fn parse_window(s: &str) -> Result<(Time, Time)> {
    let (a, b) = s.split_once("..").ok_or_else(|| {
        OpsError::Invalid(format!(
            "{s:?} is not a window: write FROM..TO, e.g. 2024-01-01..2024-06-30"
        ))
    })?;
    let from = parse_time(a).map_err(|e| OpsError::Invalid(format!("window start: {}", e.0)))?;
    let mut to = parse_time(b).map_err(|e| OpsError::Invalid(format!("window end: {}", e.0)))?;
    if b.trim().len() == 10 {
        to += chrono::Duration::days(1) - chrono::Duration::microseconds(1);
    }
    Ok((from, to))
}

/// The operation named `name`, or an error listing the known ones.
pub fn get(store: &Store, name: &str) -> Result<Operation> {
    if let Some(op) = store.operation_by_name(name)? {
        return Ok(op);
    }
    let known: Vec<String> = store.operations()?.into_iter().map(|o| o.name).collect();
    Err(OpsError::Invalid(if known.is_empty() {
        format!("no operation named {name:?}: there are none yet; create one with `threatgate operation create`")
    } else {
        format!("no operation named {name:?}; known: {}", known.join(", "))
    }))
}
