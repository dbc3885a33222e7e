#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let f = matcher::LogFormat::detect(data);
    matcher_fuzz::run(f, data);
});
