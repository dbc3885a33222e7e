//! The `threatgate` binary: parse arguments, run the command, map errors to exit codes.
/// mimalloc for batch commands; `serve` switches to glibc's (see `threatgate::alloc`).
#[global_allocator]
static ALLOC: threatgate::alloc::ThreatgateAlloc = threatgate::alloc::ThreatgateAlloc;

fn main() -> std::process::ExitCode {
    threatgate::cli::main()
}
