//! The `eddy` binary: the command line's edge (see `eddy --help`).

fn main() -> std::process::ExitCode {
    eddy::cli::main()
}
