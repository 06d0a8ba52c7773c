//! The client address: the socket peer, or what a trusted proxy says.
//!
//! One forwarding header is read, chosen by configuration ([`ProxyHeader`]:
//! `X-Forwarded-For` by default, or RFC 7239 `Forwarded`), and only when the
//! peer is a configured trusted proxy. The other header is ignored, whatever
//! it says: a proxy that appends to `X-Forwarded-For` usually passes a
//! client's own `Forwarded` through untouched, so letting `Forwarded` win
//! whenever present would let the client choose its address. The chain
//! (header hops, then the peer) is walked from the right, skipping trusted
//! proxies; the first untrusted address is the client. Anyone can prepend
//! fake hops, but not past a proxy we trust, so a spoofed header from an
//! untrusted peer changes nothing.

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

/// The forwarding header a trusted proxy writes: the one header
/// [`TrustedProxies::client_ip`] reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProxyHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (the default).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for=proxy1`.
    Forwarded,
}

impl ProxyHeader {
    /// The configuration spelling: `x-forwarded-for` or `forwarded`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::XForwardedFor => "x-forwarded-for",
            Self::Forwarded => "forwarded",
        }
    }
}

impl FromStr for ProxyHeader {
    type Err = ();

    fn from_str(raw: &str) -> Result<Self, ()> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Ok(Self::XForwardedFor),
            "forwarded" => Ok(Self::Forwarded),
            _ => Err(()),
        }
    }
}

impl fmt::Display for ProxyHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
    /// `headers`, reading only the `header` the proxies write (the other
    /// one is ignored); an unreadable hop ends the walk at the last trusted
    /// one. `None` only when the peer is unknown.
    pub fn client_ip(
        &self,
        peer: Option<IpAddr>,
        headers: &HeaderMap,
        header: ProxyHeader,
    ) -> Option<IpAddr> {
        let peer = peer?.to_canonical();
        if !self.contains(peer) {
            return Some(peer);
        }
        let hops = match header {
            ProxyHeader::XForwardedFor => x_forwarded_for_hops(headers),
            ProxyHeader::Forwarded => forwarded_hops(headers),
        };
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

/// The hops of `X-Forwarded-For`, left (client) to right (nearest);
/// `None` for a hop that is not an IP address.
fn x_forwarded_for_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
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

/// The `for=` of each RFC 7239 `Forwarded` element, left (client) to right
/// (nearest); `None` for an element without one, or whose node is not an IP
/// address (`unknown`, an obfuscated `_name`). Quoted strings may hold `,`
/// and `;` (and `\`-escapes); parameter names are case-insensitive.
fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all(http::header::FORWARDED)
        .iter()
        .flat_map(|v| match v.to_str() {
            Ok(v) => forwarded_elements(v)
                .into_iter()
                .map(|pairs| {
                    pairs
                        .into_iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case("for"))
                        .and_then(|(_, node)| parse_node(&node))
                })
                .collect(),
            Err(_) => vec![None],
        })
        .collect()
}

/// Splits one `Forwarded` value into its elements (`,`-separated), each a
/// list of `name=value` pairs (`;`-separated) with quotes and escapes
/// removed from the values.
fn forwarded_elements(value: &str) -> Vec<Vec<(String, String)>> {
    let mut elements = Vec::new();
    let mut pairs = Vec::new();
    let (mut name, mut text) = (String::new(), String::new());
    let (mut in_value, mut quoted, mut escaped) = (false, false, false);
    for c in value.chars() {
        if quoted {
            match (escaped, c) {
                (false, '\\') => escaped = true,
                (false, '"') => quoted = false,
                _ => {
                    text.push(c);
                    escaped = false;
                }
            }
            continue;
        }
        match c {
            '"' if in_value => quoted = true,
            '=' if !in_value => in_value = true,
            ';' | ',' => {
                push_pair(&mut pairs, &mut name, &mut text);
                in_value = false;
                if c == ',' {
                    elements.push(std::mem::take(&mut pairs));
                }
            }
            c if in_value => text.push(c),
            c => name.push(c),
        }
    }
    push_pair(&mut pairs, &mut name, &mut text);
    elements.push(pairs);
    elements
}

