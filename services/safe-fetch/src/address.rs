//! Addresses a fetch must never reach.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Host names of cloud metadata services, refused before any lookup.
pub const METADATA_HOSTS: &[&str] = &[
    "metadata",
    "metadata.google.internal",
    "metadata.goog",
    "instance-data",
    "instance-data.ec2.internal",
];

/// True for loopback, private, shared (CGNAT), link-local (cloud metadata included),
/// unspecified, multicast, broadcast, documentation, benchmarking and reserved addresses,
/// and for IPv6 forms that embed such an IPv4 address.
pub fn is_forbidden_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_forbidden_v4(v4),
        IpAddr::V6(v6) => is_forbidden_v6(v6),
    }
}

fn is_forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..=127).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..=19).contains(&b)) // benchmarking
        || a >= 240 // reserved
}

fn is_forbidden_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_forbidden_v4(v4);
    }
    let segments = ip.segments();
    // IPv4-translated (::ffff:0:a.b.c.d, RFC 2765).
    if segments[..4].iter().all(|s| *s == 0) && segments[4] == 0xffff && segments[5] == 0 {
        return is_forbidden_v4(embedded_v4(segments[6], segments[7]));
    }
    // IPv4-compatible (::a.b.c.d), deprecated but still routable on some stacks.
    if segments[..6].iter().all(|s| *s == 0) && !ip.is_unspecified() && !ip.is_loopback() {
        return is_forbidden_v4(embedded_v4(segments[6], segments[7]));
    }
    // 6to4 (2002::/16) embeds an IPv4 address in segments 1–2.
    if segments[0] == 0x2002 && is_forbidden_v4(embedded_v4(segments[1], segments[2])) {
        return true;
    }
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (segments[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (segments[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (segments[0] & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated)
        || (segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation
        || (segments[0] == 0x2001 && segments[1] == 0) // Teredo
        || (segments[0] == 0x0064 && segments[1] == 0xff9b) // NAT64 64:ff9b::/32 (incl. 64:ff9b:1::/48)
        || segments[0] == 0x0100 && segments[1..4].iter().all(|s| *s == 0) // discard-only
}

/// The IPv4 address carried in two 16-bit IPv6 segments.
fn embedded_v4(hi: u16, lo: u16) -> Ipv4Addr {
    let [a, b] = hi.to_be_bytes();
    let [c, d] = lo.to_be_bytes();
    Ipv4Addr::new(a, b, c, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_addresses() {
        for text in [
            "127.0.0.1",
            "127.255.0.9",
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.0.1",
            "100.64.0.1",
            "100.127.255.255",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.10",
            "198.51.100.1",
            "203.0.113.7",
            "198.18.0.1",
            "240.0.0.1",
            "192.0.0.8",
            "::1",
            "::",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "::ffff:0:127.0.0.1",
            "::ffff:0:a9fe:a9fe",
            "64:ff9b:1::a00:1",
            "fec0::1",
            "100::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "2002:7f00:1::",
            "2002:a00:1::1",
            "64:ff9b::a00:1",
            "2001:0:4136:e378::1",
        ] {
            let ip: IpAddr = text.parse().unwrap();
            assert!(is_forbidden_ip(ip), "{text} must be forbidden");
        }
    }

    #[test]
    fn public_addresses() {
        for text in [
            "93.184.216.34",
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "169.253.0.1",
            "2606:4700::1",
            "2a00:1450:4001::200e",
            "::ffff:93.184.216.34",
            "2002:5db8:d822::1",
        ] {
            let ip: IpAddr = text.parse().unwrap();
            assert!(!is_forbidden_ip(ip), "{text} must be allowed");
        }
    }
}
