//! IP addresses and CIDR blocks, as EventBridge (event-ruler) reads them.
//!
//! A string is taken for an IP address only if it looks like one: four
//! dot-separated decimal groups (IPv4), or hex digits and colons with at least
//! one colon (IPv6; no embedded dotted quad, no zone). An IPv4-mapped IPv6
//! address (`::ffff:a00:1`) is the IPv4 address. A CIDR block's range runs
//! from the address as written (not masked down) to that address with all
//! host bits set, and the mask must be below 32 (IPv4) or 128 (IPv6).

use std::net::{Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ip {
    pub v6: bool,
    pub addr: u128,
}

fn looks_v4(s: &[u8]) -> bool {
    let mut groups = 0;
    for part in s.split(|&c| c == b'.') {
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return false;
        }
        groups += 1;
    }
    groups == 4
}

fn looks_v6(s: &[u8]) -> bool {
    s.contains(&b':') && s.iter().all(|c| c.is_ascii_hexdigit() || *c == b':')
}

/// Whether the text matches EventBridge's "this is an IP literal" shapes.
pub(crate) fn looks_like_ip(s: &[u8]) -> bool {
    looks_v4(s) || looks_v6(s)
}

/// Parses an IP literal in one of the accepted shapes.
pub(crate) fn parse_ip(s: &[u8]) -> Option<Ip> {
    if s.len() > 45 {
        return None;
    }
    if looks_v4(s) {
        let text = std::str::from_utf8(s).ok()?;
        let a: Ipv4Addr = text.parse().ok()?;
        return Some(Ip {
            v6: false,
            addr: u32::from(a) as u128,
        });
    }
    if looks_v6(s) {
        let text = std::str::from_utf8(s).ok()?;
        let a: Ipv6Addr = text.parse().ok()?;
        let n = u128::from(a);
        if n >> 32 == 0xffff {
            return Some(Ip {
                v6: false,
                addr: n & 0xffff_ffff,
            });
        }
        return Some(Ip { v6: true, addr: n });
    }
    None
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IpRange {
    pub v6: bool,
    pub lo: u128,
    pub hi: u128,
}

impl IpRange {
    pub(crate) fn contains(&self, ip: Ip) -> bool {
        ip.v6 == self.v6 && ip.addr >= self.lo && ip.addr <= self.hi
    }
}

/// Parses a CIDR block; the error text follows event-ruler's.
pub(crate) fn parse_cidr(text: &str) -> Result<IpRange, String> {
    // Java's String.split drops trailing empty pieces.
    let mut parts: Vec<&str> = text.split('/').collect();
    while parts.len() > 1 && parts.last() == Some(&"") {
        parts.pop();
    }
    if parts.len() != 2 {
        return Err("Malformed CIDR, one '/' required".into());
    }
    let mask: i64 = match parse_java_int(parts[1]) {
        Some(m) => m,
        None => return Err("Malformed CIDR, mask bits must be an integer".into()),
    };
    if mask < 0 {
        return Err("Malformed CIDR, mask bits must not be negative".into());
    }
    let ip = match parse_ip(parts[0].as_bytes()) {
        Some(ip) => ip,
        None => return Err(format!("Nonstandard IP address: {}", parts[0])),
    };
    let bits = if ip.v6 { 128 } else { 32 };
    if mask >= bits {
        return Err(if ip.v6 {
            "IPv6 mask bits must be < 128".into()
        } else {
            "IPv4 mask bits must be < 32".into()
        });
    }
    let host_bits = (bits - mask) as u32;
    let host_mask: u128 = if host_bits >= 128 {
        u128::MAX
    } else {
        (1u128 << host_bits) - 1
    };
    Ok(IpRange {
        v6: ip.v6,
        lo: ip.addr,
        hi: ip.addr | host_mask,
    })
}

fn parse_java_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || digits.len() > 10 || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let v: i64 = s.trim_start_matches('+').parse().ok()?;
    if v > i32::MAX as i64 || v < i32::MIN as i64 {
        return None;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_ranges() {
        let r = parse_cidr("10.0.0.0/24").unwrap();
        assert!(r.contains(parse_ip(b"10.0.0.255").unwrap()));
        assert!(!r.contains(parse_ip(b"10.0.1.0").unwrap()));
        let r6 = parse_cidr("2001:db8:1234:1a00::/64").unwrap();
        assert!(r6.contains(parse_ip(b"2001:db8:1234:1a00:9691:9503:25ad:1761").unwrap()));
        assert!(!r6.contains(parse_ip(b"2001:db8:1234:1a01::1").unwrap()));
        assert!(parse_cidr("bad-filter").is_err());
        assert!(parse_cidr("xx.11.xx/8").is_err());
        assert!(parse_cidr("10.0.0.0/32").is_err());
        assert!(parse_cidr("10.0.0.0/-1").is_err());
        assert!(parse_cidr("10.0.0.0/24/").is_ok());
        assert_eq!(parse_ip(b"::ffff:a00:1"), parse_ip(b"10.0.0.1"));
        assert_eq!(parse_ip(b"::ffff:10.0.0.1"), None);
        assert_eq!(parse_ip(b"256.0.0.1"), None);
    }
}
