//! Embedding capjit in a Rust host: two untrusted domains, a key-value service and
//! its client, loaded from inline `.cir` text, verified, and run by the JIT.
//!
//! Run it with `cargo run --example embed`. It shows, in order: the verifier's
//! errors for a broken module; a file granted by the host and read by a domain
//! through `host.file(config)`; exported functions called with typed arguments; a
//! revoked capability and the client's failure edge; a service that traps, is
//! faulted, and is restarted; a killed service, whose capabilities stay dead; and
//! the trace of every inter-domain call.

use capjit::diagnostics::render_plain;
use capjit::ir::exec::IdcEvent;
use capjit::ir::{TrapCode, Val};
use capjit::load::load_bytes;
use capjit::{Backend, Config, Instance};

/// A module the verifier refuses: a type error, and an import of nothing.
const BROKEN: &str = "domain broken {
  import missing = nowhere.run : ()
  export func twice(i32) -> i64 {
  block0(v0: i32):
    v1 = iadd.i64 v0, v0
    return v1
  }
}
";

/// The service keeps 64 slots of 32 bytes at 1024 (+0 used, +8 key, +16 value), a key
/// in slot `key & 63` (it evicts what was there: a cache), and the number of keys
/// and the sum of their values at 0 and 8. The client reaches it only through the
/// capabilities it imports, and turns every failure edge into a negative code.
const SERVICES: &str = "domain kv {
  memory 1
  func slot(i64) -> i32 {
  block0(v0: i64):
    v1 = wrap.i32.i64 v0
    v2 = iconst.i32 63
    v3 = band.i32 v1, v2
    v4 = iconst.i32 32
    v5 = imul.i32 v3, v4
    v6 = iconst.i32 1024
    v7 = iadd.i32 v5, v6
    return v7
  }
  export func put(i64, i64) -> i32 {        ; 1: a new key, 0: replaced
  block0(v0: i64, v1: i64):
    v2 = call slot(v0)
    v3 = iconst.i32 0
    v4 = load.i64 v3
    v5 = load.i64 v3+8
    v6 = load.i32 v2
    v7 = load.i64 v2+16
    v8 = isub.i64 v5, v7
    v9 = iadd.i64 v8, v1
    store.i64 v9, v3+8
    v10 = iconst.i32 1
    v11 = bxor.i32 v6, v10
    v12 = uextend.i64.i32 v11
    v13 = iadd.i64 v4, v12
    store.i64 v13, v3
    store.i32 v10, v2
    store.i64 v0, v2+8
    store.i64 v1, v2+16
    return v11
  }
  export func get(i64) -> (i32, i64) {      ; (found, value)
  block0(v0: i64):
    v1 = call slot(v0)
    v2 = load.i32 v1
    v3 = load.i64 v1+8
    v4 = icmp.eq.i64 v3, v0
    v5 = band.i32 v2, v4
    v6 = load.i64 v1+16
    return v5, v6
  }
  export func mean() -> i64 {               ; traps (divide by zero) when empty
  block0:
    v0 = iconst.i32 0
    v1 = load.i64 v0
    v2 = load.i64 v0+8
    v3 = sdiv.i64 v2, v1
    return v3
  }
}

domain client {
  memory 1
  import put = kv.put : (i64, i64) -> i32
  import get = kv.get : (i64) -> (i32, i64)
  import mean = kv.mean : () -> i64
  import config = host.file(config) : (buf) -> i32
  import print = host.print : (buf)
  export func store(i64, i64) -> i32 {
  block0(v0: i64, v1: i64):
    v2 = cap.get put
    call_cap v2(v0, v1) -> ok(block1), fail(block2)
  block1(v3: i32):
    return v3
  block2(v4: i32):                          ; the failure edge gets the trap code
    v5 = iconst.i32 0
    v6 = isub.i32 v5, v4
    return v6
  }
  export func lookup(i64) -> (i32, i64) {
  block0(v0: i64):
    v1 = cap.get get
    call_cap v1(v0) -> ok(block1), fail(block2)
  block1(v2: i32, v3: i64):
    return v2, v3
  block2(v4: i32):
    v5 = iconst.i32 0
    v6 = isub.i32 v5, v4
    v7 = iconst.i64 0
    return v6, v7
  }
  export func average() -> (i32, i64) {
  block0:
    v0 = cap.get mean
    call_cap v0() -> ok(block1), fail(block2)
  block1(v1: i64):
    v2 = iconst.i32 1
    return v2, v1
  block2(v3: i32):
    v4 = iconst.i32 0
    v5 = isub.i32 v4, v3
    v6 = iconst.i64 0
    return v5, v6
  }
  export func show_config() -> i32 {        ; read the granted file, print it
  block0:
    v0 = iconst.i32 0
    v1 = iconst.i32 256
    v2 = buf.make v0, v1
    v3 = cap.get config
    call_cap v3(v2) -> ok(block1), fail(block3)
  block1(v4: i32):                          ; the number of bytes read
    v5 = buf.make v0, v4
    v6 = cap.get print
    call_cap v6(v5) -> ok(block2), fail(block3)
  block2:
    return v4
  block3(v7: i32):
    v8 = isub.i32 v0, v7
    return v8
  }
}
";

