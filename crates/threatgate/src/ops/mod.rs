//! Operations: choosing takedown targets, per-country reports and their dissemination,
//! takedown tracking and the statistics a hub announces.
//!
//! The flow: [`operation::create`] stores a name, a window and a [`filter`]; [`targets`]
//! picks C2 servers and compromised websites the hub may see through the policy
//! (`Channel::Bulk`) and snapshots them; [`report`] renders one report per country and
//! [`report::disseminate`] shares it with that country's member through the store, so the
//! policy lets that member (and nobody else) read it; [`takedown`] moves each target through
//! its states; [`probe`] and [`status`] record whether targets are online; [`summary`]
//! computes the figures.
//!
//! Architecture invariant: nothing here decides who may read what. Target selection and
//! dissemination read through [`crate::lookup::scope_for`]; only *who may move a target's
//! state* is decided here ([`takedown::may_move`]), because that is an operations rule, not
//! a data-visibility rule.

pub mod filter;
pub mod operation;
pub mod probe;
pub mod report;
pub mod status;
pub mod summary;
pub mod takedown;
pub mod targets;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::model::{Kind, OrgId, ParseError, Time, Tlp};

/// An operation as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    pub id: i64,
    pub name: String,
    pub window_from: Time,
    pub window_to: Time,
    /// The filter text as given; re-parsed when targets are picked.
    pub filter: String,
    pub created_by: OrgId,
    pub created_at: Time,
}

/// What kind of target, which decides the recommended action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    /// A command-and-control server: seize or sinkhole it.
    C2,
    /// A legitimate site abused to host malware or phishing: its owner cleans it.
    CompromisedWebsite,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::C2 => "c2",
            Category::CompromisedWebsite => "compromised-website",
        }
    }

    /// The action the report recommends to the receiving country.
    pub fn recommended_action(self) -> &'static str {
        match self {
            Category::C2 => "seize/sinkhole the server",
            Category::CompromisedWebsite => "notify the site owner to clean",
        }
    }

    /// The actioned state that fits this category when a mover just says "actioned".
    pub fn actioned_state(self) -> TargetState {
        match self {
            Category::C2 => TargetState::TakenDown,
            Category::CompromisedWebsite => TargetState::Cleaned,
        }
    }
}

impl FromStr for Category {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "c2" => Ok(Category::C2),
            "compromised-website" => Ok(Category::CompromisedWebsite),
            _ => Err(ParseError(format!(
                "{s:?} is not a target category; expected c2 or compromised-website"
            ))),
        }
    }
}

/// Where a target is in the takedown process. See [`takedown`] for the allowed moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetState {
    Identified,
    Reported,
    Acknowledged,
    TakenDown,
    Sinkholed,
    Cleaned,
    Rejected,
    FalsePositive,
}

impl TargetState {
    pub const ALL: [TargetState; 8] = [
        TargetState::Identified,
        TargetState::Reported,
        TargetState::Acknowledged,
        TargetState::TakenDown,
        TargetState::Sinkholed,
        TargetState::Cleaned,
        TargetState::Rejected,
        TargetState::FalsePositive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TargetState::Identified => "identified",
            TargetState::Reported => "reported",
            TargetState::Acknowledged => "acknowledged",
            TargetState::TakenDown => "taken-down",
            TargetState::Sinkholed => "sinkholed",
            TargetState::Cleaned => "cleaned",
            TargetState::Rejected => "rejected",
            TargetState::FalsePositive => "false-positive",
        }
    }

    /// Taken down, sinkholed or cleaned: the target was acted on.
    pub fn is_actioned(self) -> bool {
        matches!(
            self,
            TargetState::TakenDown | TargetState::Sinkholed | TargetState::Cleaned
        )
    }

    /// No move leaves these states.
    pub fn is_final(self) -> bool {
        self.is_actioned() || matches!(self, TargetState::Rejected | TargetState::FalsePositive)
    }

    /// Whether the target has been reported (it is in this state or past it, not withdrawn
    /// before reporting).
    pub fn was_reported(self) -> bool {
        !matches!(self, TargetState::Identified)
    }
}

