//! A wall-clock deadline over a thread's evaluations stops an expression from inside, however
//! large its cost budget, and leaves evaluations before the deadline (and on other threads)
//! alone.

use std::time::{Duration, Instant};

use kro_cel::{Activation, CelError, Deadline, Environment, Rendered};

/// About 10^10 comprehension steps: far more than any test waits for, well inside a budget of
/// 10^15 units, so only the deadline can stop it.
const ENDLESS: &str =
    "lists.range(100000).all(i, lists.range(100000).all(j, i + j >= 0)) ? 'done' : 'no'";

fn huge_budget() -> Environment {
    Environment::new().with_cost_limit(1_000_000_000_000_000)
}

#[test]
fn an_endless_expression_stops_at_the_deadline_with_its_own_error() {
    let env = huge_budget();
    let program = env.compile(ENDLESS).unwrap();
    let deadline = Deadline::start(Instant::now() + Duration::from_millis(200));
    let err = program.eval_json(&Activation::new()).unwrap_err();
    assert!(
        matches!(&err, CelError::DeadlineExceeded { expression } if expression == ENDLESS),
        "{err:?}"
    );
    assert!(deadline.passed());
    assert!(
        err.to_string().contains("deadline has passed"),
        "the message says why: {err}"
    );
    assert!(!err.is_data_pending(), "a deadline is not data to wait for");
}

#[test]
fn a_deadline_already_passed_stops_the_next_evaluation_at_its_first_steps() {
    let env = huge_budget();
    let program = env.compile(ENDLESS).unwrap();
    let _deadline = Deadline::start(Instant::now());
    let err = program.eval_bool(&Activation::new()).unwrap_err();
    assert!(matches!(err, CelError::DeadlineExceeded { .. }), "{err:?}");
}

#[test]
fn evaluations_before_the_deadline_and_after_the_guard_are_unchanged() {
    let env = huge_budget();
    let small = env
        .compile("lists.range(100).map(i, i * 2).filter(x, x % 3 == 0).size()")
        .unwrap();
    let far = Deadline::start(Instant::now() + Duration::from_secs(3600));
    assert_eq!(
        small.eval_json(&Activation::new()).unwrap(),
        Rendered::Value(serde_json::json!(34))
    );
    assert!(!far.passed());
    drop(far);
    {
        let _passed = Deadline::start(Instant::now());
        assert!(
            env.compile(ENDLESS)
                .unwrap()
                .eval(&Activation::new())
                .is_err()
        );
    }
    // The guard is gone: no deadline on this thread any more.
    assert_eq!(
        small.eval_json(&Activation::new()).unwrap(),
        Rendered::Value(serde_json::json!(34))
    );
}

#[test]
fn a_deadline_is_per_thread() {
    let env = huge_budget();
    let small = env.compile("lists.range(1000).all(i, i >= 0)").unwrap();
    let _passed = Deadline::start(Instant::now());
    let other = std::thread::spawn(move || small.eval_bool(&Activation::new()));
    assert!(other.join().unwrap().unwrap());
}

#[test]
fn the_cost_limit_still_applies_under_a_deadline() {
    let env = Environment::new().with_cost_limit(10_000);
    let program = env.compile(ENDLESS).unwrap();
    let _far = Deadline::start(Instant::now() + Duration::from_secs(3600));
    let err = program.eval_json(&Activation::new()).unwrap_err();
    assert!(
        matches!(err, CelError::CostLimitExceeded { limit: 10_000, .. }),
        "{err:?}"
    );
}
