//! Rate limiting of the Management API: a token bucket per client, in memory.
//!
//! Each client (the `azp` of its token) has a bucket of `burst` requests that refills at
//! `per_second` requests per second. Requests without a valid token share a bucket per peer
//! address. Every response carries Auth0's headers: `x-ratelimit-limit` (the bucket size),
//! `x-ratelimit-remaining` and `x-ratelimit-reset` (Unix time in seconds when the bucket is
//! full again). A request that finds the bucket empty is rejected with `429` and `Retry-After`.
//!
//! Time comes from the broker's clock, so tests move it instead of sleeping.
//!
//! NOTE: the buckets live in the memory of one replica, so behind a load balancer a client
//! may send up to the limit to each replica.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, PoisonError};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{self, IntoHeaderName};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

use super::auth::{self, Authentication};
use super::error::ManagementError;
use crate::Broker;

/// Milli-requests per request: buckets count in thousandths so refills are exact integers.
const COST: u64 = 1000;

/// Number of buckets above which full ones are dropped, since a full bucket equals a new one.
const MAX_TRACKED_BUCKETS: usize = 10_000;

/// The request rate and burst a client may send to the Management API of one broker replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests per second the bucket refills by; 0 is read as 1.
    pub per_second: u32,
    /// Requests a full bucket allows at once; 0 is read as 1.
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            per_second: 50,
            burst: 50,
        }
    }
}

/// The buckets of one broker replica.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    /// Refill in milli-requests per millisecond, which equals requests per second.
    refill_per_ms: u64,
    capacity: u64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Milli-requests left.
    level: u64,
    updated_at_ms: i64,
    /// Requests rejected since the last one allowed, so only the first is logged.
    rejected: u64,
}

/// The outcome of one request against its bucket.
#[derive(Debug, Clone, Copy)]
struct Decision {
    allowed: bool,
    limit: u64,
    remaining: u64,
    /// Unix time in seconds when the bucket is full again.
    reset: i64,
    /// Seconds until the next request is allowed; 0 when this one was.
    retry_after: i64,
    /// Whether this is the first rejection after an allowed request.
    first_rejection: bool,
}

