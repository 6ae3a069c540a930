//! "All of it" across pages: 0.9.x caps `session/history` at 100 messages
//! by default (1,000 at most) where 0.5.x returned everything, so a call
//! that asked for no limit follows `has_more` page by page and hands out
//! one result with every item.

use std::collections::HashMap;
use std::time::Instant;

use serde_json::Value;
use serde_json::value::RawValue;

use super::call::{Call, Kind};
use super::engine::Engine;
use crate::rpc::RequestId;
use crate::sdk_error::Error;

/// The largest page a 0.9.x server serves.
pub const MAX_PAGE: u64 = 1000;

/// How a paged call asks for its next page and where its items are.
pub(crate) struct Pager {
    /// The array the items are in (`"messages"`).
    pub(crate) items: &'static str,
    /// The request of the page at this offset.
    pub(crate) next: Box<dyn Fn(u64) -> Call<()> + Send>,
}

/// A paged call between its pages.
struct Paging {
    pager: Pager,
    /// The first page's result, with every item so far.
    acc: Value,
}

/// The paged calls between their pages, by their caller's request id.
#[derive(Default)]
pub(super) struct Pages {
    by_caller: HashMap<RequestId, Paging>,
    pagers: HashMap<RequestId, Pager>,
}

impl Pages {
    pub(super) fn register(&mut self, caller: RequestId, pager: Pager) {
        self.pagers.insert(caller, pager);
    }

    pub(super) fn is_paged(&self, id: RequestId) -> bool {
        self.pagers.contains_key(&id)
    }

    pub(super) fn forget(&mut self, caller: RequestId) {
        self.pagers.remove(&caller);
        self.by_caller.remove(&caller);
    }
}

impl<H: Clone> Engine<H> {
    /// A page of the paged call `caller` came (its first page's own answer,
    /// or a later page): asks for the next one while the server says there
    /// is more; the caller's answer when there is not.
    pub(super) fn on_page(
        &mut self,
        caller: RequestId,
        result: Result<Box<RawValue>, Error>,
        now: Instant,
    ) -> Option<Result<Box<RawValue>, Error>> {
        let page = match result.and_then(|raw| {
            serde_json::from_str::<Value>(raw.get()).map_err(|e| Error::InvalidResponse {
                method: "session/history".into(),
                message: e.to_string(),
            })
        }) {
            Ok(page) => page,
            Err(e) => {
                self.pages.forget(caller);
                return Some(Err(e));
            }
        };
        let (acc, pager) = match self.pages.by_caller.remove(&caller) {
            Some(Paging { pager, mut acc }) => {
                let items = page.get(pager.items).and_then(Value::as_array).cloned();
                if let Some(list) = acc.get_mut(pager.items).and_then(Value::as_array_mut) {
                    list.extend(items.unwrap_or_default());
                }
                for key in ["has_more", "message_count"] {
                    if let Some(v) = page.get(key) {
                        acc[key] = v.clone();
                    }
                }
                (acc, pager)
            }
            None => match self.pages.pagers.remove(&caller) {
                Some(pager) => (page, pager),
                None => return Some(Err(self.closed_error())),
            },
        };
        let fetched = acc
            .get(pager.items)
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        let offset = acc.get("offset").and_then(Value::as_u64).unwrap_or(0) + fetched as u64;
        let more = acc.get("has_more").and_then(Value::as_bool) == Some(true) && fetched > 0;
        if !more {
            let mut acc = acc;
            if let Some(obj) = acc.as_object_mut() {
                obj.insert("limit".into(), Value::Null);
                obj.insert("has_more".into(), Value::Bool(false));
            }
            return Some(serde_json::value::to_raw_value(&acc).map_err(|e| {
                Error::InvalidResponse {
                    method: "session/history".into(),
                    message: e.to_string(),
                }
            }));
        }
        let call = (pager.next)(offset).kind(Kind::Page(caller));
        self.pages.by_caller.insert(caller, Paging { pager, acc });
        match self.send(call, now, true) {
            Ok(_) => None,
            Err(e) => {
                self.pages.forget(caller);
                Some(Err(e))
            }
        }
    }
}
