//! Sending a webhook: the target is checked when it is given and again at every delivery, and
//! the connection goes to the very addresses that were checked (no DNS-rebinding window). No
//! redirects, a 10 s timeout, Standard Webhooks headers signed with every secret that signs now.

use crate::domain::webhooks::signature_header;
use crate::error::ApiError;
use crate::messages::Delivery;
use crate::ports::{Blobs, Store};
use crate::usecases::Deps;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether a URL may receive webhooks: `https` (or `http` where private targets are allowed),
/// a host, no credentials. A 400 on `webhook` otherwise.
pub fn check_target(url: &str, allow_private: bool) -> Result<reqwest::Url, ApiError> {
    let refuse = |why: &str| ApiError::invalid("webhook", format!("webhook {why}"));
    let parsed = reqwest::Url::parse(url).map_err(|_| refuse("must be an absolute URL"))?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err(refuse("must be an https URL")),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(refuse("must not carry credentials"));
    }
    let host = parsed
        .host_str()
        .ok_or_else(|| refuse("must name a host"))?;
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = literal.parse::<IpAddr>()
        && !allowed(ip, allow_private)
    {
        return Err(refuse(
            "must not point at a private, loopback or link-local address",
        ));
    }
    Ok(parsed)
}

/// Whether an address is on the public internet (or anything, where private targets are allowed).
pub fn allowed(ip: IpAddr, allow_private: bool) -> bool {
    allow_private || public(ip)
}

fn public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return public_v4(v4);
            }
            let s = v6.segments();
            // NAT64 (64:ff9b::/96) reaches an IPv4 address: judge that one.
            if s[0..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return public_v4(Ipv4Addr::from(((s[6] as u32) << 16) | s[7] as u32));
            }
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated, still routed by some)
                || v6 == Ipv6Addr::from([0, 0, 0, 0, 0, 0, 0, 1]))
        }
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254/16: the instance metadata service lives here
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240)
}

/// Every address the target's host resolves to within `budget`, all of them allowed. A host
/// that does not resolve now may later (a retry); one that resolves to a refused address is
/// refused.
pub async fn resolve(
    url: &reqwest::Url,
    allow_private: bool,
    budget: Duration,
) -> Result<Vec<SocketAddr>, Outcome> {
    let host = url.host_str().unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or(443);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs = lookup_within(host, tokio::net::lookup_host((host, port)), budget).await?;
    check_addresses(host, addrs, allow_private)
}

/// A lookup that answers within `budget`, or a retry: a stalled name server must not hold a
/// delivery (and the batch it is in) past its timeout.
async fn lookup_within<I: Iterator<Item = SocketAddr>>(
    host: &str,
    lookup: impl Future<Output = std::io::Result<I>>,
    budget: Duration,
) -> Result<Vec<SocketAddr>, Outcome> {
    match tokio::time::timeout(budget, lookup).await {
        Ok(Ok(addrs)) => Ok(addrs.collect()),
        Ok(Err(e)) => Err(Outcome::Retry(format!("{host} does not resolve: {e}"))),
        Err(_) => Err(Outcome::Retry(format!(
            "{host} did not resolve within {} s",
            budget.as_secs_f32()
        ))),
    }
}

fn check_addresses(
    host: &str,
    addrs: Vec<SocketAddr>,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, Outcome> {
    if addrs.is_empty() {
        return Err(Outcome::Retry(format!("{host} resolves to no address")));
    }
    // One refused address refuses the host: a name that mixes public and private answers is
    // how rebinding attacks pick their moment.
    if let Some(bad) = addrs.iter().find(|a| !allowed(a.ip(), allow_private)) {
        return Err(Outcome::Refused(format!(
            "{host} resolves to {}, which is not a public address",
            bad.ip()
        )));
    }
    Ok(addrs)
}

/// How one attempt ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver answered 2xx.
    Delivered(u16),
    /// Worth another attempt later: a non-2xx answer, a timeout, a connection failure.
    Retry(String),
    /// Never deliverable (the target is refused): retrying cannot help.
    Refused(String),
}

