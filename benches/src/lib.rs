//! Workload generators shared by the criterion benches in `benches/benches/`.
//!
//! Everything is deterministic: a small SplitMix64 generator seeded by the
//! caller, no OS randomness.

pub mod coordination;
pub mod cpu;

/// SplitMix64: tiny, fast, good enough for workloads.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Street names the generated lots use (and the bench rules name).
pub const STREETS: &[&str] = &[
    "CRANLEIGH",
    "JEFFERSON",
    "MASONIC",
    "GEARY",
    "MISSION",
    "VALENCIA",
    "FOLSOM",
    "HOWARD",
    "BRYANT",
    "HARRISON",
    "CHESTNUT",
    "LOMBARD",
    "UNION",
    "FILBERT",
    "GREEN",
    "VALLEJO",
    "BROADWAY",
    "PACIFIC",
    "JACKSON",
    "WASHINGTON",
    "CLAY",
    "SACRAMENTO",
    "CALIFORNIA",
    "PINE",
    "BUSH",
    "SUTTER",
    "POST",
    "OFARRELL",
    "ELLIS",
    "EDDY",
    "TURK",
    "GOLDEN GATE",
    "UNKNOWN",
];

/// Street types; the last one stands for "no type" (a null value).
pub const ST_TYPES: &[&str] = &["ST", "AVE", "BLVD", "WAY", "TER", "PL", "CT", "LN", ""];

/// One citylots-like GeoJSON feature, about 1 KB: nine string properties as
/// in San Francisco's citylots data set, plus a numeric `AREA` and an `IP`
/// string (so that numeric and cidr rules have something to read), and a
/// polygon of 18 coordinate triples written with 15 decimals.
pub fn citylot(rng: &mut SplitMix64) -> String {
    let block = rng.below(9999) + 1;
    let lot = rng.below(999) + 1;
    let street = *rng.pick(STREETS);
    let st_type = *rng.pick(ST_TYPES);
    let from = rng.below(4000);
    let to = from + rng.below(200);
    let mut s = String::with_capacity(1100);
    s.push_str("{\"type\":\"Feature\",\"properties\":{");
    s.push_str(&format!(
        "\"MAPBLKLOT\":\"{block:04}{lot:03}\",\"BLKLOT\":\"{block:04}{lot:03}\",\"BLOCK_NUM\":\"{block:04}\",\"LOT_NUM\":\"{lot:03}\","
    ));
    s.push_str(&format!(
        "\"FROM_ST\":\"{from}\",\"TO_ST\":\"{to}\",\"STREET\":\"{street}\",\"ODD_EVEN\":\"{}\",",
        if from.is_multiple_of(2) { "E" } else { "O" }
    ));
    if st_type.is_empty() {
        s.push_str("\"ST_TYPE\":null,");
    } else {
        s.push_str(&format!("\"ST_TYPE\":\"{st_type}\","));
    }
    let area = rng.below(500_000) as f64 / 100.0;
    s.push_str(&format!(
        "\"AREA\":{area},\"IP\":\"10.{}.{}.{}\"}},",
        rng.below(4),
        rng.below(256),
        rng.below(256)
    ));
    s.push_str("\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[");
    let lon0 = -122.52 + rng.unit() * 0.17;
    let lat0 = 37.70 + rng.unit() * 0.11;
    for k in 0..18 {
        if k > 0 {
            s.push(',');
        }
        let lon = lon0 + rng.unit() * 0.0009;
        let lat = lat0 + rng.unit() * 0.0009;
        s.push_str(&format!("[{lon:.15},{lat:.15},0.0]"));
    }
    s.push_str("]]}}");
    s
}

/// `n` features from `seed`.
pub fn citylots(seed: u64, n: usize) -> Vec<String> {
    let mut rng = SplitMix64::new(seed);
    (0..n).map(|_| citylot(&mut rng)).collect()
}

