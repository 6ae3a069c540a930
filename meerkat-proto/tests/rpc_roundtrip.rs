//! Encode/decode round trips: what one `Client` writes, another reads back
//! unchanged (methods, ids, raw payloads verbatim, error objects).

use meerkat_proto::rpc::{CallError, Client, ErrorCode, ErrorObject, Event, IncomingId};
use proptest::prelude::*;
use serde_json::Value;
use serde_json::value::RawValue;

/// Arbitrary JSON; floats are left out of values compared after a parse
/// (serde_json's default float parsing may round), but kept in raw text.
fn json(floats: bool) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        if floats {
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from)
                .boxed()
        } else {
            Just(Value::Null).boxed()
        },
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Raw JSON text for `value`, compact or pretty (newlines included).
fn raw_text(value: &Value, pretty: bool) -> String {
    if pretty {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    }
    .unwrap()
}

fn raw(text: &str) -> Box<RawValue> {
    RawValue::from_string(text.to_owned()).unwrap()
}

/// Moves every queued frame of `from` into `to`, checking each is one line.
fn transfer(from: &mut Client, to: &mut Client) -> Result<usize, TestCaseError> {
    let mut n = 0;
    while let Some(t) = from.poll_transmit() {
        let bytes = t.as_bytes();
        prop_assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 1);
        prop_assert_eq!(bytes.last(), Some(&b'\n'));
        to.handle_bytes(bytes);
        n += 1;
    }
    Ok(n)
}

fn events(c: &mut Client) -> Vec<Event> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

/// The payload as the peer must see it: the same text, newlines as spaces.
fn on_the_wire(text: &str) -> String {
    text.replace('\n', " ")
}

proptest! {
    #[test]
    fn requests_and_results_round_trip(
        method in any::<String>(),
        params in proptest::option::of((json(true), any::<bool>())),
        result in (json(true), any::<bool>()),
    ) {
        let (mut us, mut peer) = (Client::default(), Client::default());
        let params_text = params.as_ref().map(|(v, pretty)| raw_text(v, *pretty));
        let id = us.send_request(&method, params_text.as_deref().map(raw), None).unwrap();
        prop_assert_eq!(transfer(&mut us, &mut peer)?, 1);
        let got = events(&mut peer);
        let [Event::Request(request)] = &got[..] else { panic!("{got:?}") };
        prop_assert_eq!(&request.id, &IncomingId::Number(i64::try_from(id.get()).unwrap()));
        prop_assert_eq!(&request.method, &method);
        // `params: null` is read as no params.
        let expected = params_text.as_deref().filter(|t| *t != "null").map(on_the_wire);
        prop_assert_eq!(request.params.as_ref().map(|p| p.get().to_owned()), expected);

        let result_text = raw_text(&result.0, result.1);
        peer.respond(request.id.clone(), Ok(raw(&result_text))).unwrap();
        prop_assert_eq!(transfer(&mut peer, &mut us)?, 1);
        let got = events(&mut us);
        let [Event::Response(response)] = &got[..] else { panic!("{got:?}") };
        prop_assert_eq!(response.id, id);
        prop_assert_eq!(response.result.as_ref().unwrap().get(), on_the_wire(&result_text));
        prop_assert_eq!(us.pending_len(), 0);
    }

    #[test]
    fn errors_round_trip(
        code in any::<i32>(),
        message in any::<String>(),
        data in proptest::option::of(json(false).prop_filter("null reads as absent", |v| !v.is_null())),
    ) {
        let (mut us, mut peer) = (Client::default(), Client::default());
        let id = us.send_request("m", None, None).unwrap();
        transfer(&mut us, &mut peer)?;
        let got = events(&mut peer);
        let [Event::Request(request)] = &got[..] else { panic!("{got:?}") };
        let mut error = ErrorObject::new(ErrorCode(code), message);
        error.data = data;
        peer.respond(request.id.clone(), Err(error.clone())).unwrap();
        transfer(&mut peer, &mut us)?;
        let got = events(&mut us);
        let [Event::Response(response)] = &got[..] else { panic!("{got:?}") };
        prop_assert_eq!(response.id, id);
        prop_assert_eq!(response.result.as_ref().unwrap_err(), &CallError::Rpc(error));
    }

    #[test]
    fn notifications_round_trip(method in any::<String>(), params in proptest::option::of(json(true))) {
        let (mut us, mut peer) = (Client::default(), Client::default());
        let text = params.as_ref().map(|v| raw_text(v, false));
        us.notify(&method, text.as_deref().map(raw)).unwrap();
        transfer(&mut us, &mut peer)?;
        let got = events(&mut peer);
        let [Event::Notification(n)] = &got[..] else { panic!("{got:?}") };
        prop_assert_eq!(&n.method, &method);
        // `params: null` is read as no params.
        let expected = text.filter(|t| t != "null");
        prop_assert_eq!(n.params.as_ref().map(|p| p.get().to_owned()), expected);
    }

    #[test]
    fn peer_ids_are_echoed_with_their_json_type(id in prop_oneof![
        any::<i64>().prop_map(IncomingId::Number),
        any::<String>().prop_map(IncomingId::String),
    ]) {
        let mut us = Client::default();
        let line = format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"tool/execute\"}}\n",
            serde_json::to_string(&id).unwrap()
        );
        us.handle_bytes(line.as_bytes());
        let got = events(&mut us);
        let [Event::Request(request)] = &got[..] else { panic!("{got:?}") };
        prop_assert_eq!(&request.id, &id);
        us.respond(request.id.clone(), Ok(raw("true"))).unwrap();
        let answer: Value = serde_json::from_slice(us.poll_transmit().unwrap().as_bytes()).unwrap();
        prop_assert_eq!(&answer["id"], &serde_json::to_value(&id).unwrap());
        prop_assert_eq!(&answer["jsonrpc"], "2.0");
        prop_assert_eq!(&answer["result"], &Value::Bool(true));
    }
}
