//! The `portscope` binary: all of it lives in the library target, which the
//! fuzz targets also link.

fn main() -> std::process::ExitCode {
    portscope_cli::main()
}
