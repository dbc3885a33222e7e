//! IP range tables (ip-location-db CSV, iptoasn TSV) compiled into a prefix structure for country and ASN lookups.
