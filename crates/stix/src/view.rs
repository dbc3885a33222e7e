//! Typed, borrowed views over a [`StixObject`].
//!
//! A view is a `&StixObject` known to have a given `type`, with accessors named after the
//! spec's properties. Views never copy or convert the object, so reading through a view
//! can not lose a property; writing goes through the [`StixObject`] itself.
//!
//! ```
//! use stix::{StixObject, view::View};
//! let o = StixObject::from_json(r#"{"type":"ipv4-addr","id":"ipv4-addr--0198f97b-e65d-5025-87e5-58bc39d4bdb4","value":"1.2.3.4"}"#).unwrap();
//! match o.view() {
//!     View::Ipv4Addr(ip) => assert_eq!(ip.value(), Some("1.2.3.4")),
//!     _ => unreachable!(),
//! }
//! ```

use crate::object::StixObject;
use crate::sco::{
    AutonomousSystem, DomainName, EmailAddr, File, Ipv4Addr, Ipv6Addr, NetworkTraffic, Url,
};
use crate::sdo::{
    Identity, Indicator, Infrastructure, Malware, MarkingDefinition, ObservedData, Relationship,
    Report, Sighting,
};

/// Defines a view struct with typed accessors. Accessor kinds:
/// `str` → `Option<&str>`, `ts` → `Option<Timestamp>`, `list` → `Vec<&str>`,
/// `int` → `Option<i64>`, `bool` → `Option<bool>`, `value` → `Option<&Value>`.
macro_rules! view {
    ($(#[$doc:meta])* $name:ident, $type_name:literal { $($kind:ident $prop:ident),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq)]
        pub struct $name<'a>(&'a $crate::object::StixObject);

        impl<'a> $name<'a> {
            /// The STIX `type` this view reads.
            pub const TYPE: &'static str = $type_name;

            /// A view of `object` if its `type` is this view's type.
            pub fn new(object: &'a $crate::object::StixObject) -> Option<Self> {
                (object.type_name() == Some($type_name)).then_some($name(object))
            }

            /// The whole object, for properties without an accessor (custom ones included).
            pub fn object(&self) -> &'a $crate::object::StixObject {
                self.0
            }

            /// The object's `id`.
            pub fn id(&self) -> Option<&'a str> {
                self.0.id()
            }

            $( view!(@acc $kind $prop); )*
        }
    };
    (@acc str $prop:ident) => {
        #[doc = concat!("`", stringify!($prop), "`, if present and a string.")]
        pub fn $prop(&self) -> Option<&'a str> { self.0.get_str(stringify!($prop)) }
    };
    (@acc ts $prop:ident) => {
        #[doc = concat!("`", stringify!($prop), "`, parsed as a STIX timestamp.")]
        pub fn $prop(&self) -> Option<$crate::common::Timestamp> { self.0.get_timestamp(stringify!($prop)) }
    };
    (@acc list $prop:ident) => {
        #[doc = concat!("`", stringify!($prop), "` (empty if absent).")]
        pub fn $prop(&self) -> Vec<&'a str> { self.0.get_str_list(stringify!($prop)) }
    };
    (@acc int $prop:ident) => {
        #[doc = concat!("`", stringify!($prop), "`, if present and an integer.")]
        pub fn $prop(&self) -> Option<i64> { self.0.get_i64(stringify!($prop)) }
    };
    (@acc bool $prop:ident) => {
        #[doc = concat!("`", stringify!($prop), "`, if present and a boolean.")]
        pub fn $prop(&self) -> Option<bool> { self.0.get_bool(stringify!($prop)) }
    };
    (@acc value $prop:ident) => {
        #[doc = concat!("`", stringify!($prop), "` as raw JSON.")]
        pub fn $prop(&self) -> Option<&'a serde_json::Value> { self.0.get(stringify!($prop)) }
    };
}
pub(crate) use view;

/// A typed view of any object: one variant per type with a view, `Other` for the rest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum View<'a> {
    /// `indicator`
    Indicator(Indicator<'a>),
    /// `malware`
    Malware(Malware<'a>),
    /// `infrastructure`
    Infrastructure(Infrastructure<'a>),
    /// `observed-data`
    ObservedData(ObservedData<'a>),
    /// `sighting`
    Sighting(Sighting<'a>),
    /// `identity`
    Identity(Identity<'a>),
    /// `report`
    Report(Report<'a>),
    /// `relationship`
    Relationship(Relationship<'a>),
    /// `marking-definition`
    MarkingDefinition(MarkingDefinition<'a>),
    /// `ipv4-addr`
    Ipv4Addr(Ipv4Addr<'a>),
    /// `ipv6-addr`
    Ipv6Addr(Ipv6Addr<'a>),
    /// `domain-name`
    DomainName(DomainName<'a>),
    /// `url`
    Url(Url<'a>),
    /// `file`
    File(File<'a>),
    /// `email-addr`
    EmailAddr(EmailAddr<'a>),
    /// `autonomous-system`
    AutonomousSystem(AutonomousSystem<'a>),
    /// `network-traffic`
    NetworkTraffic(NetworkTraffic<'a>),
    /// Any other type, custom ones included.
    Other(&'a StixObject),
}

impl StixObject {
    /// The typed view matching this object's `type`.
    pub fn view(&self) -> View<'_> {
        let o = self;
        match self.type_name().unwrap_or("") {
            "indicator" => View::Indicator(Indicator::new(o).expect("type checked")),
            "malware" => View::Malware(Malware::new(o).expect("type checked")),
            "infrastructure" => View::Infrastructure(Infrastructure::new(o).expect("type checked")),
            "observed-data" => View::ObservedData(ObservedData::new(o).expect("type checked")),
            "sighting" => View::Sighting(Sighting::new(o).expect("type checked")),
            "identity" => View::Identity(Identity::new(o).expect("type checked")),
            "report" => View::Report(Report::new(o).expect("type checked")),
            "relationship" => View::Relationship(Relationship::new(o).expect("type checked")),
            "marking-definition" => {
                View::MarkingDefinition(MarkingDefinition::new(o).expect("type checked"))
            }
            "ipv4-addr" => View::Ipv4Addr(Ipv4Addr::new(o).expect("type checked")),
            "ipv6-addr" => View::Ipv6Addr(Ipv6Addr::new(o).expect("type checked")),
            "domain-name" => View::DomainName(DomainName::new(o).expect("type checked")),
            "url" => View::Url(Url::new(o).expect("type checked")),
            "file" => View::File(File::new(o).expect("type checked")),
            "email-addr" => View::EmailAddr(EmailAddr::new(o).expect("type checked")),
            "autonomous-system" => {
                View::AutonomousSystem(AutonomousSystem::new(o).expect("type checked"))
            }
            "network-traffic" => {
                View::NetworkTraffic(NetworkTraffic::new(o).expect("type checked"))
            }
            _ => View::Other(o),
        }
    }
}
