//! The generated protocol files match what the Rust types say.

#[test]
fn generated_files_are_up_to_date() {
    let stale = contract_gen::stale(&contract_gen::repository_root());
    assert!(
        stale.is_empty(),
        "{} do not match the Rust contract: run `cargo run -p contract-gen` and commit the result",
        stale.join(" and ")
    );
}
