//! ISO 3166-1 alpha-2 country codes and their English short names.
//!
//! Why a const table and not a crate: the list changes a few times a decade, the app needs
//! exactly two questions answered (is this code real? what is it called?), and a sorted
//! `&[(&str, &str)]` answers both with a binary search and no allocation.
//!
//! # Which codes are valid
//!
//! [`is_valid`] accepts
//! - the 249 *officially assigned* ISO 3166-1 alpha-2 codes ([`ASSIGNED`]), and
//! - three codes the address registries and feeds use although ISO does not assign them to a
//!   country ([`REGISTRY_EXTRAS`]):
//!   - `EU` (European Union; ISO "exceptionally reserved") — RIPE NCC delegations and
//!     ip-location-db tables carry it for pan-European networks;
//!   - `AP` (Asia/Pacific region; not reserved by ISO) — APNIC and GeoIP databases use it
//!     for non-specific Asia/Pacific space;
//!   - `XK` (Kosovo; ISO "user-assigned", used by the European Commission, the RIRs and
//!     ip-location-db) — a real jurisdiction that can receive a report.
//!
//! `ZZ` ("unknown", user-assigned) and the other user-assigned codes (`AA`, `QM`–`QZ`,
//! `XA`–`XZ` except `XK`) are **not** valid: a code that means "unknown" is not a country, and
//! accepting it for `--country` would let a typo slip through. Loaders treat `ZZ` in a data
//! file as "no country" (see `load`). Codes are upper case; [`parse`] accepts lower case
//! and normalises, [`is_valid`] does too.

use std::fmt;

/// A validated country code: two upper-case ASCII letters that [`is_valid`] accepts.
///
/// Stored as `[u8; 2]` so a table payload is two bytes; construct it only through [`parse`]
/// (or [`Country::from_code`]), so holding one is proof the code is known.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Country([u8; 2]);

impl Country {
    /// Parse and validate a code (case-insensitive). Same as [`parse`].
    pub fn from_code(code: &str) -> Option<Country> {
        parse(code)
    }

    /// The code as a `&str`, e.g. `"DE"`.
    pub fn as_str(&self) -> &str {
        // Invariant: both bytes are ASCII upper-case letters (checked in `parse`).
        std::str::from_utf8(&self.0).expect("country code is ASCII")
    }

    /// The raw two bytes.
    pub fn as_bytes(&self) -> [u8; 2] {
        self.0
    }

    /// The English short name, e.g. `"Germany"`.
    pub fn name(&self) -> &'static str {
        name(self.as_str()).expect("a Country is always in the table")
    }

    /// True for the 249 ISO-assigned codes, false for the registry extras (`EU`, `AP`, `XK`).
    pub fn is_assigned(&self) -> bool {
        lookup(ASSIGNED, self.as_str()).is_some()
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Country({})", self.as_str())
    }
}

/// Upper-case a two-letter ASCII code; `None` for anything else.
fn normalise(code: &str) -> Option<[u8; 2]> {
    let b = code.as_bytes();
    if b.len() != 2 || !b[0].is_ascii_alphabetic() || !b[1].is_ascii_alphabetic() {
        return None;
    }
    Some([b[0].to_ascii_uppercase(), b[1].to_ascii_uppercase()])
}

/// Status of every two-letter code, indexed by `(a - b'A') * 26 + (b - b'A')`: 0 = not
/// valid, `1 + i` = `ASSIGNED[i]`, `1 + ASSIGNED.len() + i` = `REGISTRY_EXTRAS[i]`. Built at
/// compile time from the tables, so validating a code in a 300k-row load is one array read.
static INDEX: [u16; 676] = build_index();

const fn build_index() -> [u16; 676] {
    let mut index = [0u16; 676];
    let mut i = 0;
    while i < ASSIGNED.len() {
        let b = ASSIGNED[i].0.as_bytes();
        index[(b[0] - b'A') as usize * 26 + (b[1] - b'A') as usize] = 1 + i as u16;
        i += 1;
    }
    let mut j = 0;
    while j < REGISTRY_EXTRAS.len() {
        let b = REGISTRY_EXTRAS[j].0.as_bytes();
        index[(b[0] - b'A') as usize * 26 + (b[1] - b'A') as usize] =
            1 + (ASSIGNED.len() + j) as u16;
        j += 1;
    }
    index
}

/// The table row for an upper-cased code, if valid.
fn row(code: [u8; 2]) -> Option<(&'static str, &'static str)> {
    let slot = INDEX[(code[0] - b'A') as usize * 26 + (code[1] - b'A') as usize] as usize;
    match slot {
        0 => None,
        n if n <= ASSIGNED.len() => Some(ASSIGNED[n - 1]),
        n => Some(REGISTRY_EXTRAS[n - 1 - ASSIGNED.len()]),
    }
}