/// One attempt: signs `delivery` for `now` with the user's secrets and posts it.
pub async fn attempt<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    delivery: &Delivery,
    now: i64,
) -> Result<Outcome, ApiError> {
    let allow_private = deps.config.delivery.allow_private_webhook_targets;
    let url = match check_target(&delivery.url, allow_private) {
        Ok(url) => url,
        Err(e) => return Ok(Outcome::Refused(e.to_string())),
    };
    // One deadline for the lookup and the request together.
    let deadline = tokio::time::Instant::now() + DELIVERY_TIMEOUT;
    let addrs = match resolve(&url, allow_private, DELIVERY_TIMEOUT).await {
        Ok(addrs) => addrs,
        Err(outcome) => return Ok(outcome),
    };
    let secrets = crate::usecases::webhooks::secrets(deps, &delivery.user_id).await?;
    let body = delivery.body.to_string();
    let signature = signature_header(&secrets, &delivery.id, now, &body);
    let host = url.host_str().unwrap_or_default().to_string();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(deadline.saturating_duration_since(tokio::time::Instant::now()))
        .no_proxy()
        .resolve_to_addrs(&host, &addrs)
        .build()
        .map_err(ApiError::internal)?;
    let sent = client
        .post(url)
        .header("content-type", "application/json")
        .header("user-agent", "imageapi-webhooks/1")
        .header("webhook-id", &delivery.id)
        .header("webhook-timestamp", now.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await;
    Ok(match sent {
        Ok(resp) if resp.status().is_success() => Outcome::Delivered(resp.status().as_u16()),
        Ok(resp) => Outcome::Retry(format!("the receiver answered {}", resp.status())),
        Err(e) if e.is_timeout() => {
            Outcome::Retry("the receiver did not answer within 10 s".into())
        }
        Err(e) => Outcome::Retry(format!("the receiver could not be reached: {e}")),
    })
}

/// When attempt `n` (1-based) failed, the next waits this long: doubling from 30 s, at most 6 h;
/// with the queue's 13 receives that spans about a day.
pub fn backoff(n: u32) -> Duration {
    Duration::from_secs((30u64 << n.saturating_sub(1).min(20)).min(6 * 3600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_https_targets_are_accepted_unless_private_ones_are_allowed() {
        for ok in [
            "https://hooks.example.com/in",
            "https://93.184.215.14:8443/x",
        ] {
            assert!(check_target(ok, false).is_ok(), "{ok}");
        }
        for bad in [
            "http://hooks.example.com/in",
            "ftp://example.com/",
            "https://user:pw@example.com/",
            "https://127.0.0.1/",
            "https://10.1.2.3/",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/",
            "https://[::1]/",
            "https://[fd00::1]/",
            "https://[fe80::1]/",
            "https://[::ffff:192.168.0.1]/",
            "https://[64:ff9b::a9fe:a9fe]/",
            "not a url",
        ] {
            let e = check_target(bad, false).unwrap_err();
            assert!(
                matches!(&e, ApiError::InvalidRequest { param: Some(p), .. } if p == "webhook"),
                "{bad}: {e:?}"
            );
        }
        assert!(check_target("http://127.0.0.1:8080/hook", true).is_ok());
        for ip in ["8.8.8.8", "2606:4700::1111"] {
            assert!(allowed(ip.parse().unwrap(), false), "{ip}");
        }
        for ip in [
            "0.0.0.0",
            "192.168.1.1",
            "172.16.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "ff02::1",
        ] {
            assert!(!allowed(ip.parse().unwrap(), false), "{ip}");
        }
    }

    #[tokio::test]
    async fn a_name_that_resolves_to_a_private_address_is_refused() {
        let url = reqwest::Url::parse("https://localhost:9/hook").unwrap();
        let budget = DELIVERY_TIMEOUT;
        match resolve(&url, false, budget).await {
            Err(Outcome::Refused(why)) => assert!(why.contains("not a public address"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert!(resolve(&url, true, budget).await.is_ok());
        // A name that does not resolve now is worth another attempt, not a refusal.
        let nowhere = reqwest::Url::parse("https://no-such-host.invalid/hook").unwrap();
        assert!(matches!(
            resolve(&nowhere, false, budget).await,
            Err(Outcome::Retry(_))
        ));
    }

    #[tokio::test]
    async fn a_name_server_that_never_answers_is_a_retry_within_the_budget() {
        let stalled = std::future::pending::<std::io::Result<std::vec::IntoIter<SocketAddr>>>();
        // The lookup never answers: only the budget can end it.
        match lookup_within("slow.example", stalled, Duration::from_millis(200)).await {
            Err(Outcome::Retry(why)) => assert!(why.contains("did not resolve within"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn retries_back_off_over_about_a_day() {
        assert_eq!(backoff(1), Duration::from_secs(30));
        assert_eq!(backoff(2), Duration::from_secs(60));
        assert_eq!(backoff(40), Duration::from_secs(6 * 3600));
        let total: u64 = (1..13).map(|n| backoff(n).as_secs()).sum();
        assert!((20 * 3600..30 * 3600).contains(&total), "{total} s");
    }
}