impl RateLimiter {
    pub(crate) fn new(limit: RateLimit) -> Self {
        Self {
            refill_per_ms: u64::from(limit.per_second.max(1)),
            capacity: u64::from(limit.burst.max(1)) * COST,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from the bucket of `key` at `now`.
    fn take(&self, key: &str, now: DateTime<Utc>) -> Decision {
        let now_ms = now.timestamp_millis();
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= MAX_TRACKED_BUCKETS && !buckets.contains_key(key) {
            buckets.retain(|_, bucket| self.refilled(*bucket, now_ms).level < self.capacity);
        }
        let stored = buckets.get(key).copied().unwrap_or(Bucket {
            level: self.capacity,
            updated_at_ms: now_ms,
            rejected: 0,
        });

        let mut bucket = self.refilled(stored, now_ms);
        let allowed = bucket.level >= COST;
        if allowed {
            bucket.level -= COST;
            bucket.rejected = 0;
        } else {
            bucket.rejected = bucket.rejected.saturating_add(1);
        }
        buckets.insert(key.to_owned(), bucket);
        drop(buckets);

        let to_full_ms = (self.capacity - bucket.level).div_ceil(self.refill_per_ms);
        let to_next_ms = COST
            .saturating_sub(bucket.level)
            .div_ceil(self.refill_per_ms);
        Decision {
            allowed,
            limit: self.capacity / COST,
            remaining: bucket.level / COST,
            reset: ceil_seconds(now_ms.saturating_add(to_ms(to_full_ms))),
            retry_after: if allowed {
                0
            } else {
                ceil_seconds(to_ms(to_next_ms)).max(1)
            },
            first_rejection: !allowed && bucket.rejected == 1,
        }
    }

    /// Returns `bucket` refilled for the time passed until `now_ms`.
    fn refilled(&self, bucket: Bucket, now_ms: i64) -> Bucket {
        let elapsed = u64::try_from(now_ms.saturating_sub(bucket.updated_at_ms)).unwrap_or(0);
        Bucket {
            level: bucket
                .level
                .saturating_add(elapsed.saturating_mul(self.refill_per_ms))
                .min(self.capacity),
            updated_at_ms: bucket.updated_at_ms.max(now_ms),
            rejected: bucket.rejected,
        }
    }
}

fn to_ms(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Rounds milliseconds up to whole seconds.
fn ceil_seconds(ms: i64) -> i64 {
    ms.div_euclid(1000) + i64::from(ms.rem_euclid(1000) != 0)
}

/// Verifies the caller's token, charges its bucket and adds the rate-limit headers.
///
/// The verification outcome goes into the request's extensions for the handler, which
/// returns `401` itself when the token was missing or invalid.
pub(super) async fn guard(
    State(broker): State<Broker>,
    mut request: Request,
    next: Next,
) -> Response {
    let authentication = auth::authenticate(&broker, request.headers());
    let key = match &authentication {
        Ok(caller) => format!("client:{}", caller.client_id()),
        Err(_) => match request.extensions().get::<ConnectInfo<SocketAddr>>() {
            Some(ConnectInfo(peer)) => format!("peer:{}", peer.ip()),
            None => "peer:unknown".to_owned(),
        },
    };

    let decision = broker
        .inner
        .management_limiter
        .take(&key, broker.inner.clock.now());
    let mut response = if decision.allowed {
        request
            .extensions_mut()
            .insert(Authentication(authentication));
        next.run(request).await
    } else {
        if decision.first_rejection {
            tracing::warn!(target: "authbridge::security", %key, "Management API rate limit reached");
        }
        let mut response = ManagementError::too_many_requests().into_response();
        insert_number(
            response.headers_mut(),
            header::RETRY_AFTER,
            decision.retry_after,
        );
        response
    };

    let headers = response.headers_mut();
    insert_number(headers, "x-ratelimit-limit", decision.limit);
    insert_number(headers, "x-ratelimit-remaining", decision.remaining);
    insert_number(headers, "x-ratelimit-reset", decision.reset);
    response
}

fn insert_number(
    headers: &mut HeaderMap,
    name: impl IntoHeaderName,
    value: impl Into<HeaderValue>,
) {
    headers.insert(name, value.into());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_900_000_000_000 + ms).unwrap()
    }

    #[test]
    fn bucket_allows_burst_then_rejects() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 1,
            burst: 2,
        });

        let first = limiter.take("a", at(0));
        let second = limiter.take("a", at(0));
        let third = limiter.take("a", at(0));

        assert!(first.allowed);
        assert!(second.allowed);
        assert_eq!((first.remaining, second.remaining), (1, 0));
        assert!(!third.allowed);
        assert_eq!(third.retry_after, 1);
        assert!(third.first_rejection);
        assert!(!limiter.take("a", at(0)).first_rejection);
    }

    #[test]
    fn bucket_refills_with_time() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 2,
            burst: 2,
        });
        limiter.take("a", at(0));
        limiter.take("a", at(0));

        assert!(!limiter.take("a", at(499)).allowed);
        assert!(limiter.take("a", at(500)).allowed);
    }

    #[test]
    fn reset_marks_when_bucket_is_full() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 1,
            burst: 3,
        });

        let decision = limiter.take("a", at(250));

        assert_eq!(decision.limit, 3);
        assert_eq!(decision.reset, at(1250).timestamp() + 1);
    }

    #[test]
    fn buckets_are_kept_per_key() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 1,
            burst: 1,
        });

        assert!(limiter.take("a", at(0)).allowed);
        assert!(!limiter.take("a", at(0)).allowed);
        assert!(limiter.take("b", at(0)).allowed);
    }

    #[test]
    fn clock_going_back_does_not_drain_bucket() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 1,
            burst: 1,
        });

        assert!(limiter.take("a", at(5_000)).allowed);
        assert!(!limiter.take("a", at(0)).allowed);
        assert!(limiter.take("a", at(6_000)).allowed);
    }
}