fn lookup(table: &'static [(&'static str, &'static str)], code: &str) -> Option<&'static str> {
    table
        .binary_search_by(|(c, _)| (*c).cmp(code))
        .ok()
        .map(|i| table[i].1)
}

/// Parse a country code, case-insensitively. `None` unless [`is_valid`] accepts it.
pub fn parse(code: &str) -> Option<Country> {
    let b = normalise(code)?;
    row(b).map(|_| Country(b))
}

/// Is `code` an ISO 3166-1 alpha-2 code we accept (assigned, or `EU` / `AP` / `XK`)?
/// Case-insensitive. Use it to check a user's `--country XX` before running a query.
pub fn is_valid(code: &str) -> bool {
    parse(code).is_some()
}

/// The English short name of `code` (case-insensitive), or `None` if it is not valid.
pub fn name(code: &str) -> Option<&'static str> {
    row(normalise(code)?).map(|(_, name)| name)
}

/// Every valid code (assigned first, then the registry extras), for listings and UI pickers.
pub fn all() -> impl Iterator<Item = Country> {
    ASSIGNED
        .iter()
        .chain(REGISTRY_EXTRAS.iter())
        .map(|(c, _)| parse(c).expect("table entries are valid"))
}

/// Codes used by address registries and IP feeds that ISO does not assign to a country.
/// Sorted by code. See the module documentation for why these three and not `ZZ`.
pub const REGISTRY_EXTRAS: &[(&str, &str)] = &[
    ("AP", "Asia/Pacific Region"),
    ("EU", "European Union"),
    ("XK", "Kosovo"),
];

