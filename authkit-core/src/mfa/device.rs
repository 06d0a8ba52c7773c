//! Device fingerprints for "new sign-in" notices: a keyed hash of the user
//! agent's family and the client's network (IPv4 /24, IPv6 /64), stable
//! across browser updates and address changes within one network.

use std::net::IpAddr;

use crate::secret::{TokenHash, hmac_sha256};

/// Browser families, most specific first (Edge and Opera also say Chrome;
/// Chrome also says Safari).
const BROWSERS: [(&str, &str); 8] = [
    ("Edg", "edge"),
    ("OPR", "opera"),
    ("Firefox", "firefox"),
    ("Chrome", "chrome"),
    ("Safari", "safari"),
    ("curl", "curl"),
    ("okhttp", "okhttp"),
    ("Dalvik", "android-app"),
];

/// Operating-system families, most specific first.
const SYSTEMS: [(&str, &str); 7] = [
    ("Android", "android"),
    ("iPhone", "ios"),
    ("iPad", "ios"),
    ("Windows", "windows"),
    ("Mac OS X", "macos"),
    ("CrOS", "chromeos"),
    ("Linux", "linux"),
];

/// The fingerprint of a client: HMAC under `key` of its browser and OS
/// family and its network prefix. Unknown parts count as `other`.
pub fn device_fingerprint(key: &[u8], user_agent: Option<&str>, ip: Option<&str>) -> TokenHash {
    let ua = user_agent.unwrap_or_default();
    let family = |table: &[(&str, &'static str)]| {
        table
            .iter()
            .find(|(needle, _)| ua.contains(needle))
            .map_or("other", |(_, name)| *name)
    };
    let input = format!(
        "authkit.device.{}|{}|{}",
        family(&BROWSERS),
        family(&SYSTEMS),
        network(ip)
    );
    TokenHash(hmac_sha256(key, input.as_bytes()))
}

/// The /24 (IPv4) or /64 (IPv6) containing `ip`, or `other`.
fn network(ip: Option<&str>) -> String {
    match ip.and_then(|ip| ip.trim().parse::<IpAddr>().ok()) {
        Some(IpAddr::V4(v4)) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => network(Some(&v4.to_string())),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        None => "other".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIREFOX_LINUX: &str =
        "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
    const FIREFOX_LINUX_NEWER: &str =
        "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0";
    const CHROME_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
                                  (KHTML, like Gecko) Chrome/126.0 Safari/537.36";

    fn fp(ua: &str, ip: &str) -> TokenHash {
        device_fingerprint(b"key", Some(ua), Some(ip))
    }

    #[test]
    fn same_family_and_network_is_the_same_device() {
        assert_eq!(
            fp(FIREFOX_LINUX, "203.0.113.7"),
            fp(FIREFOX_LINUX_NEWER, "203.0.113.200")
        );
        assert_eq!(
            fp(FIREFOX_LINUX, "2001:db8:1:2::1"),
            fp(FIREFOX_LINUX, "2001:db8:1:2:ffff::9")
        );
        assert_eq!(
            fp(FIREFOX_LINUX, "::ffff:203.0.113.7"),
            fp(FIREFOX_LINUX, "203.0.113.9")
        );
    }

    #[test]
    fn another_family_network_or_key_is_another_device() {
        let base = fp(FIREFOX_LINUX, "203.0.113.7");
        assert_ne!(base, fp(CHROME_WINDOWS, "203.0.113.7"));
        assert_ne!(base, fp(FIREFOX_LINUX, "203.0.114.7"));
        assert_ne!(
            fp(FIREFOX_LINUX, "2001:db8:1:2::1"),
            fp(FIREFOX_LINUX, "2001:db8:1:3::1")
        );
        assert_ne!(
            base,
            device_fingerprint(b"other", Some(FIREFOX_LINUX), Some("203.0.113.7"))
        );
    }

    #[test]
    fn missing_or_garbage_parts_are_other() {
        assert_eq!(
            device_fingerprint(b"k", None, None),
            device_fingerprint(b"k", Some("💥"), Some("not an ip"))
        );
        assert_eq!(network(Some("999.1.1.1")), "other");
        assert_eq!(network(Some(" 10.1.2.3 ")), "10.1.2.0/24");
    }
}
