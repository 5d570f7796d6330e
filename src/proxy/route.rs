//! Virtual hosting: which site a request is for, by its `Host`.
//!
//! One IP address and port can serve many sites, because every HTTP/1.1
//! request names the site it wants in its `Host` header (RFC 9112 §3.2,
//! RFC 9110 §7.2) — or, rarely, in an absolute URL as its target, which
//! then wins over `Host` (RFC 9112 §3.2.2). The proxy compares that name,
//! without regard to case (host names are case-insensitive, RFC 3986
//! §3.2.2), to the names of its `host` blocks:
//!
//! 1. a block named with a port (`app.local:8080`) matches that host and
//!    port exactly;
//! 2. otherwise a block named without one (`app.local`) matches the host
//!    on any port;
//! 3. otherwise the `default` block, if there is one, takes the request;
//!    if not, the proxy answers 404.
//!
//! A name may end with a dot (`app.local.`, the fully qualified form); it
//! matches as if it did not.

use super::balance::Pool;
use super::config::{Config, SetHeader, split_port};
use super::serve::Settings;

/// One configured site, ready to take requests.
#[derive(Debug)]
pub struct Site {
    /// Its `host` name, lowercased; `None` for the `default` block.
    pub host: Option<String>,
    /// Its backends and how they are chosen.
    pub pool: Pool,
    /// Its `proxy_set_header` lines.
    pub set_headers: Vec<SetHeader>,
}

/// The proxy: every site, and the settings all of them share.
#[derive(Debug)]
pub struct Proxy {
    sites: Vec<Site>,
    default: Option<Site>,
    settings: Settings,
}

/// The host a request names, in the two forms the proxy uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestHost {
    /// As sent, with its port if any (`Chat.localhost:8080`): `$http_host`.
    pub as_sent: String,
    /// The name alone, lowercased, without a trailing dot (`chat.localhost`): `$host`.
    pub name: String,
    /// The port, if the client gave one.
    pub port: Option<String>,
}

impl RequestHost {
    /// Reads `host[:port]`.
    pub fn parse(as_sent: &str) -> RequestHost {
        let lower = as_sent.to_ascii_lowercase();
        let (name, port) = split_port(&lower);
        RequestHost {
            as_sent: as_sent.to_string(),
            name: name.trim_end_matches('.').to_string(),
            port: port.map(str::to_string),
        }
    }
}

impl Proxy {
    /// Builds the sites of a configuration.
    pub fn new(config: Config, settings: Settings) -> Proxy {
        let site = |site: super::config::SiteConfig| Site {
            pool: Pool::new(&site.backends, site.policy),
            host: site.host,
            set_headers: site.set_headers,
        };
        Proxy {
            sites: config.sites.into_iter().map(site).collect(),
            default: config.default.map(site),
            settings,
        }
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The `host` sites, in configuration order, then the default one.
    pub fn sites(&self) -> impl Iterator<Item = &Site> {
        self.sites.iter().chain(&self.default)
    }

    /// The site for a request to `host` (`None`: an HTTP/1.0 request
    /// without `Host`, which only the default site can take).
    pub fn route(&self, host: Option<&RequestHost>) -> Option<&Site> {
        // lab6: begin — exact host:port first, then the host on any port, then the default
        let Some(host) = host else {
            return self.default.as_ref();
        };
        let named = |wanted: &str| {
            self.sites
                .iter()
                .find(|site| site.host.as_deref() == Some(wanted))
        };
        let with_port = host
            .port
            .as_ref()
            .and_then(|port| named(&format!("{}:{port}", host.name)));
        with_port
            .or_else(|| named(&host.name))
            .or(self.default.as_ref())
        // lab6: end
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::config;

    fn proxy(text: &str) -> Proxy {
        Proxy::new(
            config::parse(text).expect("valid test config"),
            Settings::default(),
        )
    }

    fn routed<'p>(proxy: &'p Proxy, host: Option<&str>) -> Option<&'p str> {
        let host = host.map(RequestHost::parse);
        proxy
            .route(host.as_ref())
            .map(|site| site.host.as_deref().unwrap_or("default"))
    }

    #[test]
    fn hosts_match_without_case_with_or_without_the_port() {
        let proxy = proxy(
            "host app.local { proxy_pass http://127.0.0.1:1 }\n\
             host app.local:8443 { proxy_pass http://127.0.0.1:2 }\n\
             host other.local { proxy_pass http://127.0.0.1:3 }\n\
             host dotted.local. { proxy_pass http://127.0.0.1:4 }\n\
             host [::1]:8080 { proxy_pass http://127.0.0.1:5 }",
        );
        for (host, expected) in [
            (Some("dotted.local"), Some("dotted.local")),
            (Some("[::1]:8080"), Some("::1:8080")),
            (Some("app.local"), Some("app.local")),
            (Some("APP.Local:8080"), Some("app.local")),
            (Some("app.local."), Some("app.local")),
            (Some("app.local:8443"), Some("app.local:8443")),
            (Some("other.local:1"), Some("other.local")),
            (Some("nobody.local"), None),
            (None, None),
        ] {
            assert_eq!(routed(&proxy, host), expected, "Host {host:?}");
        }
    }

    #[test]
    fn the_default_block_takes_every_other_host() {
        let proxy = proxy(
            "host app.local { proxy_pass http://127.0.0.1:1 }\n\
             default { proxy_pass http://127.0.0.1:2 }",
        );
        assert_eq!(routed(&proxy, Some("nobody.local")), Some("default"));
        assert_eq!(routed(&proxy, None), Some("default"));
        assert_eq!(routed(&proxy, Some("App.Local")), Some("app.local"));
    }

    #[test]
    fn request_hosts_split_into_their_forms() {
        let host = RequestHost::parse("Chat.Localhost.:8080");
        assert_eq!(host.name, "chat.localhost");
        assert_eq!(host.port.as_deref(), Some("8080"));
        assert_eq!(host.as_sent, "Chat.Localhost.:8080");
        assert_eq!(RequestHost::parse("[::1]:9").name, "::1");
    }
}
