//! Where the endpoint listens: a port alone means loopback; anything else must be an explicit
//! IP address.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::error::Error as LiveError;

/// The default address: Prometheus's conventional port for exporters on 127.0.0.1.
pub const DEFAULT_ADDRESS: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9464);

/// Parses where to listen: `PORT` or `:PORT` (on 127.0.0.1), `localhost:PORT` (127.0.0.1),
/// `IP:PORT` or `[IPv6]:PORT`. Host names other than `localhost` are refused: the endpoint binds
/// a non-loopback interface only when that interface's address is written out.
pub fn parse_address(text: &str) -> Result<SocketAddr, LiveError> {
    let text = text.trim();
    let bad = |reason: &str| LiveError::Address {
        text: text.to_owned(),
        reason: reason.to_owned(),
    };
    let port_only = text.strip_prefix(':').unwrap_or(text);
    if !port_only.is_empty() && port_only.bytes().all(|b| b.is_ascii_digit()) {
        let port = port_only
            .parse()
            .map_err(|_| bad("the port is above 65535"))?;
        return Ok(SocketAddr::new(DEFAULT_ADDRESS.ip(), port));
    }
    if let Some(port) = text.strip_prefix("localhost:") {
        let port = port.parse().map_err(|_| bad("the port is not a number"))?;
        return Ok(SocketAddr::new(DEFAULT_ADDRESS.ip(), port));
    }
    text.parse()
        .map_err(|_| bad("not a port or an IP address with a port"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_alone_binds_loopback() {
        for text in ["9464", ":9464", " 9464 ", "localhost:9464"] {
            let address = parse_address(text).unwrap();
            assert!(address.ip().is_loopback(), "{text}");
            assert_eq!(address.port(), 9464);
        }
        assert!(DEFAULT_ADDRESS.ip().is_loopback());
    }

    #[test]
    fn other_interfaces_need_their_address_written_out() {
        assert_eq!(
            parse_address("0.0.0.0:9464").unwrap(),
            "0.0.0.0:9464".parse().unwrap()
        );
        assert_eq!(
            parse_address("[::1]:0").unwrap(),
            "[::1]:0".parse().unwrap()
        );
        for text in ["example.com:9464", "", "99999", "127.0.0.1", "0.0.0.0:x"] {
            assert!(
                matches!(parse_address(text), Err(LiveError::Address { .. })),
                "{text}"
            );
        }
    }
}
