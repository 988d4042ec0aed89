//! `cargo run -p contract-gen` rewrites the generated protocol files;
//! `cargo run -p contract-gen -- --check` only reports stale ones.

use std::process::ExitCode;

fn main() -> ExitCode {
    let root = contract_gen::repository_root();
    let check = std::env::args().any(|a| a == "--check");
    let stale = contract_gen::stale(&root);
    if check {
        for file in &stale {
            eprintln!("{file} is stale: run `cargo run -p contract-gen`");
        }
        return if stale.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    for (file, content) in contract_gen::render() {
        if stale.contains(&file) {
            if let Err(e) = std::fs::write(root.join(file), content) {
                eprintln!("cannot write {file}: {e}");
                return ExitCode::FAILURE;
            }
            println!("wrote {file}");
        }
    }
    ExitCode::SUCCESS
}
