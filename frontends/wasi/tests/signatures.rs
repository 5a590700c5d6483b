//! The 46 functions of WASI preview1 with their core-Wasm signatures, written
//! down from the spec (`wasi_snapshot_preview1.witx`, as lowered in wasi-libc's
//! `api.h`: pointers and sizes are i32, 64-bit integers i64, every function but
//! `proc_exit` returns its errno as i32) and checked against what
//! `host_functions` binds: exactly these names, exactly these signatures.

use capjit_ir::Type;
use capjit_wasi::WasiCtx;

/// `(name, parameters, results)`, one letter per value: `i` i32, `I` i64.
const PREVIEW1: &[(&str, &str, &str)] = &[
    ("args_get", "ii", "i"),
    ("args_sizes_get", "ii", "i"),
    ("environ_get", "ii", "i"),
    ("environ_sizes_get", "ii", "i"),
    ("clock_res_get", "ii", "i"),
    ("clock_time_get", "iIi", "i"),
    ("fd_advise", "iIIi", "i"),
    ("fd_allocate", "iII", "i"),
    ("fd_close", "i", "i"),
    ("fd_datasync", "i", "i"),
    ("fd_fdstat_get", "ii", "i"),
    ("fd_fdstat_set_flags", "ii", "i"),
    ("fd_fdstat_set_rights", "iII", "i"),
    ("fd_filestat_get", "ii", "i"),
    ("fd_filestat_set_size", "iI", "i"),
    ("fd_filestat_set_times", "iIIi", "i"),
    ("fd_pread", "iiiIi", "i"),
    ("fd_prestat_get", "ii", "i"),
    ("fd_prestat_dir_name", "iii", "i"),
    ("fd_pwrite", "iiiIi", "i"),
    ("fd_read", "iiii", "i"),
    ("fd_readdir", "iiiIi", "i"),
    ("fd_renumber", "ii", "i"),
    ("fd_seek", "iIii", "i"),
    ("fd_sync", "i", "i"),
    ("fd_tell", "ii", "i"),
    ("fd_write", "iiii", "i"),
    ("path_create_directory", "iii", "i"),
    ("path_filestat_get", "iiiii", "i"),
    ("path_filestat_set_times", "iiiiIIi", "i"),
    ("path_link", "iiiiiii", "i"),
    ("path_open", "iiiiiIIii", "i"),
    ("path_readlink", "iiiiii", "i"),
    ("path_remove_directory", "iii", "i"),
    ("path_rename", "iiiiii", "i"),
    ("path_symlink", "iiiii", "i"),
    ("path_unlink_file", "iii", "i"),
    ("poll_oneoff", "iiii", "i"),
    ("proc_exit", "i", ""),
    ("proc_raise", "i", "i"),
    ("sched_yield", "", "i"),
    ("random_get", "ii", "i"),
    ("sock_accept", "iii", "i"),
    ("sock_recv", "iiiiii", "i"),
    ("sock_send", "iiiii", "i"),
    ("sock_shutdown", "ii", "i"),
];

fn types(letters: &str) -> Vec<Type> {
    letters
        .chars()
        .map(|c| match c {
            'i' => Type::I32,
            'I' => Type::I64,
            other => panic!("bad letter {other}"),
        })
        .collect()
}

#[test]
fn binds_exactly_the_46_preview1_functions_with_their_signatures() {
    assert_eq!(PREVIEW1.len(), 46);
    let fns = capjit_wasi::host_functions(WasiCtx::default());
    let mut bound: Vec<&str> = fns.iter().map(|f| f.name()).collect();
    bound.sort_unstable();
    let mut expected: Vec<String> = PREVIEW1.iter().map(|(n, _, _)| format!("wasi_{n}")).collect();
    expected.sort_unstable();
    assert_eq!(bound, expected);
    for (name, params, results) in PREVIEW1 {
        let f = fns.iter().find(|f| f.name() == format!("wasi_{name}")).unwrap();
        let sig = f.signature();
        assert_eq!((&sig.params, &sig.results), (&types(params), &types(results)), "{name}");
    }
    let mut names = capjit_wasi::function_names();
    names.sort_unstable();
    let mut spec: Vec<&str> = PREVIEW1.iter().map(|(n, _, _)| *n).collect();
    spec.sort_unstable();
    assert_eq!(names, spec);
}
