//! The client address: the socket peer, or what a trusted proxy says.
//!
//! `X-Forwarded-For` and `Forwarded` are believed only when the peer is a
//! configured trusted proxy. The chain (header hops, then the peer) is walked
//! from the right, skipping trusted proxies; the first untrusted address is
//! the client. Anyone can prepend fake hops, but not past a proxy we trust,
//! so a spoofed header from an untrusted peer changes nothing.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use http::HeaderMap;

/// An IP network (`10.0.0.0/8`, `fd00::/8`); a bare address is a /32 or
/// /128.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Whether `ip` lies in this network (IPv4-mapped IPv6 addresses count
    /// as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for IpNet {
    type Err = ();

    fn from_str(raw: &str) -> Result<Self, ()> {
        let (addr, prefix) = match raw.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (raw, None),
        };
        let addr = IpAddr::from_str(addr.trim())
            .map_err(|_| ())?
            .to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().map_err(|_| ())?
            }
            Some(_) => return Err(()),
            None => max,
        };
        if prefix > max {
            return Err(());
        }
        Ok(Self { addr, prefix })
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The proxies whose forwarding headers are believed (empty by default:
/// the socket peer is the client).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Trusts these networks.
    pub fn new(nets: Vec<IpNet>) -> Self {
        Self(nets)
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(ip))
    }

    /// The client address of a request that arrived from `peer` with
    /// `headers`. `Forwarded` wins over `X-Forwarded-For` when both are
    /// present; an unreadable hop ends the walk at the last trusted one.
    pub fn client_ip(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = peer?.to_canonical();
        if !self.contains(peer) {
            return Some(peer);
        }
        let hops = forwarded_hops(headers);
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Some(ip) = hop else { break };
            client = *ip;
            if !self.contains(*ip) {
                break;
            }
        }
        Some(client)
    }
}

impl FromStr for TrustedProxies {
    /// The entry that is not an address or a network.
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, String> {
        raw.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().map_err(|()| s.to_owned()))
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

/// The hops a proxy chain reports, left (client) to right (nearest);
/// `None` for a hop that is not an IP address.
fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let forwarded: Vec<&str> = headers
        .get_all(http::header::FORWARDED)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .flat_map(|v| v.split(','))
            .map(|element| {
                element
                    .split(';')
                    .filter_map(|pair| pair.split_once('='))
                    .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
                    .and_then(|(_, v)| parse_node(v.trim().trim_matches('"')))
            })
            .collect();
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| v.to_str().ok())
        .flat_map(|v| match v {
            Some(v) => v.split(',').map(|hop| parse_node(hop.trim())).collect(),
            None => vec![None],
        })
        .collect()
}

/// `192.0.2.1`, `192.0.2.1:8080`, `[2001:db8::1]`, `[2001:db8::1]:8080`,
/// `2001:db8::1`.
fn parse_node(raw: &str) -> Option<IpAddr> {
    if let Some(rest) = raw.strip_prefix('[') {
        let (ip, _) = rest.split_once(']')?;
        return ip.parse::<IpAddr>().ok().map(|ip| ip.to_canonical());
    }
    if let Ok(ip) = raw.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    let (ip, port) = raw.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    ip.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn networks_parse_and_match() {
        let net: IpNet = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains(ip("10.255.0.1")));
        assert!(net.contains(ip("::ffff:10.0.0.1")), "mapped IPv4 counts");
        assert!(!net.contains(ip("11.0.0.1")));
        assert!(!net.contains(ip("::1")));
        let all: IpNet = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.9")));
        let v6: IpNet = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:1::5")));
        assert!(!v6.contains(ip("2001:db9::5")));
        let host: IpNet = "127.0.0.1".parse().unwrap();
        assert_eq!(host.to_string(), "127.0.0.1/32");
        assert!(host.contains(ip("127.0.0.1")) && !host.contains(ip("127.0.0.2")));
        for bad in [
            "",
            "10.0.0.0/",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/-1",
            "x",
            "10.0.0/8",
            "10.0.0.0/+8",
            "10.0.0.0/８",
        ] {
            assert!(bad.parse::<IpNet>().is_err(), "{bad}");
        }
        assert_eq!(
            "10.0.0.0/8, bogus".parse::<TrustedProxies>().unwrap_err(),
            "bogus"
        );
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let proxies: TrustedProxies = "10.0.0.0/8".parse().unwrap();
        let h = headers(&[("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=5.6.7.8")]);
        assert_eq!(
            proxies.client_ip(Some(ip("203.0.113.9")), &h),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(
            TrustedProxies::default().client_ip(Some(ip("10.0.0.1")), &h),
            Some(ip("10.0.0.1"))
        );
        assert_eq!(proxies.client_ip(None, &h), None);
    }

    #[test]
    fn a_trusted_proxy_yields_the_rightmost_untrusted_hop() {
        let proxies: TrustedProxies = "10.0.0.0/8, 192.168.1.1".parse().unwrap();
        let peer = Some(ip("10.0.0.1"));
        // The client forged "1.1.1.1"; the proxies appended the real one.
        let h = headers(&[("x-forwarded-for", "1.1.1.1, 198.51.100.7, 192.168.1.1")]);
        assert_eq!(proxies.client_ip(peer, &h), Some(ip("198.51.100.7")));
        // Several header lines form one list.
        let h = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "198.51.100.8"),
        ]);
        assert_eq!(proxies.client_ip(peer, &h), Some(ip("198.51.100.8")));
        // No header: the proxy itself.
        assert_eq!(proxies.client_ip(peer, &HeaderMap::new()), peer);
        // Every hop trusted: the left-most one.
        let h = headers(&[("x-forwarded-for", "10.9.9.9, 192.168.1.1")]);
        assert_eq!(proxies.client_ip(peer, &h), Some(ip("10.9.9.9")));
        // Garbage stops the walk at the last trusted hop.
        let h = headers(&[("x-forwarded-for", "198.51.100.7, garbage, 10.2.2.2")]);
        assert_eq!(proxies.client_ip(peer, &h), Some(ip("10.2.2.2")));
        let h = headers(&[("x-forwarded-for", "")]);
        assert_eq!(proxies.client_ip(peer, &h), peer);
    }

    #[test]
    fn forwarded_header_forms_are_understood() {
        let proxies: TrustedProxies = "10.0.0.0/8".parse().unwrap();
        let peer = Some(ip("10.0.0.1"));
        let cases = [
            ("for=192.0.2.60;proto=http;by=203.0.113.43", "192.0.2.60"),
            ("for=\"[2001:db8:cafe::17]:4711\"", "2001:db8:cafe::17"),
            ("for=192.0.2.43:8080, for=10.1.1.1", "192.0.2.43"),
            ("For=\"198.51.100.17\"", "198.51.100.17"),
            ("for=unknown", "10.0.0.1"),
            ("for=_hidden, for=198.51.100.3", "198.51.100.3"),
        ];
        for (value, expected) in cases {
            let h = headers(&[("forwarded", value), ("x-forwarded-for", "9.9.9.9")]);
            assert_eq!(proxies.client_ip(peer, &h), Some(ip(expected)), "{value}");
        }
    }

    #[test]
    fn mapped_peers_are_canonical() {
        let proxies = TrustedProxies::default();
        assert_eq!(
            proxies.client_ip(Some(ip("::ffff:203.0.113.1")), &HeaderMap::new()),
            Some(ip("203.0.113.1"))
        );
    }
}
