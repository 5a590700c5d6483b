//! The IDC bench module (`benches/idc/mod.rs`) runs in quick mode and reports every
//! figure, finite and positive. No timing bounds: the machine may be shared.

#[path = "../benches/idc/mod.rs"]
mod idc;

/// Every key of quick mode (the IPC figures need the bench binary as echo server).
const KEYS: [&str; 23] = [
    "idc_null_roundtrip_ns",
    "loop_overhead_ns",
    "direct_call_ns",
    "native_call_ns",
    "idc_vs_direct",
    "idc_vs_native",
    "idc_null_roundtrip_min_ns",
    "loop_overhead_min_ns",
    "direct_call_min_ns",
    "native_call_min_ns",
    "idc_vs_direct_min",
    "idc_copy_4k_gbps",
    "memcpy_4k_gbps",
    "idc_copy_4k_vs_memcpy",
    "idc_copy_64k_gbps",
    "memcpy_64k_gbps",
    "idc_copy_64k_vs_memcpy",
    "idc_copy_1m_gbps",
    "memcpy_1m_gbps",
    "idc_copy_1m_vs_memcpy",
    "idc_transfer_1m_ns",
    "idc_transfer_4k_ns",
    "idc_transfer_vs_null",
];

#[test]
fn quick_measure_reports_every_key() {
    // Never set here (quick mode starts no echo child), but keeps the bench's entry honest.
    idc::serve_echo_if_asked();
    let figures = idc::measure(true);
    for key in KEYS {
        let matches: Vec<f64> = figures.iter().filter(|(k, _)| k == key).map(|(_, v)| *v).collect();
        assert_eq!(
            matches.len(),
            1,
            "`{key}` reported {} times in {figures:?}",
            matches.len()
        );
        let v = matches[0];
        assert!(v.is_finite() && v > 0.0, "`{key}` = {v}");
    }
    assert_eq!(figures.len(), KEYS.len(), "unexpected keys in {figures:?}");
    let table = idc::table(&figures);
    println!("{table}");
    assert_eq!(table.lines().count(), figures.len());
}
