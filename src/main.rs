//! The `eddy` binary: the command line's edge (see `eddy --help`), and the one place that joins
//! the command line to the workbench.

use std::process::ExitCode;

use eddy::cli::Dispatch;

/// mimalloc: the engine allocates a record per event; this allocator makes that markedly cheaper.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // The command line's work (the engine, its scripts) runs on a thread with a large stack, so
    // that a deeply nested value a script builds before its limits stop it is dropped safely.
    let spawned = std::thread::Builder::new()
        .name("eddy-main".into())
        .stack_size(eddy::script::ENGINE_STACK_SIZE)
        .spawn(eddy::cli::main);
    let dispatch = match spawned {
        Ok(thread) => match thread.join() {
            Ok(dispatch) => dispatch,
            // The panic was reported on stderr already; exit as an unwinding main would.
            Err(_) => return ExitCode::from(101),
        },
        Err(_) => eddy::cli::main(),
    };
    match dispatch {
        Dispatch::Exit(code) => ExitCode::from(code),
        Dispatch::OpenWorkbench(file) => open_workbench(&file),
    }
}

#[cfg(feature = "gui")]
fn open_workbench(file: &std::path::Path) -> ExitCode {
    match eddy::ui::run_workbench(file) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eddy::eprintln_lossy!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

#[cfg(not(feature = "gui"))]
fn open_workbench(file: &std::path::Path) -> ExitCode {
    eddy::eprintln_lossy!(
        "this eddy was built without the workbench (the `gui` feature).\n\
         Run the pipeline headless instead:\n\n    eddy run {}",
        file.display()
    );
    ExitCode::from(2)
}