impl fmt::Display for TargetState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TargetState {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let l = s.trim().to_ascii_lowercase().replace('_', "-");
        TargetState::ALL
            .into_iter()
            .find(|t| t.as_str() == l || t.as_str().replace('-', "") == l)
            .ok_or_else(|| {
                ParseError(format!(
                    "{s:?} is not a target state; expected one of: {}, or actioned (taken-down for C2, cleaned for websites)",
                    TargetState::ALL.map(|t| t.as_str()).join(", ")
                ))
            })
    }
}

/// What the target's sources said when it was picked. Kept with the target so that an
/// operation's statistics and reports survive a retention purge of the source data.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub labels: Vec<String>,
    pub malware: Vec<String>,
    /// Names of the source orgs.
    pub sources: Vec<String>,
    pub confidence: Option<u8>,
    pub first_seen: Option<Time>,
    pub last_seen: Option<Time>,
    pub ports: Vec<u16>,
    /// Each source's PAP (`None` where the source gave none).
    pub paps: Vec<Option<crate::model::Pap>>,
}

/// A target as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    pub id: i64,
    pub operation_id: i64,
    /// `None` once the observable is gone; the snapshot columns still describe it.
    pub observable_id: Option<i64>,
    pub kind: Kind,
    pub value: String,
    pub category: Category,
    pub country: Option<String>,
    pub asn: Option<u32>,
    pub network: Option<String>,
    pub registered_domain: Option<String>,
    pub abuse_contact: Option<String>,
    pub snapshot: Snapshot,
    /// Some source did not give PAP:CLEAR or PAP:GREEN: ask before acting.
    pub needs_consent: bool,
    /// The most restrictive TLP among the records it was picked from.
    pub tlp: Tlp,
    pub state: TargetState,
    pub identified_at: Time,
    pub reported_at: Option<Time>,
    pub actioned_at: Option<Time>,
    pub updated_at: Time,
}

/// A target to store (identified now).
#[derive(Debug, Clone, PartialEq)]
pub struct NewTarget {
    pub observable_id: i64,
    pub kind: Kind,
    pub value: String,
    pub category: Category,
    pub country: Option<String>,
    pub asn: Option<u32>,
    pub network: Option<String>,
    pub registered_domain: Option<String>,
    pub abuse_contact: Option<String>,
    pub snapshot: Snapshot,
    pub needs_consent: bool,
    pub tlp: Tlp,
}

/// One recorded state move.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetEvent {
    pub id: i64,
    pub target_id: i64,
    pub from: TargetState,
    pub to: TargetState,
    pub at: Time,
    pub actor: OrgId,
    pub evidence: String,
}

/// One liveness observation (a probe, or imported status data).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub target_id: i64,
    pub at: Time,
    pub online: bool,
    /// `tcp`, `http`, `urlhaus`, `c2-tracker`.
    pub method: String,
    pub detail: String,
}

/// Seizures and arrests as last recorded for an operation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    pub seizures: i64,
    pub arrests: i64,
    pub note: String,
    pub recorded_at: Option<Time>,
}

/// A report sent to a country's member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dissemination {
    pub id: i64,
    pub operation_id: i64,
    pub country: String,
    pub recipient: OrgId,
    pub targets: i64,
    pub records: i64,
    pub objects: i64,
    pub tlp: Tlp,
    pub sent_by: OrgId,
    pub sent_at: Time,
}

/// Errors of the operations engine, worded for the command line.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Filter(#[from] filter::FilterError),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotAllowed(String),
}

pub type Result<T, E = OpsError> = std::result::Result<T, E>;

/// Whether `cc` is a country code reports can go to (ISO 3166-1 alpha-2, upper case, as
/// [`iprange::country::is_valid`] decides; `ZZ` "unknown" is not a country).
pub fn valid_country(cc: &str) -> bool {
    cc.len() == 2 && cc.bytes().all(|b| b.is_ascii_uppercase()) && iprange::country::is_valid(cc)
}

/// Normalise a country code given by a user, or say what is wrong with it.
pub fn normalise_country(cc: &str) -> Result<String> {
    let up = cc.trim().to_ascii_uppercase();
    if valid_country(&up) {
        Ok(up)
    } else {
        Err(OpsError::Invalid(format!(
            "{cc:?} is not an ISO 3166-1 alpha-2 country code (e.g. FR, DE, US); `ZZ` and other user-assigned codes are not countries"
        )))
    }
}
