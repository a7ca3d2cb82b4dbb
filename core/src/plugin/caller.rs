//! The client the plugin calls of this thread are made for, which a plugin
//! reads with `host.caller()`.
//!
//! Partitioners and interceptors are called deep inside produce and fetch,
//! through traits that know records, not connections; the request handler
//! names its client here once, around the synchronous part that calls
//! plugins (a plugin call never leaves the thread it started on), instead
//! of every layer in between passing it along.

use std::cell::RefCell;
use std::sync::Arc;

use crate::security::plugin::Caller;

thread_local! {
    static CURRENT: RefCell<Option<Arc<Caller>>> = const { RefCell::new(None) };
}

/// Runs `f` with `caller` as the client of the plugin calls it makes; the
/// previous one is back afterwards (also if `f` panics).
pub fn scope<R>(caller: Arc<Caller>, f: impl FnOnce() -> R) -> R {
    scoped(&CURRENT, Some(caller), f)
}

/// Runs `f` with `value` in the thread-local `slot`, and puts the previous
/// value back afterwards, also if `f` panics (the plugin-call scopes here
/// and in typed.rs).
pub(super) fn scoped<T: 'static, R>(
    slot: &'static std::thread::LocalKey<RefCell<Option<T>>>,
    value: Option<T>,
    f: impl FnOnce() -> R,
) -> R {
    struct Restore<T: 'static>(
        &'static std::thread::LocalKey<RefCell<Option<T>>>,
        Option<T>,
    );
    impl<T: 'static> Drop for Restore<T> {
        fn drop(&mut self) {
            let previous = self.1.take();
            self.0.with(|c| *c.borrow_mut() = previous);
        }
    }
    let previous = slot.with(|c| std::mem::replace(&mut *c.borrow_mut(), value));
    let _restore = Restore(slot, previous);
    f()
}

/// The client of the plugin call running on this thread, if any.
pub fn current() -> Option<Arc<Caller>> {
    CURRENT.with(|c| c.borrow().clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(name: &str) -> Arc<Caller> {
        Arc::new(Caller {
            principal: format!("User:{name}"),
            address: "127.0.0.1".into(),
            client_id: None,
            listener: "PLAINTEXT".into(),
        })
    }

    #[test]
    fn scopes_nest_and_end() {
        assert!(current().is_none());
        scope(caller("a"), || {
            assert_eq!(current().unwrap().principal, "User:a");
            scope(caller("b"), || {
                assert_eq!(current().unwrap().principal, "User:b")
            });
            assert_eq!(current().unwrap().principal, "User:a");
        });
        assert!(current().is_none());
    }
}
