//! WASI programs: told apart by their imports, and linked to the WASI host
//! functions of `capjit-wasi` with their command-line arguments.

use capjit_ir::{HostFn, ImportSource, Module};
use capjit_wasi::{WasiCtx, WasiCtxBuilder};

/// Whether any domain imports a host function that `capjit-wasi` defines (the
/// Wasm frontend binds `wasi_snapshot_preview1.NAME` to `host.wasi_NAME`).
pub fn imports_wasi(module: &Module) -> bool {
    let wasi = capjit_wasi::host_functions(WasiCtx::default());
    module.domains.iter().flat_map(|d| &d.imports).any(
        |import| matches!(&import.source, ImportSource::Host { function } if wasi.iter().any(|f| f.name() == function)),
    )
}

/// The WASI host functions of a run: what `builder` grants, with the arguments
/// `program` (the program's name, `argv[0]`) and then `words`.
pub fn wasi_host_functions(
    builder: WasiCtxBuilder,
    program: String,
    words: Vec<String>,
) -> std::io::Result<Vec<HostFn>> {
    let ctx = builder.arg(program).args(words).build()?;
    Ok(capjit_wasi::host_functions(ctx))
}
