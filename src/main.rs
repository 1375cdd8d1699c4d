//! The `eddy` binary: the command line's edge (see `eddy --help`).

/// mimalloc: the engine allocates a record per event; this allocator makes that markedly cheaper.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    eddy::cli::main()
}
