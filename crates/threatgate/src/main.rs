//! The `threatgate` binary: parse arguments, run the command, map errors to exit codes.
fn main() -> std::process::ExitCode {
    bound_allocator_memory();
    threatgate::cli::main()
}

/// glibc gives each thread that allocates its own arena (up to 8 per core) and keeps what
/// each arena ever held: with the server's store threads rendering ~500 KB pages, RSS
/// settled near 1.2 GB whatever the page cache's size (bench/TAXII_RESULTS.md). Two arenas,
/// and buffers past 256 KB mapped on their own (so freeing one gives it back), keep RSS
/// close to what is in use. Set before any thread starts.
fn bound_allocator_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tunables; no other thread exists yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}
