//! "All of it" across pages: 0.9.x caps `session/history` and
//! `session/list` at 100 items by default (1,000 at most) where 0.5.x
//! returned everything, so a call that asked for no limit follows the
//! pages and hands out one result with every item. History says
//! `has_more`; the session list says nothing, so there a full page means
//! "ask again from where it ended" (an empty page ends it).

use foldhash::HashMap;
use std::time::Instant;

use serde_json::Value;
use serde_json::value::RawValue;

use super::call::{Call, Kind};
use super::engine::Engine;
use crate::rpc::RequestId;
use crate::sdk_error::Error;

/// The largest page a 0.9.x server serves.
pub const MAX_PAGE: u64 = 1000;

/// The most items a call without a limit gathers across pages: a server
/// that never stops paging fails the call instead of filling memory (ask
/// with an explicit `limit` and `offset` to walk further).
pub const MAX_PAGED_ITEMS: usize = 200_000;

/// The server's default page size when no `limit` is sent (0.9.x).
pub(crate) const DEFAULT_PAGE: u64 = 100;

/// How a paged call asks for its next page and where its items are.
pub(crate) struct Pager {
    /// The method, for errors.
    pub(crate) method: &'static str,
    /// The array the items are in (`"messages"`).
    pub(crate) items: &'static str,
    /// The request of the page at this offset.
    pub(crate) next: Box<dyn Fn(u64) -> Call<()> + Send>,
    /// How the server says there is more: `None`, its `has_more`;
    /// `Some(n)`, a first page of `n` items (later pages: [`MAX_PAGE`]).
    pub(crate) full_page: Option<u64>,
    /// Whether the server line pages at all (0.5.x returns everything).
    pub(crate) pages_on: fn(&crate::Dialect) -> bool,
}

/// A paged call between its pages.
struct Paging {
    pager: Pager,
    /// The first page's result, with every item so far.
    acc: Value,
}

/// Whether a paged call's last page (of `len` items, the first one when
/// `first`) was not the end.
fn more(pager: &Pager, acc: &Value, len: usize, first: bool) -> bool {
    match pager.full_page {
        None => acc.get("has_more").and_then(Value::as_bool) == Some(true) && len > 0,
        Some(first_size) => {
            let full = if first { first_size } else { MAX_PAGE };
            len > 0 && len as u64 >= full
        }
    }
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

    /// The method of paged call `caller`, for errors.
    fn method(&self, caller: RequestId) -> &'static str {
        self.pagers
            .get(&caller)
            .or_else(|| self.by_caller.get(&caller).map(|p| &p.pager))
            .map_or("a paged call", |p| p.method)
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
        let method = self.pages.method(caller);
        let page = match result.and_then(|raw| {
            serde_json::from_str::<Value>(raw.get()).map_err(|e| Error::InvalidResponse {
                method: method.into(),
                message: e.to_string(),
            })
        }) {
            Ok(page) => page,
            Err(e) => {
                self.pages.forget(caller);
                return Some(Err(e));
            }
        };
        let len =
            |v: &Value, items: &str| v.get(items).and_then(Value::as_array).map_or(0, Vec::len);
        let (acc, pager, page_len, first) = match self.pages.by_caller.remove(&caller) {
            Some(Paging { pager, mut acc }) => {
                let page_len = len(&page, pager.items);
                let items = page.get(pager.items).and_then(Value::as_array).cloned();
                if let Some(list) = acc.get_mut(pager.items).and_then(Value::as_array_mut) {
                    list.extend(items.unwrap_or_default());
                }
                for key in ["has_more", "message_count"] {
                    if let Some(v) = page.get(key) {
                        acc[key] = v.clone();
                    }
                }
                (acc, pager, page_len, false)
            }
            None => match self.pages.pagers.remove(&caller) {
                Some(pager) => {
                    let page_len = len(&page, pager.items);
                    (page, pager, page_len, true)
                }
                None => return Some(Err(self.closed_error())),
            },
        };
        let fetched = len(&acc, pager.items);
        let offset = acc.get("offset").and_then(Value::as_u64).unwrap_or(0) + fetched as u64;
        if !more(&pager, &acc, page_len, first) {
            let mut acc = acc;
            if let Some(obj) = acc.as_object_mut()
                && pager.full_page.is_none()
            {
                obj.insert("limit".into(), Value::Null);
                obj.insert("has_more".into(), Value::Bool(false));
            }
            return Some(serde_json::value::to_raw_value(&acc).map_err(|e| {
                Error::InvalidResponse {
                    method: pager.method.into(),
                    message: e.to_string(),
                }
            }));
        }
        if fetched >= MAX_PAGED_ITEMS {
            return Some(Err(Error::InvalidResponse {
                method: pager.method.into(),
                message: format!(
                    "more than {MAX_PAGED_ITEMS} items across pages; ask with a limit and an offset"
                ),
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
