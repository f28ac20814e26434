//! The requests the broker sends to a plugin's site: the ownership-proof
//! fetch, `GET {site_url}/.well-known/tessera/{install_id}`, and the pushes
//! of Stora's events to a URL on the site's origin (`POST`, §14.4).
//!
//! The site URL is chosen by whoever registers, so this fetch must not be a
//! way into the broker's own network (SSRF). The rule, in order:
//!
//! 1. **Resolve once.** The host name is resolved a single time, through the
//!    broker's [`Resolve`] (injectable: the tests script DNS answers).
//! 2. **Check every address.** If any answer is internal
//!    ([`is_internal_address`]: loopback, private, link-local, CGNAT,
//!    benchmarking, IETF protocol assignments, reserved, multicast,
//!    unique-local, site-local, NAT64, 6to4, …) the fetch is refused. A name
//!    that resolves to one public and one internal address is refused too:
//!    which one a client would pick is not the broker's to guess.
//! 3. **Pin.** The connection goes to the checked addresses only (ureq is
//!    given a resolver that answers them, `Pinned`); the request keeps the
//!    original URL, so `Host` (and, with TLS, SNI and certificate checks)
//!    name the site. A second DNS answer — a rebinding attacker's TTL-0
//!    record now pointing at `169.254.169.254` — is never asked for.
//!
//! No redirects, no proxy, 5 s; a proof is at most 1 KiB.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

/// Name resolution, injectable so tests can script DNS answers (rebinding).
pub trait Resolve: Send + Sync + std::fmt::Debug {
    /// Every address `host` resolves to (IPv4 and IPv6).
    fn resolve(&self, host: &str, port: u16) -> std::io::Result<Vec<IpAddr>>;
}

/// The operating system's resolver (`getaddrinfo`).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, host: &str, port: u16) -> std::io::Result<Vec<IpAddr>> {
        Ok((host, port).to_socket_addrs()?.map(|a| a.ip()).collect())
    }
}

/// Whether `ip` lies inside a network rather than on the public internet:
/// the broker never fetches from such an address (unless it is loopback and
/// the broker runs in its test configuration, [`address_allowed`]).
///
/// IPv4: `0.0.0.0/8`, `10/8`, `100.64/10` (CGNAT), `127/8`, `169.254/16`
/// (link-local, cloud metadata), `172.16/12`, `192.0.0.0/24` (IETF protocol
/// assignments), `192.0.2.0/24`, `198.51.100.0/24`, `203.0.113.0/24`
/// (documentation), `192.168/16`, `198.18/15` (benchmarking), `224/4`
/// (multicast), `240/4` (reserved) and `255.255.255.255`.
/// IPv6: `::`, `::1`, `::/96` (IPv4-compatible), `::ffff:0:0/96` (mapped: the
/// embedded IPv4 address decides), `64:ff9b::/96` and `64:ff9b:1::/48`
/// (NAT64: reaches an IPv4 address through a translator), `100::/64`
/// (discard), `2001:db8::/32` (documentation), `2002::/16` (6to4: embeds an
/// IPv4 address), `fc00::/7` (unique-local), `fe80::/10` (link-local),
/// `fec0::/10` (site-local, deprecated but still routed by some stacks) and
/// `ff00::/8` (multicast).
pub fn is_internal_address(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            a == 0
                || a == 10
                || (a == 100 && (b & 0xc0) == 64)
                || a == 127
                || (a == 169 && b == 254)
                || (a == 172 && (b & 0xf0) == 16)
                || (a == 192 && b == 0 && c == 0)
                || (a == 192 && b == 0 && c == 2)
                || (a == 192 && b == 168)
                || (a == 198 && (b & 0xfe) == 18)
                || (a == 198 && b == 51 && c == 100)
                || (a == 203 && b == 0 && c == 113)
                || a >= 224
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal_address(&IpAddr::V4(v4));
            }
            v6.is_unspecified()
                || v6.is_loopback()
                || (s[0..6] == [0, 0, 0, 0, 0, 0])
                || (s[0] == 0x64 && s[1] == 0xff9b && (s[2..6] == [0, 0, 0, 0] || s[2] == 1))
                || (s[0] == 0x100 && s[1..4] == [0, 0, 0])
                || (s[0] == 0x2001 && s[1] == 0xdb8)
                || s[0] == 0x2002
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] & 0xffc0) == 0xfec0
                || (s[0] & 0xff00) == 0xff00
        }
    }
}

