//! The abuse.ch URLhaus CSV dump through the ingest parser; the harness (src/lib.rs) says what is checked.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| threatgate_fuzz::run(threatgate::ingest::Format::Urlhaus, data));
