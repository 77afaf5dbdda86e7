//! `--visibility-delay`: reads see the store as it was a fixed time ago, as behind a read
//! replica or a view maintained by Materialize. Every successful write is applied to the store
//! at once (its answer is the real one) and queued for a second, visible store, which takes it
//! once it is old enough; reads catch that store up and read it.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError, RwLock, RwLockReadGuard};
use std::time::Duration;

use tokio::time::Instant;

use crate::clock::Timestamp;
use crate::store::{Store, Triple};

/// A write as it was applied to the store.
pub enum Write {
    Post(Vec<Triple>, Timestamp),
    Put(Vec<Triple>, Timestamp),
    Delete(String),
}

/// The store as reads see it.
pub struct Lagged {
    delay: Duration,
    visible: RwLock<Store>,
    /// Writes not yet visible, oldest first, with the instant they become visible.
    pending: Mutex<VecDeque<(Instant, Write)>>,
}

impl Lagged {
    /// `visible` must hold what the store holds now.
    pub fn new(delay: Duration, visible: Store) -> Lagged {
        Lagged {
            delay,
            visible: RwLock::new(visible),
            pending: Mutex::new(VecDeque::new()),
        }
    }

    /// Queues a write that was just applied to the store. Called while the store's write lock
    /// is held, so the queue has the store's order.
    pub fn written(&self, write: Write) {
        let due = Instant::now() + self.delay;
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back((due, write));
    }

    /// The visible store, with every write at least `delay` old applied.
    pub fn read(&self) -> RwLockReadGuard<'_, Store> {
        {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            if pending.front().is_some_and(|(due, _)| *due <= now) {
                let mut visible = self.visible.write().unwrap_or_else(PoisonError::into_inner);
                while pending.front().is_some_and(|(due, _)| *due <= now) {
                    let Some((_, write)) = pending.pop_front() else {
                        break;
                    };
                    // These writes succeeded on the store, so they succeed here too.
                    let _ = match write {
                        Write::Post(triples, at) => visible.post_batch(&triples, at).map(drop),
                        Write::Put(triples, at) => visible.put_batch(&triples, at).map(drop),
                        Write::Delete(subject) => {
                            visible.delete_subject(&subject);
                            Ok(())
                        }
                    };
                }
            }
        }
        self.visible.read().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ontology::ObjectType;

    fn name(lagged: &Lagged) -> Option<String> {
        lagged
            .read()
            .subject("customer:x")
            .and_then(|t| t.first())
            .map(|t| t.object_value.clone())
    }

    #[tokio::test(start_paused = true)]
    async fn each_write_shows_exactly_its_delay_after_it_was_made_in_order() {
        let ms = Duration::from_millis;
        let lagged = Lagged::new(ms(500), Store::new());
        let triple = |v: &str| Triple::new("customer:x", "customer_name", v, ObjectType::String);
        lagged.written(Write::Post(vec![triple("a")], Timestamp(0)));
        assert_eq!(name(&lagged), None);
        tokio::time::advance(ms(200)).await;
        lagged.written(Write::Put(vec![triple("b")], Timestamp(1)));
        tokio::time::advance(ms(299)).await;
        assert_eq!(name(&lagged), None, "499 ms after the POST");
        tokio::time::advance(ms(1)).await;
        assert_eq!(name(&lagged).as_deref(), Some("a"));
        lagged.written(Write::Delete("customer:x".into()));
        tokio::time::advance(ms(199)).await;
        assert_eq!(name(&lagged).as_deref(), Some("a"), "499 ms after the PUT");
        tokio::time::advance(ms(1)).await;
        assert_eq!(name(&lagged).as_deref(), Some("b"));
        tokio::time::advance(ms(300)).await;
        assert_eq!(name(&lagged), None, "500 ms after the DELETE");
    }
}
