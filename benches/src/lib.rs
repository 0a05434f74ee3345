//! Workload generators shared by the criterion benches in `benches/benches/`.
