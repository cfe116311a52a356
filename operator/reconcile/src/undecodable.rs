//! Watch streams whose items may not decode: what reaches a controller's cache and queue when
//! one object of the kind cannot be decoded.
//!
//! A watch of lenient items (each decoded on its own, `kro_api::decode::Lenient`) yields, per
//! event, either the object or what is known of an undecodable one. [`skip_undecodable`]
//! turns that into a plain watch stream of the objects that decode: an undecodable object is
//! handed to a reporter (once per event) and skipped; a cache that held an earlier, decodable
//! copy of it is told to drop it (a `Delete` of a stand-in carrying only its metadata), so no
//! controller keeps reconciling a copy it can no longer read. Every other object of the kind
//! keeps flowing.

use futures::{Stream, StreamExt};
use kube::runtime::watcher::{Error, Event};

/// The watch stream `stream` with undecodable items taken out (see the module docs).
///
/// - `decode` splits an item into the object or its poison;
/// - `stand_in` builds an object carrying only a poison's metadata (to drop a cached copy),
///   `None` when the kind has no such stand-in;
/// - `report` is called with each poison of an `Apply` or a (re)list, not of a `Delete`.
pub fn skip_undecodable<L, K, P, S>(
    stream: S,
    decode: impl Fn(L) -> Result<K, P> + Send + 'static,
    stand_in: impl Fn(&P) -> Option<K> + Send + 'static,
    mut report: impl FnMut(P) + Send + 'static,
) -> impl Stream<Item = Result<Event<K>, Error>> + Send
where
    S: Stream<Item = Result<Event<L>, Error>> + Send,
    L: Send,
    K: Send,
    P: Send,
{
    stream.filter_map(move |event| {
        let sorted = event.map(|event| sort(event, &decode, &stand_in, &mut report));
        futures::future::ready(sorted.transpose())
    })
}

/// One event: the decodable object's event, a `Delete` of the stand-in of one that no longer
/// decodes, or nothing.
fn sort<L, K, P>(
    event: Event<L>,
    decode: &impl Fn(L) -> Result<K, P>,
    stand_in: &impl Fn(&P) -> Option<K>,
    report: &mut impl FnMut(P),
) -> Option<Event<K>> {
    match event {
        Event::Init => Some(Event::Init),
        Event::InitDone => Some(Event::InitDone),
        Event::InitApply(item) => match decode(item) {
            Ok(object) => Some(Event::InitApply(object)),
            Err(poison) => {
                report(poison);
                None
            }
        },
        Event::Apply(item) => match decode(item) {
            Ok(object) => Some(Event::Apply(object)),
            Err(poison) => {
                let dropped = stand_in(&poison).map(Event::Delete);
                report(poison);
                dropped
            }
        },
        Event::Delete(item) => match decode(item) {
            Ok(object) => Some(Event::Delete(object)),
            Err(poison) => stand_in(&poison).map(Event::Delete),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Items are numbers; odd ones do not decode.
    fn decode(item: i32) -> Result<i32, String> {
        if item % 2 == 0 {
            Ok(item)
        } else {
            Err(format!("poison {item}"))
        }
    }

    #[tokio::test]
    async fn undecodable_items_are_reported_and_skipped_and_the_rest_flows() {
        let reported = Arc::new(Mutex::new(Vec::new()));
        let seen = reported.clone();
        let events = vec![
            Ok(Event::Init),
            Ok(Event::InitApply(2)),
            Ok(Event::InitApply(3)),
            Ok(Event::InitApply(4)),
            Ok(Event::InitDone),
            Ok(Event::Apply(5)),
            Ok(Event::Apply(6)),
            Ok(Event::Delete(7)),
        ];
        let out: Vec<Event<i32>> = skip_undecodable(
            futures::stream::iter(events),
            decode,
            |poison: &String| {
                poison
                    .strip_prefix("poison ")?
                    .parse::<i32>()
                    .ok()
                    .map(|n| -n)
            },
            move |poison| seen.lock().unwrap().push(poison),
        )
        .filter_map(|event| futures::future::ready(event.ok()))
        .collect()
        .await;
        let shown: Vec<String> = out.iter().map(|event| format!("{event:?}")).collect();
        assert_eq!(
            shown,
            [
                "Init",
                "InitApply(2)",
                "InitApply(4)",
                "InitDone",
                // The copy a cache may hold of 5 is dropped.
                "Delete(-5)",
                "Apply(6)",
                "Delete(-7)",
            ]
        );
        assert_eq!(*reported.lock().unwrap(), ["poison 3", "poison 5"]);
    }
}
