//! Format detection then the detected parser, as `threatgate ingest` does for a file of
//! unknown format. The first byte picks the file extension the sniffer is told.
#![no_main]
use libfuzzer_sys::fuzz_target;
use threatgate::ingest::detect::sniff;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let ext = ["", "csv", "json", "txt"][usize::from(pick % 4)];
    let format = sniff(body, ext);
    threatgate_fuzz::run(format, body);
});
