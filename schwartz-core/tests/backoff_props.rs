//! Properties of `Backoff`: whatever the base, cap, factor, jitter and failure count, a
//! delay never exceeds the cap, never panics, grows with the failure count (before
//! jitter), and a jittered delay stays within its band.

use std::time::Duration;

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use schwartz_core::Backoff;

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        (0u64..100_000).prop_map(Duration::from_secs),
        (0u64..u64::MAX, 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
        Just(Duration::ZERO),
        Just(Duration::MAX),
    ]
}

fn failures() -> impl Strategy<Value = u32> {
    prop_oneof![0u32..100, Just(u32::MAX), any::<u32>()]
}

proptest! {
    #[test]
    fn never_above_the_cap_and_monotonic(
        base in duration(),
        cap in duration(),
        factor in 1u32..=u32::MAX,
        n in failures(),
    ) {
        let b = Backoff::exponential(base, cap).with_factor(factor).unwrap();
        let d = b.max_delay(n);
        prop_assert!(d <= cap);
        prop_assert!(d >= base.min(cap) || n == 0);
        prop_assert!(b.max_delay(n.saturating_add(1)) >= d);
        prop_assert_eq!(b.max_delay(0), b.max_delay(1));
    }

    #[test]
    fn jitter_stays_in_its_band(
        base in duration(),
        cap in duration(),
        jitter in 0.0f64..=1.0,
        n in failures(),
        seed in any::<u64>(),
    ) {
        let b = Backoff::exponential(base, cap).with_jitter(jitter).unwrap();
        let full = b.max_delay(n);
        let d = b.delay_with(n, &mut StdRng::seed_from_u64(seed));
        prop_assert!(d <= full);
        // At most the jitter fraction (plus rounding) is taken off.
        let floor = full.as_secs_f64() * (1.0 - b.jitter());
        prop_assert!(d.as_secs_f64() >= floor * (1.0 - 1e-9) - 1e-9, "{d:?} < {floor}");
    }
}
