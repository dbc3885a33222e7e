//! The `threatgate` binary: parse arguments, run the command, map errors to exit codes.
fn main() -> std::process::ExitCode {
    threatgate::cli::main()
}
