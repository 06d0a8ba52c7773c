//! Benchmarks for authkit. The criterion suites live in `benches/`; run them
//! with `cargo bench -p authkit-benches`. Figures and the machine they came
//! from are recorded in this crate's README.