/// The operator kinds the matching bench measures, each with five rules
/// over the citylots properties: `(name, rules)`.
pub fn rule_groups() -> Vec<(&'static str, Vec<String>)> {
    let p = |field: &str, body: &str| format!("{{\"properties\":{{\"{field}\":[{body}]}}}}");
    vec![
        (
            "exact",
            vec![
                p("STREET", "\"CRANLEIGH\""),
                p("STREET", "\"JEFFERSON\""),
                p("ST_TYPE", "\"AVE\""),
                p("ODD_EVEN", "\"E\""),
                p("STREET", "\"GOLDEN GATE\""),
            ],
        ),
        (
            "prefix",
            vec![
                p("STREET", "{\"prefix\":\"CRAN\"}"),
                p("STREET", "{\"prefix\":\"JEFF\"}"),
                p("MAPBLKLOT", "{\"prefix\":\"00\"}"),
                p("ST_TYPE", "{\"prefix\":\"A\"}"),
                p("STREET", "{\"prefix\":\"GOLDEN\"}"),
            ],
        ),
        (
            "anything-but",
            vec![
                p("STREET", "{\"anything-but\":[\"CRANLEIGH\",\"JEFFERSON\"]}"),
                p("STREET", "{\"anything-but\":\"MASONIC\"}"),
                p("ST_TYPE", "{\"anything-but\":[\"ST\",\"AVE\"]}"),
                p("ODD_EVEN", "{\"anything-but\":\"E\"}"),
                p(
                    "STREET",
                    "{\"anything-but\":[\"GEARY\",\"MISSION\",\"VALENCIA\"]}",
                ),
            ],
        ),
        (
            "equals-ignore-case",
            vec![
                p("STREET", "{\"equals-ignore-case\":\"cranleigh\"}"),
                p("STREET", "{\"equals-ignore-case\":\"Jefferson\"}"),
                p("ST_TYPE", "{\"equals-ignore-case\":\"ave\"}"),
                p("ODD_EVEN", "{\"equals-ignore-case\":\"e\"}"),
                p("STREET", "{\"equals-ignore-case\":\"golden gate\"}"),
            ],
        ),
        (
            "wildcard",
            vec![
                p("STREET", "{\"wildcard\":\"CR*GH\"}"),
                p("STREET", "{\"wildcard\":\"*SON\"}"),
                p("MAPBLKLOT", "{\"wildcard\":\"00*1\"}"),
                p("STREET", "{\"wildcard\":\"*O*A*\"}"),
                p("STREET", "{\"wildcard\":\"GOLDEN *\"}"),
            ],
        ),
        (
            "suffix",
            vec![
                p("STREET", "{\"suffix\":\"LEIGH\"}"),
                p("STREET", "{\"suffix\":\"SON\"}"),
                p("MAPBLKLOT", "{\"suffix\":\"01\"}"),
                p("ST_TYPE", "{\"suffix\":\"VE\"}"),
                p("STREET", "{\"suffix\":\" GATE\"}"),
            ],
        ),
        (
            "numeric",
            vec![
                p("AREA", "{\"numeric\":[\"<\",100]}"),
                p("AREA", "{\"numeric\":[\">\",1000,\"<=\",1500.5]}"),
                p("AREA", "{\"numeric\":[\">=\",4900]}"),
                p("AREA", "{\"numeric\":[\"=\",2500]}"),
                p("AREA", "{\"numeric\":[\">\",0,\"<\",10]}"),
            ],
        ),
        (
            "exists",
            vec![
                p("ST_TYPE", "{\"exists\":true}"),
                p("STREET", "{\"exists\":true}"),
                p("NOPE", "{\"exists\":true}"),
                p("LOT_NUM", "{\"exists\":true}"),
                p("ODD_EVEN", "{\"exists\":true}"),
            ],
        ),
        (
            "cidr",
            vec![
                p("IP", "{\"cidr\":\"10.0.0.0/24\"}"),
                p("IP", "{\"cidr\":\"10.1.0.0/16\"}"),
                p("IP", "{\"cidr\":\"10.2.128.0/17\"}"),
                p("IP", "{\"cidr\":\"192.168.0.0/16\"}"),
                p("IP", "{\"cidr\":\"10.3.3.0/30\"}"),
            ],
        ),
    ]
}

/// A synthetic captured trace of `events` delivered events (JSON Lines):
/// ordinary file, transaction and account traffic, with a deletion request
/// and its two votes every 40 events. Deterministic: the same call gives
/// the same text.
pub fn trace(events: usize) -> String {
    use tally_core::event::{samples, EventKind};
    use tally_core::wire::{DeliveredEvent, Delivery};
    let ordinary = [
        EventKind::FileProcessed,
        EventKind::TransactionUpdated,
        EventKind::AccountUpdated,
        EventKind::TransactionCategorized,
        EventKind::FileUploaded,
    ];
    let at = Delivery::default();
    let mut out = String::with_capacity(events * 700);
    let t0 = 1_736_937_000_000i64;
    for n in 0..events {
        let slot = n % 40;
        let req = n / 40;
        let (kind, source) = match slot {
            0 => (EventKind::DeletionRequested, "file.service"),
            7 => (EventKind::DeletionVote, "analytics.service"),
            13 => (EventKind::DeletionVote, "category.service"),
            _ => {
                let k = ordinary[n % ordinary.len()];
                (k, k.publishers()[0])
            }
        };
        let mut e = samples::sample(kind, source);
        e.event_id = format!("evt-{n}");
        e.timestamp = t0 + n as i64 * 50;
        match &mut e.data {
            tally_core::event::EventData::DeletionRequested(r) => {
                r.request_id = format!("req-{req}");
                r.file_id = format!("file-{req}");
            }
            tally_core::event::EventData::DeletionVote(v) => {
                v.request_id = format!("req-{req}");
                v.file_id = format!("file-{req}");
            }
            _ => {}
        }
        out.push_str(&DeliveredEvent::wrap(&e, &format!("eb-{n}"), &at).to_json());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_about_one_kilobyte() {
        let a = citylots(7, 200);
        assert_eq!(a, citylots(7, 200));
        let avg = a.iter().map(String::len).sum::<usize>() / a.len();
        assert!((900..1200).contains(&avg), "average {avg} bytes");
        for e in &a {
            serde_json::from_str::<serde_json::Value>(e).expect("valid JSON");
        }
    }
}
