//! The `portscope` command.

fn main() {}
