//! Conditional replacement of a connection (admin-key rotation's steps).

use super::{producer, target};
use crate::{ConnectionColumns, ConnectionSlot, Store};

/// A rotation step's write lands only on the connection it read, carries
/// the admin state along, and updates what the sweep's distinct-connection
/// key derives from; a stale step, or one aimed at a dynamic secret that
/// uses a target, changes nothing.
pub async fn a_connection_is_replaced_only_while_it_is_as_expected(store: &dyn Store) {
    let target_id = store.insert_target(&target("/t", None)).await.unwrap();
    let stored = store
        .target_by_id(target_id)
        .await
        .unwrap()
        .unwrap()
        .connection;
    assert_eq!(
        stored.admin_json, "{}",
        "new connections start with no state"
    );
    let started = ConnectionColumns {
        admin_json: r#"{"rotation":{"phase":"started"}}"#.into(),
        ..stored.clone()
    };
    let slot = ConnectionSlot::Target(target_id);
    assert!(store
        .update_connection_if(slot, &stored, &started)
        .await
        .unwrap());
    let swapped = ConnectionColumns {
        access_key_id: "AKIANEW".into(),
        sealed_secret: vec![9, 9],
        admin_json: r#"{"rotation":{"phase":"swapped"}}"#.into(),
        ..stored.clone()
    };
    assert!(
        !store
            .update_connection_if(slot, &stored, &swapped)
            .await
            .unwrap(),
        "a step that read the state before the last write must fail"
    );
    assert!(store
        .update_connection_if(slot, &started, &swapped)
        .await
        .unwrap());
    let now = store.target_by_id(target_id).await.unwrap().unwrap();
    assert_eq!(now.connection, swapped);
    assert_eq!(now.name, "/t", "the rest of the target is untouched");

    let inline_id = store.insert_producer(&producer("/p", None)).await.unwrap();
    let inline = store
        .producer_by_id(inline_id)
        .await
        .unwrap()
        .unwrap()
        .inline_connection
        .unwrap();
    let rotated = ConnectionColumns {
        access_key_id: "AKIAROTATED".into(),
        sealed_secret: vec![7],
        admin_json: r#"{"last_rotation":1}"#.into(),
        ..inline.clone()
    };
    let slot = ConnectionSlot::DynamicSecret(inline_id);
    assert!(store
        .update_connection_if(slot, &inline, &rotated)
        .await
        .unwrap());
    let now = store.producer_by_id(inline_id).await.unwrap().unwrap();
    assert_eq!(now.inline_connection, Some(rotated.clone()));
    let in_use = store.connections_in_use(None, 100).await.unwrap();
    assert!(
        in_use
            .items
            .iter()
            .any(|c| c.connection.access_key_id == "AKIAROTATED"),
        "the connections listing sees the rotated key"
    );

    let with_target = store
        .insert_producer(&producer("/q", Some(target_id)))
        .await
        .unwrap();
    assert!(
        !store
            .update_connection_if(
                ConnectionSlot::DynamicSecret(with_target),
                &inline,
                &rotated
            )
            .await
            .unwrap(),
        "a dynamic secret using a target has no inline connection to replace"
    );
}
