//! The failed-auth limiter with the engine's clock, in held tokio time:
//! each (access id, address) pair is held back by its own failures within
//! the last minute, doubling to the configured cap, and forgiven once the
//! minute has passed; an address guessing unknown ids is refused past the
//! flood limit until its oldest failure leaves the window.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::test_support::{advance_until_finished, fake_engine};
use crate::{AuthAttempt, Engine, EngineError};
use dynsec_core::SecretString;
use std::net::IpAddr;
use std::time::Duration;

/// One attempt, with the held clock moved along while it waits; returns it
/// and how long (tokio time) it took.
async fn attempt(
    engine: &Engine,
    id: &str,
    key: &SecretString,
    from: IpAddr,
) -> (AuthAttempt, Duration) {
    let started = tokio::time::Instant::now();
    let task = tokio::spawn({
        let (engine, id, key) = (engine.clone(), id.to_owned(), key.clone());
        async move { engine.authenticate(&id, &key, from).await }
    });
    advance_until_finished(&task, Duration::from_millis(50), Duration::from_secs(30)).await;
    let attempt = task.await.unwrap();
    (attempt, started.elapsed())
}

#[tokio::test(start_paused = true)]
async fn failures_hold_their_own_pair_back_until_the_window_passes() {
    let (engine, _store, _aws) = fake_engine().await;
    let admin = engine.bootstrap_admin(None).await.unwrap().unwrap();
    let a: IpAddr = "203.0.113.1".parse().unwrap();
    let b: IpAddr = "203.0.113.2".parse().unwrap();
    let wrong = SecretString::new("wrong-key-0123456789");

    let mut delays = Vec::new();
    for _ in 0..9 {
        let (tried, took) = attempt(&engine, &admin.access_id, &wrong, a).await;
        assert!(matches!(tried.result, Err(EngineError::Unauthenticated(_))));
        assert!(took >= tried.delayed, "it really waited: {took:?}");
        delays.push(tried.delayed.as_millis());
    }
    // Three free failures, then 250 ms doubling up to the default 8 s cap.
    assert_eq!(delays, [0, 0, 0, 250, 500, 1000, 2000, 4000, 8000]);

    // Another address is not held back, even with the same id.
    let (from_b, _) = attempt(&engine, &admin.access_id, &admin.access_key, b).await;
    assert!(from_b.result.is_ok() && from_b.delayed.is_zero());

    // A minute after the last failure the pair starts over.
    tokio::time::advance(Duration::from_secs(61)).await;
    let (forgiven, took) = attempt(&engine, &admin.access_id, &admin.access_key, a).await;
    assert!(forgiven.result.is_ok(), "{:?}", forgiven.result);
    assert!(forgiven.delayed.is_zero() && took < Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn an_address_guessing_ids_is_refused_until_its_oldest_guess_ages_out() {
    let (engine, _store, _aws) = fake_engine().await;
    let admin = engine.bootstrap_admin(None).await.unwrap().unwrap();
    let guesser: IpAddr = "198.51.100.7".parse().unwrap();
    let other: IpAddr = "198.51.100.8".parse().unwrap();
    let wrong = SecretString::new("wrong-key-0123456789");
    for i in 0..50 {
        let tried = engine
            .authenticate(&format!("p-guess{i:04}"), &wrong, guesser)
            .await;
        assert!(matches!(tried.result, Err(EngineError::Unauthenticated(_))));
        assert!(tried.delayed.is_zero(), "each new id starts fresh");
        if i == 0 {
            // The rest come 30 s after the first.
            tokio::time::advance(Duration::from_secs(30)).await;
        }
    }
    let refused = engine
        .authenticate(&admin.access_id, &admin.access_key, guesser)
        .await;
    let Err(EngineError::RateLimited(message)) = &refused.result else {
        panic!("refused past the flood limit: {:?}", refused.result);
    };
    // The first guess leaves the one-minute window 30 s from now.
    assert!(message.contains("retry in 30 s"), "{message}");
    assert!(engine
        .authenticate(&admin.access_id, &admin.access_key, other)
        .await
        .result
        .is_ok());

    // Still refused a moment before; let in once the first guess aged out
    // (49 remain, under the limit of 50).
    tokio::time::advance(Duration::from_secs(29)).await;
    assert!(matches!(
        engine
            .authenticate(&admin.access_id, &admin.access_key, guesser)
            .await
            .result,
        Err(EngineError::RateLimited(_))
    ));
    tokio::time::advance(Duration::from_secs(2)).await;
    let allowed = engine
        .authenticate(&admin.access_id, &admin.access_key, guesser)
        .await;
    assert!(allowed.result.is_ok(), "{:?}", allowed.result);
}