/// The broker may connect to `ip`: a public address, or — only in the test
/// and demo configuration (`allow_loopback`) — a loopback one.
pub fn address_allowed(ip: &IpAddr, allow_loopback: bool) -> bool {
    let loopback = match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    };
    !is_internal_address(ip) || (allow_loopback && loopback)
}

/// Why a fetch did not produce a proof. The broker answers every one of
/// them the same way (`403 ownership_proof_invalid`): a registrant must not
/// learn what the broker found at an address.
#[derive(Debug, PartialEq, Eq)]
pub enum FetchError {
    /// The URL is not one the broker fetches from.
    BadUrl,
    /// The name did not resolve, or to nothing.
    Unresolved,
    /// One of its addresses is internal.
    Internal(IpAddr),
    /// The site could not be reached or answered garbage.
    Unreachable,
    /// The site answered with another status than 200.
    Status(u16),
}

/// Resolves `host` once and checks every address; the addresses to connect
/// to (never empty).
pub fn resolve_checked(
    resolver: &dyn Resolve,
    host: &str,
    port: u16,
    allow_loopback: bool,
) -> Result<Vec<IpAddr>, FetchError> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => resolver.resolve(bare, port).map_err(|_| FetchError::Unresolved)?,
    };
    if addrs.is_empty() {
        return Err(FetchError::Unresolved);
    }
    if let Some(bad) = addrs.iter().find(|ip| !address_allowed(ip, allow_loopback)) {
        return Err(FetchError::Internal(*bad));
    }
    Ok(addrs)
}

/// A ureq resolver that answers only the addresses the broker checked.
#[derive(Debug)]
struct Pinned(Vec<SocketAddr>);

impl ureq::unversioned::resolver::Resolver for Pinned {
    fn resolve(
        &self,
        _uri: &ureq::http::Uri,
        _config: &ureq::config::Config,
        _timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        let mut out = self.empty();
        for addr in self.0.iter().take(16) {
            out.push(*addr);
        }
        if out.is_empty() { Err(ureq::Error::HostNotFound) } else { Ok(out) }
    }
}

/// An agent for one request to `url`: its host resolved once, every address
/// checked, the connection pinned to those (the URL, hence `Host`,
/// unchanged). No redirects, no proxy, 5 s.
fn pinned_agent(resolver: &Arc<dyn Resolve>, allow_loopback: bool, url: &str) -> Result<ureq::Agent, FetchError> {
    let parsed = tessera_core::internals::url::Url::parse(url, "site_url").map_err(|_| FetchError::BadUrl)?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err(FetchError::BadUrl);
    }
    let port = parsed.port().unwrap_or(if parsed.scheme() == "https" { 443 } else { 80 });
    let checked = resolve_checked(resolver.as_ref(), parsed.host(), port, allow_loopback)?;
    let pinned = Pinned(checked.into_iter().map(|ip| SocketAddr::new(ip, port)).collect());
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(5)))
        .user_agent("tessera-broker/0.1")
        .build();
    Ok(ureq::Agent::with_parts(config, ureq::unversioned::transport::DefaultConnector::default(), pinned))
}

/// `GET {site_url}{ownership_path(install_id)}` through [`pinned_agent`],
/// 1 KiB at most. Returns the trimmed body.
pub fn fetch_ownership_proof(
    resolver: &Arc<dyn Resolve>,
    allow_loopback: bool,
    site_url: &str,
    install_id: &str,
) -> Result<String, FetchError> {
    let url = format!(
        "{}{}",
        site_url.trim_end_matches('/'),
        tessera_core::internals::registration::ownership_path(install_id)
    );
    let agent = pinned_agent(resolver, allow_loopback, &url)?;
    let mut resp = agent.get(&url).call().map_err(|_| FetchError::Unreachable)?;
    if resp.status().as_u16() != 200 {
        return Err(FetchError::Status(resp.status().as_u16()));
    }
    let body = resp.body_mut().with_config().limit(1024).read_to_string().map_err(|_| FetchError::Unreachable)?;
    Ok(body.trim().to_string())
}