/// Call an export and print the call and its results; a negative i32 first
/// result is a failure code from the client's `fail` edge.
fn call(inst: &mut Instance, domain: &str, func: &str, args: &[Val]) -> Vec<Val> {
    let shown: Vec<String> = args.iter().map(Val::to_string).collect();
    let results = inst.invoke(domain, func, args).expect("the client never traps");
    let failed = match results.first() {
        Some(Val::I32(c)) if *c < 0 => TrapCode::from_code(-c).map(|t| format!("   <- fail edge: {t}")),
        _ => None,
    };
    let got: Vec<String> = results.iter().map(Val::to_string).collect();
    println!(
        "{domain}.{func}({}) = ({}){}",
        shown.join(", "),
        got.join(", "),
        failed.unwrap_or_default()
    );
    results
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. Untrusted code is verified before anything runs: show the errors.
    println!("== verifying a broken module");
    let (broken, file) = load_bytes("broken.cir", BROKEN.as_bytes().to_vec())?;
    if let Err(errors) = capjit::verifier::verify(&broken) {
        for e in &errors {
            let message = format!("{} [{}]", e.kind, e.kind.name());
            print!(
                "{}",
                render_plain(&file, e.location.span, &message, &e.location.to_string())
            );
        }
    }

    // 2. The real module: load, verify, instantiate with the JIT. Host printing
    //    goes to our standard output.
    println!("\n== the key-value service and its client");
    let (module, _) = load_bytes("services.cir", SERVICES.as_bytes().to_vec())?;
    let verified = capjit::verifier::verify(&module).map_err(|e| format!("{} verifier error(s)", e.len()))?;
    let config = Config {
        backend: Backend::Jit,
        ..Config::default()
    };
    let mut inst = Instance::from_verified(verified, &config, Box::new(std::io::stdout()))?;
    inst.set_trace(true);

    // 3. A file is reachable only if the host grants it, under a name.
    let path = std::env::temp_dir().join(format!("capjit-embed-{}.txt", std::process::id()));
    std::fs::write(&path, "greeting = hello from the host's file\n")?;
    call(&mut inst, "client", "show_config", &[]); // not granted yet: host_error
    inst.grant_file("config", path.clone());
    call(&mut inst, "client", "show_config", &[]);
    std::fs::remove_file(&path)?;

    // 4. Typed calls: the client through its capabilities, and the host directly.
    call(&mut inst, "client", "store", &[Val::I64(1), Val::I64(100)]);
    call(&mut inst, "client", "store", &[Val::I64(2), Val::I64(200)]);
    call(&mut inst, "client", "lookup", &[Val::I64(2)]);
    call(&mut inst, "client", "average", &[]);
    call(&mut inst, "kv", "get", &[Val::I64(1)]);

    // 5. Revoke the client's `put`: its calls take the failure edge; `get` still works.
    println!("\n== revoke client.put");
    inst.revoke("client", "put")?;
    call(&mut inst, "client", "store", &[Val::I64(3), Val::I64(300)]);
    call(&mut inst, "client", "lookup", &[Val::I64(1)]);

    // 6. A restart wipes the service; `mean` of nothing divides by zero: the
    //    service is faulted, the client survives on its failure edge, and calls
    //    are refused until the host restarts the service.
    println!("\n== fault and restart kv");
    inst.restart("kv")?;
    call(&mut inst, "client", "average", &[]);
    if let (Some(status), [fault]) = (inst.status("kv"), &inst.faults()[..]) {
        println!("kv is {status:?}: {fault}");
    }
    call(&mut inst, "client", "lookup", &[Val::I64(1)]);
    inst.restart("kv")?;
    call(&mut inst, "client", "lookup", &[Val::I64(1)]); // running again, and empty

    // 7. Killing is for good: every capability into kv is revoked, even after a restart.
    println!("\n== kill kv");
    inst.kill("kv")?;
    call(&mut inst, "client", "lookup", &[Val::I64(1)]);
    inst.restart("kv")?;
    call(&mut inst, "client", "lookup", &[Val::I64(1)]);

    // 8. Every inter-domain call (and host capability call) since tracing began.
    println!("\n== trace");
    for IdcEvent {
        caller,
        import,
        outcome,
    } in inst.take_trace()
    {
        match outcome {
            Ok(vals) => {
                let vals: Vec<String> = vals.iter().map(Val::to_string).collect();
                println!("{caller} -> {import}: ok ({})", vals.join(", "));
            }
            Err(code) => println!("{caller} -> {import}: fail {code}"),
        }
    }
    Ok(())
}