/// Ends one `name=value` pair (an empty name is dropped).
fn push_pair(pairs: &mut Vec<(String, String)>, name: &mut String, text: &mut String) {
    let key = name.trim();
    if !key.is_empty() {
        pairs.push((key.to_owned(), text.trim().to_owned()));
    }
    name.clear();
    text.clear();
}

/// `192.0.2.1`, `192.0.2.1:8080`, `[2001:db8::1]`, `[2001:db8::1]:8080`,
/// `2001:db8::1`, and a port obfuscated as in RFC 7239 (`192.0.2.1:_p`).
fn parse_node(raw: &str) -> Option<IpAddr> {
    if let Some(rest) = raw.strip_prefix('[') {
        let (ip, _) = rest.split_once(']')?;
        return ip.parse::<IpAddr>().ok().map(|ip| ip.to_canonical());
    }
    if let Ok(ip) = raw.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    // RFC 7239 also allows an obfuscated port (`_abc`).
    let (ip, port) = raw.rsplit_once(':')?;
    if !port.starts_with('_') {
        port.parse::<u16>().ok()?;
    }
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

    const XFF: ProxyHeader = ProxyHeader::XForwardedFor;
    const FWD: ProxyHeader = ProxyHeader::Forwarded;

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let proxies: TrustedProxies = "10.0.0.0/8".parse().unwrap();
        let h = headers(&[("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=5.6.7.8")]);
        for mode in [XFF, FWD] {
            assert_eq!(
                proxies.client_ip(Some(ip("203.0.113.9")), &h, mode),
                Some(ip("203.0.113.9"))
            );
            assert_eq!(
                TrustedProxies::default().client_ip(Some(ip("10.0.0.1")), &h, mode),
                Some(ip("10.0.0.1"))
            );
            assert_eq!(proxies.client_ip(None, &h, mode), None);
        }
    }

    #[test]
    fn a_trusted_proxy_yields_the_rightmost_untrusted_hop() {
        let proxies: TrustedProxies = "10.0.0.0/8, 192.168.1.1".parse().unwrap();
        let peer = Some(ip("10.0.0.1"));
        // The client forged "1.1.1.1"; the proxies appended the real one.
        let h = headers(&[("x-forwarded-for", "1.1.1.1, 198.51.100.7, 192.168.1.1")]);
        assert_eq!(proxies.client_ip(peer, &h, XFF), Some(ip("198.51.100.7")));
        // Several header lines form one list.
        let h = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "198.51.100.8"),
        ]);
        assert_eq!(proxies.client_ip(peer, &h, XFF), Some(ip("198.51.100.8")));
        // No header: the proxy itself.
        assert_eq!(proxies.client_ip(peer, &HeaderMap::new(), XFF), peer);
        // Every hop trusted: the left-most one.
        let h = headers(&[("x-forwarded-for", "10.9.9.9, 192.168.1.1")]);
        assert_eq!(proxies.client_ip(peer, &h, XFF), Some(ip("10.9.9.9")));
        // Garbage stops the walk at the last trusted hop.
        let h = headers(&[("x-forwarded-for", "198.51.100.7, garbage, 10.2.2.2")]);
        assert_eq!(proxies.client_ip(peer, &h, XFF), Some(ip("10.2.2.2")));
        let h = headers(&[("x-forwarded-for", "")]);
        assert_eq!(proxies.client_ip(peer, &h, XFF), peer);
    }

    #[test]
    fn a_client_sent_forwarded_header_is_ignored_by_default() {
        // The proxy (10.0.0.1) appends the real client to X-Forwarded-For
        // and passes the client's own `Forwarded` through untouched.
        let proxies: TrustedProxies = "10.0.0.0/8".parse().unwrap();
        let peer = Some(ip("10.0.0.1"));
        let h = headers(&[
            ("forwarded", "for=1.1.1.1"),
            ("x-forwarded-for", "198.51.100.7"),
        ]);
        assert_eq!(proxies.client_ip(peer, &h, XFF), Some(ip("198.51.100.7")));
        assert_eq!(ProxyHeader::default(), XFF);
        // Only `Forwarded` from the client, none from the proxy: the proxy.
        let h = headers(&[("forwarded", "for=1.1.1.1")]);
        assert_eq!(proxies.client_ip(peer, &h, XFF), peer);
        // And the other way round in `forwarded` mode.
        let h = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("forwarded", "for=198.51.100.9"),
        ]);
        assert_eq!(proxies.client_ip(peer, &h, FWD), Some(ip("198.51.100.9")));
        let h = headers(&[("x-forwarded-for", "1.1.1.1")]);
        assert_eq!(proxies.client_ip(peer, &h, FWD), peer);
    }

    #[test]
    fn forwarded_header_forms_are_understood() {
        let proxies: TrustedProxies = "10.0.0.0/8".parse().unwrap();
        let peer = Some(ip("10.0.0.1"));
        let cases = [
            ("for=192.0.2.60;proto=http;by=203.0.113.43", "192.0.2.60"),
            ("for=\"[2001:db8:cafe::17]:4711\"", "2001:db8:cafe::17"),
            ("for=\"[2001:db8:cafe::17]\"", "2001:db8:cafe::17"),
            ("for=\"[2001:db8:cafe::17]:_port\"", "2001:db8:cafe::17"),
            ("for=192.0.2.43:8080, for=10.1.1.1", "192.0.2.43"),
            ("for=192.0.2.43:_hidden", "192.0.2.43"),
            ("For=\"198.51.100.17\"", "198.51.100.17"),
            (
                "proto=https; FOR=198.51.100.18 ;by=10.0.0.1",
                "198.51.100.18",
            ),
            // Quoted values may hold separators; escapes are undone.
            ("by=\"a,b;c\";for=198.51.100.19", "198.51.100.19"),
            ("for=\"198.51.100.\\20\"", "198.51.100.20"),
            // `unknown` and obfuscated nodes stop the walk.
            ("for=unknown", "10.0.0.1"),
            ("for=198.51.100.2, for=_hidden", "10.0.0.1"),
            ("for=_hidden, for=198.51.100.3", "198.51.100.3"),
            // Elements without `for` are hops we cannot read.
            ("proto=https, for=198.51.100.4", "198.51.100.4"),
            ("for=198.51.100.4, proto=https", "10.0.0.1"),
            ("", "10.0.0.1"),
            ("for=\"[2001:db8::1", "10.0.0.1"),
            ("for=\"unterminated", "10.0.0.1"),
        ];
        for (value, expected) in cases {
            let h = headers(&[("forwarded", value), ("x-forwarded-for", "9.9.9.9")]);
            assert_eq!(
                proxies.client_ip(peer, &h, FWD),
                Some(ip(expected)),
                "{value}"
            );
        }
        // Several header lines form one list; proxies are skipped.
        let h = headers(&[
            ("forwarded", "for=1.1.1.1"),
            ("forwarded", "for=198.51.100.5;proto=https, for=10.3.3.3"),
        ]);
        assert_eq!(proxies.client_ip(peer, &h, FWD), Some(ip("198.51.100.5")));
    }

    #[test]
    fn proxy_headers_parse_from_their_names() {
        assert_eq!("x-forwarded-for".parse(), Ok(XFF));
        assert_eq!(" Forwarded ".parse(), Ok(FWD));
        assert!("x-real-ip".parse::<ProxyHeader>().is_err());
        assert_eq!(FWD.to_string(), "forwarded");
    }

    #[test]
    fn mapped_peers_are_canonical() {
        let proxies = TrustedProxies::default();
        assert_eq!(
            proxies.client_ip(Some(ip("::ffff:203.0.113.1")), &HeaderMap::new(), XFF),
            Some(ip("203.0.113.1"))
        );
    }
}