/// `POST {url}` of a push (docs/PROTOCOL.md §14.4) through
/// [`pinned_agent`]: the JSON `body` with its `Tessera-Push-Signature`.
/// Returns the site's status; its body is not read.
pub fn post_push(
    resolver: &Arc<dyn Resolve>,
    allow_loopback: bool,
    url: &str,
    signature: &str,
    body: &[u8],
) -> Result<u16, FetchError> {
    let agent = pinned_agent(resolver, allow_loopback, url)?;
    let resp = agent
        .post(url)
        .header("content-type", "application/json")
        .header(tessera_core::internals::events::PUSH_SIGNATURE_HEADER, signature)
        .send(body)
        .map_err(|_| FetchError::Unreachable)?;
    Ok(resp.status().as_u16())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_ranges() {
        for internal in [
            "0.1.2.3",
            "10.1.2.3",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "127.9.9.9",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.1",
            "192.0.0.170",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "250.1.2.3",
            "255.255.255.255",
            "::",
            "::1",
            "::10.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::808:808",
            "64:ff9b:1::1",
            "100::1",
            "2001:db8::1",
            "2002:a9fe:a9fe::1",
            "2002:808:808::1",
            "fc00::1",
            "fd00::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "feff::1",
            "ff02::1",
        ] {
            let ip: IpAddr = internal.parse().unwrap();
            assert!(is_internal_address(&ip), "{internal} must be internal");
            assert!(!address_allowed(&ip, false), "{internal}");
        }
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "192.0.1.1",
            "192.169.0.1",
            "198.17.255.255",
            "198.20.0.1",
            "223.255.255.254",
            "2606:2800:220:1:248:1893:25c8:1946",
            "2a00:1450:4001:80b::200e",
            "64:ff9c::1",
            "2003::1",
            "::ffff:8.8.8.8",
        ] {
            let ip: IpAddr = public.parse().unwrap();
            assert!(!is_internal_address(&ip), "{public} must be public");
            assert!(address_allowed(&ip, false), "{public}");
        }
        // The test configuration admits loopback, and only loopback.
        for ip in ["127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1"] {
            assert!(address_allowed(&ip.parse().unwrap(), true), "{ip}");
        }
        for ip in ["10.0.0.1", "169.254.169.254", "198.18.0.1", "64:ff9b::a9fe:a9fe", "fec0::1"] {
            assert!(!address_allowed(&ip.parse().unwrap(), true), "{ip}");
        }
    }

    #[derive(Debug)]
    struct Fixed(Vec<IpAddr>);
    impl Resolve for Fixed {
        fn resolve(&self, _: &str, _: u16) -> std::io::Result<Vec<IpAddr>> {
            Ok(self.0.clone())
        }
    }

    #[test]
    fn every_address_is_checked() {
        let public: IpAddr = "93.184.216.34".parse().unwrap();
        let metadata: IpAddr = "169.254.169.254".parse().unwrap();
        assert_eq!(resolve_checked(&Fixed(vec![public]), "shop.example", 443, false), Ok(vec![public]));
        assert_eq!(
            resolve_checked(&Fixed(vec![public, metadata]), "shop.example", 443, false),
            Err(FetchError::Internal(metadata)),
            "one internal answer among public ones refuses the name"
        );
        assert_eq!(resolve_checked(&Fixed(vec![]), "shop.example", 443, false), Err(FetchError::Unresolved));
        assert_eq!(
            resolve_checked(&Fixed(vec![public]), "[fec0::1]", 443, false),
            Err(FetchError::Internal("fec0::1".parse().unwrap())),
            "a literal address is checked without DNS"
        );
    }

    #[test]
    fn a_push_goes_only_where_a_proof_fetch_may() {
        // A site name that now resolves to the metadata address: refused
        // before any connection, as for the ownership-proof fetch.
        let resolver: Arc<dyn Resolve> = Arc::new(Fixed(vec!["169.254.169.254".parse().unwrap()]));
        let pushed = post_push(&resolver, false, "https://shop.example/hook", "t=1,v1=00", b"{}");
        assert_eq!(pushed, Err(FetchError::Internal("169.254.169.254".parse().unwrap())));
        let loopback: Arc<dyn Resolve> = Arc::new(Fixed(vec!["127.0.0.1".parse().unwrap()]));
        assert!(matches!(
            post_push(&loopback, false, "http://shop.example/hook", "t=1,v1=00", b"{}"),
            Err(FetchError::Internal(_))
        ));
        assert_eq!(post_push(&resolver, true, "ftp://shop.example/hook", "t=1,v1=00", b"{}"), Err(FetchError::BadUrl));
    }
}
