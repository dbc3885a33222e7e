//! Federation with other TAXII 2.1 servers (filled in below).