/// The officially assigned ISO 3166-1 alpha-2 codes (249) with their ISO English short
/// names. Sorted by code (a test checks it), so lookups are a binary search.
pub const ASSIGNED: &[(&str, &str)] = &[
    ("AD", "Andorra"),
    ("AE", "United Arab Emirates"),
    ("AF", "Afghanistan"),
    ("AG", "Antigua and Barbuda"),
    ("AI", "Anguilla"),
    ("AL", "Albania"),
    ("AM", "Armenia"),
    ("AO", "Angola"),
    ("AQ", "Antarctica"),
    ("AR", "Argentina"),
    ("AS", "American Samoa"),
    ("AT", "Austria"),
    ("AU", "Australia"),
    ("AW", "Aruba"),
    ("AX", "Åland Islands"),
    ("AZ", "Azerbaijan"),
    ("BA", "Bosnia and Herzegovina"),
    ("BB", "Barbados"),
    ("BD", "Bangladesh"),
    ("BE", "Belgium"),
    ("BF", "Burkina Faso"),
    ("BG", "Bulgaria"),
    ("BH", "Bahrain"),
    ("BI", "Burundi"),
    ("BJ", "Benin"),
    ("BL", "Saint Barthélemy"),
    ("BM", "Bermuda"),
    ("BN", "Brunei Darussalam"),
    ("BO", "Bolivia (Plurinational State of)"),
    ("BQ", "Bonaire, Sint Eustatius and Saba"),
    ("BR", "Brazil"),
    ("BS", "Bahamas"),
    ("BT", "Bhutan"),
    ("BV", "Bouvet Island"),
    ("BW", "Botswana"),
    ("BY", "Belarus"),
    ("BZ", "Belize"),
    ("CA", "Canada"),
    ("CC", "Cocos (Keeling) Islands"),
    ("CD", "Congo, Democratic Republic of the"),
    ("CF", "Central African Republic"),
    ("CG", "Congo"),
    ("CH", "Switzerland"),
    ("CI", "Côte d'Ivoire"),
    ("CK", "Cook Islands"),
    ("CL", "Chile"),
    ("CM", "Cameroon"),
    ("CN", "China"),
    ("CO", "Colombia"),
    ("CR", "Costa Rica"),
    ("CU", "Cuba"),
    ("CV", "Cabo Verde"),
    ("CW", "Curaçao"),
    ("CX", "Christmas Island"),
    ("CY", "Cyprus"),
    ("CZ", "Czechia"),
    ("DE", "Germany"),
    ("DJ", "Djibouti"),
    ("DK", "Denmark"),
    ("DM", "Dominica"),
    ("DO", "Dominican Republic"),
    ("DZ", "Algeria"),
    ("EC", "Ecuador"),
    ("EE", "Estonia"),
    ("EG", "Egypt"),
    ("EH", "Western Sahara"),
    ("ER", "Eritrea"),
    ("ES", "Spain"),
    ("ET", "Ethiopia"),
    ("FI", "Finland"),
    ("FJ", "Fiji"),
    ("FK", "Falkland Islands (Malvinas)"),
    ("FM", "Micronesia (Federated States of)"),
    ("FO", "Faroe Islands"),
    ("FR", "France"),
    ("GA", "Gabon"),
    ("GB", "United Kingdom of Great Britain and Northern Ireland"),
    ("GD", "Grenada"),
    ("GE", "Georgia"),
    ("GF", "French Guiana"),
    ("GG", "Guernsey"),
    ("GH", "Ghana"),
    ("GI", "Gibraltar"),
    ("GL", "Greenland"),
    ("GM", "Gambia"),
    ("GN", "Guinea"),
    ("GP", "Guadeloupe"),
    ("GQ", "Equatorial Guinea"),
    ("GR", "Greece"),
    ("GS", "South Georgia and the South Sandwich Islands"),
    ("GT", "Guatemala"),
    ("GU", "Guam"),
    ("GW", "Guinea-Bissau"),
    ("GY", "Guyana"),
    ("HK", "Hong Kong"),
    ("HM", "Heard Island and McDonald Islands"),
    ("HN", "Honduras"),
    ("HR", "Croatia"),
    ("HT", "Haiti"),
    ("HU", "Hungary"),
    ("ID", "Indonesia"),
    ("IE", "Ireland"),
    ("IL", "Israel"),
    ("IM", "Isle of Man"),
    ("IN", "India"),
    ("IO", "British Indian Ocean Territory"),
    ("IQ", "Iraq"),
    ("IR", "Iran (Islamic Republic of)"),
    ("IS", "Iceland"),
    ("IT", "Italy"),
    ("JE", "Jersey"),
    ("JM", "Jamaica"),
    ("JO", "Jordan"),
    ("JP", "Japan"),
    ("KE", "Kenya"),
    ("KG", "Kyrgyzstan"),
    ("KH", "Cambodia"),
    ("KI", "Kiribati"),
    ("KM", "Comoros"),
    ("KN", "Saint Kitts and Nevis"),
    ("KP", "Korea (Democratic People's Republic of)"),
    ("KR", "Korea, Republic of"),
    ("KW", "Kuwait"),
    ("KY", "Cayman Islands"),
    ("KZ", "Kazakhstan"),
    ("LA", "Lao People's Democratic Republic"),
    ("LB", "Lebanon"),
    ("LC", "Saint Lucia"),
    ("LI", "Liechtenstein"),
    ("LK", "Sri Lanka"),
    ("LR", "Liberia"),
    ("LS", "Lesotho"),
    ("LT", "Lithuania"),
    ("LU", "Luxembourg"),
    ("LV", "Latvia"),
    ("LY", "Libya"),
    ("MA", "Morocco"),
    ("MC", "Monaco"),
    ("MD", "Moldova, Republic of"),
    ("ME", "Montenegro"),
    ("MF", "Saint Martin (French part)"),
    ("MG", "Madagascar"),
    ("MH", "Marshall Islands"),
    ("MK", "North Macedonia"),
    ("ML", "Mali"),
    ("MM", "Myanmar"),
    ("MN", "Mongolia"),
    ("MO", "Macao"),
    ("MP", "Northern Mariana Islands"),
    ("MQ", "Martinique"),
    ("MR", "Mauritania"),
    ("MS", "Montserrat"),
    ("MT", "Malta"),
    ("MU", "Mauritius"),
    ("MV", "Maldives"),
    ("MW", "Malawi"),
    ("MX", "Mexico"),
    ("MY", "Malaysia"),
    ("MZ", "Mozambique"),
    ("NA", "Namibia"),
    ("NC", "New Caledonia"),
    ("NE", "Niger"),
    ("NF", "Norfolk Island"),
    ("NG", "Nigeria"),
    ("NI", "Nicaragua"),
    ("NL", "Netherlands, Kingdom of the"),
    ("NO", "Norway"),
    ("NP", "Nepal"),
    ("NR", "Nauru"),
    ("NU", "Niue"),
    ("NZ", "New Zealand"),
    ("OM", "Oman"),
    ("PA", "Panama"),
    ("PE", "Peru"),
    ("PF", "French Polynesia"),
    ("PG", "Papua New Guinea"),
    ("PH", "Philippines"),
    ("PK", "Pakistan"),
    ("PL", "Poland"),
    ("PM", "Saint Pierre and Miquelon"),
    ("PN", "Pitcairn"),
    ("PR", "Puerto Rico"),
    ("PS", "Palestine, State of"),
    ("PT", "Portugal"),
    ("PW", "Palau"),
    ("PY", "Paraguay"),
    ("QA", "Qatar"),
    ("RE", "Réunion"),
    ("RO", "Romania"),
    ("RS", "Serbia"),
    ("RU", "Russian Federation"),
    ("RW", "Rwanda"),
    ("SA", "Saudi Arabia"),
    ("SB", "Solomon Islands"),
    ("SC", "Seychelles"),
    ("SD", "Sudan"),
    ("SE", "Sweden"),
    ("SG", "Singapore"),
    ("SH", "Saint Helena, Ascension and Tristan da Cunha"),
    ("SI", "Slovenia"),
    ("SJ", "Svalbard and Jan Mayen"),
    ("SK", "Slovakia"),
    ("SL", "Sierra Leone"),
    ("SM", "San Marino"),
    ("SN", "Senegal"),
    ("SO", "Somalia"),
    ("SR", "Suriname"),
    ("SS", "South Sudan"),
    ("ST", "Sao Tome and Principe"),
    ("SV", "El Salvador"),
    ("SX", "Sint Maarten (Dutch part)"),
    ("SY", "Syrian Arab Republic"),
    ("SZ", "Eswatini"),
    ("TC", "Turks and Caicos Islands"),
    ("TD", "Chad"),
    ("TF", "French Southern Territories"),
    ("TG", "Togo"),
    ("TH", "Thailand"),
    ("TJ", "Tajikistan"),
    ("TK", "Tokelau"),
    ("TL", "Timor-Leste"),
    ("TM", "Turkmenistan"),
    ("TN", "Tunisia"),
    ("TO", "Tonga"),
    ("TR", "Türkiye"),
    ("TT", "Trinidad and Tobago"),
    ("TV", "Tuvalu"),
    ("TW", "Taiwan, Province of China"),
    ("TZ", "Tanzania, United Republic of"),
    ("UA", "Ukraine"),
    ("UG", "Uganda"),
    ("UM", "United States Minor Outlying Islands"),
    ("US", "United States of America"),
    ("UY", "Uruguay"),
    ("UZ", "Uzbekistan"),
    ("VA", "Holy See"),
    ("VC", "Saint Vincent and the Grenadines"),
    ("VE", "Venezuela (Bolivarian Republic of)"),
    ("VG", "Virgin Islands (British)"),
    ("VI", "Virgin Islands (U.S.)"),
    ("VN", "Viet Nam"),
    ("VU", "Vanuatu"),
    ("WF", "Wallis and Futuna"),
    ("WS", "Samoa"),
    ("YE", "Yemen"),
    ("YT", "Mayotte"),
    ("ZA", "South Africa"),
    ("ZM", "Zambia"),
    ("ZW", "Zimbabwe"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_unique_and_complete() {
        assert_eq!(ASSIGNED.len(), 249, "ISO 3166-1 assigns 249 alpha-2 codes");
        for t in [ASSIGNED, REGISTRY_EXTRAS] {
            for w in t.windows(2) {
                assert!(w[0].0 < w[1].0, "{} before {}", w[0].0, w[1].0);
            }
        }
        for (c, _) in REGISTRY_EXTRAS {
            assert!(
                lookup(ASSIGNED, c).is_none(),
                "{c} is both assigned and extra"
            );
        }
        assert_eq!(all().count(), 252);
        // The compile-time index agrees with a binary search over the tables.
        for a in b'A'..=b'Z' {
            for b in b'A'..=b'Z' {
                let code = std::str::from_utf8(&[a, b]).unwrap().to_string();
                let want = lookup(ASSIGNED, &code).or_else(|| lookup(REGISTRY_EXTRAS, &code));
                assert_eq!(name(&code), want, "{code}");
            }
        }
    }

    #[test]
    fn valid_and_names() {
        assert!(is_valid("DE"));
        assert!(is_valid("de"));
        assert_eq!(name("de"), Some("Germany"));
        assert_eq!(name("XK"), Some("Kosovo"));
        assert!(is_valid("EU") && is_valid("AP"));
        for bad in ["XX", "ZZ", "UK", "", "D", "DEU", "1A", "D€"] {
            assert!(!is_valid(bad), "{bad:?} must be invalid");
            assert_eq!(name(bad), None);
        }
        let c = parse("gb").unwrap();
        assert_eq!(c.as_str(), "GB");
        assert!(c.is_assigned());
        assert!(!parse("EU").unwrap().is_assigned());
        assert_eq!(c.to_string(), "GB");
        assert_eq!(std::mem::size_of::<Country>(), 2);
    }
}
